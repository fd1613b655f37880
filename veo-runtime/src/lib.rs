//! Typed offloading to the NEC SX-Aurora Vector Engine, with an emulated VE
//! so that the same program builds, runs and is tested on any Linux machine.
//!
//! A program declares its C, C++ or Fortran kernels with [`ve_kernel`];
//! `veo-build` compiles them when the crate builds and checks their C
//! signatures against the Rust declarations; the generated functions
//! marshal the arguments and call the kernel on the VE.
//!
//! # Setup
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [dependencies]
//! veo-runtime = "0.1"
//!
//! [build-dependencies]
//! veo-build = "0.1"
//! ```
//!
//! `build.rs` compiles the kernels into the library `kernels`:
//!
//! ```no_run
//! fn main() {
//!     veo_build::Build::new().file("kernels/average.c").compile("kernels");
//! }
//! ```
//!
//! `kernels/average.c`:
//!
//! ```c
//! double average(double *a, int n) {
//!     double s = 0;
//!     for (int i = 0; i < n; i++) s += a[i];
//!     return s / n;
//! }
//! ```
//!
//! Only Rust and a C compiler are needed: without the NEC compilers the
//! kernels are built with the host's `cc` for the emulated VE (below).
//!
//! # A complete program
//!
//! ```no_run
//! use veo_runtime::{ve_kernel, Proc, VePtr};
//!
//! #[ve_kernel(library = "kernels")] // the name given to veo-build
//! extern "C" {
//!     /// The mean of `n` doubles in VE memory.
//!     fn average(a: VePtr<f64>, n: i32) -> f64;
//! }
//!
//! fn main() -> veo_runtime::Result<()> {
//!     let proc = Proc::new(0)?; // VE node 0 (the emulated VE: a helper process)
//!     let ctx = proc.open_context()?; // a queue of requests
//!     let host = [1.0, 2.0, 6.0];
//!     let a = proc.alloc_from(&host)?; // VE memory, freed on drop
//!     let avg: f64 = average(&ctx, a.as_ptr(), host.len() as i32)?.wait()?;
//!     assert_eq!(avg, 3.0);
//!     // The same, synchronously on the proc:
//!     assert_eq!(average_sync(&proc, a.as_ptr(), 3)?, 3.0);
//!     Ok(())
//! }
//! ```
//!
//! A declaration the C definition disagrees with (`f32` for a `double`, a
//! missing parameter, a kernel no source defines) fails `cargo build`,
//! naming both lines.
//!
//! # Argument types
//!
//! | Rust parameter | C parameter | passed |
//! |---|---|---|
//! | `i8` `i16` `i32` `i64` `u8` ... `u64`, `isize`, `usize` | `int8_t` ... `uint64_t`, `long`, `unsigned long` | in a register (`u8` for a C `bool`) |
//! | `f32`, `f64` | `float`, `double` | in a register |
//! | [`VePtr<T>`] | `T *` | the address, in a register |
//! | `&T` (`T: Pod`) | `const T *` | a copy on the VE stack (IN) |
//! | `&[T]` | `const T *` | a copy on the VE stack (IN) |
//! | `&mut T`, `&mut [T]` | `T *` | on the VE stack, copied back (INOUT) |
//! | `#[out] &mut [T]` | `T *` | on the VE stack, only copied back (OUT) |
//!
//! The return type is one of the scalar types, a [`VePtr<T>`] or `()`.
//! With `#[ve_kernel(fortran)]` scalars are passed by reference and the
//! symbol is lower-cased with a trailing `_`, as gfortran and nfort do.
//!
//! # OnStack intents
//!
//! References are copied onto the VE stack for the call (VEO's
//! `VEO_INTENT_IN`/`INOUT`/`OUT`): `&[T]` goes in only, `&mut [T]` goes
//! in and comes back into the same slice when the request finishes,
//! `#[out] &mut [T]` only comes back. The borrow lasts as long as the
//! [`Request`], so the slice cannot be read before the kernel wrote it.
//! Large data belongs in VE memory ([`Proc::alloc`], [`VeBuffer`]): the
//! stack image is limited ([`Error::StackTooLarge`]).
//!
//! # Requests
//!
//! The generated `name(&ctx, ...)` submits the call to the context's
//! queue and returns at once with a [`Request`]; calls on one context run
//! in order, contexts run in parallel. [`Request::wait`] blocks for the
//! result, [`Request::peek`] asks without blocking, and
//! [`Request::wait_timeout`] gives up after a while (the request stays
//! pending). `name_sync(&proc, ...)` submits and waits. Transfers have
//! asynchronous forms too ([`Context::write_async`],
//! [`Context::read_async`]).
//!
//! ```no_run
//! # use veo_runtime::{ve_kernel, Proc, VePtr};
//! # #[ve_kernel(library = "kernels")]
//! # extern "C" { fn average(a: VePtr<f64>, n: i32) -> f64; }
//! # fn main() -> veo_runtime::Result<()> {
//! let proc = Proc::new(0)?;
//! let ctx = proc.open_context()?;
//! let a = proc.alloc_from(&[1.0, 2.0])?;
//! let b = proc.alloc_from(&[3.0, 5.0])?;
//! let first = average(&ctx, a.as_ptr(), 2)?; // both in flight
//! let second = average(&ctx, b.as_ptr(), 2)?;
//! assert_eq!((first.wait()?, second.wait()?), (1.5, 4.0));
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every operation returns [`Result`]; the [`Error`] says what went wrong
//! and what to do: [`Error::LibraryNotFound`] (with every place looked
//! at), [`Error::SymbolNotFound`], [`Error::InvalidAddress`] (a bad or
//! freed VE address, or more data than a buffer holds),
//! [`Error::KernelException`] (the kernel crashed: the signal and address),
//! [`Error::HelperDied`], [`Error::Timeout`] (with the limit given),
//! [`Error::Closed`] (the proc or context, a [`Closable`]),
//! [`Error::TooManyContexts`], [`Error::LibraryUnloaded`],
//! [`Error::WrongProc`]... Each is built complete where it happens, names
//! and paths shortened when long. Bad input never panics.
//!
//! # Where the library is found
//!
//! The kernels' library is embedded in the program: it keeps working after
//! `cargo install`, `cargo clean` or a copy to another machine of the same
//! kind. It is taken from, in order: the file `VEO_LIB_<name>_PATH`
//! (`VEO_LIB_kernels_PATH`) names at run time, when set (and only from
//! there: a wrong path is an error); the path it was built at, while the
//! file there holds the same bytes; the copy in the program, through an
//! in-memory file. When none gives a file, [`Error::LibraryNotFound`] lists
//! where it looked.
//!
//! # Static kernels
//!
//! `veo_build::Build::new().files_in("kernels").compile_static("kernels")`
//! links the kernels into the program itself (py-veo's `static_library()`,
//! AVEO's `mk_veorun_static`), and `#[ve_kernel(static)]` calls them there.
//! On a real VE the kernels are linked into a VE helper instead, which
//! [`ProcBuilder::static_helper`] starts (docs/HARDWARE.md). Each
//! `#[ve_kernel(static)]` block registers its kernels' addresses in a
//! table the linker assembles, where the helper finds them: they work from
//! every binary, test and example of the package and from any crate that
//! uses the package's stubs, with no linker flags (a kernel that is not
//! linked in is a link error). Kernels named only at run time
//! ([`Proc::get_function`]) are looked up in the program's dynamic symbol
//! table, which veo-build fills for the package's own programs; another
//! crate's programs need `-rdynamic` for those.
//!
//! # The emulated VE and the hardware
//!
//! Without the NEC compilers (`ncc`, `nc++`, `nfort` in `/opt/nec/ve/bin`,
//! or `NCC`/`NCXX`/`NFORT`), veo-build compiles the kernels with the host
//! compilers and [`Proc::new`] starts a helper process that plays the VE:
//! the same program re-executed in helper mode, or the program named by
//! `VEORUN_BIN`. It has its own address space, loads the libraries, runs
//! each context on a thread of its own and shares VE memory with this
//! process, so a program tests its offloading (arguments, intents, errors,
//! crashes) on any Linux machine. What differs on a real VE: the kernels are
//! VE code (vectorised, 8 cores per VE, HBM memory), transfers go over
//! PCIe, and `long double`, host pointers or host callbacks cannot cross.
//!
//! The emulated VE is the `emulator` feature, on by default. A build for
//! hardware only (`veo-runtime = { version = "0.1", default-features =
//! false }`) links none of it (no helper, no libffi, no constructor that
//! runs before `main`); there [`Proc::new`] on the emulated VE returns
//! [`Error::NotCompiledIn`], and `#[ve_kernel]` blocks compile unchanged.
//!
//! On a VE host the same program runs on the AVEO backend, NEC's
//! `libveo.so.1`: chosen by [`ProcBuilder::backend`], else `VEO_BACKEND`
//! (`emulated`, `aveo`, `auto`), else automatically when the library loads
//! and the host has a VE device; [`Proc::backend`] says which
//! ([`Backend`]). The typed stubs and every public type are the same.
//!
//! # Without the macro
//!
//! The runtime API underneath is VEO's: load a library, look a kernel up,
//! push its arguments.
//!
//! ```no_run
//! use veo_runtime::{Args, Proc};
//!
//! # fn main() -> veo_runtime::Result<()> {
//! let proc = Proc::new(0)?;
//! let ctx = proc.open_context()?;
//! let lib = proc.load_library("./libkernels.so")?;
//! let average = lib.function("average")?;
//! let a = proc.alloc_from(&[1.0, 2.0, 3.0, 4.0])?;
//! let mut args = Args::new();
//! args.ptr(a.as_ptr()).i32(4);
//! let avg: f64 = ctx.call(&average, args)?.wait()?;
//! assert_eq!(avg, 2.5);
//! # Ok(()) }
//! ```
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
//! Open the file in [Perfetto](https://ui.perfetto.dev) ("Open trace file")
//! to see a track per context; the repository's `trace_svg` program draws
//! it offline, as below (the trace of its `async_pipeline` example: four
//! contexts, each writing, running a kernel and reading back):
//!
#![doc = include_str!("../doc/trace.svg")]
//!
//! # Examples
//!
//! From a clone of the repository, `cargo run -p veo-runtime --example
//! average` runs the program of "Without the macro" end to end, its
//! kernel compiled at run time by veo-build; the repository's
//! `veo-examples` package has the py-veo examples ported with
//! `#[ve_kernel]` and the benchmarks (`cargo run --release -p veo-examples
//! --bin average`, `--bin latency`, ...).
#![warn(missing_docs)]
// The guide shows whole files (build.rs, main.rs), `fn main` included.
#![allow(clippy::needless_doctest_main)]

mod arglist;
mod args;
pub mod aveo;
mod backend;
mod context;
mod deadline;
mod emulated;
mod error;
mod future;
pub mod hmem;
mod hooks;
mod intent;
mod library;
mod life;
mod locate;
mod mem_hooks;
mod memory;
mod proc;
mod ptr;
mod queue;
mod registry;
mod request;
mod slot;
mod spilled;
#[cfg(not(feature = "emulator"))]
mod statics;
mod trace;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use arglist::{ArgList, ResultKind};
pub use args::{Args, KernelArg, KernelRet, Out, MAX_ARGS};
pub use aveo::select::{Backend, BackendChoice};
pub use context::{Context, ContextState};
pub use error::{Closable, Error, Result};
pub use future::RequestFuture;
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
pub use trace::KernelProfile;
/// Declares VE kernels: turns an `extern "C"` block of kernel declarations
/// into typed Rust functions that call them on the VE.
///
/// For each `fn name(params) -> R;` of the block it generates:
///
/// - `name(ctx: &Context, params) -> Result<Request<R>>`: submits the call
///   to the context's queue and returns at once; [`Request::wait`] gives
///   the result. `&mut` parameters stay borrowed until the request ends.
/// - `name_sync(proc: &Proc, params) -> Result<R>`: calls and waits.
///
/// The parameters follow the [type table](crate#argument-types): scalars
/// and [`VePtr`] in registers, `&T`/`&[T]` copied onto the VE stack (IN),
/// `&mut T`/`&mut [T]` copied there and back (INOUT), `#[out] &mut [T]`
/// only copied back (OUT). A type that can never cross (`String`, `Vec`, a
/// host pointer, a non-`Pod` struct) is a compile error at that type.
///
/// # Options
///
/// - `library = "name"`: the kernels are in the library built by
///   `veo_build::Build::new()...compile("name")` in `build.rs`; the library
///   is embedded in the program and found at run time as the
///   [guide](crate#where-the-library-is-found) says. veo-build checks each declaration against its C definition.
/// - `static`: the kernels are linked into the program
///   ([`Proc::static_library`], `veo_build::Build::compile_static`).
/// - `fortran`: Fortran kernels: the symbol is the lower-cased name with a
///   trailing `_`, and scalars are passed by reference (gfortran, nfort).
/// - `crate = path`: where this crate is, when it is re-exported under
///   another name (`::veo_runtime` by default).
///
/// Doc comments and other attributes of each `fn` go to the generated
/// functions; `pub fn` makes them public.
///
/// # Example
///
/// With `kernels/scale.c` holding
/// `void scale(double *x, unsigned long n, double f)` and
/// `double dot(const double *a, const double *b, int n)`, and `build.rs`
/// compiling it as `kernels`:
///
/// ```no_run
/// use veo_runtime::{ve_kernel, Proc, VePtr};
///
/// #[ve_kernel(library = "kernels")]
/// extern "C" {
///     /// Multiplies `n` doubles by `f`, in place on the VE stack.
///     pub fn scale(x: &mut [f64], n: usize, f: f64);
///     /// The dot product of two vectors in VE memory.
///     pub fn dot(a: VePtr<f64>, b: VePtr<f64>, n: i32) -> f64;
/// }
///
/// # fn main() -> veo_runtime::Result<()> {
/// let proc = Proc::new(0)?;
/// let ctx = proc.open_context()?;
/// let mut x = vec![1.0, 2.0, 3.0];
/// scale(&ctx, &mut x, 3, 2.0)?.wait()?; // x is copied there and back
/// assert_eq!(x, [2.0, 4.0, 6.0]);
///
/// let a = proc.alloc_from(&x)?;
/// let b = proc.alloc_from(&[1.0, 1.0, 1.0])?;
/// assert_eq!(dot_sync(&proc, a.as_ptr(), b.as_ptr(), 3)?, 12.0);
/// # Ok(()) }
/// ```
pub use veo_macros::ve_kernel;

/// The version of AVEO's API whose behaviour this runtime provides (its
/// `VEO_API_VERSION`): request queues, HMEM addresses, memory hooks.
pub const AVEO_API_VERSION: i32 = 16;
