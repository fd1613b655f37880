//! A request on the emulated VE: its id on a channel. Its answer bytes
//! (OUT/INOUT buffers, an async read's destination) go into the buffers its
//! [`Request`](crate::Request) lends, inside that request's own
//! `wait`/`peek`/`poll` only; another thread's drain keeps them in the
//! channel's table.

use super::channel::{scatter, ChannelVh, Done, Sink};
use crate::args::KernelRet;
use crate::deadline::Deadline;
use crate::error::{short, Error, Result, MESSAGE_SHOWN, NAME_SHOWN};
use std::task::Waker;
use veo_urpc::proto::Status;

/// What a request does, for its errors: what the helper's answer does
/// not repeat (the address and length of a transfer, the path of a
/// library, the name of a symbol), so that each error is built complete
/// where the answer is read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum What<'a> {
    Call,
    Transfer {
        addr: u64,
        len: u64,
    },
    Alloc,
    /// Loading the library at `path`.
    Load {
        path: &'a str,
    },
    /// Unloading the library at `path`.
    Unload {
        path: &'a str,
    },
    /// Looking `name` up in `library` (its path).
    Symbol {
        name: &'a str,
        library: &'a str,
    },
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
    what: What<'static>,
}

impl<'a> EmulatedRequest<'a> {
    #[inline]
    pub(crate) fn new(
        ch: &'a ChannelVh,
        reqid: u64,
        outs: Vec<&'a mut [u8]>,
        what: What<'static>,
    ) -> Self {
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
        deadline: Option<Deadline>,
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

    /// The value of a finished request: inlined for the usual answer (OK,
    /// every answer byte already in place, none expected in a call without
    /// buffers); everything else out of line, in [`finish_slow`](Self::finish_slow).
    #[inline(always)]
    fn finish<T: KernelRet>(&mut self, done: Done, taken: &mut bool) -> Result<T> {
        if done.status == Some(Status::Ok) && done.data.is_empty() && self.outs.is_empty() {
            *taken = true;
            return Ok(T::decode(done.value));
        }
        self.finish_slow(done, taken)
    }

    #[inline(never)]
    fn finish_slow<T: KernelRet>(&mut self, done: Done, taken: &mut bool) -> Result<T> {
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
pub(crate) fn status_error(status: Status, done: Done, what: What<'_>) -> Error {
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
        Status::Library => match what {
            What::Load { path } => Error::LibraryNotFound {
                path: short(path, NAME_SHOWN),
                message: short(&done.text, MESSAGE_SHOWN),
            },
            // The helper knows no such handle: its table and the
            // runtime's disagree.
            What::Unload { path } => Error::Helper(format!(
                "cannot unload library {}: {}",
                short(path, NAME_SHOWN),
                short(&done.text, MESSAGE_SHOWN)
            )),
            _ => unexpected(status, done),
        },
        Status::Symbol => match what {
            What::Symbol { name, library } => Error::SymbolNotFound {
                name: short(name, NAME_SHOWN),
                library: short(library, NAME_SHOWN),
                message: short(&done.text, MESSAGE_SHOWN),
            },
            _ => unexpected(status, done),
        },
        Status::Invalid | Status::Ok => Error::Helper(done.text),
    }
}

/// A status the request could not have caused (a library error answering
/// a call): the helper's words, with the status.
#[cold]
fn unexpected(status: Status, done: Done) -> Error {
    Error::Helper(format!(
        "the helper answered {status:?} to a request that cannot fail so: {}",
        short(&done.text, MESSAGE_SHOWN)
    ))
}

#[cfg(test)]
mod tests {
    use crate::backend::ProcBackend;
    use crate::{Error, Proc};

    /// No public type can wait for an id its context never handed out (a
    /// request exists only once submitted): the channel's own check, asked
    /// directly, answers with the variant and the helper keeps serving.
    #[test]
    fn a_wait_for_an_id_never_handed_out_is_not_submitted() {
        let proc = Proc::builder()
            .backend(crate::BackendChoice::Emulated)
            .build()
            .unwrap();
        let ProcBackend::Emulated(p) = &proc.backend else {
            panic!("asked for the emulated VE, got {}", proc.backend());
        };
        let far = 1 << 40;
        match p.control.wait(far, None).err() {
            Some(Error::NotSubmitted { context: 0, id }) => assert_eq!(id, far),
            other => panic!("{other:?}"),
        }
        assert_eq!(proc.alloc_from(&[7u8]).unwrap().to_vec().unwrap(), [7]);
    }
}
