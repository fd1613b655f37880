//! A request on the emulated VE: its id on a channel. Its answer bytes
//! (OUT/INOUT buffers, an async read's destination) go into the buffers its
//! [`Request`](crate::Request) lends, inside that request's own
//! `wait`/`peek`/`poll` only; another thread's drain keeps them in the
//! channel's table.

use super::channel::{scatter, ChannelVh, Done, Sink};
use crate::args::KernelRet;
use crate::error::{Error, Result};
use std::task::Waker;
use std::time::Instant;
use veo_urpc::proto::Status;

/// What a request does, for its error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) enum What {
    Call,
    Transfer { addr: u64, len: u64 },
    Alloc,
    Other,
}

/// Request `reqid` on channel `ch`, with the buffers its answer bytes go to.
pub(crate) struct EmulatedRequest<'a> {
    ch: &'a ChannelVh,
    reqid: u64,
    /// The OUT/INOUT stack buffers, or an async read's destination: written
    /// only by this request's own `wait`/`peek`/`poll`.
    outs: Vec<&'a mut [u8]>,
    /// Answer bytes already in `outs` (a prefix).
    placed: u64,
    what: What,
}

impl<'a> EmulatedRequest<'a> {
    #[inline]
    pub(crate) fn new(ch: &'a ChannelVh, reqid: u64, outs: Vec<&'a mut [u8]>, what: What) -> Self {
        EmulatedRequest {
            ch,
            reqid,
            outs,
            placed: 0,
            what,
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.reqid
    }

    /// The channel's index: the context's slot (0 for the proc's own queue).
    pub(crate) fn index(&self) -> usize {
        self.ch.index
    }

    /// Waits for the answer (until `deadline`), its bytes into `outs`; sets
    /// `taken` once the answer was consumed, whatever its status.
    #[inline]
    pub(crate) fn wait<T: KernelRet>(
        &mut self,
        deadline: Option<Instant>,
        taken: &mut bool,
    ) -> Result<T> {
        let done = self.ch.wait_into(
            self.reqid,
            deadline,
            &mut Sink {
                outs: &mut self.outs,
                placed: &mut self.placed,
            },
        )?;
        self.finish(done, taken)
    }

    /// The answer if it is there, as [`wait`](Self::wait).
    #[inline]
    pub(crate) fn peek<T: KernelRet>(&mut self, taken: &mut bool) -> Result<Option<T>> {
        let done = self.ch.poll(
            self.reqid,
            &mut Sink {
                outs: &mut self.outs,
                placed: &mut self.placed,
            },
        )?;
        match done {
            Some(done) => self.finish(done, taken).map(Some),
            None => Ok(None),
        }
    }

    /// [`peek`](Self::peek) for a future: `None` means that `waker` will be
    /// woken when the answer may be there (`future.rs`).
    pub(crate) fn poll<T: KernelRet>(
        &mut self,
        waker: &Waker,
        taken: &mut bool,
    ) -> Result<Option<T>> {
        let done = self.ch.poll_async(
            self.reqid,
            &mut Sink {
                outs: &mut self.outs,
                placed: &mut self.placed,
            },
            waker,
        )?;
        match done {
            Some(done) => self.finish(done, taken).map(Some),
            None => Ok(None),
        }
    }

    /// The future of this request is dropped while pending.
    pub(crate) fn forget_waker(&self) {
        self.ch.forget_waker(self.reqid);
    }

    /// Dropped unanswered: its answer is discarded when it arrives. A
    /// fork() child's copy leaves the channel to its owner.
    pub(crate) fn abandon(&self) {
        if !self.ch.life.foreign() {
            self.ch.abandon(self.reqid);
        }
    }

    #[inline]
    fn finish<T: KernelRet>(&mut self, done: Done, taken: &mut bool) -> Result<T> {
        *taken = true;
        match done.status {
            Some(Status::Ok) => {}
            Some(status) => return Err(status_error(status, done, self.what)),
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
