//! `libveo.so`: AVEO's C API (API version 16) over veo-runtime, so that VEO
//! programs written in C, C++ or Fortran run unchanged on the emulated VE.
//!
//! Every function is a thin layer: it checks its handles, calls one item of
//! veo-runtime, and turns the result into AVEO's return convention. Bad
//! input (NULL or destroyed handles, bad addresses, over-long names) gets
//! AVEO's error value and one line on stderr naming the function and the
//! cause; a panic never crosses into C. The declarations are in
//! `include/ve_offload.h` and its siblings; docs/C-API.md tells how to
//! build against them and where the emulated VE differs from a real one.

// The contract of every `unsafe extern "C"` function is the one of its C
// declaration in include/, documented in docs/C-API.md; repeating it in a
// `# Safety` section on each of ~90 exports would say nothing more.
#![allow(clippy::missing_safety_doc)]

mod args;
mod context;
mod diag;
mod emulated;
mod handles;
mod hmem;
mod hooks;
mod memory;
mod proc;
mod realve;
mod results;
mod version;

/// The opaque handle types of `ve_offload.h`.
pub mod types {
    /// `struct veo_proc_handle`.
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct veo_proc_handle {
        _opaque: [u8; 0],
    }
    /// `struct veo_thr_ctxt`.
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct veo_thr_ctxt {
        _opaque: [u8; 0],
    }
    /// `struct veo_args`.
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct veo_args {
        _opaque: [u8; 0],
    }
    /// `struct veo_thr_ctxt_attr`.
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct veo_thr_ctxt_attr {
        _opaque: [u8; 0],
    }
    /// `ve_dma_handle_t` of `veo_vedma.h`.
    #[allow(non_camel_case_types)]
    #[repr(C)]
    pub struct ve_dma_handle_t {
        /// Status of the transfer.
        pub status: i32,
        /// Index of the descriptor.
        pub index: i32,
    }
}

/// AVEO's `VEO_REQUEST_ID_INVALID`.
pub const VEO_REQUEST_ID_INVALID: u64 = !0;
/// AVEO's `VEO_SYMNAME_LEN_MAX`.
pub const VEO_SYMNAME_LEN_MAX: usize = 255;

/// `enum veo_command_state`.
pub(crate) mod command {
    pub const OK: i32 = 0;
    pub const EXCEPTION: i32 = 1;
    pub const ERROR: i32 = 2;
    pub const UNFINISHED: i32 = 3;
}

/// `enum veo_context_state`.
pub(crate) mod state {
    pub const RUNNING: i32 = 1;
    pub const EXIT: i32 = 4;
}
