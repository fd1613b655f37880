//! The emulated VE's memory: a large, sparse region at the end of the shared
//! segment's file, which both the VH and the helper map.
//!
//! The helper allocates VE memory (`veo_alloc_mem`) in this region and maps
//! each allocation where kernels see it (its VE address); both processes
//! also map the whole region once, with the segment, as an *alias* that
//! never changes. The VH
//! then reads and writes VE memory with a plain `memcpy` through its alias:
//! no system call, no page pinning, no helper involvement. That is the
//! emulator's "DMA engine" for synchronous transfers; memory the helper did
//! not allocate here (a kernel's own `malloc`) is still reached with
//! cross-memory attach.
//!
//! The first pages of the file hold a bitmap with one bit per page: set
//! while the page belongs to a live allocation. Copies through an alias are
//! made only when every page of the range is live, so that an access to
//! freed VE memory stays an error (then the slow path finds the range
//! unmapped), and a copy racing with a free lands in the file, never in
//! unmapped memory: no access through an alias can fault.
//!
//! The region is as large as the machine's memory but sparse: only touched
//! pages take memory, and freed ranges are punched out of the file.

use rustix::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};

/// The page size of the region's bookkeeping.
pub const PAGE: u64 = 4096;

const GIB: usize = 1 << 30;

/// The default size of the VE memory region: the machine's memory rounded
/// up to a GiB (there is no point in more), at least 1 GiB, at most 1 TiB.
pub fn default_size() -> usize {
    let info = rustix::system::sysinfo();
    (info.totalram as usize)
        .saturating_mul(info.mem_unit as usize)
        .next_multiple_of(GIB)
        .clamp(GIB, 1024 * GIB)
}

/// A view of the VE memory region of a mapped segment (see
/// [`Segment::heap`](crate::Segment::heap)).
#[derive(Clone, Copy, Debug)]
pub struct Heap<'a> {
    /// This process's mapping of the region (the alias).
    base: *mut u8,
    len: u64,
    /// The segment's file, and where the region starts in it.
    fd: BorrowedFd<'a>,
    file_off: u64,
}

// SAFETY: a view of a mapping its segment keeps alive for 'a; the bitmap is
// reached through atomics and the rest only with raw copies.
unsafe impl Send for Heap<'_> {}
// SAFETY: as for Send.
unsafe impl Sync for Heap<'_> {}

impl<'a> Heap<'a> {
    /// # Safety
    /// `base..base + len` must be this process's mapping of the file `fd`
    /// from `file_off`, alive and unmoved for `'a`; `len` a multiple of the
    /// page size.
    pub(crate) unsafe fn new(base: *mut u8, len: u64, fd: BorrowedFd<'a>, file_off: u64) -> Self {
        Heap {
            base,
            len,
            fd,
            file_off,
        }
    }

    /// The segment's file, for mapping parts of the region elsewhere.
    pub fn fd(&self) -> BorrowedFd<'a> {
        self.fd
    }

    /// The file offset of the region's byte `off`.
    pub fn file_offset(&self, off: u64) -> u64 {
        self.file_off + off
    }

    /// Where this process maps the whole region.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pages of the region.
    pub fn pages(&self) -> u64 {
        self.len / PAGE
    }

    /// Pages at the start of the region that hold the bitmap (never allocated).
    pub fn bitmap_pages(&self) -> u64 {
        self.pages().div_ceil(8).div_ceil(PAGE)
    }

    fn word(&self, i: u64) -> &AtomicU64 {
        debug_assert!(i < self.pages().div_ceil(64));
        // SAFETY: the bitmap occupies the first `bitmap_pages` pages, which
        // hold at least pages/64 aligned words; only reached atomically.
        unsafe { &*self.base.cast::<AtomicU64>().add(i as usize) }
    }

    /// Marks the pages of `[off, off + len)` live or not. For the helper;
    /// marks made live are visible to whoever acquires the address later.
    pub fn set_live(&self, off: u64, len: u64, live: bool) {
        let (first, end) = (off / PAGE, (off + len).div_ceil(PAGE).min(self.pages()));
        let mut p = first;
        while p < end {
            let bit = p % 64;
            let n = (64 - bit).min(end - p);
            let mask = if n == 64 {
                !0
            } else {
                ((1u64 << n) - 1) << bit
            };
            if live {
                self.word(p / 64).fetch_or(mask, Ordering::Release);
            } else {
                self.word(p / 64).fetch_and(!mask, Ordering::Release);
            }
            p += n;
        }
    }

    /// Whether every page of `[off, off + len)` is live (`len` > 0).
    pub fn is_live(&self, off: u64, len: u64) -> bool {
        let Some(end) = off.checked_add(len) else {
            return false;
        };
        if len == 0 || end > self.len || off < self.bitmap_pages() * PAGE {
            return false;
        }
        let (mut p, end) = (off / PAGE, end.div_ceil(PAGE));
        while p < end {
            let bit = p % 64;
            let n = (64 - bit).min(end - p);
            let mask = if n == 64 {
                !0
            } else {
                ((1u64 << n) - 1) << bit
            };
            if self.word(p / 64).load(Ordering::Acquire) & mask != mask {
                return false;
            }
            p += n;
        }
        true
    }

    /// This process's alias of VE memory at `[addr, addr + len)`, given the
    /// VE address `ve_base` of the region's start, if every page of the
    /// range is live. The pointer is valid for `len` bytes for `'a`.
    pub fn alias(&self, ve_base: u64, addr: u64, len: u64) -> Option<*mut u8> {
        let off = addr.checked_sub(ve_base)?;
        if !self.is_live(off, len) {
            return None;
        }
        // SAFETY: is_live checked off + len <= the mapping's length.
        Some(unsafe { self.base.add(off as usize) })
    }

    /// Gives the memory of `[off, off + len)` back to the system; it reads
    /// as zeros afterwards. Errors only mean the memory stays in use.
    pub fn release(&self, off: u64, len: u64) {
        let _ = rustix::fs::fallocate(
            self.fd,
            rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
            self.file_off + off,
            len,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Segment, SegmentConfig};

    #[test]
    fn two_mappings_share_bytes_and_liveness() {
        let cfg = SegmentConfig {
            channels: 2,
            ring_bytes: 64 << 10,
            ..Default::default()
        };
        let seg = Segment::create_with_heap(&cfg, 1, 4 << 20).unwrap();
        let other = Segment::attach(rustix::io::dup(seg.fd()).unwrap()).unwrap();
        let (a, b) = (seg.heap().unwrap(), other.heap().unwrap());
        assert_eq!(b.len(), 4 << 20);
        assert_eq!(a.bitmap_pages(), 1);
        let ve = 1 << 40;
        assert_eq!(b.alias(ve, ve + 8192, 8), None, "not live yet");
        a.set_live(8192, 3 * PAGE, true);
        let p = b.alias(ve, ve + 8192, 3 * PAGE).unwrap();
        // SAFETY: both mappings are alive and 4 MiB long.
        unsafe {
            a.base().add(8192 + 5).write(42);
            assert_eq!(p.add(5).read(), 42);
        }
        assert_eq!(b.alias(ve, ve + 8192, 3 * PAGE + 1), None, "runs past");
        assert_eq!(b.alias(ve, ve + 4096, 8), None, "before");
        assert_eq!(b.alias(ve, ve, 8), None, "the bitmap itself");
        a.set_live(12288, PAGE, false);
        assert_eq!(b.alias(ve, ve + 8192, 3 * PAGE), None, "a hole");
        assert!(b.alias(ve, ve + 8192, PAGE).is_some());
        // Ranges across bitmap words.
        a.set_live(60 * PAGE, 200 * PAGE, true);
        assert!(a.is_live(60 * PAGE, 200 * PAGE));
        assert!(!a.is_live(59 * PAGE, 2 * PAGE));
        assert!(!a.is_live(259 * PAGE, 2 * PAGE));
        a.release(8192, PAGE);
        // SAFETY: as above.
        assert_eq!(unsafe { p.add(5).read() }, 0, "released pages read zero");
        assert!(default_size() >= 1 << 30);
        // A segment without a region has none.
        assert!(Segment::create(&cfg, 1).unwrap().heap().is_none());
    }
}
