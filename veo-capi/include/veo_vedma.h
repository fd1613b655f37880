/*
 * veo_vedma.h: VE user DMA driven from the host. Real-VE only: on the
 * emulated VE every function fails with errno ENOTSUP.
 */
#ifndef VEO_VEDMA_H_INCLUDED
#define VEO_VEDMA_H_INCLUDED

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct veo_proc_handle;

typedef struct ve_dma_handle {
  int status;
  int index;
} ve_dma_handle_t;

/* 0 once posted, negative on failure. */
int veo_dma_post(struct veo_proc_handle *proc, uint64_t dst, uint64_t src,
                 int size, ve_dma_handle_t *handle);
/* 0 done, 1..65535 failed, -EAGAIN still running, negative on failure. */
int veo_dma_poll(struct veo_proc_handle *proc, ve_dma_handle_t *handle);
/* 0 done, otherwise failed. */
int veo_dma_post_wait(struct veo_proc_handle *proc, uint64_t dst, uint64_t src, int size);
/* The VEHVA of the registered memory, or ~0UL on failure. */
uint64_t veo_register_mem_to_dmaatb(void *addr, size_t size);
/* 0 or -1 on failure. */
int veo_unregister_mem_from_dmaatb(struct veo_proc_handle *proc, uint64_t vehva);
/* Makes every context read PCIRCVSYC (synchronises DMA'd data). */
void veo_access_pcircvsyc_register(struct veo_proc_handle *proc);

#ifdef __cplusplus
}
#endif

#endif /* VEO_VEDMA_H_INCLUDED */
