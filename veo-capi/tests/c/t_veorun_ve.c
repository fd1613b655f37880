/* VEORUN_BIN naming a VE program (AVEO's aveorun): veo_proc_create
 * returns NULL at once, on every node asked, instead of starting something
 * that never answers. The harness checks the one line on stderr per call. */
#include <ve_offload.h>
#include "check.h"

int main(void)
{
  CHECK(veo_proc_create(0) == NULL);
  CHECK(veo_proc_create(-1) == NULL);
  printf("t_veorun_ve ok\n");
  return 0;
}
