/* Kernels for the core runtime tests. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

double average(double *a, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += a[i];
    return sum / (double)n;
}

int64_t add_i64(int64_t a, int64_t b) { return a + b; }
uint64_t square_u64(uint64_t x) { return x * x; }
int nothing(void) { return 42; }
