/* Kernels for tests/tests/core/memory.rs: they produce and verify the test
 * pattern in VE memory, so that each direction of a transfer is checked
 * against data the other side made. The pattern is the little-endian bytes
 * of splitmix64 words, as `veo_tests::pattern_word` computes them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t word(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint8_t byte_at(uint64_t seed, uint64_t i)
{
    return (uint8_t)(word(seed, i / 8) >> (8 * (i % 8)));
}

/* 0 if p holds the first n words of the pattern, else 1 + the first bad index. */
uint64_t core_check_words(const uint64_t *p, uint64_t n, uint64_t seed)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] != word(seed, i))
            return i + 1;
    return 0;
}

/* The same for bytes (any length, any alignment). */
uint64_t core_check_bytes(const uint8_t *p, uint64_t n, uint64_t seed)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] != byte_at(seed, i))
            return i + 1;
    return 0;
}

void core_fill_words(uint64_t *p, uint64_t n, uint64_t seed)
{
    for (uint64_t i = 0; i < n; i++)
        p[i] = word(seed, i);
}

void core_fill_bytes(uint8_t *p, uint64_t n, uint64_t seed)
{
    for (uint64_t i = 0; i < n; i++)
        p[i] = byte_at(seed, i);
}

uint8_t core_peek_u8(const uint8_t *p) { return *p; }

/* Memory the kernel allocates itself: the VH must be able to read it. */
char *core_malloc_string(void)
{
    const char *s = "hello from the VE heap";
    char *p = malloc(strlen(s) + 1);
    if (p)
        strcpy(p, s);
    return p;
}

void core_free(void *p) { free(p); }
