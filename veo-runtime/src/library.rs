//! Libraries of kernels loaded into a proc, their symbols and functions.

use crate::backend::{ProcBackend, WeakProcBackend};
use crate::error::{short, Closable, Error, Result, NAME_SHOWN};
use crate::ptr::VePtr;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where the kernels of a `#[ve_kernel]` block live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelLibrary {
    /// A shared library at exactly this path.
    Path(&'static str),
    /// The static library: kernels linked into the helper program.
    Static,
    /// A library built by `veo-build`, found wherever the program runs
    /// (what `#[ve_kernel(library = "...")]` uses): see [`BuiltLibrary`].
    Built(&'static BuiltLibrary),
}

/// A library built by `veo-build` for this program: its name, the path it
/// was built at, and its bytes, embedded in the program.
///
/// When a kernel of it is first called on a proc, the library is taken
/// from, in order:
///
/// 1. the file named by `VEO_LIB_<name>_PATH` at run time, when that
///    variable is set (and only from there: a wrong path is an error);
/// 2. the path it was built at, when the file there still holds the same
///    bytes;
/// 3. the copy embedded in the program, written to an in-memory file.
///
/// So a program keeps working after `cargo install`, after `cargo clean`,
/// and copied alone to another machine of the same kind. When none of the
/// three gives a file, [`Error::LibraryNotFound`] lists where it looked.
///
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BuiltLibrary {
    name: &'static str,
    path: &'static str,
    bytes: &'static [u8],
}

impl BuiltLibrary {
    /// A library named `name` (as given to `veo_build::Build::compile`),
    /// built at `path` (or `static` for kernels linked into the program),
    /// with its `bytes` (empty: none embedded).
    pub const fn new(name: &'static str, path: &'static str, bytes: &'static [u8]) -> BuiltLibrary {
        BuiltLibrary { name, path, bytes }
    }

    /// [`new`](Self::new) from the tuple veo-build writes for
    /// `#[ve_kernel]`: `(name, path, bytes)`.
    #[doc(hidden)]
    pub const fn from_parts(parts: (&'static str, &'static str, &'static [u8])) -> BuiltLibrary {
        BuiltLibrary::new(parts.0, parts.1, parts.2)
    }

    /// The library's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The path it was built at, or `static`.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The embedded bytes (empty when none were embedded).
    pub fn bytes(&self) -> &'static [u8] {
        self.bytes
    }

    /// The variable that overrides its location at run time:
    /// `VEO_LIB_<name>_PATH`.
    pub fn env_var(&self) -> String {
        crate::locate::library_env_var(self.name)
    }

    pub(crate) fn is_static(&self) -> bool {
        self.path == "static"
    }
}

impl KernelLibrary {
    /// The library named by a `VEO_LIB_<name>` value from `veo-build`: a
    /// path, or `static` for kernels linked into the program.
    pub const fn from_build(value: &'static str) -> KernelLibrary {
        if matches!(value.as_bytes(), b"static") {
            KernelLibrary::Static
        } else {
            KernelLibrary::Path(value)
        }
    }

    pub(crate) fn key(&self) -> &'static str {
        match self {
            KernelLibrary::Path(p) => p,
            KernelLibrary::Built(b) => b.path,
            KernelLibrary::Static => "",
        }
    }
}

pub(crate) const STATIC_HANDLE: u64 = 0;
pub(crate) const STATIC_NAME: &str = "__static__";

pub(crate) struct LibInner {
    pub handle: u64,
    pub name: String,
    /// Its proc, not kept alive by the library.
    pub proc: WeakProcBackend,
    pub loaded: Arc<Loaded>,
    symbols: Mutex<HashMap<String, u64>>,
}

/// Whether a library is still loaded, shared by the library and its
/// functions, with its path for the error of a use after the unload.
pub(crate) struct Loaded {
    flag: AtomicBool,
    path: Box<str>,
}

impl Loaded {
    fn new(path: &str) -> Loaded {
        Loaded {
            flag: AtomicBool::new(true),
            path: path.into(),
        }
    }

    /// Whether the library is loaded (`Acquire`: a call that saw it set
    /// did so before the unload cleared it).
    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// [`Error::LibraryUnloaded`] once the library was unloaded.
    #[inline]
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_set() {
            Ok(())
        } else {
            Err(self.unloaded())
        }
    }

    #[cold]
    fn unloaded(&self) -> Error {
        Error::LibraryUnloaded {
            path: short(&self.path, NAME_SHOWN),
        }
    }

    /// Marks the library unloaded; an error if it was already.
    fn clear(&self) -> Result<()> {
        if self.flag.swap(false, Ordering::AcqRel) {
            Ok(())
        } else {
            Err(self.unloaded())
        }
    }
}

/// A library loaded into a proc (py-veo's `VeoLibrary`). Cloning is cheap;
/// every clone names the same loaded library.
///
/// ```no_run
/// use veo_runtime::{Args, Proc};
///
/// # fn main() -> veo_runtime::Result<()> {
/// let proc = Proc::new(0)?;
/// let lib = proc.load_library("./libkernels.so")?; // VEO's veo_load_library
/// let average = lib.function("average")?; // looked up once, then cached
/// let a = proc.alloc_from(&[1.0f64, 3.0])?;
/// let mut args = Args::new();
/// args.ptr(a.as_ptr()).i32(2);
/// let avg: f64 = proc.call_sync(&average, args)?;
/// assert_eq!(avg, 2.0);
/// lib.unload()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Library {
    pub(crate) inner: Arc<LibInner>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("name", &self.inner.name)
            .field("handle", &self.inner.handle)
            .finish()
    }
}

/// A kernel's address in a proc (py-veo's `VeoFunction`), ready to call on
/// that proc's contexts.
#[derive(Clone)]
pub struct Function {
    pub(crate) addr: u64,
    pub(crate) proc_id: u64,
    /// Everything else, behind one reference count (a clone is one atomic
    /// increment).
    pub(crate) shared: Arc<FunctionShared>,
}

pub(crate) struct FunctionShared {
    pub name: Box<str>,
    /// The library's flag, cleared when it is unloaded.
    pub loaded: Arc<Loaded>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Function({} at {:#x})", self.shared.name, self.addr)
    }
}

impl Function {
    /// The kernel's VE address.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// The symbol name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Checks the function can be called on proc `proc_id`.
    pub(crate) fn check(&self, proc_id: u64) -> Result<()> {
        if self.proc_id != proc_id {
            return Err(Error::WrongProc {
                function: short(&self.shared.name, NAME_SHOWN),
            });
        }
        self.shared.loaded.check()
    }
}

impl Library {
    pub(crate) fn new(handle: u64, name: String, proc: WeakProcBackend) -> Library {
        let loaded = Arc::new(Loaded::new(&name));
        Library {
            inner: Arc::new(LibInner {
                handle,
                name,
                proc,
                loaded,
                symbols: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The path it was loaded from, or `__static__`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The helper's handle for it.
    pub fn handle(&self) -> u64 {
        self.inner.handle
    }

    /// Whether it is still loaded.
    pub fn is_loaded(&self) -> bool {
        self.inner.loaded.is_set()
    }

    fn proc(&self) -> Result<ProcBackend> {
        self.inner
            .proc
            .upgrade()
            .ok_or(Error::Closed(Closable::Proc))
    }

    /// The address of `name`, looked up once and cached.
    pub fn symbol(&self, name: &str) -> Result<VePtr<u8>> {
        self.inner.loaded.check()?;
        if let Some(&a) = self
            .inner
            .symbols
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(VePtr::new(a));
        }
        let addr = self
            .proc()?
            .symbol(self.inner.handle, &self.inner.name, name)?;
        self.inner
            .symbols
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), addr);
        Ok(VePtr::new(addr))
    }

    /// The symbols looked up so far.
    pub fn cached_symbols(&self) -> Vec<String> {
        self.inner
            .symbols
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    pub(crate) fn cached(&self, name: &str) -> Option<u64> {
        self.inner
            .symbols
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
    }

    /// The kernel `name`, ready to call.
    pub fn function(&self, name: &str) -> Result<Function> {
        let addr = self.symbol(name)?.addr();
        let proc = self.proc()?;
        if let Some(t) = proc.trace() {
            t.name_if_new(addr, name);
        }
        Ok(Function {
            addr,
            proc_id: proc.id(),
            shared: Arc::new(FunctionShared {
                name: name.into(),
                loaded: self.inner.loaded.clone(),
            }),
        })
    }

    /// Unloads it from the proc (VEO's `veo_unload_library`); its cached
    /// symbols and functions become unusable.
    pub fn unload(&self) -> Result<()> {
        if self.inner.handle == STATIC_HANDLE {
            return Err(Error::InvalidArgument(
                "the static library cannot be unloaded".into(),
            ));
        }
        self.inner.loaded.clear()?;
        self.inner
            .symbols
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.proc()?.unload(self)
    }
}
