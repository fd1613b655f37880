/* Kernels for tests/tests/macros/types.rs: one per row of the #[ve_kernel]
 * type table (docs/ARCHITECTURE.md, "The type table"), each returning something that shows
 * the value arrived intact. */
#include <stdint.h>

/* Scalars in registers: echo each one back, so sign and zero extension of
 * both the argument and the result are visible. */
int8_t macro_echo_i8(int8_t x) { return x; }
uint8_t macro_echo_u8(uint8_t x) { return x; }
int16_t macro_echo_i16(int16_t x) { return x; }
uint16_t macro_echo_u16(uint16_t x) { return x; }
int macro_echo_i32(int x) { return x; }
uint32_t macro_echo_u32(uint32_t x) { return x; }
int64_t macro_echo_i64(int64_t x) { return x; }
uint64_t macro_echo_u64(uint64_t x) { return x; }
long macro_echo_isize(long x) { return x; }
unsigned long macro_echo_usize(unsigned long x) { return x; }
float macro_echo_f32(float x) { return x; }
double macro_echo_f64(double x) { return x; }

/* Every scalar class in one call, integers and floats interleaved:
 * a weighted sum, so a swapped or dropped argument changes the result. */
double macro_mixed(int8_t a, float b, uint8_t c, double d, int16_t e, uint16_t f,
                   int g, uint32_t h, int64_t i, uint64_t j, long k, unsigned long l)
{
    return a * 1.0 + b * 2.0 + c * 3.0 + d * 4.0 + e * 5.0 + f * 6.0 + g * 7.0 +
           h * 8.0 + (double)i * 9.0 + (double)j * 10.0 + (double)k * 11.0 +
           (double)l * 12.0;
}

/* No arguments, no result: bumps a counter another kernel reads. */
static int calls;
void macro_nothing(void) { calls++; }
int macro_calls(void) { return calls; }

/* VePtr<T> in, VePtr<T> out. */
double macro_sum_ptr(const double *a, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i];
    return s;
}
double *macro_offset(double *a, long k) { return a + k; }

/* &[T]: IN, on the VE stack. */
double macro_sum_in(const double *a, unsigned long n)
{
    double s = 0;
    for (unsigned long i = 0; i < n; i++)
        s += a[i];
    return s;
}

/* &T of a Pod struct: IN. */
struct macro_pair {
    int32_t a;
    int32_t b;
    double scale;
};
double macro_pair_in(const struct macro_pair *p) { return (p->a + p->b) * p->scale; }

/* &mut T: INOUT. */
void macro_bump(int64_t *x) { *x += 1; }

/* &mut [T]: INOUT. Returns the sum it saw, to prove the data went in. */
double macro_scale(double *x, unsigned long n, double f)
{
    double seen = 0;
    for (unsigned long i = 0; i < n; i++) {
        seen += x[i];
        x[i] *= f;
    }
    return seen;
}

/* #[out] &mut [T]: OUT. */
void macro_fill(double *x, unsigned long n, double v)
{
    for (unsigned long i = 0; i < n; i++)
        x[i] = v + (double)i;
}

/* #[out] &mut T of a Pod struct: OUT. */
void macro_make_pair(struct macro_pair *p, int32_t a, int32_t b)
{
    p->a = a;
    p->b = b;
    p->scale = 0.5;
}
