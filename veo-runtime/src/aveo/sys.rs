//! The C API of NEC's AVEO library (`libveo.so.1`), loaded at run time with
//! `libloading`: every exported function with its exact C signature, as a
//! table of optional function pointers.
//!
//! The table is written by hand: AVEO's headers are not on a machine
//! without the vendor packages, so bindgen has nothing to read. The order
//! and grouping follow the headers AVEO installs (`ve_offload.h`,
//! `veo_hmem.h`, `veo_veshm.h`, `veo_vhveshm.h`, `veo_vedma.h`).
//! `syscall_wrapper` (a VE-side helper that `libveo.so` does not export)
//! is left out.
//!
//! Versions: the library's `veo_api_version()` must be at least
//! [`MIN_API_VERSION`] (9); 8 and below are the original VEO (veoffload),
//! whose protocol and API differ, and are refused. Every function has the
//! first API version that has it; one the library does not export is an
//! [`Error::Unsupported`] naming the function and that version, when it is
//! used (not when the library is loaded), so that an older AVEO still runs
//! what it can.

#![allow(non_camel_case_types)]

use crate::error::{Error, Result};
use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
use std::ffi::{c_char, c_double, c_float, c_int, c_longlong, c_void, CStr};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};

/// Where the VEOS packages install AVEO's VH library.
pub const DEFAULT_LIBVEO: &str = "/opt/nec/ve/veos/lib64/libveo.so.1";

/// The variable that names another `libveo.so` to load.
pub const LIBVEO_ENV: &str = "VEO_LIBVEO";

/// The oldest `veo_api_version()` accepted: the first AVEO API after the
/// original VEO's 8.
pub const MIN_API_VERSION: u32 = 9;

/// What every asynchronous submitter returns on failure (`~0UL`).
pub const VEO_REQUEST_ID_INVALID: u64 = !0;

/// `VEO_SYMNAME_LEN_MAX`: longer library or symbol names fail.
pub const VEO_SYMNAME_LEN_MAX: usize = 255;

/// `enum veo_context_state`.
pub type veo_context_state = c_int;
/// The state is not known.
pub const VEO_STATE_UNKNOWN: veo_context_state = 0;
/// The context runs.
pub const VEO_STATE_RUNNING: veo_context_state = 1;
/// In a system call (not possible in AVEO).
pub const VEO_STATE_SYSCALL: veo_context_state = 2;
/// Blocked (not possible in AVEO).
pub const VEO_STATE_BLOCKED: veo_context_state = 3;
/// The context (or its VE process) has exited.
pub const VEO_STATE_EXIT: veo_context_state = 4;

/// `enum veo_command_state`: what `veo_call_peek_result` and
/// `veo_call_wait_result` return.
pub type veo_command_state = c_int;
/// The request finished; the result is valid.
pub const VEO_COMMAND_OK: veo_command_state = 0;
/// The VE process raised an exception (the result is the signal number).
pub const VEO_COMMAND_EXCEPTION: veo_command_state = 1;
/// The request failed, is unknown, or its result was collected already.
pub const VEO_COMMAND_ERROR: veo_command_state = 2;
/// The request has not finished.
pub const VEO_COMMAND_UNFINISHED: veo_command_state = 3;

/// `enum veo_queue_state`.
pub type veo_queue_state = c_int;
/// The queue takes requests.
pub const VEO_QUEUE_READY: veo_queue_state = 0;
/// The queue is closed.
pub const VEO_QUEUE_CLOSED: veo_queue_state = 1;

/// `enum veo_args_intent`: which way a stack buffer is copied.
pub type veo_args_intent = c_int;
/// Copied to the VE before the call.
pub const VEO_INTENT_IN: veo_args_intent = 0;
/// Copied in, and back after the call.
pub const VEO_INTENT_INOUT: veo_args_intent = 1;
/// Copied back after the call.
pub const VEO_INTENT_OUT: veo_args_intent = 2;

/// `struct veo_proc_handle` (opaque): one VE process.
#[repr(C)]
pub struct veo_proc_handle {
    _opaque: [u8; 0],
}

/// `struct veo_thr_ctxt` (opaque): one context (a VE thread and its queue).
#[repr(C)]
pub struct veo_thr_ctxt {
    _opaque: [u8; 0],
}

/// `struct veo_args` (opaque): an argument list.
#[repr(C)]
pub struct veo_args {
    _opaque: [u8; 0],
}

/// `struct veo_thr_ctxt_attr` (opaque): context attributes (stack size).
#[repr(C)]
pub struct veo_thr_ctxt_attr {
    _opaque: [u8; 0],
}

/// `ve_dma_handle_t` (`veo_vedma.h`): the state of one posted DMA.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ve_dma_handle_t {
    /// Completion status.
    pub status: c_int,
    /// The DMA descriptor's index.
    pub index: c_int,
}

/// The hook of `veo_register_hook`: `void (*)(void *, ...)`.
pub type veo_hook_t = Option<unsafe extern "C" fn(*mut c_void, ...)>;

/// The VH function of `veo_call_async_vh`: `uint64_t (*)(void *)`.
pub type veo_vh_function_t = Option<unsafe extern "C" fn(*mut c_void) -> u64>;

/// The allocation hook of `veo_register_hmem_hook_functions`.
pub type veo_hmem_alloc_hook_t = Option<unsafe extern "C" fn(*mut c_void, usize)>;

/// The free hook of `veo_register_hmem_hook_functions`.
pub type veo_hmem_free_hook_t = Option<unsafe extern "C" fn(u64)>;

type proc_t = *mut veo_proc_handle;
type ctx_t = *mut veo_thr_ctxt;
type args_t = *mut veo_args;
type attr_t = *mut veo_thr_ctxt_attr;

/// Declares the table: one `Option<fn>` field per function, its loader, and
/// an accessor that returns the pointer or [`Error::Unsupported`].
macro_rules! libveo_api {
    ($(
        $(#[$doc:meta])*
        $since:literal fn $name:ident($($arg:ty),*) $(-> $ret:ty)?;
    )*) => {
        /// AVEO's `libveo.so`, loaded, with every function it exports.
        ///
        /// The library is never unloaded: libveo starts threads and
        /// registers exit handlers, which must not outlive its code.
        pub struct LibVeo {
            path: PathBuf,
            api: u32,
            version: String,
            emulated: Option<Emulated>,
            _lib: ManuallyDrop<Library>,
            $($name: Option<unsafe extern "C" fn($($arg),*) $(-> $ret)?>,)*
        }

        impl LibVeo {
            /// Looks up every function of the table in `lib`.
            fn table(
                lib: Library,
                path: PathBuf,
                api: u32,
                version: String,
            ) -> LibVeo {
                $(
                    // SAFETY: the symbol is AVEO's function of this name,
                    // whose C prototype (in AVEO's headers) is exactly the
                    // pointer type it is read as.
                    let $name = unsafe {
                        lib.get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(
                            concat!(stringify!($name), "\0").as_bytes(),
                        )
                    }
                    .ok()
                    .map(|s| *s);
                )*
                LibVeo {
                    path,
                    api,
                    version,
                    emulated: Emulated::find(&lib),
                    _lib: ManuallyDrop::new(lib),
                    $($name,)*
                }
            }

            $(
                $(#[$doc])*
                #[doc = concat!("\n\nAVEO API ", stringify!($since), " and later. The pointer is valid as long as the library, which is never unloaded.")]
                #[inline]
                pub fn $name(&self) -> Result<unsafe extern "C" fn($($arg),*) $(-> $ret)?> {
                    match self.$name {
                        Some(f) => Ok(f),
                        None => Err(self.unsupported(stringify!($name), $since)),
                    }
                }
            )*

            /// The names of the table's functions the library does not
            /// export, with the API version that has each.
            pub fn missing(&self) -> Vec<(&'static str, u32)> {
                let mut v = Vec::new();
                $(
                    if self.$name.is_none() {
                        v.push((stringify!($name), $since));
                    }
                )*
                v
            }
        }
    };
}

libveo_api! {
    // ve_offload.h
    /// `void veo_register_hook(void *func, void (*hook)(void *, ...), void *payload);`
    14 fn veo_register_hook(*mut c_void, veo_hook_t, *mut c_void);
    /// `void *veo_get_hook(void *func);`
    14 fn veo_get_hook(*mut c_void) -> *mut c_void;
    /// `void veo_unregister_hook(void *func);`
    14 fn veo_unregister_hook(*mut c_void);
    /// `struct veo_proc_handle *veo_proc_create(int venode);` NULL on failure.
    9 fn veo_proc_create(c_int) -> proc_t;
    /// `struct veo_proc_handle *veo_proc_create_static(int venode, char *veobin);`
    9 fn veo_proc_create_static(c_int, *mut c_char) -> proc_t;
    /// `int veo_proc_destroy(struct veo_proc_handle *);`
    9 fn veo_proc_destroy(proc_t) -> c_int;
    /// `int veo_proc_identifier(struct veo_proc_handle *);`
    11 fn veo_proc_identifier(proc_t) -> c_int;
    /// `void *veo_set_proc_identifier(void *addr, int proc_ident);`
    12 fn veo_set_proc_identifier(*mut c_void, c_int) -> *mut c_void;
    /// `uint64_t veo_load_library(struct veo_proc_handle *, const char *);` 0 on failure.
    9 fn veo_load_library(proc_t, *const c_char) -> u64;
    /// `int veo_unload_library(struct veo_proc_handle *, const uint64_t);`
    9 fn veo_unload_library(proc_t, u64) -> c_int;
    /// `uint64_t veo_get_sym(struct veo_proc_handle *, uint64_t, const char *);` 0 on failure.
    9 fn veo_get_sym(proc_t, u64, *const c_char) -> u64;
    /// `int veo_alloc_mem(struct veo_proc_handle *, uint64_t *, const size_t);`
    9 fn veo_alloc_mem(proc_t, *mut u64, usize) -> c_int;
    /// `int veo_free_mem(struct veo_proc_handle *, uint64_t);`
    9 fn veo_free_mem(proc_t, u64) -> c_int;
    /// `int veo_read_mem(struct veo_proc_handle *, void *dst, uint64_t src, size_t);`
    9 fn veo_read_mem(proc_t, *mut c_void, u64, usize) -> c_int;
    /// `struct veo_proc_handle *veo_get_proc_handle_from_hmem(const void *);`
    13 fn veo_get_proc_handle_from_hmem(*const c_void) -> proc_t;
    /// `pid_t veo_get_pid_from_hmem(const void *);`
    13 fn veo_get_pid_from_hmem(*const c_void) -> libc::pid_t;
    /// `int veo_write_mem(struct veo_proc_handle *, uint64_t dst, const void *src, size_t);`
    9 fn veo_write_mem(proc_t, u64, *const c_void, usize) -> c_int;
    /// `int veo_num_contexts(struct veo_proc_handle *);`
    9 fn veo_num_contexts(proc_t) -> c_int;
    /// `struct veo_thr_ctxt *veo_get_context(struct veo_proc_handle *, int);`
    9 fn veo_get_context(proc_t, c_int) -> ctx_t;
    /// `struct veo_thr_ctxt *veo_context_open(struct veo_proc_handle *);`
    9 fn veo_context_open(proc_t) -> ctx_t;
    /// `int veo_context_close(struct veo_thr_ctxt *);`
    9 fn veo_context_close(ctx_t) -> c_int;
    /// `int veo_get_context_state(struct veo_thr_ctxt *);`
    9 fn veo_get_context_state(ctx_t) -> c_int;
    /// `void veo_context_sync(struct veo_thr_ctxt *);`
    9 fn veo_context_sync(ctx_t);
    /// `struct veo_args *veo_args_alloc(void);`
    9 fn veo_args_alloc() -> args_t;
    /// `int veo_args_set_i64(struct veo_args *, int, int64_t);`
    9 fn veo_args_set_i64(args_t, c_int, i64) -> c_int;
    /// `int veo_args_set_u64(struct veo_args *, int, uint64_t);`
    9 fn veo_args_set_u64(args_t, c_int, u64) -> c_int;
    /// `int veo_args_set_i32(struct veo_args *, int, int32_t);`
    9 fn veo_args_set_i32(args_t, c_int, i32) -> c_int;
    /// `int veo_args_set_u32(struct veo_args *, int, uint32_t);`
    9 fn veo_args_set_u32(args_t, c_int, u32) -> c_int;
    /// `int veo_args_set_i16(struct veo_args *, int, int16_t);`
    9 fn veo_args_set_i16(args_t, c_int, i16) -> c_int;
    /// `int veo_args_set_u16(struct veo_args *, int, uint16_t);`
    9 fn veo_args_set_u16(args_t, c_int, u16) -> c_int;
    /// `int veo_args_set_i8(struct veo_args *, int, int8_t);`
    9 fn veo_args_set_i8(args_t, c_int, i8) -> c_int;
    /// `int veo_args_set_u8(struct veo_args *, int, uint8_t);`
    9 fn veo_args_set_u8(args_t, c_int, u8) -> c_int;
    /// `int veo_args_set_double(struct veo_args *, int, double);`
    9 fn veo_args_set_double(args_t, c_int, c_double) -> c_int;
    /// `int veo_args_set_float(struct veo_args *, int, float);` (upper half of the slot)
    9 fn veo_args_set_float(args_t, c_int, c_float) -> c_int;
    /// `int veo_args_set_stack(struct veo_args *, enum veo_args_intent, int argnum, char *buff, size_t len);`
    9 fn veo_args_set_stack(args_t, veo_args_intent, c_int, *mut c_char, usize) -> c_int;
    /// `void veo_args_clear(struct veo_args *);`
    9 fn veo_args_clear(args_t);
    /// `void veo_args_free(struct veo_args *);`
    9 fn veo_args_free(args_t);
    /// `int veo_call_sync(struct veo_proc_handle *h, uint64_t addr, struct veo_args *ca, uint64_t *result);`
    9 fn veo_call_sync(proc_t, u64, args_t, *mut u64) -> c_int;
    /// `uint64_t veo_call_async(struct veo_thr_ctxt *, uint64_t, struct veo_args *);`
    9 fn veo_call_async(ctx_t, u64, args_t) -> u64;
    /// `uint64_t veo_call_async_by_name(struct veo_thr_ctxt *, uint64_t, const char *, struct veo_args *);`
    9 fn veo_call_async_by_name(ctx_t, u64, *const c_char, args_t) -> u64;
    /// `uint64_t veo_call_async_vh(struct veo_thr_ctxt *, uint64_t (*)(void *), void *);`
    9 fn veo_call_async_vh(ctx_t, veo_vh_function_t, *mut c_void) -> u64;
    /// `int veo_call_peek_result(struct veo_thr_ctxt *, uint64_t, uint64_t *);`
    9 fn veo_call_peek_result(ctx_t, u64, *mut u64) -> c_int;
    /// `int veo_call_wait_result(struct veo_thr_ctxt *, uint64_t, uint64_t *);`
    9 fn veo_call_wait_result(ctx_t, u64, *mut u64) -> c_int;
    /// `uint64_t veo_alloc_mem_async(struct veo_thr_ctxt *ctx, const size_t size);`
    14 fn veo_alloc_mem_async(ctx_t, usize) -> u64;
    /// `uint64_t veo_free_mem_async(struct veo_thr_ctxt *ctx, uint64_t addr);`
    14 fn veo_free_mem_async(ctx_t, u64) -> u64;
    /// `uint64_t veo_async_read_mem(struct veo_thr_ctxt *, void *dst, uint64_t src, size_t);`
    9 fn veo_async_read_mem(ctx_t, *mut c_void, u64, usize) -> u64;
    /// `uint64_t veo_async_write_mem(struct veo_thr_ctxt *, uint64_t dst, const void *src, size_t);`
    9 fn veo_async_write_mem(ctx_t, u64, *const c_void, usize) -> u64;
    /// `void veo_req_block_begin(struct veo_thr_ctxt *ctx);`
    14 fn veo_req_block_begin(ctx_t);
    /// `void veo_req_block_end(struct veo_thr_ctxt *ctx);`
    14 fn veo_req_block_end(ctx_t);
    /// `struct veo_thr_ctxt *veo_context_open_with_attr(struct veo_proc_handle *, struct veo_thr_ctxt_attr *);`
    9 fn veo_context_open_with_attr(proc_t, attr_t) -> ctx_t;
    /// `struct veo_thr_ctxt_attr *veo_alloc_thr_ctxt_attr(void);`
    9 fn veo_alloc_thr_ctxt_attr() -> attr_t;
    /// `int veo_free_thr_ctxt_attr(struct veo_thr_ctxt_attr *);`
    9 fn veo_free_thr_ctxt_attr(attr_t) -> c_int;
    /// `int veo_set_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *, size_t);`
    9 fn veo_set_thr_ctxt_stacksize(attr_t, usize) -> c_int;
    /// `int veo_get_thr_ctxt_stacksize(struct veo_thr_ctxt_attr *, size_t *);`
    9 fn veo_get_thr_ctxt_stacksize(attr_t, *mut usize) -> c_int;
    /// `const char *veo_version_string(void);`
    9 fn veo_version_string() -> *const c_char;
    /// `int veo_api_version(void);`
    9 fn veo_api_version() -> c_int;
    /// `int veo_alloc_hmem(struct veo_proc_handle *, void **, const size_t);`
    10 fn veo_alloc_hmem(proc_t, *mut *mut c_void, usize) -> c_int;
    /// `int veo_free_hmem(void *);`
    10 fn veo_free_hmem(*mut c_void) -> c_int;
    /// `int veo_hmemcpy(void *dst, const void *src, size_t);`
    10 fn veo_hmemcpy(*mut c_void, *const c_void, usize) -> c_int;
    /// `int veo_args_set_hmem(struct veo_args *, int, void *);`
    10 fn veo_args_set_hmem(args_t, c_int, *mut c_void) -> c_int;
    /// `int veo_get_venum_from_hmem(const void *);`
    13 fn veo_get_venum_from_hmem(*const c_void) -> c_int;
    /// `int veo_get_ve_arch(int ve_node_number);`
    15 fn veo_get_ve_arch(c_int) -> c_int;
    /// `void veo_register_hmem_hook_functions(void (*)(void *, size_t), void (*)(uint64_t));`
    15 fn veo_register_hmem_hook_functions(veo_hmem_alloc_hook_t, veo_hmem_free_hook_t);
    /// `void veo_unregister_hmem_hook_functions();`
    15 fn veo_unregister_hmem_hook_functions();

    // veo_hmem.h
    /// `int veo_is_ve_addr(const void *);`
    10 fn veo_is_ve_addr(*const c_void) -> c_int;
    /// `void *veo_get_hmem_addr(void *);`
    10 fn veo_get_hmem_addr(*mut c_void) -> *mut c_void;
    /// `int veo_get_max_proc_identifier(void);`
    10 fn veo_get_max_proc_identifier() -> c_int;
    /// `int veo_get_proc_identifier_from_hmem(const void *);`
    10 fn veo_get_proc_identifier_from_hmem(*const c_void) -> c_int;

    // veo_veshm.h (real VE only)
    /// `int veo_shared_mem_open(void *, size_t, int syncnum, long long mode_flag);`
    13 fn veo_shared_mem_open(*mut c_void, usize, c_int, c_longlong) -> c_int;
    /// `int veo_shared_mem_close(void *, size_t, int syncnum, long long mode_flag);`
    13 fn veo_shared_mem_close(*mut c_void, usize, c_int, c_longlong) -> c_int;
    /// `void *veo_shared_mem_attach(struct veo_proc_handle *, pid_t, void *, size_t, int, long long);`
    13 fn veo_shared_mem_attach(proc_t, libc::pid_t, *mut c_void, usize, c_int, c_longlong) -> *mut c_void;
    /// `int veo_shared_mem_detach(struct veo_proc_handle *, void *, long long);`
    13 fn veo_shared_mem_detach(proc_t, *mut c_void, c_longlong) -> c_int;

    // veo_vhveshm.h (real VE only)
    /// `int veo_shmget(struct veo_proc_handle *, key_t, size_t, int);`
    13 fn veo_shmget(proc_t, libc::key_t, usize, c_int) -> c_int;
    /// `void *veo_shmat(struct veo_proc_handle *, int, const void *, int, void **);`
    13 fn veo_shmat(proc_t, c_int, *const c_void, c_int, *mut *mut c_void) -> *mut c_void;
    /// `int veo_shmdt(struct veo_proc_handle *, const void *);`
    13 fn veo_shmdt(proc_t, *const c_void) -> c_int;

    // veo_vedma.h (real VE only)
    /// `int veo_dma_post(struct veo_proc_handle *, uint64_t dst, uint64_t src, int size, ve_dma_handle_t *);`
    13 fn veo_dma_post(proc_t, u64, u64, c_int, *mut ve_dma_handle_t) -> c_int;
    /// `int veo_dma_poll(struct veo_proc_handle *, ve_dma_handle_t *);`
    13 fn veo_dma_poll(proc_t, *mut ve_dma_handle_t) -> c_int;
    /// `int veo_dma_post_wait(struct veo_proc_handle *, uint64_t dst, uint64_t src, int size);`
    13 fn veo_dma_post_wait(proc_t, u64, u64, c_int) -> c_int;
    /// `uint64_t veo_register_mem_to_dmaatb(void *, size_t);`
    13 fn veo_register_mem_to_dmaatb(*mut c_void, usize) -> u64;
    /// `int veo_unregister_mem_from_dmaatb(struct veo_proc_handle *, uint64_t);`
    13 fn veo_unregister_mem_from_dmaatb(proc_t, u64) -> c_int;
    /// `void veo_access_pcircvsyc_register(struct veo_proc_handle *);`
    13 fn veo_access_pcircvsyc_register(proc_t);
}

impl LibVeo {
    /// Loads the library at `path`; `None` means `$VEO_LIBVEO`, else
    /// [`DEFAULT_LIBVEO`]. Refuses a library without `veo_api_version` and
    /// the original VEO (API 8 and below).
    pub fn open(path: Option<&Path>) -> Result<LibVeo> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => match std::env::var_os(LIBVEO_ENV) {
                Some(p) if !p.is_empty() => PathBuf::from(p),
                _ => PathBuf::from(DEFAULT_LIBVEO),
            },
        };
        let shown = path.display().to_string();
        let what = || format!("AVEO library {shown}");
        if !path.exists() {
            return Err(Error::Aveo {
                what: what(),
                reason: format!(
                    "no such file; install AVEO (the VEOS packages put it in {DEFAULT_LIBVEO}) or set {LIBVEO_ENV} to its path"
                ),
            });
        }
        // SAFETY: loading libveo runs its initialisers, which is what using
        // the vendor library means; the user named this file (or the
        // vendor's default path).
        let lib = unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
            Error::Aveo {
                what: what(),
                reason: loader_message(&e),
            }
        })?;
        // SAFETY: `veo_api_version` is `int veo_api_version(void)` in every
        // VEO and AVEO release.
        let api_fn = unsafe { lib.get::<unsafe extern "C" fn() -> c_int>(b"veo_api_version\0") }
            .map(|s| *s)
            .map_err(|_| Error::Aveo {
                what: what(),
                reason: "it has no veo_api_version: not a VEO library".into(),
            })?;
        // SAFETY: the function takes no argument and returns a constant.
        let api = unsafe { api_fn() };
        let api = u32::try_from(api).unwrap_or(0);
        if api < MIN_API_VERSION {
            return Err(Error::Aveo {
                what: what(),
                reason: format!(
                    "API version {api}: this is the original VEO (veoffload), not AVEO; \
                     veo-rs needs AVEO (API {MIN_API_VERSION} or later): install the aveo package, \
                     or set {LIBVEO_ENV} to AVEO's libveo.so.1"
                ),
            });
        }
        // SAFETY: as above, `const char *veo_version_string(void)`.
        let version =
            unsafe { lib.get::<unsafe extern "C" fn() -> *const c_char>(b"veo_version_string\0") }
                .ok()
                .map(|f| {
                    // SAFETY: the function returns a static NUL-terminated
                    // string (or NULL, checked).
                    let p = unsafe { f() };
                    if p.is_null() {
                        String::new()
                    } else {
                        // SAFETY: non-NULL, NUL-terminated, static.
                        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                    }
                })
                .unwrap_or_default();
        Ok(Self::table(lib, path, api, version))
    }

    /// The path the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its `veo_api_version()`.
    pub fn api_version(&self) -> u32 {
        self.api
    }

    /// Its `veo_version_string()` (empty if it has none).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The extensions of veo-rs's own libveo.so (`veo-capi`), whose VE is
    /// the emulated one: `None` for NEC's AVEO.
    pub fn emulated(&self) -> Option<&Emulated> {
        self.emulated.as_ref()
    }

    #[cold]
    #[inline(never)]
    fn unsupported(&self, function: &'static str, since: u32) -> Error {
        Error::Unsupported {
            function,
            since,
            library: self.path.display().to_string(),
            api: self.api,
        }
    }
}

impl std::fmt::Debug for LibVeo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibVeo")
            .field("path", &self.path)
            .field("api", &self.api)
            .field("version", &self.version)
            .field("emulated", &self.emulated.is_some())
            .finish_non_exhaustive()
    }
}

/// `VEO_RS_RET_U64` of `veo_rs.h`: an integer, pointer or no result.
pub const VEO_RS_RET_U64: c_int = 0;
/// `VEO_RS_RET_FLOAT`: a `float` result.
pub const VEO_RS_RET_FLOAT: c_int = 1;
/// `VEO_RS_RET_DOUBLE`: a `double` result.
pub const VEO_RS_RET_DOUBLE: c_int = 2;

/// What only veo-rs's own `libveo.so` (the C API over the emulated VE,
/// `veo-capi/include/veo_rs.h`) exports: its marker, and calls that take
/// the class of the kernel's result, which on the host decides the
/// register it is read from (on a VE every result is in `%s0`).
#[derive(Clone, Copy)]
pub struct Emulated {
    /// `int veo_rs_emulated_ve(void)`: the version of the extensions.
    pub version: c_int,
    /// `uint64_t veo_rs_call_async_ret(struct veo_thr_ctxt *, uint64_t addr, struct veo_args *, int ret)`.
    pub call_async_ret: unsafe extern "C" fn(ctx_t, u64, args_t, c_int) -> u64,
    /// `int veo_rs_call_sync_ret(struct veo_proc_handle *, uint64_t addr, struct veo_args *, int ret, uint64_t *result)`.
    pub call_sync_ret: unsafe extern "C" fn(proc_t, u64, args_t, c_int, *mut u64) -> c_int,
}

impl Emulated {
    fn find(lib: &Library) -> Option<Emulated> {
        // SAFETY: these names are veo-capi's exports, with the C types of
        // `veo_rs.h` written here; NEC's library has none of them.
        unsafe {
            let marker = *lib
                .get::<unsafe extern "C" fn() -> c_int>(b"veo_rs_emulated_ve\0")
                .ok()?;
            let call_async_ret = *lib
                .get::<unsafe extern "C" fn(ctx_t, u64, args_t, c_int) -> u64>(
                    b"veo_rs_call_async_ret\0",
                )
                .ok()?;
            let call_sync_ret = *lib
                .get::<unsafe extern "C" fn(proc_t, u64, args_t, c_int, *mut u64) -> c_int>(
                    b"veo_rs_call_sync_ret\0",
                )
                .ok()?;
            Some(Emulated {
                version: marker(),
                call_async_ret,
                call_sync_ret,
            })
        }
    }
}

impl std::fmt::Debug for Emulated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulated")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The loader's own words (libloading's `Display` alone says "dlopen failed").
fn loader_message(e: &libloading::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
