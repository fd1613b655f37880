//! The lock of a channel's two ends: a mutex released by a plain store.
//!
//! `std::sync::Mutex` releases with an atomic swap, to see whether anyone
//! sleeps. On x86 that is a full fence: right after a submit it waits until
//! the message's cache line has reached the helper core that polls it (a
//! fifth of the VH's time in a burst of calls). Here the release is a store
//! and a look at a count of sleepers, ordered by the asymmetric fences of
//! [`veo_urpc::fence`]: a thread about to sleep pays for both sides.
//! Written by hand because no crate's mutex pairs with a `membarrier`.

use rustix::thread::futex;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use veo_urpc::fence;

/// A mutex around `T` (no poisoning: a panic while it is held leaves `T`
/// as it was, which every user here tolerates).
pub(crate) struct Lock<T> {
    /// 0 free, 1 held.
    state: AtomicU32,
    /// Threads asleep (or about to be) waiting for `state` to change.
    sleepers: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands `&mut T` to one thread at a time (the state's
// acquire/release orders their accesses), as `Mutex<T>` does.
unsafe impl<T: Send> Send for Lock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Lock<T> {}

/// Access to a locked `T`; releases the lock when dropped.
pub(crate) struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
}

/// Longest sleep before a waiter looks again on its own (a lost wake-up,
/// which the fences rule out, would cost at most this). Long in the tests,
/// where a lost wake-up must show.
const SLICE: Duration = if cfg!(test) {
    Duration::from_secs(10)
} else {
    Duration::from_millis(5)
};

impl<T> Lock<T> {
    pub(crate) fn new(value: T) -> Lock<T> {
        Lock {
            state: AtomicU32::new(0),
            sleepers: AtomicU32::new(0),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    fn acquire(&self) -> bool {
        self.state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Waits for the lock.
    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        if !self.acquire() {
            self.lock_contended();
        }
        LockGuard { lock: self }
    }

    /// The lock if it is free now.
    pub(crate) fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        self.acquire().then_some(LockGuard { lock: self })
    }

    #[cold]
    fn lock_contended(&self) {
        // Held for a few hundred nanoseconds, usually.
        for _ in 0..200 {
            std::hint::spin_loop();
            if self.state.load(Ordering::Relaxed) == 0 && self.acquire() {
                return;
            }
        }
        let ts = futex::Timespec {
            tv_sec: SLICE.as_secs() as i64,
            tv_nsec: SLICE.subsec_nanos() as i64,
        };
        loop {
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            // Pairs with the releaser's light fence: either it sees us
            // counted, or we see the lock free.
            let heavy = fence::heavy();
            if self.acquire() {
                self.sleepers.fetch_sub(1, Ordering::Relaxed);
                return;
            }
            let ts = if heavy {
                ts
            } else {
                futex::Timespec {
                    tv_sec: 0,
                    tv_nsec: 100_000,
                }
            };
            // EAGAIN (already free), EINTR and ETIMEDOUT: look again.
            let _ = futex::wait(&self.state, futex::Flags::PRIVATE, 1, Some(&ts));
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            if self.acquire() {
                return;
            }
        }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let lock = self.lock;
        lock.state.store(0, Ordering::Release);
        fence::light();
        if lock.sleepers.load(Ordering::Relaxed) != 0 {
            // An error (never expected) only delays the sleeper by a slice.
            let _ = futex::wake(&lock.state, futex::Flags::PRIVATE, 1);
        }
    }
}

impl<T> std::ops::Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no other reference to the value.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> std::ops::DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this one unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn threads_take_turns_without_losing_an_update() {
        veo_urpc::fence::enable();
        let lock = Arc::new(Lock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..50_000 {
                        // A read and a write apart: a second holder would
                        // lose increments.
                        let mut g = lock.lock();
                        let v = *g;
                        std::hint::black_box(&v);
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 200_000);
    }

    #[test]
    fn a_sleeping_waiter_is_woken_at_the_release() {
        veo_urpc::fence::enable();
        for _ in 0..50 {
            let lock = Arc::new(Lock::new(()));
            let held = lock.lock();
            let waiter = {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    let start = Instant::now();
                    drop(lock.lock());
                    start.elapsed()
                })
            };
            // Long enough for the waiter to stop spinning and sleep.
            while lock.sleepers.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            drop(held);
            let waited = waiter.join().unwrap();
            assert!(waited < Duration::from_secs(2), "waited {waited:?}");
        }
        assert!(lock_is_free_after_try());
    }

    fn lock_is_free_after_try() -> bool {
        let lock = Lock::new(1);
        let g = lock.try_lock();
        let again = lock.try_lock().is_none();
        drop(g);
        again && lock.try_lock().is_some()
    }
}
