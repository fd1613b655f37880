//! One request queued on an [`AveoContext`]: its id, and the borrowed
//! buffers its result goes into, filled only inside its own
//! [`wait`](AveoRequest::wait) or [`peek`](AveoRequest::peek) from the
//! staging the context keeps (`context.rs`).

use super::context::{AveoContext, Staging};
use super::proc::ret_word;
use super::result;
use super::sys::{VEO_COMMAND_ERROR, VEO_COMMAND_UNFINISHED};
use crate::args::KernelRet;
use crate::error::{Error, Result};
use std::marker::PhantomData;
use std::time::{Duration, Instant};
use veo_urpc::proto::ArgClass;

/// Where a request's answer bytes go.
pub(crate) enum Outs<'a> {
    /// Nowhere.
    None,
    /// A call's OUT and INOUT buffers, with their stack index.
    Stack(Vec<(usize, &'a mut [u8])>),
    /// An asynchronous read's destination.
    Read(&'a mut [u8]),
}

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

/// The pending result of something queued on an [`AveoContext`] (AVEO's
/// request id), as a [`Request`](crate::Request) is on the emulated VE:
/// [`wait`](Self::wait), [`wait_timeout`](Self::wait_timeout) and
/// [`peek`](Self::peek), each result taken once.
///
/// OUT/INOUT stack buffers and a read's destination stay borrowed until the
/// request completes, and their bytes land there only inside its own wait
/// or peek: libveo writes into memory the context owns. Dropping an
/// unfinished request leaves its collection to the context; forgetting it
/// writes nothing, ever.
#[must_use = "a request does nothing unless waited for or peeked at"]
pub struct AveoRequest<'a, T: KernelRet = u64> {
    ctx: &'a AveoContext,
    id: u64,
    outs: Outs<'a>,
    kind: Kind,
    taken: bool,
    _ret: PhantomData<fn() -> T>,
}

impl<T: KernelRet> std::fmt::Debug for AveoRequest<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AveoRequest")
            .field("context", &self.ctx.index())
            .field("id", &self.id)
            .field("taken", &self.taken)
            .finish()
    }
}

impl<'a, T: KernelRet> AveoRequest<'a, T> {
    pub(crate) fn new(ctx: &'a AveoContext, id: u64, outs: Outs<'a>, kind: Kind) -> Self {
        AveoRequest {
            ctx,
            id,
            outs,
            kind,
            taken: false,
            _ret: PhantomData,
        }
    }

    pub(crate) fn set_kind(&mut self, kind: Kind) {
        self.kind = kind;
    }

    /// libveo's request id (per context, from 0).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Waits for the result (`veo_call_wait_result`).
    pub fn wait(mut self) -> Result<T> {
        self.check_taken()?;
        let f = self.ctx.proc.lib.veo_call_wait_result()?;
        let mut v = 0u64;
        // SAFETY: the context is live while borrowed; `v` is a valid
        // `uint64_t *`.
        let state = unsafe { f(self.ctx.shared.raw(), self.id, &mut v) };
        self.complete("veo_call_wait_result", state, v)
    }

    /// Waits at most `limit`; on [`Error::Timeout`] the request stays
    /// pending and can be waited for again. Polls with
    /// `veo_call_peek_result`, backing off from spinning to sleeping.
    pub fn wait_timeout(&mut self, limit: Duration) -> Result<T> {
        let deadline = Instant::now() + limit;
        let mut round = 0u32;
        loop {
            if let Some(v) = self.peek()? {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout(limit));
            }
            round = round.saturating_add(1);
            if round < 64 {
                std::hint::spin_loop();
            } else if round < 128 {
                std::thread::yield_now();
            } else {
                let pause = Duration::from_micros(u64::from((round - 127).min(1000)));
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            }
        }
    }

    /// The result if the request has completed, `None` if it is still
    /// running (`veo_call_peek_result`). Once a result (or error) was
    /// returned, further calls return [`Error::AlreadyTaken`].
    pub fn peek(&mut self) -> Result<Option<T>> {
        self.check_taken()?;
        let f = self.ctx.proc.lib.veo_call_peek_result()?;
        let mut v = 0u64;
        // SAFETY: as in `wait`.
        let state = unsafe { f(self.ctx.shared.raw(), self.id, &mut v) };
        if state == VEO_COMMAND_UNFINISHED {
            return Ok(None);
        }
        self.complete("veo_call_peek_result", state, v).map(Some)
    }

    fn check_taken(&self) -> Result<()> {
        if self.taken {
            Err(Error::AlreadyTaken)
        } else {
            Ok(())
        }
    }

    /// libveo has delivered the result (or an error): the staging is ours
    /// again, and its bytes go into the borrowed buffers.
    fn complete(&mut self, function: &'static str, state: i32, v: u64) -> Result<T> {
        self.taken = true;
        let staging = self.ctx.shared.take(self.id);
        let answer = match (result::command(function, state, v), self.kind) {
            // A transfer libveo could not make: the address, as on the
            // emulated VE.
            (Err(Error::Aveo { reason, .. }), Kind::Transfer { addr, len })
                if state == VEO_COMMAND_ERROR =>
            {
                return Err(Error::InvalidAddress { addr, len, reason });
            }
            (answer, _) => answer?,
        };
        let value = match answer {
            Some(v) => v,
            None => {
                return Err(Error::Aveo {
                    what: function.into(),
                    reason: "returned VEO_COMMAND_UNFINISHED for a finished wait".into(),
                })
            }
        };
        match (staging, &mut self.outs) {
            (Some(Staging::Stack(stack)), Outs::Stack(outs)) => stack.copy_out_into(outs),
            (Some(Staging::Bytes(bytes)), Outs::Read(dst)) if bytes.len() == dst.len() => {
                dst.copy_from_slice(&bytes)
            }
            (Some(Staging::Vh(panicked)), _)
                if panicked.load(std::sync::atomic::Ordering::Acquire) =>
            {
                return Err(Error::Helper("the VH function panicked".into()));
            }
            _ => {}
        }
        let raw = match self.kind {
            Kind::Call(class) => ret_word(self.ctx.proc.lib.emulated(), class, value),
            Kind::Alloc { size } if value == 0 => return Err(Error::OutOfMemory { size }),
            _ => value,
        };
        Ok(T::decode(raw))
    }
}

impl<T: KernelRet> Drop for AveoRequest<'_, T> {
    fn drop(&mut self) {
        if !self.taken {
            self.ctx.shared.abandon(self.id);
        }
    }
}
