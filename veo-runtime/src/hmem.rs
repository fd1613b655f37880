//! Heterogeneous memory (AVEO's HMEM): one 64-bit address space for VH and
//! VE memory. A VE address is tagged with bit 63 and the identifier of its
//! proc in bits 62..59, so that a copy can find its direction and its proc
//! from the addresses alone.

use crate::error::{Closable, Error, Result};
use crate::mem_hooks::{self, MemoryOp};
use crate::proc::{Proc, WeakProc};
use crate::ptr::VePtr;
use std::sync::Mutex;

/// How many procs can have an identifier that fits an HMEM tag.
pub const MAX_PROC_IDENTIFIERS: usize = 16;

/// Bit 63: the address is VE memory.
pub const VE_ADDR_BIT: u64 = 1 << 63;

const IDENT_SHIFT: u32 = 59;
const IDENT_MASK: u64 = 0xf << IDENT_SHIFT;

/// Whether `addr` is a tagged VE address.
pub fn is_ve_addr(addr: u64) -> bool {
    addr & VE_ADDR_BIT != 0
}

/// The plain VE address of a tagged one; other addresses unchanged.
pub fn strip(addr: u64) -> u64 {
    if is_ve_addr(addr) {
        addr & !(VE_ADDR_BIT | IDENT_MASK)
    } else {
        addr
    }
}

/// The proc identifier a tagged address carries.
pub fn identifier_of(addr: u64) -> Option<usize> {
    is_ve_addr(addr).then_some(((addr & IDENT_MASK) >> IDENT_SHIFT) as usize)
}

/// Tags the VE address `addr` with proc identifier `ident`; `None` when the
/// identifier does not fit (AVEO's `veo_set_proc_identifier`).
pub fn tag(addr: u64, ident: usize) -> Option<u64> {
    (ident < MAX_PROC_IDENTIFIERS).then_some(addr | VE_ADDR_BIT | ((ident as u64) << IDENT_SHIFT))
}

/// Live procs by identifier: the lowest free slot is taken at creation,
/// and a slot is free again once its proc is closed or dropped.
static PROCS: Mutex<Vec<Option<WeakProc>>> = Mutex::new(Vec::new());

pub(crate) fn register(proc: &Proc) {
    let mut procs = PROCS.lock().unwrap_or_else(|e| e.into_inner());
    let free = procs
        .iter()
        .position(|s| s.as_ref().is_none_or(|w| !w.is_live()));
    match free {
        Some(i) => procs[i] = Some(proc.downgrade()),
        None => procs.push(Some(proc.downgrade())),
    }
}

/// The proc with identifier `ident`, while it is open.
pub fn proc_by_identifier(ident: usize) -> Option<Proc> {
    let procs = PROCS.lock().unwrap_or_else(|e| e.into_inner());
    procs.get(ident)?.as_ref()?.upgrade()
}

/// The proc owning the tagged address `addr`.
pub fn proc_of(addr: u64) -> Option<Proc> {
    proc_by_identifier(identifier_of(addr)?)
}

impl Proc {
    /// The proc's identifier: its index among the open procs, the lowest
    /// free one when it was created (AVEO's `veo_proc_identifier`).
    pub fn identifier(&self) -> Option<usize> {
        let procs = PROCS.lock().unwrap_or_else(|e| e.into_inner());
        procs
            .iter()
            .position(|s| s.as_ref().is_some_and(|w| w.is(self)))
    }

    /// Allocates `bytes` of VE memory and returns its tagged address
    /// (AVEO's `veo_alloc_hmem`); free it with [`free_hmem`]. Fails when
    /// the proc's identifier does not fit a tag (more than
    /// [`MAX_PROC_IDENTIFIERS`] procs).
    pub fn alloc_hmem(&self, bytes: u64) -> Result<u64> {
        let ident = self.identifier().ok_or(Error::Closed(Closable::Proc))?;
        if ident >= MAX_PROC_IDENTIFIERS {
            return Err(Error::InvalidArgument(format!(
                "proc identifier {ident} does not fit an HMEM address (at most {MAX_PROC_IDENTIFIERS} procs)"
            )));
        }
        let ptr = self.backend.alloc_mem(bytes)?;
        let addr = tag(ptr.addr(), ident).expect("identifier checked");
        mem_hooks::fire(MemoryOp::AllocHmem, self, None, addr, bytes);
        Ok(addr)
    }
}

fn owner(addr: u64) -> Result<Proc> {
    proc_of(addr).ok_or_else(|| {
        Error::InvalidArgument(format!("{addr:#x} is not the HMEM address of an open proc"))
    })
}

/// Frees VE memory from [`Proc::alloc_hmem`], given its tagged address.
pub fn free_hmem(addr: u64) -> Result<()> {
    let proc = owner(addr)?;
    proc.backend.free_mem(VePtr::new(strip(addr)))?;
    mem_hooks::fire(MemoryOp::FreeHmem, &proc, None, addr, 0);
    Ok(())
}

/// Copies `len` bytes between any two HMEM addresses (AVEO's
/// `veo_hmemcpy`): VH to VE, VE to VH, VH to VH, or inside one proc's VE
/// memory. VE memory of two different procs is an error.
///
/// # Safety
/// An untagged `dst` must be valid for writes of `len` bytes, an untagged
/// `src` valid for reads of `len` bytes, and the two must not overlap.
pub unsafe fn hmemcpy(dst: u64, src: u64, len: usize) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    match (is_ve_addr(dst), is_ve_addr(src)) {
        (false, false) => {
            // SAFETY: the caller's contract for untagged addresses.
            unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, len) };
            Ok(())
        }
        (true, false) => {
            // SAFETY: the caller's contract: `src` is readable for `len`.
            let bytes = unsafe { std::slice::from_raw_parts(src as *const u8, len) };
            owner(dst)?.backend.write_bytes(strip(dst), bytes)
        }
        (false, true) => {
            // SAFETY: the caller's contract: `dst` is writable for `len`
            // and does not overlap anything else this function touches.
            let bytes = unsafe { std::slice::from_raw_parts_mut(dst as *mut u8, len) };
            owner(src)?.backend.read_bytes(bytes, strip(src))
        }
        (true, true) => {
            let (d, s) = (owner(dst)?, owner(src)?);
            if d.identifier() != s.identifier() {
                return Err(Error::InvalidArgument(
                    "a copy between the VE memory of two procs".into(),
                ));
            }
            d.memcpy(VePtr::<u8>::new(strip(dst)), VePtr::new(strip(src)), len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_carry_the_ve_bit_and_the_identifier() {
        let a = tag(0x1234_5678, 5).unwrap();
        assert_eq!(a, 0x1234_5678 | 1 << 63 | 5 << 59);
        assert!(is_ve_addr(a));
        assert_eq!(identifier_of(a), Some(5));
        assert_eq!(strip(a), 0x1234_5678);
        assert_eq!(tag(1, 16), None);
        assert!(!is_ve_addr(0x1000));
        assert_eq!(strip(0x1000), 0x1000);
        assert_eq!(identifier_of(0x1000), None);
    }
}
