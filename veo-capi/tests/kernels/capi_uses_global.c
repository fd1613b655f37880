/* Uses symbols of capi_kernels.c without linking against it: loadable
 * only after that library, whose symbols are global (RTLD_GLOBAL). */
#include <stdint.h>

extern int64_t counter;
int64_t add_i64(int64_t a, int64_t b);

int64_t counter_plus(int64_t x) { return add_i64(counter, x); }
