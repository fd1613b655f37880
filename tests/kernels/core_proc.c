/* Kernels for tests/tests/core/proc.rs: what the helper process itself
 * looks like from inside a kernel (environment, CPU affinity, process ids). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* The integer value of environment variable `name`, or -1 if unset. */
int64_t core_env_int(const char *name)
{
    const char *v = getenv(name);
    return v ? atoll(v) : -1;
}

/* The CPUs this kernel's thread may run on, as a mask of the first 64. */
uint64_t core_cpu_mask(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 0;
    uint64_t mask = 0;
    for (int i = 0; i < 64; i++)
        if (CPU_ISSET(i, &set))
            mask |= 1ull << i;
    return mask;
}

int64_t core_getpid(void) { return getpid(); }
int64_t core_getppid(void) { return getppid(); }
