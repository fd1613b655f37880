/* Bad input never crashes or hangs the program: each gets AVEO's error
 * value (and one line on stderr, checked by the harness). */
#define _GNU_SOURCE
#include <ve_offload.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include "check.h"

int main(int argc, char **argv)
{
  CHECK(argc == 2);
  const char *kernels = argv[1];
  uint64_t res = 0, a = 0;
  char buf[64];

  /* NULL procs. */
  CHECK(veo_proc_create(-2) == NULL);
  CHECK_EQ(veo_proc_destroy(NULL), -1);
  CHECK_EQ(veo_proc_identifier(NULL), -1);
  CHECK_EQ(veo_load_library(NULL, kernels), 0);
  CHECK_EQ(veo_get_sym(NULL, 1, "add_i64"), 0);
  CHECK_EQ(veo_alloc_mem(NULL, &a, 8), -2);
  CHECK_EQ(veo_free_mem(NULL, 8), -1);
  CHECK_EQ(veo_read_mem(NULL, buf, 8, 8), -1);
  CHECK_EQ(veo_write_mem(NULL, 8, buf, 8), -1);
  errno = 0;
  CHECK_EQ(veo_num_contexts(NULL), -1);
  CHECK_EQ(errno, EINVAL);
  CHECK(veo_get_context(NULL, 0) == NULL);
  CHECK(veo_context_open(NULL) == NULL);
  CHECK_EQ(veo_call_sync(NULL, 8, NULL, &res), -1);
  CHECK_EQ(veo_unload_library(NULL, 1), -1);

  /* NULL contexts, argument lists, attributes. */
  CHECK_EQ(veo_call_async(NULL, 8, NULL), VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_call_wait_result(NULL, 0, &res), -1);
  CHECK_EQ(veo_call_peek_result(NULL, 0, &res), -1);
  CHECK_EQ(veo_get_context_state(NULL), VEO_STATE_EXIT);
  CHECK_EQ(veo_context_close(NULL), -1);
  veo_context_sync(NULL);
  veo_req_block_begin(NULL);
  veo_req_block_end(NULL);
  CHECK_EQ(veo_alloc_mem_async(NULL, 8), VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_async_read_mem(NULL, buf, 8, 8), VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_args_set_i64(NULL, 0, 1), -1);
  veo_args_clear(NULL);
  veo_args_free(NULL);
  CHECK_EQ(veo_free_thr_ctxt_attr(NULL), -1);
  CHECK_EQ(veo_set_thr_ctxt_stacksize(NULL, 64 << 20), -1);
  CHECK(veo_context_open_with_attr(NULL, NULL) == NULL);

  struct veo_proc_handle *proc = veo_proc_create(0);
  CHECK(proc != NULL);
  uint64_t lib = veo_load_library(proc, kernels);
  CHECK(lib != 0);

  /* Names longer than VEO_SYMNAME_LEN_MAX. */
  char longname[300];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  errno = 0;
  CHECK_EQ(veo_load_library(proc, longname), 0);
  CHECK_EQ(errno, ENAMETOOLONG);
  errno = 0;
  CHECK_EQ(veo_get_sym(proc, lib, longname), 0);
  CHECK_EQ(errno, ENAMETOOLONG);
  CHECK_EQ(veo_get_sym(proc, lib, NULL), 0);
  CHECK_EQ(veo_get_sym(proc, 0xbad, "add_i64"), 0);
  CHECK_EQ(veo_unload_library(proc, 0xbad), -1);
  CHECK(veo_get_context(proc, -1) == NULL);

  /* Bad VE addresses. */
  CHECK(veo_read_mem(proc, buf, 0xdead0000, 8) < 0);
  CHECK(veo_write_mem(proc, 0xdead0000, buf, 8) < 0);
  CHECK(veo_read_mem(proc, buf, 0, 8) < 0);
  CHECK_EQ(veo_hmemcpy(buf, veo_set_proc_identifier((void *)0xdead0000, 9), 8), -1);
  CHECK_EQ(veo_free_hmem(veo_set_proc_identifier((void *)0xdead0000, 9)), -1);

  /* Argument numbers out of range, gaps, bad intents. */
  struct veo_args *args = veo_args_alloc();
  CHECK_EQ(veo_args_set_i64(args, -1, 1), -1);
  CHECK_EQ(veo_args_set_i64(args, 256, 1), -1);
  CHECK_EQ(veo_args_set_i64(args, 255, 1), 0);
  CHECK_EQ(veo_args_set_stack(args, 7, 0, buf, 8), -1);
  CHECK_EQ(veo_args_set_stack(args, VEO_INTENT_IN, 0, NULL, 8), -1);
  struct veo_thr_ctxt *ctx = veo_context_open(proc);
  CHECK(ctx != NULL);
  uint64_t add = veo_get_sym(proc, lib, "add_i64");
  CHECK_EQ(veo_call_async(ctx, add, args), VEO_REQUEST_ID_INVALID); /* gaps */
  veo_args_clear(args);
  CHECK_EQ(veo_call_async(ctx, 0, args), VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_call_async_by_name(ctx, lib, "no_such_kernel", args), VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_call_async_vh(ctx, NULL, NULL), VEO_REQUEST_ID_INVALID);
  veo_req_block_end(ctx); /* no block open */

  /* An asynchronous read of a bad address fails at collection. */
  uint64_t r = veo_async_read_mem(ctx, buf, 0xdead0000, 8);
  CHECK(r != VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_call_wait_result(ctx, r, &res), VEO_COMMAND_ERROR);
  /* Second wait, and ids never handed out. */
  CHECK_EQ(veo_call_wait_result(ctx, r, &res), VEO_COMMAND_ERROR);
  CHECK_EQ(veo_call_wait_result(ctx, 999, &res), VEO_COMMAND_ERROR);

  /* A freed argument list is detected, not used. */
  struct veo_args *gone = veo_args_alloc();
  veo_args_free(gone);
  CHECK_EQ(veo_args_set_i32(gone, 0, 1), -1);
  CHECK_EQ(veo_call_async(ctx, add, gone), VEO_REQUEST_ID_INVALID);
  veo_args_free(gone);

  /* A second context needs VE_OMP_NUM_THREADS=1, as on a VE. */
  unsetenv("VE_OMP_NUM_THREADS");
  CHECK(veo_context_open(proc) == NULL);
  setenv("VE_OMP_NUM_THREADS", "1", 1);
  struct veo_thr_ctxt *ctx2 = veo_context_open(proc);
  CHECK(ctx2 != NULL);

  /* A kernel crash: EXCEPTION with the signal, the rest ERROR, the
   * context EXIT, later submits INVALID. */
  veo_args_clear(args);
  veo_args_set_i32(args, 0, 100000);
  uint64_t slow = veo_call_async_by_name(ctx2, lib, "sleep_ms", args);
  /* The context sleeps while the crash and the call after it are queued:
   * a crash that ended the proc before the second submit would make that
   * submit fail instead. */
  veo_args_clear(args);
  veo_args_set_i32(args, 0, 300);
  uint64_t hold = veo_call_async_by_name(ctx, lib, "sleep_ms", args);
  veo_args_clear(args);
  uint64_t bang = veo_call_async_by_name(ctx, lib, "crash", args);
  veo_args_set_i64(args, 0, 1);
  veo_args_set_i64(args, 1, 2);
  uint64_t after = veo_call_async(ctx, add, args);
  CHECK(hold != VEO_REQUEST_ID_INVALID);
  CHECK(bang != VEO_REQUEST_ID_INVALID && after != VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_call_wait_result(ctx, hold, &res), VEO_COMMAND_OK);
  CHECK_EQ(veo_call_wait_result(ctx, bang, &res), VEO_COMMAND_EXCEPTION);
  CHECK_EQ(res, SIGSEGV);
  CHECK_EQ(veo_call_wait_result(ctx, after, &res), VEO_COMMAND_ERROR);
  CHECK_EQ(veo_call_wait_result(ctx2, slow, &res), VEO_COMMAND_ERROR);
  CHECK_EQ(veo_get_context_state(ctx), VEO_STATE_EXIT);
  CHECK_EQ(veo_get_context_state(ctx2), VEO_STATE_EXIT);
  CHECK_EQ(veo_call_async(ctx, add, args), VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_alloc_mem_async(ctx, 8), VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_call_sync(proc, add, args, &res), -1);
  CHECK(veo_alloc_mem(proc, &a, 8) < 0);
  CHECK(veo_read_mem(proc, buf, 8, 8) < 0);
  veo_context_sync(ctx);
  CHECK(veo_context_open(proc) == NULL);
  CHECK_EQ(veo_proc_destroy(proc), 0);

  /* A destroyed proc is detected, not used. */
  CHECK_EQ(veo_proc_destroy(proc), -1);
  CHECK_EQ(veo_load_library(proc, kernels), 0);
  CHECK_EQ(veo_alloc_mem(proc, &a, 8), -2);
  CHECK_EQ(veo_num_contexts(proc), -1);
  CHECK_EQ(veo_call_async(ctx, add, args), VEO_REQUEST_ID_INVALID);

  /* A helper killed from outside: pending and later requests fail. */
  struct veo_proc_handle *p2 = veo_proc_create(0);
  CHECK(p2 != NULL);
  lib = veo_load_library(p2, kernels);
  struct veo_thr_ctxt *c2 = veo_context_open(p2);
  void *h = NULL;
  CHECK_EQ(veo_alloc_hmem(p2, &h, 8), 0);
  pid_t helper = veo_get_pid_from_hmem(h);
  CHECK(helper > 0);
  veo_args_clear(args);
  veo_args_set_i32(args, 0, 100000);
  slow = veo_call_async_by_name(c2, lib, "sleep_ms", args);
  CHECK(slow != VEO_REQUEST_ID_INVALID);
  CHECK_EQ(kill(helper, SIGKILL), 0);
  CHECK_EQ(veo_call_wait_result(c2, slow, &res), VEO_COMMAND_ERROR);
  CHECK_EQ(veo_get_context_state(c2), VEO_STATE_EXIT);
  CHECK_EQ(veo_call_async(c2, add, args), VEO_REQUEST_ID_INVALID);
  CHECK(veo_write_mem(p2, (uint64_t)veo_get_hmem_addr(h), buf, 8) < 0);
  CHECK_EQ(veo_proc_destroy(p2), 0);

  /* Destroying a proc whose kernel never returns does not wait for it. */
  struct veo_proc_handle *p3 = veo_proc_create(0);
  CHECK(p3 != NULL);
  lib = veo_load_library(p3, kernels);
  struct veo_thr_ctxt *m3 = veo_context_open(p3);
  struct veo_thr_ctxt *c3 = veo_context_open(p3);
  CHECK(m3 != NULL && c3 != NULL);
  veo_args_clear(args);
  veo_args_set_i32(args, 0, 1000000);
  CHECK(veo_call_async_by_name(c3, lib, "sleep_ms", args) != VEO_REQUEST_ID_INVALID);
  CHECK(veo_call_async_by_name(m3, lib, "sleep_ms", args) != VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_proc_destroy(p3), 0);
  CHECK_EQ(veo_get_context_state(c3), VEO_STATE_EXIT); /* reported: gone */

  veo_args_free(args);
  printf("t_fail ok\n");
  return 0;
}
