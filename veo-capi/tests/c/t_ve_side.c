/* The VE side of AVEO through libveo.so: a kernel reading earlier results
 * with veo_prev_req_result, an OpenMP kernel whose team follows
 * VE_OMP_NUM_THREADS (printed, for the harness to check), procs on nodes 0
 * and 1 at once, and a node the emulator does not offer. */
#define _GNU_SOURCE
#include <ve_offload.h>
#include <string.h>
#include "check.h"

static uint64_t call(struct veo_thr_ctxt *ctx, uint64_t fn, struct veo_args *a)
{
  uint64_t id = veo_call_async(ctx, fn, a);
  CHECK(id != VEO_REQUEST_ID_INVALID);
  uint64_t res = 0;
  CHECK_EQ(veo_call_wait_result(ctx, id, &res), VEO_COMMAND_OK);
  return res;
}

int main(int argc, char **argv)
{
  CHECK(argc == 2);
  char lib_path[4096];
  snprintf(lib_path, sizeof lib_path, "%.*s/libcapi_ve_side.so",
           (int)(strrchr(argv[1], '/') - argv[1]), argv[1]);

  /* Nodes 0 and 1 at once: two procs, each running the kernels. */
  struct veo_proc_handle *p0 = veo_proc_create(0);
  struct veo_proc_handle *p1 = veo_proc_create(1);
  CHECK(p0 != NULL && p1 != NULL && p0 != p1);
  CHECK(veo_proc_identifier(p0) != veo_proc_identifier(p1));
  struct veo_proc_handle *procs[2] = { p0, p1 };
  for (int n = 0; n < 2; n++) {
    struct veo_proc_handle *p = procs[n];
    uint64_t lib = veo_load_library(p, lib_path);
    CHECK(lib != 0);
    struct veo_thr_ctxt *ctx = veo_context_open(p);
    CHECK(ctx != NULL);
    uint64_t echo = veo_get_sym(p, lib, "echo_ve");
    uint64_t prev = veo_get_sym(p, lib, "prev_results_ve");
    uint64_t team = veo_get_sym(p, lib, "omp_team_ve");
    CHECK(echo != 0 && prev != 0 && team != 0);

    /* Two results, different per node, then a kernel that reads them. */
    struct veo_args *a = veo_args_alloc();
    const uint64_t first = 1000 + n, second = 0xfeed0000ull + n;
    veo_args_set_u64(a, 0, first);
    CHECK_EQ(call(ctx, echo, a), first);
    veo_args_set_u64(a, 0, second);
    CHECK_EQ(call(ctx, echo, a), second);
    uint64_t out = 0;
    CHECK_EQ(veo_alloc_mem(p, &out, 2 * 17 * sizeof(int64_t)), 0);
    veo_args_clear(a);
    veo_args_set_i32(a, 0, 17);
    veo_args_set_u64(a, 1, out);
    int found = (int)call(ctx, prev, a);
    int64_t got[2 * 17];
    CHECK_EQ(veo_read_mem(p, got, out, sizeof got), 0);
    /* offs 0: the request answered just before; 1: the one before that. */
    CHECK_EQ(got[0], 0);
    CHECK_EQ(got[1], second);
    CHECK_EQ(got[2], 0);
    CHECK_EQ(got[3], first);
    /* Only 16 are kept: offs 16 never has a result. */
    CHECK_EQ(got[2 * 16], -1);
    CHECK_EQ(got[2 * 16 + 1], 0);
    CHECK(found >= 2 && found <= 16);

    /* The OpenMP team: as many threads, all distinct, as the proc has. */
    veo_args_clear(a);
    veo_args_set_u64(a, 0, out);
    call(ctx, team, a);
    CHECK_EQ(veo_read_mem(p, got, out, 3 * sizeof(int64_t)), 0);
    CHECK_EQ(got[1], got[0]);
    CHECK_EQ(got[2], got[0]);
    printf("node %d omp threads %lld\n", n, (long long)got[0]);
    CHECK_EQ(veo_free_mem(p, out), 0);
    veo_args_free(a);
  }

  /* The emulator offers nodes 0 to 7. */
  CHECK(veo_proc_create(8) == NULL);

  CHECK_EQ(veo_proc_destroy(p1), 0);
  CHECK_EQ(veo_proc_destroy(p0), 0);
  printf("t_ve_side ok\n");
  return 0;
}
