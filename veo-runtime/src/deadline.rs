//! The time limit of a wait: the instant it ends, and the limit the caller
//! gave, so that the wait that runs out builds its [`Error::Timeout`]
//! complete, where it happens.

use crate::error::Error;
use std::time::{Duration, Instant};

/// When a wait given `limit` ends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now; `None` (no end) when no clock reaches that far.
    pub(crate) fn after(limit: Duration) -> Option<Deadline> {
        Instant::now()
            .checked_add(limit)
            .map(|at| Deadline { at, limit })
    }

    /// The instant it ends.
    pub(crate) fn at(&self) -> Instant {
        self.at
    }

    /// The time left from `now` (zero once past).
    pub(crate) fn left(&self, now: Instant) -> Duration {
        self.at.saturating_duration_since(now)
    }

    /// The error of a wait that ran out: [`Error::Timeout`] with the limit.
    #[cold]
    pub(crate) fn timed_out(&self) -> Error {
        Error::Timeout(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_carries_the_limit_given() {
        let d = Deadline::after(Duration::from_millis(20)).unwrap();
        assert!(matches!(d.timed_out(), Error::Timeout(l) if l == Duration::from_millis(20)));
        assert!(d.left(d.at()).is_zero());
    }

    #[test]
    fn a_limit_past_any_clock_is_no_deadline() {
        assert!(Deadline::after(Duration::MAX).is_none());
    }
}
