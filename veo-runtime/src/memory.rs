//! VE memory: owned buffers, their slices, and the checks of every
//! transfer's range. The transfers themselves are the backend's (the
//! emulated VE's: `crate::emulated::transfer`).

use crate::backend::ProcBackend;
use crate::error::{Error, Result};
use crate::ptr::VePtr;

/// VE memory owned by the program: freed when dropped (py-veo's `VEMemPtr`
/// from `alloc_mem`, with an owner).
///
/// ```
/// use veo_runtime::Proc;
///
/// # fn main() -> veo_runtime::Result<()> {
/// let proc = Proc::new(0)?;
/// let buf = proc.alloc_from(&[1.0f64, 2.0, 3.0, 4.0])?; // allocate and copy in
/// assert_eq!(buf.len(), 4);
/// proc.write(buf.slice(1..3)?, &[20.0, 30.0])?;          // a checked sub-range
/// assert_eq!(buf.to_vec()?, [1.0, 20.0, 30.0, 4.0]);     // copy out
/// assert!(buf.slice(3..5).is_err());                     // out of bounds
/// let _arg = buf.slice(2..)?.as_ptr();                   // a kernel argument
/// # Ok(()) }
/// ```
pub struct VeBuffer<T> {
    proc: ProcBackend,
    ptr: VePtr<T>,
    len: usize,
}

impl<T> std::fmt::Debug for VeBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VeBuffer({:#x}, len {})", self.ptr.addr(), self.len)
    }
}

impl<T> VeBuffer<T> {
    pub(crate) fn new(proc: ProcBackend, ptr: VePtr<T>, len: usize) -> Self {
        VeBuffer { proc, ptr, len }
    }

    /// The VE address of the first element.
    pub fn as_ptr(&self) -> VePtr<T> {
        self.ptr
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size in bytes.
    pub fn size_bytes(&self) -> usize {
        self.len * std::mem::size_of::<T>()
    }

    /// A copy of its contents, read from VE memory.
    pub fn to_vec(&self) -> Result<Vec<T>>
    where
        T: bytemuck::Pod,
    {
        read_vec(&self.proc, self.ptr, self.len)
    }

    /// The elements in `range`, checked against the buffer's length: usable
    /// wherever VE memory is taken ([`AsVePtr`]: `Proc::write`, `read`,
    /// `Context::write_async`...) and, through
    /// [`as_ptr`](VeSlice::as_ptr), as a kernel argument. It borrows the
    /// buffer, which cannot be freed meanwhile.
    pub fn slice(&self, range: impl std::ops::RangeBounds<usize>) -> Result<VeSlice<'_, T>> {
        use std::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(&s) => Some(s),
            Bound::Excluded(&s) => s.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.checked_add(1),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => Some(self.len),
        };
        match (start, end) {
            (Some(start), Some(end)) if start <= end && end <= self.len => Ok(VeSlice {
                proc: &self.proc,
                ptr: self.ptr.add(start),
                len: end - start,
            }),
            _ => Err(Error::InvalidArgument(format!(
                "range {:?}..{:?} is out of a VE buffer of {} elements",
                range.start_bound(),
                range.end_bound(),
                self.len
            ))),
        }
    }

    /// Gives up ownership: the memory is no longer freed on drop.
    pub fn into_raw(self) -> VePtr<T> {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }
}

impl<T> Drop for VeBuffer<T> {
    fn drop(&mut self) {
        if !self.proc.is_dead() {
            // Nothing useful to do with an error while dropping; a dead proc
            // has released the memory anyway.
            let _ = self.proc.free_mem(self.ptr.cast());
        }
    }
}

/// A bounds-checked part of a [`VeBuffer`], from [`VeBuffer::slice`].
pub struct VeSlice<'a, T> {
    proc: &'a ProcBackend,
    ptr: VePtr<T>,
    len: usize,
}

impl<T> std::fmt::Debug for VeSlice<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VeSlice({:#x}, len {})", self.ptr.addr(), self.len)
    }
}

impl<T> Clone for VeSlice<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for VeSlice<'_, T> {}

impl<T> VeSlice<'_, T> {
    /// The VE address of its first element: what a kernel taking a
    /// `VePtr<T>` is given.
    pub fn as_ptr(&self) -> VePtr<T> {
        self.ptr
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of its contents, read from VE memory.
    pub fn to_vec(&self) -> Result<Vec<T>>
    where
        T: bytemuck::Pod,
    {
        read_vec(self.proc, self.ptr, self.len)
    }
}

fn read_vec<T: bytemuck::Pod>(proc: &ProcBackend, ptr: VePtr<T>, len: usize) -> Result<Vec<T>> {
    let mut v = vec![T::zeroed(); len];
    proc.read_bytes(bytemuck::cast_slice_mut(&mut v), ptr.addr())?;
    Ok(v)
}

impl<T> AsVePtr<T> for VeSlice<'_, T> {
    fn ve_ptr(&self) -> VePtr<T> {
        self.ptr
    }
    fn ve_len(&self) -> Option<usize> {
        Some(self.len)
    }
}
impl<T> AsVePtr<T> for &VeSlice<'_, T> {
    fn ve_ptr(&self) -> VePtr<T> {
        self.ptr
    }
    fn ve_len(&self) -> Option<usize> {
        Some(self.len)
    }
}

/// Something that names VE memory: a [`VePtr`], or a [`VeBuffer`] or
/// [`VeSlice`] (whose length is then checked).
pub trait AsVePtr<T> {
    /// The address.
    fn ve_ptr(&self) -> VePtr<T>;
    /// The number of elements there, when known.
    fn ve_len(&self) -> Option<usize> {
        None
    }
}

impl<T> AsVePtr<T> for VePtr<T> {
    fn ve_ptr(&self) -> VePtr<T> {
        *self
    }
}
impl<T> AsVePtr<T> for &VeBuffer<T> {
    fn ve_ptr(&self) -> VePtr<T> {
        self.ptr
    }
    fn ve_len(&self) -> Option<usize> {
        Some(self.len)
    }
}
impl<T> AsVePtr<T> for &mut VeBuffer<T> {
    fn ve_ptr(&self) -> VePtr<T> {
        self.ptr
    }
    fn ve_len(&self) -> Option<usize> {
        Some(self.len)
    }
}

/// Checks that `count` elements fit the VE side, when its length is known.
pub(crate) fn check_fits<T>(ve: &impl AsVePtr<T>, count: usize) -> Result<()> {
    match ve.ve_len() {
        Some(len) if count > len => Err(Error::InvalidAddress {
            addr: ve.ve_ptr().addr(),
            len: (count * std::mem::size_of::<T>()) as u64,
            reason: format!("{count} elements do not fit a VE buffer of {len}"),
        }),
        _ => Ok(()),
    }
}

/// Bytes of `count` elements at `at`, or an error when that overflows.
pub(crate) fn byte_len<T>(at: VePtr<T>, count: usize) -> Result<u64> {
    (count as u64)
        .checked_mul(std::mem::size_of::<T>() as u64)
        .ok_or_else(|| Error::InvalidAddress {
            addr: at.addr(),
            len: u64::MAX,
            reason: "length overflows".into(),
        })
}

/// Checks that a range does not wrap around the address space.
pub(crate) fn check_range(addr: u64, len: u64) -> Result<()> {
    if addr.checked_add(len).is_none() {
        return Err(Error::InvalidAddress {
            addr,
            len,
            reason: "address + length overflows".into(),
        });
    }
    Ok(())
}
