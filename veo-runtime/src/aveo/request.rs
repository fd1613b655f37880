//! One request queued on an [`AveoContext`]: its id, the memory libveo was
//! given for it (its staging, `context.rs`), and the borrowed buffers its
//! result goes into, filled only inside its own wait or peek from the
//! staging.
//!
//! `RequestState` is what the request must remember (its context, id,
//! kind, staging and the borrowed buffers), and writes into those buffers
//! only inside its wait, peek or poll; a [`Request`](crate::Request) holds
//! it.
//! [`AveoRequest`] is the same with its result type, for direct use.

use super::context::{AveoContext, Staging};
use super::proc::ret_word;
use super::result;
use super::sys::{VEO_COMMAND_ERROR, VEO_COMMAND_OK, VEO_COMMAND_UNFINISHED};
use crate::args::KernelRet;
use crate::context::ContextState;
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use std::marker::PhantomData;
use std::task::Waker;
use std::time::{Duration, Instant};
use veo_urpc::proto::ArgClass;

/// What a request does, for its result and its errors.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// A kernel call returning this class.
    Call(ArgClass),
    /// A transfer or a free at `addr`.
    Transfer { addr: u64, len: u64 },
    /// An allocation of `size` bytes: the result is the address.
    Alloc { size: u64 },
    /// A VH function.
    Vh,
}

/// A pending request of an [`AveoContext`].
pub(crate) struct RequestState<'a> {
    ctx: &'a AveoContext,
    id: u64,
    kind: Kind,
    /// The borrowed buffers and the staging, when the request has either
    /// (a call with register arguments only, an allocation or a free has
    /// neither: then nothing is boxed, and dropping the request has nothing
    /// to free).
    held: Option<Box<Held<'a>>>,
}

/// What a request holds besides its id.
pub(crate) struct Held<'a> {
    /// The OUT/INOUT stack buffers of a call in argument order, or a read's
    /// destination: written only inside `wait`/`peek`/`poll`.
    outs: Vec<&'a mut [u8]>,
    /// What libveo was given: freed once collected, handed to the context
    /// when dropped unfinished, leaked when forgotten.
    staging: Staging,
}

impl<'a> Held<'a> {
    /// `outs` and `staging`, boxed when there is anything.
    pub(crate) fn boxed(outs: Vec<&'a mut [u8]>, staging: Staging) -> Option<Box<Held<'a>>> {
        if outs.is_empty() && matches!(staging, Staging::None) {
            None
        } else {
            Some(Box::new(Held { outs, staging }))
        }
    }
}

impl<'a> RequestState<'a> {
    #[inline]
    pub(crate) fn new(
        ctx: &'a AveoContext,
        id: u64,
        kind: Kind,
        held: Option<Box<Held<'a>>>,
    ) -> Self {
        RequestState {
            ctx,
            id,
            kind,
            held,
        }
    }

    pub(crate) fn set_kind(&mut self, kind: Kind) {
        self.kind = kind;
    }

    /// libveo's request id (per context, from 0).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Its context's index.
    pub(crate) fn index(&self) -> usize {
        self.ctx.index()
    }

    /// Waits for the result until `deadline` (`Error::Timeout` past it;
    /// `veo_call_wait_result` without one), placing its bytes in the
    /// borrowed buffers; sets `taken` once libveo has given the result
    /// (whatever it is).
    #[inline]
    pub(crate) fn wait<T: KernelRet>(
        &mut self,
        deadline: Option<Deadline>,
        taken: &mut bool,
    ) -> Result<T> {
        self.wait_raw(deadline, taken).map(T::decode)
    }

    /// The result if libveo has it (`veo_call_peek_result`), as `wait`.
    #[inline]
    pub(crate) fn peek<T: KernelRet>(&mut self, taken: &mut bool) -> Result<Option<T>> {
        Ok(self.peek_raw(taken)?.map(T::decode))
    }

    /// `peek` for a future: when still running, `waker` is woken by the
    /// proc's poller, which wakes pending futures at short intervals (libveo
    /// has nothing to sleep on).
    pub(crate) fn poll<T: KernelRet>(
        &mut self,
        waker: &Waker,
        taken: &mut bool,
    ) -> Result<Option<T>> {
        let r = self.peek(taken)?;
        if r.is_none() {
            let proc = &self.ctx.proc;
            proc.poller
                .register(waker, || format!("veo-await-{}", proc.pid()));
        }
        Ok(r)
    }

    /// A future dropped while pending: nothing to forget (the poller wakes
    /// whatever registered, once).
    pub(crate) fn forget_waker(&self) {}

    /// Dropped before its result was taken: the context collects it, and
    /// frees its staging once libveo is done with it.
    pub(crate) fn abandon(&mut self) {
        match self.held.take() {
            None => self.ctx.shared.abandon_bare(self.id),
            Some(held) => self.ctx.shared.abandon(self.id, held.staging),
        }
    }

    #[inline]
    fn wait_raw(&mut self, deadline: Option<Deadline>, taken: &mut bool) -> Result<u64> {
        let Some(deadline) = deadline else {
            let f = self.ctx.proc.lib.veo_call_wait_result()?;
            let entered = self.ctx.proc.enter()?;
            let mut v = 0u64;
            // SAFETY: the context is live while borrowed; `v` is a valid
            // `uint64_t *`.
            let state = unsafe { f(self.ctx.shared.raw(), self.id, &mut v) };
            drop(entered);
            return self.complete("veo_call_wait_result", state, v, taken);
        };
        self.wait_until(deadline, taken)
    }

    /// `wait_raw` with a deadline: polls, backing off.
    #[inline(never)]
    fn wait_until(&mut self, deadline: Deadline, taken: &mut bool) -> Result<u64> {
        let mut round = 0u32;
        loop {
            if let Some(v) = self.peek_raw(taken)? {
                return Ok(v);
            }
            let now = Instant::now();
            if now >= deadline.at() {
                return Err(deadline.timed_out());
            }
            // Spin, then yield, then sleep a little longer each round (at
            // most a millisecond, never past the deadline).
            round = round.saturating_add(1);
            if round < 64 {
                std::hint::spin_loop();
            } else if round < 128 {
                std::thread::yield_now();
            } else {
                let pause = Duration::from_micros(u64::from((round - 127).min(1000)));
                std::thread::sleep(pause.min(deadline.left(now)));
            }
        }
    }

    fn peek_raw(&mut self, taken: &mut bool) -> Result<Option<u64>> {
        let f = self.ctx.proc.lib.veo_call_peek_result()?;
        let entered = self.ctx.proc.enter()?;
        let mut v = 0u64;
        // SAFETY: as in `wait_raw`.
        let state = unsafe { f(self.ctx.shared.raw(), self.id, &mut v) };
        drop(entered);
        if state == VEO_COMMAND_UNFINISHED {
            return Ok(None);
        }
        self.complete("veo_call_peek_result", state, v, taken)
            .map(Some)
    }

    /// libveo has delivered the result (or an error): the staging is ours
    /// again, and its bytes go into the borrowed buffers.
    #[inline]
    fn complete(
        &mut self,
        function: &'static str,
        state: i32,
        v: u64,
        taken: &mut bool,
    ) -> Result<u64> {
        *taken = true;
        self.ctx.shared.collected();
        if state != VEO_COMMAND_OK {
            return Err(self.failed(function, state, v));
        }
        if let Some(held) = self.held.take() {
            self.deliver(*held)?;
        }
        match self.kind {
            Kind::Call(class) => Ok(ret_word(class, v)),
            Kind::Alloc { size } if v == 0 => Err(Error::OutOfMemory { size }),
            _ => Ok(v),
        }
    }

    /// The staging's bytes into the borrowed buffers; a VH function's error.
    fn deliver(&self, held: Held<'a>) -> Result<()> {
        let Held { mut outs, staging } = held;
        match staging {
            Staging::Stack(stack) => stack.copy_out_to(&mut outs),
            Staging::Lent(stack, list) => {
                stack.copy_out_to(&mut outs);
                self.ctx.proc.args.give_back(list);
            }
            Staging::Bytes(bytes) => {
                if let [dst] = &mut outs[..] {
                    if dst.len() == bytes.len() {
                        dst.copy_from_slice(&bytes);
                    }
                }
            }
            Staging::Vh(outcome) => {
                if let Some(e) = outcome.take_error() {
                    return Err(e);
                }
            }
            Staging::None => {}
        }
        Ok(())
    }

    /// The error of a request libveo did not finish with `VEO_COMMAND_OK`.
    #[cold]
    fn failed(&mut self, function: &'static str, state: i32, v: u64) -> Error {
        let staging = self.held.take().map_or(Staging::None, |h| h.staging);
        let e = match result::command(function, state, v) {
            Ok(Some(_)) => unreachable!("VEO_COMMAND_OK is not a failure"),
            Ok(None) => {
                // libveo says it has not finished: it may still write into
                // the staging, which is leaked rather than freed.
                std::mem::forget(staging);
                return Error::Aveo {
                    what: function.into(),
                    reason: "returned VEO_COMMAND_UNFINISHED for a finished wait".into(),
                };
            }
            Err(e) => e,
        };
        drop(staging);
        match (e, self.kind) {
            // A transfer libveo could not make: the address, as on the
            // emulated VE.
            (Error::Aveo { reason, .. }, Kind::Transfer { addr, len })
                if state == VEO_COMMAND_ERROR =>
            {
                Error::InvalidAddress { addr, len, reason }
            }
            // An allocation libveo could not make.
            (Error::Aveo { .. }, Kind::Alloc { size }) if state == VEO_COMMAND_ERROR => {
                Error::OutOfMemory { size }
            }
            // The VE process is gone (killed, or ended by another request's
            // exception): what the emulated VE calls its helper's death.
            (Error::Aveo { .. }, _)
                if state == VEO_COMMAND_ERROR && self.ctx.state() == ContextState::Dead =>
            {
                let proc = &self.ctx.proc;
                proc.dead.store(true, std::sync::atomic::Ordering::Release);
                Error::HelperDied {
                    pid: proc.pid(),
                    status: "the VE process exited (libveo's context state is VEO_STATE_EXIT)"
                        .into(),
                }
            }
            (e @ Error::KernelException { .. }, _) => {
                self.ctx
                    .proc
                    .dead
                    .store(true, std::sync::atomic::Ordering::Release);
                e
            }
            (e, _) => e,
        }
    }
}

/// The pending result of something queued on an [`AveoContext`] (AVEO's
/// request id), as a [`Request`](crate::Request) is on the emulated VE:
/// [`wait`](Self::wait), [`wait_timeout`](Self::wait_timeout) and
/// [`peek`](Self::peek), each result taken once.
///
/// OUT/INOUT stack buffers and a read's destination stay borrowed until the
/// request completes, and their bytes land there only inside its own wait
/// or peek: libveo writes into memory the request owns (its staging).
/// Dropping an unfinished request leaves its collection to the context;
/// forgetting it leaks the staging and writes nothing, ever.
#[must_use = "a request does nothing unless waited for or peeked at"]
pub struct AveoRequest<'a, T: KernelRet = u64> {
    state: RequestState<'a>,
    taken: bool,
    _ret: PhantomData<fn() -> T>,
}

impl<T: KernelRet> std::fmt::Debug for AveoRequest<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AveoRequest")
            .field("context", &self.state.index())
            .field("id", &self.state.id())
            .field("taken", &self.taken)
            .finish()
    }
}

impl<'a, T: KernelRet> AveoRequest<'a, T> {
    pub(crate) fn new(state: RequestState<'a>) -> Self {
        AveoRequest {
            state,
            taken: false,
            _ret: PhantomData,
        }
    }

    /// The request's state, for a [`Request`](crate::Request) to hold.
    pub(crate) fn into_state(mut self) -> RequestState<'a> {
        self.taken = true; // the new owner abandons it, or not
        RequestState {
            ctx: self.state.ctx,
            id: self.state.id,
            kind: self.state.kind,
            held: self.state.held.take(),
        }
    }

    pub(crate) fn set_kind(&mut self, kind: Kind) {
        self.state.set_kind(kind);
    }

    /// libveo's request id (per context, from 0).
    pub fn id(&self) -> u64 {
        self.state.id()
    }

    /// Waits for the result (`veo_call_wait_result`).
    pub fn wait(mut self) -> Result<T> {
        self.check_taken()?;
        self.state.wait(None, &mut self.taken)
    }

    /// Waits at most `limit`; on [`Error::Timeout`] the request stays
    /// pending and can be waited for again. Polls with
    /// `veo_call_peek_result`, backing off from spinning to sleeping.
    pub fn wait_timeout(&mut self, limit: Duration) -> Result<T> {
        self.check_taken()?;
        self.state.wait(Deadline::after(limit), &mut self.taken)
    }

    /// The result if the request has completed, `None` if it is still
    /// running (`veo_call_peek_result`). Once a result (or error) was
    /// returned, further calls return [`Error::AlreadyTaken`].
    pub fn peek(&mut self) -> Result<Option<T>> {
        self.check_taken()?;
        self.state.peek(&mut self.taken)
    }

    fn check_taken(&self) -> Result<()> {
        if self.taken {
            Err(Error::AlreadyTaken)
        } else {
            Ok(())
        }
    }
}

/// Awaiting a request: its poll asks libveo (`veo_call_peek_result`), and
/// the bytes land in the borrowed buffers inside that poll; while it is
/// pending, the proc's poller wakes it at short intervals.
impl<T: KernelRet> std::future::Future for AveoRequest<'_, T> {
    type Output = Result<T>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<T>> {
        use std::task::Poll;
        let this = &mut *self;
        if let Err(e) = this.check_taken() {
            return Poll::Ready(Err(e));
        }
        match this.state.poll(cx.waker(), &mut this.taken) {
            Ok(Some(v)) => Poll::Ready(Ok(v)),
            Ok(None) => Poll::Pending,
            Err(e) => {
                this.taken = true;
                Poll::Ready(Err(e))
            }
        }
    }
}

impl<T: KernelRet> Drop for AveoRequest<'_, T> {
    fn drop(&mut self) {
        if !self.taken {
            self.state.abandon();
        }
    }
}
