//! The registry of static kernels: each `#[ve_kernel(static)]` block puts
//! the address of every kernel it declares into a slice the linker
//! assembles, so that the helper (the same program re-executed) finds them
//! without the program exporting its symbols (`-rdynamic`), from any binary
//! and any crate that declares them. No constructor is involved: the slice
//! is there before the helper starts serving, which happens before `main`.

/// One kernel linked into the program, as `#[ve_kernel(static)]` registers
/// it.
#[doc(hidden)]
pub struct StaticKernel {
    symbol: &'static str,
    addr: fn() -> usize,
}

impl StaticKernel {
    /// The kernel `symbol`, whose address `addr` gives.
    pub const fn new(symbol: &'static str, addr: fn() -> usize) -> StaticKernel {
        StaticKernel { symbol, addr }
    }
}

/// Every registered static kernel of the program.
#[doc(hidden)]
#[linkme::distributed_slice]
pub static STATIC_KERNELS: [StaticKernel];

/// The address of the registered kernel `symbol`.
pub(crate) fn find(symbol: &[u8]) -> Option<u64> {
    STATIC_KERNELS
        .iter()
        .find(|k| k.symbol.as_bytes() == symbol)
        .map(|k| (k.addr)() as u64)
}
