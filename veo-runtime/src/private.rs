//! What the code `#[ve_kernel]` generates uses, and nothing else should:
//! not part of the API, and free to change in any release.
//!
//! Reached as `veo_runtime::__private` (hidden from the documentation), and
//! by no other path: the stubs name these items, users never do.

use crate::args::{Args, KernelRet};
pub use crate::args::{RegisterArg, Regs};
use crate::context::Context;
use crate::error::Result;
use crate::library::Function;
use crate::proc::Proc;
use crate::request::Request;

pub use crate::library::{BuiltLibrary, KernelLibrary};
pub use crate::slot::KernelSlot;
/// The registry of static kernels, which `#[ve_kernel(static)]` blocks fill:
/// the emulated VE's, where its helper finds them.
#[cfg(feature = "emulator")]
pub use ve_helper::{linkme, StaticKernel, STATIC_KERNELS};
/// The registry of static kernels, which `#[ve_kernel(static)]` blocks fill:
/// the same items without the emulated VE (`statics.rs`).
#[cfg(not(feature = "emulator"))]
pub use {
    crate::statics::{StaticKernel, STATIC_KERNELS},
    linkme,
};

/// Queues a call of the kernel `symbol` of `lib` on `ctx`: the body of an
/// async stub. `slot` is the stub's own cache of the kernel's address.
#[inline]
pub fn call_kernel<'a, R: KernelRet>(
    ctx: &'a Context,
    slot: &KernelSlot,
    lib: &KernelLibrary,
    symbol: &str,
    args: &mut Args<'a>,
) -> Result<Request<'a, R>> {
    ctx.backend.call_kernel(slot, lib, symbol, args)
}

/// Calls the kernel `symbol` of `lib` on `proc` and waits for its result:
/// the body of a `_sync` stub.
#[inline]
pub fn call_kernel_sync<R: KernelRet>(
    proc: &Proc,
    slot: &KernelSlot,
    lib: &KernelLibrary,
    symbol: &str,
    args: &mut Args<'_>,
) -> Result<R> {
    proc.backend.call_kernel_sync(slot, lib, symbol, args)
}

/// [`call_kernel`] for a stub whose arguments all travel in registers:
/// they come in `regs`, built on the stub's stack, not in an `Args`.
#[inline]
pub fn call_kernel_regs<'a, R: KernelRet, const N: usize>(
    ctx: &'a Context,
    slot: &KernelSlot,
    lib: &KernelLibrary,
    symbol: &str,
    regs: &Regs<N>,
) -> Result<Request<'a, R>> {
    ctx.backend.call_kernel_regs(slot, lib, symbol, regs)
}

/// [`call_kernel_sync`] for a stub whose arguments all travel in registers.
#[inline]
pub fn call_kernel_sync_regs<R: KernelRet, const N: usize>(
    proc: &Proc,
    slot: &KernelSlot,
    lib: &KernelLibrary,
    symbol: &str,
    regs: &Regs<N>,
) -> Result<R> {
    proc.backend.call_kernel_sync_regs(slot, lib, symbol, regs)
}

/// The kernel `symbol` of `lib` in `proc`, loading the library on first
/// use; cached per proc, library and symbol. What a stub's slot falls back
/// on, for tests of that cache.
pub fn kernel(proc: &Proc, lib: &KernelLibrary, symbol: &str) -> Result<Function> {
    proc.kernel(lib, symbol)
}
