//! Adaptive waiting: spin, then yield, then sleep on a shared futex.
//!
//! The hot path makes no system call: a writer calls `futex_wake` only when a
//! reader has announced, through [`WakeWord::sleepers`], that it may sleep.
//! Idle waiters sleep, so an idle helper costs no CPU (AVEO spins forever).

use rustix::thread::futex;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A futex word and a count of the threads that may sleep on it.
///
/// Lives in shared memory; both processes use it (not `FUTEX_PRIVATE`).
#[repr(C)]
#[derive(Debug, Default)]
pub struct WakeWord {
    seq: AtomicU32,
    sleepers: AtomicU32,
}

/// How long each phase of a wait lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Busy-polling time: the latency-critical phase.
    pub spin: Duration,
    /// Polling with `sched_yield` between checks.
    pub yield_for: Duration,
    /// Longest single futex sleep, after which `aborted` is checked again.
    pub sleep_slice: Duration,
}

impl WaitPolicy {
    /// For the VH side waiting on results.
    pub const VH: WaitPolicy = WaitPolicy {
        spin: Duration::from_micros(50),
        yield_for: Duration::from_micros(500),
        sleep_slice: Duration::from_millis(50),
    };
    /// For a helper worker waiting on commands: it spins long enough to catch
    /// the next command of a ping-pong, then gets out of the way.
    pub const HELPER: WaitPolicy = WaitPolicy {
        spin: Duration::from_micros(200),
        yield_for: Duration::from_millis(2),
        sleep_slice: Duration::from_millis(500),
    };
}

/// Why a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The condition holds.
    Ready,
    /// The deadline passed first.
    TimedOut,
    /// `aborted` returned true first.
    Aborted,
}

impl WakeWord {
    /// Wakes every sleeper, if any announced itself. Call after publishing
    /// the change the sleepers wait for.
    #[inline]
    pub fn notify(&self) {
        // Pairs with the SeqCst increment of `sleepers` in `sleep`: either the
        // sleeper sees the published change, or we see the sleeper.
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) != 0 {
            self.notify_always();
        }
    }

    /// Wakes every sleeper unconditionally (used when a peer dies).
    pub fn notify_always(&self) {
        self.seq.fetch_add(1, Ordering::Release);
        // An error here (never expected) only means no one is woken early;
        // sleepers time out after one sleep slice anyway.
        let _ = futex::wake(&self.seq, futex::Flags::empty(), u32::MAX);
    }

    /// Sleeps until notified, `ready` holds, or `slice` passes.
    fn sleep(&self, ready: &mut impl FnMut() -> bool, slice: Duration) -> bool {
        let seq = self.seq.load(Ordering::Acquire);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if ready() {
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            return true;
        }
        let ts = rustix::thread::futex::Timespec {
            tv_sec: slice.as_secs() as i64,
            tv_nsec: slice.subsec_nanos() as i64,
        };
        // EAGAIN (the word changed), EINTR and ETIMEDOUT all mean: look again.
        let _ = futex::wait(&self.seq, futex::Flags::empty(), seq, Some(&ts));
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        ready()
    }

    /// Waits until `ready` returns true, the deadline passes or `aborted`
    /// returns true; spinning, then yielding, then sleeping.
    pub fn wait(
        &self,
        policy: &WaitPolicy,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
        mut aborted: impl FnMut() -> bool,
    ) -> Wake {
        if ready() {
            return Wake::Ready;
        }
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            for _ in 0..64 {
                std::hint::spin_loop();
                if ready() {
                    return Wake::Ready;
                }
            }
            spins += 1;
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Wake::TimedOut;
            }
            if spins % 16 == 0 && aborted() {
                return Wake::Aborted;
            }
            if now - start >= policy.spin {
                break;
            }
        }
        loop {
            std::thread::yield_now();
            if ready() {
                return Wake::Ready;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Wake::TimedOut;
            }
            if aborted() {
                return Wake::Aborted;
            }
            if now - start >= policy.spin + policy.yield_for {
                break;
            }
        }
        loop {
            let mut slice = policy.sleep_slice;
            if let Some(d) = deadline {
                let now = Instant::now();
                if now >= d {
                    return Wake::TimedOut;
                }
                slice = slice.min(d - now);
            }
            if self.sleep(&mut ready, slice) {
                return Wake::Ready;
            }
            if aborted() {
                return Wake::Aborted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn sleeper_is_woken_by_notify() {
        let word = Arc::new(WakeWord::default());
        let flag = Arc::new(AtomicBool::new(false));
        let (w, f) = (word.clone(), flag.clone());
        let t = std::thread::spawn(move || {
            let policy = WaitPolicy {
                spin: Duration::ZERO,
                yield_for: Duration::ZERO,
                sleep_slice: Duration::from_secs(30),
            };
            let start = Instant::now();
            let r = w.wait(&policy, None, || f.load(Ordering::Acquire), || false);
            (r, start.elapsed())
        });
        // Let the thread reach its futex sleep before publishing.
        while word.sleepers.load(Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        flag.store(true, Ordering::Release);
        word.notify();
        let (r, took) = t.join().unwrap();
        assert_eq!(r, Wake::Ready);
        assert!(
            took < Duration::from_secs(10),
            "woken by notify, not the 30 s slice"
        );
    }

    #[test]
    fn deadline_and_abort_end_a_wait() {
        let word = WakeWord::default();
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(
            word.wait(&WaitPolicy::VH, Some(soon), || false, || false),
            Wake::TimedOut
        );
        assert!(Instant::now() >= soon);
        assert_eq!(
            word.wait(&WaitPolicy::VH, None, || false, || true),
            Wake::Aborted
        );
    }
}
