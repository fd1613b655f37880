/* Kernels of the py-veo examples ported to #[ve_kernel]: the binaries
 * mixed_args, onstack_string, onstack_struct and onstack_arrays. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* mixed_args: six arguments of mixed types; a weighted sum shows that each
 * arrived in its place with its value. */
double macro_mixed6(int8_t a, double b, uint16_t c, float d, int64_t e, uint32_t f)
{
    return a * 1.0 + b * 10.0 + c * 100.0 + d * 1000.0 + (double)e * 10000.0 +
           f * 100000.0;
}

/* mixed_args: ten ints, more than the registers hold on either side. */
long macro_ten(int a0, int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8,
               int a9)
{
    return 1L * a0 + 2L * a1 + 3L * a2 + 4L * a3 + 5L * a4 + 6L * a5 + 7L * a6 +
           8L * a7 + 9L * a8 + 10L * a9;
}

/* onstack_string: the string arrives on the VE stack; the kernel copies it
 * into memory it mallocs and returns that pointer. */
char *macro_copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy)
        memcpy(copy, s, n);
    return copy;
}

/* onstack_string: memory from macro_copy_string goes back to the VE's malloc. */
void macro_free(void *p) { free(p); }

/* onstack_struct: a struct on the VE stack, by reference. */
struct macro_params {
    int32_t values[4];
    int32_t factor;
};
int macro_sum_times(const struct macro_params *p)
{
    int sum = 0;
    for (int i = 0; i < 4; i++)
        sum += p->values[i];
    return sum * p->factor;
}

/* onstack_arrays: `a` is IN (only read), `b` is INOUT (read and written). */
int macro_sum_and_add2(const int *a, int *b, int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++) {
        sum += a[i];
        b[i] += 2;
    }
    return sum;
}
