//! Typed VE addresses.

use std::fmt;
use std::marker::PhantomData;

/// An address in the VE's memory, pointing at `T`s.
///
/// A `VePtr` is only a number: it can be copied, sent and stored freely, and
/// using a bad one is an [`Error::InvalidAddress`](crate::Error::InvalidAddress),
/// never a crash. Owned memory is a [`VeBuffer`](crate::VeBuffer).
///
/// ```
/// use veo_runtime::{Error, Proc, VePtr};
///
/// # fn main() -> veo_runtime::Result<()> {
/// let p = VePtr::<f64>::new(0x1000);
/// assert_eq!(p.add(2).addr(), 0x1010); // two f64 further on
/// assert_eq!(p.cast::<u8>().addr(), 0x1000);
///
/// let proc = Proc::new(0)?;
/// let mut x = [0.0; 1];
/// let e = proc.read(&mut x, VePtr::<f64>::new(8)).unwrap_err(); // not VE memory
/// assert!(matches!(e, Error::InvalidAddress { .. }));
/// # Ok(()) }
/// ```
#[repr(transparent)]
pub struct VePtr<T = u8> {
    addr: u64,
    _marker: PhantomData<fn() -> T>,
}

impl<T> VePtr<T> {
    /// The pointer at VE address `addr`.
    pub const fn new(addr: u64) -> Self {
        VePtr {
            addr,
            _marker: PhantomData,
        }
    }

    /// The null VE pointer.
    pub const fn null() -> Self {
        Self::new(0)
    }

    /// The VE address.
    pub const fn addr(self) -> u64 {
        self.addr
    }

    /// Whether this is the null pointer.
    pub const fn is_null(self) -> bool {
        self.addr == 0
    }

    /// The pointer `count` elements further on (wrapping, like `wrapping_add`).
    pub const fn add(self, count: usize) -> Self {
        Self::new(
            self.addr
                .wrapping_add((count as u64).wrapping_mul(std::mem::size_of::<T>() as u64)),
        )
    }

    /// The same address, pointing at `U`s.
    pub const fn cast<U>(self) -> VePtr<U> {
        VePtr::new(self.addr)
    }
}

impl<T> Clone for VePtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for VePtr<T> {}
impl<T> PartialEq for VePtr<T> {
    fn eq(&self, other: &Self) -> bool {
        self.addr == other.addr
    }
}
impl<T> Eq for VePtr<T> {}
impl<T> std::hash::Hash for VePtr<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.addr.hash(state)
    }
}
impl<T> Default for VePtr<T> {
    fn default() -> Self {
        Self::null()
    }
}
impl<T> fmt::Debug for VePtr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VePtr({:#x})", self.addr)
    }
}
impl<T> fmt::Pointer for VePtr<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.addr)
    }
}
