/* The real-VE-only families link and fail cleanly: their error value and
 * errno ENOTSUP (the harness checks one stderr line per family). */
#define _GNU_SOURCE
#include <ve_offload.h>
#include <veo_veshm.h>
#include <veo_vhveshm.h>
#include <veo_vedma.h>
#include <veo_time.h>
#include <errno.h>
#include "check.h"

#define ENOTSUP_AFTER(call, value)   \
  do {                               \
    errno = 0;                       \
    CHECK((call) == (value));        \
    CHECK_EQ(errno, ENOTSUP);        \
  } while (0)

int main(void)
{
  long t0 = get_time_us();
  struct veo_proc_handle *proc = veo_proc_create(0);
  CHECK(proc != NULL);
  void *h = NULL;
  CHECK_EQ(veo_alloc_hmem(proc, &h, 1 << 20), 0);
  for (int twice = 0; twice < 2; twice++) {
    ENOTSUP_AFTER(veo_shared_mem_open(h, 1 << 20, 0, VE_REGISTER_PCI), -1);
    ENOTSUP_AFTER(veo_shared_mem_close(h, 1 << 20, 0, VE_REGISTER_PCI), -1);
    ENOTSUP_AFTER(veo_shared_mem_attach(proc, 1, h, 1 << 20, 0, VE_REGISTER_VEHVA), (void *)-1);
    ENOTSUP_AFTER(veo_shared_mem_detach(proc, h, VE_REGISTER_VEHVA), -1);
    void *vehva = NULL;
    ENOTSUP_AFTER(veo_shmget(proc, 1234, 1 << 21, 0), -1);
    ENOTSUP_AFTER(veo_shmat(proc, 1, NULL, 0, &vehva), (void *)-1);
    ENOTSUP_AFTER(veo_shmdt(proc, NULL), -1);
    ve_dma_handle_t dh = {0, 0};
    ENOTSUP_AFTER(veo_dma_post(proc, 0, 0, 4, &dh), -1);
    ENOTSUP_AFTER(veo_dma_poll(proc, &dh), -1);
    ENOTSUP_AFTER(veo_dma_post_wait(proc, 0, 0, 4), -1);
    ENOTSUP_AFTER(veo_register_mem_to_dmaatb(h, 64 << 20), ~0UL);
    ENOTSUP_AFTER(veo_unregister_mem_from_dmaatb(proc, 0), -1);
    errno = 0;
    veo_access_pcircvsyc_register(proc);
    CHECK_EQ(errno, ENOTSUP);
  }
  /* The proc is unharmed. */
  uint64_t x = 7, y = 0;
  CHECK_EQ(veo_hmemcpy(h, &x, 8), 0);
  CHECK_EQ(veo_hmemcpy(&y, h, 8), 0);
  CHECK_EQ(y, 7);
  CHECK_EQ(veo_free_hmem(h), 0);
  CHECK_EQ(veo_proc_destroy(proc), 0);
  CHECK(timediff_us(t0) >= 0);
  busy_sleep_us(10);
  printf("t_realve ok\n");
  return 0;
}
