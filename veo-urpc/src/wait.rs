//! Adaptive waiting: spin, then yield, then sleep on a shared futex.
//!
//! The hot path makes no system call: a writer calls `futex_wake` only when a
//! reader has announced, through the sleepers count of a [`WakeWord`], that it may sleep,
//! and only once per sleep: the sleeper arms the futex word, the first writer
//! after it disarms it and makes the call, and the writers after that, until
//! a sleeper arms it again, know the wake is on its way. (Without that, a
//! sleeper that the scheduler is slow to run again cost its peer a system
//! call for every message meanwhile: one per call in AVEO's Test 3 on a
//! loaded two-core machine, docs/PERFORMANCE.md.)
//! Idle waiters sleep, so an idle helper costs no CPU (AVEO spins forever).

use rustix::thread::futex;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A futex word and a count of the threads that may sleep on it.
///
/// Lives in shared memory; both processes use it (not `FUTEX_PRIVATE`).
#[repr(C)]
#[derive(Debug, Default)]
pub struct WakeWord {
    /// Changed by every wake; its lowest bit ([`ARMED`]) set by a sleeper
    /// about to sleep, cleared by the wake that is owed to it.
    seq: AtomicU32,
    sleepers: AtomicU32,
}

/// The bit of [`WakeWord::seq`] that says a sleeper waits for a wake that
/// no writer has sent yet.
const ARMED: u32 = 1;

/// How long each phase of a wait lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Busy-polling time: the latency-critical phase.
    pub spin: Duration,
    /// Polling with `sched_yield` between checks.
    pub yield_for: Duration,
    /// Longest single futex sleep, after which `aborted` is checked again.
    pub sleep_slice: Duration,
    /// While spinning, a yield once every this many looks at the clock (each
    /// after 64 spins; 0: never): for a waiter whose long spin may keep a
    /// thread that was just woken on its core from running.
    pub spin_yield_every: u32,
}

impl WaitPolicy {
    /// For the VH side waiting on results.
    pub const VH: WaitPolicy = WaitPolicy {
        spin: Duration::from_micros(50),
        yield_for: Duration::from_micros(500),
        sleep_slice: Duration::from_millis(50),
        spin_yield_every: 0,
    };
    /// For a helper worker waiting on commands: it spins long enough to catch
    /// the next command of a ping-pong, then gets out of the way. While it
    /// spins it yields every 4 looks (some 5 µs), so that a worker just
    /// woken for another channel on its core runs, takes its command, and
    /// so ends an idle spin (`ve-helper/src/serve.rs`, `may_spin_idle`):
    /// every 16 looks left a thread alternating context and synchronous
    /// calls at a 30-60 µs p99 (docs/PERFORMANCE.md, fifth round).
    pub const HELPER: WaitPolicy = WaitPolicy {
        spin: Duration::from_micros(200),
        yield_for: Duration::from_millis(2),
        sleep_slice: Duration::from_millis(500),
        spin_yield_every: 4,
    };
}

/// A spin time that adapts to how the waits of one place end.
///
/// Spinning pays only while the other side runs on another core: then the
/// answer comes within a microsecond or so. When it does not (the machine
/// is oversubscribed and the other side waits for a core, or the scheduler
/// put both threads on one core), every microsecond spun is taken from the
/// very thread being waited for, and a ping-pong slows down to the length
/// of the spins. So the budget doubles after a wait that ended while
/// spinning and halves after one that did not, between [`MIN_SPIN`] and
/// the policy's `spin`. Shared by the threads that wait at one place.
///
/// A budget that stays small would be a trap on an idle machine: two
/// threads that hand work to each other by sleeping and waking are often
/// put on one core by the scheduler (the woken one goes where the waker
/// runs) and then never spread out again, since neither keeps a core busy.
/// So at most every [`PROBE_EVERY`] one wait spins the policy's full time
/// whatever the budget says; a core that stays busy that long is what makes
/// the scheduler move one of them to an idle core.
#[derive(Debug)]
pub struct SpinBudget {
    nanos: AtomicU32,
    /// When the last full-length spin began, in ns of [`now_ns`].
    last_probe: AtomicU64,
}

/// How often a wait spins in full regardless of the budget.
pub const PROBE_EVERY: Duration = Duration::from_millis(5);

/// `CLOCK_MONOTONIC` (the clock of [`Instant`]) in ns, as one integer.
///
/// The waits' own clock: a wait that gets past its first look reads it
/// once for both the budget's probe and the start of its spin, and the
/// spinning phases compare it with a subtraction, where `Instant`'s
/// arithmetic checks for overflow and normalises at every step (about a
/// hundred instructions a wait, callgrind).
///
/// The C library's `clock_gettime`, as `Instant::now` calls it (from the
/// vDSO, no system call): rustix's own vDSO lookup crashes under valgrind,
/// which every instruction count of docs/PERFORMANCE.md runs in.
#[inline]
fn now_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; CLOCK_MONOTONIC is always
    // there, so the call cannot fail (and `t` stays zero if it did).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// A duration in ns, saturated (a policy's durations are far below).
#[inline]
fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(d.subsec_nanos() as u64)
}

/// Spins of a wait before its first look at the clock: 0.8 µs at 2.8 GHz
/// where a spin-loop hint takes 35 cycles (this machine), 3 µs where it
/// takes 140; a round trip of a short call takes 0.4 µs here.
const QUICK_SPINS: u32 = 64;

/// Polls `ready` for about a microsecond (64 spin-loop hints), without
/// reading the clock; whether it came true.
#[inline]
pub fn spin_briefly(mut ready: impl FnMut() -> bool) -> bool {
    for _ in 0..QUICK_SPINS {
        std::hint::spin_loop();
        if ready() {
            return true;
        }
    }
    false
}

/// The least a [`SpinBudget`] spins.
pub const MIN_SPIN: Duration = Duration::from_micros(2);

impl Default for SpinBudget {
    fn default() -> Self {
        SpinBudget::new()
    }
}

impl SpinBudget {
    /// A budget that starts at the policy's full spin.
    pub const fn new() -> SpinBudget {
        SpinBudget {
            nanos: AtomicU32::new(u32::MAX),
            last_probe: AtomicU64::new(0),
        }
    }

    /// Whether this wait, begun at `now` (ns of [`now_ns`]), should spin
    /// in full (see the type's documentation).
    #[inline]
    fn probe(&self, now: u64) -> bool {
        let last = self.last_probe.load(Ordering::Relaxed);
        if now.saturating_sub(last) < nanos(PROBE_EVERY) {
            return false;
        }
        self.last_probe.store(now, Ordering::Relaxed);
        true
    }

    /// The spin time in ns, between [`MIN_SPIN`] and the policy's.
    #[inline]
    fn get_ns(&self, policy: &WaitPolicy) -> u64 {
        let max = nanos(policy.spin).max(nanos(MIN_SPIN));
        (self.nanos.load(Ordering::Relaxed) as u64).clamp(nanos(MIN_SPIN), max)
    }

    #[cfg(test)]
    fn get(&self, policy: &WaitPolicy) -> Duration {
        Duration::from_nanos(self.get_ns(policy))
    }

    #[inline]
    fn set_ns(&self, ns: u64) {
        self.nanos
            .store(ns.min(u32::MAX as u64) as u32, Ordering::Relaxed);
    }

    #[inline]
    fn spun_in_time(&self, policy: &WaitPolicy) {
        let max = nanos(policy.spin).max(nanos(MIN_SPIN));
        let now = self.get_ns(policy);
        if now < max {
            self.set_ns((now * 2).min(max));
        }
    }

    #[inline]
    fn spun_in_vain(&self, policy: &WaitPolicy) {
        self.set_ns(self.get_ns(policy) / 2);
    }
}

/// The CPU this thread runs on, plus one (0: unknown).
#[inline]
pub fn current_cpu() -> u32 {
    // libc's, not rustix's: the C library answers from the vDSO or rseq
    // (no system call), where rustix makes the `getcpu` system call; this
    // runs on every call.
    // SAFETY: sched_getcpu has no preconditions (a vDSO call).
    let cpu = unsafe { libc::sched_getcpu() };
    if cpu < 0 {
        0
    } else {
        cpu as u32 + 1
    }
}

/// Records in `word` the CPU this thread runs on (writing only when it
/// changed, so that the cache line stays shared) and returns it.
#[inline]
pub fn note_cpu(word: &AtomicU32) -> u32 {
    let cpu = current_cpu();
    if word.load(Ordering::Relaxed) != cpu {
        word.store(cpu, Ordering::Relaxed);
    }
    cpu
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
            self.wake_armed();
        }
    }

    /// Wakes the sleepers if one armed the word since the last wake: the
    /// first writer to disarm it makes the system call, the others have
    /// nothing to do (the sleepers wake, look, and arm it again if they
    /// must sleep on). A sleeper counted but not armed yet looks at what
    /// it waits for after arming (both read-modify-writes are SeqCst, as
    /// is the writer's fence): it sees the change or the writer sees it.
    #[inline(never)]
    fn wake_armed(&self) {
        let s = self.seq.load(Ordering::Relaxed);
        if s & ARMED != 0
            && self
                .seq
                .compare_exchange(s, s.wrapping_add(1), Ordering::Release, Ordering::Relaxed)
                .is_ok()
        {
            Self::wake(&self.seq);
        }
    }

    fn wake(seq: &AtomicU32) {
        // An error here (never expected) only means no one is woken early;
        // sleepers time out after one sleep slice anyway.
        let _ = futex::wake(seq, futex::Flags::empty(), u32::MAX);
    }

    /// Wakes every sleeper unconditionally (used when a peer dies), also
    /// the ones that watch the word without announcing themselves
    /// ([`sleep_any`]). Adds 2: a word armed stays armed.
    pub fn notify_always(&self) {
        self.seq.fetch_add(2, Ordering::Release);
        Self::wake(&self.seq);
    }

    /// Counts this thread as a sleeper and arms the word: the value to
    /// sleep on.
    #[inline]
    fn arm(&self) -> u32 {
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        self.seq.fetch_or(ARMED, Ordering::SeqCst) | ARMED
    }

    /// Sleeps until notified, `ready` holds, or `slice` passes.
    fn sleep(&self, ready: &mut impl FnMut() -> bool, slice: Duration) -> bool {
        let seq = self.arm();
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

    /// The value of the futex word, which every wake changes (a
    /// [`notify`](Self::notify) only when a sleeper armed it).
    pub fn seq(&self) -> u32 {
        self.seq.load(Ordering::Acquire)
    }

    /// Waits until `ready` returns true, the deadline passes or `aborted`
    /// returns true; spinning, then yielding, then sleeping.
    pub fn wait(
        &self,
        policy: &WaitPolicy,
        deadline: Option<Instant>,
        ready: impl FnMut() -> bool,
        aborted: impl FnMut() -> bool,
    ) -> Wake {
        self.wait_spinning(policy, policy.spin, true, deadline, ready, aborted)
            .0
    }

    /// [`wait`](Self::wait), spinning for as long as `budget` says and
    /// teaching it how the wait ended; not at all when `peer_here` (the
    /// thread being waited for last ran on this CPU: it cannot make progress
    /// while this one spins). Yielding is only tried while the budget is
    /// full, that is while spinning pays: on an oversubscribed machine a
    /// yield hands the CPU to whoever else runs there, while a sleeper that
    /// is woken gets it back at once.
    #[inline(always)]
    pub fn wait_adaptive(
        &self,
        policy: &WaitPolicy,
        budget: &SpinBudget,
        peer_here: bool,
        deadline: Option<Instant>,
        ready: impl FnMut() -> bool,
        aborted: impl FnMut() -> bool,
    ) -> Wake {
        self.wait_adaptive_while(policy, budget, peer_here, deadline, ready, aborted, || true)
    }

    /// [`wait_adaptive`](Self::wait_adaptive) that spins and yields only
    /// while `spin_on` holds (asked at every look at the clock): for a
    /// waiter that should leave its core to others from some point on,
    /// such as an idle helper worker once other workers have work
    /// (`ve-helper/src/serve.rs`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn wait_adaptive_while(
        &self,
        policy: &WaitPolicy,
        budget: &SpinBudget,
        peer_here: bool,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
        aborted: impl FnMut() -> bool,
        spin_on: impl FnMut() -> bool,
    ) -> Wake {
        if ready() {
            return Wake::Ready;
        }
        // The answer of a short call comes within a microsecond: look for it
        // before the clock is read (tens of ns in a VM) and the budget's
        // probe is consulted, so that it is seen at once.
        if !peer_here && spin_briefly(&mut ready) {
            budget.spun_in_time(policy);
            return Wake::Ready;
        }
        let start = now_ns();
        let probe = budget.probe(start);
        let spin = if probe {
            nanos(policy.spin)
        } else if peer_here {
            0
        } else {
            budget.get_ns(policy)
        };
        // Yields only while spinning pays, and not in a probe (which is to
        // keep a core busy, not to hand it to someone else).
        let full = !probe && spin >= nanos(policy.spin);
        let (wake, in_spin) =
            self.wait_spinning_from(start, policy, spin, full, deadline, ready, aborted, spin_on);
        if peer_here && !probe {
            // Says nothing about spinning.
        } else if in_spin {
            budget.spun_in_time(policy);
        } else if wake == Wake::Ready {
            budget.spun_in_vain(policy);
        }
        wake
    }

    /// The wait, and whether it ended in the spinning phase.
    fn wait_spinning(
        &self,
        policy: &WaitPolicy,
        spin: Duration,
        may_yield: bool,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
        aborted: impl FnMut() -> bool,
    ) -> (Wake, bool) {
        if ready() {
            return (Wake::Ready, true);
        }
        let spin = nanos(spin);
        self.wait_spinning_from(
            now_ns(),
            policy,
            spin,
            may_yield,
            deadline,
            ready,
            aborted,
            || true,
        )
    }

    /// [`wait_spinning`](Self::wait_spinning) from `start` (ns of
    /// [`now_ns`]) for `spin` ns, `ready` having been false just before.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn wait_spinning_from(
        &self,
        start: u64,
        policy: &WaitPolicy,
        spin: u64,
        mut may_yield: bool,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
        mut aborted: impl FnMut() -> bool,
        mut spin_on: impl FnMut() -> bool,
    ) -> (Wake, bool) {
        // The deadline on the same clock (a wait with one reads `Instant`'s
        // once more).
        let deadline_ns = deadline
            .map(|d| start.saturating_add(nanos(d.saturating_duration_since(Instant::now()))));
        let past = |now: u64| deadline_ns.is_some_and(|d| now >= d);
        let mut spins = 0u32;
        if spin > 0 {
            loop {
                for _ in 0..64 {
                    std::hint::spin_loop();
                    if ready() {
                        return (Wake::Ready, true);
                    }
                }
                spins += 1;
                let now = now_ns();
                if past(now) {
                    return (Wake::TimedOut, true);
                }
                if spins.is_multiple_of(16) && aborted() {
                    return (Wake::Aborted, true);
                }
                if now.saturating_sub(start) >= spin {
                    break;
                }
                if !spin_on() {
                    may_yield = false;
                    break;
                }
                if policy.spin_yield_every != 0 && spins.is_multiple_of(policy.spin_yield_every) {
                    std::thread::yield_now();
                }
            }
        }
        let yield_for = if may_yield && spin_on() {
            nanos(policy.yield_for)
        } else {
            0
        };
        if yield_for > 0 {
            loop {
                std::thread::yield_now();
                if ready() {
                    return (Wake::Ready, false);
                }
                let now = now_ns();
                if past(now) {
                    return (Wake::TimedOut, false);
                }
                if aborted() {
                    return (Wake::Aborted, false);
                }
                if now.saturating_sub(start) >= spin.saturating_add(yield_for) {
                    break;
                }
            }
        }
        loop {
            let mut slice = policy.sleep_slice;
            if let Some(d) = deadline {
                let now = Instant::now();
                if now >= d {
                    return (Wake::TimedOut, false);
                }
                slice = slice.min(d - now);
            }
            if self.sleep(&mut ready, slice) {
                return (Wake::Ready, false);
            }
            if aborted() {
                return (Wake::Aborted, false);
            }
        }
    }
}

/// Sleeps until one of `words` is notified, `ready` holds, or `slice`
/// passes; whether `ready` held. Each word comes with whether to announce
/// the sleep in its sleepers count: announced, every
/// [`notify`](WakeWord::notify) wakes this thread; not announced, only
/// [`notify_always`](WakeWord::notify_always) does (a peer that died, a
/// proc that ends), at no cost to the writers' hot path.
///
/// One system call (`futex_waitv`, Linux 5.16 and later) for at most 128
/// words; an older kernel makes it a sleep of at most a millisecond, after
/// which the caller looks again. For a thread that waits for any of
/// several rings, such as the one that wakes the futures of a proc.
pub fn sleep_any(
    words: &[(&WakeWord, bool)],
    mut ready: impl FnMut() -> bool,
    slice: Duration,
) -> bool {
    const MAX: usize = 128;
    let words = &words[..words.len().min(MAX)];
    let mut waits = [futex::Wait::new(); MAX];
    for ((word, announce), w) in words.iter().zip(waits.iter_mut()) {
        w.val = if *announce {
            word.arm()
        } else {
            word.seq.load(Ordering::Acquire)
        } as u64;
        w.uaddr = futex::WaitPtr::new(word.seq.as_ptr().cast());
        w.flags = futex::WaitFlags::SIZE_U32;
    }
    let done = ready() || {
        // futex_waitv takes an absolute time on the given clock.
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let end = now.tv_nsec as i128
            + now.tv_sec as i128 * 1_000_000_000
            + slice.as_nanos().min(i64::MAX as u128) as i128;
        let ts = futex::Timespec {
            tv_sec: (end / 1_000_000_000) as i64,
            tv_nsec: (end % 1_000_000_000) as i64,
        };
        // A word that changed, EINTR and ETIMEDOUT all mean: look again.
        if let Err(rustix::io::Errno::NOSYS) = futex::waitv(
            &waits[..words.len()],
            futex::WaitvFlags::empty(),
            Some(&ts),
            rustix::time::ClockId::Monotonic,
        ) {
            std::thread::sleep(slice.min(Duration::from_millis(1)));
        }
        ready()
    };
    for (word, announce) in words {
        if *announce {
            word.sleepers.fetch_sub(1, Ordering::Relaxed);
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_that_yields_while_spinning_still_sees_its_change() {
        // Yields at every look, while another thread makes the change.
        let policy = WaitPolicy {
            spin: Duration::from_secs(5),
            yield_for: Duration::ZERO,
            sleep_slice: Duration::from_millis(10),
            spin_yield_every: 1,
        };
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            f.store(true, Ordering::Release);
        });
        let word = WakeWord::default();
        let w = word.wait_adaptive(
            &policy,
            &SpinBudget::new(),
            false,
            Some(Instant::now() + Duration::from_secs(30)),
            || flag.load(Ordering::Acquire),
            || false,
        );
        t.join().unwrap();
        assert_eq!(w, Wake::Ready);
    }

    #[test]
    fn only_the_first_notify_after_a_sleeper_armed_changes_the_word() {
        let w = WakeWord::default();
        w.notify();
        assert_eq!(w.seq(), 0, "nobody sleeps: nothing to do");
        let armed = w.arm();
        assert_eq!((armed & ARMED, w.seq()), (ARMED, armed));
        w.notify();
        let woken = w.seq();
        assert_ne!(woken, armed, "the first notify wakes");
        assert_eq!(woken & ARMED, 0);
        w.notify();
        w.notify();
        assert_eq!(w.seq(), woken, "the wake is on its way: no more calls");
        // The sleeper looks again and sleeps on: the next notify wakes it.
        w.sleepers.fetch_sub(1, Ordering::Relaxed);
        let again = w.arm();
        w.notify();
        assert_ne!(w.seq(), again);
        // notify_always changes the word whatever its state.
        let before = w.seq();
        w.notify_always();
        assert_ne!(w.seq(), before);
    }
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
                spin_yield_every: 0,
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
    fn sleep_any_is_woken_by_any_of_its_words() {
        let words = Arc::new([WakeWord::default(), WakeWord::default()]);
        let flag = Arc::new(AtomicBool::new(false));
        for (which, announce) in [(1, true), (0, false)] {
            flag.store(false, Ordering::Release);
            let (w, f) = (words.clone(), flag.clone());
            let t = std::thread::spawn(move || {
                let start = Instant::now();
                let mut woke = false;
                while !woke {
                    woke = sleep_any(
                        &[(&w[0], false), (&w[1], true)],
                        || f.load(Ordering::Acquire),
                        Duration::from_secs(30),
                    );
                }
                start.elapsed()
            });
            // Announced words count the sleeper; wait until it sleeps.
            if announce {
                while words[1].sleepers.load(Ordering::SeqCst) == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
            flag.store(true, Ordering::Release);
            if announce {
                words[which].notify();
            } else {
                words[which].notify_always();
            }
            let took = t.join().unwrap();
            assert!(
                took < Duration::from_secs(10),
                "woken through word {which}, not the 30 s slice"
            );
            assert_eq!(words[1].sleepers.load(Ordering::SeqCst), 0);
        }
    }

    #[test]
    fn spin_budget_shrinks_when_spinning_fails_and_grows_back() {
        let policy = WaitPolicy {
            spin: Duration::from_micros(400),
            yield_for: Duration::ZERO,
            sleep_slice: Duration::from_millis(1),
            spin_yield_every: 0,
        };
        let word = WakeWord::default();
        let budget = SpinBudget::new();
        assert_eq!(budget.get(&policy), policy.spin);
        // Ready only after the spin: the wait ends asleep, the budget halves.
        let until = Instant::now() + Duration::from_millis(3);
        let w = word.wait_adaptive(
            &policy,
            &budget,
            false,
            None,
            || Instant::now() >= until,
            || false,
        );
        assert_eq!(w, Wake::Ready);
        assert_eq!(budget.get(&policy), policy.spin / 2);
        for _ in 0..20 {
            let until = Instant::now() + Duration::from_millis(2);
            word.wait_adaptive(
                &policy,
                &budget,
                false,
                None,
                || Instant::now() >= until,
                || false,
            );
        }
        assert_eq!(budget.get(&policy), MIN_SPIN, "never below the minimum");
        // Ready while spinning: it doubles again, up to the policy's spin.
        for _ in 0..20 {
            let mut n = 0;
            word.wait_adaptive(
                &policy,
                &budget,
                false,
                None,
                || {
                    n += 1;
                    n > 10
                },
                || false,
            );
        }
        assert_eq!(budget.get(&policy), policy.spin);
        // With the peer on this CPU there is no spinning and no lesson
        // (unless it is time for a full probe; it is not, just after one).
        budget.last_probe.store(now_ns(), Ordering::Relaxed);
        let until = Instant::now() + Duration::from_millis(2);
        word.wait_adaptive(
            &policy,
            &budget,
            true,
            None,
            || Instant::now() >= until,
            || false,
        );
        assert_eq!(budget.get(&policy), policy.spin);
        assert!(current_cpu() > 0 || current_cpu() == 0);
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
