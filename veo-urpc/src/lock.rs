//! A mutex for short critical sections on hot paths: an uncontended lock
//! and unlock are one atomic instruction each, inlined, with no poisoning
//! to check (a holder that panics releases the lock on unwinding, and the
//! next one sees the value as it was left). Contended, it sleeps on a
//! futex, as `std::sync::Mutex` does.
//!
//! `veo-capi` takes such locks several times per call (its handle slots,
//! `veo-capi/src/handles.rs`), where `std::sync::Mutex` cost about 40
//! instructions per lock and unlock against the 2 of the fast path here.

use rustix::thread::futex;
use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};

/// Free.
const FREE: u32 = 0;
/// Held, no thread sleeping on it.
const HELD: u32 = 1;
/// Held, and a thread may be sleeping on it.
const CONTENDED: u32 = 2;

/// A mutual-exclusion lock around a `T` (a futex word: free, held, held
/// with sleepers).
#[derive(Default)]
pub struct Lock<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and one guard exists
// at a time (the state word's acquire/release orders the accesses).
unsafe impl<T: Send> Sync for Lock<T> {}

/// The value of a [`Lock`], held until dropped.
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Lock<T> {
    /// A free lock around `value`.
    pub const fn new(value: T) -> Self {
        Lock {
            state: AtomicU32::new(FREE),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, sleeping while another thread holds it.
    #[inline]
    pub fn lock(&self) -> LockGuard<'_, T> {
        if self
            .state
            .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        LockGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        // A short spin first: the sections guarded are short.
        for _ in 0..100 {
            std::hint::spin_loop();
            if self.state.load(Ordering::Relaxed) == FREE
                && self
                    .state
                    .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        // Marked contended while this thread may sleep, so that the
        // holder's unlock wakes a sleeper; taken when the swap finds it
        // free (then still marked contended: at worst one needless wake).
        while self.state.swap(CONTENDED, Ordering::Acquire) != FREE {
            // EAGAIN (the word changed) and EINTR both mean: try again.
            let _ = futex::wait(&self.state, futex::Flags::PRIVATE, CONTENDED, None);
        }
    }

    #[inline]
    fn unlock(&self) {
        if self.state.swap(FREE, Ordering::Release) == CONTENDED {
            self.wake_one();
        }
    }

    #[cold]
    fn wake_one(&self) {
        // An error (never expected) leaves a sleeper to its next try.
        let _ = futex::wake(&self.state, futex::Flags::PRIVATE, 1);
    }

    /// The value, without locking: `&mut self` proves no guard exists.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock: no other reference to the
        // value exists until it is dropped.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only
        // reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn threads_each_see_every_other_increment() {
        let lock = Arc::new(Lock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 80_000);
    }

    #[test]
    fn a_panicking_holder_releases_the_lock() {
        let lock = Arc::new(Lock::new(1u32));
        let l = lock.clone();
        let r = std::thread::spawn(move || {
            let mut g = l.lock();
            *g = 2;
            panic!("holder panics");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(*lock.lock(), 2);
    }
}
