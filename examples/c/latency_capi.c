/* AVEO's four call tests from C through libveo.so, for `latency`: the same
 * loops as examples/src/bench/calls.rs, made with the C API.
 *
 *   latency_capi KERNELS MIN_CALLS WARM N...
 *   latency_capi KERNELS --count TEST N     (N calls of TEST and nothing else)
 *
 * One run over the rows N: a proc, its main context, a warm-up, then per N
 * each test timed over ceil(MIN_CALLS / N) rounds, after WARM untimed
 * calls. Prints one JSON line per test and N: {"test":T,"n":N,"us":X},
 * X the µs per call. Any failure: a message on stderr, exit status 1.
 *
 * With --count, as `latency_ab TEST --count N` for the Rust stubs: a proc,
 * its main context, N calls of the test, no warm-up and no output; run
 * under callgrind at two N, the difference is the cost of the calls
 * (docs/PERFORMANCE.md, "The C API"). */
#define _POSIX_C_SOURCE 199309L
#include <ve_offload.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct veo_proc_handle *proc;
static struct veo_thr_ctxt *ctx;
static struct veo_args *args;
static uint64_t noop;
static uint64_t *ids;

static void die(const char *what, long long a, long long b)
{
  fprintf(stderr, "latency_capi: %s (%lld, %lld)\n", what, a, b);
  exit(1);
}

static double seconds(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t submit(uint64_t x)
{
  veo_args_set_i64(args, 0, (int64_t)x);
  uint64_t id = veo_call_async(ctx, noop, args);
  if (id == VEO_REQUEST_ID_INVALID) die("veo_call_async failed", (long long)x, 0);
  return id;
}

static void wait_for(uint64_t id, uint64_t want)
{
  uint64_t res = 0;
  int rc = veo_call_wait_result(ctx, id, &res);
  if (rc != VEO_COMMAND_OK || res != want) die("noop returned", (long long)res, (long long)want);
}

/* Test 1: submit n calls, then wait for the n results. */
static void test1(uint64_t n)
{
  for (uint64_t i = 0; i < n; i++) ids[i] = submit(i);
  for (uint64_t i = 0; i < n; i++) wait_for(ids[i], i);
}

/* Test 2: submit one call and wait for it, n times. */
static void test2(uint64_t n)
{
  for (uint64_t i = 0; i < n; i++) wait_for(submit(i), i);
}

/* Test 3: submit n calls, wait only for the last; the others are never
 * collected, as in AVEO's own test. */
static void test3(uint64_t n)
{
  uint64_t last = 0;
  for (uint64_t i = 0; i < n; i++) last = submit(i);
  wait_for(last, n - 1);
}

/* Test 4: n synchronous calls. */
static void test4(uint64_t n)
{
  for (uint64_t i = 0; i < n; i++) {
    uint64_t res = 0;
    veo_args_set_i64(args, 0, (int64_t)i);
    int rc = veo_call_sync(proc, noop, args, &res);
    if (rc != 0 || res != i) die("veo_call_sync of noop returned", (long long)res, (long long)i);
  }
}

static double timed(void (*test)(uint64_t), uint64_t n, uint64_t rounds)
{
  double t = seconds();
  for (uint64_t r = 0; r < rounds; r++) test(n);
  return (seconds() - t) / (double)(n * rounds);
}

static void open_proc(const char *kernels)
{
  proc = veo_proc_create(0);
  if (proc == NULL) die("no proc", 0, 0);
  uint64_t lib = veo_load_library(proc, kernels);
  noop = lib ? veo_get_sym(proc, lib, "noop") : 0;
  ctx = veo_context_open(proc);
  args = veo_args_alloc();
  if (noop == 0 || ctx == NULL || args == NULL) die("no kernel, context or arguments", 0, 0);
}

static void close_proc(void)
{
  veo_args_free(args);
  veo_context_close(ctx);
  veo_proc_destroy(proc);
  free(ids);
}

int main(int argc, char **argv)
{
  void (*tests[4])(uint64_t) = { test1, test2, test3, test4 };
  if (argc == 5 && strcmp(argv[2], "--count") == 0) {
    long t = strtol(argv[3], NULL, 10);
    uint64_t n = strtoull(argv[4], NULL, 10);
    if (t < 1 || t > 4 || n == 0) die("--count TEST N: TEST 1 to 4, N at least 1", t, (long long)n);
    ids = malloc(n * sizeof *ids);
    if (ids == NULL) die("no memory for the ids", (long long)n, 0);
    open_proc(argv[1]);
    tests[t - 1](n);
    close_proc();
    return 0;
  }
  if (argc < 5) {
    fprintf(stderr, "usage: latency_capi KERNELS MIN_CALLS WARM N... | latency_capi KERNELS --count TEST N\n");
    return 2;
  }
  uint64_t min_calls = strtoull(argv[2], NULL, 10);
  uint64_t warm = strtoull(argv[3], NULL, 10);
  uint64_t max_n = 20000;
  for (int a = 4; a < argc; a++) {
    uint64_t n = strtoull(argv[a], NULL, 10);
    if (n == 0) die("N must be at least 1", a, 0);
    if (n > max_n) max_n = n;
  }
  ids = malloc(max_n * sizeof *ids);
  if (ids == NULL) die("no memory for the ids", (long long)max_n, 0);
  open_proc(argv[1]);

  /* Warm up as latency does. */
  test2(20000);
  test1(20000);
  test4(20000);

  for (int a = 4; a < argc; a++) {
    uint64_t n = strtoull(argv[a], NULL, 10);
    uint64_t rounds = (min_calls + n - 1) / n;
    if (rounds == 0) rounds = 1;
    for (int t = 0; t < 4; t++) {
      if (t == 3) test4(warm); else test2(warm);
      double s = timed(tests[t], n, rounds);
      printf("{\"test\":%d,\"n\":%llu,\"us\":%.6f}\n", t + 1, (unsigned long long)n, s * 1e6);
    }
  }
  close_proc();
  return 0;
}
