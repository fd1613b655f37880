/* An AVEO kernel that uses AVEO's VE-side API (built with
 * -I veo-capi/include/ve): it strips an HMEM address itself. */
#include <stdint.h>
#include <veo_hmem.h>

int64_t sum_hmem_ve(void *hmem, int n)
{
  if (!veo_is_ve_addr(hmem)) return -1;
  const int64_t *a = veo_get_hmem_addr(hmem);
  int64_t s = 0;
  for (int i = 0; i < n; i++) s += a[i];
  return s;
}
