/* Kernels for tests/aveo_backend.rs: veo-runtime's AVEO backend driving
 * this package's libveo.so. Results of every class, OnStack intents, and a
 * kernel that waits for a gate the test opens. */
#include <stdint.h>
#include <string.h>
#include <time.h>

double average(const double *a, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i];
    return n ? s / n : 0.0;
}

float half(float x) { return x / 2.0f; }

double mix_args(int8_t a, uint16_t b, int32_t c, float f, double d, int64_t e)
{
    return (double)a + (double)b + (double)c + (double)f + d + (double)e;
}

int64_t add(int64_t a, int64_t b) { return a + b; }

int32_t negate_i32(int32_t x) { return -x; }

/* OUT: fills n doubles with i * 0.5. */
void fill(double *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = i * 0.5;
}

/* INOUT: multiplies in place, returns the sum of what came in. */
double scale(double *x, int n, double f)
{
    double s = 0;
    for (int i = 0; i < n; i++) {
        s += x[i];
        x[i] *= f;
    }
    return s;
}


/* Set through the proc's memory functions (its address from veo_get_sym):
 * wait_gate returns once it is non-zero, after filling out[0..n) with v. */
volatile int64_t gate;

int64_t wait_gate(unsigned char *out, int n, int v)
{
    struct timespec t = {0, 100000L};
    while (!gate)
        nanosleep(&t, NULL);
    memset(out, v, (size_t)n);
    return gate;
}
