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

/* Kernels for tests/c/t_ve_side.c: veo_prev_req_result (veo_ve.h) and
 * OpenMP (built with -fopenmp). */
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <veo_ve.h>

/* Returns its argument: a result for veo_prev_req_result to find. */
uint64_t echo_ve(uint64_t x) { return x; }

/* For offs = 0 .. n-1: out[2*offs] = veo_prev_req_result's return code,
 * out[2*offs+1] = the result read (0 when none). Returns how many were
 * found. */
int prev_results_ve(int n, int64_t *out)
{
  int found = 0;
  for (int offs = 0; offs < n; offs++) {
    uint64_t r = 0;
    int rc = veo_prev_req_result(offs, &r);
    out[2 * offs] = rc;
    out[2 * offs + 1] = (int64_t)r;
    found += rc == 0;
  }
  return found;
}

/* out = { omp_get_max_threads(), the team size of a parallel region, the
 * number of distinct operating-system threads in it }. */
void omp_team_ve(int64_t *out)
{
  enum { MAX = 256 };
  long tids[MAX] = { 0 };
  int team = 0;
#pragma omp parallel
  {
    int me = omp_get_thread_num();
    if (me < MAX) tids[me] = syscall(SYS_gettid);
#pragma omp single
    team = omp_get_num_threads();
  }
  int distinct = 0;
  for (int i = 0; i < team && i < MAX; i++) {
    int seen = 0;
    for (int j = 0; j < i; j++) seen |= tids[j] == tids[i];
    distinct += !seen && tids[i] != 0;
  }
  out[0] = omp_get_max_threads();
  out[1] = team;
  out[2] = distinct;
}
