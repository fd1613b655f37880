/* Kernels returning float and double through the C API: the result reads
 * as on a VE (a double's bits, a float's bits in the upper half) when the
 * kernel library has debug information; integer kernels are unaffected
 * either way. The libraries come in the environment:
 *   T_FLOAT_G    capi_float.c built with -g -O2
 *   T_FLOAT_NOG  the same without -g
 *   T_FLOAT_CXX  capi_float_cxx.cpp with -g -O2
 *   T_FLOAT_F    capi_float_f.f90 with -g -O2, or empty without gfortran */
#include <ve_offload.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

static struct veo_proc_handle *proc;
static struct veo_thr_ctxt *ctx;

static double as_double(uint64_t r)
{
  double d;
  memcpy(&d, &r, sizeof d);
  return d;
}

/* A VE keeps a float in the upper 32 bits of the register. */
static float as_float(uint64_t r)
{
  CHECK_EQ(r & 0xffffffffu, 0);
  uint32_t hi = (uint32_t)(r >> 32);
  float f;
  memcpy(&f, &hi, sizeof f);
  return f;
}

static uint64_t call_async(uint64_t f, struct veo_args *a)
{
  uint64_t id = veo_call_async(ctx, f, a);
  CHECK(id != VEO_REQUEST_ID_INVALID);
  uint64_t r = 0;
  CHECK_EQ(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
  return r;
}

static uint64_t call_sync(uint64_t f, struct veo_args *a)
{
  uint64_t r = 0;
  CHECK_EQ(veo_call_sync(proc, f, a, &r), 0);
  return r;
}

static uint64_t sym(uint64_t lib, const char *name)
{
  uint64_t f = veo_get_sym(proc, lib, name);
  CHECK(f != 0);
  return f;
}

/* The integer kernels, right with or without debug information. */
static void integer_sums(uint64_t lib)
{
  int32_t v[100];
  int64_t want = 0;
  for (int i = 0; i < 100; i++) { v[i] = i * 3 - 7; want += v[i]; }
  uint64_t buf = 0;
  CHECK_EQ(veo_alloc_mem(proc, &buf, sizeof v), 0);
  CHECK_EQ(veo_write_mem(proc, buf, v, sizeof v), 0);
  struct veo_args *a = veo_args_alloc();
  veo_args_set_u64(a, 0, buf);
  veo_args_set_i64(a, 1, 100);
  CHECK_EQ((int64_t)call_async(sym(lib, "i64_sum"), a), want);
  CHECK_EQ((int64_t)call_sync(sym(lib, "i64_sum"), a), want);
  veo_args_free(a);
  CHECK_EQ(veo_free_mem(proc, buf), 0);
}

static void with_debug_info(const char *path)
{
  uint64_t lib = veo_load_library(proc, path);
  CHECK(lib != 0);
  struct veo_args *a = veo_args_alloc();

  veo_args_set_double(a, 0, 1.5);
  veo_args_set_i32(a, 1, 4);
  CHECK(as_double(call_async(sym(lib, "f64_scale"), a)) == 6.0);
  CHECK(as_double(call_sync(sym(lib, "f64_scale"), a)) == 6.0);
  veo_args_clear(a);

  veo_args_set_float(a, 0, 3.0f);
  CHECK(as_float(call_async(sym(lib, "f32_half"), a)) == 1.5f);
  CHECK(as_float(call_sync(sym(lib, "f32_half"), a)) == 1.5f);
  veo_args_clear(a);

  CHECK(as_double(call_async(sym(lib, "f64_const"), a)) == 42.25);

  /* By name: the symbol is looked up, and its type with it. */
  veo_args_set_double(a, 0, -2.0);
  veo_args_set_i32(a, 1, 3);
  uint64_t id = veo_call_async_by_name(ctx, lib, "f64_scale", a);
  CHECK(id != VEO_REQUEST_ID_INVALID);
  uint64_t r = 0;
  CHECK_EQ(veo_call_wait_result(ctx, id, &r), VEO_COMMAND_OK);
  CHECK(as_double(r) == -6.0);
  veo_args_clear(a);

  /* Arrays in VE memory, summed with vector instructions. */
  double d[64];
  float f[64];
  double dsum = 0;
  for (int i = 0; i < 64; i++) { d[i] = i * 0.25; dsum += d[i]; f[i] = (float)i; }
  uint64_t dv = 0, fv = 0;
  CHECK_EQ(veo_alloc_mem(proc, &dv, sizeof d), 0);
  CHECK_EQ(veo_alloc_mem(proc, &fv, sizeof f), 0);
  CHECK_EQ(veo_write_mem(proc, dv, d, sizeof d), 0);
  CHECK_EQ(veo_write_mem(proc, fv, f, sizeof f), 0);
  veo_args_set_u64(a, 0, dv);
  veo_args_set_i64(a, 1, 64);
  CHECK(as_double(call_async(sym(lib, "f64_sum"), a)) == dsum);
  veo_args_set_u64(a, 0, fv);
  CHECK(as_float(call_async(sym(lib, "f32_mean"), a)) == 31.5f);
  CHECK_EQ(veo_free_mem(proc, dv), 0);
  CHECK_EQ(veo_free_mem(proc, fv), 0);
  veo_args_free(a);

  integer_sums(lib);

  /* Unloaded, its functions are forgotten; loaded again, learnt again. */
  CHECK_EQ(veo_unload_library(proc, lib), 0);
  lib = veo_load_library(proc, path);
  CHECK(lib != 0);
  a = veo_args_alloc();
  veo_args_set_double(a, 0, 0.5);
  veo_args_set_i32(a, 1, 5);
  CHECK(as_double(call_async(sym(lib, "f64_scale"), a)) == 2.5);
  veo_args_free(a);
  CHECK_EQ(veo_unload_library(proc, lib), 0);
}

static void cxx(const char *path)
{
  uint64_t lib = veo_load_library(proc, path);
  CHECK(lib != 0);
  struct veo_args *a = veo_args_alloc();
  veo_args_set_double(a, 0, 1.25);
  CHECK(as_double(call_async(sym(lib, "_ZN4kern5twiceEd"), a)) == 2.5);
  veo_args_set_double(a, 1, 2.0);
  CHECK(as_double(call_sync(sym(lib, "cxx_hypot2"), a)) == 1.5625 + 4.0);
  veo_args_free(a);
}

static void fortran(const char *path)
{
  uint64_t lib = veo_load_library(proc, path);
  CHECK(lib != 0);
  double x[3] = { 1, 2, 3 }, y[3] = { 4, 5, 6 };
  uint64_t xv = 0, yv = 0;
  CHECK_EQ(veo_alloc_mem(proc, &xv, sizeof x), 0);
  CHECK_EQ(veo_alloc_mem(proc, &yv, sizeof y), 0);
  CHECK_EQ(veo_write_mem(proc, xv, x, sizeof x), 0);
  CHECK_EQ(veo_write_mem(proc, yv, y, sizeof y), 0);
  struct veo_args *a = veo_args_alloc();
  veo_args_set_u64(a, 0, xv);
  veo_args_set_u64(a, 1, yv);
  veo_args_set_i64(a, 2, 3);
  CHECK(as_double(call_async(sym(lib, "fdot_"), a)) == 32.0);
  veo_args_free(a);
}

int main(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  const char *g = getenv("T_FLOAT_G"), *nog = getenv("T_FLOAT_NOG");
  const char *cx = getenv("T_FLOAT_CXX"), *f = getenv("T_FLOAT_F");
  CHECK(g && nog && cx && f);
  proc = veo_proc_create(0);
  CHECK(proc != NULL);
  ctx = veo_context_open(proc);
  CHECK(ctx != NULL);

  with_debug_info(g);
  cxx(cx);
  if (*f) fortran(f);

  /* Without debug information the C API cannot know a result is a
   * float: integer kernels still give exact results. */
  uint64_t lib = veo_load_library(proc, nog);
  CHECK(lib != 0);
  integer_sums(lib);
  /* A data symbol is not a function whose type is missing. */
  double t[2] = { 0, 0 };
  CHECK_EQ(veo_read_mem(proc, t, sym(lib, "f64_table"), sizeof t), 0);
  CHECK(t[0] == 0.5 && t[1] == 1.5);

  CHECK_EQ(veo_context_close(ctx), 0);
  CHECK_EQ(veo_proc_destroy(proc), 0);
  printf("t_float ok\n");
  return 0;
}
