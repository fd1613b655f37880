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
//!
//! # Awaiting
//!
//! Every [`Request`] is also a future ([`RequestFuture`]): `.await` it on
//! any executor instead of blocking in `wait`. No thread spins while futures
//! wait: one thread per proc, started by the first future that has to wait
//! and ended with the proc, sleeps on the result rings and wakes each future
//! when its answer arrives. The borrow rules are those of `wait`.
//!
//! ```no_run
//! # use veo_runtime::{Args, Proc};
//! # async fn f() -> veo_runtime::Result<()> {
//! # let proc = Proc::new(0)?;
//! # let ctx = proc.open_context()?;
//! # let average = proc.get_function("average")?;
//! # let a = proc.alloc::<f64>(4)?;
//! let mut args = Args::new();
//! args.ptr(a.as_ptr()).i32(4);
//! let avg: f64 = ctx.call(&average, args)?.await?;
//! # Ok(()) }
//! ```
//!
//! # Profiling
//!
//! With `VEO_TRACE=FILE` (or [`ProcBuilder::trace`]) a proc writes a Chrome
//! trace-event file when it ends (Perfetto and `chrome://tracing` open it):
//! one event per request, named after its kernel, on a track per context,
//! with its time queued and on the VE and its bytes.
//! [`Proc::profile`] sums the times up per kernel ([`KernelProfile`]).

mod arglist;
mod args;
pub mod aveo;
mod binary;
mod channel;
mod context;
mod entry;
mod error;
mod future;
mod fxhash;
pub mod hmem;
mod hooks;
mod intent;
mod library;
mod life;
mod mem_hooks;
mod memory;
mod omp;
mod proc;
mod ptr;
mod queue;
mod request;
mod slot;
mod trace;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use arglist::ArgList;
pub use args::{Args, KernelArg, KernelRet, Out, MAX_ARGS};
pub use context::{Context, ContextState};
pub use error::{Error, Result};
pub use future::RequestFuture;
pub use hooks::set_proc_init_hook;
pub use intent::Intent;
pub use library::{Function, Library};
pub use mem_hooks::{
    memory_hook, remove_memory_hook, set_memory_hook, MemoryEvent, MemoryHook, MemoryOp,
};
pub use memory::{AsVePtr, VeBuffer};
pub use proc::{Proc, ProcBuilder, DEFAULT_OMP_THREADS, MAX_CONTEXTS, VE_NODES};
pub use ptr::VePtr;
pub use queue::{Collected, ContextList, RequestQueue};
pub use request::Request;
pub use trace::KernelProfile;
pub use veo_macros::ve_kernel;

/// The version of AVEO's API whose behaviour this runtime provides (its
/// `VEO_API_VERSION`): request queues, HMEM addresses, memory hooks.
pub const AVEO_API_VERSION: i32 = 16;
