/*
 * veo_veshm.h: VE shared memory (VESHM) between procs. Real-VE only: on the
 * emulated VE every function fails with errno ENOTSUP.
 */
#ifndef VEO_VESHM_H_INCLUDED
#define VEO_VESHM_H_INCLUDED

#include <sys/types.h>
#include "veo_veshm_defs.h"

#ifdef __cplusplus
extern "C" {
#endif

struct veo_proc_handle;

/* 0 or -1 with errno. */
int veo_shared_mem_open(void *addr, size_t size, int syncnum, long long mode_flag);
/* 0 or -1 with errno. */
int veo_shared_mem_close(void *addr, size_t size, int syncnum, long long mode_flag);
/* The attached address, or (void *)-1 with errno. */
void *veo_shared_mem_attach(struct veo_proc_handle *proc, pid_t pid, void *addr,
                            size_t size, int syncnum, long long mode_flag);
/* 0 or -1 with errno. */
int veo_shared_mem_detach(struct veo_proc_handle *proc, void *addr, long long mode_flag);

#ifdef __cplusplus
}
#endif

#endif /* VEO_VESHM_H_INCLUDED */
