//! The backend seam: what [`Proc`](crate::Proc), [`Context`](crate::Context)
//! and [`Request`](crate::Request) (and through them
//! [`Library`](crate::Library), [`Function`](crate::Function) and
//! [`VeBuffer`](crate::VeBuffer)) run on.
//!
//! One enum per level, one variant per backend, and one `match` per
//! operation here: the public types hold these enums and never look at a
//! backend's internals, and a backend never sees the public types' rules
//! (argument checks, memory hooks, the borrow of OUT buffers). No trait
//! objects: a call costs one predictable branch.
//!
//! - [`ProcBackend`]: a proc (strong; `Proc`, `VeBuffer` and the C API's
//!   handles hold it), [`WeakProcBackend`] for a `Library` and `WeakProc`.
//! - [`ContextBackend`]: a context; its requests borrow it.
//! - [`RequestBackend`]: a pending request. It holds the request's borrowed
//!   OUT/INOUT buffers (and an async read's destination) and writes into
//!   them only inside `Request::wait`/`peek`/`poll`, that is inside its own
//!   `wait`/`peek`/`poll` below; a backend whose library writes results back
//!   on its own time gives that library buffers of its own and copies there.
//!   So forgetting a request (`mem::forget`) never writes into the program's
//!   memory, whatever the backend.
//!
//! Backends: `Emulated` (`crate::emulated`: the helper process over the
//! shared-memory transport). The AVEO backend (`crate::aveo`) is to be
//! added as a second variant of each enum, with one arm per operation.

use crate::args::{Args, KernelRet, Regs};
use crate::aveo::context::AveoContext;
use crate::aveo::proc::ProcInner as AveoProcInner;
use crate::aveo::request::RequestState as AveoRequestState;
use crate::context::ContextState;
use crate::deadline::Deadline;
use crate::emulated::context::EmulatedContext;
use crate::emulated::request::EmulatedRequest;
use crate::emulated::EmulatedProc;
use crate::error::Result;
use crate::library::{Function, KernelLibrary, Library};
use crate::memory::AsVePtr;
use crate::ptr::VePtr;
use crate::request::Request;
use crate::slot::KernelSlot;
use crate::trace::Trace;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::task::Waker;

/// The error of a proc asked for on the emulated VE in a build without it.
pub(crate) fn no_emulator() -> crate::Error {
    crate::Error::NotCompiledIn {
        backend: "emulated VE",
        feature: "emulator",
    }
}

/// A new proc's [`ProcBackend::id`]: one counter for every backend, so
/// that a function or a stub's slot of one proc is never taken for another's.
pub(crate) fn next_proc_id() -> u64 {
    static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A proc of one backend.
#[derive(Clone)]
pub(crate) enum ProcBackend {
    Emulated(Arc<EmulatedProc>),
    Aveo(Arc<AveoProcInner>),
}

/// A proc that may have ended, for what must not keep it (libraries).
#[derive(Clone)]
pub(crate) enum WeakProcBackend {
    Emulated(Weak<EmulatedProc>),
    Aveo(Weak<AveoProcInner>),
}

impl WeakProcBackend {
    pub(crate) fn upgrade(&self) -> Option<ProcBackend> {
        match self {
            WeakProcBackend::Emulated(p) => p.upgrade().map(ProcBackend::Emulated),
            WeakProcBackend::Aveo(p) => p.upgrade().map(ProcBackend::Aveo),
        }
    }

    /// Whether this names `proc`.
    pub(crate) fn is(&self, proc: &ProcBackend) -> bool {
        match (self, proc) {
            (WeakProcBackend::Emulated(w), ProcBackend::Emulated(p)) => {
                std::ptr::eq(w.as_ptr(), Arc::as_ptr(p))
            }
            (WeakProcBackend::Aveo(w), ProcBackend::Aveo(p)) => {
                std::ptr::eq(w.as_ptr(), Arc::as_ptr(p))
            }
            _ => false,
        }
    }
}

impl ProcBackend {
    /// Starts a proc on VE node `node` with the builder's settings.
    ///
    /// The backend is the builder's, else `VEO_BACKEND`'s, else AVEO when
    /// its library loads and the host has a VE device, else the emulated VE
    /// (`crate::aveo::select`).
    pub(crate) fn start(b: &crate::ProcBuilder, node: u32) -> Result<ProcBackend> {
        use crate::aveo::select::{choose, open_shared, BackendChoice, Chosen};
        let choice = match b.backend {
            Some(c) => c,
            None => BackendChoice::from_env()?.unwrap_or_default(),
        };
        let chosen = match choose(Some(choice), b.libveo.as_deref(), Path::new("/dev"))? {
            // A build for hardware only: automatic is AVEO whenever its
            // library loads.
            Chosen::Emulated if !cfg!(feature = "emulator") => match choice {
                BackendChoice::Auto => open_shared(b.libveo.as_deref())
                    .map(Chosen::Aveo)
                    .map_err(|_| no_emulator())?,
                _ => return Err(no_emulator()),
            },
            chosen => chosen,
        };
        match chosen {
            Chosen::Emulated => EmulatedProc::start(b, node).map(ProcBackend::Emulated),
            Chosen::Aveo(lib) => {
                let node = i32::try_from(node).map_err(|_| {
                    crate::Error::InvalidArgument(format!("VE node {node} is out of range"))
                })?;
                let p = crate::aveo::proc::AveoProc::open(lib, node, b.static_helper.as_deref())?;
                p.set_stack_limit(b.stack_size);
                // Asked now: the process id stays known after a close.
                p.inner.pid();
                Ok(ProcBackend::Aveo(p.inner))
            }
        }
    }

    /// Which backend this is.
    pub(crate) fn backend(&self) -> crate::Backend {
        match self {
            ProcBackend::Emulated(_) => crate::Backend::Emulated,
            ProcBackend::Aveo(p) => crate::Backend::of(&p.lib),
        }
    }

    pub(crate) fn downgrade(&self) -> WeakProcBackend {
        match self {
            ProcBackend::Emulated(p) => WeakProcBackend::Emulated(Arc::downgrade(p)),
            ProcBackend::Aveo(p) => WeakProcBackend::Aveo(Arc::downgrade(p)),
        }
    }

    /// Unique in this program: what functions and stubs' slots are checked against.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        match self {
            ProcBackend::Emulated(p) => p.id,
            ProcBackend::Aveo(p) => p.id,
        }
    }

    pub(crate) fn node(&self) -> u32 {
        match self {
            ProcBackend::Emulated(p) => p.node,
            ProcBackend::Aveo(p) => p.node_number(),
        }
    }

    /// The process that runs the VE side.
    pub(crate) fn pid(&self) -> u32 {
        match self {
            ProcBackend::Emulated(p) => p.life.pid,
            ProcBackend::Aveo(p) => p.pid(),
        }
    }

    /// The VE side's program.
    pub(crate) fn helper(&self) -> &str {
        match self {
            ProcBackend::Emulated(p) => &p.helper,
            ProcBackend::Aveo(p) => p.helper(),
        }
    }

    pub(crate) fn is_dead(&self) -> bool {
        match self {
            ProcBackend::Emulated(p) => p.life.is_dead(),
            ProcBackend::Aveo(p) => p.is_dead(),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            ProcBackend::Emulated(p) => p.life.is_closed(),
            ProcBackend::Aveo(p) => p.check().is_err(),
        }
    }

    pub(crate) fn huge_pages(&self) -> bool {
        match self {
            ProcBackend::Emulated(p) => p.seg.huge_pages(),
            // AVEO's transfer buffers are huge pages, or there is no proc.
            ProcBackend::Aveo(_) => true,
        }
    }

    /// The proc's trace, when it is traced.
    pub(crate) fn trace(&self) -> Option<&Trace> {
        match self {
            ProcBackend::Emulated(p) => p.life.trace.get(),
            ProcBackend::Aveo(_) => None,
        }
    }

    /// Ends the VE side now (bounded), for every handle.
    pub(crate) fn close(&self) {
        match self {
            ProcBackend::Emulated(p) => {
                p.shutdown();
                p.join_monitor(crate::emulated::launch::KILLED_WAIT);
            }
            ProcBackend::Aveo(p) => p.close(),
        }
    }

    pub(crate) fn open_context(&self) -> Result<ContextBackend> {
        match self {
            ProcBackend::Emulated(p) => EmulatedContext::open(p).map(ContextBackend::Emulated),
            ProcBackend::Aveo(p) => p.open_context().map(ContextBackend::Aveo),
        }
    }

    pub(crate) fn num_contexts(&self) -> usize {
        match self {
            ProcBackend::Emulated(p) => p.slots.open_count(),
            ProcBackend::Aveo(p) => p.num_contexts(),
        }
    }

    pub(crate) fn contexts(&self) -> Vec<usize> {
        match self {
            ProcBackend::Emulated(p) => p.slots.open(),
            ProcBackend::Aveo(p) => p.context_indices(),
        }
    }

    pub(crate) fn load_library(&self, path: &Path) -> Result<Library> {
        match self {
            ProcBackend::Emulated(p) => p.load_library(path),
            ProcBackend::Aveo(p) => p.load_library(path),
        }
    }

    pub(crate) fn static_library(&self) -> Result<Library> {
        match self {
            ProcBackend::Emulated(p) => p.static_library(),
            ProcBackend::Aveo(p) => p.static_library(),
        }
    }

    pub(crate) fn libraries(&self) -> Vec<Library> {
        match self {
            ProcBackend::Emulated(p) => p.registry.libraries(),
            ProcBackend::Aveo(p) => p.registry.libraries(),
        }
    }

    pub(crate) fn get_function(&self, name: &str) -> Result<Function> {
        match self {
            ProcBackend::Emulated(p) => p.get_function(name),
            ProcBackend::Aveo(p) => p.get_function(name),
        }
    }

    /// The address of `name` in the library `handle` (named `library`).
    pub(crate) fn symbol(&self, handle: u64, library: &str, name: &str) -> Result<u64> {
        match self {
            ProcBackend::Emulated(p) => p.symbol(handle, library, name),
            ProcBackend::Aveo(p) => p.symbol(handle, library, name),
        }
    }

    /// Unloads `lib`, whose flag was cleared.
    pub(crate) fn unload(&self, lib: &Library) -> Result<()> {
        match self {
            ProcBackend::Emulated(p) => p.unload(lib),
            ProcBackend::Aveo(p) => p.unload(lib),
        }
    }

    /// The kernel `symbol` of `lib`, loading the library on first use.
    pub(crate) fn kernel(&self, lib: &KernelLibrary, symbol: &str) -> Result<Function> {
        match self {
            ProcBackend::Emulated(p) => p.kernel(lib, symbol),
            ProcBackend::Aveo(p) => p.kernel(lib, symbol),
        }
    }

    /// Calls `f` without a context and waits.
    pub(crate) fn call_sync<R: KernelRet>(&self, f: &Function, args: &mut Args<'_>) -> Result<R> {
        match self {
            ProcBackend::Emulated(p) => p.call_sync(f, args),
            ProcBackend::Aveo(p) => p.call_sync(f, args),
        }
    }

    /// Calls the kernel `symbol` of `lib` without a context and waits (a
    /// `_sync` stub); `slot` is the stub's cache of the kernel's address.
    #[inline]
    pub(crate) fn call_kernel_sync<R: KernelRet>(
        &self,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        args: &mut Args<'_>,
    ) -> Result<R> {
        match self {
            ProcBackend::Emulated(p) => {
                let addr = p.kernel_addr(slot, lib, symbol)?;
                p.call_sync_at(addr, None, args)
            }
            ProcBackend::Aveo(p) => p.call_kernel_sync(slot, lib, symbol, args),
        }
    }

    /// [`call_kernel_sync`](Self::call_kernel_sync) for a stub whose
    /// arguments all travel in registers.
    #[inline]
    pub(crate) fn call_kernel_sync_regs<R: KernelRet, const N: usize>(
        &self,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        regs: &Regs<N>,
    ) -> Result<R> {
        match self {
            ProcBackend::Emulated(p) => {
                let addr = p.kernel_addr(slot, lib, symbol)?;
                p.call_sync_regs(addr, regs)
            }
            ProcBackend::Aveo(p) => p.call_kernel_sync_regs(slot, lib, symbol, regs),
        }
    }

    pub(crate) fn alloc_mem(&self, bytes: u64) -> Result<VePtr<u8>> {
        match self {
            ProcBackend::Emulated(p) => p.alloc_mem(bytes),
            ProcBackend::Aveo(p) => p.alloc_mem(bytes),
        }
    }

    pub(crate) fn free_mem(&self, ptr: VePtr<u8>) -> Result<()> {
        match self {
            ProcBackend::Emulated(p) => p.free_mem(ptr),
            ProcBackend::Aveo(p) => p.free_mem(ptr),
        }
    }

    pub(crate) fn write_bytes(&self, addr: u64, src: &[u8]) -> Result<()> {
        match self {
            ProcBackend::Emulated(p) => p.write_bytes(addr, src),
            ProcBackend::Aveo(p) => p.write_bytes(addr, src),
        }
    }

    pub(crate) fn read_bytes(&self, dst: &mut [u8], addr: u64) -> Result<()> {
        match self {
            ProcBackend::Emulated(p) => p.read_bytes(dst, addr),
            ProcBackend::Aveo(p) => p.read_bytes(dst, addr),
        }
    }

    /// Copies `len` bytes inside VE memory.
    pub(crate) fn memcpy(&self, dst: u64, src: u64, len: u64) -> Result<()> {
        match self {
            ProcBackend::Emulated(p) => p.memcpy(dst, src, len),
            ProcBackend::Aveo(p) => p.memcpy(dst, src, len),
        }
    }
}

/// A context of one backend.
pub(crate) enum ContextBackend {
    Emulated(EmulatedContext),
    Aveo(AveoContext),
}

impl ContextBackend {
    pub(crate) fn index(&self) -> usize {
        match self {
            ContextBackend::Emulated(c) => c.index(),
            ContextBackend::Aveo(c) => c.index(),
        }
    }

    pub(crate) fn state(&self) -> ContextState {
        match self {
            ContextBackend::Emulated(c) => c.state(),
            ContextBackend::Aveo(c) => c.state(),
        }
    }

    /// An error unless the context takes requests.
    #[inline]
    pub(crate) fn check(&self) -> Result<()> {
        match self {
            ContextBackend::Emulated(c) => c.check(),
            ContextBackend::Aveo(c) => c.check_open(),
        }
    }

    pub(crate) fn call<'a, R: KernelRet>(
        &'a self,
        f: &Function,
        args: Args<'a>,
    ) -> Result<Request<'a, R>> {
        match self {
            ContextBackend::Emulated(c) => c.call(f, args),
            ContextBackend::Aveo(c) => c.call_fn(f, args),
        }
    }

    /// Queues a call of `f` with `args` by reference; what the list keeps
    /// afterwards is the caller's to clear.
    pub(crate) fn call_with<'a, R: KernelRet>(
        &'a self,
        f: &Function,
        args: &mut Args<'a>,
    ) -> Result<Request<'a, R>> {
        match self {
            ContextBackend::Emulated(c) => c.call_with(f, args),
            // The AVEO backend marshals the list into libveo's own at every
            // call: it takes it, and the caller's starts anew.
            ContextBackend::Aveo(c) => c.call_fn(f, std::mem::take(args)),
        }
    }

    pub(crate) fn call_by_name<'a, R: KernelRet>(
        &'a self,
        name: &str,
        args: Args<'a>,
    ) -> Result<Request<'a, R>> {
        match self {
            ContextBackend::Emulated(c) => c.call_by_name(name, args),
            ContextBackend::Aveo(c) => c.call_by_name(name, args),
        }
    }

    pub(crate) fn call_batch<'a, R: KernelRet>(
        &'a self,
        calls: impl IntoIterator<Item = (&'a Function, Args<'a>)>,
    ) -> Result<Vec<Request<'a, R>>> {
        match self {
            ContextBackend::Emulated(c) => c.call_batch(calls),
            ContextBackend::Aveo(c) => c.call_batch(calls),
        }
    }

    /// Queues a call of the kernel `symbol` of `lib` (an async stub).
    #[inline]
    pub(crate) fn call_kernel<'a, R: KernelRet>(
        &'a self,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        args: &mut Args<'a>,
    ) -> Result<Request<'a, R>> {
        match self {
            ContextBackend::Emulated(c) => c.call_kernel(slot, lib, symbol, args),
            ContextBackend::Aveo(c) => c.call_kernel(slot, lib, symbol, args),
        }
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
        match self {
            ContextBackend::Emulated(c) => c.call_kernel_regs(slot, lib, symbol, regs),
            ContextBackend::Aveo(c) => c.call_kernel_regs(slot, lib, symbol, regs),
        }
    }

    pub(crate) fn call_vh(
        &self,
        f: impl FnOnce() -> u64 + Send + 'static,
    ) -> Result<Request<'_, u64>> {
        match self {
            ContextBackend::Emulated(c) => c.call_vh(f),
            ContextBackend::Aveo(c) => c.call_vh_request(f),
        }
    }

    pub(crate) fn write_async<T: bytemuck::Pod>(
        &self,
        dst: impl AsVePtr<T>,
        src: &[T],
    ) -> Result<Request<'_, ()>> {
        match self {
            ContextBackend::Emulated(c) => c.write_async(dst, src),
            ContextBackend::Aveo(c) => c.write_async_request(dst, src),
        }
    }

    pub(crate) fn read_async<'a, T: bytemuck::Pod>(
        &'a self,
        dst: &'a mut [T],
        src: impl AsVePtr<T>,
    ) -> Result<Request<'a, ()>> {
        match self {
            ContextBackend::Emulated(c) => c.read_async(dst, src),
            ContextBackend::Aveo(c) => c.read_async_request(dst, src),
        }
    }

    pub(crate) fn alloc_async(&self, bytes: u64) -> Result<Request<'_, VePtr<u8>>> {
        match self {
            ContextBackend::Emulated(c) => c.alloc_async(bytes),
            ContextBackend::Aveo(c) => c.alloc_async_request(bytes),
        }
    }

    pub(crate) fn free_async<T>(&self, ptr: VePtr<T>) -> Result<Request<'_, ()>> {
        match self {
            ContextBackend::Emulated(c) => c.free_async(ptr),
            ContextBackend::Aveo(c) => c.free_async_request(ptr),
        }
    }

    pub(crate) fn memcpy_async<T>(
        &self,
        dst: VePtr<T>,
        src: VePtr<T>,
        count: usize,
    ) -> Result<Request<'_, ()>> {
        match self {
            ContextBackend::Emulated(c) => c.memcpy_async(dst, src, count),
            ContextBackend::Aveo(c) => c.memcpy_async_request(dst, src, count),
        }
    }

    pub(crate) fn sync(&self) -> Result<()> {
        match self {
            ContextBackend::Emulated(c) => c.sync(),
            ContextBackend::Aveo(c) => c.sync_queue(),
        }
    }

    /// Closes the context after everything queued before has run. (A
    /// drop closes without waiting: each backend's own `Drop`.)
    pub(crate) fn close(self) -> Result<()> {
        match self {
            ContextBackend::Emulated(c) => c.close(),
            ContextBackend::Aveo(c) => c.close(),
        }
    }
}

/// A pending request of one backend (see the module documentation for
/// where its answer bytes may land).
pub(crate) enum RequestBackend<'a> {
    Emulated(EmulatedRequest<'a>),
    Aveo(AveoRequestState<'a>),
}

impl<'a> RequestBackend<'a> {
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        match self {
            RequestBackend::Emulated(r) => r.id(),
            RequestBackend::Aveo(r) => r.id(),
        }
    }

    /// The context's index (for `Debug`).
    pub(crate) fn index(&self) -> usize {
        match self {
            RequestBackend::Emulated(r) => r.index(),
            RequestBackend::Aveo(r) => r.index(),
        }
    }

    /// Waits for the answer until `deadline` (`Error::Timeout` past it),
    /// placing its bytes in the request's buffers and decoding its value as
    /// `T`; sets `taken` once the answer is consumed
    /// (whatever its status): the request then has nothing left to abandon.
    #[inline]
    pub(crate) fn wait<T: KernelRet>(
        &mut self,
        deadline: Option<Deadline>,
        taken: &mut bool,
    ) -> Result<T> {
        match self {
            RequestBackend::Emulated(r) => r.wait(deadline, taken),
            RequestBackend::Aveo(r) => r.wait(deadline, taken),
        }
    }

    /// The answer if it is there (`None`: still running), as `wait`.
    #[inline]
    pub(crate) fn peek<T: KernelRet>(&mut self, taken: &mut bool) -> Result<Option<T>> {
        match self {
            RequestBackend::Emulated(r) => r.peek(taken),
            RequestBackend::Aveo(r) => r.peek(taken),
        }
    }

    /// `peek` for a future: on `None`, `waker` is woken when the answer
    /// may be there.
    pub(crate) fn poll<T: KernelRet>(
        &mut self,
        waker: &Waker,
        taken: &mut bool,
    ) -> Result<Option<T>> {
        match self {
            RequestBackend::Emulated(r) => r.poll(waker, taken),
            RequestBackend::Aveo(r) => r.poll(waker, taken),
        }
    }

    /// Its future is dropped while pending.
    pub(crate) fn forget_waker(&self) {
        match self {
            RequestBackend::Emulated(r) => r.forget_waker(),
            RequestBackend::Aveo(r) => r.forget_waker(),
        }
    }

    /// Dropped before its answer was taken: the answer is discarded.
    pub(crate) fn abandon(&mut self) {
        match self {
            RequestBackend::Emulated(r) => r.abandon(),
            RequestBackend::Aveo(r) => r.abandon(),
        }
    }
}
