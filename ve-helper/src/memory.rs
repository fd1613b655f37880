//! "VE memory": the helper's own address space, accessed so that a bad
//! address is an error and never a crash.

use crate::heap::VeHeap;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use veo_urpc::pvm::{self, Direction};

/// This process's id, for cross-memory copies within itself (asked each
/// time: a kernel's `fork()` child must not copy from its parent).
fn this_process() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// Why an access failed.
#[derive(Debug)]
pub(crate) struct BadAddress(pub String);

/// Copies `len` bytes from `src` to `dst`, either of which may be any
/// address: `process_vm_readv` on ourselves reports unmapped memory as
/// `EFAULT` instead of faulting (memory a kernel allocated with its own
/// `malloc` is reachable too, unlike with a table of our allocations).
pub(crate) fn copy(dst: u64, src: u64, len: u64) -> Result<(), BadAddress> {
    if len == 0 {
        return Ok(());
    }
    if dst.checked_add(len).is_none() || src.checked_add(len).is_none() {
        return Err(BadAddress("address + length overflows".into()));
    }
    if let Some(direct) = DIRECT.get() {
        // No block is unmapped while this is held.
        let _hold = direct.heap.map(|h| h.hold());
        if direct.safe(dst, len) && direct.safe(src, len) {
            let (s, d, n) = (src as *const u8, dst as *mut u8, len as usize);
            // SAFETY: both ranges lie in the segment (mapped for the life of
            // the process) or in live VE memory (mapped while `_hold` is
            // held): no access can fault. They may overlap (a VE memcpy):
            // `ptr::copy` then, the fast copy when they are disjoint.
            unsafe {
                if dst.abs_diff(src) < len {
                    std::ptr::copy(s, d, n);
                } else {
                    veo_urpc::copy::copy_nonoverlapping(s, d, n);
                }
            }
            return Ok(());
        }
    }
    // SAFETY: `dst` is written only where the kernel finds it mapped (an
    // unmapped byte is EFAULT, not a fault); the VEO API gives the VE side
    // this address as writable VE memory and no Rust reference covers it.
    unsafe {
        pvm::copy(
            this_process(),
            Direction::Read,
            dst as *mut u8,
            src,
            len as usize,
        )
    }
    .map_err(|e| BadAddress(e.to_string()))
}

/// Checks that all of `[addr, addr + len)` can be read, before a read
/// sends any of it: the VH places answer bytes straight into the caller's
/// buffer, which a read that fails half-way must leave alone.
pub(crate) fn readable(addr: u64, len: u64) -> Result<(), BadAddress> {
    if len == 0 {
        return Ok(());
    }
    let end = addr
        .checked_add(len)
        .ok_or_else(|| BadAddress("address + length overflows".into()))?;
    if let Some(direct) = DIRECT.get() {
        let _hold = direct.heap.map(|h| h.hold());
        if direct.safe(addr, len) {
            return Ok(());
        }
    }
    // Elsewhere, one byte of every page, up to 1024 pages per system call.
    const PAGE: u64 = 4096;
    let mut sink = [0u8; 1024];
    let mut page = addr;
    while page < end {
        let mut remote = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 1,
        }; 1024];
        let mut n = 0;
        while n < remote.len() && page < end {
            remote[n].iov_base = page as *mut libc::c_void;
            n += 1;
            page = (page / PAGE + 1) * PAGE;
        }
        let local = libc::iovec {
            iov_base: sink.as_mut_ptr().cast(),
            iov_len: n,
        };
        // SAFETY: the kernel checks the remote bytes against our mappings
        // and stops at the first unmapped one; `local` is our own buffer of
        // at least `n` bytes, borrowed by nothing else.
        let got = unsafe { pvm::read_vectored(this_process(), &[local], &remote[..n]) }
            .map_err(|e| BadAddress(e.to_string()))?;
        if got < n {
            return Err(BadAddress("not mapped".into()));
        }
    }
    Ok(())
}

/// Where plain copies cannot fault: the shared segment (mapped for the
/// life of the process), and live VE memory in the segment's region (mapped
/// while [`VeHeap::hold`] is held). Set once, before serving.
struct Direct {
    segment: (u64, u64),
    heap: Option<&'static VeHeap>,
}

static DIRECT: OnceLock<Direct> = OnceLock::new();

/// Records where copies may be plain (see [`copy`]).
pub(crate) fn set_direct(segment: (u64, u64), heap: Option<&'static VeHeap>) {
    let _ = DIRECT.set(Direct { segment, heap });
}

impl Direct {
    /// Whether `[addr, addr + len)` is reached without any risk of a fault
    /// (for VE memory: while the heap is held).
    fn safe(&self, addr: u64, len: u64) -> bool {
        let (start, end) = self.segment;
        (addr >= start && addr <= end && len <= end - addr)
            || self.heap.is_some_and(|h| h.is_live(addr, len))
    }
}

/// The allocations made through the VEO API, so that `free` of anything else
/// is an error instead of heap corruption. They come from the shared VE
/// memory file when there is one (and room in it), else from `malloc`.
#[derive(Default)]
pub(crate) struct Allocations {
    heap: Option<&'static VeHeap>,
    live: Mutex<HashMap<u64, u64>>,
}

impl Allocations {
    /// Allocations served from `heap` first.
    pub(crate) fn with_heap(heap: Option<&'static VeHeap>) -> Allocations {
        Allocations {
            heap,
            live: Mutex::default(),
        }
    }

    pub(crate) fn alloc(&self, size: u64) -> Option<u64> {
        if let Some(addr) = self.heap.and_then(|h| h.alloc(size)) {
            return Some(addr);
        }
        let size = usize::try_from(size).ok()?;
        let mut p = std::ptr::null_mut();
        // SAFETY: posix_memalign writes a pointer or fails; 64 is a power of
        // two multiple of the pointer size.
        let rc = unsafe { libc::posix_memalign(&mut p, 64, size.max(1)) };
        if rc != 0 || p.is_null() {
            return None;
        }
        let addr = p as u64;
        crate::lock(&self.live).insert(addr, size as u64);
        Some(addr)
    }

    pub(crate) fn free(&self, addr: u64) -> Result<(), BadAddress> {
        if let Some(h) = self.heap.filter(|h| h.contains(addr)) {
            return match h.free(addr) {
                true => Ok(()),
                false => Err(BadAddress(
                    "not allocated by this proc, or already freed".into(),
                )),
            };
        }
        if crate::lock(&self.live).remove(&addr).is_none() {
            return Err(BadAddress(
                "not allocated by this proc, or already freed".into(),
            ));
        }
        // SAFETY: addr came from posix_memalign in `alloc` and was removed
        // from the table, so it is freed exactly once.
        unsafe { libc::free(addr as *mut libc::c_void) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_stops_at_the_first_unmapped_page() {
        // SAFETY: a fresh private mapping of three pages; the last one is
        // unmapped again at once, the rest at the end of the test.
        let base = unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                3 * 4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            libc::munmap(p.cast::<u8>().add(2 * 4096).cast(), 4096);
            p as u64
        };
        assert!(readable(base, 2 * 4096).is_ok());
        assert!(readable(base + 100, 4096).is_ok(), "across a page boundary");
        assert!(readable(base + 4096, 4097).is_err(), "one byte too far");
        assert!(readable(base, 3 * 4096).is_err());
        assert!(readable(base + 2 * 4096, 1).is_err());
        assert!(readable(u64::MAX - 3, 8).is_err(), "overflow");
        assert!(readable(8, 0).is_ok(), "nothing to read");
        // SAFETY: the two pages still mapped above.
        unsafe { libc::munmap(base as *mut libc::c_void, 2 * 4096) };
    }
}
