/*
 * veo_time.h (VE side): header-only timing helpers, on veo-rs's emulated
 * VE. Self-contained: kernels include it with -I veo-capi/include/ve.
 *
 * On a VE, get_time_us() divides the user clock counter (getusrcc(),
 * 1400 MHz) by 1400; on the emulated VE time comes from gettimeofday and
 * getusrcc() counts the same 1400 ticks per microsecond from it.
 *
 * Its include guard is the VH-side veo_time.h's (veo-capi/include/): a file
 * that includes both gets the declarations once.
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
    return (long)tv.tv_sec * 1000000L + (long)tv.tv_usec;
}

/* Microseconds since ts (a get_time_us() value). */
static inline long timediff_us(long ts)
{
    return get_time_us() - ts;
}

/* Spins for at least us microseconds. */
static inline void busy_sleep_us(long us)
{
    long start = get_time_us();
    while (timediff_us(start) < us)
        ;
}

/* The user clock counter, at the VE's 1400 ticks per microsecond. */
static inline long getusrcc(void)
{
    return get_time_us() * 1400L;
}

#endif /* VEO_TIME_H_INCLUDED */
