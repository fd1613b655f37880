//! The AVEO backend under the public types: what `crate::backend`'s
//! `Aveo` arms call, in the terms of [`Proc`](crate::Proc),
//! [`Context`](crate::Context) and [`Request`](crate::Request)
//! (functions, typed pointers, public requests), over
//! [`AveoProc`]/[`AveoContext`]/[`RequestState`].

use super::context::AveoContext;
use super::proc::{AveoProc, ProcInner};
use super::request::AveoRequest;
use crate::args::{Args, KernelRet, Regs};
use crate::backend::RequestBackend;
use crate::error::{Closable, Result};
use crate::library::{Function, KernelLibrary};
use crate::memory::{self, AsVePtr};
use crate::ptr::VePtr;
use crate::request::Request;
use crate::slot::KernelSlot;
use std::sync::Arc;

/// The error of what only the emulated VE has: the requests kept by id of
/// `RequestQueue`/`ContextList` (the Rust items under veo-rs's own C API,
/// which is AVEO's API already).
#[cold]
pub(crate) fn not_on_aveo() -> crate::Error {
    crate::Error::InvalidArgument(
        "requests kept by id (RequestQueue, ContextList, call_sync_list) run on the emulated VE only; on AVEO use Context and Request, or AVEO's C API itself".into(),
    )
}

/// A public request holding an AVEO request, whose raw result it decodes as `T`.
fn public<'a, T: KernelRet, U: KernelRet>(r: AveoRequest<'a, U>) -> Request<'a, T> {
    Request::new(RequestBackend::Aveo(r.into_state()))
}

impl ProcInner {
    fn proc(self: &Arc<Self>) -> AveoProc {
        AveoProc {
            inner: self.clone(),
        }
    }

    /// The VE node, as the public types number it.
    pub(crate) fn node_number(&self) -> u32 {
        u32::try_from(self.node()).unwrap_or(0)
    }

    /// What runs the VE side: the static helper, or AVEO's own.
    pub(crate) fn helper(&self) -> &str {
        &self.helper
    }

    /// Calls `f` on the main context's queue and waits (`veo_call_sync`).
    pub(crate) fn call_sync<R: KernelRet>(
        self: &Arc<Self>,
        f: &Function,
        args: &mut Args<'_>,
    ) -> Result<R> {
        self.check()?;
        f.check(self.id)?;
        self.proc().call_sync(f.addr, std::mem::take(args))
    }

    /// A `_sync` stub: the kernel `symbol` of `lib`, called and waited for.
    pub(crate) fn call_kernel_sync<R: KernelRet>(
        self: &Arc<Self>,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        args: &mut Args<'_>,
    ) -> Result<R> {
        self.check()?;
        let addr = self.kernel_addr(slot, lib, symbol)?;
        self.proc().call_sync(addr, std::mem::take(args))
    }

    /// A `_sync` stub whose arguments all travel in registers: the kernel
    /// `symbol` of `lib`, called with `regs` and waited for.
    #[inline]
    pub(crate) fn call_kernel_sync_regs<R: KernelRet, const N: usize>(
        self: &Arc<Self>,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        regs: &Regs<N>,
    ) -> Result<R> {
        self.check()?;
        let addr = self.kernel_addr(slot, lib, symbol)?;
        self.call_sync_registers(addr, &regs.classes, &regs.values)
    }

    pub(crate) fn alloc_mem(self: &Arc<Self>, bytes: u64) -> Result<VePtr<u8>> {
        self.check()?;
        self.proc().alloc(bytes).map(VePtr::new)
    }

    pub(crate) fn free_mem(self: &Arc<Self>, ptr: VePtr<u8>) -> Result<()> {
        self.check()?;
        self.proc().free(ptr.addr())
    }

    pub(crate) fn write_bytes(self: &Arc<Self>, addr: u64, src: &[u8]) -> Result<()> {
        self.check()?;
        memory::check_range(addr, src.len() as u64)?;
        self.proc().write(addr, src)
    }

    pub(crate) fn read_bytes(self: &Arc<Self>, dst: &mut [u8], addr: u64) -> Result<()> {
        self.check()?;
        memory::check_range(addr, dst.len() as u64)?;
        self.proc().read(dst, addr)
    }

    pub(crate) fn memcpy(self: &Arc<Self>, dst: u64, src: u64, len: u64) -> Result<()> {
        self.check()?;
        self.proc().memcpy(dst, src, len)
    }

    /// The open contexts' indices.
    pub(crate) fn context_indices(&self) -> Vec<usize> {
        self.lock_contexts().indices.iter().copied().collect()
    }

    pub(crate) fn num_contexts(&self) -> usize {
        self.lock_contexts().open
    }

    /// Opens a context.
    pub(crate) fn open_context(self: &Arc<Self>) -> Result<AveoContext> {
        self.check()?;
        AveoContext::open(self.clone())
    }
}

impl AveoContext {
    /// An error unless the context (and its proc) takes requests, as far
    /// as this program knows: closed, or its VE process known to have
    /// exited. libveo is not asked (`veo_get_context_state` on every
    /// submit was a tenth of a call's cost); a request it refuses because
    /// the process has exited since gets the same error
    /// (`AveoContext::refused`, `context.rs`).
    #[inline]
    pub(crate) fn check_open(&self) -> Result<()> {
        self.proc.check()?;
        if self.is_closed() {
            return Err(crate::Error::Closed(Closable::Context));
        }
        if self.proc.dead.load(std::sync::atomic::Ordering::Acquire) {
            return Err(super::context::exited());
        }
        Ok(())
    }

    /// Queues a call of `f`.
    pub(crate) fn call_fn<'a, R: KernelRet>(
        &'a self,
        f: &Function,
        args: Args<'a>,
    ) -> Result<Request<'a, R>> {
        self.check_open()?;
        f.check(self.proc.id)?;
        self.call::<R>(f.addr, args).map(public)
    }

    /// Queues a call of the function `name` of the proc's libraries.
    pub(crate) fn call_by_name<'a, R: KernelRet>(
        &'a self,
        name: &str,
        args: Args<'a>,
    ) -> Result<Request<'a, R>> {
        let f = self.proc.get_function(name)?;
        self.call_fn(&f, args)
    }

    /// Queues several calls.
    pub(crate) fn call_batch<'a, R: KernelRet>(
        &'a self,
        calls: impl IntoIterator<Item = (&'a Function, Args<'a>)>,
    ) -> Result<Vec<Request<'a, R>>> {
        let calls: Vec<(&Function, Args<'a>)> = calls.into_iter().collect();
        for (f, args) in &calls {
            f.check(self.proc.id)?;
            args.check(self.proc.stack_limit())?;
        }
        calls
            .into_iter()
            .map(|(f, args)| self.call_fn(f, args))
            .collect()
    }

    /// An async stub: the kernel `symbol` of `lib`.
    pub(crate) fn call_kernel<'a, R: KernelRet>(
        &'a self,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        args: &mut Args<'a>,
    ) -> Result<Request<'a, R>> {
        self.check_open()?;
        let addr = self.proc.kernel_addr(slot, lib, symbol)?;
        self.call::<R>(addr, std::mem::take(args)).map(public)
    }

    /// An async stub whose arguments all travel in registers: `regs`
    /// are set in the proc's kept list by position, only those that
    /// changed since its last call (no `Args` is built).
    #[inline]
    pub(crate) fn call_kernel_regs<'a, R: KernelRet, const N: usize>(
        &'a self,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        regs: &Regs<N>,
    ) -> Result<Request<'a, R>> {
        self.check_submit()?;
        let addr = self.proc.kernel_addr(slot, lib, symbol)?;
        let state = self.call_registers::<R, N>(addr, &regs.classes, &regs.values)?;
        Ok(Request::new(RequestBackend::Aveo(state)))
    }

    pub(crate) fn call_vh_request(
        &self,
        f: impl FnOnce() -> u64 + Send + 'static,
    ) -> Result<Request<'_, u64>> {
        self.check_open()?;
        self.call_vh(f).map(public)
    }

    pub(crate) fn write_async_request<T: bytemuck::Pod>(
        &self,
        dst: impl AsVePtr<T>,
        src: &[T],
    ) -> Result<Request<'_, ()>> {
        self.check_open()?;
        memory::check_fits(&dst, src.len())?;
        let addr = dst.ve_ptr().addr();
        let bytes: &[u8] = bytemuck::cast_slice(src);
        memory::check_range(addr, bytes.len() as u64)?;
        self.write_async(addr, bytes).map(public)
    }

    pub(crate) fn read_async_request<'a, T: bytemuck::Pod>(
        &'a self,
        dst: &'a mut [T],
        src: impl AsVePtr<T>,
    ) -> Result<Request<'a, ()>> {
        self.check_open()?;
        memory::check_fits(&src, dst.len())?;
        let addr = src.ve_ptr().addr();
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(dst);
        memory::check_range(addr, bytes.len() as u64)?;
        self.read_async(bytes, addr).map(public)
    }

    pub(crate) fn alloc_async_request(&self, bytes: u64) -> Result<Request<'_, VePtr<u8>>> {
        self.check_open()?;
        self.alloc_async(bytes).map(public)
    }

    pub(crate) fn free_async_request<T>(&self, ptr: VePtr<T>) -> Result<Request<'_, ()>> {
        self.check_open()?;
        self.free_async(ptr.addr()).map(public)
    }

    pub(crate) fn memcpy_async_request<T>(
        &self,
        dst: VePtr<T>,
        src: VePtr<T>,
        count: usize,
    ) -> Result<Request<'_, ()>> {
        self.check_open()?;
        let len = memory::byte_len(src, count)?;
        self.memcpy_async(dst.addr(), src.addr(), len).map(public)
    }

    pub(crate) fn sync_queue(&self) -> Result<()> {
        self.check_open()?;
        self.sync()
    }
}
