//! A context of AVEO (`veo_context_open`): an ordered queue of requests on
//! a VE thread, and the memory libveo writes results into.
//!
//! libveo writes OUT and INOUT stack bytes and the bytes of an asynchronous
//! read into the buffer it was given whenever the result arrives, whether
//! or not anybody waits; and it reads the source of an asynchronous write
//! whenever it sends it. So it is never given a borrowed Rust buffer: each
//! request's *staging* (its stack buffers, the bytes of a read or of a
//! write, on NEC's library the call's `veo_args`) is heap memory that the
//! request owns and frees only once libveo is done with it: when the
//! request is collected (its result taken from libveo by its own wait or
//! peek). A request dropped unfinished hands its staging to the context,
//! which collects it later (on a later submit, after `veo_context_sync`
//! when the context is closed, or after `veo_proc_destroy`). The request
//! copies the bytes into its borrowed buffers inside its own wait or peek
//! (`request.rs`). A forgotten request (`mem::forget`) leaks its staging:
//! libveo may still write there, into memory nothing else ever gets, and
//! nothing is ever written into memory the program got back.
//!
//! No table of outstanding requests is kept (a hash map of them, an insert
//! and a removal on every call, was a tenth of a call's instructions): a
//! counter says how many are outstanding, and only the abandoned ones are
//! listed.

use super::args::{KeptArgs, LentArgs, StackBuffers};
use super::proc::{ret_code, AveoProc, ProcInner};
use super::request::{AveoRequest, Held, Kind, RequestState};
use super::result;
use super::sys::{veo_thr_ctxt, VEO_COMMAND_UNFINISHED, VEO_STATE_RUNNING};
use crate::args::{Args, KernelRet};
use crate::context::ContextState;
use crate::error::{Closable, Error, Result};
use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use veo_urpc::proto::ArgClass;

/// A context of an [`AveoProc`]: calls, asynchronous transfers and
/// allocations, run in the order they were queued.
///
/// The first context of a proc is AVEO's main context, on which the
/// proc's synchronous functions run too; closing it leaves it to the proc,
/// and the next [`AveoProc::open_context`] hands it out again.
pub struct AveoContext {
    pub(crate) proc: Arc<ProcInner>,
    pub(crate) shared: Arc<CtxShared>,
    closed: AtomicBool,
}

/// The libveo context, what its requests dropped unfinished left, and how
/// many of its requests are outstanding.
pub(crate) struct CtxShared {
    raw: NonNull<veo_thr_ctxt>,
    index: usize,
    main: bool,
    /// The requests dropped before they were collected, with their
    /// staging: collected by later submits, the context's sync and close.
    abandoned: parking_lot::Mutex<Abandoned>,
    /// Whether submits should collect `abandoned`: set under its lock with
    /// each staged request and once [`REAP_BATCH`] bare ones are there,
    /// cleared under it when fewer are left, read without it by every
    /// submit (a stale `false` only leaves the collection to a later
    /// submit).
    has_abandoned: AtomicBool,
    /// Requests libveo accepted and nobody collected yet: those waited
    /// for, dropped unfinished or forgotten.
    outstanding: AtomicUsize,
}

/// The requests of a context dropped before they were collected.
#[derive(Default)]
struct Abandoned {
    /// Those with staging, by id.
    staged: Vec<(u64, Staging)>,
    /// Those with nothing staged (register-only calls, allocations,
    /// frees): runs of consecutive ids, `(first, count)`, so that requests
    /// dropped in order (a batch discarded) cost an increment each.
    runs: Vec<(u64, u64)>,
    /// How many ids `runs` holds.
    bare: usize,
}

/// Bare abandoned requests (nothing staged: only libveo's record of the
/// result to free) that make submits collect them: collected one by one,
/// each collection also asks once for a request still running (the one
/// just submitted, mostly), which a batch pays once for all.
const REAP_BATCH: usize = 64;

impl Abandoned {
    fn is_empty(&self) -> bool {
        self.staged.is_empty() && self.runs.is_empty()
    }

    /// How many requests there are.
    fn len(&self) -> usize {
        self.staged.len() + self.bare
    }

    /// Whether submits should collect them ([`CtxShared::has_abandoned`]).
    fn due(&self) -> bool {
        !self.staged.is_empty() || self.bare >= REAP_BATCH
    }

    /// Collects those `done` says libveo has delivered (asking it in
    /// order, up to the first unfinished one of each run: a context runs
    /// its requests in order), and frees their staging; how many.
    fn collect_finished(&mut self, mut done: impl FnMut(u64) -> bool) -> usize {
        let mut collected = 0usize;
        self.staged.retain(|(id, _)| {
            let d = done(*id);
            collected += usize::from(d);
            !d
        });
        let mut bare = 0usize;
        self.runs.retain_mut(|(first, n)| {
            while *n > 0 && done(*first) {
                *first += 1;
                *n -= 1;
                bare += 1;
            }
            *n > 0
        });
        self.bare -= bare;
        collected + bare
    }

    /// Puts `older`, taken out before the ones here were added, back in
    /// front of them.
    fn put_back(&mut self, mut older: Abandoned) {
        if older.is_empty() {
            return;
        }
        older.staged.append(&mut self.staged);
        older.runs.append(&mut self.runs);
        older.bare += self.bare;
        *self = older;
    }
}

// SAFETY: the handle is an opaque pointer to libveo's context, whose
// submit and collect functions libveo locks itself (any thread may call
// them); the staging is behind the mutex.
unsafe impl Send for CtxShared {}
// SAFETY: as above.
unsafe impl Sync for CtxShared {}

/// The memory libveo was given for one request.
#[derive(Default)]
pub(crate) enum Staging {
    /// Nothing (an allocation, a free, a call without stack buffers).
    #[default]
    None,
    /// The stack buffers of a call.
    Stack(StackBuffers),
    /// The stack buffers of a call and its `veo_args`, which NEC's libveo
    /// reads until the call is collected (`args.rs`).
    Lent(StackBuffers, LentArgs),
    /// The destination of a read, or the source of a write.
    Bytes(Box<[u8]>),
    /// What a VH function left besides its value: a panic, an error.
    Vh(Arc<VhOutcome>),
}

impl std::fmt::Debug for AveoContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AveoContext")
            .field("index", &self.shared.index)
            .field("main", &self.shared.main)
            .field("state", &self.state())
            .finish()
    }
}

impl CtxShared {
    pub(crate) fn raw(&self) -> *mut veo_thr_ctxt {
        self.raw.as_ptr()
    }

    /// One request was collected (or its staging dropped with libveo done).
    #[inline]
    pub(crate) fn collected(&self) {
        self.outstanding.fetch_sub(1, Ordering::Relaxed);
    }

    /// A request dropped before it was collected: the context collects it,
    /// and frees its staging then.
    pub(crate) fn abandon(&self, id: u64, staging: Staging) {
        let mut a = self.abandoned.lock();
        a.staged.push((id, staging));
        self.has_abandoned.store(true, Ordering::Release);
    }

    /// [`abandon`](Self::abandon) for a request with nothing staged.
    #[inline]
    pub(crate) fn abandon_bare(&self, id: u64) {
        let mut a = self.abandoned.lock();
        match a.runs.last_mut() {
            Some((first, n)) if *first + *n == id => *n += 1,
            _ => a.runs.push((id, 1)),
        }
        a.bare += 1;
        if a.bare >= REAP_BATCH {
            drop(a);
            self.has_abandoned.store(true, Ordering::Release);
        }
    }

    /// Collects the abandoned requests that have finished, and frees their
    /// staging, when there are staged ones or a batch of bare ones.
    #[inline]
    fn reap(&self, proc: &ProcInner) {
        if self.has_abandoned.load(Ordering::Acquire) {
            self.reap_now(proc);
        }
    }

    /// Collects the abandoned requests that have finished, and frees their
    /// staging.
    #[cold]
    fn reap_now(&self, proc: &ProcInner) {
        let Some(mut taken) = self.take_abandoned() else {
            return;
        };
        let collected = match (proc.lib.veo_call_peek_result(), proc.enter()) {
            (Ok(peek), Ok(_in)) => taken.collect_finished(|id| {
                let mut v = 0u64;
                // SAFETY: the context is live (this `CtxShared` is only
                // dropped after it is closed); `v` is a valid `uint64_t *`.
                let state = unsafe { peek(self.raw(), id, &mut v) };
                state != VEO_COMMAND_UNFINISHED
            }),
            // Destroyed: libveo writes nothing any more.
            (_, Err(_)) => std::mem::take(&mut taken).len(),
            (Err(_), Ok(_)) => 0,
        };
        // Saturating: a request dropped while `collect_all` ran (a close)
        // was counted out already.
        let _ = self
            .outstanding
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(collected))
            });
        let mut a = self.abandoned.lock();
        a.put_back(taken);
        self.has_abandoned.store(a.due(), Ordering::Release);
    }

    /// Takes the abandoned requests out of the lock, to ask libveo about
    /// them without it: NEC's libveo runs queued VH functions inside
    /// `veo_call_peek_result` (its progress), in the asking thread, and one
    /// that submits on this context or drops one of its requests takes the
    /// lock again. A collection meanwhile, in that function or another
    /// thread, finds nothing to collect. `None` when there is nothing.
    fn take_abandoned(&self) -> Option<Abandoned> {
        let mut a = self.abandoned.lock();
        self.has_abandoned.store(false, Ordering::Release);
        (!a.is_empty()).then(|| std::mem::take(&mut *a))
    }

    /// After `veo_context_sync`: collects the abandoned requests (their
    /// results are delivered) and frees their staging. Forgotten requests
    /// have finished too: none is outstanding any more.
    fn collect_all(&self, proc: &ProcInner) {
        self.reap_now(proc);
        // Any libveo still calls unfinished after the sync are forgotten
        // with their staging, as the context ends.
        drop(self.take_abandoned());
        self.outstanding.store(0, Ordering::Relaxed);
    }

    fn is_idle(&self) -> bool {
        self.outstanding.load(Ordering::Relaxed) == 0
    }
}

impl AveoContext {
    /// Opens a context of `proc`: the main one when it is free.
    pub(crate) fn open(proc: Arc<ProcInner>) -> Result<AveoContext> {
        let mut c = proc.lock_contexts();
        if let Some((shared, in_use)) = c.main.as_mut() {
            if !*in_use {
                *in_use = true;
                let shared = shared.clone();
                c.open += 1;
                c.indices.insert(shared.index);
                drop(c);
                return Ok(AveoContext {
                    proc,
                    shared,
                    closed: AtomicBool::new(false),
                });
            }
        }
        if c.open >= crate::MAX_CONTEXTS {
            return Err(Error::TooManyContexts {
                max: crate::MAX_CONTEXTS,
            });
        }
        let f = proc.lib.veo_context_open()?;
        let entered = proc.enter()?;
        // SAFETY: the proc handle is live; NULL on failure.
        let raw = unsafe { f(proc.raw().as_ptr()) };
        drop(entered);
        let main = c.main.is_none();
        let raw = NonNull::new(raw).ok_or_else(|| Error::Aveo {
            what: "veo_context_open".into(),
            reason: if main {
                "returned NULL: the VE process may have exited (libveo's message, if any, is on standard output)".into()
            } else {
                "returned NULL: AVEO opens a context beyond the first only with VE_OMP_NUM_THREADS=1 in the environment (a VE thread beside the proc's OpenMP threads), and within the huge pages of its buffers (vm.nr_hugepages)".into()
            },
        })?;
        let index = c.opened;
        c.opened += 1;
        c.open += 1;
        c.indices.insert(index);
        let shared = Arc::new(CtxShared {
            raw,
            index,
            main,
            abandoned: parking_lot::Mutex::new(Abandoned::default()),
            has_abandoned: AtomicBool::new(false),
            outstanding: AtomicUsize::new(0),
        });
        if main {
            c.main = Some((shared.clone(), true));
        }
        drop(c);
        Ok(AveoContext {
            proc,
            shared,
            closed: AtomicBool::new(false),
        })
    }

    /// Its number in the proc, in the order contexts were opened; 0 is the
    /// main context.
    pub fn index(&self) -> usize {
        self.shared.index
    }

    /// Whether this is AVEO's main context of the proc.
    pub fn is_main(&self) -> bool {
        self.shared.main
    }

    /// libveo's handle, for calls this type does not wrap.
    pub fn as_ptr(&self) -> *mut veo_thr_ctxt {
        self.shared.raw()
    }

    /// Whether it was closed (by this program).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Whether it takes requests (`veo_get_context_state`).
    pub fn state(&self) -> ContextState {
        if self.closed.load(Ordering::Acquire) {
            return ContextState::Closed;
        }
        let Ok(f) = self.proc.lib.veo_get_context_state() else {
            return ContextState::Running;
        };
        let Ok(_in) = self.proc.enter() else {
            return ContextState::Closed;
        };
        // SAFETY: the context is live while `self` is.
        match unsafe { f(self.shared.raw()) } {
            VEO_STATE_RUNNING => ContextState::Running,
            _ => ContextState::Dead,
        }
    }

    /// [`check_open`](Self::check_open), then the collection of what was
    /// abandoned: what a stub's submit checks.
    #[inline]
    pub(crate) fn check_submit(&self) -> Result<()> {
        self.check_open()?;
        self.shared.reap(&self.proc);
        Ok(())
    }

    fn check(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed(Closable::Context));
        }
        self.shared.reap(&self.proc);
        Ok(())
    }

    /// The error of a request libveo refused: that of a context whose VE
    /// process has exited when libveo says so (asked only now: a submit
    /// does not ask libveo for the state first), else `e`.
    #[cold]
    fn refused(&self, e: Error) -> Error {
        match self.state() {
            ContextState::Dead => {
                self.proc.dead.store(true, Ordering::Release);
                exited()
            }
            _ => e,
        }
    }

    /// How many requests are outstanding (not collected yet), including
    /// those dropped unfinished or forgotten.
    pub fn outstanding(&self) -> usize {
        self.shared.outstanding.load(Ordering::Relaxed)
    }

    /// Records a request libveo accepted, with what it was given.
    fn submitted<'a, T: KernelRet>(
        &'a self,
        function: &'static str,
        id: u64,
        staging: Staging,
        outs: Vec<&'a mut [u8]>,
        kind: Kind,
    ) -> Result<AveoRequest<'a, T>> {
        self.submitted_state(function, id, Held::boxed(outs, staging), kind)
            .map(AveoRequest::new)
    }

    /// [`submitted`](Self::submitted), as the state a public request holds.
    #[inline]
    fn submitted_state<'a>(
        &'a self,
        function: &'static str,
        id: u64,
        held: Option<Box<Held<'a>>>,
        kind: Kind,
    ) -> Result<RequestState<'a>> {
        // A refused request was given nothing libveo will write.
        let id = match result::request_id(function, id) {
            Ok(id) => id,
            Err(e) => return Err(self.refused(e)),
        };
        self.shared.outstanding.fetch_add(1, Ordering::Relaxed);
        Ok(RequestState::new(self, id, kind, held))
    }

    /// Queues a call of the function at VE address `addr` (`veo_call_async`;
    /// floats through `veo_args_set_float`, stack buffers through
    /// `veo_args_set_stack` in memory the request owns).
    pub fn call<'a, R: KernelRet>(
        &'a self,
        addr: u64,
        mut args: Args<'a>,
    ) -> Result<AveoRequest<'a, R>> {
        self.check()?;
        let (veo, stack) = self.proc.args.marshal(&args, self.proc.stack_limit())?;
        let outs = args.take_outs();
        self.submit_call::<R>(addr, veo, Some((stack, outs)))
            .map(AveoRequest::new)
    }

    /// A call of the function at `addr` with register arguments only, of
    /// the classes `classes` (a `#[ve_kernel]` stub's `Regs`): the proc's
    /// kept list has only the values set anew that changed.
    #[inline]
    pub(crate) fn call_registers<R: KernelRet, const N: usize>(
        &self,
        addr: u64,
        classes: &[ArgClass; N],
        bits: &[u64; N],
    ) -> Result<RequestState<'_>> {
        let veo = self.proc.args.registers(classes, bits)?;
        self.submit_call::<R>(addr, veo, None)
    }

    /// Submits a call whose list is `veo` (its stack buffers and the
    /// borrowed buffers they go back into in `bufs`); the list goes back to
    /// the proc's cache, or to the request when the library reads it until
    /// the call is collected.
    #[inline]
    fn submit_call<'a, R: KernelRet>(
        &'a self,
        addr: u64,
        veo: KeptArgs<'_>,
        bufs: Option<(StackBuffers, Vec<&'a mut [u8]>)>,
    ) -> Result<RequestState<'a>> {
        let lib = &*self.proc.lib;
        let ctx = self.shared.raw();
        let entered = self.proc.enter()?;
        let id = match (lib.emulated(), ret_code(R::CLASS)) {
            // SAFETY: the context and the list are live; the list stays
            // unchanged until libveo is done with it (`after_submit`); the
            // stack buffers it points into are kept in the request's
            // staging until it is collected.
            (Some(e), Some(code)) => unsafe { (e.call_async_ret)(ctx, addr, veo.as_ptr(), code) },
            // SAFETY: as above.
            _ => unsafe { lib.veo_call_async()?(ctx, addr, veo.as_ptr()) },
        };
        drop(entered);
        let held = match (veo.after_submit(), bufs) {
            (None, None) => None,
            (lent, bufs) => call_held(lent, bufs),
        };
        self.submitted_state("veo_call_async", id, held, Kind::Call(R::CLASS))
    }

    /// Queues a write of `src` to VE memory at `dst`
    /// (`veo_async_write_mem`); `src` is copied before this returns.
    pub fn write_async(&self, dst: u64, src: &[u8]) -> Result<AveoRequest<'_, ()>> {
        self.check()?;
        let f = self.proc.lib.veo_async_write_mem()?;
        let bytes: Box<[u8]> = src.into();
        let _in = self.proc.enter()?;
        // SAFETY: the context is live; libveo reads the bytes, which the
        // request keeps in its staging until it is collected (a box never
        // moves).
        let id = unsafe { f(self.shared.raw(), dst, bytes.as_ptr().cast(), bytes.len()) };
        self.submitted(
            "veo_async_write_mem",
            id,
            Staging::Bytes(bytes),
            Vec::new(),
            Kind::Transfer {
                addr: dst,
                len: src.len() as u64,
            },
        )
    }

    /// Queues a read of VE memory at `src` into `dst`
    /// (`veo_async_read_mem`): the bytes land in `dst` inside the
    /// request's wait or peek, never later.
    pub fn read_async<'a>(&'a self, dst: &'a mut [u8], src: u64) -> Result<AveoRequest<'a, ()>> {
        self.check()?;
        let f = self.proc.lib.veo_async_read_mem()?;
        let mut bytes: Box<[u8]> = vec![0u8; dst.len()].into();
        let _in = self.proc.enter()?;
        // SAFETY: the context is live; libveo writes the bytes, which the
        // request keeps in its staging until it is collected.
        let id = unsafe {
            f(
                self.shared.raw(),
                bytes.as_mut_ptr().cast(),
                src,
                bytes.len(),
            )
        };
        let len = dst.len() as u64;
        self.submitted(
            "veo_async_read_mem",
            id,
            Staging::Bytes(bytes),
            vec![dst],
            Kind::Transfer { addr: src, len },
        )
    }

    /// Queues an allocation of `bytes` of VE memory (`veo_alloc_mem_async`,
    /// AVEO API 14); the request's result is the address.
    pub fn alloc_async(&self, bytes: u64) -> Result<AveoRequest<'_, u64>> {
        self.check()?;
        let f = self.proc.lib.veo_alloc_mem_async()?;
        let size = usize::try_from(bytes).map_err(|_| result::size_error(bytes))?;
        let _in = self.proc.enter()?;
        // SAFETY: the context is live.
        let id = unsafe { f(self.shared.raw(), size) };
        self.submitted(
            "veo_alloc_mem_async",
            id,
            Staging::None,
            Vec::new(),
            Kind::Alloc { size: bytes },
        )
    }

    /// Queues freeing VE memory (`veo_free_mem_async`, AVEO API 14).
    pub fn free_async(&self, addr: u64) -> Result<AveoRequest<'_, ()>> {
        self.check()?;
        let f = self.proc.lib.veo_free_mem_async()?;
        let _in = self.proc.enter()?;
        // SAFETY: the context is live.
        let id = unsafe { f(self.shared.raw(), addr) };
        self.submitted(
            "veo_free_mem_async",
            id,
            Staging::None,
            Vec::new(),
            Kind::Transfer { addr, len: 0 },
        )
    }

    /// Queues a copy of `len` bytes inside VE memory. AVEO has no
    /// asynchronous copy inside VE memory: on a context other than the main
    /// one, a VH function makes the checked synchronous copy
    /// ([`AveoProc::memcpy`], which runs on the main context's queue) in
    /// this queue's order; on the main context that would wait for itself,
    /// so there the VE's own `memcpy` is called, which does not check the
    /// addresses (a bad one ends the VE process, as in C).
    pub fn memcpy_async(&self, dst: u64, src: u64, len: u64) -> Result<AveoRequest<'_, ()>> {
        self.check()?;
        let proc = AveoProc {
            inner: self.proc.clone(),
        };
        let mut r = if self.shared.main {
            let memcpy = proc.memcpy_addr()?;
            let mut args = Args::new();
            args.u64(dst).u64(src).u64(len);
            self.call::<()>(memcpy, args)?
        } else {
            self.vh_job(Box::new(move || proc.memcpy(dst, src, len).map(|()| 0)))?
        };
        r.set_kind(Kind::Transfer { addr: src, len });
        Ok(r)
    }

    /// Runs `f` on this process when the queue reaches it
    /// (`veo_call_async_vh`): everything queued before has finished; its
    /// return value is the request's result.
    pub fn call_vh(
        &self,
        f: impl FnOnce() -> u64 + Send + 'static,
    ) -> Result<AveoRequest<'_, u64>> {
        self.check()?;
        self.vh_job(Box::new(move || Ok(f())))
    }

    /// Queues `f` with `veo_call_async_vh`; its error, if any, is the
    /// request's.
    fn vh_job<T: KernelRet>(
        &self,
        f: Box<dyn FnOnce() -> Result<u64> + Send>,
    ) -> Result<AveoRequest<'_, T>> {
        let submit = self.proc.lib.veo_call_async_vh()?;
        let _in = self.proc.enter()?;
        let outcome = Arc::new(VhOutcome::default());
        let job: Box<VhJob> = Box::new(VhJob {
            f,
            outcome: outcome.clone(),
        });
        let arg = Box::into_raw(job);
        // SAFETY: the context is live; libveo calls `run_vh` once with
        // `arg`, which takes the box back.
        let id = unsafe { submit(self.shared.raw(), Some(run_vh), arg.cast()) };
        if id == super::sys::VEO_REQUEST_ID_INVALID {
            // SAFETY: libveo refused it and never calls it: the box is ours.
            drop(unsafe { Box::from_raw(arg) });
        }
        self.submitted(
            "veo_call_async_vh",
            id,
            Staging::Vh(outcome),
            Vec::new(),
            Kind::Vh,
        )
    }

    /// Returns when everything queued so far has been processed
    /// (`veo_context_sync`); results still wait for their requests.
    pub fn sync(&self) -> Result<()> {
        self.check()?;
        let f = self.proc.lib.veo_context_sync()?;
        let entered = self.proc.enter()?;
        // SAFETY: the context is live.
        unsafe { f(self.shared.raw()) };
        drop(entered);
        // All of them, not only once a batch is there.
        self.shared.reap_now(&self.proc);
        match self.state() {
            ContextState::Dead => Err(Error::Aveo {
                what: "veo_context_sync".into(),
                reason: "the context's VE process has exited".into(),
            }),
            _ => Ok(()),
        }
    }

    /// Closes the context after everything queued before has run
    /// (`veo_context_sync`, then `veo_context_close`; the main context
    /// stays with the proc).
    pub fn close(self) -> Result<()> {
        self.close_inner(true)
    }

    fn close_inner(&self, wait: bool) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let lib = &self.proc.lib;
        if wait {
            if let (Ok(sync), Ok(entered)) = (lib.veo_context_sync(), self.proc.enter()) {
                // SAFETY: the context is live.
                unsafe { sync(self.shared.raw()) };
                drop(entered);
                self.shared.collect_all(&self.proc);
            }
        } else {
            self.shared.reap_now(&self.proc);
        }
        let mut c = self.proc.lock_contexts();
        c.open -= 1;
        c.indices.remove(&self.shared.index);
        if self.shared.main {
            // AVEO's main context is the proc's: it stays open, with the
            // staging of whatever is still outstanding.
            if let Some((_, in_use)) = c.main.as_mut() {
                *in_use = false;
            }
            return Ok(());
        }
        if !self.shared.is_idle() {
            // Requests still outstanding (a drop does not wait for kernels
            // that may never return): veo_proc_destroy closes it.
            c.graveyard.push(self.shared.clone());
            return Ok(());
        }
        drop(c);
        let close = lib.veo_context_close()?;
        let Ok(_in) = self.proc.enter() else {
            // veo_proc_destroy closed it.
            return Ok(());
        };
        // SAFETY: the context is live and closed once, here; nothing of it
        // is outstanding.
        let rc = unsafe { close(self.shared.raw()) };
        result::check("veo_context_close", rc)
    }
}

impl Drop for AveoContext {
    fn drop(&mut self) {
        let _ = self.close_inner(false);
    }
}

/// What a call's request holds: its stack buffers (with its list, when
/// lent) and the borrowed buffers they go back into.
#[inline(never)]
fn call_held<'a>(
    lent: Option<LentArgs>,
    bufs: Option<(StackBuffers, Vec<&'a mut [u8]>)>,
) -> Option<Box<Held<'a>>> {
    let (stack, outs) = bufs.unwrap_or_default();
    let staging = match lent {
        Some(list) => Staging::Lent(stack, list),
        None if stack.is_empty() => Staging::None,
        None => Staging::Stack(stack),
    };
    Held::boxed(outs, staging)
}

/// A VH function queued with `veo_call_async_vh`.
struct VhJob {
    f: Box<dyn FnOnce() -> Result<u64> + Send>,
    outcome: Arc<VhOutcome>,
}

/// What a VH function left for its request besides its value.
#[derive(Default)]
pub(crate) struct VhOutcome {
    error: Mutex<Option<Error>>,
}

impl VhOutcome {
    /// The function's error, or its panic as one.
    pub(crate) fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What libveo calls for a [`VhJob`]: runs it once, never unwinding into C.
unsafe extern "C" fn run_vh(arg: *mut c_void) -> u64 {
    // SAFETY: `arg` is the box `vh_job` leaked for this one call.
    let job = unsafe { Box::from_raw(arg.cast::<VhJob>()) };
    let VhJob { f, outcome } = *job;
    let error = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => return v,
        Ok(Err(e)) => e,
        Err(_) => Error::Helper("the VH function panicked".into()),
    };
    *outcome.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
    0
}

/// The error of a request on a context whose VE process has exited.
#[cold]
pub(crate) fn exited() -> Error {
    Error::Aveo {
        what: "the context".into(),
        reason: "its VE process has exited (a kernel raised an exception)".into(),
    }
}
