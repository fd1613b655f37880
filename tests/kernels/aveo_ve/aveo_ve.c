/* Kernels for tests/tests/core/aveo_ve.rs: AVEO's VE-side API as kernels use
 * it, from the headers in veo-capi/include/ve, built with -fopenmp. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <omp.h>
#include <string.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <veo_hmem.h>
#include <veo_time.h>
#include <veo_ve.h>

/* Whether the object that defines `fn` is one the helper loaded from a
 * memfd (its name is /proc/self/fd/N). */
static int from_memfd(void *fn)
{
    Dl_info info;
    return dladdr(fn, &info) != 0 && info.dli_fname != NULL &&
           strncmp(info.dli_fname, "/proc/self/fd/", 14) == 0;
}

/* How many of the VE-side functions resolve to the helper's own
 * libraries: 5 when all do. */
int ave_providers(void)
{
    return from_memfd((void *)veo_prev_req_result) + from_memfd((void *)veo_is_ve_addr) +
           from_memfd((void *)veo_get_hmem_addr) +
           from_memfd((void *)veo_get_proc_identifier_from_hmem) +
           from_memfd((void *)veo_get_max_proc_identifier);
}

/* Returns its argument: a result for veo_prev_req_result to find. */
uint64_t ave_echo(uint64_t x) { return x; }

/* For offs = 0 .. n-1: out[2*offs] = veo_prev_req_result's return code,
 * out[2*offs+1] = the result read (0 when none). Returns how many were
 * found. */
int ave_prev_results(int n, int64_t *out)
{
    int found = 0;
    for (int offs = 0; offs < n; offs++) {
        uint64_t r = 0;
        int rc = veo_prev_req_result(offs, &r);
        out[2 * offs] = rc;
        out[2 * offs + 1] = (int64_t)r;
        if (rc == 0)
            found++;
    }
    return found;
}

/* veo_prev_req_result from the threads of an OpenMP team: how many of them
 * found a result (only the context's own thread, the team's master, can). */
int ave_prev_result_in_team(void)
{
    int found = 0;
#pragma omp parallel reduction(+ : found)
    {
        uint64_t r;
        found += veo_prev_req_result(0, &r) == 0;
    }
    return found;
}

/* veo_prev_req_result with a null result pointer or a negative offset. */
int ave_prev_result_misuse(void)
{
    uint64_t r;
    return (veo_prev_req_result(0, NULL) == -1) + (veo_prev_req_result(-1, &r) == -1);
}

/* out = { veo_is_ve_addr(addr), veo_get_hmem_addr(addr),
 *         veo_get_proc_identifier_from_hmem(addr), veo_get_max_proc_identifier() } */
void ave_hmem_probe(uint64_t addr, int64_t *out)
{
    void *p = (void *)(uintptr_t)addr;
    out[0] = veo_is_ve_addr(p);
    out[1] = (int64_t)(uintptr_t)veo_get_hmem_addr(p);
    out[2] = veo_get_proc_identifier_from_hmem(p);
    out[3] = veo_get_max_proc_identifier();
}

/* The sum of n values at an HMEM address, read through the stripped
 * address; -1 when the address is not tagged as a VE address. */
int64_t ave_hmem_sum(const int64_t *tagged, int n)
{
    if (!veo_is_ve_addr(tagged))
        return -1;
    const int64_t *p = veo_get_hmem_addr((void *)tagged);
    int64_t s = 0;
    for (int i = 0; i < n; i++)
        s += p[i];
    return s;
}

/* veo_time.h: spins at least `us` microseconds, returns the microseconds
 * timediff_us saw (never less than us) */
int64_t ave_busy_sleep(int64_t us)
{
    long t = get_time_us();
    long c = getusrcc();
    busy_sleep_us(us);
    long d = timediff_us(t);
    /* The user clock counts 1400 ticks per microsecond. */
    if (getusrcc() - c < 1400L * us)
        return -1;
    return d;
}

/* omp_get_max_threads() in the helper. */
int64_t ave_omp_max_threads(void) { return omp_get_max_threads(); }

/* The number of distinct operating-system threads in a parallel region. */
int64_t ave_omp_distinct_threads(void)
{
    enum { MAX = 256 };
    long tids[MAX] = { 0 };
    int team = 0;
#pragma omp parallel
    {
        int me = omp_get_thread_num();
        if (me < MAX)
            tids[me] = syscall(SYS_gettid);
#pragma omp single
        team = omp_get_num_threads();
    }
    int distinct = 0;
    for (int i = 0; i < team && i < MAX; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= tids[j] == tids[i];
        distinct += !seen && tids[i] != 0;
    }
    return distinct;
}
