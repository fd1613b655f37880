//! Synchronous transfers between host and VE memory.
//!
//! Reads and writes of memory from `alloc_mem` are a `memcpy`: the helper
//! allocates it in the segment's VE memory region, which this process maps
//! too (`veo_urpc::Heap`), and a copy is made only when every page of the
//! range belongs to a live allocation. Anything else (memory a kernel got
//! from its own `malloc`, freed or bad addresses) goes straight into the
//! helper's address space with `process_vm_readv`/`writev` (cross-memory
//! attach): one copy, no helper involvement, and a bad address is `EFAULT`,
//! never a crash. Where the system forbids that, transfers go through the
//! control channel in overlapping pieces instead.

use super::request::What;
use super::EmulatedProc;
use crate::error::{Error, Result};
use crate::memory;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use veo_urpc::proto;
use veo_urpc::pvm::{self, PvmError};

/// What the transfers learn about the helper as the proc runs.
pub(crate) struct Transfers {
    /// Cross-memory attach is allowed (until a call says otherwise).
    pvm: AtomicBool,
    /// The VE address of the segment's VE memory region in the helper (0:
    /// none, or not yet known).
    heap_helper_base: AtomicU64,
}

impl Transfers {
    pub(crate) fn new() -> Transfers {
        Transfers {
            pvm: AtomicBool::new(true),
            heap_helper_base: AtomicU64::new(0),
        }
    }

    /// The helper announced where it maps the VE memory region.
    pub(crate) fn set_helper_base(&self, base: u64) {
        self.heap_helper_base.store(base, Ordering::Release);
    }
}

impl EmulatedProc {
    /// This process's address of the VE memory `[addr, addr + len)`, if the
    /// range lies entirely in the shared VE memory file.
    pub(crate) fn local_ve_memory(&self, addr: u64, len: usize) -> Option<*mut u8> {
        let base = self.transfer.heap_helper_base.load(Ordering::Acquire);
        if base == 0 {
            return None;
        }
        self.seg.heap()?.alias(base, addr, len as u64)
    }

    pub(crate) fn write_bytes(&self, addr: u64, src: &[u8]) -> Result<()> {
        self.life.check()?;
        memory::check_range(addr, src.len() as u64)?;
        if src.is_empty() {
            return Ok(());
        }
        if let Some(p) = self.local_ve_memory(addr, src.len()) {
            // SAFETY: `p..p + len` lies inside our mapping of the VE memory
            // file (checked by `Heap::alias`), which lives as long as
            // `self`; nothing in this process holds a reference into it.
            unsafe { veo_urpc::copy::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
            return Ok(());
        }
        if self.transfer.pvm.load(Ordering::Relaxed) {
            match pvm::write(self.life.pid, addr, src) {
                Ok(()) => return Ok(()),
                Err(PvmError::Unsupported(_)) => self.transfer.pvm.store(false, Ordering::Relaxed),
                Err(PvmError::BadAddress(reason)) => {
                    self.life.check()?;
                    return Err(Error::InvalidAddress {
                        addr,
                        len: src.len() as u64,
                        reason,
                    });
                }
            }
        }
        // Through the control channel, in overlapping pieces.
        let mut s = self.control.submit()?;
        let reqid = s.next_reqid();
        s.message(proto::KIND_WRITE, reqid, 16, |b| {
            proto::encode_words(b, &[addr, src.len() as u64])
        })?;
        s.data(reqid, 0, src)?;
        drop(s);
        self.finish(
            reqid,
            What::Transfer {
                addr,
                len: src.len() as u64,
            },
        )
        .map(|_| ())
    }

    pub(crate) fn read_bytes(&self, dst: &mut [u8], addr: u64) -> Result<()> {
        self.life.check()?;
        memory::check_range(addr, dst.len() as u64)?;
        if dst.is_empty() {
            return Ok(());
        }
        let len = dst.len() as u64;
        if let Some(p) = self.local_ve_memory(addr, dst.len()) {
            // SAFETY: as in `write_bytes`; `dst` is a distinct host buffer.
            unsafe { veo_urpc::copy::copy_nonoverlapping(p, dst.as_mut_ptr(), dst.len()) };
            return Ok(());
        }
        if self.transfer.pvm.load(Ordering::Relaxed) {
            match pvm::read(self.life.pid, dst, addr) {
                Ok(()) => return Ok(()),
                Err(PvmError::Unsupported(_)) => self.transfer.pvm.store(false, Ordering::Relaxed),
                Err(PvmError::BadAddress(reason)) => {
                    self.life.check()?;
                    return Err(Error::InvalidAddress { addr, len, reason });
                }
            }
        }
        let reqid = self.control.simple(proto::KIND_READ, &[addr, len], &[])?;
        let done = self.finish(reqid, What::Transfer { addr, len })?;
        if done.data.len() != dst.len() {
            return Err(Error::Helper(format!(
                "a read of {len} bytes was answered with {}",
                done.data.len()
            )));
        }
        veo_urpc::copy::copy(dst, &done.data);
        Ok(())
    }
}
