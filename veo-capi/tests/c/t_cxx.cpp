// The headers from C++, and the proc variants: VE_NODE_NUMBER for -1,
// _VENODELIST, veo_proc_create_static with the helper program.
#include <ve_offload.h>
#include <veo_hmem.h>
#include <veo_time.h>
#include <veo_veshm.h>
#include <veo_vhveshm.h>
#include <veo_vedma.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>
#include "check.h"

namespace {

struct ProcDeleter {
  void operator()(veo_proc_handle *p) const { CHECK_EQ(veo_proc_destroy(p), 0); }
};
using ProcPtr = std::unique_ptr<veo_proc_handle, ProcDeleter>;

int node_of(veo_proc_handle *p)
{
  void *h = nullptr;
  CHECK_EQ(veo_alloc_hmem(p, &h, 8), 0);
  int node = veo_get_venum_from_hmem(h);
  CHECK_EQ(veo_free_hmem(h), 0);
  return node;
}

}  // namespace

int main(int argc, char **argv)
{
  CHECK(argc == 2);
  setenv("VE_NODE_NUMBER", "3", 1);
  {
    ProcPtr p(veo_proc_create(-1));
    CHECK(p != nullptr);
    CHECK_EQ(node_of(p.get()), 3);
  }
  setenv("_VENODELIST", "5 6", 1);
  {
    ProcPtr p(veo_proc_create(1));
    CHECK(p != nullptr);
    CHECK_EQ(node_of(p.get()), 6);
    CHECK(veo_proc_create(2) == nullptr);
  }
  unsetenv("_VENODELIST");
  unsetenv("VE_NODE_NUMBER");

  // A "static" proc: the program named is the helper (this one again).
  std::vector<char> self(argv[0], argv[0] + std::strlen(argv[0]) + 1);
  ProcPtr p(veo_proc_create_static(0, self.data()));
  CHECK(p != nullptr);
  char missing[] = "/no/such/aveorun";
  CHECK(veo_proc_create_static(0, missing) == nullptr);

  uint64_t lib = veo_load_library(p.get(), argv[1]);
  CHECK(lib != 0);
  veo_thr_ctxt *ctx = veo_context_open(p.get());
  veo_args *args = veo_args_alloc();
  std::vector<uint64_t> ids;
  for (int64_t i = 0; i < 10; i++) {
    veo_args_set_i64(args, 0, i);
    veo_args_set_i64(args, 1, i * i);
    ids.push_back(veo_call_async_by_name(ctx, lib, "add_i64", args));
  }
  for (int64_t i = 0; i < 10; i++) {
    uint64_t r = 0;
    CHECK_EQ(ids[i], i);
    CHECK_EQ(veo_call_wait_result(ctx, ids[i], &r), VEO_COMMAND_OK);
    CHECK_EQ(r, i + i * i);
  }
  veo_args_free(args);
  std::printf("t_cxx ok\n");
  return 0;
}
