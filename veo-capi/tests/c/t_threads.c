/* Threads: several on one context, one per context, and alloc / write /
 * read / free from four threads at once. */
#define _GNU_SOURCE
#include <ve_offload.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include "check.h"

#define THREADS 4
#define CALLS 200

static struct veo_proc_handle *proc;
static uint64_t lib, mix_fn;

static uint64_t mix(uint64_t x)
{
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

struct job {
  struct veo_thr_ctxt *ctx;
  int index;
  int failures;
};

/* Calls on a shared or own context; each thread collects its own ids. */
static void *calls(void *arg)
{
  struct job *j = arg;
  struct veo_args *args = veo_args_alloc();
  uint64_t ids[CALLS];
  for (int i = 0; i < CALLS; i++) {
    uint64_t x = (uint64_t)j->index * 100000 + i;
    veo_args_set_u64(args, 0, x);
    ids[i] = veo_call_async(j->ctx, mix_fn, args);
    if (ids[i] == VEO_REQUEST_ID_INVALID) j->failures++;
    if (i % 3 == 2) {
      /* Collect some at once, the rest later. */
      uint64_t r = 0;
      if (veo_call_wait_result(j->ctx, ids[i], &r) != VEO_COMMAND_OK || r != mix(x)) j->failures++;
      ids[i] = VEO_REQUEST_ID_INVALID;
    }
  }
  for (int i = 0; i < CALLS; i++) {
    if (ids[i] == VEO_REQUEST_ID_INVALID) continue;
    uint64_t r = 0, x = (uint64_t)j->index * 100000 + i;
    int rc;
    while ((rc = veo_call_peek_result(j->ctx, ids[i], &r)) == VEO_COMMAND_UNFINISHED)
      sched_yield();
    if (rc != VEO_COMMAND_OK || r != mix(x)) j->failures++;
  }
  veo_args_free(args);
  return NULL;
}

static void *memory(void *arg)
{
  struct job *j = arg;
  for (int round = 0; round < 20; round++) {
    size_t n = 1000 + 100 * j->index + round;
    int64_t *host = malloc(n * 8), *back = malloc(n * 8);
    for (size_t i = 0; i < n; i++) host[i] = (int64_t)(j->index * 1000000 + round * 1000 + i);
    uint64_t ve = 0;
    if (veo_alloc_mem(proc, &ve, n * 8) != 0 || ve == 0) j->failures++;
    if (veo_write_mem(proc, ve, host, n * 8) != 0) j->failures++;
    if (veo_read_mem(proc, back, ve, n * 8) != 0) j->failures++;
    if (memcmp(host, back, n * 8) != 0) j->failures++;
    if (veo_free_mem(proc, ve) != 0) j->failures++;
    free(host);
    free(back);
  }
  return NULL;
}

static void run(void *(*f)(void *), struct job *jobs)
{
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) CHECK_EQ(pthread_create(&th[i], NULL, f, &jobs[i]), 0);
  for (int i = 0; i < THREADS; i++) CHECK_EQ(pthread_join(th[i], NULL), 0);
  for (int i = 0; i < THREADS; i++) CHECK_EQ(jobs[i].failures, 0);
}

int main(int argc, char **argv)
{
  CHECK(argc == 2);
  setenv("VE_OMP_NUM_THREADS", "1", 1);
  proc = veo_proc_create(0);
  CHECK(proc != NULL);
  lib = veo_load_library(proc, argv[1]);
  mix_fn = veo_get_sym(proc, lib, "mix");
  CHECK(mix_fn != 0);

  /* Several threads on the main context. */
  struct veo_thr_ctxt *main_ctx = veo_context_open(proc);
  struct job jobs[THREADS];
  for (int i = 0; i < THREADS; i++) jobs[i] = (struct job){main_ctx, i, 0};
  run(calls, jobs);

  /* A thread per context. */
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (struct job){veo_context_open(proc), i, 0};
    CHECK(jobs[i].ctx != NULL);
  }
  CHECK_EQ(veo_num_contexts(proc), 1 + THREADS);
  run(calls, jobs);
  for (int i = 0; i < THREADS; i++) CHECK_EQ(veo_context_close(jobs[i].ctx), 0);
  CHECK_EQ(veo_num_contexts(proc), 1);

  /* Alloc / write / read / free from four threads. */
  for (int i = 0; i < THREADS; i++) jobs[i] = (struct job){NULL, i, 0};
  run(memory, jobs);

  CHECK_EQ(veo_proc_destroy(proc), 0);
  printf("t_threads ok\n");
  return 0;
}
