//! Typed offloading to the NEC SX-Aurora Vector Engine, with an emulated VE
//! so that the same program builds, runs and is tested on any Linux machine.
//!
//! ```no_run
//! use veo_runtime::{Args, Proc};
//!
//! # fn main() -> veo_runtime::Result<()> {
//! let proc = Proc::new(0)?;                      // starts the helper (the VE)
//! let ctx = proc.open_context()?;
//! let lib = proc.load_library("./libkernels.so")?;
//! let average = lib.function("average")?;
//! let a = proc.alloc::<f64>(4)?;                 // freed on drop
//! proc.write(&a, &[1.0, 2.0, 3.0, 4.0])?;
//! let mut args = Args::new();
//! args.ptr(a.as_ptr()).i32(4);
//! let avg: f64 = ctx.call(&average, args)?.wait()?;
//! assert_eq!(avg, 2.5);
//! # Ok(()) }
//! ```
//!
//! Kernels are usually declared with [`ve_kernel`] and compiled by
//! `veo-build`; see the crate README.

mod arglist;
mod args;
pub mod aveo;
mod binary;
mod channel;
mod context;
mod entry;
mod error;
mod fxhash;
pub mod hmem;
mod hooks;
mod intent;
mod library;
mod life;
mod locate;
mod mem_hooks;
mod memory;
mod omp;
mod proc;
mod ptr;
mod queue;
mod request;
mod slot;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use arglist::ArgList;
pub use args::{Args, KernelArg, KernelRet, Out, MAX_ARGS};
pub use context::{Context, ContextState};
pub use error::{Error, Result};
pub use hooks::set_proc_init_hook;
pub use intent::Intent;
pub use library::{Function, Library};
pub use mem_hooks::{
    memory_hook, remove_memory_hook, set_memory_hook, MemoryEvent, MemoryHook, MemoryOp,
};
pub use memory::{AsVePtr, VeBuffer, VeSlice};
pub use proc::{Proc, ProcBuilder, DEFAULT_OMP_THREADS, MAX_CONTEXTS, VE_NODES};
pub use ptr::VePtr;
pub use queue::{Collected, ContextList, RequestQueue};
pub use request::Request;
pub use veo_macros::ve_kernel;

/// The version of AVEO's API whose behaviour this runtime provides (its
/// `VEO_API_VERSION`): request queues, HMEM addresses, memory hooks.
pub const AVEO_API_VERSION: i32 = 16;
