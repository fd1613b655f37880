/*
 * veo_hmem.h (VE side): heterogeneous memory addresses as kernels see them,
 * on veo-rs's emulated VE.
 *
 * A VH program may pass a kernel an HMEM address: a VE address with bit 63
 * set and the owning proc's identifier in bits 62:59. These functions test
 * and strip that tag. They are provided by the helper
 * (ve-helper/csrc/aveo_ve.c, loaded before any kernel library); linking
 * with -lveohmem is optional.
 *
 * Its include guard is the VH-side veo_hmem.h's (veo-capi/include/): a file
 * that includes both gets the declarations once.
 */
#ifndef VEO_HMEM_H_INCLUDED
#define VEO_HMEM_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if bit 63 of addr is set (an HMEM VE address), else 0. */
int veo_is_ve_addr(const void *addr);

/* The address without its tag (bits 63:59) if it is a VE address, else
 * addr unchanged. */
void *veo_get_hmem_addr(void *addr);

/* The proc identifier in bits 62:59 of a VE address, or -1 if addr is not
 * one. */
int veo_get_proc_identifier_from_hmem(const void *addr);

/* The number of proc identifiers: 16. */
int veo_get_max_proc_identifier(void);

#ifdef __cplusplus
}
#endif

#endif /* VEO_HMEM_H_INCLUDED */
