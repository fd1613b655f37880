//! Contexts: a worker on the VE with its own ordered queue.
//!
//! The public type; what a context is on each backend is in
//! `crate::backend` ([`ContextBackend`]).

use crate::args::{Args, KernelRet};
use crate::backend::ContextBackend;
use crate::emulated::channel::ChannelVh;
use crate::emulated::EmulatedProc;
use crate::error::Result;
use crate::library::Function;
use crate::memory;
use crate::ptr::VePtr;
use crate::request::Request;
use std::sync::Arc;

/// Whether a context takes requests (VEO's `veo_get_context_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextState {
    /// Open, its proc alive.
    Running,
    /// Closed, or its proc was dropped.
    Closed,
    /// Its proc's helper died.
    Dead,
}

/// A VE worker thread with its own command queue (py-veo's `VeoCtxt`).
///
/// Everything queued on one context runs in order. A context can be shared
/// between threads (`&Context` is `Send`); requests borrow it, so it cannot
/// be closed while one is pending.
///
/// ```
/// use veo_runtime::Proc;
///
/// # fn main() -> veo_runtime::Result<()> {
/// let proc = Proc::new(0)?;
/// let ctx = proc.open_context()?;
/// let buf = proc.alloc::<u64>(2)?;
/// let write = ctx.write_async(&buf, &[5, 6])?; // queued, in order
/// let mut back = [0u64; 2];
/// let read = ctx.read_async(&mut back, &buf)?;
/// write.wait()?;
/// read.wait()?;
/// assert_eq!(back, [5, 6]);
/// ctx.close()?;
/// # Ok(()) }
/// ```
pub struct Context {
    pub(crate) backend: ContextBackend,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("index", &self.index())
            .field("state", &self.state())
            .finish()
    }
}

impl Context {
    pub(crate) fn new(backend: ContextBackend) -> Context {
        Context { backend }
    }

    /// The context's slot number in its proc.
    pub fn index(&self) -> usize {
        self.backend.index()
    }

    /// Its channel and proc on the emulated VE, for the requests kept by
    /// id (`queue.rs`, which drives the emulated VE's channels itself).
    #[inline]
    pub(crate) fn parts(&self) -> Result<(&Arc<ChannelVh>, &Arc<EmulatedProc>)> {
        match &self.backend {
            ContextBackend::Emulated(c) => Ok(c.parts()),
            ContextBackend::Aveo(_) => Err(crate::aveo::wired::not_on_aveo()),
        }
    }

    /// Whether it takes requests.
    pub fn state(&self) -> ContextState {
        self.backend.state()
    }

    #[inline]
    pub(crate) fn check(&self) -> Result<()> {
        self.backend.check()
    }

    /// Queues a call of `f` (VEO's `veo_call_async`).
    pub fn call<'a, R: KernelRet>(
        &'a self,
        f: &Function,
        args: Args<'a>,
    ) -> Result<Request<'a, R>> {
        self.backend.call(f, args)
    }

    /// Queues a call of `f` with a list that stays the caller's: `args` is
    /// left [cleared](Args::clear), its memory kept, ready to be filled for
    /// the next call (also when the call fails). OUT and INOUT buffers stay
    /// borrowed by the request, as with [`call`](Self::call).
    ///
    /// ```no_run
    /// use veo_runtime::{Args, Proc};
    ///
    /// # fn main() -> veo_runtime::Result<()> {
    /// let proc = Proc::new(0)?;
    /// let ctx = proc.open_context()?;
    /// // double dot(const double *x, const double *y, int n)
    /// let dot = proc.load_library("./libkernels.so")?.function("dot")?;
    /// let mut args = Args::new();
    /// args.push(&[1.0f64, 2.0][..]).push(&[3.0f64, 4.0][..]).i32(2);
    /// let first = ctx.call_with::<f64>(&dot, &mut args)?;
    /// args.push(&[1.0f64; 3][..]).push(&[2.0f64; 3][..]).i32(3);
    /// let second = ctx.call_with::<f64>(&dot, &mut args)?;
    /// assert_eq!((first.wait()?, second.wait()?), (11.0, 6.0));
    /// # Ok(()) }
    /// ```
    pub fn call_with<'a, R: KernelRet>(
        &'a self,
        f: &Function,
        args: &mut Args<'a>,
    ) -> Result<Request<'a, R>> {
        let r = self.backend.call_with(f, args);
        args.clear();
        r
    }

    /// Queues a call of the function `name`, found in the proc's libraries
    /// (VEO's `veo_call_async_by_name`).
    pub fn call_by_name<'a, R: KernelRet>(
        &'a self,
        name: &str,
        args: Args<'a>,
    ) -> Result<Request<'a, R>> {
        self.backend.call_by_name(name, args)
    }

    /// Queues several calls with one wake-up of the VE worker.
    pub fn call_batch<'a, R: KernelRet>(
        &'a self,
        calls: impl IntoIterator<Item = (&'a Function, Args<'a>)>,
    ) -> Result<Vec<Request<'a, R>>> {
        self.backend.call_batch(calls)
    }

    /// Runs `f` on the VH when the queue reaches it: everything queued before
    /// has finished and nothing queued after starts until it returns (VEO's
    /// `veo_call_async_vh`). Its return value is the request's result.
    pub fn call_vh(&self, f: impl FnOnce() -> u64 + Send + 'static) -> Result<Request<'_, u64>> {
        self.backend.call_vh(f)
    }

    /// Queues a write of `src` to VE memory at `dst`; `src` is copied before
    /// this returns (VEO's `veo_async_write_mem`). When everything queued
    /// before has finished and `dst` is VE memory this process maps, that
    /// copy is the write itself, made here.
    pub fn write_async<T: bytemuck::Pod>(
        &self,
        dst: impl memory::AsVePtr<T>,
        src: &[T],
    ) -> Result<Request<'_, ()>> {
        self.backend.write_async(dst, src)
    }

    /// Queues a read of VE memory at `src` into `dst`; the bytes land in
    /// `dst` inside the request's `wait`/`peek` (VEO's `veo_async_read_mem`),
    /// or inside this call when everything queued before has finished and
    /// `src` is VE memory this process maps (one copy, in queue order). Never
    /// later: a forgotten request writes nothing.
    pub fn read_async<'a, T: bytemuck::Pod>(
        &'a self,
        dst: &'a mut [T],
        src: impl memory::AsVePtr<T>,
    ) -> Result<Request<'a, ()>> {
        self.backend.read_async(dst, src)
    }

    /// Queues an allocation of `bytes` of VE memory (VEO's `veo_alloc_mem_async`).
    pub fn alloc_async(&self, bytes: u64) -> Result<Request<'_, VePtr<u8>>> {
        self.backend.alloc_async(bytes)
    }

    /// Queues freeing memory from `alloc_mem`/`alloc_async` (VEO's `veo_free_mem_async`).
    pub fn free_async<T>(&self, ptr: VePtr<T>) -> Result<Request<'_, ()>> {
        self.backend.free_async(ptr)
    }

    /// Queues a copy of `count` elements inside VE memory.
    pub fn memcpy_async<T>(
        &self,
        dst: VePtr<T>,
        src: VePtr<T>,
        count: usize,
    ) -> Result<Request<'_, ()>> {
        self.backend.memcpy_async(dst, src, count)
    }

    /// Returns when everything queued so far has been processed (VEO's
    /// `veo_context_sync`); results still wait for their requests.
    pub fn sync(&self) -> Result<()> {
        self.backend.sync()
    }

    /// Closes the context after everything queued before has run
    /// (VEO's `veo_context_close`). Dropping it closes it without waiting.
    pub fn close(self) -> Result<()> {
        self.backend.close()
    }
}
