/* Kernels for the C API tests: plain C, compiled with the host's cc into a
 * shared library the emulated VE loads. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int64_t counter = 42;                 /* a data symbol */
const char greeting[] = "hello VE";   /* another */

int64_t add_i64(int64_t a, int64_t b) { return a + b; }

uint64_t ret_u64(uint64_t a) { return a; }

/* Every integer width: each argument is checked against what the test
 * sets, so a wrong extension shows as a missing bit. */
uint64_t widths(int8_t a, uint8_t b, int16_t c, uint16_t d,
                int32_t e, uint32_t f, int64_t g, uint64_t h)
{
  uint64_t ok = 0;
  ok |= (a == -3) << 0;
  ok |= (b == 250) << 1;
  ok |= (c == -300) << 2;
  ok |= (d == 65000) << 3;
  ok |= (e == -70000) << 4;
  ok |= (f == 4000000000u) << 5;
  ok |= (uint64_t)(g == -5000000000LL) << 6;
  ok |= (uint64_t)(h == 0xfedcba9876543210ULL) << 7;
  return ok;
}

/* An int set with veo_args_set_i32 is sign-extended to 64 bits. */
int64_t widen_i32(int64_t v) { return v; }

int64_t floats(float f, double d) { return (int64_t)(f * 1000.0f) + (int64_t)(d * 1000000.0); }

/* Ten arguments: two travel on the stack. */
int64_t ten(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e,
            int64_t f, int64_t g, int64_t h, int64_t i, int64_t j)
{
  return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i + 10 * j;
}

int64_t sum_in(const int64_t *a, int n)
{
  int64_t s = 0;
  for (int i = 0; i < n; i++) s += a[i];
  return s;
}

int64_t fill_out(int64_t *out, int n)
{
  for (int i = 0; i < n; i++) out[i] = 100 + i;
  return n;
}

int64_t scale_inout(int64_t *x, int n, int64_t f)
{
  for (int i = 0; i < n; i++) x[i] *= f;
  return x[0];
}

int64_t string_len(const char *s) { return (int64_t)strlen(s); }

/* Reads VE memory the VH allocated and wrote. */
int64_t sum_ve(const int64_t *a, int n) { return sum_in(a, n); }

/* Writes VE memory the VH reads back. */
void iota_ve(int64_t *a, int n, int64_t base)
{
  for (int i = 0; i < n; i++) a[i] = base + i;
}

uint64_t mix(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

int64_t sleep_ms(int ms)
{
  usleep((useconds_t)ms * 1000);
  return ms;
}

int64_t crash(void)
{
  volatile int *p = 0;
  *p = 1;
  return 0;
}

int64_t get_counter(void) { return counter; }

/* An HMEM address passed with veo_args_set_hmem keeps its tag; the
 * kernel strips it (bits 63..59) before use. */
int64_t sum_hmem(uint64_t tagged, int n)
{
  if (!(tagged >> 63)) return -1;
  const int64_t *a = (const int64_t *)(tagged & ~(0x1fULL << 59));
  return sum_in(a, n);
}

/* One stack argument of each intent (tests/c/t_intents.c): returns a hash
 * of the bytes it was given in `in` and `inout`, then writes over all
 * three buffers: in[i] = ~in[i] (which must not travel back),
 * inout[i] = 3 * inout[i] + 1, out[i] = 7 * i + 5. */
int64_t intents_three(unsigned char *in, int n_in, unsigned char *inout, int n_io,
                      unsigned char *out, int n_out)
{
  int64_t h = 17;
  for (int i = 0; i < n_in; i++) h = h * 31 + in[i];
  for (int i = 0; i < n_io; i++) h = h * 37 + inout[i];
  for (int i = 0; i < n_in; i++) in[i] = (unsigned char)~in[i];
  for (int i = 0; i < n_io; i++) inout[i] = (unsigned char)(3 * inout[i] + 1);
  for (int i = 0; i < n_out; i++) out[i] = (unsigned char)(7 * i + 5);
  return h;
}
