//! The allocator of VE memory inside the segment's VE memory region
//! ([`veo_urpc::Heap`]), so that the VH can reach what `veo_alloc_mem`
//! returns with a plain copy.
//!
//! The region's page `p` has the VE address `region + p * 4096`, where
//! `region` is an address range this process picked far from everything
//! else; each allocation is mapped there on its own (and unmapped when
//! freed), so that VE memory looks like `malloc`'s: an access to a freed
//! big block or past the end of one faults, and the slow paths report it.
//!
//! Blocks of up to 4 KiB come in 64-byte size classes carved from 64 KiB
//! slabs (64-byte aligned, like the `posix_memalign(64)` they replace);
//! larger blocks are runs of 4 KiB pages, best fit, coalesced when freed and
//! handed back to the system when they are large. Everything is under one
//! mutex: allocation is not on any hot path.

use rustix::mm::{MapFlags, ProtFlags};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use veo_urpc::heap::PAGE;
use veo_urpc::Heap;

const GRAIN: u64 = 64;
const SMALL_MAX: u64 = 4096;
const SLAB_PAGES: u64 = 16;
/// Freed runs of at least this many pages are punched out of the file.
const RELEASE_PAGES: u64 = 16;

/// Free runs of pages.
#[derive(Debug, Default)]
struct Pages {
    by_start: BTreeMap<u64, u64>,
    by_size: BTreeSet<(u64, u64)>,
}

impl Pages {
    fn new(total: u64) -> Pages {
        let mut p = Pages::default();
        if total > 0 {
            p.insert(0, total);
        }
        p
    }

    fn insert(&mut self, start: u64, count: u64) {
        self.by_start.insert(start, count);
        self.by_size.insert((count, start));
    }

    fn remove(&mut self, start: u64, count: u64) {
        self.by_start.remove(&start);
        self.by_size.remove(&(count, start));
    }

    /// The first page of a run of `count` free pages (best fit).
    fn alloc(&mut self, count: u64) -> Option<u64> {
        let &(have, start) = self.by_size.range((count, 0)..).next()?;
        self.remove(start, have);
        if have > count {
            self.insert(start + count, have - count);
        }
        Some(start)
    }

    /// Frees a run, merging it with free neighbours; returns the merged run.
    fn free(&mut self, mut start: u64, mut count: u64) -> (u64, u64) {
        if let Some((&s, &c)) = self.by_start.range(..start).next_back() {
            if s + c == start {
                self.remove(s, c);
                start = s;
                count += c;
            }
        }
        if let Some(&c) = self.by_start.get(&(start + count)) {
            self.remove(start + count, c);
            count += c;
        }
        self.insert(start, count);
        (start, count)
    }
}

#[derive(Clone, Copy, Debug)]
enum Block {
    /// A block of size class `n` (n × 64 bytes).
    Small(u64),
    /// A run of pages.
    Pages(u64),
}

#[derive(Debug)]
struct Inner {
    pages: Pages,
    /// Free small blocks by class (offsets), index = class.
    classes: Vec<Vec<u64>>,
    /// Live blocks by offset.
    live: HashMap<u64, Block>,
}

/// VE memory allocated in the segment's region.
pub(crate) struct VeHeap {
    /// The whole region, mapped once with the segment (the alias).
    heap: Heap<'static>,
    /// The VE address of the region's first byte.
    region: u64,
    inner: Mutex<Inner>,
    /// Held for reading by copies into or out of live VE memory, for
    /// writing while a block is unmapped: a copy never meets a hole.
    unmapping: RwLock<()>,
}

/// Candidate VE addresses for the region: far below where Linux puts
/// executables (0x55..) and shared mappings (0x7f..), far above the first
/// 4 GiB. The first free one is taken.
const REGION_CANDIDATES: std::ops::Range<u64> = 0x1000_0000_0000..0x4000_0000_0000;
const REGION_STEP: u64 = 0x0400_0000_0000;

/// A free address range of `len` bytes among the candidates.
fn pick_region(len: u64) -> Option<u64> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let used: Vec<(u64, u64)> = maps
        .lines()
        .filter_map(|l| {
            let (a, b) = l.split_whitespace().next()?.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect();
    REGION_CANDIDATES
        .step_by(REGION_STEP as usize)
        .find(|&start| {
            len <= REGION_STEP && used.iter().all(|&(a, b)| b <= start || a >= start + len)
        })
}

impl VeHeap {
    /// The allocator of `heap`, or `None` if no address range is free for it.
    pub(crate) fn new(heap: Heap<'static>) -> Option<VeHeap> {
        let region = pick_region(heap.len())?;
        let (first, pages) = (heap.bitmap_pages(), heap.pages());
        let mut free = Pages::new(0);
        free.insert(first, pages - first);
        Some(VeHeap {
            heap,
            region,
            inner: Mutex::new(Inner {
                pages: free,
                classes: vec![Vec::new(); (SMALL_MAX / GRAIN) as usize + 1],
                live: HashMap::new(),
            }),
            unmapping: RwLock::new(()),
        })
    }

    /// The VE address of the file's first byte.
    pub(crate) fn region(&self) -> u64 {
        self.region
    }

    /// Whether `addr` lies in the region.
    pub(crate) fn contains(&self, addr: u64) -> bool {
        addr >= self.region && addr - self.region < self.heap.len()
    }

    /// Keeps every live block mapped while the guard lives.
    pub(crate) fn hold(&self) -> RwLockReadGuard<'_, ()> {
        self.unmapping.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether every page of `[addr, addr + len)` belongs to a live block,
    /// so that, under [`hold`](Self::hold), no access to it can fault.
    /// (Copies go to the VE addresses, not through the alias, so that the
    /// helper maps each page once.)
    pub(crate) fn is_live(&self, addr: u64, len: u64) -> bool {
        addr.checked_sub(self.region)
            .is_some_and(|off| self.heap.is_live(off, len))
    }

    #[cfg(test)]
    fn alias(&self, addr: u64, len: u64) -> Option<*mut u8> {
        self.heap.alias(self.region, addr, len)
    }

    /// Maps pages `[off, off + len)` of the file at their VE address.
    fn map(&self, off: u64, len: u64) -> bool {
        let want = self.region + off;
        // SAFETY: FIXED_NOREPLACE never replaces an existing mapping; the
        // new one covers only address space nothing else uses.
        let r = unsafe {
            rustix::mm::mmap(
                want as *mut _,
                len as usize,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::FIXED_NOREPLACE | MapFlags::NORESERVE,
                self.heap.fd(),
                self.heap.file_offset(off),
            )
        };
        match r {
            Ok(p) if p as u64 == want => {
                self.heap.set_live(off, len, true);
                true
            }
            Ok(p) => {
                // A kernel that took the address as a mere hint.
                // SAFETY: the mapping just made, used by nothing.
                unsafe {
                    let _ = rustix::mm::munmap(p, len as usize);
                }
                false
            }
            Err(_) => false,
        }
    }

    /// Undoes [`map`](Self::map).
    fn unmap(&self, off: u64, len: u64) {
        let _no_copies = self.unmapping.write().unwrap_or_else(|e| e.into_inner());
        self.heap.set_live(off, len, false);
        // SAFETY: a range this allocator mapped and nobody may use any more
        // (a kernel that still does faults, as with freed malloc memory).
        unsafe {
            let _ = rustix::mm::munmap((self.region + off) as *mut _, len as usize);
        }
    }

    /// Allocates `size` bytes; `None` when the file is full.
    pub(crate) fn alloc(&self, size: u64) -> Option<u64> {
        let size = size.max(1);
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let inner = &mut *g;
        let (off, block) = if size <= SMALL_MAX {
            let class = size.div_ceil(GRAIN);
            let off = match inner.classes[class as usize].pop() {
                Some(off) => off,
                None => {
                    let slab = inner.pages.alloc(SLAB_PAGES)? * PAGE;
                    if !self.map(slab, SLAB_PAGES * PAGE) {
                        inner.pages.free(slab / PAGE, SLAB_PAGES);
                        return None;
                    }
                    let bytes = class * GRAIN;
                    let n = SLAB_PAGES * PAGE / bytes;
                    // Hand out the lowest block now, keep the rest.
                    let free = &mut inner.classes[class as usize];
                    free.extend((1..n).rev().map(|i| slab + i * bytes));
                    slab
                }
            };
            (off, Block::Small(class))
        } else {
            let count = size.div_ceil(PAGE);
            let off = inner.pages.alloc(count)? * PAGE;
            if !self.map(off, count * PAGE) {
                inner.pages.free(off / PAGE, count);
                return None;
            }
            (off, Block::Pages(count))
        };
        inner.live.insert(off, block);
        Some(self.region + off)
    }

    /// Frees a block from [`alloc`](Self::alloc); false if `addr` is not one.
    pub(crate) fn free(&self, addr: u64) -> bool {
        let Some(off) = addr.checked_sub(self.region) else {
            return false;
        };
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let inner = &mut *g;
        match inner.live.remove(&off) {
            None => false,
            Some(Block::Small(class)) => {
                inner.classes[class as usize].push(off);
                true
            }
            Some(Block::Pages(count)) => {
                self.unmap(off, count * PAGE);
                let (start, merged) = inner.pages.free(off / PAGE, count);
                if count >= RELEASE_PAGES {
                    // Give the memory back (the merged run: its neighbours
                    // may have been released already, punching is cheap).
                    self.heap.release(start * PAGE, merged * PAGE);
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_disjoint_aligned_and_reused() {
        let cfg = veo_urpc::SegmentConfig {
            channels: 1,
            ring_bytes: 64 << 10,
            ..Default::default()
        };
        let seg = veo_urpc::Segment::create_with_heap(&cfg, 1, 8 << 20).unwrap();
        let seg: &'static veo_urpc::Segment = Box::leak(Box::new(seg));
        let h = VeHeap::new(seg.heap().unwrap()).unwrap();
        let base = h.region();
        let mut live: Vec<(u64, u64)> = Vec::new();
        for (i, size) in [1u64, 8, 63, 64, 65, 4096, 4097, 100_000, 1 << 20, 3]
            .iter()
            .enumerate()
        {
            let a = h.alloc(*size).unwrap();
            assert_eq!(a % 64, 0, "64-byte aligned");
            assert!(h.contains(a) && h.contains(a + size - 1));
            for &(b, s) in &live {
                assert!(a + size <= b || b + s <= a, "block {i} overlaps");
            }
            // SAFETY: the block lies inside the mapping (checked above).
            unsafe { std::ptr::write_bytes(a as *mut u8, i as u8, *size as usize) };
            live.push((a, *size));
        }
        assert!(!h.free(base + 12345));
        let (a, _) = live[7];
        assert!(h.alias(a, 100_000).is_some());
        assert!(h.free(a));
        assert!(h.alias(a, 1).is_none(), "freed memory has no alias");
        assert!(!h.free(a), "double free");
        assert_eq!(h.alloc(100_000), Some(a), "best fit reuses the run");
        let small = h.alloc(10).unwrap();
        assert!(h.free(small));
        assert_eq!(h.alloc(20), Some(small), "same class reused");
        // Exhaustion is None, not a panic; freeing makes room again.
        let big = h.alloc(5 << 20);
        assert!(big.is_some());
        assert_eq!(h.alloc(4 << 20), None);
        assert!(h.free(big.unwrap()));
        assert!(h.alloc(4 << 20).is_some());
    }
}
