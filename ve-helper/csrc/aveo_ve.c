/*
 * The VE side of AVEO for kernels on the emulated VE: the functions that
 * aveorun's libaveoVE and the VE's libveohmem give kernels on a real VE
 * (declared in veo-capi/include/ve/veo_ve.h and veo_hmem.h).
 *
 * ve-helper's build script compiles this file into two small shared
 * libraries, as on a VE: libaveoVE.so (-DVEO_RS_AVEOVE: veo_prev_req_result)
 * and libveohmem.so (-DVEO_RS_VEOHMEM: the HMEM address functions), the
 * sonames a kernel linked with -laveoVE or -lveohmem names. The helper
 * loads both with
 * RTLD_GLOBAL before any kernel library: a kernel then resolves these
 * symbols whatever the program hosting the helper exports. The helper
 * installs the table below, through which veo_prev_req_result reaches the
 * results its context workers keep.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef VEO_RS_AVEOVE

/* What the helper provides; must match `VeSideTable` in ve-helper/src/ve_side.rs. */
struct veo_rs_ve_table {
    /* sizeof(struct veo_rs_ve_table) as the helper knows it. */
    uint64_t size;
    /* The result of the request answered `offs` replies ago on the calling
     * thread's context: 0 and *result set, or -1. */
    int (*prev_req_result)(int offs, uint64_t *result);
};

static const struct veo_rs_ve_table *veo_rs_table;

/* Called once by the helper, before any kernel library is loaded. */
__attribute__((visibility("default"))) void veo_rs_ve_install(const struct veo_rs_ve_table *t)
{
    __atomic_store_n(&veo_rs_table, t, __ATOMIC_RELEASE);
}

__attribute__((visibility("default"))) int veo_prev_req_result(int offs, uint64_t *result)
{
    const struct veo_rs_ve_table *t = __atomic_load_n(&veo_rs_table, __ATOMIC_ACQUIRE);
    if (t == NULL || result == NULL || offs < 0 ||
        t->size < offsetof(struct veo_rs_ve_table, prev_req_result) + sizeof t->prev_req_result)
        return -1;
    return t->prev_req_result(offs, result);
}

#endif /* VEO_RS_AVEOVE */

#ifdef VEO_RS_VEOHMEM
/* The HMEM tag: bit 63 marks a VE address, bits 62:59 the proc identifier. */
#define VEO_RS_VEADDR_MBITS 0x8000000000000000ULL
#define VEO_RS_PIDENT_MBITS 0x7800000000000000ULL
#define VEO_RS_IDENT_OFFSET_BITS 59
#define VEO_RS_MAX_HMEM_PROCS 16

__attribute__((visibility("default"))) int veo_is_ve_addr(const void *addr)
{
    return ((uint64_t)(uintptr_t)addr & VEO_RS_VEADDR_MBITS) != 0;
}

__attribute__((visibility("default"))) void *veo_get_hmem_addr(void *addr)
{
    uint64_t a = (uint64_t)(uintptr_t)addr;
    if (!(a & VEO_RS_VEADDR_MBITS))
        return addr;
    return (void *)(uintptr_t)(a & ~(VEO_RS_VEADDR_MBITS | VEO_RS_PIDENT_MBITS));
}

__attribute__((visibility("default"))) int veo_get_proc_identifier_from_hmem(const void *addr)
{
    uint64_t a = (uint64_t)(uintptr_t)addr;
    if (!(a & VEO_RS_VEADDR_MBITS))
        return -1;
    return (int)((a & VEO_RS_PIDENT_MBITS) >> VEO_RS_IDENT_OFFSET_BITS);
}

__attribute__((visibility("default"))) int veo_get_max_proc_identifier(void)
{
    return VEO_RS_MAX_HMEM_PROCS;
}
#endif /* VEO_RS_VEOHMEM */
