//! Asymmetric fences: a waker's is free, a sleeper's is a system call.
//!
//! Every wake-up in veo-rs is a Dekker pair: the waker publishes, then
//! looks for sleepers; a sleeper announces itself, then looks for what was
//! published. Each side needs a full fence between its store and its load,
//! or both can miss each other. The waker's side runs on every message and
//! every lock release, the sleeper's only when a thread is about to sleep.
//! A full fence also waits for every store before it to reach other cores,
//! which after a message means a cache-line transfer to the very core that
//! polls it: a fifth of the VH's time in a burst of calls (Test 1).
//!
//! So, where the kernel offers it, the sleeper pays for both:
//! `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)` runs a full fence on every
//! CPU that runs a thread of a process that registered for it (both the VH
//! and the helper do, see [`enable`]), and the waker's fence becomes a
//! compiler fence. Written by hand (on `rustix`'s system call) because the
//! pairing is specific to these two processes; the crates that offer
//! asymmetric fences do so for one process only.

use std::sync::atomic::{compiler_fence, fence, AtomicBool, AtomicU8, Ordering};
use std::sync::OnceLock;

/// Whether this process's wakers may use the light fence.
static LIGHT: AtomicBool = AtomicBool::new(false);

/// The sleepers' side: 0 untried, 1 works, 2 failed.
static HEAVY: AtomicU8 = AtomicU8::new(0);

/// Registers this process for expedited global memory barriers, so that
/// its wakers may use [`light`]; whether they do from now on. Both
/// processes of a proc call it before they serve or submit anything.
pub fn enable() -> bool {
    static ONCE: OnceLock<bool> = OnceLock::new();
    *ONCE.get_or_init(|| {
        use rustix::thread::{membarrier, membarrier_query, MembarrierCommand as C};
        let ok = membarrier_query().contains_command(C::GlobalExpedited)
            && membarrier(C::RegisterGlobalExpedited).is_ok()
            && heavy();
        LIGHT.store(ok, Ordering::SeqCst);
        ok
    })
}

/// The waker's fence, between publishing and looking for sleepers.
#[inline]
pub fn light() {
    if LIGHT.load(Ordering::Relaxed) {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The sleeper's fence, between announcing itself and looking again:
/// a full fence here and, for the length of the call, on every CPU that
/// runs a thread of a registered process. False when the system call fails
/// (a sleeper then sleeps in short slices: a waker that skipped its fence
/// may have missed it).
pub fn heavy() -> bool {
    fence(Ordering::SeqCst);
    if HEAVY.load(Ordering::Relaxed) == 2 {
        return false;
    }
    let ok = rustix::thread::membarrier(rustix::thread::MembarrierCommand::GlobalExpedited).is_ok();
    HEAVY.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
    ok
}
