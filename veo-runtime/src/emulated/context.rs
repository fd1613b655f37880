//! A context of the emulated VE: a worker thread of the helper with its own
//! channel, and the VH thread that runs its VH closures in queue order.

use super::call::{check_loaded, submit_call, write_call};
use super::channel::{ChannelVh, Done, Submit};
use super::request::{EmulatedRequest, What};
use super::slots::Slot;
use super::EmulatedProc;
use crate::args::{Args, KernelRet, Regs};
use crate::context::ContextState;
use crate::error::{Closable, Error, Result};
use crate::library::{Function, KernelLibrary, Loaded};
use crate::memory;
use crate::ptr::VePtr;
use crate::request::Request;
use crate::slot::KernelSlot;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use veo_urpc::proto::{self, Status};
use veo_urpc::{WaitPolicy, Wake};

type VhJob = (u64, Box<dyn FnOnce() -> u64 + Send>);

struct VhExecutor {
    tx: mpsc::Sender<VhJob>,
    thread: JoinHandle<()>,
}

/// A context on channel `ch` of `proc`.
pub(crate) struct EmulatedContext {
    pub(crate) proc: Arc<EmulatedProc>,
    pub(crate) ch: Arc<ChannelVh>,
    vh: Mutex<Option<VhExecutor>>,
    closed: AtomicBool,
}

impl EmulatedContext {
    /// Opens a context on a free slot of `proc`.
    pub(crate) fn open(proc: &Arc<EmulatedProc>) -> Result<EmulatedContext> {
        let ch = proc.open_channel()?;
        Ok(EmulatedContext {
            proc: proc.clone(),
            ch,
            vh: Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    /// A request of this context.
    #[inline]
    fn request<'a, R: KernelRet>(
        &'a self,
        reqid: u64,
        outs: Vec<&'a mut [u8]>,
        what: What<'static>,
    ) -> Request<'a, R> {
        Request::emulated(EmulatedRequest::new(&self.ch, reqid, outs, what))
    }

    /// The context's slot number in its proc.
    pub(crate) fn index(&self) -> usize {
        self.ch.index
    }

    /// Its channel and proc, for the requests kept by id (`queue.rs`).
    #[inline]
    pub(crate) fn parts(&self) -> (&Arc<ChannelVh>, &Arc<EmulatedProc>) {
        (&self.ch, &self.proc)
    }

    /// Whether it takes requests.
    pub(crate) fn state(&self) -> ContextState {
        if self.closed.load(Ordering::Acquire) || self.proc.life.is_closed() {
            ContextState::Closed
        } else if self.proc.life.is_dead() {
            ContextState::Dead
        } else {
            ContextState::Running
        }
    }

    #[inline]
    pub(crate) fn check(&self) -> Result<()> {
        self.proc.life.check()?;
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed(Closable::Context));
        }
        Ok(())
    }

    /// Queues a call of `f` (VEO's `veo_call_async`).
    pub(crate) fn call<'a, R: KernelRet>(
        &'a self,
        f: &Function,
        args: Args<'a>,
    ) -> Result<Request<'a, R>> {
        self.check()?;
        self.submit(f, &mut { args })
    }

    /// Queues a call of `f` with `args` by reference (`Context::call_with`).
    pub(crate) fn call_with<'a, R: KernelRet>(
        &'a self,
        f: &Function,
        args: &mut Args<'a>,
    ) -> Result<Request<'a, R>> {
        self.check()?;
        self.submit(f, args)
    }

    fn submit<'a, R: KernelRet>(
        &'a self,
        f: &Function,
        args: &mut Args<'a>,
    ) -> Result<Request<'a, R>> {
        f.check(self.proc.id)?;
        self.submit_at(f.addr, Some(&f.shared.loaded), args)
    }

    #[inline]
    fn submit_at<'a, R: KernelRet>(
        &'a self,
        addr: u64,
        loaded: Option<&Loaded>,
        args: &mut Args<'a>,
    ) -> Result<Request<'a, R>> {
        let (reqid, outs) =
            submit_call(&self.ch, addr, loaded, R::CLASS, args, self.proc.stack_size)?;
        Ok(self.request(reqid, outs, What::Call))
    }

    /// Queues a call of the function `name`, found in the proc's libraries
    /// (VEO's `veo_call_async_by_name`).
    pub(crate) fn call_by_name<'a, R: KernelRet>(
        &'a self,
        name: &str,
        args: Args<'a>,
    ) -> Result<Request<'a, R>> {
        let f = self.proc.get_function(name)?;
        self.call(&f, args)
    }

    /// Queues several calls with one wake-up of the VE worker.
    pub(crate) fn call_batch<'a, R: KernelRet>(
        &'a self,
        calls: impl IntoIterator<Item = (&'a Function, Args<'a>)>,
    ) -> Result<Vec<Request<'a, R>>> {
        self.check()?;
        let stack_max = self.proc.stack_size.min(usize::MAX as u64) as usize;
        let calls: Vec<(&Function, Args<'a>)> = calls.into_iter().collect();
        for (f, args) in &calls {
            f.check(self.proc.id)?;
            args.check(stack_max)?;
        }
        let mut s = self.ch.submit()?;
        for (f, _) in &calls {
            check_loaded(Some(&f.shared.loaded))?;
        }
        let mut reqs = Vec::with_capacity(calls.len());
        for (f, args) in calls {
            let reqid = s.next_reqid();
            write_call(&mut s, reqid, f.addr, R::CLASS, &args)?;
            let outs = args.outs.into_iter().map(|(_, b)| b).collect();
            reqs.push(self.request(reqid, outs, What::Call));
        }
        drop(s); // publishes once
        Ok(reqs)
    }

    /// Queues a call of the kernel `symbol` of `lib`: what `#[ve_kernel]`'s
    /// stubs call (through `__private::call_kernel`).
    #[inline]
    pub(crate) fn call_kernel<'a, R: KernelRet>(
        &'a self,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        args: &mut Args<'a>,
    ) -> Result<Request<'a, R>> {
        self.check()?;
        let addr = self.proc.kernel_addr(slot, lib, symbol)?;
        self.submit_at(addr, None, args)
    }

    /// [`call_kernel`](Self::call_kernel) for a stub whose arguments all
    /// travel in registers.
    #[inline]
    pub(crate) fn call_kernel_regs<'a, R: KernelRet, const N: usize>(
        &'a self,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        regs: &Regs<N>,
    ) -> Result<Request<'a, R>> {
        self.check()?;
        let addr = self.proc.kernel_addr(slot, lib, symbol)?;
        let reqid = super::call::submit_regs(&self.ch, addr, R::CLASS, regs)?;
        Ok(self.request(reqid, Vec::new(), What::Call))
    }

    /// Runs `f` on the VH when the queue reaches it: everything queued before
    /// has finished and nothing queued after starts until it returns (VEO's
    /// `veo_call_async_vh`). Its return value is the request's result.
    pub(crate) fn call_vh(
        &self,
        f: impl FnOnce() -> u64 + Send + 'static,
    ) -> Result<Request<'_, u64>> {
        self.check()?;
        let mut vh = self.vh.lock().unwrap_or_else(|e| e.into_inner());
        let exec = match vh.as_mut() {
            Some(e) => e,
            None => vh.insert(self.start_executor()?),
        };
        let mut s = self.ch.submit()?;
        let reqid = s.next_reqid();
        s.message(proto::KIND_GATE, reqid, 0, |_| {})?;
        // Hand the closure over before publishing, so the executor has it
        // when the worker reaches the gate.
        exec.tx
            .send((reqid, Box::new(f)))
            .map_err(|_| Error::Closed(Closable::Context))?;
        drop(s);
        Ok(self.request(reqid, Vec::new(), What::Other))
    }

    fn start_executor(&self) -> Result<VhExecutor> {
        let (tx, rx) = mpsc::channel::<VhJob>();
        let ch = self.ch.clone();
        let thread = std::thread::Builder::new()
            .name(format!("veo-vh-{}", ch.index))
            .spawn(move || {
                let g = ch.chan.get().header();
                for (reqid, f) in rx {
                    let wake = g.gate_reached_wake.wait(
                        &WaitPolicy::VH,
                        None,
                        || g.gate_reached.load(Ordering::Acquire) == reqid,
                        || ch.life.is_dead(),
                    );
                    if wake != Wake::Ready {
                        // The proc is gone; waiters get its error.
                        continue;
                    }
                    let done = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                        Ok(v) => Done::ok(v),
                        Err(_) => Done {
                            status: Some(Status::Invalid),
                            text: "the VH function panicked".into(),
                            ..Done::default()
                        },
                    };
                    ch.complete_locally(reqid, done);
                    g.gate_released.store(reqid, Ordering::Release);
                    g.gate_released_wake.notify();
                }
            })
            .map_err(|e| Error::io("cannot start the VH function thread", e))?;
        Ok(VhExecutor { tx, thread })
    }

    /// Queues a write of `src` to VE memory at `dst`; `src` is copied before
    /// this returns (VEO's `veo_async_write_mem`). When everything queued
    /// before has finished and `dst` is VE memory this process maps, that
    /// copy is the write itself, made here.
    pub(crate) fn write_async<T: bytemuck::Pod>(
        &self,
        dst: impl memory::AsVePtr<T>,
        src: &[T],
    ) -> Result<Request<'_, ()>> {
        self.check()?;
        memory::check_fits(&dst, src.len())?;
        let addr = dst.ve_ptr().addr();
        let bytes: &[u8] = bytemuck::cast_slice(src);
        let len = bytes.len() as u64;
        memory::check_range(addr, len)?;
        let mut s = self.ch.submit()?;
        if let Some(p) = self.here(&s, addr, bytes.len()) {
            let t0 = s.trace_clock();
            // SAFETY: `p..p + len` is our mapping of live VE memory
            // (`local_ve_memory`), which no Rust reference covers; `bytes`
            // is host memory.
            unsafe { veo_urpc::copy::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
            let reqid = s.finished_here(Done::ok(0));
            s.trace_here(reqid, proto::KIND_WRITE, len, t0);
            drop(s);
            return Ok(self.request(reqid, Vec::new(), What::Transfer { addr, len }));
        }
        let reqid = s.next_reqid();
        s.message(proto::KIND_WRITE, reqid, 16, |b| {
            proto::encode_words(b, &[addr, len])
        })?;
        s.data(reqid, 0, bytes)?;
        drop(s);
        Ok(self.request(reqid, Vec::new(), What::Transfer { addr, len }))
    }

    /// Queues a read of VE memory at `src` into `dst`; the bytes land in
    /// `dst` inside the request's `wait`/`peek` (VEO's `veo_async_read_mem`),
    /// or inside this call when everything queued before has finished and
    /// `src` is VE memory this process maps (one copy, in queue order). Never
    /// later: a forgotten request writes nothing.
    pub(crate) fn read_async<'a, T: bytemuck::Pod>(
        &'a self,
        dst: &'a mut [T],
        src: impl memory::AsVePtr<T>,
    ) -> Result<Request<'a, ()>> {
        self.check()?;
        memory::check_fits(&src, dst.len())?;
        let addr = src.ve_ptr().addr();
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(dst);
        let len = bytes.len() as u64;
        memory::check_range(addr, len)?;
        let mut s = self.ch.submit()?;
        if let Some(p) = self.here(&s, addr, bytes.len()) {
            let t0 = s.trace_clock();
            // SAFETY: as in `write_async`; `bytes` is borrowed mutably by
            // this call, so the bytes land while nothing else can see them
            // (a forgotten request writes nothing later).
            unsafe { veo_urpc::copy::copy_nonoverlapping(p, bytes.as_mut_ptr(), bytes.len()) };
            let reqid = s.finished_here(Done::ok(0));
            s.trace_here(reqid, proto::KIND_READ, len, t0);
            drop(s);
            return Ok(self.request(reqid, Vec::new(), What::Transfer { addr, len }));
        }
        drop(s);
        let reqid = self.ch.simple(proto::KIND_READ, &[addr, len], &[])?;
        Ok(self.request(reqid, vec![bytes], What::Transfer { addr, len }))
    }

    /// Where this thread can carry out a transfer of `[addr, addr + len)`
    /// at once: our mapping of that VE memory, when it is all live and
    /// every request queued before has finished (so that doing it now is
    /// doing it in queue order; `s` keeps later ones out meanwhile). One
    /// copy, and no wake-up of the helper.
    fn here(&self, s: &Submit<'_>, addr: u64, len: usize) -> Option<*mut u8> {
        let p = self.proc.local_ve_memory(addr, len)?;
        s.idle().then_some(p)
    }

    /// Queues an allocation of `bytes` of VE memory (VEO's `veo_alloc_mem_async`).
    pub(crate) fn alloc_async(&self, bytes: u64) -> Result<Request<'_, VePtr<u8>>> {
        self.check()?;
        let reqid = self.ch.simple(proto::KIND_ALLOC, &[bytes], &[])?;
        Ok(self.request(reqid, Vec::new(), What::Alloc))
    }

    /// Queues freeing memory from `alloc_mem`/`alloc_async` (VEO's `veo_free_mem_async`).
    pub(crate) fn free_async<T>(&self, ptr: VePtr<T>) -> Result<Request<'_, ()>> {
        self.check()?;
        let addr = ptr.addr();
        let reqid = self.ch.simple(proto::KIND_FREE, &[addr], &[])?;
        Ok(self.request(reqid, Vec::new(), What::Transfer { addr, len: 0 }))
    }

    /// Queues a copy of `count` elements inside VE memory.
    pub(crate) fn memcpy_async<T>(
        &self,
        dst: VePtr<T>,
        src: VePtr<T>,
        count: usize,
    ) -> Result<Request<'_, ()>> {
        self.check()?;
        let len = memory::byte_len(src, count)?;
        let reqid = self
            .ch
            .simple(proto::KIND_MEMCPY, &[dst.addr(), src.addr(), len], &[])?;
        Ok(self.request(
            reqid,
            Vec::new(),
            What::Transfer {
                addr: src.addr(),
                len,
            },
        ))
    }

    /// Returns when everything queued so far has been processed (VEO's
    /// `veo_context_sync`); results still wait for their requests.
    pub(crate) fn sync(&self) -> Result<()> {
        self.check()?;
        let reqid = self.ch.simple(proto::KIND_NOP, &[], &[])?;
        self.request::<()>(reqid, Vec::new(), What::Other).wait()
    }

    /// Closes the context after everything queued before has run
    /// (VEO's `veo_context_close`).
    pub(crate) fn close(self) -> Result<()> {
        self.close_inner(true)
    }

    fn close_inner(&self, wait: bool) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let exec = self.vh.lock().unwrap_or_else(|e| e.into_inner()).take();
        let alive = self.proc.life.check().is_ok();
        let mut result = Ok(());
        if alive {
            match self.ch.simple(proto::KIND_CLOSE, &[], &[]) {
                Ok(reqid) if wait => {
                    result = self
                        .request::<()>(reqid, Vec::new(), What::Other)
                        .wait()
                        .and_then(|()| {
                            self.proc
                                .control_op(
                                    proto::KIND_JOIN,
                                    &[self.ch.index as u64],
                                    &[],
                                    What::Other,
                                )
                                .map(|_| ())
                        });
                }
                Ok(reqid) => self.ch.abandon(reqid),
                Err(e) => result = Err(e),
            }
        }
        if let Some(e) = exec {
            drop(e.tx);
            // Its last closure may wait for kernels queued before it; a drop
            // must not wait with it (the thread ends once the worker reaches
            // that closure, or the proc ends).
            if wait {
                let _ = e.thread.join();
            }
        }
        let slot = if wait && result.is_ok() || !alive {
            Slot::Free
        } else {
            Slot::Closing
        };
        self.proc.slots.release(self.ch.index, slot);
        result
    }
}

impl Drop for EmulatedContext {
    fn drop(&mut self) {
        // Never block in drop on a kernel that may not return: the worker
        // stops after its queue, and the slot is reclaimed later. A fork()
        // child's copy leaves the context to its owner.
        if !self.proc.life.foreign() {
            let _ = self.close_inner(false);
        }
    }
}
