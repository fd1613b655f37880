//! Awaiting requests: `Request` as a `Future`, and the per-proc thread that
//! wakes futures when their answers arrive.
//!
//! `stub(&ctx, ...)?.await` works on any executor (tokio, async-std, smol,
//! `futures::executor`): veo-runtime depends on none. A pending future
//! costs no CPU. Its waker is kept twice:
//!
//! - by its channel, next to the answer table, so that whichever thread
//!   drains the result ring (a future's poll, a blocking `wait`, a `peek`)
//!   wakes the futures whose answers it moved into the table;
//! - by the proc's [`Waiter`], a thread that sleeps on the futex words of
//!   the result rings that have futures pending (one `futex_waitv`, see
//!   [`veo_urpc::sleep_any`]) and, when a ring's tail moves, wakes the
//!   futures of that ring (the first to poll drains it; the others find
//!   their answers in the table or watch again). It also wakes every
//!   future when the proc ends, so that they resolve to the error.
//!
//! The thread starts with the first future that has to wait, and ends with
//! the proc: programs that never await pay nothing.
//!
//! Borrows are those of [`Request`]: OUT/INOUT and async-read bytes land in
//! the caller's buffers inside `poll`, never later; dropping a pending future
//! abandons its request; forgetting it writes nothing.

use crate::args::KernelRet;
use crate::error::Result;
use crate::life::Life;
use crate::request::Request;
use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;
use veo_urpc::WakeWord;

/// The future of a [`Request`]: `request.await` (or
/// `request.into_future()`) yields what [`Request::wait`] would, without
/// blocking a thread.
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct RequestFuture<'a, T: KernelRet = u64> {
    req: Option<Request<'a, T>>,
}

impl<'a, T: KernelRet> IntoFuture for Request<'a, T> {
    type Output = Result<T>;
    type IntoFuture = RequestFuture<'a, T>;

    fn into_future(self) -> RequestFuture<'a, T> {
        RequestFuture { req: Some(self) }
    }
}

impl<T: KernelRet> Future for RequestFuture<'_, T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<T>> {
        let Some(req) = self.req.as_mut() else {
            // Polled again after it completed.
            return Poll::Ready(Err(crate::Error::AlreadyTaken));
        };
        let ready = req.poll_answer(cx.waker());
        if ready.is_ready() {
            self.req = None;
        }
        ready
    }
}

impl<T: KernelRet> Drop for RequestFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(req) = self.req.take() {
            // It may have been the one woken to drain its ring: drain, so
            // that the others' answers reach them, then abandon.
            req.forget_waker();
        }
    }
}

/// What the waiter keeps of one pending future.
struct Watch {
    waker: Waker,
    /// The ring's tail when the future last looked at it.
    seen_tail: u64,
}

/// The futures pending on one channel, by request id.
struct ChannelWatches {
    watches: BTreeMap<u64, Watch>,
}

#[derive(Default)]
struct State {
    /// By channel index.
    channels: BTreeMap<usize, ChannelWatches>,
    /// The thread has started.
    started: bool,
    /// The proc ended and the thread with it: futures resolve at once.
    stopped: bool,
}

/// The per-proc thread that wakes futures (see the module documentation).
#[derive(Default)]
pub(crate) struct Waiter {
    state: Mutex<State>,
    /// Tells the thread that the set of rings to watch changed...
    news: WakeWord,
    /// ...and counts those changes, for a thread not asleep yet.
    generation: AtomicU64,
}

/// Longest sleep of the thread before it looks at the proc again (a
/// safety net: the proc's end wakes it at once).
const SLICE: Duration = Duration::from_millis(500);

impl Waiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes `waker` when the tail of channel `index`'s result ring moves
    /// past `seen_tail`, or when the proc ends; starts the thread if need be.
    pub(crate) fn watch(
        &self,
        life: &Arc<Life>,
        index: usize,
        reqid: u64,
        seen_tail: u64,
        waker: &Waker,
    ) {
        let mut st = self.lock();
        if st.stopped || life.is_dead() {
            drop(st);
            waker.wake_by_ref();
            return;
        }
        let ch = st.channels.entry(index).or_insert_with(|| ChannelWatches {
            watches: BTreeMap::new(),
        });
        match ch.watches.get_mut(&reqid) {
            Some(w) => {
                w.seen_tail = seen_tail;
                if !w.waker.will_wake(waker) {
                    w.waker = waker.clone();
                }
            }
            None => {
                ch.watches.insert(
                    reqid,
                    Watch {
                        waker: waker.clone(),
                        seen_tail,
                    },
                );
            }
        }
        if !st.started {
            st.started = true;
            let weak = Arc::downgrade(life);
            let spawned = std::thread::Builder::new()
                .name(format!("veo-await-{}", life.pid))
                .spawn(move || run(weak));
            if spawned.is_err() {
                // No thread: nothing would wake this future. Let it poll
                // again (and again) rather than hang; never expected.
                st.started = false;
                drop(st);
                waker.wake_by_ref();
                return;
            }
        }
        drop(st);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.news.notify();
    }

    /// Forgets the future of `reqid` on channel `index`.
    pub(crate) fn unwatch(&self, index: usize, reqid: u64) {
        let mut st = self.lock();
        if let Some(ch) = st.channels.get_mut(&index) {
            ch.watches.remove(&reqid);
            if ch.watches.is_empty() {
                st.channels.remove(&index);
            }
        }
    }
}

/// The thread: sleeps on the watched rings' wake-up words, wakes one future
/// per ring whose tail moved, and everyone when the proc ends.
fn run(life: Weak<Life>) {
    loop {
        let Some(life) = life.upgrade() else { return };
        // The watched rings, and their tails when last checked.
        let mut rings = Vec::new();
        let waiter = &life.waiter;
        let dead = life.is_dead();
        let mut wake = Vec::new();
        let seen_news;
        {
            let mut st = waiter.lock();
            seen_news = waiter.generation.load(Ordering::SeqCst);
            if dead {
                st.stopped = true;
                for ch in std::mem::take(&mut st.channels).into_values() {
                    wake.extend(ch.watches.into_values().map(|w| w.waker));
                }
            } else {
                for (&index, ch) in st.channels.iter_mut() {
                    let ring = life.seg.channel(index).res;
                    let tail = ring.tail();
                    // Every future whose ring moved since it looked: its
                    // answer may be there. Waking only one to drain the
                    // ring for all would leave the others asleep when that
                    // one is never polled again (a forgotten future, a
                    // task its executor dropped without dropping it).
                    ch.watches.retain(|_, w| {
                        if w.seen_tail == tail {
                            return true;
                        }
                        wake.push(w.waker.clone());
                        false
                    });
                    if !ch.watches.is_empty() {
                        rings.push((ring, tail));
                    }
                }
                st.channels.retain(|_, ch| !ch.watches.is_empty());
            }
        }
        for w in wake {
            w.wake();
        }
        if dead {
            return;
        }
        // The proc's end is announced on every ring with `notify_always`,
        // the control channel's included: watched without announcing.
        let control = life.seg.channel(0).res;
        let mut words: Vec<(&WakeWord, bool)> = Vec::with_capacity(rings.len() + 2);
        words.push((&waiter.news, true));
        words.push((control.data_word(), false));
        words.extend(rings.iter().map(|(r, _)| (r.data_word(), true)));
        let changed = || {
            life.is_dead()
                || waiter.generation.load(Ordering::SeqCst) != seen_news
                || rings.iter().any(|(r, t)| r.tail() != *t)
        };
        veo_urpc::sleep_any(&words, changed, SLICE);
    }
}
