/* Kernels of the latency benchmark: the cheapest call there is, so that
 * what is measured is the offloading machinery and nothing else. The
 * Unix-socket baseline of the same benchmark calls the same function from
 * the same library. */
#include <stdint.h>

int64_t noop(int64_t x) { return x; }
