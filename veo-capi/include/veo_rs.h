/*
 * veo_rs.h: what only veo-rs's libveo.so has, beside AVEO's API. See
 * docs/C-API.md.
 *
 * veo_rs_emulated_ve() says that the VE behind this library is veo-rs's
 * emulated VE: kernels are host code. On the host a float or double
 * result is in another register than an integer one, which
 * veo_call_async learns only from the kernel's debug information; the
 * _ret calls take the result's class. Either way the result reads as on a
 * VE: a float in the upper 32 bits of the 64-bit result.
 */
#ifndef VEO_RS_H_INCLUDED
#define VEO_RS_H_INCLUDED

#include "ve_offload.h"

#define VEO_RS_RET_U64 0
#define VEO_RS_RET_FLOAT 1
#define VEO_RS_RET_DOUBLE 2

#ifdef __cplusplus
extern "C" {
#endif

int veo_rs_emulated_ve(void);
uint64_t veo_rs_call_async_ret(struct veo_thr_ctxt *ctx, uint64_t addr, struct veo_args *args, int ret);
int veo_rs_call_sync_ret(struct veo_proc_handle *h, uint64_t addr, struct veo_args *args, int ret, uint64_t *result);

#ifdef __cplusplus
}
#endif

#endif
