/* Kernels for tests/tests/core/args.rs: argument classes, widths, counts
 * and return values of dynamic calls (Args).
 *
 * Every multi-argument kernel checks each argument against the value the
 * test computes from its position, and returns 0 when all match or the
 * 1-based position of the first argument that does not: a lost, swapped,
 * truncated or wrongly extended argument names itself. */
#include <stdint.h>

/* ---- each integer width, at its extremes -------------------------------
 * core_see_<t>(x, want): 1 if the kernel sees exactly `want` in x, widened
 *   by C's own rules (so -1 as int8_t must compare equal to -1 as int64_t,
 *   and 255 as uint8_t to 255, never to -1);
 * core_widen_<t>(x): x converted to 64 bits in the kernel, returned as such,
 *   so the VH sees the kernel's view of the value;
 * core_echo_<t>(x): x returned as its own type, decoded by the VH;
 * core_ext_<t>(which): 0 -> the minimum, 1 -> the maximum, 2 -> all bits
 *   set ((t)-1), 3 -> 0, returned as t. */
#define WIDTH(t, wide, lo, hi)                                          \
    int32_t core_see_##t(t##_t x, wide want) { return (wide)x == want; } \
    wide core_widen_##t(t##_t x) { return (wide)x; }                    \
    t##_t core_echo_##t(t##_t x) { return x; }                          \
    t##_t core_ext_##t(int32_t which)                                   \
    {                                                                   \
        switch (which) {                                                \
        case 0: return lo;                                              \
        case 1: return hi;                                              \
        case 2: return (t##_t)-1;                                       \
        default: return 0;                                              \
        }                                                               \
    }

WIDTH(int8, int64_t, INT8_MIN, INT8_MAX)
WIDTH(uint8, uint64_t, 0, UINT8_MAX)
WIDTH(int16, int64_t, INT16_MIN, INT16_MAX)
WIDTH(uint16, uint64_t, 0, UINT16_MAX)
WIDTH(int32, int64_t, INT32_MIN, INT32_MAX)
WIDTH(uint32, uint64_t, 0, UINT32_MAX)
WIDTH(int64, int64_t, INT64_MIN, INT64_MAX)
WIDTH(uint64, uint64_t, 0, UINT64_MAX)

/* Signed and unsigned of one width side by side, the same bits: the kernel
 * must see -1 and the maximum, not the same number twice. */
int32_t core_both_8(int8_t s, uint8_t u) { return s == -1 && u == 255 && (int)s != (int)u; }
int32_t core_both_16(int16_t s, uint16_t u) { return s == -1 && u == 65535 && (int)s != (int)u; }
int32_t core_both_32(int32_t s, uint32_t u)
{
    return s == -1 && u == 4294967295u && (int64_t)s != (int64_t)u;
}

/* ---- floating point ---------------------------------------------------- */
int32_t core_see_f32(float x, float want) { return x == want; }
int32_t core_see_f64(double x, double want) { return x == want; }
float core_echo_f32(float x) { return x; }
double core_echo_f64(double x) { return x; }
/* The f32 argument widened in the kernel: proves it arrived as a float. */
double core_f32_to_f64(float x) { return (double)x; }
/* A float result next to integer arguments. */
float core_scale_f32(int32_t a, float f, uint8_t b) { return (float)a * f + (float)b; }
/* A double result from only integers. */
double core_ratio(int64_t a, int64_t b) { return (double)a / (double)b; }
/* An integer result from only floats. */
int64_t core_trunc_sum(float a, double b, float c) { return (int64_t)a + (int64_t)b + (int64_t)c; }

/* Floats and integers interleaved past the register counts of both classes
 * (x86-64: 6 integer, 8 floating registers; the VE: 8 in registers). */
int32_t core_mixed(int8_t a, float b, uint64_t c, double d, int16_t e, float f,
                   uint32_t g, double h, int32_t i, float j, int64_t k, double l,
                   uint8_t m, float n, uint16_t o, double p, int8_t q, float r,
                   double s, int64_t t)
{
    if (a != -100) return 1;
    if (b != 1.5f) return 2;
    if (c != UINT64_MAX - 3) return 3;
    if (d != -2.25) return 4;
    if (e != INT16_MIN + 7) return 5;
    if (f != -0.125f) return 6;
    if (g != 4000000000u) return 7;
    if (h != 1e300) return 8;
    if (i != INT32_MIN) return 9;
    if (j != 3.0e38f) return 10;
    if (k != INT64_MIN + 1) return 11;
    if (l != -1e-300) return 12;
    if (m != 200) return 13;
    if (n != 65504.0f) return 14;
    if (o != 50000) return 15;
    if (p != 0.5) return 16;
    if (q != 127) return 17;
    if (r != -7.75f) return 18;
    if (s != 123456789.0) return 19;
    if (t != -42) return 20;
    return 0;
}

/* ---- argument counts: 0, 1, 8, 9 ---------------------------------------- */
int64_t core_zero(void) { return 0x5eed; }

static int64_t zero_calls;
void core_zero_void(void) { zero_calls++; }
int64_t core_zero_calls(void) { return zero_calls; }

int64_t core_one(int64_t a) { return a ^ 0x0123456789abcdefLL; }

int32_t core_eight(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f,
                   int64_t g, int64_t h)
{
    int64_t v[8] = {a, b, c, d, e, f, g, h};
    for (int k = 0; k < 8; k++)
        if (v[k] != (int64_t)(k + 1) * -1000001)
            return k + 1;
    return 0;
}

int32_t core_eight_f64(double a, double b, double c, double d, double e, double f,
                       double g, double h)
{
    double v[8] = {a, b, c, d, e, f, g, h};
    for (int k = 0; k < 8; k++)
        if (v[k] != (double)(k + 1) + 0.5)
            return k + 1;
    return 0;
}

/* Nine: the ninth goes on the stack on the VE; mixed classes. */
int32_t core_nine(int8_t a, uint16_t b, float c, double d, int32_t e, uint64_t f,
                  float g, int64_t h, double i)
{
    if (a != -1) return 1;
    if (b != 65535) return 2;
    if (c != 2.5f) return 3;
    if (d != -3.75) return 4;
    if (e != -5) return 5;
    if (f != UINT64_MAX) return 6;
    if (g != -0.0625f) return 7;
    if (h != INT64_MIN) return 8;
    if (i != 9.5) return 9;
    return 0;
}

int32_t core_nine_i64(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f,
                      int64_t g, int64_t h, int64_t i)
{
    int64_t v[9] = {a, b, c, d, e, f, g, h, i};
    for (int k = 0; k < 9; k++)
        if (v[k] != (int64_t)(k + 1) * -1000001)
            return k + 1;
    return 0;
}

/* ---- 32 and 256 arguments -----------------------------------------------
 * Parameters come in groups of 16 of every class; group g (one hex digit)
 * has parameters p<g>0 .. p<g>f. Argument number i = 16 * g + k (from 0)
 * must hold EXPECT_k(i), the same formulas as `many_arg` in tests/tests/core/args.rs. */
#define GROUP(g)                                                              \
    int8_t p##g##0, uint8_t p##g##1, int16_t p##g##2, uint16_t p##g##3,      \
    int32_t p##g##4, uint32_t p##g##5, int64_t p##g##6, uint64_t p##g##7,    \
    float p##g##8, double p##g##9, float p##g##a, double p##g##b,            \
    int32_t p##g##c, uint64_t p##g##d, double p##g##e, float p##g##f

#define I(g, k) (0x##g * 16 + (k))
#define CHECK(g, k, p, want) \
    if (p != (want)) return I(g, k) + 1;

#define CHECK_GROUP(g)                                                        \
    CHECK(g, 0, p##g##0, (int8_t)(-128 + 0x##g))                              \
    CHECK(g, 1, p##g##1, (uint8_t)(255 - 0x##g))                              \
    CHECK(g, 2, p##g##2, (int16_t)(-32768 + I(g, 2)))                         \
    CHECK(g, 3, p##g##3, (uint16_t)(65535 - I(g, 3)))                         \
    CHECK(g, 4, p##g##4, (int32_t)(INT32_MIN + I(g, 4)))                      \
    CHECK(g, 5, p##g##5, (uint32_t)(UINT32_MAX - I(g, 5)))                    \
    CHECK(g, 6, p##g##6, (int64_t)(INT64_MIN + I(g, 6)))                      \
    CHECK(g, 7, p##g##7, (uint64_t)(UINT64_MAX - I(g, 7)))                    \
    CHECK(g, 8, p##g##8, (float)I(g, 8) + 0.5f)                               \
    CHECK(g, 9, p##g##9, -((double)I(g, 9) + 0.25))                           \
    CHECK(g, 10, p##g##a, (float)I(g, 10) * -0.125f)                          \
    CHECK(g, 11, p##g##b, (double)I(g, 11) * 1e10)                            \
    CHECK(g, 12, p##g##c, -(int32_t)I(g, 12))                                 \
    CHECK(g, 13, p##g##d, (uint64_t)I(g, 13) << 40)                           \
    CHECK(g, 14, p##g##e, 1.0 / (double)(I(g, 14) + 1))                       \
    CHECK(g, 15, p##g##f, (float)I(g, 15) * -3.0f)

int32_t core_32(GROUP(0), GROUP(1))
{
    CHECK_GROUP(0) CHECK_GROUP(1)
    return 0;
}

int32_t core_256(GROUP(0), GROUP(1), GROUP(2), GROUP(3), GROUP(4), GROUP(5), GROUP(6),
                 GROUP(7), GROUP(8), GROUP(9), GROUP(a), GROUP(b), GROUP(c), GROUP(d),
                 GROUP(e), GROUP(f))
{
    CHECK_GROUP(0) CHECK_GROUP(1) CHECK_GROUP(2) CHECK_GROUP(3)
    CHECK_GROUP(4) CHECK_GROUP(5) CHECK_GROUP(6) CHECK_GROUP(7)
    CHECK_GROUP(8) CHECK_GROUP(9) CHECK_GROUP(a) CHECK_GROUP(b)
    CHECK_GROUP(c) CHECK_GROUP(d) CHECK_GROUP(e) CHECK_GROUP(f)
    return 0;
}

/* 256 arguments of which some are on the VE stack (OnStack buffers are
 * arguments too): 255 int64_t equal to their position, then one IN buffer
 * of 4 int64_t. Returns 0 or the first bad position, 256 for the buffer. */
#define G8(g, h)                                                                  \
    int64_t q##g##h##0, int64_t q##g##h##1, int64_t q##g##h##2, int64_t q##g##h##3, \
    int64_t q##g##h##4, int64_t q##g##h##5, int64_t q##g##h##6, int64_t q##g##h##7
/* The position of q<g><h>0: group g * 8 + h of 8 parameters. */
#define AT(g, h) ((g * 8 + h) * 8)
#define C8(g, h)                                             \
    if (q##g##h##0 != AT(g, h) + 0) return AT(g, h) + 1; \
    if (q##g##h##1 != AT(g, h) + 1) return AT(g, h) + 2; \
    if (q##g##h##2 != AT(g, h) + 2) return AT(g, h) + 3; \
    if (q##g##h##3 != AT(g, h) + 3) return AT(g, h) + 4; \
    if (q##g##h##4 != AT(g, h) + 4) return AT(g, h) + 5; \
    if (q##g##h##5 != AT(g, h) + 5) return AT(g, h) + 6; \
    if (q##g##h##6 != AT(g, h) + 6) return AT(g, h) + 7; \
    if (q##g##h##7 != AT(g, h) + 7) return AT(g, h) + 8;
/* 4 rows of 8 groups of 8 = 256 slots: the last group has 7 integers and
 * the buffer. */
#define ROW(g) G8(g, 0), G8(g, 1), G8(g, 2), G8(g, 3), G8(g, 4), G8(g, 5), G8(g, 6), G8(g, 7)
#define CROW(g) C8(g, 0) C8(g, 1) C8(g, 2) C8(g, 3) C8(g, 4) C8(g, 5) C8(g, 6) C8(g, 7)

int32_t core_256_stack(ROW(0), ROW(1), ROW(2), G8(3, 0), G8(3, 1), G8(3, 2), G8(3, 3),
                       G8(3, 4), G8(3, 5), G8(3, 6), int64_t q370, int64_t q371,
                       int64_t q372, int64_t q373, int64_t q374, int64_t q375, int64_t q376,
                       const int64_t *buf)
{
    CROW(0) CROW(1) CROW(2)
    C8(3, 0) C8(3, 1) C8(3, 2) C8(3, 3) C8(3, 4) C8(3, 5) C8(3, 6)
    int64_t last[7] = {q370, q371, q372, q373, q374, q375, q376};
    for (int k = 0; k < 7; k++)
        if (last[k] != AT(3, 7) + k)
            return AT(3, 7) + k + 1;
    for (int k = 0; k < 4; k++)
        if (buf[k] != -(int64_t)(k + 1))
            return 256;
    return 0;
}
