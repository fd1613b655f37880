//! The control RPC: synchronous commands on the proc's own channel
//! (channel 0), each submitted and waited for at once: allocations, copies
//! inside VE memory, calls without a context.

use super::channel::Done;
use super::request::{status_error, EmulatedRequest, What};
use super::EmulatedProc;
use crate::args::{Args, KernelRet, Regs};
use crate::error::{Error, Result};
use crate::library::{Function, Loaded};
use crate::ptr::VePtr;
use crate::request::Request;
use veo_urpc::proto::{self, Status};

impl EmulatedProc {
    /// A synchronous command on the control channel: its 64-bit answer.
    pub(crate) fn control_op(
        &self,
        kind: u16,
        words: &[u64],
        tail: &[u8],
        what: What<'_>,
    ) -> Result<u64> {
        let reqid = self.control.simple(kind, words, tail)?;
        self.finish(reqid, what).map(|d| d.value)
    }

    /// Waits for the control request `reqid`; a failure is the error `what`
    /// calls for.
    pub(crate) fn finish(&self, reqid: u64, what: What<'_>) -> Result<Done> {
        let done = self.control.wait(reqid, None)?;
        match done.status {
            Some(Status::Ok) => Ok(done),
            Some(s) => Err(status_error(s, done, what)),
            None => Err(Error::Helper(done.text)),
        }
    }

    /// Calls `f` on the control channel and waits.
    pub(crate) fn call_sync<R: KernelRet>(&self, f: &Function, args: &mut Args<'_>) -> Result<R> {
        f.check(self.id)?;
        self.call_sync_at(f.addr, Some(&f.shared.loaded), args)
    }

    /// Calls the kernel at `addr` on the control channel and waits.
    pub(crate) fn call_sync_at<R: KernelRet>(
        &self,
        addr: u64,
        loaded: Option<&Loaded>,
        args: &mut Args<'_>,
    ) -> Result<R> {
        let (reqid, outs) =
            super::call::submit_call(&self.control, addr, loaded, R::CLASS, args, self.stack_size)?;
        Request::<R>::emulated(EmulatedRequest::new(&self.control, reqid, outs, What::Call)).wait()
    }

    /// [`call_sync_at`](Self::call_sync_at) for a stub whose arguments all
    /// travel in registers.
    #[inline]
    pub(crate) fn call_sync_regs<R: KernelRet, const N: usize>(
        &self,
        addr: u64,
        regs: &Regs<N>,
    ) -> Result<R> {
        let reqid = super::call::submit_regs(&self.control, addr, R::CLASS, regs)?;
        Request::<R>::emulated(EmulatedRequest::new(
            &self.control,
            reqid,
            Vec::new(),
            What::Call,
        ))
        .wait()
    }

    pub(crate) fn alloc_mem(&self, bytes: u64) -> Result<VePtr<u8>> {
        self.control_op(proto::KIND_ALLOC, &[bytes], &[], What::Alloc)
            .map(VePtr::new)
    }

    pub(crate) fn free_mem(&self, ptr: VePtr<u8>) -> Result<()> {
        self.control_op(
            proto::KIND_FREE,
            &[ptr.addr()],
            &[],
            What::Transfer {
                addr: ptr.addr(),
                len: 0,
            },
        )
        .map(|_| ())
    }

    /// Copies `len` bytes inside VE memory.
    pub(crate) fn memcpy(&self, dst: u64, src: u64, len: u64) -> Result<()> {
        self.control_op(
            proto::KIND_MEMCPY,
            &[dst, src, len],
            &[],
            What::Transfer { addr: src, len },
        )
        .map(|_| ())
    }
}
