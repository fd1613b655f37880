/* HMEM addresses, proc identifiers, memory hooks, request blocks. */
#define _GNU_SOURCE
#include <ve_offload.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "check.h"

/* What the hooks saw. */
static int calls[6];
static void *seen_payload;
static void *seen_handle;
static uint64_t seen_addr;
static size_t seen_size;
static char payload[1];

static void on_alloc(void *p, ...)
{
  va_list ap;
  va_start(ap, p);
  seen_payload = p;
  seen_handle = va_arg(ap, void *);
  uint64_t *addrp = va_arg(ap, uint64_t *);
  seen_addr = *addrp;
  seen_size = va_arg(ap, size_t);
  va_end(ap);
  calls[0]++;
}

static void on_free(void *p, ...)
{
  va_list ap;
  va_start(ap, p);
  seen_payload = p;
  seen_handle = va_arg(ap, void *);
  seen_addr = va_arg(ap, uint64_t);
  va_end(ap);
  calls[1]++;
}

static void on_alloc_hmem(void *p, ...)
{
  va_list ap;
  va_start(ap, p);
  seen_handle = va_arg(ap, void *);
  seen_addr = (uint64_t)va_arg(ap, void *);
  seen_size = va_arg(ap, size_t);
  va_end(ap);
  (void)p;
  calls[2]++;
}

static void on_free_hmem(void *p, ...)
{
  va_list ap;
  va_start(ap, p);
  seen_handle = va_arg(ap, void *);
  seen_addr = (uint64_t)va_arg(ap, void *);
  va_end(ap);
  (void)p;
  calls[3]++;
}

static void on_alloc_async(void *p, ...)
{
  va_list ap;
  va_start(ap, p);
  seen_handle = va_arg(ap, void *);
  seen_addr = va_arg(ap, uint64_t);
  seen_size = va_arg(ap, size_t);
  va_end(ap);
  (void)p;
  calls[4]++;
}

static void on_free_async(void *p, ...)
{
  va_list ap;
  va_start(ap, p);
  seen_handle = va_arg(ap, void *);
  seen_addr = va_arg(ap, uint64_t);
  va_end(ap);
  (void)p;
  calls[5]++;
}

static uint64_t hmem_alloc_seen, hmem_free_seen;
static size_t hmem_size_seen;
static void hmem_alloc(void *hmem, size_t size) { hmem_alloc_seen = (uint64_t)hmem; hmem_size_seen = size; }
static void hmem_free(uint64_t hmem) { hmem_free_seen = hmem; }

struct blocker {
  struct veo_thr_ctxt *ctx;
  uint64_t fn;
  struct veo_args *args;
  volatile int started;
  uint64_t id;
};

static void *submit_other(void *arg)
{
  struct blocker *b = arg;
  b->started = 1;
  b->id = veo_call_async(b->ctx, b->fn, b->args);
  return NULL;
}

int main(int argc, char **argv)
{
  CHECK(argc == 2);
  /* Pure address arithmetic. */
  CHECK_EQ(veo_get_max_proc_identifier(), 16);
  void *t = veo_set_proc_identifier((void *)0x1000, 3);
  CHECK((uint64_t)t == (0x1000ULL | 1ULL << 63 | 3ULL << 59));
  CHECK_EQ(veo_is_ve_addr(t), 1);
  CHECK_EQ(veo_is_ve_addr((void *)0x1000), 0);
  CHECK_EQ(veo_get_proc_identifier_from_hmem(t), 3);
  CHECK_EQ(veo_get_proc_identifier_from_hmem((void *)0x1000), -1);
  CHECK((uint64_t)veo_get_hmem_addr(t) == 0x1000);
  CHECK((uint64_t)veo_get_hmem_addr((void *)0x1000) == 0x1000);
  CHECK(veo_set_proc_identifier((void *)0x1000, 16) == NULL);
  CHECK(veo_set_proc_identifier((void *)0x1000, -1) == NULL);
  CHECK(veo_get_proc_handle_from_hmem((void *)0x1000) == NULL);
  CHECK_EQ(veo_get_pid_from_hmem((void *)0x1000), -1);
  CHECK_EQ(veo_get_venum_from_hmem((void *)0x1000), -1);
  CHECK_EQ(veo_get_ve_arch(0), 1);
  CHECK_EQ(veo_get_ve_arch(-1), 0);

  /* Identifiers: the lowest free slot, reused after destroy. */
  struct veo_proc_handle *p0 = veo_proc_create(0);
  struct veo_proc_handle *p1 = veo_proc_create(1);
  CHECK(p0 && p1);
  CHECK_EQ(veo_proc_identifier(p0), 0);
  CHECK_EQ(veo_proc_identifier(p1), 1);

  /* HMEM memory of a proc. */
  void *h0 = NULL;
  CHECK_EQ(veo_alloc_hmem(p0, &h0, 8 * 8), 0);
  CHECK_EQ(veo_is_ve_addr(h0), 1);
  CHECK_EQ(veo_get_proc_identifier_from_hmem(h0), 0);
  CHECK(veo_get_proc_handle_from_hmem(h0) == p0);
  CHECK(veo_get_pid_from_hmem(h0) > 0);
  CHECK(veo_get_pid_from_hmem(h0) != getpid());
  CHECK_EQ(veo_get_venum_from_hmem(h0), 0);
  void *h1 = NULL;
  CHECK_EQ(veo_alloc_hmem(p1, &h1, 8 * 8), 0);
  CHECK_EQ(veo_get_proc_identifier_from_hmem(h1), 1);
  CHECK(veo_get_proc_handle_from_hmem(h1) == p1);
  CHECK_EQ(veo_get_venum_from_hmem(h1), 1);
  CHECK(veo_get_pid_from_hmem(h1) != veo_get_pid_from_hmem(h0));

  /* Copies in every direction. */
  int64_t a[8], b[8];
  for (int i = 0; i < 8; i++) a[i] = 10 * i;
  CHECK_EQ(veo_hmemcpy(h0, a, sizeof a), 0);
  memset(b, 0, sizeof b);
  CHECK_EQ(veo_hmemcpy(b, h0, sizeof b), 0);
  CHECK(memcmp(a, b, sizeof a) == 0);
  void *h0b = NULL;
  CHECK_EQ(veo_alloc_hmem(p0, &h0b, 8 * 8), 0);
  CHECK_EQ(veo_hmemcpy(h0b, h0, sizeof a), 0);
  memset(b, 0, sizeof b);
  CHECK_EQ(veo_hmemcpy(b, h0b, sizeof b), 0);
  CHECK_EQ(b[7], 70);
  int64_t c[8];
  CHECK_EQ(veo_hmemcpy(c, b, sizeof b), 0);
  CHECK_EQ(c[3], 30);
  CHECK_EQ(veo_hmemcpy(h1, h0, sizeof a), -1); /* two procs */
  /* The tag travels into the kernel. */
  uint64_t lib = veo_load_library(p0, argv[1]);
  struct veo_args *args = veo_args_alloc();
  CHECK_EQ(veo_args_set_hmem(args, 0, h0), 0);
  veo_args_set_i32(args, 1, 8);
  uint64_t res = 0;
  CHECK_EQ(veo_call_sync(p0, veo_get_sym(p0, lib, "sum_hmem"), args, &res), 0);
  CHECK_EQ(res, 280);
  /* An AVEO kernel strips it with the VE-side veo_get_hmem_addr(). */
  char ve_side[4096];
  snprintf(ve_side, sizeof ve_side, "%.*s/libcapi_ve_side.so",
           (int)(strrchr(argv[1], '/') - argv[1]), argv[1]);
  uint64_t vlib = veo_load_library(p0, ve_side);
  CHECK(vlib != 0);
  CHECK_EQ(veo_call_sync(p0, veo_get_sym(p0, vlib, "sum_hmem_ve"), args, &res), 0);
  CHECK_EQ(res, 280);
  /* The proc's own handle: plain VE address works too. */
  CHECK_EQ(veo_read_mem(p0, b, (uint64_t)veo_get_hmem_addr(h0), sizeof b), 0);
  CHECK_EQ(b[1], 10);
  /* VH memory from veo_alloc_hmem(NULL, ...). */
  void *vh = NULL;
  CHECK_EQ(veo_alloc_hmem(NULL, &vh, 64), 0);
  CHECK(vh != NULL);
  CHECK_EQ(veo_is_ve_addr(vh), 0);
  CHECK_EQ(veo_hmemcpy(vh, h0, 64), 0);
  CHECK_EQ(((int64_t *)vh)[2], 20);
  CHECK_EQ(veo_free_hmem(vh), 0);
  CHECK_EQ(veo_free_hmem(h0b), 0);
  CHECK_EQ(veo_free_hmem(h1), 0);

  /* Slots are reused after destroy. */
  CHECK_EQ(veo_proc_destroy(p1), 0);
  struct veo_proc_handle *p2 = veo_proc_create(0);
  CHECK(p2 != NULL);
  CHECK_EQ(veo_proc_identifier(p2), 1);
  CHECK_EQ(veo_proc_destroy(p2), 0);

  /* Hooks, keyed by the function they follow. */
  CHECK(veo_get_hook((void *)veo_alloc_mem) == NULL);
  veo_register_hook((void *)veo_alloc_mem, on_alloc, payload);
  veo_register_hook((void *)veo_free_mem, on_free, payload);
  veo_register_hook((void *)veo_alloc_hmem, on_alloc_hmem, payload);
  veo_register_hook((void *)veo_free_hmem, on_free_hmem, payload);
  veo_register_hook((void *)veo_alloc_mem_async, on_alloc_async, payload);
  veo_register_hook((void *)veo_free_mem_async, on_free_async, payload);
  CHECK(veo_get_hook((void *)veo_alloc_mem) == (void *)on_alloc);
  CHECK(veo_get_hook((void *)veo_free_mem_async) == (void *)on_free_async);

  uint64_t ve = 0;
  CHECK_EQ(veo_alloc_mem(p0, &ve, 4096), 0);
  CHECK_EQ(calls[0], 1);
  CHECK(seen_payload == payload);
  CHECK(seen_handle == p0);
  CHECK_EQ(seen_addr, ve);
  CHECK_EQ(seen_size, 4096);
  CHECK_EQ(veo_free_mem(p0, ve), 0);
  CHECK_EQ(calls[1], 1);
  CHECK(seen_handle == p0);
  CHECK_EQ(seen_addr, ve);

  void *hh = NULL;
  CHECK_EQ(veo_alloc_hmem(p0, &hh, 128), 0);
  CHECK_EQ(calls[2], 1);
  CHECK(seen_handle == p0);
  CHECK_EQ(seen_addr, (uint64_t)hh);
  CHECK_EQ(seen_size, 128);
  CHECK_EQ(veo_free_hmem(hh), 0);
  CHECK_EQ(calls[3], 1);
  CHECK_EQ(seen_addr, (uint64_t)hh);

  struct veo_thr_ctxt *ctx = veo_context_open(p0);
  uint64_t ra = veo_alloc_mem_async(ctx, 256);
  uint64_t va = 0;
  CHECK_EQ(veo_call_wait_result(ctx, ra, &va), VEO_COMMAND_OK);
  CHECK(va != 0);
  CHECK_EQ(calls[4], 1);
  CHECK(seen_handle == ctx);
  CHECK_EQ(seen_addr, va);
  CHECK_EQ(seen_size, 256);
  uint64_t rf = veo_free_mem_async(ctx, va);
  CHECK_EQ(veo_call_wait_result(ctx, rf, &res), VEO_COMMAND_OK);
  CHECK_EQ(calls[5], 1);
  CHECK(seen_handle == ctx);
  CHECK_EQ(seen_addr, va);

  veo_unregister_hook((void *)veo_alloc_mem);
  CHECK(veo_get_hook((void *)veo_alloc_mem) == NULL);
  CHECK_EQ(veo_alloc_mem(p0, &ve, 64), 0);
  CHECK_EQ(calls[0], 1);
  CHECK_EQ(veo_free_mem(p0, ve), 0);
  CHECK_EQ(calls[1], 2);
  for (int i = 1; i < 6; i++) {
    void *keys[6] = {(void *)veo_alloc_mem, (void *)veo_free_mem, (void *)veo_alloc_hmem,
                     (void *)veo_free_hmem, (void *)veo_alloc_mem_async, (void *)veo_free_mem_async};
    veo_unregister_hook(keys[i]);
    CHECK(veo_get_hook(keys[i]) == NULL);
  }

  /* The HMEM hook functions get tagged addresses. */
  veo_register_hmem_hook_functions(hmem_alloc, hmem_free);
  CHECK_EQ(veo_alloc_mem(p0, &ve, 512), 0);
  CHECK_EQ(hmem_alloc_seen, (uint64_t)veo_set_proc_identifier((void *)ve, 0));
  CHECK_EQ(hmem_size_seen, 512);
  CHECK_EQ(veo_free_mem(p0, ve), 0);
  CHECK_EQ(hmem_free_seen, hmem_alloc_seen);
  ra = veo_alloc_mem_async(ctx, 1024);
  CHECK_EQ(veo_call_wait_result(ctx, ra, &va), VEO_COMMAND_OK);
  CHECK_EQ(hmem_alloc_seen, (uint64_t)veo_set_proc_identifier((void *)va, 0));
  CHECK_EQ(hmem_size_seen, 1024);
  veo_unregister_hmem_hook_functions();
  hmem_alloc_seen = 0;
  CHECK_EQ(veo_alloc_mem(p0, &ve, 512), 0);
  CHECK_EQ(hmem_alloc_seen, 0);
  CHECK(veo_get_hook((void *)veo_alloc_mem) == NULL);

  /* A request block keeps another thread's request out of the series. */
  uint64_t fn = veo_get_sym(p0, lib, "add_i64");
  veo_args_clear(args);
  veo_args_set_i64(args, 0, 1);
  veo_args_set_i64(args, 1, 1);
  uint64_t first = veo_call_async(ctx, fn, args);
  veo_req_block_begin(ctx);
  veo_req_block_begin(ctx); /* nests */
  uint64_t i1 = veo_call_async(ctx, fn, args);
  struct blocker bl = {ctx, fn, args, 0, 0};
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, submit_other, &bl), 0);
  while (!bl.started) usleep(1000);
  usleep(50000);
  uint64_t i2 = veo_call_async(ctx, fn, args);
  veo_req_block_end(ctx);
  uint64_t i3 = veo_call_async(ctx, fn, args);
  veo_req_block_end(ctx);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(i1, first + 1);
  CHECK_EQ(i2, first + 2);
  CHECK_EQ(i3, first + 3);
  CHECK_EQ(bl.id, first + 4);
  for (uint64_t r = first; r <= first + 4; r++) {
    CHECK_EQ(veo_call_wait_result(ctx, r, &res), VEO_COMMAND_OK);
    CHECK_EQ(res, 2);
  }

  veo_args_free(args);
  CHECK_EQ(veo_proc_destroy(p0), 0);
  printf("t_hmem_hooks ok\n");
  return 0;
}
