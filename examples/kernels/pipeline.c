/* Kernels of the async_pipeline example. */
#include <stdint.h>
#include <unistd.h>

/* y[i] = a * x[i] + y[i] */
void pipeline_axpy(double *y, double *x, int64_t n, double a)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a * x[i] + y[i];
}

/* An idle VE for `ms` milliseconds: the kernel sleeps. */
int64_t pipeline_sleep_ms(int64_t ms)
{
    usleep((useconds_t)(ms * 1000));
    return ms;
}
