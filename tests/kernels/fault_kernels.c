/* Kernels for the fault, misuse, concurrency and soak tests
 * (tests/tests/fault/). Each fault takes its operands as arguments
 * and goes through volatile objects, so no optimisation level can fold
 * the fault away or turn it into a different trap. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Writes v at p: called with a null or unmapped p, it raises SIGSEGV with
 * si_addr == p. */
void fault_write_at(int64_t *p, int64_t v)
{
    volatile int64_t *q = p;
    *q = v;
}

/* Integer division: called with b == 0, it raises SIGFPE on x86-64. */
int fault_divide(int a, int b)
{
    volatile int x = a;
    volatile int y = b;
    return x / y;
}

void fault_abort(void) { abort(); }

/* An illegal instruction (ud2 on x86-64): SIGILL at an address inside this
 * function. */
void fault_illegal(void) { __builtin_trap(); }

/* A store to a shared file mapping past the end of the file: SIGBUS at the
 * first page past the end. */
void fault_bus(void)
{
    FILE *f = tmpfile();
    if (!f || ftruncate(fileno(f), 4096) != 0)
        return;
    volatile char *p =
        mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fileno(f), 0);
    if (p == MAP_FAILED)
        return;
    p[4096] = 1;
}

/* Unbounded recursion with a kilobyte frame: overflows the thread's stack
 * (SIGSEGV on the guard page, reported from the alternate signal stack). */
int64_t fault_recurse(int64_t depth)
{
    volatile char frame[1024];
    frame[depth % 1024] = (char)depth;
    return fault_recurse(depth + 1) + frame[depth % 1024];
}

void fault_exit(int status) { exit(status); }

/* Never returns, without burning a core: sleeps in a loop. */
void fault_forever(void)
{
    for (;;)
        sleep(1);
}

/* Sleeps until *flag becomes non-zero, then returns the flag's value. It
 * polls after naps that double from 200 microseconds to 10 ms: a test holds
 * up to 63 of these at once (tests/tests/fault/fuzz_drain.rs), which must
 * not take the CPU from the tests running beside it. */
int64_t fault_wait_flag(volatile int64_t *flag)
{
    unsigned nap = 200;
    while (*flag == 0) {
        usleep(nap);
        if (nap < 10000)
            nap *= 2;
    }
    return *flag;
}

/* How many times fault_mix ran in this process. */
static uint64_t fault_mix_calls;

/* A bijective function of x (an odd multiplier and a xor-shift), so that a
 * result swapped between two calls is always noticed. Also counts calls,
 * so that a call executed twice is noticed. */
uint64_t fault_mix(uint64_t x)
{
    __atomic_fetch_add(&fault_mix_calls, 1, __ATOMIC_RELAXED);
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    return x;
}

uint64_t fault_mix_count(void) { return __atomic_load_n(&fault_mix_calls, __ATOMIC_RELAXED); }

/* A cheap call for the soak: returns its argument plus one. */
uint64_t fault_inc(uint64_t x) { return x + 1; }

/* Checksum of n bytes at p (VE memory), for transfers. */
uint64_t fault_sum_bytes(const uint8_t *p, uint64_t n)
{
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s = s * 31 + p[i];
    return s;
}

/* Forks; the child returns 1 into the helper, the parent returns 2. Only
 * the parent's answer may reach the VH. */
#include <pthread.h>
#include <sys/wait.h>
int64_t fault_fork_return(void)
{
    pid_t p = fork();
    if (p < 0)
        return -1;
    return p == 0 ? 1 : 2;
}

/* Forks a child that calls exit(0) at once; the parent reaps it and
 * returns 7. The child's exit must leave no fault record behind. */
int64_t fault_fork_exit(void)
{
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0)
        exit(0);
    int st = 0;
    waitpid(p, &st, 0);
    return 7;
}

/* Prints text with printf, no newline, no fflush: it must reach the VH's
 * stdout by the time the call completes, whatever stdout is. */
void fault_print(const char *text) { printf("%s", text); }

/* The same on stderr. */
void fault_eprint(const char *text) { fprintf(stderr, "%s", text); }

/* Ends the calling worker thread from inside a kernel. */
void fault_pthread_exit(void) { pthread_exit(NULL); }

/* Burns a core until *flag becomes non-zero (no sleep, no system call). */
int64_t fault_spin_flag(volatile int64_t *flag)
{
    while (*flag == 0)
        ;
    return *flag;
}

/* Raises sig in the calling thread (signals with no handler of the
 * helper's own end it with that signal). */
void fault_raise(int sig) { raise(sig); }
