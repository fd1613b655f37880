/*
 * ve_offload.h: AVEO's VH-side API (API version 16), as provided by
 * veo-rs's libveo.so on the emulated VE. See docs/C-API.md.
 */
#ifndef VE_OFFLOAD_H_INCLUDED
#define VE_OFFLOAD_H_INCLUDED

#include <stdint.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/types.h>
#include "veo_hmem.h"

#define VEO_API_VERSION 16
#define VEO_SYMNAME_LEN_MAX (255)
#define VEO_LOG_CATEGORY "veos.veo.veo"
#define VEO_MAX_NUM_ARGS (256)
#define VEO_REQUEST_ID_INVALID (~0UL)
#define CMD_VEGDB "/opt/nec/ve/bin/ve-gdb"
#define CMD_XTERM "/usr/bin/xterm"

#ifdef __cplusplus
extern "C" {
#endif

enum veo_context_state {
  VEO_STATE_UNKNOWN = 0,
  VEO_STATE_RUNNING = 1,
  VEO_STATE_SYSCALL = 2,
  VEO_STATE_BLOCKED = 3,
  VEO_STATE_EXIT = 4
};

enum veo_command_state {
  VEO_COMMAND_OK = 0,
  VEO_COMMAND_EXCEPTION = 1,
  VEO_COMMAND_ERROR = 2,
  VEO_COMMAND_UNFINISHED = 3
};

enum veo_queue_state {
  VEO_QUEUE_READY = 0,
  VEO_QUEUE_CLOSED = 1
};

enum veo_args_intent {
  VEO_INTENT_IN = 0,
  VEO_INTENT_INOUT = 1,
  VEO_INTENT_OUT = 2
};

struct veo_args;
struct veo_proc_handle;
struct veo_thr_ctxt;
struct veo_thr_ctxt_attr;

/* Memory hooks, keyed by the address of the function they follow. */
void veo_register_hook(void *func, void (*hook)(void *, ...), void *payload);
void *veo_get_hook(void *func);
void veo_unregister_hook(void *func);

/* Procs. */
struct veo_proc_handle *veo_proc_create(int venode);
struct veo_proc_handle *veo_proc_create_static(int venode, char *binary);
int veo_proc_destroy(struct veo_proc_handle *proc);
int veo_proc_identifier(struct veo_proc_handle *proc);
void *veo_set_proc_identifier(void *addr, int proc_ident);

/* Libraries and symbols. */
uint64_t veo_load_library(struct veo_proc_handle *proc, const char *libname);
int veo_unload_library(struct veo_proc_handle *proc, const uint64_t libhdl);
uint64_t veo_get_sym(struct veo_proc_handle *proc, uint64_t libhdl, const char *symname);

/* Synchronous VE memory. */
int veo_alloc_mem(struct veo_proc_handle *proc, uint64_t *addr, const size_t size);
int veo_free_mem(struct veo_proc_handle *proc, uint64_t addr);
int veo_read_mem(struct veo_proc_handle *proc, void *dst, uint64_t src, size_t size);
struct veo_proc_handle *veo_get_proc_handle_from_hmem(const void *addr);
pid_t veo_get_pid_from_hmem(const void *addr);
int veo_write_mem(struct veo_proc_handle *proc, uint64_t dst, const void *src, size_t size);

/* Contexts. */
int veo_num_contexts(struct veo_proc_handle *proc);
struct veo_thr_ctxt *veo_get_context(struct veo_proc_handle *proc, int idx);
struct veo_thr_ctxt *veo_context_open(struct veo_proc_handle *proc);
int veo_context_close(struct veo_thr_ctxt *ctx);
int veo_get_context_state(struct veo_thr_ctxt *ctx);
void veo_context_sync(struct veo_thr_ctxt *ctx);

/* Arguments. */
struct veo_args *veo_args_alloc(void);
int veo_args_set_i64(struct veo_args *args, int argnum, int64_t val);
int veo_args_set_u64(struct veo_args *args, int argnum, uint64_t val);
int veo_args_set_i32(struct veo_args *args, int argnum, int32_t val);
int veo_args_set_u32(struct veo_args *args, int argnum, uint32_t val);
int veo_args_set_i16(struct veo_args *args, int argnum, int16_t val);
int veo_args_set_u16(struct veo_args *args, int argnum, uint16_t val);
int veo_args_set_i8(struct veo_args *args, int argnum, int8_t val);
int veo_args_set_u8(struct veo_args *args, int argnum, uint8_t val);
int veo_args_set_double(struct veo_args *args, int argnum, double val);
int veo_args_set_float(struct veo_args *args, int argnum, float val);
int veo_args_set_stack(struct veo_args *args, enum veo_args_intent intent,
                       int argnum, char *buff, size_t len);
void veo_args_clear(struct veo_args *args);
void veo_args_free(struct veo_args *args);

/* Calls. */
int veo_call_sync(struct veo_proc_handle *h, uint64_t addr,
                  struct veo_args *ca, uint64_t *result);
uint64_t veo_call_async(struct veo_thr_ctxt *ctx, uint64_t addr, struct veo_args *args);
uint64_t veo_call_async_by_name(struct veo_thr_ctxt *ctx, uint64_t libhdl,
                                const char *symname, struct veo_args *args);
uint64_t veo_call_async_vh(struct veo_thr_ctxt *ctx, uint64_t (*func)(void *), void *arg);
int veo_call_peek_result(struct veo_thr_ctxt *ctx, uint64_t reqid, uint64_t *retp);
int veo_call_wait_result(struct veo_thr_ctxt *ctx, uint64_t reqid, uint64_t *retp);

/* Asynchronous VE memory. */
uint64_t veo_alloc_mem_async(struct veo_thr_ctxt *ctx, const size_t size);
uint64_t veo_free_mem_async(struct veo_thr_ctxt *ctx, uint64_t addr);
uint64_t veo_async_read_mem(struct veo_thr_ctxt *ctx, void *dst, uint64_t src, size_t size);
uint64_t veo_async_write_mem(struct veo_thr_ctxt *ctx, uint64_t dst, const void *src, size_t size);

/* Request blocks. */
void veo_req_block_begin(struct veo_thr_ctxt *ctx);
void veo_req_block_end(struct veo_thr_ctxt *ctx);

/* Context attributes. */
struct veo_thr_ctxt *veo_context_open_with_attr(struct veo_proc_handle *proc,
                                                struct veo_thr_ctxt_attr *attr);
struct veo_thr_ctxt_attr *veo_alloc_thr_ctxt_attr(void);
int veo_free_thr_ctxt_attr(struct veo_thr_ctxt_attr *attr);
int veo_set_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *attr, size_t stacksize);
int veo_get_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *attr, size_t *stacksize);

/* Versions. */
const char *veo_version_string(void);
int veo_api_version(void);

/* HMEM. */
int veo_alloc_hmem(struct veo_proc_handle *proc, void **addr, const size_t size);
int veo_free_hmem(void *addr);
int veo_hmemcpy(void *dst, const void *src, size_t size);
int veo_args_set_hmem(struct veo_args *args, int argnum, void *addr);
int veo_get_venum_from_hmem(const void *addr);
int veo_get_ve_arch(int ve_node_number);
void veo_register_hmem_hook_functions(void (*alloc_hook)(void *, size_t),
                                      void (*free_hook)(uint64_t));
void veo_unregister_hmem_hook_functions(void);

#ifdef __cplusplus
}
#endif

#endif /* VE_OFFLOAD_H_INCLUDED */
