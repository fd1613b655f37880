/* Kernels returning float and double, called through the C API. Built
 * twice by the tests: with -g (the C API reads the result type from the
 * debug information) and without. -O2, so that gcc vectorises the loops:
 * the int sum then leaves garbage in xmm0 and the double sum uses rax as
 * scratch, which a guess from the registers would get wrong. */
#include <stdint.h>

typedef double real_t;

/* Data, looked up with veo_get_sym: never reported as untyped. */
double f64_table[2] = { 0.5, 1.5 };

double f64_scale(double x, int32_t n) { return x * n; }

float f32_half(float x) { return x * 0.5f; }

const double f64_const(void) { return 42.25; }

/* A typedef'd double, summed with SSE (rax counts the loop). */
real_t f64_sum(const double *a, int64_t n)
{
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i];
  return s;
}

/* An integer sum gcc vectorises through the xmm registers. */
int64_t i64_sum(const int32_t *a, int64_t n)
{
  int64_t s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i];
  return s;
}

float f32_mean(const float *a, int64_t n)
{
  float s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i];
  return n ? s / (float)n : 0.0f;
}
