/* Kernels for the awaited requests (tests/tests/core/awaiting.rs). */
#include <stdint.h>
#include <unistd.h>

int64_t async_mul(int64_t x, int64_t k) { return x * k; }

/* OUT: out[i] = v + i; returns n. */
int64_t async_fill(int64_t *out, int64_t n, int64_t v)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = v + i;
    return n;
}

/* Sleeps `ms` milliseconds (an idle VE: no CPU), returns ms. */
int64_t async_sleep_ms(int64_t ms)
{
    usleep((useconds_t)(ms * 1000));
    return ms;
}
