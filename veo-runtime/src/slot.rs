//! The kernel address one `#[ve_kernel]` stub called last, kept in the stub.
//!
//! A stub finds its kernel on every call. Looking it up in the proc's
//! map (a lock, two hashes) costs tens of nanoseconds; a slot of the stub's
//! own answers in two loads and two comparisons when the same proc calls
//! it again, which is the common case.
//! Written by hand: a seqlock of three words, which no crate offers in a
//! `const`-constructible, allocation-free form.

use crate::error::Result;
use std::sync::atomic::{fence, AtomicU64, Ordering};

/// The kernel address a stub resolved last, for one proc and one state of
/// its loaded libraries.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct KernelSlot {
    /// Even when stable, odd while written.
    seq: AtomicU64,
    proc: AtomicU64,
    generation: AtomicU64,
    addr: AtomicU64,
    /// The kernel's declared name, for traces (empty: its symbol).
    name: &'static str,
}

impl KernelSlot {
    /// An empty slot (proc ids start at 1: it matches no proc).
    pub const fn new() -> KernelSlot {
        KernelSlot {
            seq: AtomicU64::new(0),
            proc: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            addr: AtomicU64::new(0),
            name: "",
        }
    }

    /// An empty slot of the kernel declared as `name` (what traces call it).
    pub const fn named(name: &'static str) -> KernelSlot {
        let mut slot = KernelSlot::new();
        slot.name = name;
        slot
    }

    /// The kernel's declared name, if the stub gave it.
    pub(crate) fn name(&self) -> Option<&'static str> {
        (!self.name.is_empty()).then_some(self.name)
    }

    /// The address stored for `proc` at library `generation`, if it is that.
    #[inline]
    pub(crate) fn get(&self, proc: u64, generation: u64) -> Option<u64> {
        let s1 = self.seq.load(Ordering::Acquire);
        let (p, g, a) = (
            self.proc.load(Ordering::Relaxed),
            self.generation.load(Ordering::Relaxed),
            self.addr.load(Ordering::Relaxed),
        );
        // Orders the reads above before the second look at `seq`.
        fence(Ordering::Acquire);
        let s2 = self.seq.load(Ordering::Relaxed);
        (s1 == s2 && s1.is_multiple_of(2) && p == proc && g == generation).then_some(a)
    }

    /// The address stored for `proc` at library `generation`, else the one
    /// `find` gives, then stored: a stub's kernel is looked up once per proc
    /// and generation of its libraries. `generation` is read before the
    /// lookup, so that an unload meanwhile leaves the slot stale.
    #[inline(always)]
    pub(crate) fn address(
        &self,
        proc: u64,
        generation: u64,
        find: impl FnOnce() -> Result<u64>,
    ) -> Result<u64> {
        if let Some(addr) = self.get(proc, generation) {
            return Ok(addr);
        }
        self.find(proc, generation, find)
    }

    /// [`address`](Self::address) when the slot does not answer.
    #[cold]
    #[inline(never)]
    fn find(&self, proc: u64, generation: u64, find: impl FnOnce() -> Result<u64>) -> Result<u64> {
        let addr = find()?;
        self.put(proc, generation, addr);
        Ok(addr)
    }

    /// Stores `addr` for `proc` at `generation`, unless another thread is
    /// storing at the same time (then the slot simply misses once more).
    pub(crate) fn put(&self, proc: u64, generation: u64, addr: u64) {
        let s = self.seq.load(Ordering::Relaxed);
        if !s.is_multiple_of(2)
            || self
                .seq
                .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // Readers that overlap these stores see `seq` odd or changed.
        fence(Ordering::Release);
        self.proc.store(proc, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Relaxed);
        self.addr.store(addr, Ordering::Relaxed);
        self.seq.store(s + 2, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_answers_only_for_its_proc_and_generation() {
        let slot = KernelSlot::new();
        assert_eq!(slot.get(1, 0), None, "an empty slot matches no proc");
        slot.put(3, 7, 0x1000);
        assert_eq!(slot.get(3, 7), Some(0x1000));
        assert_eq!(slot.get(4, 7), None);
        assert_eq!(slot.get(3, 8), None);
        slot.put(4, 8, 0x2000);
        assert_eq!(slot.get(4, 8), Some(0x2000));
        assert_eq!(slot.get(3, 7), None);
    }

    #[test]
    fn readers_never_see_a_torn_entry() {
        use std::sync::atomic::AtomicBool;
        let slot = std::sync::Arc::new(KernelSlot::new());
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        // The writer goes on until the reader has checked enough entries
        // (not for a fixed count: on a loaded machine the reader may not
        // run at all during a short burst), with a bound so it always ends.
        let writer = {
            let (slot, stop) = (slot.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 1u64;
                while !stop.load(Ordering::Relaxed) && i < 50_000_000 {
                    // Every entry written has addr == proc * 16 + generation.
                    slot.put(i, i % 5, i * 16 + i % 5);
                    i += 1;
                }
            })
        };
        let mut hits = 0;
        while hits < 2000 && !writer.is_finished() {
            // Ask for the proc being written right now, the likeliest tear.
            let p = slot.proc.load(Ordering::Relaxed);
            if let Some(a) = slot.get(p, p % 5) {
                assert_eq!(a, p * 16 + p % 5, "a torn entry");
                hits += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(hits > 0, "the readers never found an entry");
    }
}
