/*
 * veo_hmem.h: heterogeneous memory (HMEM) addresses of veo-rs's libveo.
 *
 * A VE address tagged with bit 63 and its proc's identifier (bits 62..59)
 * names VE memory of one proc in the same 64-bit space as host pointers.
 * Included by ve_offload.h.
 */
#ifndef VEO_HMEM_H_INCLUDED
#define VEO_HMEM_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if addr carries the VE tag (bit 63), else 0. */
int veo_is_ve_addr(const void *addr);
/* addr without its tag bits if it is a VE address, else addr itself. */
void *veo_get_hmem_addr(void *addr);
/* How many proc identifiers fit a tag (16). */
int veo_get_max_proc_identifier(void);
/* The proc identifier in a tagged address, -1 for other addresses. */
int veo_get_proc_identifier_from_hmem(const void *addr);

#ifdef __cplusplus
}
#endif

#endif /* VEO_HMEM_H_INCLUDED */
