/*
 * veo_ve.h: AVEO's VE-side API for kernels, on veo-rs's emulated VE.
 *
 * Kernels for the emulated VE are built by the host's gcc, so unlike
 * AVEO's header this one does not require __ve__. The function is provided
 * by the helper (ve-helper/csrc/aveo_ve.c, loaded before any kernel
 * library); linking with -laveoVE is optional.
 */
#ifndef VEO_RS_VE_VEO_VE_H
#define VEO_RS_VE_VEO_VE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Reads the result of the request answered `offs` replies ago on the
 * context running the calling kernel (0: the request answered just before
 * this call). Returns 0 and sets *result, or -1 when there is no such
 * result: none yet, older than the 16 kept, a request that failed, or a
 * call from a thread other than the context's own (an OpenMP worker).
 */
int veo_prev_req_result(int offs, uint64_t *result);

#ifdef __cplusplus
}
#endif

#endif /* VEO_RS_VE_VEO_VE_H */
