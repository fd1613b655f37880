//! Libraries of kernels loaded into a proc, their symbols and functions.

use crate::error::{Error, Result};
use crate::proc::ProcShared;
use crate::ptr::VePtr;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Where the kernels of a `#[ve_kernel]` block live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelLibrary {
    /// A shared library at this path (from `veo-build`: `env!("VEO_LIB_<name>")`).
    Path(&'static str),
    /// The static library: kernels linked into the helper program.
    Static,
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
            KernelLibrary::Static => "",
        }
    }
}

pub(crate) const STATIC_HANDLE: u64 = 0;
pub(crate) const STATIC_NAME: &str = "__static__";

pub(crate) struct LibInner {
    pub handle: u64,
    pub name: String,
    pub proc: Weak<ProcShared>,
    pub loaded: Arc<AtomicBool>,
    symbols: Mutex<HashMap<String, u64>>,
}

/// A library loaded into a proc (py-veo's `VeoLibrary`). Cloning is cheap;
/// every clone names the same loaded library.
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
    pub loaded: Arc<AtomicBool>,
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
            return Err(Error::InvalidArgument(format!(
                "function {} belongs to another proc",
                self.shared.name
            )));
        }
        if !self.shared.loaded.load(Ordering::Acquire) {
            return Err(Error::Closed("library (it was unloaded)"));
        }
        Ok(())
    }
}

impl Library {
    pub(crate) fn new(handle: u64, name: String, proc: &Arc<ProcShared>) -> Library {
        Library {
            inner: Arc::new(LibInner {
                handle,
                name,
                proc: Arc::downgrade(proc),
                loaded: Arc::new(AtomicBool::new(true)),
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
        self.inner.loaded.load(Ordering::Acquire)
    }

    fn proc(&self) -> Result<Arc<ProcShared>> {
        self.inner.proc.upgrade().ok_or(Error::Closed("proc"))
    }

    /// The address of `name`, looked up once and cached.
    pub fn symbol(&self, name: &str) -> Result<VePtr<u8>> {
        if !self.is_loaded() {
            return Err(Error::Closed("library (it was unloaded)"));
        }
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
        if let Some(t) = proc.life.trace.get() {
            t.name_if_new(addr, name);
        }
        Ok(Function {
            addr,
            proc_id: proc.id,
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
        if !self.inner.loaded.swap(false, Ordering::AcqRel) {
            return Err(Error::Closed("library (it was unloaded)"));
        }
        self.inner
            .symbols
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.proc()?.unload(self)
    }
}
