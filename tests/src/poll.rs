//! Waiting in a test for something another thread or process does: poll it
//! until a deadline, backing off from spinning to yielding to sleeping, so
//! that a wait notices at once when it is quick and costs little CPU when it
//! is not (the tests share two cores with each other and with the helpers).
//! The deadline only turns a hang into a failure: it is never a
//! performance assertion.

use std::time::{Duration, Instant};

/// The back-off of one wait: spins first, then yields its time slice, then
/// sleeps for naps that double up to [`Backoff::MAX_NAP`].
#[derive(Debug, Default)]
pub struct Backoff {
    step: u32,
}

impl Backoff {
    /// Tries answered by a spin hint only.
    const SPINS: u32 = 64;
    /// Tries after the spins answered by a yield.
    const YIELDS: u32 = 16;
    /// The first nap.
    const FIRST_NAP: Duration = Duration::from_micros(50);
    /// The longest nap.
    pub const MAX_NAP: Duration = Duration::from_millis(10);

    /// A back-off at its first (spinning) step.
    pub fn new() -> Backoff {
        Backoff::default()
    }

    /// Waits a little, longer each time.
    pub fn snooze(&mut self) {
        if self.step < Self::SPINS {
            std::hint::spin_loop();
        } else if self.step < Self::SPINS + Self::YIELDS {
            std::thread::yield_now();
        } else {
            let doublings = (self.step - Self::SPINS - Self::YIELDS).min(16);
            std::thread::sleep((Self::FIRST_NAP * (1 << doublings)).min(Self::MAX_NAP));
        }
        self.step = self.step.saturating_add(1);
    }
}

/// Polls `ready` until it gives `Some`, backing off between tries; `None`
/// if `limit` passes first. `ready` is always tried at least once, and once
/// more after the deadline.
pub fn poll_for<T>(limit: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    let mut backoff = Backoff::new();
    loop {
        if let Some(v) = ready() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return ready();
        }
        backoff.snooze();
    }
}

/// [`poll_for`], failing the test with "`what` did not happen" if `limit`
/// passes first.
#[track_caller]
pub fn poll_until<T>(what: &str, limit: Duration, ready: impl FnMut() -> Option<T>) -> T {
    match poll_for(limit, ready) {
        Some(v) => v,
        None => panic!("{what} did not happen within {limit:?}"),
    }
}

/// [`poll_until`] within [`PATIENCE`](crate::PATIENCE): for what must
/// happen soon.
#[track_caller]
pub fn eventually<T>(what: &str, ready: impl FnMut() -> Option<T>) -> T {
    poll_until(what, crate::PATIENCE, ready)
}
