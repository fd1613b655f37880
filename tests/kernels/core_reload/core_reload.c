/* A library of its own (built as "core_reload" by tests/build.rs), for
 * tests/tests/core/library.rs: its state shows whether unloading really
 * unloaded it, and its symbols exist in no other library. */
#include <stdint.h>

static int64_t loads;
static int64_t counter;

__attribute__((constructor)) static void on_load(void) { loads++; }

/* How many times this copy of the library was initialised: 1. */
int64_t core_reload_loads(void) { return loads; }

/* 1 on the first call after a (re)load, then 2, 3, ... */
int64_t core_reload_bump(void) { return ++counter; }

int64_t core_reload_only_here(int64_t x) { return x * 1000 + 42; }

/* Sleeps until *flag becomes non-zero (polling every 200 microseconds),
 * then returns the flag's value plus 1: a call that is still running in
 * this library when the library is unloaded. */
#include <unistd.h>
int64_t core_reload_wait(volatile int64_t *flag)
{
    while (*flag == 0)
        usleep(200);
    return *flag + 1;
}
