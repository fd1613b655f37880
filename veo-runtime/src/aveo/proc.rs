//! A VE process driven through AVEO's `libveo.so`: [`AveoProc`], with its
//! memory, libraries, symbols, synchronous calls and contexts.
//!
//! AVEO runs its synchronous functions (memory, libraries, symbols,
//! `veo_call_sync`) on the proc's *main* context, which the first
//! `veo_context_open` returns; further contexts need `VE_OMP_NUM_THREADS=1`
//! on a VE. So the proc never opens the main context for itself: the first
//! context a user opens is the main one, and it is handed out again once
//! its [`AveoContext`] is gone (closing it does nothing in AVEO).

use super::args::{ArgsCache, KeptArgs};
use super::context::{AveoContext, CtxShared};
use super::result;
use super::sys::{veo_proc_handle, LibVeo, VEO_RS_RET_DOUBLE, VEO_RS_RET_FLOAT};
use crate::args::{Args, KernelRet};
use crate::error::{short, shown, Closable, Error, Result, NAME_SHOWN};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, OnceLock};
use veo_urpc::elf::{self, Binary, Side};
use veo_urpc::proto::ArgClass;

/// The largest stack image of one call AVEO takes (about 63 MB: its
/// argument buffer less the parameter area).
pub const STACK_MAX: usize = 63 << 20;

/// A VE process of AVEO (`veo_proc_create`), destroyed on drop.
///
/// ```no_run
/// use std::sync::Arc;
/// use veo_runtime::aveo::{proc::AveoProc, sys::LibVeo};
///
/// # fn main() -> veo_runtime::Result<()> {
/// let lib = Arc::new(LibVeo::open(None)?); // $VEO_LIBVEO or the vendor's path
/// let proc = AveoProc::open(lib, 0, None)?;
/// let a = proc.alloc(8)?;
/// proc.write(a, &7u64.to_le_bytes())?;
/// let mut back = [0u8; 8];
/// proc.read(&mut back, a)?;
/// proc.free(a)?;
/// # Ok(()) }
/// ```
pub struct AveoProc {
    pub(crate) inner: Arc<ProcInner>,
}

/// What the proc and its contexts share; the VE process ends when the
/// last of them is dropped.
pub(crate) struct ProcInner {
    /// Unique in this program, among the procs of every backend: what
    /// functions and the stubs' slots are checked against.
    pub(crate) id: u64,
    pub(crate) lib: Arc<LibVeo>,
    /// The `veo_args` its calls reuse.
    pub(crate) args: ArgsCache,
    raw: NonNull<veo_proc_handle>,
    node: i32,
    static_helper: Option<PathBuf>,
    /// What runs the VE side, for messages: the static helper, or AVEO's.
    pub(crate) helper: String,
    pub(crate) contexts: Mutex<Contexts>,
    /// The VE's `memcpy` (libc's, looked up once), for VE-to-VE copies:
    /// AVEO has no copy inside VE memory but `veo_hmemcpy`, which needs
    /// tagged addresses and runs only synchronously.
    memcpy: OnceLock<u64>,
    /// Wakes the futures of pending requests.
    pub(crate) poller: Poller,
    /// Libraries and kernels, as the public types see them.
    pub(crate) registry: crate::registry::Registry,
    /// Closed by its owner: everything fails with `Error::Closed`, and the
    /// VE process ends when the last context is gone.
    pub(crate) closed: std::sync::atomic::AtomicBool,
    /// A request reported that the VE process ended (an exception).
    pub(crate) dead: std::sync::atomic::AtomicBool,
    /// Held (shared) around every call into libveo with this proc's or
    /// its contexts' handles; `true` once `veo_proc_destroy` ran. A close
    /// destroys the process at once when no call is in libveo (it never
    /// waits for one: a kernel may not return), else the last handle does.
    /// parking_lot's: a call enters twice (submit and wait), and its
    /// uncontended read lock and unlock are an inlined atomic each, where
    /// std's are calls (about 25 instructions per use, callgrind). Nothing
    /// ever waits to write (`close` only tries), so a reader never waits
    /// behind a writer, also when a thread enters again.
    gate: parking_lot::RwLock<bool>,
    /// The limit of one call's stack image: AVEO's, or less
    /// ([`AveoProc::set_stack_limit`]).
    pub(crate) stack_max: std::sync::atomic::AtomicUsize,
    /// The VE process's id, asked once (it outlives a close).
    pid: OnceLock<u32>,
}

/// The contexts of a proc, as far as the proc must know them.
#[derive(Default)]
pub(crate) struct Contexts {
    /// The main context, once opened, and whether an [`AveoContext`] holds it.
    pub(crate) main: Option<(Arc<CtxShared>, bool)>,
    /// How many contexts are open (held by an [`AveoContext`]).
    pub(crate) open: usize,
    /// How many contexts libveo opened: the next one's index.
    pub(crate) opened: usize,
    /// The indices of the open ones.
    pub(crate) indices: std::collections::BTreeSet<usize>,
    /// Contexts dropped while requests were outstanding: libveo may still
    /// write into their staging, so it is freed after `veo_proc_destroy`.
    pub(crate) graveyard: Vec<Arc<CtxShared>>,
}

// SAFETY: the handle is an opaque pointer to libveo's proc object, which
// libveo locks itself: AVEO's functions may be called from any thread.
unsafe impl Send for ProcInner {}
// SAFETY: as above; `&ProcInner` only passes the handle to libveo.
unsafe impl Sync for ProcInner {}

impl std::fmt::Debug for AveoProc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AveoProc")
            .field("library", &self.inner.lib.path())
            .field("node", &self.inner.node)
            .field("static_helper", &self.inner.static_helper)
            .finish_non_exhaustive()
    }
}

impl AveoProc {
    /// Creates a VE process on `node` with libveo `lib`: AVEO's own helper
    /// (`veo_proc_create`), or `static_helper`, a helper program with the
    /// kernels linked in (`veo_proc_create_static`, `mk_veorun_static`).
    /// NULL from libveo is an error that says what to check (the node, huge
    /// pages, another job).
    pub fn open(lib: Arc<LibVeo>, node: i32, static_helper: Option<&Path>) -> Result<AveoProc> {
        #[cfg(feature = "emulator")]
        if lib.emulated().is_some() {
            // veo-rs's own libveo.so starts this program again as the
            // emulated VE's helper, unless told otherwise: the constructor
            // that turns it into one must be linked in.
            crate::emulated::entry::ensure_linked();
        }
        let raw = match static_helper {
            None => result::proc_create(&lib, node)?,
            Some(h) => result::proc_create_static(&lib, node, h, side_of(&lib))?,
        };
        Ok(AveoProc {
            inner: Arc::new(ProcInner {
                id: crate::backend::next_proc_id(),
                args: ArgsCache::new(lib.clone()),
                lib,
                raw,
                node,
                static_helper: static_helper.map(Path::to_path_buf),
                helper: match static_helper {
                    Some(h) => h.display().to_string(),
                    None => "AVEO's VE helper (aveorun, or $VEORUN_BIN)".into(),
                },
                contexts: Mutex::new(Contexts::default()),
                memcpy: OnceLock::new(),
                poller: Poller::default(),
                registry: Default::default(),
                closed: Default::default(),
                dead: Default::default(),
                gate: Default::default(),
                stack_max: STACK_MAX.into(),
                pid: OnceLock::new(),
            }),
        })
    }

    /// The libveo this proc runs on.
    pub fn lib(&self) -> &Arc<LibVeo> {
        &self.inner.lib
    }

    /// The VE node.
    pub fn node(&self) -> i32 {
        self.inner.node
    }

    /// The static helper it was created with, if any.
    pub fn static_helper(&self) -> Option<&Path> {
        self.inner.static_helper.as_deref()
    }

    /// Whether the VE behind libveo is veo-rs's emulated VE (the library
    /// is veo-capi's `libveo.so`), where kernels are host code.
    pub fn is_emulated(&self) -> bool {
        self.inner.lib.emulated().is_some()
    }

    /// libveo's handle, for calls this type does not wrap.
    pub fn as_ptr(&self) -> *mut veo_proc_handle {
        self.inner.raw.as_ptr()
    }

    /// `veo_alloc_mem`: `bytes` of VE memory.
    pub fn alloc(&self, bytes: u64) -> Result<u64> {
        let _in = self.inner.enter()?;
        let size = usize::try_from(bytes).map_err(|_| result::size_error(bytes))?;
        // SAFETY: the handle is live while `self` is.
        unsafe { result::alloc_mem(&self.inner.lib, self.inner.raw, size) }
    }

    /// `veo_free_mem`.
    pub fn free(&self, addr: u64) -> Result<()> {
        let _in = self.inner.enter()?;
        let f = self.inner.lib.veo_free_mem()?;
        // SAFETY: the handle is live; libveo checks the address.
        let rc = unsafe { f(self.inner.raw.as_ptr(), addr) };
        transfer_status("veo_free_mem", rc, addr, 0)
    }

    /// `veo_write_mem`: `src` to VE memory at `dst`.
    pub fn write(&self, dst: u64, src: &[u8]) -> Result<()> {
        let _in = self.inner.enter()?;
        let f = self.inner.lib.veo_write_mem()?;
        // SAFETY: the handle is live; `src` is readable for its length
        // during the call, which returns when the copy is done.
        let rc = unsafe { f(self.inner.raw.as_ptr(), dst, src.as_ptr().cast(), src.len()) };
        transfer_status("veo_write_mem", rc, dst, src.len() as u64)
    }

    /// `veo_read_mem`: VE memory at `src` into `dst`.
    pub fn read(&self, dst: &mut [u8], src: u64) -> Result<()> {
        let _in = self.inner.enter()?;
        let f = self.inner.lib.veo_read_mem()?;
        // SAFETY: the handle is live; `dst` is writable for its length
        // during the call, which returns when the copy is done.
        let rc = unsafe {
            f(
                self.inner.raw.as_ptr(),
                dst.as_mut_ptr().cast(),
                src,
                dst.len(),
            )
        };
        transfer_status("veo_read_mem", rc, src, dst.len() as u64)
    }

    /// Copies `len` bytes inside VE memory (`veo_hmemcpy` of the two
    /// addresses tagged with the proc's identifier, AVEO API 12), which
    /// checks them.
    pub fn memcpy(&self, dst: u64, src: u64, len: u64) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let lib = &*self.inner.lib;
        let (ident, tag, copy) = (
            lib.veo_proc_identifier()?,
            lib.veo_set_proc_identifier()?,
            lib.veo_hmemcpy()?,
        );
        let n = usize::try_from(len).map_err(|_| Error::InvalidAddress {
            addr: src,
            len,
            reason: "longer than this host's address space".into(),
        })?;
        let _in = self.inner.enter()?;
        // SAFETY: the handle is live; tagging only computes with the
        // addresses; `veo_hmemcpy` of two tagged addresses of one proc
        // copies inside its VE memory, which libveo checks.
        let rc = unsafe {
            let i = ident(self.inner.raw.as_ptr());
            let d = tag(dst as *mut std::ffi::c_void, i);
            let s = tag(src as *mut std::ffi::c_void, i);
            if i < 0 || d.is_null() || s.is_null() {
                -1
            } else {
                copy(d, s, n)
            }
        };
        transfer_status("veo_hmemcpy", rc, src, len)
    }

    /// Lowers the limit of one call's stack image below AVEO's own
    /// ([`STACK_MAX`]): what [`ProcBuilder::stack_size`](crate::ProcBuilder::stack_size) asks.
    pub fn set_stack_limit(&self, bytes: u64) {
        let limit = usize::try_from(bytes).unwrap_or(usize::MAX).min(STACK_MAX);
        self.inner
            .stack_max
            .store(limit, std::sync::atomic::Ordering::Relaxed);
    }

    /// The address of the VE's `memcpy`, found once.
    pub(crate) fn memcpy_addr(&self) -> Result<u64> {
        if let Some(&a) = self.inner.memcpy.get() {
            return Ok(a);
        }
        // The C library the helper runs with; loading it again only
        // returns its handle.
        let h = self.load_library_unchecked("libc.so.6")?;
        let a = self.get_sym(h, "memcpy")?;
        Ok(*self.inner.memcpy.get_or_init(|| a))
    }

    /// `veo_load_library`: loads the kernel library at `path` on the VE. A
    /// library built for the other side (the host's for a real VE, a VE's
    /// for the emulated one) is refused by name before libveo sees it.
    pub fn load_library(&self, path: &Path) -> Result<u64> {
        let display = path.display().to_string();
        if let Some(message) = elf::mismatch(path, Binary::Library, side_of(&self.inner.lib)) {
            return Err(Error::LibraryNotFound {
                path: short(&display, NAME_SHOWN),
                message,
            });
        }
        let name = path.to_str().ok_or_else(|| {
            Error::InvalidArgument(format!("library path {} is not UTF-8", shown(&display)))
        })?;
        self.load_library_unchecked(name)
    }

    fn load_library_unchecked(&self, name: &str) -> Result<u64> {
        let _in = self.inner.enter()?;
        let f = self.inner.lib.veo_load_library()?;
        let c = CString::new(name).map_err(|_| {
            Error::InvalidArgument(format!("library path {} contains a NUL byte", shown(name)))
        })?;
        // SAFETY: the handle is live; the name is NUL-terminated and
        // outlives the call.
        let handle = unsafe { f(self.inner.raw.as_ptr(), c.as_ptr()) };
        result::library_handle(name, handle, side_of(&self.inner.lib))
    }

    /// Loads a library from its bytes (a library embedded in the program):
    /// they are written to a private file for the VE's loader, which is
    /// removed once libveo has loaded it.
    pub fn load_library_image(&self, name: &str, bytes: &[u8]) -> Result<u64> {
        let file = PrivateFile::write(name, bytes)?;
        self.load_library(file.path())
    }

    /// `veo_unload_library`.
    pub fn unload_library(&self, handle: u64) -> Result<()> {
        let _in = self.inner.enter()?;
        let f = self.inner.lib.veo_unload_library()?;
        // SAFETY: the handle is live; libveo checks the library handle.
        let rc = unsafe { f(self.inner.raw.as_ptr(), handle) };
        result::check("veo_unload_library", rc)
    }

    /// `veo_get_sym`: the VE address of `name` in the library `handle`; 0
    /// is the helper program itself (a static helper's kernels).
    pub fn get_sym(&self, handle: u64, name: &str) -> Result<u64> {
        let library = if handle == 0 {
            "the helper program".to_string()
        } else {
            format!("library handle {handle:#x}")
        };
        self.symbol_in(handle, &library, name)
    }

    /// [`get_sym`](Self::get_sym), naming the library `library` (its
    /// path) in the error.
    pub(crate) fn symbol_in(&self, handle: u64, library: &str, name: &str) -> Result<u64> {
        let _in = self.inner.enter()?;
        let f = self.inner.lib.veo_get_sym()?;
        let c = CString::new(name).map_err(|_| {
            Error::InvalidArgument(format!("symbol name {} contains a NUL byte", shown(name)))
        })?;
        // SAFETY: the handle is live; the name is NUL-terminated and
        // outlives the call.
        let addr = unsafe { f(self.inner.raw.as_ptr(), handle, c.as_ptr()) };
        result::symbol_address(name, library, addr)
    }

    /// Calls the function at VE address `addr` and waits (`veo_call_sync`,
    /// on the main context's queue). OUT and INOUT stack bytes land in the
    /// buffers `args` borrows before this returns.
    pub fn call_sync<R: KernelRet>(&self, addr: u64, mut args: Args<'_>) -> Result<R> {
        let (veo, stack) = self.inner.args.marshal(&args, self.inner.stack_limit())?;
        let raw = self.inner.call_sync_with::<R>(addr, veo)?;
        // The call is over: libveo wrote its OUT bytes into `stack`.
        stack.copy_out(&mut args);
        Ok(R::decode(ret_word(R::CLASS, raw)))
    }

    /// Opens a context: the main one when it is free, else a new VE thread
    /// (`veo_context_open`).
    pub fn open_context(&self) -> Result<AveoContext> {
        AveoContext::open(self.inner.clone())
    }

    /// How many contexts are open.
    pub fn num_contexts(&self) -> usize {
        self.inner.lock_contexts().open
    }
}

impl ProcInner {
    pub(crate) fn raw(&self) -> NonNull<veo_proc_handle> {
        self.raw
    }

    /// An error once the proc was closed.
    pub(crate) fn check(&self) -> Result<()> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            Err(Error::Closed(Closable::Proc))
        } else {
            Ok(())
        }
    }

    /// Closes the proc for every handle: nothing is taken any more, and
    /// the VE process ends now when no call is inside libveo (else with
    /// the last handle).
    pub(crate) fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        if let Some(mut destroyed) = self.gate.try_write() {
            self.destroy(&mut destroyed);
        }
    }

    /// `veo_proc_destroy`, once; then the staging of what was abandoned
    /// may go (libveo wrote its last byte when the process ended).
    fn destroy(&self, destroyed: &mut bool) {
        if *destroyed {
            return;
        }
        *destroyed = true;
        self.poller.stop();
        if let Ok(f) = self.lib.veo_proc_destroy() {
            // SAFETY: the handle is live and destroyed once (the flag);
            // no call into libveo with it or its contexts' handles is
            // running (the exclusive gate), and none starts after it.
            unsafe { f(self.raw.as_ptr()) };
        }
        let mut c = self.lock_contexts();
        c.graveyard.clear();
    }

    /// A synchronous call of the function at `addr` with the list `veo`
    /// (`veo_call_sync`, on the main context's queue): the raw result word.
    /// The list goes back to the cache when the call returned.
    #[inline]
    pub(crate) fn call_sync_with<R: KernelRet>(&self, addr: u64, veo: KeptArgs<'_>) -> Result<u64> {
        let lib = &*self.lib;
        let entered = self.enter()?;
        let mut raw = 0u64;
        let rc = match (lib.emulated(), ret_code(R::CLASS)) {
            (Some(e), Some(code)) => {
                // SAFETY: the handle and the list are live; `raw` is a valid
                // `uint64_t *`; the stack buffers outlive the call.
                unsafe { (e.call_sync_ret)(self.raw.as_ptr(), addr, veo.as_ptr(), code, &mut raw) }
            }
            _ => {
                let f = lib.veo_call_sync()?;
                // SAFETY: as above.
                unsafe { f(self.raw.as_ptr(), addr, veo.as_ptr(), &mut raw) }
            }
        };
        drop((veo, entered));
        if rc != 0 {
            return Err(sync_failed(addr, rc));
        }
        Ok(raw)
    }

    /// A synchronous call with register arguments only (a `#[ve_kernel]`
    /// `_sync` stub's `Regs`): the kept list has only the values set anew
    /// that changed.
    #[inline]
    pub(crate) fn call_sync_registers<R: KernelRet, const N: usize>(
        &self,
        addr: u64,
        classes: &[ArgClass; N],
        bits: &[u64; N],
    ) -> Result<R> {
        let veo = self.args.registers(classes, bits)?;
        let raw = self.call_sync_with::<R>(addr, veo)?;
        Ok(R::decode(ret_word(R::CLASS, raw)))
    }

    /// Enters libveo with this proc's handles: an error once destroyed.
    #[inline]
    pub(crate) fn enter(&self) -> Result<parking_lot::RwLockReadGuard<'_, bool>> {
        let g = self.gate.read();
        if *g {
            Err(Error::Closed(Closable::Proc))
        } else {
            Ok(g)
        }
    }

    /// The limit of one call's stack image.
    pub(crate) fn stack_limit(&self) -> usize {
        self.stack_max.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the VE process has ended: an exception reported, or closed.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(std::sync::atomic::Ordering::Acquire)
            || self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn node(&self) -> i32 {
        self.node
    }

    /// The process id of the VE process: `veo_get_pid_from_hmem` of an
    /// address tagged with the proc's identifier (AVEO API 13); 0 when
    /// the library cannot say.
    pub(crate) fn pid(&self) -> u32 {
        *self.pid.get_or_init(|| self.ask_pid())
    }

    fn ask_pid(&self) -> u32 {
        let lib = &self.lib;
        let (Ok(ident), Ok(tag), Ok(pid)) = (
            lib.veo_proc_identifier(),
            lib.veo_set_proc_identifier(),
            lib.veo_get_pid_from_hmem(),
        ) else {
            return 0;
        };
        let Ok(_in) = self.enter() else {
            return 0;
        };
        // SAFETY: the handle is live; the other two only compute with the
        // address (never dereferenced) and look the identifier up.
        unsafe {
            let i = ident(self.raw.as_ptr());
            if i < 0 {
                return 0;
            }
            let addr = tag(0x1000 as *mut std::ffi::c_void, i);
            u32::try_from(pid(addr)).unwrap_or(0)
        }
    }

    pub(crate) fn lock_contexts(&self) -> std::sync::MutexGuard<'_, Contexts> {
        self.contexts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ProcInner {
    fn drop(&mut self) {
        let mut destroyed = *self.gate.get_mut();
        self.destroy(&mut destroyed);
        let c = self.contexts.get_mut().unwrap_or_else(|e| e.into_inner());
        c.main = None;
    }
}

/// Which binaries the VE behind `lib` runs.
pub(crate) fn side_of(lib: &LibVeo) -> Side {
    if lib.emulated().is_some() {
        Side::Emulated
    } else {
        Side::Ve
    }
}

/// The result class for veo-capi's `_ret` calls, for the classes where it
/// matters (floating point); `None` for the others.
pub(crate) fn ret_code(class: ArgClass) -> Option<std::ffi::c_int> {
    match class {
        ArgClass::F32 => Some(VEO_RS_RET_FLOAT),
        ArgClass::F64 => Some(VEO_RS_RET_DOUBLE),
        _ => None,
    }
}

/// libveo's 64-bit result as the encoding [`KernelRet::decode`] reads: on
/// a VE a `float` result is in the upper half of `%s0` (the VE ABI, as
/// `veo_args_set_float` places a float argument), and veo-capi's results
/// read as on a VE.
pub(crate) fn ret_word(class: ArgClass, raw: u64) -> u64 {
    match class {
        ArgClass::F32 => raw >> 32,
        _ => raw,
    }
}

/// A transfer's return code: 0, or the address it could not use.
fn transfer_status(function: &str, rc: std::ffi::c_int, addr: u64, len: u64) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::InvalidAddress {
            addr,
            len,
            reason: format!(
                "{function} failed with {rc} (not VE memory of this proc, or freed; libveo's message, if any, is on standard output)"
            ),
        })
    }
}

/// A file only this user can read, removed on drop: an embedded library
/// for the VE's loader, which needs a path.
struct PrivateFile {
    dir: PathBuf,
    path: PathBuf,
}

impl PrivateFile {
    fn write(name: &str, bytes: &[u8]) -> Result<PrivateFile> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = base.join(format!("veo-rs-{}-{seq}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io("cannot create a private directory for a kernel library", e))?;
        let file = PrivateFile {
            path: dir.join(format!("lib{name}.so")),
            dir,
        };
        std::fs::write(&file.path, bytes)
            .map_err(|e| Error::io("cannot write a kernel library for the VE", e))?;
        Ok(file)
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Wakes the futures of pending requests: libveo has no file descriptor or
/// futex to sleep on, so a thread (started by the first future that has to
/// wait, ended with the proc) wakes every registered future after a short
/// pause (50 µs, growing to 1 ms while futures stay pending), and each
/// future's poll asks libveo again (`veo_call_peek_result`).
#[derive(Default)]
pub(crate) struct Poller {
    shared: Arc<PollerShared>,
}

#[derive(Default)]
struct PollerShared {
    state: Mutex<PollerState>,
    wake: std::sync::Condvar,
}

#[derive(Default)]
struct PollerState {
    wakers: Vec<std::task::Waker>,
    started: bool,
    stop: bool,
}

impl Poller {
    /// `waker` is woken soon. The thread, when this starts it, is named
    /// `name` (as the emulated VE's waking thread: `veo-await-<pid>`).
    pub(crate) fn register(&self, waker: &std::task::Waker, name: impl FnOnce() -> String) {
        let mut s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if !s.wakers.iter().any(|w| w.will_wake(waker)) {
            s.wakers.push(waker.clone());
        }
        if !s.started {
            let shared = self.shared.clone();
            let mut name = name();
            name.truncate(15); // what Linux keeps of a thread's name
            let spawned = std::thread::Builder::new()
                .name(name)
                .spawn(move || shared.run());
            // Without the thread, the future is woken at once: it polls
            // again, which is slower but never stuck.
            s.started = spawned.is_ok();
            if !s.started {
                waker.wake_by_ref();
            }
        }
        self.shared.wake.notify_one();
    }

    fn stop(&self) {
        let mut s = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        s.stop = true;
        self.shared.wake.notify_one();
    }
}

impl PollerShared {
    fn run(&self) {
        let mut pause = std::time::Duration::from_micros(50);
        loop {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if s.wakers.is_empty() {
                pause = std::time::Duration::from_micros(50);
            }
            while s.wakers.is_empty() && !s.stop {
                s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            if s.stop {
                // Everything pending learns that the proc is gone.
                for w in s.wakers.drain(..) {
                    w.wake();
                }
                return;
            }
            drop(s);
            std::thread::sleep(pause);
            pause = (pause * 2).min(std::time::Duration::from_millis(1));
            let wakers =
                std::mem::take(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()).wakers);
            for w in wakers {
                w.wake();
            }
        }
    }
}

/// The error of a `veo_call_sync` that returned `rc`.
#[cold]
fn sync_failed(addr: u64, rc: std::ffi::c_int) -> Error {
    Error::Aveo {
        what: format!("veo_call_sync of the function at {addr:#x}"),
        reason: format!(
            "failed with {rc}: the kernel raised an exception or the VE process exited (libveo's message, if any, is on standard output)"
        ),
    }
}
