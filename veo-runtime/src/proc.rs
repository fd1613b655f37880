//! Procs: one VE process each (on the emulated VE, a helper process).
//!
//! The public type and its builder; what a proc is on each backend is in
//! `crate::backend` ([`ProcBackend`]).

use crate::args::{Args, KernelRet};
use crate::backend::{ProcBackend, WeakProcBackend};
use crate::context::Context;
use crate::emulated::EmulatedProc;
use crate::error::{shown, Error, Result};
use crate::library::{Function, KernelLibrary, Library};
use crate::memory::{self, AsVePtr, VeBuffer};
use crate::ptr::VePtr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The most contexts a proc can have open at once.
pub const MAX_CONTEXTS: usize = 64;

/// The VE nodes the emulated VE offers: 0 to `VE_NODES - 1`.
pub const VE_NODES: u32 = 8;

/// OpenMP threads of a helper when neither [`ProcBuilder::omp_threads`]
/// nor `VE_OMP_NUM_THREADS` says: a VE core group, as on a VE.
pub const DEFAULT_OMP_THREADS: u32 = 8;

/// Builds a [`Proc`] with non-default settings.
#[derive(Clone, Debug)]
pub struct ProcBuilder {
    pub(crate) node: Option<u32>,
    pub(crate) core: Option<u32>,
    pub(crate) helper: Option<PathBuf>,
    pub(crate) stack_size: u64,
    pub(crate) ring_bytes: usize,
    pub(crate) start_timeout: Duration,
    pub(crate) omp_threads: Option<u32>,
    pub(crate) trace: Option<crate::trace::TraceTo>,
    pub(crate) backend: Option<crate::BackendChoice>,
    pub(crate) libveo: Option<PathBuf>,
    pub(crate) static_helper: Option<PathBuf>,
}

impl Default for ProcBuilder {
    fn default() -> Self {
        ProcBuilder {
            node: None,
            core: None,
            helper: None,
            stack_size: 256 << 20,
            ring_bytes: 1 << 20,
            start_timeout: Duration::from_secs(20),
            omp_threads: None,
            trace: None,
            backend: None,
            libveo: None,
            static_helper: None,
        }
    }
}

/// The number in environment variable `name` (`None`: unset or empty); a
/// value that is not a number is an error naming the variable and value.
pub(crate) fn env_number(name: &str) -> Result<Option<u32>> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse().map(Some).map_err(|_| {
        Error::InvalidArgument(format!(
            "{name}={} is not a number (a non-negative integer such as 0)",
            shown(&text)
        ))
    })
}

impl ProcBuilder {
    /// The VE node (default: `VE_NODE_NUMBER`, else 0).
    pub fn node(mut self, node: u32) -> Self {
        self.node = Some(node);
        self
    }

    /// The VE core to run the helper on (default: `VE_CORE_NUMBER`, else any).
    pub fn core(mut self, core: u32) -> Self {
        self.core = Some(core);
        self
    }

    /// The helper program (default: `VEORUN_BIN` or `VEO_HELPER`, else this
    /// program, re-executed in helper mode).
    pub fn helper(mut self, path: impl Into<PathBuf>) -> Self {
        self.helper = Some(path.into());
        self
    }

    /// Bytes of each context's call frame area, the limit of OnStack data
    /// per call (default 256 MiB, allocated as used).
    pub fn stack_size(mut self, bytes: u64) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Bytes of each ring of the shared segment (default 1 MiB; 64 KiB to
    /// 1 GiB, larger is an error when the proc is built).
    pub fn ring_bytes(mut self, bytes: usize) -> Self {
        self.ring_bytes = bytes;
        self
    }

    /// How long the helper may take to start (default 20 s).
    pub fn start_timeout(mut self, limit: Duration) -> Self {
        self.start_timeout = limit;
        self
    }

    /// The OpenMP threads of kernels built with OpenMP: the helper starts
    /// with `OMP_NUM_THREADS` set to this (default: `VE_OMP_NUM_THREADS`,
    /// else [`DEFAULT_OMP_THREADS`]), as VEOS gives a VE program.
    pub fn omp_threads(mut self, threads: u32) -> Self {
        self.omp_threads = Some(threads);
        self
    }

    /// Traces the proc: every request's time queued and on the VE, written
    /// to `path` as Chrome trace-event JSON when the proc ends (default:
    /// the file `VEO_TRACE` names, else no trace); see [`Proc::profile`].
    pub fn trace(mut self, path: impl Into<PathBuf>) -> Self {
        self.trace = Some(crate::trace::TraceTo::File(path.into()));
        self
    }

    /// Traces the proc for [`Proc::profile`] only, without a file.
    pub fn profile(mut self) -> Self {
        self.trace = Some(crate::trace::TraceTo::Memory);
        self
    }

    /// The backend (default: `VEO_BACKEND`, else
    /// [`BackendChoice::Auto`](crate::BackendChoice::Auto): AVEO when its
    /// library loads and the host has a VE device, else the emulated VE).
    pub fn backend(mut self, choice: crate::BackendChoice) -> Self {
        self.backend = Some(choice);
        self
    }

    /// AVEO's library, for the AVEO backend (default: `VEO_LIBVEO`, else
    /// `/opt/nec/ve/veos/lib64/libveo.so.1`).
    pub fn libveo(mut self, path: impl Into<PathBuf>) -> Self {
        self.libveo = Some(path.into());
        self
    }

    /// On AVEO, the VE helper program with the kernels linked in
    /// (`veo_proc_create_static`): what veo-build's `compile_static` builds
    /// with `mk_veorun_static` and hands the crate as
    /// `env!("VEO_VEORUN_<name>")`. The kernels are then in the proc's
    /// static library. The emulated VE ignores it (its static kernels are
    /// in the program itself).
    pub fn static_helper(mut self, path: impl Into<PathBuf>) -> Self {
        self.static_helper = Some(path.into());
        self
    }

    /// Starts the helper and waits until it serves.
    pub fn build(self) -> Result<Proc> {
        let node = match self.node {
            Some(n) => n,
            None => env_number("VE_NODE_NUMBER")?.unwrap_or(0),
        };
        let backend = ProcBackend::start(&self, node)?;
        let proc = Proc {
            _owner: Arc::new(Owner(backend.clone())),
            backend,
        };
        crate::hmem::register(&proc);
        crate::hooks::run(&proc)?;
        Ok(proc)
    }
}

/// One VE process: an emulated VE helper (py-veo's `VeoProc`, VEO's
/// `veo_proc_handle`).
///
/// Cloning gives another handle to the same helper (to use in a VH closure
/// or another thread); dropping the last handle, or [`close`](Proc::close),
/// ends the helper. Contexts, buffers and libraries that outlive it report
/// [`Error::Closed`].
///
/// ```
/// use veo_runtime::Proc;
///
/// # fn main() -> veo_runtime::Result<()> {
/// let proc = Proc::new(0)?; // VE node 0; the emulated VE is a helper process
/// let buf = proc.alloc_from(&[1u32, 2, 3])?;
/// let mut back = [0u32; 3];
/// proc.read(&mut back, &buf)?;
/// assert_eq!(back, [1, 2, 3]);
/// let ctx = proc.open_context()?; // a queue of requests on the VE
/// # drop(ctx);
/// proc.close(); // or drop the last handle
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Proc {
    pub(crate) backend: ProcBackend,
    /// Shared by the clones of this handle; the last one ends the helper.
    _owner: Arc<Owner>,
}

/// Ends the helper when the last [`Proc`] handle goes.
struct Owner(ProcBackend);

/// A [`Proc`] that does not keep the helper running: for registries
/// (proc identifiers, requests kept by id) that must not outlive its owner.
#[derive(Clone)]
pub(crate) struct WeakProc {
    backend: WeakProcBackend,
    owner: std::sync::Weak<Owner>,
}

impl WeakProc {
    /// The proc, while a handle is alive and it was not closed.
    pub(crate) fn upgrade(&self) -> Option<Proc> {
        let p = Proc {
            backend: self.backend.upgrade()?,
            _owner: self.owner.upgrade()?,
        };
        (!p.backend.is_closed()).then_some(p)
    }

    /// Whether the proc is alive and open, without taking a handle: a
    /// handle taken here, even for a moment, could be the last one when
    /// its owner drops its own, and the proc would then end in this
    /// thread, after the owner's drop returned.
    pub(crate) fn is_live(&self) -> bool {
        self.owner.strong_count() > 0 && self.backend.upgrade().is_some_and(|b| !b.is_closed())
    }

    /// Whether this names `proc`.
    pub(crate) fn is(&self, proc: &Proc) -> bool {
        self.backend.is(&proc.backend)
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Killed by now if it was not ending: its end is a matter of
        // milliseconds, the limit only bounds the drop.
        self.0.close();
    }
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proc")
            .field("node", &self.node())
            .field("pid", &self.pid())
            .finish()
    }
}

impl Proc {
    /// Starts a proc on VE node `node` with default settings.
    pub fn new(node: u32) -> Result<Proc> {
        ProcBuilder::default().node(node).build()
    }

    /// A builder for the other settings.
    pub fn builder() -> ProcBuilder {
        ProcBuilder::default()
    }

    pub(crate) fn downgrade(&self) -> WeakProc {
        WeakProc {
            backend: self.backend.downgrade(),
            owner: Arc::downgrade(&self._owner),
        }
    }

    /// The emulated VE's proc, for the requests kept by id (`queue.rs`,
    /// which drives the emulated VE's channels itself).
    pub(crate) fn emulated(&self) -> Result<&Arc<EmulatedProc>> {
        match &self.backend {
            ProcBackend::Emulated(p) => Ok(p),
            ProcBackend::Aveo(_) => Err(crate::aveo::wired::not_on_aveo()),
        }
    }

    /// The backend it runs on: `emulated VE`, or `AVEO (path, API n)` as
    /// its `Display` says.
    pub fn backend(&self) -> crate::Backend {
        self.backend.backend()
    }

    /// The VE node.
    pub fn node(&self) -> u32 {
        self.backend.node()
    }

    /// The helper's process id.
    pub fn pid(&self) -> u32 {
        self.backend.pid()
    }

    /// The helper program.
    pub fn helper(&self) -> &str {
        self.backend.helper()
    }

    /// Whether the helper is alive and the proc open.
    pub fn is_alive(&self) -> bool {
        !self.backend.is_dead()
    }

    /// Whether the shared segment lives in huge pages.
    pub fn huge_pages(&self) -> bool {
        self.backend.huge_pages()
    }

    /// Opens a new context: a worker thread on the VE with its own queue.
    pub fn open_context(&self) -> Result<Context> {
        self.backend.open_context().map(Context::new)
    }

    /// Number of open contexts (VEO's `veo_num_contexts`).
    pub fn num_contexts(&self) -> usize {
        self.backend.num_contexts()
    }

    /// The slot numbers of the open contexts, as [`Context::index`] reports them.
    pub fn contexts(&self) -> Vec<usize> {
        self.backend.contexts()
    }

    /// Loads the shared library at `path` (VEO's `veo_load_library`).
    pub fn load_library(&self, path: impl AsRef<Path>) -> Result<Library> {
        self.backend.load_library(path.as_ref())
    }

    /// The kernels linked into the helper program itself (py-veo's
    /// `static_library()`).
    pub fn static_library(&self) -> Result<Library> {
        self.backend.static_library()
    }

    /// The loaded libraries.
    pub fn libraries(&self) -> Vec<Library> {
        self.backend.libraries()
    }

    /// Finds `name` in the loaded libraries, then the static library
    /// (py-veo's `get_function`).
    pub fn get_function(&self, name: &str) -> Result<Function> {
        self.backend.get_function(name)
    }

    /// The kernel `symbol` of `lib`, loading the library on first use;
    /// cached per proc, library and symbol (`__private::kernel`).
    pub(crate) fn kernel(&self, lib: &KernelLibrary, symbol: &str) -> Result<Function> {
        self.backend.kernel(lib, symbol)
    }

    /// Calls `f` and waits for its result, on the proc's own queue, without a
    /// context (AVEO's `veo_call_sync`).
    pub fn call_sync<R: KernelRet>(&self, f: &Function, args: Args<'_>) -> Result<R> {
        self.backend.call_sync(f, &mut { args })
    }

    /// Calls `f` and waits for its result, like [`call_sync`](Self::call_sync),
    /// with a list that stays the caller's: `args` is left
    /// [cleared](Args::clear), its memory kept for the next call (also when
    /// the call fails).
    pub fn call_sync_with<R: KernelRet>(&self, f: &Function, args: &mut Args<'_>) -> Result<R> {
        let r = self.backend.call_sync(f, args);
        args.clear();
        r
    }

    /// Calls the function `name` (see [`get_function`](Self::get_function)) synchronously.
    pub fn call_sync_by_name<R: KernelRet>(&self, name: &str, args: Args<'_>) -> Result<R> {
        let f = self.get_function(name)?;
        self.call_sync(&f, args)
    }

    /// Allocates `len` elements of VE memory, freed when the buffer drops.
    /// A `len` whose size in bytes overflows is
    /// [`Error::InvalidArgument`]; a size the VE cannot satisfy,
    /// [`Error::OutOfMemory`].
    pub fn alloc<T: bytemuck::Pod>(&self, len: usize) -> Result<VeBuffer<T>> {
        let size = std::mem::size_of::<T>();
        let bytes = len
            .checked_mul(size)
            .and_then(|b| u64::try_from(b).ok())
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "an allocation of {len} elements of {size} bytes each: its size in bytes overflows"
                ))
            })?;
        let ptr = self.backend.alloc_mem(bytes)?;
        Ok(VeBuffer::new(self.backend.clone(), ptr.cast(), len))
    }

    /// Allocates room for `data` in VE memory and copies it there; freed
    /// when the buffer drops (also when the copy fails).
    pub fn alloc_from<T: bytemuck::Pod>(&self, data: &[T]) -> Result<VeBuffer<T>> {
        let buf = self.alloc::<T>(data.len())?;
        self.write(&buf, data)?;
        Ok(buf)
    }

    /// Allocates `bytes` of VE memory that the caller frees with
    /// [`free_mem`](Self::free_mem) (VEO's `veo_alloc_mem`).
    ///
    /// The memory hook of [`MemoryOp::Alloc`](crate::MemoryOp) runs after it.
    pub fn alloc_mem(&self, bytes: u64) -> Result<VePtr<u8>> {
        let ptr = self.backend.alloc_mem(bytes)?;
        crate::mem_hooks::fire(crate::MemoryOp::Alloc, self, None, ptr.addr(), bytes);
        Ok(ptr)
    }

    /// Frees memory from [`alloc_mem`](Self::alloc_mem) (VEO's `veo_free_mem`).
    ///
    /// The memory hook of [`MemoryOp::Free`](crate::MemoryOp) runs after it.
    pub fn free_mem<T>(&self, ptr: VePtr<T>) -> Result<()> {
        self.backend.free_mem(ptr.cast())?;
        crate::mem_hooks::fire(crate::MemoryOp::Free, self, None, ptr.addr(), 0);
        Ok(())
    }

    /// Copies `src` into VE memory at `dst` (VEO's `veo_write_mem`).
    pub fn write<T: bytemuck::Pod>(&self, dst: impl AsVePtr<T>, src: &[T]) -> Result<()> {
        memory::check_fits(&dst, src.len())?;
        self.backend
            .write_bytes(dst.ve_ptr().addr(), bytemuck::cast_slice(src))
    }

    /// Copies VE memory at `src` into `dst` (VEO's `veo_read_mem`).
    pub fn read<T: bytemuck::Pod>(&self, dst: &mut [T], src: impl AsVePtr<T>) -> Result<()> {
        memory::check_fits(&src, dst.len())?;
        self.backend
            .read_bytes(bytemuck::cast_slice_mut(dst), src.ve_ptr().addr())
    }

    /// Copies `count` elements inside VE memory.
    pub fn memcpy<T>(&self, dst: VePtr<T>, src: VePtr<T>, count: usize) -> Result<()> {
        let len = memory::byte_len(src, count)?;
        self.backend.memcpy(dst.addr(), src.addr(), len)
    }

    /// What each kernel (and each kind of transfer) has cost on the VE so
    /// far, the most expensive first; empty unless the proc is traced
    /// ([`ProcBuilder::trace`], [`ProcBuilder::profile`], `VEO_TRACE`).
    pub fn profile(&self) -> Vec<crate::trace::KernelProfile> {
        self.backend.trace().map_or_else(Vec::new, |t| t.profile())
    }

    /// Writes the trace so far to `path` as Chrome trace-event JSON (what
    /// a traced proc writes when it ends); an error if it is not traced.
    pub fn write_trace(&self, path: impl AsRef<Path>) -> Result<()> {
        let t = self.backend.trace().ok_or_else(|| {
            Error::InvalidArgument("the proc is not traced (ProcBuilder::trace, VEO_TRACE)".into())
        })?;
        std::fs::write(path.as_ref(), t.to_json(self.pid()).to_string())
            .map_err(|e| Error::io("cannot write the trace", e))
    }

    /// Ends the helper now, for every clone of this handle; what is pending
    /// fails with [`Error::Closed`]. Dropping the last handle does the same.
    pub fn close(self) {
        self.backend.close();
    }
}
