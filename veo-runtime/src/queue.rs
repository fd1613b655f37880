//! Requests kept by id, for callers that cannot hold a borrow of their
//! context: AVEO's C API and other language bindings.
//!
//! A [`Request`](crate::Request) borrows its context and its OUT buffers,
//! which is what makes it safe in Rust. A C program instead gets a number
//! and collects the result later, from any thread. A [`RequestQueue`] owns
//! its context and every pending request, numbers them per context from 0
//! (AVEO's request ids), owns the bytes that come back (OUT/INOUT stack
//! buffers, reads) and hands them over, once, when a request is collected.

use crate::arglist::ArgList;
use crate::args::KernelRet;
use crate::context::{Context, ContextState};
use crate::emulated::call::submit_call;
use crate::emulated::channel::{scatter, ChannelVh, Done, Sink};
use crate::emulated::request::{status_error, What};
use crate::emulated::EmulatedProc;
use crate::error::{Error, Result};
use crate::mem_hooks::{self, MemoryEvent, MemoryOp};
use crate::memory;
use crate::proc::{Proc, WeakProc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::ThreadId;
use veo_urpc::proto::{self, Status};

/// One request on a channel, with room for its answer bytes.
struct Pending {
    reqid: u64,
    outs: Vec<Vec<u8>>,
    placed: u64,
    what: What,
}

impl Pending {
    fn new(reqid: u64, outs: Vec<Vec<u8>>, what: What) -> Pending {
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

    fn wait(&mut self, ch: &ChannelVh) -> Result<u64> {
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
    fn finish(&mut self, done: Done) -> Result<u64> {
        match done.status {
            Some(Status::Ok) => {}
            Some(status) => return Err(status_error(status, done, self.what)),
            None => return Err(Error::Helper(done.text)),
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
    submitting: Mutex<Submitting>,
    block_ended: Condvar,
    pending: Mutex<HashMap<u64, (Entry, T)>>,
    /// How many entries of `pending` are [`Entry::Pending`], changed with
    /// its lock held: finished results a program never collects (AVEO's
    /// Test 3) must not make [`has_pending`](RequestQueue::has_pending)
    /// true, which would cost every later synchronous call a round trip.
    unfinished: AtomicUsize,
    closed: AtomicBool,
    on_done: OnceLock<OnDone<T>>,
}

/// Called once per request that finished well, with its tag and bytes.
type OnDone<T> = Box<dyn Fn(&T, &[Vec<u8>]) + Send + Sync>;

/// A request not collected yet.
enum Entry {
    /// Not known to have finished.
    Pending(Pending),
    /// Finished (seen by [`RequestQueue::sync`]), its result kept.
    Finished(Result<u64>, Vec<Vec<u8>>),
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
            submitting: Mutex::new(Submitting {
                owner: None,
                next_id: 0,
            }),
            block_ended: Condvar::new(),
            pending: Mutex::new(HashMap::new()),
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

    fn lock_submitting(&self) -> MutexGuard<'_, Submitting> {
        let me = std::thread::current().id();
        let mut s = self.submitting.lock().unwrap_or_else(|e| e.into_inner());
        while s.owner.is_some_and(|(t, _)| t != me) {
            s = self.block_ended.wait(s).unwrap_or_else(|e| e.into_inner());
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
        let mut s = self.submitting.lock().unwrap_or_else(|e| e.into_inner());
        match s.owner {
            Some((t, d)) if t == me => {
                s.owner = (d > 1).then_some((t, d - 1));
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
            return Err(Error::Closed("context"));
        }
        self.ctx.check()?;
        let mut s = self.lock_submitting();
        let (ch, proc) = self.ctx.parts()?;
        let pending = f(ch, proc)?;
        let id = s.next_id;
        // AVEO never hands out its invalid id, all ones.
        s.next_id = s.next_id.wrapping_add(1) % u64::MAX;
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(id, (Entry::Pending(pending), tag));
        self.unfinished.fetch_add(1, Ordering::Relaxed);
        drop(map);
        Ok(id)
    }

    /// Queues a call of the function at VE address `addr` with `args`
    /// (AVEO's `veo_call_async`); `args` may be reused at once.
    pub fn call(&self, addr: u64, args: &ArgList, tag: T) -> Result<u64> {
        self.call_returning::<u64>(addr, args, tag)
    }

    /// [`call`](Self::call) of a kernel whose C result is an `R`: the raw
    /// result is `R`'s 64-bit encoding. On the emulated VE a floating-point
    /// result is in another register than an integer one, so the class
    /// matters there (`veo_rs_call_async_ret` of libveo.so).
    pub fn call_returning<R: KernelRet>(&self, addr: u64, args: &ArgList, tag: T) -> Result<u64> {
        if addr == 0 {
            return Err(Error::InvalidArgument("the function address is 0".into()));
        }
        let (mut a, outs) = args.to_args()?;
        self.submit(tag, |ch, proc| {
            let (reqid, _) = submit_call(ch, addr, None, R::CLASS, &mut a, proc.stack_size)?;
            let outs = outs.into_iter().map(|n| vec![0; n]).collect();
            Ok(Pending::new(reqid, outs, What::Call))
        })
    }

    /// Queues `f` to run on the VH when the queue reaches it; its return
    /// value is the result (AVEO's `veo_call_async_vh`).
    pub fn call_vh(&self, f: impl FnOnce() -> u64 + Send + 'static, tag: T) -> Result<u64> {
        self.submit(tag, |_, _| {
            let reqid = self.ctx.call_vh(f)?.into_id();
            Ok(Pending::new(reqid, Vec::new(), What::Other))
        })
    }

    /// Queues a read of `len` bytes of VE memory at `src`; the bytes come
    /// back when the request is collected (AVEO's `veo_async_read_mem`).
    pub fn read(&self, src: u64, len: usize, tag: T) -> Result<u64> {
        memory::check_range(src, len as u64)?;
        self.submit(tag, |ch, _| {
            if len == 0 {
                let reqid = ch.simple(proto::KIND_NOP, &[], &[])?;
                return Ok(Pending::new(reqid, vec![Vec::new()], What::Other));
            }
            let reqid = ch.simple(proto::KIND_READ, &[src, len as u64], &[])?;
            Ok(Pending::new(
                reqid,
                vec![vec![0; len]],
                What::Transfer {
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
                return Ok(Pending::new(reqid, Vec::new(), What::Other));
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
                What::Transfer { addr: dst, len },
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
                return Ok(Pending::new(reqid, Vec::new(), What::Alloc));
            };
            let (ch, proc, context) = (ch.clone(), self.proc.clone(), self.ctx.index());
            let vh = self.ctx.call_vh(move || {
                let mut alloc = Pending::new(reqid, Vec::new(), What::Alloc);
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
            Ok(Pending::new(vh.into_id(), Vec::new(), What::Other))
        })
    }

    /// Queues freeing VE memory at `addr` (AVEO's `veo_free_mem_async`);
    /// a [`MemoryOp::FreeAsync`] hook runs once it is queued. Address 0 is
    /// freed as C frees `NULL`: a request that does nothing.
    pub fn free(&self, addr: u64, tag: T) -> Result<u64> {
        if addr == 0 {
            return self.submit(tag, |ch, _| {
                let reqid = ch.simple(proto::KIND_NOP, &[], &[])?;
                Ok(Pending::new(reqid, Vec::new(), What::Other))
            });
        }
        let id = self.submit(tag, |ch, _| {
            let reqid = ch.simple(proto::KIND_FREE, &[addr], &[])?;
            Ok(Pending::new(
                reqid,
                Vec::new(),
                What::Transfer { addr, len: 0 },
            ))
        })?;
        if let Some(proc) = self.proc.upgrade() {
            mem_hooks::fire(MemoryOp::FreeAsync, &proc, Some(self.ctx.index()), addr, 0);
        }
        Ok(id)
    }

    /// Has `f` called with the tag and the bytes (OUT/INOUT buffers, a
    /// read's data) of every request that finishes well, as soon as the
    /// queue learns of it: when it is collected, or earlier in
    /// [`sync`](Self::sync). Used by callers that deliver the bytes to
    /// memory of their own, as AVEO does before results are collected.
    /// Only the first call has an effect.
    pub fn on_done(&self, f: impl Fn(&T, &[Vec<u8>]) + Send + Sync + 'static) {
        let _ = self.on_done.set(Box::new(f));
    }

    fn finished(&self, result: &Result<u64>, outs: &[Vec<u8>], tag: &T) {
        if let (Ok(_), Some(f)) = (result, self.on_done.get()) {
            f(tag, outs);
        }
    }

    /// Waits for request `id` and hands its result over; a second collect
    /// of the same id gives [`Collected::Unknown`].
    pub fn wait(&self, id: u64) -> Collected<T> {
        let entry = {
            let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let entry = map.remove(&id);
            if let Some((Entry::Pending(_), _)) = entry {
                self.unfinished.fetch_sub(1, Ordering::Relaxed);
            }
            entry
        };
        match entry {
            None => Collected::Unknown,
            Some((Entry::Finished(result, outs), tag)) => Collected::Done { result, outs, tag },
            Some((Entry::Pending(mut p), tag)) => {
                let result = self.ctx.parts().and_then(|(ch, _)| p.wait(ch));
                let outs = if result.is_ok() { p.outs } else { Vec::new() };
                self.finished(&result, &outs, &tag);
                Collected::Done { result, outs, tag }
            }
        }
    }

    /// The result of request `id` if it has finished, without waiting.
    pub fn peek(&self, id: u64) -> Collected<T> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some((entry, tag)) = pending.get_mut(&id) else {
            return Collected::Unknown;
        };
        if let Entry::Pending(p) = entry {
            let result = match self.ctx.parts().and_then(|(ch, _)| p.poll(ch)) {
                Ok(None) => return Collected::Unfinished,
                Ok(Some(v)) => Ok(v),
                Err(e) => Err(e),
            };
            let outs = if result.is_ok() {
                std::mem::take(&mut p.outs)
            } else {
                Vec::new()
            };
            self.finished(&result, &outs, tag);
            *entry = Entry::Finished(result, outs);
            self.unfinished.fetch_sub(1, Ordering::Relaxed);
        }
        match pending.remove(&id) {
            Some((Entry::Finished(result, outs), tag)) => Collected::Done { result, outs, tag },
            // Not reached: the entry was made Finished just above.
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
            return Err(Error::Closed("context"));
        }
        self.ctx.sync()?;
        let (ch, _) = self.ctx.parts()?;
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        // In id order: the bytes land in the order the requests were queued.
        let mut ids: Vec<u64> = pending.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some((Entry::Pending(p), tag)) = pending.get_mut(&id) else {
                continue;
            };
            let result = match p.poll(ch) {
                Ok(None) => continue,
                Ok(Some(v)) => Ok(v),
                Err(e) => Err(e),
            };
            let outs = if result.is_ok() {
                std::mem::take(&mut p.outs)
            } else {
                Vec::new()
            };
            self.finished(&result, &outs, tag);
            if let Some((entry, _)) = pending.get_mut(&id) {
                *entry = Entry::Finished(result, outs);
                self.unfinished.fetch_sub(1, Ordering::Relaxed);
            }
        }
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
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        map.clear();
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
        self.call_sync_list_returning::<u64>(addr, args)
    }

    /// [`call_sync_list`](Self::call_sync_list) of a kernel whose C result
    /// is an `R` (see [`RequestQueue::call_returning`]).
    pub fn call_sync_list_returning<R: KernelRet>(
        &self,
        addr: u64,
        args: &ArgList,
    ) -> Result<(u64, Vec<Vec<u8>>)> {
        if addr == 0 {
            return Err(Error::InvalidArgument("the function address is 0".into()));
        }
        let (mut a, outs) = args.to_args()?;
        let s = self.emulated()?;
        let (reqid, _) = submit_call(&s.control, addr, None, R::CLASS, &mut a, s.stack_size)?;
        let mut p = Pending::new(
            reqid,
            outs.into_iter().map(|n| vec![0; n]).collect(),
            What::Call,
        );
        let v = p.wait(&s.control)?;
        Ok((v, p.outs))
    }
}
