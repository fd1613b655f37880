/* Kernels for tests/tests/core/stack.rs: OnStack buffers and their intents.
 * Each kernel reports what it saw on entry, so the test can tell whether a
 * buffer was copied in (IN, INOUT) or not (OUT), and writes something the
 * test can tell apart from the input, to see whether it was copied back. */
#include <stdint.h>
#include <unistd.h>

/* IN: the sum of the buffer; then scribbles over it (the VH must not get
 * this back: IN is never copied out). */
int64_t core_in_sum(int64_t *a, uint64_t n)
{
    int64_t s = 0;
    for (uint64_t i = 0; i < n; i++) {
        s += a[i];
        a[i] = -1;
    }
    return s;
}

/* OUT: returns how many bytes on entry equal `poison` (the host buffer's
 * contents: none may arrive, OUT is not copied in), then writes
 * p[i] = i * 7 + 3. */
uint64_t core_out_fill(uint8_t *p, uint64_t n, uint8_t poison)
{
    uint64_t seen = 0;
    for (uint64_t i = 0; i < n; i++)
        seen += p[i] == poison;
    for (uint64_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + 3);
    return seen;
}

/* INOUT: returns how many bytes on entry equal (i * 13 + seed) (all of
 * them must: INOUT is copied in), then replaces each byte by its complement. */
uint64_t core_inout_flip(uint8_t *p, uint64_t n, uint8_t seed)
{
    uint64_t seen = 0;
    for (uint64_t i = 0; i < n; i++) {
        seen += p[i] == (uint8_t)(i * 13 + seed);
        p[i] = (uint8_t)~p[i];
    }
    return seen;
}

/* One call with every intent and register arguments between them:
 * returns a bit mask of failures (0 = all good):
 *   1: `in` is not (i + 1) for each byte,  2: `inout` is not 100 + i,
 *   4: a buffer is not 16-byte aligned,    8: the scalars are wrong.
 * Then out[i] = in[i] * 2 and inout[i] += 1. */
int32_t core_intents(const uint8_t *in, uint64_t nin, int32_t x, uint8_t *out, uint64_t nout,
                     double y, uint8_t *inout, uint64_t nio)
{
    int32_t bad = 0;
    for (uint64_t i = 0; i < nin; i++)
        if (in[i] != (uint8_t)(i + 1))
            bad |= 1;
    for (uint64_t i = 0; i < nio; i++)
        if (inout[i] != (uint8_t)(100 + i))
            bad |= 2;
    if (((uintptr_t)in | (uintptr_t)out | (uintptr_t)inout) & 15)
        bad |= 4;
    if (x != -7 || y != 0.5)
        bad |= 8;
    for (uint64_t i = 0; i < nout; i++)
        out[i] = (uint8_t)(i < nin ? in[i] * 2 : 0xee);
    for (uint64_t i = 0; i < nio; i++)
        inout[i] += 1;
    return bad;
}

/* A Pod struct IN and OUT. */
struct core_pair {
    int32_t a;
    int32_t b;
    double scale;
};
double core_pair_in(const struct core_pair *p) { return (p->a + p->b) * p->scale; }
void core_pair_out(struct core_pair *p, int32_t a, int32_t b)
{
    p->a = b;
    p->b = a;
    p->scale = 0.25;
}

/* Big INOUT: word i must be i ^ seed; becomes ~word. Returns the number of
 * words that were wrong on entry. */
uint64_t core_big_inout(uint64_t *p, uint64_t n, uint64_t seed)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; i++) {
        bad += p[i] != (i ^ seed);
        p[i] = ~p[i];
    }
    return bad;
}

/* OUT written after a delay: for the mem::forget test, so that the result
 * arrives after the request was forgotten. */
void core_out_late(uint8_t *p, uint64_t n, uint32_t delay_us)
{
    usleep(delay_us);
    for (uint64_t i = 0; i < n; i++)
        p[i] = 0x5a;
}
