/* veo_args_set_stack with each of AVEO's intents, byte for byte: IN bytes
 * reach the kernel and never come back, INOUT bytes go both ways, OUT bytes
 * come back; odd lengths, guard bytes around each buffer untouched, the
 * three in one call and each alone in the others' argument positions. */
#define _GNU_SOURCE
#include <ve_offload.h>
#include <string.h>
#include "check.h"

enum { N_IN = 13, N_IO = 37, N_OUT = 101, GUARD = 8 };

struct bufs {
  unsigned char in[GUARD + N_IN + GUARD];
  unsigned char io[GUARD + N_IO + GUARD];
  unsigned char out[GUARD + N_OUT + GUARD];
};

static void fill(struct bufs *b)
{
  memset(b, 0xAA, sizeof *b);
  for (int i = 0; i < N_IN; i++) b->in[GUARD + i] = (unsigned char)(i * 11 + 1);
  for (int i = 0; i < N_IO; i++) b->io[GUARD + i] = (unsigned char)(i * 13 + 2);
  for (int i = 0; i < N_OUT; i++) b->out[GUARD + i] = 0x5C;
}

static int64_t expected_hash(void)
{
  int64_t h = 17;
  for (int i = 0; i < N_IN; i++) h = h * 31 + (unsigned char)(i * 11 + 1);
  for (int i = 0; i < N_IO; i++) h = h * 37 + (unsigned char)(i * 13 + 2);
  return h;
}

static void guards_untouched(const unsigned char *buf, int n)
{
  for (int i = 0; i < GUARD; i++) {
    CHECK_EQ(buf[i], 0xAA);
    CHECK_EQ(buf[GUARD + n + i], 0xAA);
  }
}

static void check_after(const struct bufs *b)
{
  for (int i = 0; i < N_IN; i++) CHECK_EQ(b->in[GUARD + i], (unsigned char)(i * 11 + 1));
  for (int i = 0; i < N_IO; i++)
    CHECK_EQ(b->io[GUARD + i], (unsigned char)(3 * (unsigned char)(i * 13 + 2) + 1));
  for (int i = 0; i < N_OUT; i++) CHECK_EQ(b->out[GUARD + i], (unsigned char)(7 * i + 5));
  guards_untouched(b->in, N_IN);
  guards_untouched(b->io, N_IO);
  guards_untouched(b->out, N_OUT);
}

int main(int argc, char **argv)
{
  CHECK(argc == 2);
  struct veo_proc_handle *proc = veo_proc_create(0);
  CHECK(proc != NULL);
  uint64_t lib = veo_load_library(proc, argv[1]);
  CHECK(lib != 0);
  uint64_t fn = veo_get_sym(proc, lib, "intents_three");
  CHECK(fn != 0);
  struct veo_thr_ctxt *ctx = veo_context_open(proc);
  CHECK(ctx != NULL);

  struct bufs b;
  struct veo_args *a = veo_args_alloc();

  /* Set in argument order, through veo_call_sync. */
  fill(&b);
  CHECK_EQ(veo_args_set_stack(a, VEO_INTENT_IN, 0, (char *)b.in + GUARD, N_IN), 0);
  CHECK_EQ(veo_args_set_i32(a, 1, N_IN), 0);
  CHECK_EQ(veo_args_set_stack(a, VEO_INTENT_INOUT, 2, (char *)b.io + GUARD, N_IO), 0);
  CHECK_EQ(veo_args_set_i32(a, 3, N_IO), 0);
  CHECK_EQ(veo_args_set_stack(a, VEO_INTENT_OUT, 4, (char *)b.out + GUARD, N_OUT), 0);
  CHECK_EQ(veo_args_set_i32(a, 5, N_OUT), 0);
  uint64_t res = 0;
  CHECK_EQ(veo_call_sync(proc, fn, a, &res), 0);
  CHECK_EQ(res, expected_hash());
  check_after(&b);

  /* Set in reverse order, through a context, the list freed right after
   * the submit: the bytes still land at the wait. */
  fill(&b);
  struct veo_args *r = veo_args_alloc();
  CHECK_EQ(veo_args_set_i32(r, 5, N_OUT), 0);
  CHECK_EQ(veo_args_set_stack(r, VEO_INTENT_OUT, 4, (char *)b.out + GUARD, N_OUT), 0);
  CHECK_EQ(veo_args_set_i32(r, 3, N_IO), 0);
  CHECK_EQ(veo_args_set_stack(r, VEO_INTENT_INOUT, 2, (char *)b.io + GUARD, N_IO), 0);
  CHECK_EQ(veo_args_set_i32(r, 1, N_IN), 0);
  CHECK_EQ(veo_args_set_stack(r, VEO_INTENT_IN, 0, (char *)b.in + GUARD, N_IN), 0);
  uint64_t id = veo_call_async(ctx, fn, r);
  CHECK(id != VEO_REQUEST_ID_INVALID);
  veo_args_free(r);
  CHECK_EQ(veo_call_wait_result(ctx, id, &res), VEO_COMMAND_OK);
  CHECK_EQ(res, expected_hash());
  check_after(&b);

  /* Reusing a list: a position set again with another intent takes the
   * new one. Position 0 as INOUT: the kernel's ~in bytes come back;
   * positions 2 and 4 as IN: nothing does. */
  fill(&b);
  veo_args_clear(a);
  CHECK_EQ(veo_args_set_stack(a, VEO_INTENT_IN, 0, (char *)b.in + GUARD, N_IN), 0);
  CHECK_EQ(veo_args_set_stack(a, VEO_INTENT_INOUT, 0, (char *)b.in + GUARD, N_IN), 0);
  CHECK_EQ(veo_args_set_i32(a, 1, N_IN), 0);
  CHECK_EQ(veo_args_set_stack(a, VEO_INTENT_IN, 2, (char *)b.io + GUARD, N_IO), 0);
  CHECK_EQ(veo_args_set_i32(a, 3, N_IO), 0);
  CHECK_EQ(veo_args_set_stack(a, VEO_INTENT_IN, 4, (char *)b.out + GUARD, N_OUT), 0);
  CHECK_EQ(veo_args_set_i32(a, 5, N_OUT), 0);
  CHECK_EQ(veo_call_sync(proc, fn, a, &res), 0);
  CHECK_EQ(res, expected_hash());
  /* INOUT at 0: the complement came back; IN at 2 and 4: nothing did. */
  for (int i = 0; i < N_IN; i++)
    CHECK_EQ(b.in[GUARD + i], (unsigned char)~(unsigned char)(i * 11 + 1));
  for (int i = 0; i < N_IO; i++) CHECK_EQ(b.io[GUARD + i], (unsigned char)(i * 13 + 2));
  for (int i = 0; i < N_OUT; i++) CHECK_EQ(b.out[GUARD + i], 0x5C);
  guards_untouched(b.in, N_IN);
  guards_untouched(b.io, N_IO);
  guards_untouched(b.out, N_OUT);

  veo_args_free(a);
  CHECK_EQ(veo_proc_destroy(proc), 0);
  printf("t_intents ok\n");
  return 0;
}
