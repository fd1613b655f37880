/* The core an AVEO program uses: procs, libraries, symbols, memory,
 * contexts, arguments and calls, checked value by value. */
#define _GNU_SOURCE
#include <ve_offload.h>
#include <string.h>
#include <errno.h>
#include "check.h"

static uint64_t vh_add(void *arg) { return *(uint64_t *)arg + 1; }

int main(int argc, char **argv)
{
  CHECK(argc == 2);
  const char *kernels = argv[1];

  CHECK_EQ(veo_api_version(), 16);
  CHECK_EQ(VEO_API_VERSION, 16);
  CHECK(strcmp(veo_version_string(), "3.0.2") == 0);

  /* -1 means $VE_NODE_NUMBER, here 0. */
  struct veo_proc_handle *proc = veo_proc_create(-1);
  CHECK(proc != NULL);
  CHECK(veo_proc_identifier(proc) >= 0);

  /* Libraries and symbols: functions and data. */
  uint64_t lib = veo_load_library(proc, kernels);
  CHECK(lib != 0);
  uint64_t add = veo_get_sym(proc, lib, "add_i64");
  CHECK(add != 0);
  CHECK_EQ(veo_get_sym(proc, lib, "add_i64"), add);
  uint64_t counter = veo_get_sym(proc, lib, "counter");
  CHECK(counter != 0);
  int64_t cval = 0;
  CHECK_EQ(veo_read_mem(proc, &cval, counter, sizeof cval), 0);
  CHECK_EQ(cval, 42);
  char greet[9];
  CHECK_EQ(veo_read_mem(proc, greet, veo_get_sym(proc, lib, "greeting"), 9), 0);
  CHECK(strcmp(greet, "hello VE") == 0);
  CHECK_EQ(veo_get_sym(proc, lib, "no_such_symbol"), 0);
  /* Libraries are loaded RTLD_GLOBAL: a later one uses this one's symbols. */
  char uses[4096];
  snprintf(uses, sizeof uses, "%.*s/libcapi_uses_global.so",
           (int)(strrchr(kernels, '/') - kernels), kernels);
  uint64_t lib_uses = veo_load_library(proc, uses);
  CHECK(lib_uses != 0);
  struct veo_args *ga = veo_args_alloc();
  veo_args_set_i64(ga, 0, 8);
  uint64_t gres = 0;
  CHECK_EQ(veo_call_sync(proc, veo_get_sym(proc, lib_uses, "counter_plus"), ga, &gres), 0);
  CHECK_EQ(gres, 50);
  veo_args_free(ga);
  CHECK_EQ(veo_load_library(proc, "/no/such/libx.so"), 0);

  /* No context yet: veo_call_sync works on the proc. */
  CHECK_EQ(veo_num_contexts(proc), 0);
  struct veo_args *args = veo_args_alloc();
  CHECK(args != NULL);
  CHECK_EQ(veo_args_set_i64(args, 0, 40), 0);
  CHECK_EQ(veo_args_set_i64(args, 1, 2), 0);
  uint64_t res = 0;
  CHECK_EQ(veo_call_sync(proc, add, args, &res), 0);
  CHECK_EQ(res, 42);

  /* The first context is the main one, index 0. */
  struct veo_thr_ctxt *ctx = veo_context_open(proc);
  CHECK(ctx != NULL);
  CHECK_EQ(veo_num_contexts(proc), 1);
  CHECK(veo_get_context(proc, 0) == ctx);
  CHECK(veo_get_context(proc, 1) == NULL);
  CHECK_EQ(veo_get_context_state(ctx), VEO_STATE_RUNNING);

  /* Request ids count from 0 per context; each result is collected once. */
  uint64_t r0 = veo_call_async(ctx, add, args);
  CHECK_EQ(r0, 0);
  uint64_t r1 = veo_call_async(ctx, add, args);
  CHECK_EQ(r1, 1);
  CHECK_EQ(veo_call_wait_result(ctx, r1, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 42);
  CHECK_EQ(veo_call_wait_result(ctx, r0, &res), VEO_COMMAND_OK);
  CHECK_EQ(veo_call_wait_result(ctx, r0, &res), VEO_COMMAND_ERROR);
  CHECK_EQ(veo_call_peek_result(ctx, 12345, &res), VEO_COMMAND_ERROR);

  /* Args may be freed right after submitting, or cleared and reused. */
  struct veo_args *tmp = veo_args_alloc();
  veo_args_set_i64(tmp, 0, 5);
  veo_args_set_i64(tmp, 1, 6);
  uint64_t r2 = veo_call_async(ctx, add, tmp);
  veo_args_free(tmp);
  CHECK_EQ(veo_call_wait_result(ctx, r2, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 11);
  veo_args_clear(args);
  veo_args_set_u64(args, 0, 0xffffffffffffffffULL);
  CHECK_EQ(veo_call_sync(proc, veo_get_sym(proc, lib, "ret_u64"), args, &res), 0);
  CHECK(res == 0xffffffffffffffffULL);

  /* Every setter, with AVEO's extensions. */
  veo_args_clear(args);
  veo_args_set_i8(args, 0, -3);
  veo_args_set_u8(args, 1, 250);
  veo_args_set_i16(args, 2, -300);
  veo_args_set_u16(args, 3, 65000);
  veo_args_set_i32(args, 4, -70000);
  veo_args_set_u32(args, 5, 4000000000u);
  veo_args_set_i64(args, 6, -5000000000LL);
  veo_args_set_u64(args, 7, 0xfedcba9876543210ULL);
  uint64_t req = veo_call_async_by_name(ctx, lib, "widths", args);
  CHECK(req != VEO_REQUEST_ID_INVALID);
  CHECK_EQ(veo_call_wait_result(ctx, req, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 0xff);
  veo_args_clear(args);
  veo_args_set_i32(args, 0, -7);
  CHECK_EQ(veo_call_sync(proc, veo_get_sym(proc, lib, "widen_i32"), args, &res), 0);
  CHECK_EQ((int64_t)res, -7);
  veo_args_clear(args);
  /* Positions may be set in any order. */
  veo_args_set_double(args, 1, 2.5);
  veo_args_set_float(args, 0, 1.25f);
  CHECK_EQ(veo_call_sync(proc, veo_get_sym(proc, lib, "floats"), args, &res), 0);
  CHECK_EQ((int64_t)res, 1250 + 2500000);
  veo_args_clear(args);
  for (int i = 0; i < 10; i++) veo_args_set_i64(args, i, i + 1);
  CHECK_EQ(veo_call_sync(proc, veo_get_sym(proc, lib, "ten"), args, &res), 0);
  CHECK_EQ(res, 1 * 1 + 2 * 2 + 3 * 3 + 4 * 4 + 5 * 5 + 6 * 6 + 7 * 7 + 8 * 8 + 9 * 9 + 10 * 10);

  /* Stack arguments: (args, intent, argnum, buff, len). */
  int64_t in[4] = {1, 2, 3, 4};
  veo_args_clear(args);
  CHECK_EQ(veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)in, sizeof in), 0);
  veo_args_set_i32(args, 1, 4);
  req = veo_call_async_by_name(ctx, lib, "sum_in", args);
  CHECK_EQ(veo_call_wait_result(ctx, req, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 10);
  int64_t out[3] = {0, 0, 0};
  veo_args_clear(args);
  veo_args_set_stack(args, VEO_INTENT_OUT, 0, (char *)out, sizeof out);
  veo_args_set_i32(args, 1, 3);
  req = veo_call_async_by_name(ctx, lib, "fill_out", args);
  CHECK_EQ(veo_call_wait_result(ctx, req, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 3);
  CHECK_EQ(out[0], 100);
  CHECK_EQ(out[2], 102);
  int64_t io[3] = {1, 2, 3};
  veo_args_clear(args);
  veo_args_set_stack(args, VEO_INTENT_INOUT, 0, (char *)io, sizeof io);
  veo_args_set_i32(args, 1, 3);
  veo_args_set_i64(args, 2, 10);
  CHECK_EQ(veo_call_sync(proc, veo_get_sym(proc, lib, "scale_inout"), args, &res), 0);
  CHECK_EQ(res, 10);
  CHECK_EQ(io[1], 20);
  CHECK_EQ(io[2], 30);
  const char *s = "a string on the stack";
  veo_args_clear(args);
  veo_args_set_stack(args, VEO_INTENT_IN, 0, (char *)s, strlen(s) + 1);
  CHECK_EQ(veo_call_sync(proc, veo_get_sym(proc, lib, "string_len"), args, &res), 0);
  CHECK_EQ(res, strlen(s));

  /* Synchronous memory. */
  uint64_t ve = 0;
  CHECK_EQ(veo_alloc_mem(proc, &ve, 8 * 100), 0);
  CHECK(ve != 0);
  int64_t host[100], back[100];
  for (int i = 0; i < 100; i++) host[i] = i * 3;
  CHECK_EQ(veo_write_mem(proc, ve, host, sizeof host), 0);
  CHECK_EQ(veo_read_mem(proc, back, ve, sizeof back), 0);
  CHECK(memcmp(host, back, sizeof host) == 0);
  CHECK_EQ(veo_read_mem(proc, back, ve, 0), 0);
  veo_args_clear(args);
  veo_args_set_u64(args, 0, ve);
  veo_args_set_i32(args, 1, 100);
  CHECK_EQ(veo_call_sync(proc, veo_get_sym(proc, lib, "sum_ve"), args, &res), 0);
  CHECK_EQ(res, 3 * 99 * 100 / 2);

  /* Asynchronous memory, in queue order. */
  uint64_t ra = veo_alloc_mem_async(ctx, 8 * 16);
  uint64_t ve2 = 0;
  CHECK_EQ(veo_call_wait_result(ctx, ra, &ve2), VEO_COMMAND_OK);
  CHECK(ve2 != 0);
  int64_t sixteen[16], got[16];
  for (int i = 0; i < 16; i++) sixteen[i] = 1000 + i;
  uint64_t rw = veo_async_write_mem(ctx, ve2, sixteen, sizeof sixteen);
  memset(sixteen, 0, sizeof sixteen); /* copied at submit */
  veo_args_clear(args);
  veo_args_set_u64(args, 0, ve2);
  veo_args_set_i32(args, 1, 16);
  uint64_t rc = veo_call_async_by_name(ctx, lib, "sum_ve", args);
  uint64_t rr = veo_async_read_mem(ctx, got, ve2, sizeof got);
  uint64_t rf = veo_free_mem_async(ctx, ve2);
  CHECK_EQ(rf, rr + 1);
  CHECK_EQ(veo_call_wait_result(ctx, rw, &res), VEO_COMMAND_OK);
  CHECK_EQ(veo_call_wait_result(ctx, rc, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 16 * 1000 + 120);
  CHECK_EQ(veo_call_wait_result(ctx, rr, &res), VEO_COMMAND_OK);
  CHECK_EQ(got[15], 1015);
  CHECK_EQ(veo_call_wait_result(ctx, rf, &res), VEO_COMMAND_OK);
  uint64_t r0len = veo_async_read_mem(ctx, got, ve, 0);
  CHECK_EQ(veo_call_wait_result(ctx, r0len, &res), VEO_COMMAND_OK);

  /* After veo_context_sync, reads and OUT buffers have landed, before
   * their results are collected (as in AVEO). */
  int64_t early[16];
  memset(early, 0, sizeof early);
  uint64_t ra2 = veo_alloc_mem_async(ctx, 8 * 16);
  uint64_t ve3 = 0;
  CHECK_EQ(veo_call_wait_result(ctx, ra2, &ve3), VEO_COMMAND_OK);
  for (int i = 0; i < 16; i++) sixteen[i] = 2000 + i;
  uint64_t rw3 = veo_async_write_mem(ctx, ve3, sixteen, sizeof sixteen);
  uint64_t rr3 = veo_async_read_mem(ctx, early, ve3, sizeof early);
  int64_t early_out[3] = {0, 0, 0};
  veo_args_clear(args);
  veo_args_set_stack(args, VEO_INTENT_OUT, 0, (char *)early_out, sizeof early_out);
  veo_args_set_i32(args, 1, 3);
  uint64_t rc3 = veo_call_async_by_name(ctx, lib, "fill_out", args);
  veo_context_sync(ctx);
  CHECK_EQ(early[15], 2015);
  CHECK_EQ(early_out[1], 101);
  memset(early, 0, sizeof early);
  CHECK_EQ(veo_call_wait_result(ctx, rr3, &res), VEO_COMMAND_OK);
  CHECK_EQ(early[15], 0); /* delivered once, not again at collection */
  CHECK_EQ(veo_call_peek_result(ctx, rc3, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 3);
  CHECK_EQ(veo_call_wait_result(ctx, rw3, &res), VEO_COMMAND_OK);
  CHECK_EQ(veo_free_mem(proc, ve3), 0);

  /* A VH function runs in queue order: after the kernel before it. */
  veo_args_clear(args);
  veo_args_set_i32(args, 0, 30);
  uint64_t rs = veo_call_async_by_name(ctx, lib, "sleep_ms", args);
  uint64_t vharg = 41;
  uint64_t rv = veo_call_async_vh(ctx, vh_add, &vharg);
  CHECK_EQ(veo_call_wait_result(ctx, rv, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 42);
  CHECK_EQ(veo_call_peek_result(ctx, rs, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 30);

  /* Peek sees UNFINISHED, then the result; sync waits for the queue. */
  veo_args_clear(args);
  veo_args_set_i32(args, 0, 200);
  rs = veo_call_async_by_name(ctx, lib, "sleep_ms", args);
  CHECK_EQ(veo_call_peek_result(ctx, rs, &res), VEO_COMMAND_UNFINISHED);
  veo_context_sync(ctx);
  CHECK_EQ(veo_call_peek_result(ctx, rs, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 200);

  /* Synchronous calls wait for what the main context has queued. */
  uint64_t cnt = veo_get_sym(proc, lib, "counter");
  int64_t seven = 7;
  veo_args_clear(args);
  veo_args_set_i32(args, 0, 100);
  rs = veo_call_async_by_name(ctx, lib, "sleep_ms", args);
  uint64_t rwc = veo_async_write_mem(ctx, cnt, &seven, sizeof seven);
  CHECK_EQ(veo_read_mem(proc, &cval, cnt, sizeof cval), 0);
  CHECK_EQ(cval, 7);
  CHECK_EQ(veo_call_wait_result(ctx, rs, &res), VEO_COMMAND_OK);
  CHECK_EQ(veo_call_wait_result(ctx, rwc, &res), VEO_COMMAND_OK);

  /* More contexts (with VE_OMP_NUM_THREADS=1, as AVEO needs), attributes. */
  setenv("VE_OMP_NUM_THREADS", "1", 1);
  struct veo_thr_ctxt_attr *attr = veo_alloc_thr_ctxt_attr();
  size_t ss = 0;
  CHECK_EQ(veo_get_thr_ctxt_stacksize(attr, &ss), 0);
  CHECK_EQ(ss, 0x8000000);
  CHECK_EQ(veo_set_thr_ctxt_stacksize(attr, 1 << 20), -1);
  CHECK_EQ(errno, EINVAL);
  CHECK_EQ(veo_set_thr_ctxt_stacksize(attr, 64 << 20), 0);
  CHECK_EQ(veo_get_thr_ctxt_stacksize(attr, &ss), 0);
  CHECK_EQ(ss, 64 << 20);
  struct veo_thr_ctxt *ctx2 = veo_context_open_with_attr(proc, attr);
  CHECK(ctx2 != NULL && ctx2 != ctx);
  CHECK_EQ(veo_free_thr_ctxt_attr(attr), 0);
  CHECK_EQ(veo_num_contexts(proc), 2);
  CHECK(veo_get_context(proc, 1) == ctx2);
  veo_args_clear(args);
  veo_args_set_i64(args, 0, 1);
  veo_args_set_i64(args, 1, 2);
  CHECK_EQ(veo_call_async(ctx2, add, args), 0);
  CHECK_EQ(veo_call_wait_result(ctx2, 0, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, 3);
  CHECK_EQ(veo_context_close(ctx2), 0);
  CHECK_EQ(veo_num_contexts(proc), 1);
  /* Closing the main context does nothing. */
  CHECK_EQ(veo_context_close(ctx), 0);
  CHECK_EQ(veo_num_contexts(proc), 1);
  CHECK_EQ(veo_get_context_state(ctx), VEO_STATE_RUNNING);

  /* Unloading drops the library's symbols. */
  CHECK_EQ(veo_free_mem(proc, ve), 0);
  /* Freeing 0 is freeing NULL; a second free of the same memory fails. */
  CHECK_EQ(veo_free_mem(proc, 0), 0);
  CHECK_EQ(veo_free_mem(proc, ve), -1);
  uint64_t rf0 = veo_free_mem_async(ctx, 0);
  CHECK_EQ(veo_call_wait_result(ctx, rf0, &res), VEO_COMMAND_OK);
  CHECK_EQ(veo_unload_library(proc, lib), 0);
  CHECK_EQ(veo_get_sym(proc, lib, "add_i64"), 0);
  uint64_t lib2 = veo_load_library(proc, kernels);
  CHECK(lib2 != 0);
  CHECK(veo_get_sym(proc, lib2, "add_i64") != 0);

  veo_args_free(args);
  CHECK_EQ(veo_proc_destroy(proc), 0);
  printf("t_core ok\n");
  return 0;
}
