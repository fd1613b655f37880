//! The VH end of one channel: submitting commands, collecting results.
//!
//! Any number of VH threads may submit to and wait on one channel. Submits
//! are serialised by a mutex around the ring's producer; whichever thread
//! waits drains the result ring into a table, and takes its own result from
//! there. A request's answer bytes (OUT/INOUT buffers, reads) go straight
//! into its buffers when its own `wait`/`peek` drains them, and wait in the
//! table when another thread does.

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::life::Life;
use crate::spilled::Spilled;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};
use veo_urpc::proto::{self, Status};
use veo_urpc::{OwnedChannel, OwnedConsumer, OwnedProducer, Segment, SpinBudget, WaitPolicy, Wake};

/// A finished request, as the helper answered it.
#[derive(Debug, Default)]
pub(crate) struct Done {
    pub status: Option<Status>,
    pub value: u64,
    pub text: String,
    /// Answer bytes that did not go straight to the waiter's buffers...
    pub data: Vec<u8>,
    /// ...and where they start in the answer.
    pub data_at: u64,
}

/// Where a waiter's answer bytes go as they arrive: its request's buffers,
/// one after the other. Only the request's own `wait`/`peek` lends them.
pub(crate) struct Sink<'s, 'b> {
    pub outs: &'s mut [&'b mut [u8]],
    /// Bytes of the answer placed so far (always a prefix).
    pub placed: &'s mut u64,
}

/// Copies `bytes` into the concatenation of `outs` at `offset`; what lies
/// past their end is dropped (a short answer is an error, a long one not).
pub(crate) fn scatter(outs: &mut [&mut [u8]], mut offset: u64, mut bytes: &[u8]) {
    for out in outs.iter_mut() {
        let len = out.len() as u64;
        if offset >= len {
            offset -= len;
            continue;
        }
        let n = ((len - offset) as usize).min(bytes.len());
        veo_urpc::copy::copy(&mut out[offset as usize..offset as usize + n], &bytes[..n]);
        bytes = &bytes[n..];
        offset = 0;
        if bytes.is_empty() {
            break;
        }
    }
}

impl Done {
    pub(crate) fn ok(value: u64) -> Done {
        Done {
            status: Some(Status::Ok),
            value,
            ..Done::default()
        }
    }
}

pub(crate) struct Tx {
    pub producer: OwnedProducer,
    next_reqid: u64,
}

struct Rx {
    /// The channel's index.
    index: usize,
    consumer: OwnedConsumer,
    done: Table,
    /// Answer bytes drained for a request by another thread than its
    /// waiter: where they start in the answer, and the bytes.
    partial: HashMap<u64, (u64, Vec<u8>)>,
    /// The highest request id known finished: answered by the helper (which
    /// serves the channel in queue order, so every request before it has
    /// finished too) or completed on the VH.
    finished: u64,
    /// Futures waiting for their answers (`future.rs`), woken when a drain
    /// puts them in the table.
    wakers: FxHashMap<u64, Waker>,
}

/// Where a request stands, VH side.
#[derive(Debug)]
enum Slot {
    /// Submitted, not answered.
    Pending,
    /// Answered OK with this value, no text and no bytes (nearly every
    /// answer), not taken: a slot of two words, where a `Done` in every
    /// slot made each answer kept for later cost a move of 80 bytes in and
    /// out of the window.
    Value(u64),
    /// Answered otherwise, not taken.
    Ready(Box<Done>),
    /// Dropped unanswered: its answer is discarded on arrival.
    Abandoned,
    /// Taken or discarded.
    Gone,
}

impl Slot {
    /// The slot of an answer not taken yet.
    fn answered(done: Done) -> Slot {
        match done {
            Done {
                status: Some(Status::Ok),
                value,
                ref text,
                ref data,
                data_at: 0,
            } if text.is_empty() && data.is_empty() => Slot::Value(value),
            done => Slot::Ready(Box::new(done)),
        }
    }
}

/// Answers by request id.
///
/// Answers arrive nearly in request order (one helper worker serves a
/// channel in queue order; only VH closures complete out of band), so a
/// window indexed by `reqid - base` replaces a hash map: no hashing and no
/// allocation per answer. The window starts at the oldest request not yet
/// taken. A request held unanswered for very long (a forgotten one) holds
/// the window's start back; once the window is longer than [`WINDOW`] and
/// less than half of it is still to take, its oldest entries move to
/// [`Spilled`], so that the window stays bounded. A window full of answers
/// still to take (a program that submits a million calls, then waits for
/// each) stays a window: moving them out would keep as many and look each
/// one up twice.
#[derive(Debug)]
struct Table {
    /// Request id of `slots[0]`.
    base: u64,
    slots: VecDeque<Slot>,
    /// Entries of `slots` that are not [`Slot::Gone`].
    live: usize,
    /// Entries below `base` that are neither taken nor discarded.
    spill: Spilled<Slot>,
}

/// Most entries of the window before the oldest ones may be spilled.
const WINDOW: usize = 1 << 18;

impl Table {
    fn new() -> Table {
        Table {
            // Request ids start at 1.
            base: 1,
            slots: VecDeque::new(),
            live: 0,
            spill: Spilled::default(),
        }
    }

    /// The entry of `reqid`; `None` once it is gone.
    fn entry(&mut self, reqid: u64) -> Option<&mut Slot> {
        if reqid < self.base {
            return self.spill.get_mut(reqid);
        }
        let i = (reqid - self.base) as usize;
        if i == self.slots.len() {
            // The usual case: the next request in order.
            self.slots.push_back(Slot::Pending);
            self.live += 1;
        } else if i > self.slots.len() {
            self.live += i + 1 - self.slots.len();
            self.slots.resize_with(i + 1, || Slot::Pending);
        }
        Some(&mut self.slots[i])
    }

    /// Sets the entry of `reqid` (one the table has) to [`Slot::Gone`].
    fn set_gone(&mut self, reqid: u64) {
        let Some(slot) = self.entry(reqid) else {
            return;
        };
        if !matches!(std::mem::replace(slot, Slot::Gone), Slot::Gone) && reqid >= self.base {
            self.live -= 1;
        }
    }

    /// Drops gone entries from the front; past the limit, spills the
    /// oldest ones of a window that is mostly gone.
    fn trim(&mut self) {
        while let Some(front) = self.slots.front() {
            let gone = matches!(front, Slot::Gone);
            let mostly_gone = self.slots.len() > WINDOW && self.live < self.slots.len() / 2;
            if !(gone || mostly_gone) {
                break;
            }
            let slot = self.slots.pop_front().expect("front exists");
            if !gone {
                self.live -= 1;
                self.spill.insert(self.base, slot);
            }
            self.base += 1;
        }
    }

    /// Records the answer of `reqid`.
    fn put(&mut self, reqid: u64, done: Done) {
        if let Some(slot) = self.entry(reqid) {
            match slot {
                Slot::Pending => {
                    *slot = Slot::answered(done);
                    // Kept: nothing to forget.
                    return;
                }
                Slot::Abandoned => self.set_gone(reqid),
                // A second answer (never sent by a sane helper): keep the first.
                Slot::Value(_) | Slot::Ready(_) | Slot::Gone => {}
            }
        }
        self.forget_if_gone(reqid);
    }

    /// Takes the answer of `reqid` if it arrived. Inlined, the usual look
    /// (an empty table) is two tests.
    #[inline(always)]
    fn take(&mut self, reqid: u64) -> Option<Done> {
        if self.slots.is_empty() && self.spill.is_empty() {
            return None;
        }
        self.take_kept(reqid)
    }

    /// [`take`](Self::take) when the table holds something.
    #[inline(never)]
    fn take_kept(&mut self, reqid: u64) -> Option<Done> {
        // A look, not an entry: a request not answered yet needs none.
        let slot = if reqid < self.base {
            self.spill.get_mut(reqid)?
        } else {
            self.slots.get_mut((reqid - self.base) as usize)?
        };
        let done = match std::mem::replace(slot, Slot::Gone) {
            Slot::Value(value) => Done::ok(value),
            Slot::Ready(done) => *done,
            other => {
                *slot = other;
                return None;
            }
        };
        if reqid >= self.base {
            self.live -= 1;
        }
        self.forget_if_gone(reqid);
        Some(done)
    }

    /// Records that the answer of `reqid` went straight to its waiter.
    /// Inlined: the usual case is the oldest request, with nothing else in
    /// the window.
    #[inline(always)]
    fn taken(&mut self, reqid: u64) {
        if reqid == self.base && self.slots.is_empty() {
            self.base += 1;
            return;
        }
        self.taken_kept(reqid);
    }

    /// [`taken`](Self::taken) for a request the window holds others beside.
    #[inline(never)]
    fn taken_kept(&mut self, reqid: u64) {
        self.set_gone(reqid);
        self.forget_if_gone(reqid);
    }

    /// Discards `reqid`'s answer, now or when it arrives.
    fn abandon(&mut self, reqid: u64) {
        match self.entry(reqid) {
            Some(slot @ Slot::Pending) => *slot = Slot::Abandoned,
            Some(_) => self.set_gone(reqid),
            None => {}
        }
        self.forget_if_gone(reqid);
    }

    /// Whether the answer of `reqid` will be discarded.
    fn discards(&self, reqid: u64) -> bool {
        let slot = if reqid < self.base {
            self.spill.get(reqid)
        } else {
            self.slots.get((reqid - self.base) as usize)
        };
        matches!(slot, None | Some(Slot::Abandoned) | Some(Slot::Gone)) && reqid < self.end()
    }

    /// One past the highest request id the window knows.
    fn end(&self) -> u64 {
        self.base + self.slots.len() as u64
    }

    fn forget_if_gone(&mut self, reqid: u64) {
        if reqid < self.base {
            if matches!(self.spill.get(reqid), Some(Slot::Gone)) {
                self.spill.remove(reqid);
            }
        } else {
            self.trim();
        }
    }
}

pub(crate) struct ChannelVh {
    pub index: usize,
    /// The channel; its command producer and result consumer, this
    /// process's only ones, are in `tx` and `rx`.
    pub chan: OwnedChannel,
    pub life: Arc<Life>,
    tx: Mutex<Tx>,
    rx: Mutex<Rx>,
    /// Bumped when a result arrives other than through the ring (VH closures).
    local_seq: AtomicU64,
    /// Highest request id published to the helper.
    published: AtomicU64,
    /// How long waiters spin for an answer.
    spin: SpinBudget,
    /// Whether the proc is traced (`trace.rs`): one test per request when not.
    traced: bool,
}

/// A writer of one request's messages, with the channel's producer locked.
pub(crate) struct Submit<'c> {
    ch: &'c ChannelVh,
    tx: parking_lot::MutexGuard<'c, Tx>,
}

impl Submit<'_> {
    /// Starts a new request and returns its id.
    pub(crate) fn next_reqid(&mut self) -> u64 {
        self.tx.next_reqid += 1;
        self.tx.next_reqid
    }

    /// Writes one message, waiting for room (and draining results meanwhile,
    /// so that a full result ring can never block the helper for good).
    /// Inlined: the common case, a ring with room, is a test and a write;
    /// the rest is out of line (`message_slow`), so that the caller's hot
    /// path does not depend on the compiler's guess (callgrind: outlined, a
    /// call cost 34 VH instructions more).
    #[inline(always)]
    pub(crate) fn message(
        &mut self,
        kind: u16,
        reqid: u64,
        body_len: usize,
        fill: impl Fn(&mut [u8]),
    ) -> Result<()> {
        if body_len <= self.tx.producer.ring().max_body()
            && !(self.ch.traced && kind != proto::KIND_DATA)
            && self.tx.producer.try_write(kind, reqid, body_len, &fill)
        {
            return Ok(());
        }
        self.message_slow(kind, reqid, body_len, &fill)
    }

    /// [`Submit::message`] when the body is too large, the proc is traced or
    /// the ring has no room.
    #[cold]
    #[inline(never)]
    fn message_slow(
        &mut self,
        kind: u16,
        reqid: u64,
        body_len: usize,
        fill: &dyn Fn(&mut [u8]),
    ) -> Result<()> {
        let max = self.tx.producer.ring().max_body();
        if body_len > max {
            return Err(Error::InvalidArgument(format!(
                "a request of {body_len} bytes (a name or path this long) does not fit this \
                 proc's rings: at most {max} bytes (ProcBuilder::ring_bytes sets the ring size)"
            )));
        }
        if self.ch.traced && kind != proto::KIND_DATA {
            self.ch.trace_sent(reqid, kind);
        }
        loop {
            if self.tx.producer.try_write(kind, reqid, body_len, fill) {
                return Ok(());
            }
            self.publish();
            self.ch.try_drain();
            self.ch.life.check()?;
            let ring = *self.tx.producer.ring();
            let total = veo_urpc::ring::message_bytes(body_len);
            // Short slices: while we wait for room, results may need draining.
            let soon = Instant::now() + Duration::from_millis(1);
            ring.wait_space(
                self.tx.producer.tail(),
                total,
                &WaitPolicy::VH,
                Some(soon),
                || self.ch.life.is_dead(),
            );
        }
    }

    /// Sends `bytes` as DATA messages at `base`, split so that copying in and
    /// copying out overlap.
    pub(crate) fn data(&mut self, reqid: u64, base: u64, bytes: &[u8]) -> Result<()> {
        if self.ch.traced {
            self.ch.trace_bytes(reqid, bytes.len() as u64);
        }
        let chunk = self.chunk();
        for (i, piece) in bytes.chunks(chunk).enumerate() {
            let off = base + (i * chunk) as u64;
            self.message(proto::KIND_DATA, reqid, 16 + piece.len(), |b| {
                proto::encode_words(b, &[off, piece.len() as u64]);
                veo_urpc::copy::copy(&mut b[16..16 + piece.len()], piece);
            })?;
        }
        Ok(())
    }

    /// Whether every request submitted so far has finished (drained or
    /// not yet taken): a transfer submitted now may then be done at once
    /// by this thread, in queue order.
    pub(crate) fn idle(&self) -> bool {
        let mut rx = self.ch.lock_rx();
        if rx.finished < self.tx.next_reqid {
            // Answers may wait in the ring.
            rx.drain(&self.ch.life, &self.ch.published);
        }
        rx.finished >= self.tx.next_reqid
    }

    /// Starts a request that this thread has already carried out, with
    /// its result `done`, and returns its id. Only right after
    /// [`idle`](Self::idle) said yes, with this `Submit` held throughout.
    pub(crate) fn finished_here(&mut self, done: Done) -> u64 {
        let reqid = self.next_reqid();
        // Never sent: nothing to publish, but `wait`'s check that the
        // request was submitted must hold.
        self.ch.published.fetch_max(reqid, Ordering::Release);
        let mut rx = self.ch.lock_rx();
        rx.done.put(reqid, done);
        rx.finished = rx.finished.max(reqid);
        reqid
    }

    /// The trace's clock now, for [`trace_here`](Self::trace_here); 0 (and
    /// no clock read) when the proc is not traced.
    #[inline]
    pub(crate) fn trace_clock(&self) -> u64 {
        if self.ch.traced {
            crate::trace::now_ns()
        } else {
            0
        }
    }

    /// Tells a traced proc's trace that request `reqid`, a `kind` of
    /// `bytes`, was carried out here from `start` until now.
    #[inline]
    pub(crate) fn trace_here(&self, reqid: u64, kind: u16, bytes: u64, start: u64) {
        if self.ch.traced {
            if let Some(t) = self.ch.life.trace.get() {
                t.here(self.ch.index, reqid, kind, bytes, start);
            }
        }
    }

    /// Tells a traced proc's trace that request `reqid` calls the kernel
    /// at `addr` (before its first message).
    #[inline]
    pub(crate) fn trace_call(&self, reqid: u64, addr: u64) {
        if self.ch.traced {
            self.ch.trace_call(reqid, addr);
        }
    }

    /// The largest DATA payload: a quarter ring, so that two pieces are in
    /// flight while a third is copied.
    pub(crate) fn chunk(&self) -> usize {
        ((self.tx.producer.ring().max_body() - 16) & !4095).min(256 << 10)
    }

    /// Makes everything written visible to the helper (one wake-up at most).
    pub(crate) fn publish(&mut self) {
        if self.tx.producer.pending() {
            // Before the ring's tail: any answer the drain sees then has an
            // id it can check against `published`.
            self.ch
                .published
                .store(self.tx.next_reqid, Ordering::Release);
            self.tx.producer.publish();
        }
    }
}

impl Drop for Submit<'_> {
    fn drop(&mut self) {
        self.publish();
    }
}

impl ChannelVh {
    /// The VH end of channel `index` of `seg`: refused while another one
    /// holds the channel's rings (see `EmulatedProc::take_slot`).
    pub(crate) fn new(index: usize, seg: &Arc<Segment>, life: Arc<Life>) -> Result<ChannelVh> {
        let traced = life.trace.get().is_some();
        let chan = OwnedChannel::new(seg.clone(), index);
        let in_use = |e: veo_urpc::Taken| {
            Error::InvalidArgument(format!("channel {index} is still in use: {e}"))
        };
        let producer = chan.cmd_producer().map_err(in_use)?;
        let consumer = chan.res_consumer().map_err(in_use)?;
        Ok(ChannelVh {
            index,
            chan,
            life,
            tx: Mutex::new(Tx {
                producer,
                next_reqid: 0,
            }),
            rx: Mutex::new(Rx {
                index,
                consumer,
                done: Table::new(),
                partial: HashMap::new(),
                finished: 0,
                wakers: FxHashMap::default(),
            }),
            local_seq: AtomicU64::new(0),
            published: AtomicU64::new(0),
            spin: SpinBudget::new(),
            traced,
        })
    }

    #[cold]
    #[inline(never)]
    fn trace_sent(&self, reqid: u64, kind: u16) {
        if let Some(t) = self.life.trace.get() {
            t.sent(self.index, reqid, kind);
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_bytes(&self, reqid: u64, bytes: u64) {
        if let Some(t) = self.life.trace.get() {
            t.bytes(self.index, reqid, bytes);
        }
    }

    #[cold]
    #[inline(never)]
    fn trace_call(&self, reqid: u64, addr: u64) {
        if let Some(t) = self.life.trace.get() {
            t.call(self.index, reqid, addr);
        }
    }

    /// Locks the producer for a request's messages. Inlined: with the
    /// ring ends' drop glue (they give their claim back) the compiler
    /// outlined it, which cost every call 35 VH instructions (callgrind).
    #[inline(always)]
    pub(crate) fn submit(&self) -> Result<Submit<'_>> {
        self.life.check()?;
        Ok(Submit {
            ch: self,
            tx: self.tx.lock(),
        })
    }

    /// Waits until no request is being written on this channel (takes the
    /// producer's lock once).
    pub(crate) fn barrier(&self) {
        drop(self.tx.lock());
    }

    /// One command without data, answered by a RESULT.
    pub(crate) fn simple(&self, kind: u16, words: &[u64], tail: &[u8]) -> Result<u64> {
        let mut s = self.submit()?;
        let reqid = s.next_reqid();
        let n = words.len() * 8;
        s.message(kind, reqid, n + tail.len(), |b| {
            proto::encode_words(b, words);
            b[n..n + tail.len()].copy_from_slice(tail);
        })?;
        if self.traced {
            if let (proto::KIND_READ, [_, len])
            | (proto::KIND_MEMCPY, [_, _, len])
            | (proto::KIND_ALLOC, [len]) = (kind, words)
            {
                self.trace_bytes(reqid, *len);
            }
        }
        Ok(reqid)
    }

    /// Asks the helper to exit, without waiting and even on a closed proc.
    pub(crate) fn exit_message(&self) -> bool {
        let mut tx = self.tx.lock();
        tx.next_reqid += 1;
        let reqid = tx.next_reqid;
        let ok = tx.producer.try_write(proto::KIND_EXIT, reqid, 0, |_| {});
        tx.producer.publish();
        ok
    }

    #[inline(always)]
    fn lock_rx(&self) -> parking_lot::MutexGuard<'_, Rx> {
        self.rx.lock()
    }

    /// Drains if no other thread is draining.
    fn try_drain(&self) {
        if let Some(mut rx) = self.rx.try_lock() {
            rx.drain(&self.life, &self.published);
        }
    }

    /// Records the result of a request answered on the VH (a VH closure).
    pub(crate) fn complete_locally(&self, reqid: u64, done: Done) {
        {
            let mut rx = self.lock_rx();
            rx.done.put(reqid, done);
            rx.finished = rx.finished.max(reqid);
            rx.wake(reqid);
        }
        self.local_seq.fetch_add(1, Ordering::Release);
        self.chan.get().res.wake_consumers();
    }

    /// Takes the result of `reqid` if it is there, placing its answer
    /// bytes in `sink`.
    pub(crate) fn poll(&self, reqid: u64, sink: &mut Sink<'_, '_>) -> Result<Option<Done>> {
        let mut rx = self.lock_rx();
        // An answer drained earlier needs no look at the ring (whose tail's
        // cache line the helper may be writing).
        if let Some(d) = rx.done.take(reqid) {
            return Ok(Some(d));
        }
        let d = rx.drain_messages(&self.life, &self.published, reqid, sink);
        rx.consumer.release();
        if let Some(d) = d.or_else(|| rx.done.take(reqid)) {
            return Ok(Some(d));
        }
        drop(rx);
        if self.life.is_dead() {
            return Err(self.life.error_for(self.index, reqid));
        }
        Ok(None)
    }

    /// Waits for the result of `reqid`, which has no answer bytes to place.
    pub(crate) fn wait(&self, reqid: u64, deadline: Option<Deadline>) -> Result<Done> {
        let mut placed = 0;
        self.wait_into(
            reqid,
            deadline,
            &mut Sink {
                outs: &mut [],
                placed: &mut placed,
            },
        )
    }

    /// Waits for the result of `reqid`, placing its answer bytes in `sink`.
    pub(crate) fn wait_into(
        &self,
        reqid: u64,
        deadline: Option<Deadline>,
        sink: &mut Sink<'_, '_>,
    ) -> Result<Done> {
        let until = deadline.as_ref().map(Deadline::at);
        loop {
            let (seen_tail, seen_local) = {
                let mut rx = self.lock_rx();
                if let Some(d) = rx.done.take(reqid) {
                    return Ok(d);
                }
                // The room made is published lazily (an eighth of the ring
                // at a time): withholding less never blocks the helper, as
                // its messages are at most a quarter ring.
                let (ring, head) = (self.chan.get().res, rx.consumer.head());
                if ring.committed_at(head) {
                    if let Some(value) = rx.next_plain(&self.published, reqid) {
                        return Ok(Done::ok(value));
                    }
                    if let Some(d) = rx.drain_messages(&self.life, &self.published, reqid, sink) {
                        return Ok(d);
                    }
                }
                // The answer to a short call is a microsecond away: look for
                // it with the lock held rather than release it and take it
                // again (a waiter for another request on this channel waits
                // that long at most, and finds its answer drained).
                let head = rx.consumer.head();
                if veo_urpc::wait::spin_briefly(|| ring.committed_at(head)) {
                    if let Some(value) = rx.next_plain(&self.published, reqid) {
                        return Ok(Done::ok(value));
                    }
                    if let Some(d) = rx.drain_messages(&self.life, &self.published, reqid, sink) {
                        return Ok(d);
                    }
                }
                (rx.consumer.head(), self.local_seq.load(Ordering::Acquire))
            };
            if self.life.is_dead() {
                return Err(self.life.error_for(self.index, reqid));
            }
            if self.published.load(Ordering::Acquire) < reqid {
                return Err(self.not_submitted(reqid));
            }
            let ring = self.chan.get().res;
            let ch = self.chan.get().header();
            let here = veo_urpc::wait::note_cpu(&ch.vh_cpu);
            let peer_here = here != 0 && ch.helper_cpu.load(Ordering::Relaxed) == here;
            let wake = ring.data_word().wait_adaptive(
                &WaitPolicy::VH,
                &self.spin,
                peer_here,
                until,
                || {
                    ring.committed_at(seen_tail)
                        || self.local_seq.load(Ordering::Acquire) != seen_local
                },
                || self.life.is_dead(),
            );
            if let (Wake::TimedOut, Some(deadline)) = (wake, deadline) {
                // One last look: the answer may have come with the deadline.
                if let Some(d) = self.poll(reqid, sink)? {
                    return Ok(d);
                }
                return Err(deadline.timed_out());
            }
        }
    }

    /// The error of a wait for `reqid`, which this channel never published.
    #[cold]
    fn not_submitted(&self, reqid: u64) -> Error {
        Error::NotSubmitted {
            context: self.index,
            id: reqid,
        }
    }

    /// Takes the result of `reqid` if it is there, placing its answer bytes
    /// in `sink`; else has `waker` woken when it may be (`future.rs`).
    pub(crate) fn poll_async(
        &self,
        reqid: u64,
        sink: &mut Sink<'_, '_>,
        waker: &Waker,
    ) -> Result<Option<Done>> {
        // Before the drain: an answer published after it moves the tail.
        let seen_tail = self.chan.get().res.tail();
        let mut rx = self.lock_rx();
        let mut done = rx.done.take(reqid);
        if done.is_none() {
            done = rx.drain_messages(&self.life, &self.published, reqid, sink);
        }
        // The rest may be other futures' answers: to the table, where they
        // are woken (the waiter wakes one future per ring, to do this).
        rx.drain(&self.life, &self.published);
        if done.is_none() {
            done = rx.done.take(reqid);
        }
        if done.is_some() {
            if !rx.wakers.is_empty() {
                rx.wakers.remove(&reqid);
            }
            drop(rx);
            self.life.waiter.unwatch(self.index, reqid);
            return Ok(done);
        }
        if self.life.is_dead() {
            rx.wakers.remove(&reqid);
            drop(rx);
            self.life.waiter.unwatch(self.index, reqid);
            return Err(self.life.error_for(self.index, reqid));
        }
        if self.published.load(Ordering::Acquire) < reqid {
            return Err(self.not_submitted(reqid));
        }
        match rx.wakers.get_mut(&reqid) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => *w = waker.clone(),
            None => {
                rx.wakers.insert(reqid, waker.clone());
            }
        }
        drop(rx);
        self.life
            .waiter
            .watch(&self.life, self.index, reqid, seen_tail, waker);
        Ok(None)
    }

    /// Forgets the future of `reqid` before its request is dropped: drains
    /// the ring first, as the future may have been woken to do that for the
    /// others (`future.rs`).
    pub(crate) fn forget_waker(&self, reqid: u64) {
        {
            let mut rx = self.lock_rx();
            rx.wakers.remove(&reqid);
            rx.drain(&self.life, &self.published);
        }
        self.life.waiter.unwatch(self.index, reqid);
    }

    /// Forgets a request nobody will wait for.
    pub(crate) fn abandon(&self, reqid: u64) {
        let mut rx = self.lock_rx();
        // An answer already drained is simply dropped; otherwise drain, so
        // that abandoned answers do not pile up in the ring.
        if rx.done.take(reqid).is_some() {
            return;
        }
        rx.drain(&self.life, &self.published);
        rx.done.abandon(reqid);
        if !rx.wakers.is_empty() {
            rx.wakers.remove(&reqid);
        }
        if !rx.partial.is_empty() {
            rx.partial.remove(&reqid);
        }
    }
}

impl Rx {
    /// Wakes the future waiting for `reqid`, if there is one.
    #[inline]
    fn wake(&mut self, reqid: u64) {
        if !self.wakers.is_empty() {
            if let Some(w) = self.wakers.remove(&reqid) {
                w.wake();
            }
        }
    }

    /// The value answering `want` when the ring's next message is that
    /// answer, plain (status OK, no text, no answer bytes kept for it): the
    /// answer to nearly every call, taken with the checks of
    /// [`drain_messages`](Self::drain_messages) that it needs and none of
    /// its general bookkeeping. `None` leaves everything to that drain (a
    /// corrupt message too, which it reports).
    #[inline(always)]
    fn next_plain(&mut self, published: &AtomicU64, want: u64) -> Option<u64> {
        if !self.partial.is_empty() {
            return None;
        }
        let Ok(Some(msg)) = self.consumer.peek() else {
            return None;
        };
        // An answer follows its request's publication (`Submit::publish`).
        if msg.kind != proto::KIND_RESULT
            || msg.reqid != want
            || want > published.load(Ordering::Acquire)
        {
            return None;
        }
        let value = proto::decode_ok_result(msg.body)?;
        self.consumer.advance_lazily();
        self.finished = self.finished.max(want);
        self.done.taken(want);
        Some(value)
    }

    /// Moves every message in the result ring into the tables.
    fn drain(&mut self, life: &Life, published: &AtomicU64) {
        // Tell the helper about the room made once, at the end.
        let mut placed = 0;
        let mut none = Sink {
            outs: &mut [],
            placed: &mut placed,
        };
        self.drain_messages(life, published, 0, &mut none);
        self.consumer.release();
    }

    /// Moves the messages in the result ring into the tables, up to the
    /// answer of `want` (0: none), which is returned instead: a waiter that
    /// finds its own answer takes it without a trip through the table, and
    /// its answer bytes go straight into `sink`.
    fn drain_messages(
        &mut self,
        life: &Life,
        published: &AtomicU64,
        want: u64,
        sink: &mut Sink<'_, '_>,
    ) -> Option<Done> {
        loop {
            let msg = match self.consumer.peek() {
                Ok(Some(m)) => m,
                Ok(None) => return None,
                Err(e) => {
                    life.protocol_failure(&e.to_string());
                    return None;
                }
            };
            let reqid = msg.reqid;
            // Every answer follows its request's publication (see
            // `Submit::publish`); anything else would grow the table unbounded.
            if reqid == 0 || reqid > published.load(Ordering::Acquire) {
                life.protocol_failure("an answer for a request never submitted");
                return None;
            }
            match msg.kind {
                proto::KIND_RDATA => {
                    if let Ok(([offset, len], rest)) = proto::decode_words::<2>(msg.body) {
                        let bytes = rest.get(..len as usize);
                        if let (Some(bytes), true) =
                            (bytes, reqid == want && !self.partial.contains_key(&reqid))
                        {
                            // The waiter's own bytes: one copy, into place.
                            if offset != *sink.placed {
                                life.protocol_failure("answer bytes out of order");
                                return None;
                            }
                            scatter(sink.outs, offset, bytes);
                            *sink.placed += bytes.len() as u64;
                        } else if let (Some(bytes), false) = (bytes, self.done.discards(reqid)) {
                            let (base, buf) = self
                                .partial
                                .entry(reqid)
                                .or_insert_with(|| (offset, Vec::new()));
                            let Some(offset) = offset.checked_sub(*base) else {
                                life.protocol_failure("answer bytes out of order");
                                return None;
                            };
                            let end = (offset as usize).saturating_add(bytes.len());
                            if offset as usize == buf.len() {
                                // The usual case, pieces in order: one copy
                                // (no zero-filling first, which is slow in
                                // unoptimised builds).
                                veo_urpc::copy::extend(buf, bytes);
                            } else if end <= buf.len() {
                                veo_urpc::copy::copy(&mut buf[offset as usize..end], bytes);
                            } else {
                                // The helper sends each answer's bytes in
                                // order; a gap (an offset up to 2^64) would
                                // make the VH allocate without bound.
                                life.protocol_failure("answer bytes out of order");
                                return None;
                            }
                        }
                    }
                }
                proto::KIND_RESULT => {
                    let done = match proto::decode_result(msg.body) {
                        Ok(r) => Done {
                            status: Some(r.status),
                            value: r.value,
                            text: if r.text.is_empty() {
                                String::new()
                            } else {
                                String::from_utf8_lossy(r.text).into_owned()
                            },
                            ..Done::default()
                        },
                        Err(e) => Done {
                            status: None,
                            text: e.to_string(),
                            ..Done::default()
                        },
                    };
                    let mut done = done;
                    self.finished = self.finished.max(reqid);
                    if !self.partial.is_empty() {
                        if let Some((at, data)) = self.partial.remove(&reqid) {
                            (done.data_at, done.data) = (at, data);
                        }
                    }
                    if reqid == want {
                        self.consumer.advance_lazily();
                        self.done.taken(reqid);
                        return Some(done);
                    }
                    self.done.put(reqid, done);
                    self.wake(reqid);
                }
                proto::KIND_TIMES => {
                    if let (Some(t), Ok(([start, end], _))) =
                        (life.trace.get(), proto::decode_words::<2>(msg.body))
                    {
                        t.ran(self.index, reqid, start, end);
                    }
                }
                _ => life.protocol_failure("unexpected message kind from the helper"),
            }
            self.consumer.advance_lazily();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_of_answers_still_to_take_never_spills() {
        // A program that submits more than WINDOW calls, then waits for
        // each in order: every answer arrives before it is taken.
        let mut t = Table::new();
        let n = WINDOW as u64 + 1000;
        for id in 1..=n {
            t.put(id, Done::ok(id));
        }
        assert!(t.spill.is_empty());
        for id in 1..=n {
            assert_eq!(t.take(id).map(|d| d.value), Some(id));
        }
        assert!(t.spill.is_empty());
        assert_eq!((t.slots.len(), t.live, t.base), (0, 0, n + 1));
    }

    #[test]
    fn a_forgotten_request_spills_once_the_window_is_mostly_gone() {
        // Request 1 is never answered; the later ones are taken as they
        // arrive: the window moves on, request 1 waits spilled.
        let mut t = Table::new();
        t.entry(1);
        let n = 2 * WINDOW as u64 + 10;
        for id in 2..=n {
            t.put(id, Done::ok(id));
            assert_eq!(t.take(id).map(|d| d.value), Some(id));
        }
        assert!(t.slots.len() <= WINDOW + 1, "{}", t.slots.len());
        assert!(t.spill.contains(1));
        t.put(1, Done::ok(7));
        assert_eq!(t.take(1).map(|d| d.value), Some(7));
        assert!(t.spill.is_empty());
        // Live entries counted as they are: only the ones still in the window.
        let live = t.slots.iter().filter(|s| !matches!(s, Slot::Gone)).count();
        assert_eq!(t.live, live);
    }

    #[test]
    fn abandoned_and_taken_entries_keep_the_live_count() {
        let mut t = Table::new();
        t.abandon(3); // ids 1..=3 now in the window, 3 abandoned
        t.put(1, Done::ok(1));
        t.taken(2);
        t.put(3, Done::ok(3)); // discarded on arrival
        assert_eq!(t.live, 1);
        assert_eq!(t.take(1).map(|d| d.value), Some(1));
        assert_eq!((t.slots.len(), t.live, t.base), (0, 0, 4));
    }
}
