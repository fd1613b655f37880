/* Kernels for tests/tests/core/concurrency.rs: contexts running at the same
 * time, and procs that do not share anything. */
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Arrives at a rendezvous of n callers: bumps *counter, then waits until all
 * n have arrived. Returns 1, or 0 if they did not within max_ms. Only
 * contexts that really run at the same time can all return 1. */
int64_t core_rendezvous(uint64_t *counter, uint64_t n, int64_t max_ms)
{
    int64_t end = now_ms() + max_ms;
    __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < n) {
        if (now_ms() > end)
            return 0;
        usleep(50);
    }
    return 1;
}

/* State of the library inside one proc. */
static int64_t state;
int64_t core_state_add(int64_t by) { return __atomic_add_fetch(&state, by, __ATOMIC_SEQ_CST); }

/* A pure function of its arguments, for many concurrent calls. */
uint64_t core_mix(uint64_t x, uint32_t y)
{
    uint64_t z = x * 0x9e3779b97f4a7c15ull + y;
    return z ^ (z >> 29);
}
