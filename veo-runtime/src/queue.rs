//! Requests kept by id, for callers that cannot hold a borrow of their
//! context: AVEO's C API and other language bindings.
//!
//! A [`Request`](crate::Request) borrows its context and its OUT buffers,
//! which is what makes it safe in Rust. A C program instead gets a number
//! and collects the result later, from any thread. A [`RequestQueue`] owns
//! its context and every pending request, numbers them per context from 0
//! (AVEO's request ids), owns the bytes that come back (OUT/INOUT stack
//! buffers, reads) and hands them over, once, when a request is collected.

use crate::arglist::{ArgList, ResultKind};
use crate::context::{Context, ContextState};
use crate::emulated::call::{submit_call, submit_register_list};
use crate::emulated::channel::{scatter, ChannelVh, Done, Sink};
use crate::emulated::request::{status_error, What};
use crate::emulated::EmulatedProc;
use crate::error::{Closable, Error, Result};
use crate::mem_hooks::{self, MemoryEvent, MemoryOp};
use crate::memory;
use crate::proc::{Proc, WeakProc};
use crate::spilled::Spilled;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::ThreadId;
use veo_urpc::proto::{self, ArgClass, Status};

/// What a queued request does, for its errors: the few kinds of
/// [`What`] a queue makes, in 24 bytes where `What` takes 40, as every
/// entry of the queue's ring is moved in at submit and out at collect.
#[derive(Clone, Copy)]
enum Kind {
    Call,
    Transfer { addr: u64, len: u64 },
    Alloc,
    Other,
}

impl Kind {
    #[cold]
    fn what(self) -> What<'static> {
        match self {
            Kind::Call => What::Call,
            Kind::Transfer { addr, len } => What::Transfer { addr, len },
            Kind::Alloc => What::Alloc,
            Kind::Other => What::Other,
        }
    }
}

/// One request on a channel, with room for its answer bytes.
struct Pending {
    reqid: u64,
    outs: Vec<Vec<u8>>,
    placed: u64,
    what: Kind,
}

impl Pending {
    fn new(reqid: u64, outs: Vec<Vec<u8>>, what: Kind) -> Pending {
        Pending {
            reqid,
            outs,
            placed: 0,
            what,
        }
    }

    fn poll(&mut self, ch: &ChannelVh) -> Result<Option<u64>> {
        let mut refs: Vec<&mut [u8]> = self.outs.iter_mut().map(|o| &mut o[..]).collect();
        let done = ch.poll(
            self.reqid,
            &mut Sink {
                outs: &mut refs,
                placed: &mut self.placed,
            },
        )?;
        done.map(|d| self.finish(d)).transpose()
    }

    #[inline]
    fn wait(&mut self, ch: &ChannelVh) -> Result<u64> {
        if self.outs.is_empty() {
            // Most calls: no answer bytes, no list of buffers to lend.
            let done = ch.wait_into(
                self.reqid,
                None,
                &mut Sink {
                    outs: &mut [],
                    placed: &mut self.placed,
                },
            )?;
            return self.finish(done);
        }
        let mut refs: Vec<&mut [u8]> = self.outs.iter_mut().map(|o| &mut o[..]).collect();
        let done = ch.wait_into(
            self.reqid,
            None,
            &mut Sink {
                outs: &mut refs,
                placed: &mut self.placed,
            },
        )?;
        self.finish(done)
    }

    /// As `Request::finish`, for owned buffers.
    #[inline(always)]
    fn finish(&mut self, done: Done) -> Result<u64> {
        match done.status {
            Some(Status::Ok) => {}
            Some(status) => return Err(status_error(status, done, self.what.what())),
            None => return Err(Error::Helper(done.text)),
        }
        if self.outs.is_empty() && done.data.is_empty() {
            return Ok(done.value);
        }
        if !done.data.is_empty() && done.data_at != self.placed {
            return Err(Error::Helper("answer bytes out of order".into()));
        }
        let have = self.placed as usize + done.data.len();
        let want: usize = self.outs.iter().map(|o| o.len()).sum();
        if have < want {
            return Err(Error::Helper(format!(
                "the helper answered {have} of the {want} bytes this request expects"
            )));
        }
        if !done.data.is_empty() {
            let mut refs: Vec<&mut [u8]> = self.outs.iter_mut().map(|o| &mut o[..]).collect();
            scatter(&mut refs, done.data_at, &done.data);
        }
        Ok(done.value)
    }
}

/// Waits for the answer of a call without OUT bytes ([`Entry::Call`]): as
/// [`Pending::wait`], without a `Pending` to make and drop.
#[inline(always)]
fn wait_call(ch: &ChannelVh, reqid: u64) -> Result<u64> {
    let mut placed = 0;
    let done = ch.wait_into(
        reqid,
        None,
        &mut Sink {
            outs: &mut [],
            placed: &mut placed,
        },
    )?;
    call_done(reqid, done)
}

/// [`wait_call`] without waiting: the result if it has arrived.
#[inline]
fn poll_call(ch: &ChannelVh, reqid: u64) -> Result<Option<u64>> {
    let mut placed = 0;
    let done = ch.poll(
        reqid,
        &mut Sink {
            outs: &mut [],
            placed: &mut placed,
        },
    )?;
    done.map(|d| call_done(reqid, d)).transpose()
}

/// The result of a call without OUT bytes from its answer.
#[inline(always)]
fn call_done(reqid: u64, done: Done) -> Result<u64> {
    if done.status == Some(Status::Ok) && done.data.is_empty() {
        return Ok(done.value);
    }
    Pending::new(reqid, Vec::new(), Kind::Call).finish(done)
}

/// What collecting a request by id gives.
#[derive(Debug)]
pub enum Collected<T> {
    /// No request has this id on this queue, or it was collected already.
    Unknown,
    /// Not finished yet (only from [`RequestQueue::peek`]).
    Unfinished,
    /// Finished.
    Done {
        /// The raw 64-bit result, or the error ([`Error::KernelException`]
        /// when the kernel crashed).
        result: Result<u64>,
        /// The OUT and INOUT stack buffers of a call, in argument order, or
        /// the bytes of a read; empty after an error.
        outs: Vec<Vec<u8>>,
        /// What the caller attached when submitting.
        tag: T,
    },
}

impl<T> Collected<T> {
    /// A request that returned `v` without bytes.
    fn returned(v: u64, tag: T) -> Self {
        Collected::Done {
            result: Ok(v),
            outs: Vec::new(),
            tag,
        }
    }
}

/// The requests of a queue not collected yet, by id: a ring indexed by
/// `id - base` (ids are handed out consecutively), so that numbering,
/// looking up and collecting a request is an index, not a hash, and
/// dropping collected entries from the front moves nothing.
///
/// A request that is never collected (AVEO's Test 3 leaves all but the
/// last) holds the window's start back; once the window is longer than
/// [`WINDOW_MAX`] and less than half of it is still to collect, its front
/// entry moves to `spilled` ([`Spilled`]: a push, as fronts leave in id
/// order), so that one forgotten request cannot make the window grow with
/// every later one. A window full of requests
/// still to collect (a program that submits 100000 calls, then collects
/// them) stays a window: moving its entries out would keep as many and
/// look each one up twice.
struct Store<T> {
    /// The id of the entry at `head`.
    base: u64,
    head: usize,
    len: usize,
    /// A power of two long (or empty); `len` entries from `head`, wrapping.
    ring: Vec<Option<(Entry, T)>>,
    /// Entries of the window not collected yet (`Some`).
    live: usize,
    spilled: Spilled<(Entry, T)>,
    /// Every entry below this id is finished: [`RequestQueue::sync`]
    /// polls only from here, not every result a program left uncollected
    /// before (AVEO's Test 3 leaves one per call).
    synced: u64,
}

/// Entries the window holds before its front spills.
const WINDOW_MAX: usize = 1 << 16;

impl<T> Store<T> {
    fn new() -> Self {
        Store {
            base: 0,
            head: 0,
            len: 0,
            ring: Vec::new(),
            live: 0,
            spilled: Spilled::default(),
            synced: 0,
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.ring.len().wrapping_sub(1)
    }

    /// Keeps request `id`, the next one after every id kept before.
    #[inline(always)]
    fn insert(&mut self, id: u64, v: (Entry, T)) {
        if self.len == 0 {
            self.base = id;
            self.synced = self.synced.min(id);
        }
        // Ids are consecutive; a wrap past u64::MAX - 1 (never reached in
        // practice) starts a new window after spilling the old one.
        if id != self.base.wrapping_add(self.len as u64) {
            self.spill_all();
            self.base = id;
            self.synced = self.synced.min(id);
        }
        if self.len == self.ring.len() {
            self.grow();
        }
        let at = (self.head + self.len) & self.mask();
        self.ring[at] = Some(v);
        self.len += 1;
        self.live += 1;
        while self.len > WINDOW_MAX && self.live < self.len / 2 {
            self.pop_front_spilling();
        }
    }

    /// Doubles the full ring, its entries in order from 0 (moved as
    /// bytes: nothing is dropped or taken out one by one).
    #[cold]
    fn grow(&mut self) {
        let n = (self.ring.len() * 2).max(64);
        self.ring.rotate_left(self.head);
        self.ring.resize_with(n, || None);
        self.head = 0;
    }

    #[inline]
    fn advance(&mut self) {
        self.head = (self.head + 1) & self.mask();
        self.base = self.base.wrapping_add(1);
        self.len -= 1;
    }

    #[cold]
    fn pop_front_spilling(&mut self) {
        if self.len > 0 {
            if let Some(v) = self.ring[self.head].take() {
                self.live -= 1;
                self.spilled.insert(self.base, v);
            }
            self.advance();
        }
        self.trim();
    }

    #[cold]
    fn spill_all(&mut self) {
        while self.len > 0 {
            self.pop_front_spilling();
        }
    }

    /// Drops collected entries at the front.
    #[inline]
    fn trim(&mut self) {
        while self.len > 0 && self.ring[self.head].is_none() {
            self.advance();
        }
    }

    /// Where request `id` is in the ring, and whether it is the front.
    #[inline]
    fn index(&self, id: u64) -> Option<(usize, bool)> {
        let i = id.wrapping_sub(self.base);
        (i < self.len as u64).then(|| ((self.head + i as usize) & self.mask(), i == 0))
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut (Entry, T)> {
        match self.index(id) {
            Some((at, _)) => self.ring[at].as_mut(),
            None if self.spilled.is_empty() => None,
            None => self.spilled.get_mut(id),
        }
    }

    #[inline(always)]
    fn remove(&mut self, id: u64) -> Option<(Entry, T)> {
        match self.index(id) {
            Some((at, front)) => {
                let v = self.ring[at].take();
                if v.is_some() {
                    self.live -= 1;
                }
                if front {
                    self.trim();
                }
                v
            }
            None if self.spilled.is_empty() => None,
            None => self.spilled.remove(id),
        }
    }

    /// Every id kept, in ascending order.
    #[cfg(test)]
    fn ids(&self) -> Vec<u64> {
        self.ids_from(0)
    }

    /// Every id kept from `from` on, in ascending order.
    fn ids_from(&self, from: u64) -> Vec<u64> {
        let mut ids: Vec<u64> = self.spilled.ids().filter(|&id| id >= from).collect();
        let mask = self.mask();
        let skip = from.saturating_sub(self.base).min(self.len as u64) as usize;
        ids.extend(
            (skip..self.len)
                .filter(|i| self.ring[(self.head + i) & mask].is_some())
                .map(|i| self.base.wrapping_add(i as u64)),
        );
        ids
    }

    /// The id the next entry gets.
    fn end(&self) -> u64 {
        self.base.wrapping_add(self.len as u64)
    }

    fn clear(&mut self) {
        for e in self.ring.iter_mut() {
            *e = None;
        }
        self.len = 0;
        self.live = 0;
        self.spilled.clear();
    }
}

struct Submitting {
    /// The thread inside a request block, and how deep.
    owner: Option<(ThreadId, usize)>,
    next_id: u64,
}

/// A context whose requests are numbered from 0 and kept until collected,
/// each exactly once (AVEO's request ids); `T` is what the caller attaches
/// to each request, such as where its OUT bytes go.
///
/// Any thread may submit and collect. A request block
/// ([`begin_block`](Self::begin_block)) keeps other threads' requests out
/// of a series.
pub struct RequestQueue<T> {
    ctx: Context,
    proc: WeakProc,
    /// Taken at every submit, and held while the submit waits for room in
    /// the ring. parking_lot's: its uncontended lock and unlock are one
    /// inlined atomic each, where std's cost about 40 instructions per use
    /// (callgrind, docs/PERFORMANCE.md).
    submitting: parking_lot::Mutex<Submitting>,
    /// Signalled when a request block ends.
    block_ended: parking_lot::Condvar,
    /// Taken at every submit and every collect, briefly (parking_lot's, as
    /// above). Not the submit's lock: a submit waiting for room in the
    /// ring must not hold up a collect, such as one made by a VH function
    /// that the helper waits for before it takes more commands
    /// (`veo_call_async_vh`), which would never end.
    pending: parking_lot::Mutex<Store<T>>,
    /// How many entries of `pending` are not finished, changed
    /// with its lock held: finished results a program never collects
    /// (AVEO's Test 3) must not make [`has_pending`](RequestQueue::has_pending)
    /// true, which would cost every later synchronous call a round trip.
    unfinished: AtomicUsize,
    closed: AtomicBool,
    on_done: OnceLock<OnDone<T>>,
}

/// Called once per request that finished well, with its tag and bytes.
type OnDone<T> = Box<dyn Fn(&T, &[Vec<u8>]) + Send + Sync>;

/// A request not collected yet: two words, as every entry is moved into
/// the queue's ring at submit and out of it at collect, and a program that
/// never collects (AVEO's Test 3) keeps one per call.
enum Entry {
    /// A call without OUT bytes (most calls), not known to have finished:
    /// its request id on the channel is all its answer needs.
    Call(u64),
    /// Any other request not known to have finished. Boxed: it has bytes
    /// to receive or a transfer to report, which cost more than the box.
    Pending(Box<Pending>),
    /// Finished well without bytes (seen by [`RequestQueue::sync`]): the
    /// value. Not boxed: a program that never collects its calls has one
    /// per call after a sync.
    Returned(u64),
    /// Finished otherwise (seen by [`RequestQueue::sync`]), its result
    /// kept. Boxed: rare.
    Finished(Box<(Result<u64>, Vec<Vec<u8>>)>),
}

impl Entry {
    #[inline(always)]
    fn new(p: Pending) -> Entry {
        if p.outs.is_empty() && matches!(p.what, Kind::Call) {
            Entry::Call(p.reqid)
        } else {
            Entry::Pending(Box::new(p))
        }
    }

    /// Whether the entry was seen finished ([`Entry::Returned`],
    /// [`Entry::Finished`]).
    #[inline]
    fn is_finished(&self) -> bool {
        matches!(self, Entry::Returned(_) | Entry::Finished(_))
    }

    /// Polls an unfinished entry: its result, and its bytes if it finished
    /// well, once it has finished; `None` for one finished before.
    fn poll(&mut self, ch: &ChannelVh) -> Option<(Result<u64>, Vec<Vec<u8>>)> {
        let p = match self {
            Entry::Call(reqid) => {
                return poll_call(ch, *reqid)
                    .transpose()
                    .map(|result| (result, Vec::new()));
            }
            Entry::Pending(p) => &mut **p,
            Entry::Returned(_) | Entry::Finished(_) => return None,
        };
        let result = match p.poll(ch) {
            Ok(None) => return None,
            Ok(Some(v)) => Ok(v),
            Err(e) => Err(e),
        };
        let outs = if result.is_ok() {
            std::mem::take(&mut p.outs)
        } else {
            Vec::new()
        };
        Some((result, outs))
    }
}

impl<T> std::fmt::Debug for RequestQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestQueue")
            .field("context", &self.ctx.index())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> RequestQueue<T> {
    /// Opens a new context of `proc` for requests kept by id. The queue
    /// does not keep the proc open.
    pub fn open(proc: &Proc) -> Result<RequestQueue<T>> {
        proc.emulated()?;
        Ok(RequestQueue {
            ctx: proc.open_context()?,
            proc: proc.downgrade(),
            submitting: parking_lot::Mutex::new(Submitting {
                owner: None,
                next_id: 0,
            }),
            block_ended: parking_lot::Condvar::new(),
            pending: parking_lot::Mutex::new(Store::new()),
            unfinished: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            on_done: OnceLock::new(),
        })
    }

    /// The context.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Whether it takes requests.
    pub fn state(&self) -> ContextState {
        if self.closed.load(Ordering::Acquire) {
            ContextState::Closed
        } else {
            self.ctx.state()
        }
    }

    #[inline]
    fn lock_submitting(&self) -> parking_lot::MutexGuard<'_, Submitting> {
        let s = self.submitting.lock();
        if s.owner.is_none() {
            // No block: no need to know which thread this is.
            return s;
        }
        self.after_block(s)
    }

    /// Waits until no other thread's request block is open.
    #[cold]
    fn after_block<'a>(
        &'a self,
        mut s: parking_lot::MutexGuard<'a, Submitting>,
    ) -> parking_lot::MutexGuard<'a, Submitting> {
        let me = std::thread::current().id();
        while s.owner.is_some_and(|(t, _)| t != me) {
            self.block_ended.wait(&mut s);
        }
        s
    }

    /// Starts a request block: until the matching
    /// [`end_block`](Self::end_block), only this thread submits here, so its
    /// requests are contiguous (AVEO's `veo_req_block_begin`). Blocks nest.
    pub fn begin_block(&self) {
        let me = std::thread::current().id();
        let mut s = self.lock_submitting();
        s.owner = Some((me, s.owner.map_or(0, |(_, d)| d) + 1));
    }

    /// Ends a request block of this thread; returns false when it has none.
    pub fn end_block(&self) -> bool {
        let me = std::thread::current().id();
        let mut s = self.submitting.lock();
        match s.owner {
            Some((t, d)) if t == me => {
                s.owner = (d > 1).then_some((t, d - 1));
                drop(s);
                if d == 1 {
                    self.block_ended.notify_all();
                }
                true
            }
            _ => false,
        }
    }

    /// Submits through `f` and numbers the request, in queue order.
    fn submit(
        &self,
        tag: T,
        f: impl FnOnce(&Arc<ChannelVh>, &Arc<EmulatedProc>) -> Result<Pending>,
    ) -> Result<u64> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed(Closable::Context));
        }
        self.ctx.check()?;
        let mut s = self.lock_submitting();
        let (ch, proc) = self.ctx.parts()?;
        let pending = f(ch, proc)?;
        Ok(self.number(&mut s, pending, tag))
    }

    /// Gives the request just submitted its id and keeps it; `s` is held
    /// since the submit, so ids follow queue order.
    #[inline(always)]
    fn number(&self, s: &mut Submitting, pending: Pending, tag: T) -> u64 {
        self.keep(s, Entry::new(pending), tag)
    }

    /// As [`number`](Self::number), for an entry already made.
    #[inline(always)]
    fn keep(&self, s: &mut Submitting, entry: Entry, tag: T) -> u64 {
        let id = s.next_id;
        // AVEO never hands out its invalid id, all ones.
        s.next_id = if id == u64::MAX - 1 { 0 } else { id + 1 };
        let mut map = self.pending.lock();
        map.insert(id, (entry, tag));
        // Changed only with `pending` locked: no read-modify-write needed.
        let n = self.unfinished.load(Ordering::Relaxed);
        self.unfinished.store(n + 1, Ordering::Relaxed);
        id
    }

    /// Queues a call of the function at VE address `addr` with `args`
    /// (AVEO's `veo_call_async`); `args` may be reused at once.
    pub fn call(&self, addr: u64, args: &ArgList, tag: T) -> Result<u64> {
        if addr == 0 {
            return Err(Error::InvalidArgument("the function address is 0".into()));
        }
        let crate::arglist::PreparedArgs { args: mut a, outs } = args.prepare()?;
        self.submit(tag, |ch, proc| {
            let (reqid, _) = submit_call(ch, addr, None, ArgClass::U64, &mut a, proc.stack_size)?;
            let outs = outs.into_iter().map(|n| vec![0; n]).collect();
            Ok(Pending::new(reqid, outs, Kind::Call))
        })
    }

    /// As [`call`](Self::call), for a caller that keeps its list behind a
    /// lock of its own (AVEO's `veo_call_async`): `lock` is called once the
    /// queue takes this request (after another thread's request block),
    /// and gives the locked list and the request's tag, or the error that
    /// stops the call (nothing is queued then). The list is used
    /// in place, without a copy: the arguments made for its last call are
    /// reused where it did not change ([`ArgList`] keeps them), and the
    /// lock is released as soon as the call is in the queue. `result` says
    /// how the function's 64-bit result is read.
    #[inline(always)]
    pub fn call_list<G>(
        &self,
        addr: u64,
        result: ResultKind,
        lock: impl FnOnce() -> Result<(G, T)>,
    ) -> Result<u64>
    where
        G: AsMut<ArgList>,
    {
        if addr == 0 {
            return Err(Error::InvalidArgument("the function address is 0".into()));
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed(Closable::Context));
        }
        self.ctx.check()?;
        let mut s = self.lock_submitting();
        // The list's lock is taken last and held only while the call is
        // written: a thread holding it never waits for this queue.
        let (mut list, tag) = lock()?;
        let b = list.as_mut().built()?;
        let (ch, proc) = self.ctx.parts()?;
        if b.outs.is_empty() {
            // Most calls: register arguments, no bytes to come back.
            if let Some(reqid) = submit_register_list(ch, addr, result.class(), &b.args) {
                let reqid = reqid?;
                drop(list);
                return Ok(self.keep(&mut s, Entry::Call(reqid), tag));
            }
        }
        let (reqid, _) = submit_call(ch, addr, None, result.class(), &mut b.args, proc.stack_size)?;
        let outs = if b.outs.is_empty() {
            Vec::new()
        } else {
            b.outs.iter().map(|&n| vec![0; n]).collect()
        };
        drop(list);
        Ok(self.number(&mut s, Pending::new(reqid, outs, Kind::Call), tag))
    }

    /// Queues `f` to run on the VH when the queue reaches it; its return
    /// value is the result (AVEO's `veo_call_async_vh`).
    pub fn call_vh(&self, f: impl FnOnce() -> u64 + Send + 'static, tag: T) -> Result<u64> {
        self.submit(tag, |_, _| {
            let reqid = self.ctx.call_vh(f)?.into_id();
            Ok(Pending::new(reqid, Vec::new(), Kind::Other))
        })
    }

    /// Queues a read of `len` bytes of VE memory at `src`; the bytes come
    /// back when the request is collected (AVEO's `veo_async_read_mem`).
    pub fn read(&self, src: u64, len: usize, tag: T) -> Result<u64> {
        memory::check_range(src, len as u64)?;
        self.submit(tag, |ch, _| {
            if len == 0 {
                let reqid = ch.simple(proto::KIND_NOP, &[], &[])?;
                return Ok(Pending::new(reqid, vec![Vec::new()], Kind::Other));
            }
            let reqid = ch.simple(proto::KIND_READ, &[src, len as u64], &[])?;
            Ok(Pending::new(
                reqid,
                vec![vec![0; len]],
                Kind::Transfer {
                    addr: src,
                    len: len as u64,
                },
            ))
        })
    }

    /// Queues a write of `src` (copied now) to VE memory at `dst` (AVEO's
    /// `veo_async_write_mem`).
    pub fn write(&self, dst: u64, src: &[u8], tag: T) -> Result<u64> {
        let len = src.len() as u64;
        memory::check_range(dst, len)?;
        self.submit(tag, |ch, _| {
            if src.is_empty() {
                let reqid = ch.simple(proto::KIND_NOP, &[], &[])?;
                return Ok(Pending::new(reqid, Vec::new(), Kind::Other));
            }
            let mut s = ch.submit()?;
            let reqid = s.next_reqid();
            s.message(proto::KIND_WRITE, reqid, 16, |b| {
                proto::encode_words(b, &[dst, len])
            })?;
            s.data(reqid, 0, src)?;
            drop(s);
            Ok(Pending::new(
                reqid,
                Vec::new(),
                Kind::Transfer { addr: dst, len },
            ))
        })
    }

    /// Queues an allocation of `bytes` of VE memory; the result is its
    /// address (AVEO's `veo_alloc_mem_async`). With a
    /// [`MemoryOp::AllocAsync`] hook, the request is a VH function queued
    /// after the allocation that runs the hook and gives the address (0 if
    /// the allocation failed), as in AVEO.
    pub fn alloc(&self, bytes: u64, tag: T) -> Result<u64> {
        self.submit(tag, |ch, _| {
            let reqid = ch.simple(proto::KIND_ALLOC, &[bytes], &[])?;
            let Some(hook) = mem_hooks::memory_hook(MemoryOp::AllocAsync) else {
                return Ok(Pending::new(reqid, Vec::new(), Kind::Alloc));
            };
            let (ch, proc, context) = (ch.clone(), self.proc.clone(), self.ctx.index());
            let vh = self.ctx.call_vh(move || {
                let mut alloc = Pending::new(reqid, Vec::new(), Kind::Alloc);
                let addr = alloc.wait(&ch).unwrap_or(0);
                if let (Some(proc), true) = (proc.upgrade(), addr != 0) {
                    hook(&MemoryEvent {
                        op: MemoryOp::AllocAsync,
                        proc: &proc,
                        context: Some(context),
                        addr,
                        size: bytes,
                    });
                }
                addr
            })?;
            Ok(Pending::new(vh.into_id(), Vec::new(), Kind::Other))
        })
    }

    /// Queues freeing VE memory at `addr` (AVEO's `veo_free_mem_async`);
    /// a [`MemoryOp::FreeAsync`] hook runs once it is queued. Address 0 is
    /// freed as C frees `NULL`: a request that does nothing.
    pub fn free(&self, addr: u64, tag: T) -> Result<u64> {
        if addr == 0 {
            return self.submit(tag, |ch, _| {
                let reqid = ch.simple(proto::KIND_NOP, &[], &[])?;
                Ok(Pending::new(reqid, Vec::new(), Kind::Other))
            });
        }
        let id = self.submit(tag, |ch, _| {
            let reqid = ch.simple(proto::KIND_FREE, &[addr], &[])?;
            Ok(Pending::new(
                reqid,
                Vec::new(),
                Kind::Transfer { addr, len: 0 },
            ))
        })?;
        if let Some(proc) = self.proc.upgrade() {
            mem_hooks::fire(MemoryOp::FreeAsync, &proc, Some(self.ctx.index()), addr, 0);
        }
        Ok(id)
    }

    /// Has `f` called with the tag and the bytes (OUT/INOUT buffers, a
    /// read's data) of every request with bytes that finishes well (a
    /// request without bytes has nothing to deliver), as soon as the
    /// queue learns of it: when it is collected, or earlier in
    /// [`sync`](Self::sync). Used by callers that deliver the bytes to
    /// memory of their own, as AVEO does before results are collected.
    /// Only the first call has an effect.
    pub fn on_done(&self, f: impl Fn(&T, &[Vec<u8>]) + Send + Sync + 'static) {
        let _ = self.on_done.set(Box::new(f));
    }

    #[inline]
    fn finished(&self, result: &Result<u64>, outs: &[Vec<u8>], tag: &T) {
        if outs.is_empty() {
            return;
        }
        if let (Ok(_), Some(f)) = (result, self.on_done.get()) {
            f(tag, outs);
        }
    }

    /// One fewer entry of `pending` is unfinished; `pending` is locked, so
    /// no read-modify-write is needed.
    #[inline(always)]
    fn one_finished(&self) {
        let n = self.unfinished.load(Ordering::Relaxed);
        self.unfinished
            .store(n.saturating_sub(1), Ordering::Relaxed);
    }

    /// Waits for request `id` and hands its result over; a second collect
    /// of the same id gives [`Collected::Unknown`].
    #[inline(always)]
    pub fn wait(&self, id: u64) -> Collected<T> {
        let entry = {
            let mut map = self.pending.lock();
            let entry = map.remove(id);
            if entry.as_ref().is_some_and(|(e, _)| !e.is_finished()) {
                self.one_finished();
            }
            entry
        };
        match entry {
            None => Collected::Unknown,
            Some((Entry::Call(reqid), tag)) => {
                // No bytes to hand over: nothing for `on_done`.
                let result = self.ctx.parts().and_then(|(ch, _)| wait_call(ch, reqid));
                Collected::Done {
                    result,
                    outs: Vec::new(),
                    tag,
                }
            }
            Some((Entry::Returned(v), tag)) => Collected::returned(v, tag),
            Some((Entry::Finished(done), tag)) => {
                let (result, outs) = *done;
                Collected::Done { result, outs, tag }
            }
            Some((Entry::Pending(mut p), tag)) => {
                let result = self.ctx.parts().and_then(|(ch, _)| p.wait(ch));
                let outs = if result.is_ok() {
                    std::mem::take(&mut p.outs)
                } else {
                    Vec::new()
                };
                self.finished(&result, &outs, &tag);
                Collected::Done { result, outs, tag }
            }
        }
    }

    /// The result of request `id` if it has finished, without waiting.
    pub fn peek(&self, id: u64) -> Collected<T> {
        let mut pending = self.pending.lock();
        let Some((entry, tag)) = pending.get_mut(id) else {
            return Collected::Unknown;
        };
        if !entry.is_finished() {
            let polled = match self.ctx.parts() {
                Ok((ch, _)) => entry.poll(ch),
                Err(e) => Some((Err(e), Vec::new())),
            };
            let Some((result, outs)) = polled else {
                return Collected::Unfinished;
            };
            self.finished(&result, &outs, tag);
            // Handed over at once: not boxed as `Finished` to be taken out
            // again (an allocation and a second lookup per collected
            // request, which AVEO's backend pays for every request a
            // program drops unfinished).
            self.one_finished();
            return match pending.remove(id) {
                Some((_, tag)) => Collected::Done { result, outs, tag },
                // Not reached: the entry was found just above.
                None => Collected::Unknown,
            };
        }
        match pending.remove(id) {
            Some((Entry::Returned(v), tag)) => Collected::returned(v, tag),
            Some((Entry::Finished(done), tag)) => {
                let (result, outs) = *done;
                Collected::Done { result, outs, tag }
            }
            // Not reached: the entry is finished (checked above).
            _ => Collected::Unknown,
        }
    }

    /// Whether requests were queued that are not known to have finished;
    /// finished results still to be collected do not count.
    pub fn has_pending(&self) -> bool {
        self.unfinished.load(Ordering::Relaxed) > 0
    }

    /// Returns when everything queued so far has run (AVEO's
    /// `veo_context_sync`); results stay to be collected.
    ///
    /// Every request queued before has finished then: its bytes reach the
    /// [`on_done`](Self::on_done) function now, in queue order.
    pub fn sync(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed(Closable::Context));
        }
        self.ctx.sync()?;
        let (ch, _) = self.ctx.parts()?;
        let mut pending = self.pending.lock();
        // Below `synced` everything has finished: a sync walks only what
        // was queued since the last one, not every result left uncollected.
        let mut unfinished = None;
        // In id order: the bytes land in the order the requests were queued.
        for id in pending.ids_from(pending.synced) {
            let Some((entry, tag)) = pending.get_mut(id) else {
                continue;
            };
            if entry.is_finished() {
                continue;
            }
            let Some((result, outs)) = entry.poll(ch) else {
                // Queued by another thread after the context's sync.
                unfinished.get_or_insert(id);
                continue;
            };
            self.finished(&result, &outs, tag);
            *entry = match (result, outs) {
                (Ok(v), outs) if outs.is_empty() => Entry::Returned(v),
                done => Entry::Finished(Box::new(done)),
            };
            self.one_finished();
        }
        pending.synced = unfinished.unwrap_or_else(|| pending.end());
        Ok(())
    }

    /// Closes the queue after what was queued has run; uncollected results
    /// are discarded and later submits fail with [`Error::Closed`]. The
    /// context itself ends when the last reference to the queue goes.
    pub fn close(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let r = if self.ctx.state() == ContextState::Running {
            self.ctx.sync()
        } else {
            Ok(())
        };
        self.discard();
        r
    }

    /// Closes the queue at once, without waiting for what was queued (the
    /// proc is about to end): uncollected results are discarded.
    pub fn discard(&self) {
        self.closed.store(true, Ordering::Release);
        self.pending.lock().clear();
        self.unfinished.store(0, Ordering::Relaxed);
    }
}

/// A proc's contexts as AVEO numbers them: the first one opened is the
/// main context, index 0; the others follow in opening order, and a closed
/// one leaves the list (AVEO's `veo_get_context`, `veo_num_contexts`).
pub struct ContextList<T> {
    list: Mutex<Vec<Arc<RequestQueue<T>>>>,
}

impl<T> Default for ContextList<T> {
    fn default() -> Self {
        ContextList {
            list: Mutex::new(Vec::new()),
        }
    }
}

impl<T: Send + 'static> ContextList<T> {
    /// No contexts.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<RequestQueue<T>>>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a context of `proc` and appends it; the first is the main one.
    pub fn open(&self, proc: &Proc) -> Result<Arc<RequestQueue<T>>> {
        let q = Arc::new(RequestQueue::open(proc)?);
        self.lock().push(q.clone());
        Ok(q)
    }

    /// The main context, once one was opened.
    pub fn main(&self) -> Option<Arc<RequestQueue<T>>> {
        self.lock().first().cloned()
    }

    /// The context at `index`.
    pub fn get(&self, index: usize) -> Option<Arc<RequestQueue<T>>> {
        self.lock().get(index).cloned()
    }

    /// How many are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Whether `q` is the main context.
    pub fn is_main(&self, q: &Arc<RequestQueue<T>>) -> bool {
        self.lock().first().is_some_and(|m| Arc::ptr_eq(m, q))
    }

    /// Closes `q` and removes it from the list; the main context stays
    /// (closing it is a no-op in AVEO). Returns whether it was in the list.
    pub fn close(&self, q: &Arc<RequestQueue<T>>) -> Result<bool> {
        let found = {
            let mut l = self.lock();
            match l.iter().position(|x| Arc::ptr_eq(x, q)) {
                Some(0) => return Ok(true),
                Some(i) => Some(l.remove(i)),
                None => None,
            }
        };
        match found {
            Some(q) => q.close().map(|()| true),
            None => Ok(false),
        }
    }

    /// Removes every context, discarding what they queued (for the end of
    /// the proc: nothing waits for a kernel that may never return).
    pub fn discard_all(&self) -> Vec<Arc<RequestQueue<T>>> {
        let all = std::mem::take(&mut *self.lock());
        for q in &all {
            q.discard();
        }
        all
    }
}

impl Proc {
    /// Calls the function at VE address `addr` with `args` on the proc's
    /// own queue and waits (AVEO's `veo_call_sync`): the raw 64-bit result
    /// and the OUT/INOUT stack buffers in argument order.
    pub fn call_sync_list(&self, addr: u64, args: &ArgList) -> Result<(u64, Vec<Vec<u8>>)> {
        if addr == 0 {
            return Err(Error::InvalidArgument("the function address is 0".into()));
        }
        self.call_sync_list_in_place(addr, &mut args.clone(), ResultKind::Integer)
    }

    /// As [`call_sync_list`](Self::call_sync_list), using `args` in place
    /// (the arguments made for its last call are reused where it did not
    /// change), with `result` saying how the 64-bit result is read.
    pub fn call_sync_list_in_place(
        &self,
        addr: u64,
        args: &mut ArgList,
        result: ResultKind,
    ) -> Result<(u64, Vec<Vec<u8>>)> {
        if addr == 0 {
            return Err(Error::InvalidArgument("the function address is 0".into()));
        }
        let s = self.emulated()?;
        let b = args.built()?;
        if b.outs.is_empty() {
            // Most calls: register arguments, nothing to come back but the
            // result: one message, waited for without a `Pending`.
            if let Some(reqid) = submit_register_list(&s.control, addr, result.class(), &b.args) {
                return Ok((wait_call(&s.control, reqid?)?, Vec::new()));
            }
        }
        let (reqid, _) = submit_call(
            &s.control,
            addr,
            None,
            result.class(),
            &mut b.args,
            s.stack_size,
        )?;
        // Most calls have no OUT buffers: no list of them to collect.
        let outs = if b.outs.is_empty() {
            Vec::new()
        } else {
            b.outs.iter().map(|&n| vec![0; n]).collect()
        };
        let mut p = Pending::new(reqid, outs, Kind::Call);
        let v = p.wait(&s.control)?;
        Ok((v, p.outs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> (Entry, u64) {
        (Entry::Finished(Box::new((Ok(id), Vec::new()))), id)
    }

    fn value(e: Option<(Entry, u64)>) -> Option<u64> {
        match e {
            Some((Entry::Finished(done), tag)) if matches!(*done, (Ok(v), _) if v == tag) => {
                Some(tag)
            }
            _ => None,
        }
    }

    #[test]
    fn the_store_finds_every_id_once_in_any_collection_order() {
        let mut s = Store::new();
        for id in 0..100 {
            s.insert(id, entry(id));
        }
        // Out of order, the front last; a second remove finds nothing.
        for id in (0..100).rev().step_by(2) {
            assert_eq!(value(s.remove(id)), Some(id));
            assert_eq!(value(s.remove(id)), None);
        }
        assert_eq!(s.ids(), (0..100).step_by(2).collect::<Vec<_>>());
        assert_eq!(value(s.remove(0)), Some(0));
        assert_eq!(s.base, 2, "the collected front is dropped");
        for id in 100..140 {
            s.insert(id, entry(id));
        }
        assert!(s.get_mut(2).is_some());
        assert!(s.get_mut(1).is_none());
        assert!(s.get_mut(140).is_none());
        s.clear();
        assert!(s.ids().is_empty());
        s.insert(7, entry(7));
        assert_eq!(value(s.remove(7)), Some(7));
    }

    /// Requests all still to collect stay in the window however many:
    /// nothing is hashed, and they come out in any order.
    #[test]
    fn a_window_of_requests_to_collect_does_not_spill() {
        let mut s = Store::new();
        let n = 2 * WINDOW_MAX as u64;
        for id in 0..n {
            s.insert(id, entry(id));
        }
        assert_eq!((s.len, s.live), (n as usize, n as usize));
        assert!(s.spilled.is_empty());
        assert_eq!(value(s.remove(n - 1)), Some(n - 1));
        for id in 0..n - 1 {
            assert_eq!(value(s.remove(id)), Some(id));
        }
        assert_eq!((s.len, s.live), (0, 0));
        assert!(s.ids().is_empty());
    }

    #[test]
    fn a_forgotten_request_spills_and_stays_collectable() {
        let mut s = Store::new();
        let n = WINDOW_MAX as u64 + 10;
        for id in 0..n {
            s.insert(id, entry(id));
            if id > 0 {
                assert_eq!(value(s.remove(id)), Some(id));
            }
        }
        assert!(s.len <= WINDOW_MAX);
        assert_eq!(s.ids(), [0]);
        assert_eq!(s.live, 0, "the forgotten request is spilled");
        assert_eq!(value(s.remove(0)), Some(0));
        assert!(s.ids().is_empty());
        // Ids that jump (the wrap) start a new window.
        s.insert(5, entry(5));
        s.insert(9, entry(9));
        assert_eq!(s.ids(), [5, 9]);
        assert_eq!(value(s.remove(5)), Some(5));
        assert_eq!(value(s.remove(9)), Some(9));
    }
}
