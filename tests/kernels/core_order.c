/* Kernels for tests/tests/core/order.rs and core/requests.rs: slow kernels
 * with visible effects, to show what runs before what on one context. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

/* After `delay_us`, p[i] = v + i. Slow on purpose: a transfer that did not
 * wait for it would see the old contents. */
void core_slow_fill(uint64_t *p, uint64_t n, uint64_t v, uint32_t delay_us)
{
    usleep(delay_us);
    for (uint64_t i = 0; i < n; i++)
        p[i] = v + i;
}

uint64_t core_sum_words(const uint64_t *p, uint64_t n)
{
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += p[i];
    return s;
}

uint64_t core_read_word(const uint64_t *p) { return *p; }

/* An append-only log in VE memory: log[0] is the count, entries follow.
 * Returns the new count. */
uint64_t core_log_push(uint64_t *log, uint64_t v)
{
    log[1 + log[0]] = v;
    return ++log[0];
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until *flag == want (set by the VH): 1, or 0 after max_ms. Lets a
 * test hold a request pending for as long as it needs, without timing. */
int64_t core_wait_flag(volatile uint64_t *flag, uint64_t want, int64_t max_ms)
{
    int64_t end = now_ms() + max_ms;
    while (*flag != want) {
        if (now_ms() > end)
            return 0;
        usleep(100);
    }
    return 1;
}
