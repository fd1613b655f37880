/*
 * veo_time.h: microsecond timing helpers for VEO programs (header only).
 */
#ifndef VEO_TIME_H_INCLUDED
#define VEO_TIME_H_INCLUDED

#include <stddef.h>
#include <sys/time.h>

/* Microseconds since the epoch. */
static inline long get_time_us(void)
{
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return tv.tv_sec * 1000000L + tv.tv_usec;
}

/* Microseconds elapsed since ts (a value of get_time_us). */
static inline long timediff_us(long ts)
{
  return get_time_us() - ts;
}

/* Spins for us microseconds. */
static inline void busy_sleep_us(long us)
{
  long start = get_time_us();
  while (timediff_us(start) < us) {
  }
}

#endif /* VEO_TIME_H_INCLUDED */
