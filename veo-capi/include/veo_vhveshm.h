/*
 * veo_vhveshm.h: host System V shared memory mapped for VE DMA. Real-VE
 * only: on the emulated VE every function fails with errno ENOTSUP.
 */
#ifndef VEO_VHVESHM_H_INCLUDED
#define VEO_VHVESHM_H_INCLUDED

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct veo_proc_handle;

/* A shared memory id, or -1 with errno. */
int veo_shmget(struct veo_proc_handle *proc, key_t key, size_t size, int shmflag);
/* The attached address (its VEHVA in *vehva), or (void *)-1 with errno. */
void *veo_shmat(struct veo_proc_handle *proc, int shmid, const void *shmaddr,
                int shmflag, void **vehva);
/* 0 or -1 with errno. */
int veo_shmdt(struct veo_proc_handle *proc, const void *shmaddr);

#ifdef __cplusplus
}
#endif

#endif /* VEO_VHVESHM_H_INCLUDED */
