//! Requests: the pending result of something queued on a context.
//!
//! A [`Request`] is the same on every backend: its backend's request
//! ([`RequestBackend`]) holds the borrowed OUT/INOUT buffers and writes into
//! them only inside the request's own `wait`/`peek`/`poll`; nothing else
//! writes into them, so forgetting a request stays harmless whatever the
//! backend.

use crate::args::KernelRet;
use crate::backend::RequestBackend;
use crate::deadline::Deadline;
use crate::emulated::request::EmulatedRequest;
use crate::error::{Error, Result};
use std::marker::PhantomData;
use std::time::Duration;

/// The pending result of a call, transfer or other command queued on a
/// [`Context`](crate::Context) (VEO's request id, py-veo's `VeoRequest`).
///
/// OUT/INOUT stack buffers and the destination of an asynchronous read stay
/// borrowed by the request until it completes, and their bytes land in host
/// memory only inside [`wait`](Request::wait) or [`peek`](Request::peek)
/// (straight from the channel, one copy): forgetting a request (even with
/// `mem::forget`) never writes into memory the program has reused. After an
/// error their contents are unspecified. Dropping an unfinished request
/// discards its result.
///
/// A request is also a future (`IntoFuture`): `request.await` yields what
/// `wait` would, on any executor, without blocking a thread; the same rules
/// hold, the bytes landing inside the future's `poll` (see
/// [`RequestFuture`](crate::RequestFuture)).
///
/// ```
/// use veo_runtime::Proc;
///
/// # fn main() -> veo_runtime::Result<()> {
/// let proc = Proc::new(0)?;
/// let ctx = proc.open_context()?;
/// // A function of this process run in the context's order (VEO's call_vh).
/// let mut request = ctx.call_vh(|| 42)?;
/// let answer = loop {
///     match request.peek()? {
///         Some(v) => break v, // finished
///         None => std::thread::yield_now(),
///     }
/// };
/// assert_eq!(answer, 42);
/// assert_eq!(ctx.call_vh(|| 7)?.wait()?, 7);
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing unless waited for or peeked at"]
pub struct Request<'a, T: KernelRet = u64> {
    /// The backend's request, which holds the borrowed OUT/INOUT buffers
    /// (or an async read's destination) and writes into them only inside
    /// this request's `wait`/`peek`/`poll`.
    backend: RequestBackend<'a>,
    taken: bool,
    _ret: PhantomData<fn() -> T>,
}

impl<T: KernelRet> std::fmt::Debug for Request<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("context", &self.backend.index())
            .field("id", &self.backend.id())
            .field("taken", &self.taken)
            .finish()
    }
}

impl<'a, T: KernelRet> Request<'a, T> {
    #[inline]
    pub(crate) fn new(backend: RequestBackend<'a>) -> Self {
        Request {
            backend,
            taken: false,
            _ret: PhantomData,
        }
    }

    /// A request of the emulated VE.
    #[inline]
    pub(crate) fn emulated(req: EmulatedRequest<'a>) -> Self {
        Request::new(RequestBackend::Emulated(req))
    }

    /// The request id, monotonic per context.
    pub fn id(&self) -> u64 {
        self.backend.id()
    }

    /// Hands the request over to a caller that keeps it by id
    /// (`queue.rs`): dropping it no longer discards its answer.
    pub(crate) fn into_id(mut self) -> u64 {
        self.taken = true;
        self.backend.id()
    }

    /// Waits for the result.
    pub fn wait(mut self) -> Result<T> {
        self.check_taken()?;
        self.backend.wait(None, &mut self.taken)
    }

    /// Waits at most `limit`; on [`Error::Timeout`] the request stays pending
    /// and can be waited for again.
    pub fn wait_timeout(&mut self, limit: Duration) -> Result<T> {
        self.check_taken()?;
        match self.backend.wait(Deadline::after(limit), &mut self.taken) {
            Ok(v) => Ok(v),
            Err(e @ Error::Timeout(_)) if !self.taken => Err(e),
            Err(e) => {
                self.taken = true;
                Err(e)
            }
        }
    }

    /// The result if the request has completed, `None` if it is still
    /// running. Once a result (or error) was returned, further calls return
    /// [`Error::AlreadyTaken`].
    pub fn peek(&mut self) -> Result<Option<T>> {
        self.check_taken()?;
        match self.backend.peek(&mut self.taken) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.taken = true;
                Err(e)
            }
        }
    }

    /// [`peek`](Self::peek) for a future: pending means that `waker` will
    /// be woken when the answer may be there (`future.rs`).
    pub(crate) fn poll_answer(&mut self, waker: &std::task::Waker) -> std::task::Poll<Result<T>> {
        use std::task::Poll;
        if let Err(e) = self.check_taken() {
            return Poll::Ready(Err(e));
        }
        match self.backend.poll(waker, &mut self.taken) {
            Ok(Some(v)) => Poll::Ready(Ok(v)),
            Ok(None) => Poll::Pending,
            Err(e) => {
                self.taken = true;
                Poll::Ready(Err(e))
            }
        }
    }

    /// Drops a request whose future was pending (`future.rs`).
    pub(crate) fn forget_waker(self) {
        if !self.taken {
            self.backend.forget_waker();
        }
    }

    fn check_taken(&self) -> Result<()> {
        if self.taken {
            Err(Error::AlreadyTaken)
        } else {
            Ok(())
        }
    }
}

impl<T: KernelRet> Drop for Request<'_, T> {
    fn drop(&mut self) {
        if !self.taken {
            self.backend.abandon();
        }
    }
}
