//! Requests: the pending result of something queued on a context.

use crate::args::KernelRet;
use crate::channel::{scatter, ChannelVh, Done, Sink};
use crate::error::{Error, Result};
use std::marker::PhantomData;
use std::time::{Duration, Instant};
use veo_urpc::proto::Status;

/// What a request does, for its error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) enum What {
    Call,
    Transfer { addr: u64, len: u64 },
    Alloc,
    Other,
}

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
    ch: &'a ChannelVh,
    reqid: u64,
    outs: Vec<&'a mut [u8]>,
    /// Answer bytes already in `outs` (a prefix).
    placed: u64,
    what: What,
    taken: bool,
    _ret: PhantomData<fn() -> T>,
}

impl<T: KernelRet> std::fmt::Debug for Request<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("context", &self.ch.index)
            .field("id", &self.reqid)
            .field("taken", &self.taken)
            .finish()
    }
}

impl<'a, T: KernelRet> Request<'a, T> {
    pub(crate) fn new(ch: &'a ChannelVh, reqid: u64, outs: Vec<&'a mut [u8]>, what: What) -> Self {
        Request {
            ch,
            reqid,
            outs,
            placed: 0,
            what,
            taken: false,
            _ret: PhantomData,
        }
    }

    /// The request id, monotonic per context.
    pub fn id(&self) -> u64 {
        self.reqid
    }

    /// Hands the request over to a caller that keeps it by id
    /// (`queue.rs`): dropping it no longer discards its answer.
    pub(crate) fn into_id(mut self) -> u64 {
        self.taken = true;
        self.reqid
    }

    /// Waits for the result.
    pub fn wait(mut self) -> Result<T> {
        self.check_taken()?;
        let done = self.ch.wait_into(self.reqid, None, &mut self.sink())?;
        self.finish(done)
    }

    /// Waits at most `limit`; on [`Error::Timeout`] the request stays pending
    /// and can be waited for again.
    pub fn wait_timeout(&mut self, limit: Duration) -> Result<T> {
        self.check_taken()?;
        let deadline = Some(Instant::now() + limit);
        match self.ch.wait_into(self.reqid, deadline, &mut self.sink()) {
            Ok(done) => self.finish(done),
            Err(Error::Timeout(_)) => Err(Error::Timeout(limit)),
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
        match self.ch.poll(self.reqid, &mut self.sink()) {
            Ok(Some(done)) => self.finish(done).map(Some),
            Ok(None) => Ok(None),
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
        let (ch, reqid) = (self.ch, self.reqid);
        match ch.poll_async(reqid, &mut self.sink(), waker) {
            Ok(Some(done)) => Poll::Ready(self.finish(done)),
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
            self.ch.forget_waker(self.reqid);
        }
    }

    fn check_taken(&self) -> Result<()> {
        if self.taken {
            Err(Error::AlreadyTaken)
        } else {
            Ok(())
        }
    }

    /// This request's buffers, lent to the channel for its answer bytes.
    fn sink(&mut self) -> Sink<'_, 'a> {
        Sink {
            outs: &mut self.outs,
            placed: &mut self.placed,
        }
    }

    fn finish(&mut self, done: Done) -> Result<T> {
        self.taken = true;
        match done.status {
            Some(Status::Ok) => {}
            Some(status) => return Err(self.error(status, done)),
            None => return Err(Error::Helper(done.text)),
        }
        // A sane helper sends every OUT/INOUT or read byte before the
        // result; anything shorter is an error, not a half-filled buffer.
        // Bytes another thread drained follow those placed already.
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
            scatter(&mut self.outs, done.data_at, &done.data);
        }
        Ok(T::decode(done.value))
    }

    fn error(&self, status: Status, done: Done) -> Error {
        status_error(status, done, self.what)
    }
}

/// The error for a failed answer.
pub(crate) fn status_error(status: Status, done: Done, what: What) -> Error {
    match status {
        Status::InvalidAddress => {
            let (addr, len) = match what {
                What::Transfer { addr, len } => (addr, len),
                _ => (done.value, 0),
            };
            Error::InvalidAddress {
                addr,
                len,
                reason: done.text,
            }
        }
        Status::OutOfMemory => Error::OutOfMemory { size: done.value },
        Status::Library => Error::LibraryNotFound {
            path: String::new(),
            message: done.text,
        },
        Status::Symbol => Error::SymbolNotFound {
            name: String::new(),
            library: String::new(),
            message: done.text,
        },
        Status::Invalid | Status::Ok => Error::Helper(done.text),
    }
}

impl<T: KernelRet> Drop for Request<'_, T> {
    fn drop(&mut self) {
        // A fork() child's copy leaves the channel to its owner.
        if !self.taken && !self.ch.life.foreign() {
            self.ch.abandon(self.reqid);
        }
    }
}
