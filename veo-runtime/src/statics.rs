//! The registry of static kernels in a build without the emulated VE.
//!
//! `#[ve_kernel(static)]` blocks register each kernel in
//! `__private::STATIC_KERNELS`, a slice the linker assembles. With the
//! `emulator` feature that slice is the helper's own (`ve-helper`, which
//! looks kernels up in it); without it, nothing in this program reads the
//! slice (a VE finds static kernels in its own helper binary), and it is
//! defined here, with the same items, so that the code the macro generates
//! compiles the same way in both builds.

/// One kernel linked into the program, as `#[ve_kernel(static)]` registers
/// it.
#[doc(hidden)]
pub struct StaticKernel {
    /// Read by nobody in this build; kept so the entry is what the
    /// emulated VE's registry holds.
    _symbol: &'static str,
    _addr: fn() -> usize,
}

impl StaticKernel {
    /// The kernel `symbol`, whose address `addr` gives.
    pub const fn new(symbol: &'static str, addr: fn() -> usize) -> StaticKernel {
        StaticKernel {
            _symbol: symbol,
            _addr: addr,
        }
    }
}

/// Every registered static kernel of the program.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static STATIC_KERNELS: [StaticKernel];
