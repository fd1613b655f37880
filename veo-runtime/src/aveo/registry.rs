//! The libraries of an AVEO proc as the public types see them
//! ([`Library`], [`Function`]): loading (an embedded library from memory),
//! the static library (the helper program's own kernels,
//! `veo_get_sym(proc, 0, name)`), and the kernels of `#[ve_kernel]` stubs;
//! the bookkeeping is the proc's [`Registry`](crate::registry::Registry).

use super::proc::{AveoProc, ProcInner};
use crate::backend::WeakProcBackend;
use crate::error::Result;
use crate::library::{BuiltLibrary, Function, KernelLibrary, Library, STATIC_HANDLE, STATIC_NAME};
use crate::registry::Loader;
use crate::slot::KernelSlot;
use std::path::Path;
use std::sync::Arc;

impl ProcInner {
    fn weak(self: &Arc<Self>) -> WeakProcBackend {
        WeakProcBackend::Aveo(Arc::downgrade(self))
    }

    fn as_proc(self: &Arc<Self>) -> AveoProc {
        AveoProc {
            inner: self.clone(),
        }
    }

    /// Loads the library at `path` (`veo_load_library`).
    pub(crate) fn load_library(self: &Arc<Self>, path: &Path) -> Result<Library> {
        self.check()?;
        let handle = self.as_proc().load_library(path)?;
        let lib = Library::new(handle, path.display().to_string(), self.weak());
        self.registry.opened(&lib);
        Ok(lib)
    }

    /// The kernels linked into the helper program (a static helper's).
    pub(crate) fn static_library(self: &Arc<Self>) -> Result<Library> {
        self.check()?;
        Ok(self
            .registry
            .static_library(|| Library::new(STATIC_HANDLE, STATIC_NAME.into(), self.weak())))
    }

    /// The address of `name` in the library `handle` (named `library`).
    pub(crate) fn symbol(self: &Arc<Self>, handle: u64, library: &str, name: &str) -> Result<u64> {
        self.check()?;
        self.as_proc().symbol_in(handle, library, name)
    }

    /// Unloads `lib` (its flag is cleared already).
    pub(crate) fn unload(self: &Arc<Self>, lib: &Library) -> Result<()> {
        self.check()?;
        self.registry.forget(lib);
        self.as_proc().unload_library(lib.handle())
    }

    /// `name` in the loaded libraries (those that know it first), then the
    /// static library.
    pub(crate) fn get_function(self: &Arc<Self>, name: &str) -> Result<Function> {
        self.registry.get_function(self, name)
    }

    /// The address of the kernel `symbol` of `lib`, from the stub's `slot`
    /// when it answers for this proc, else found and kept there.
    #[inline]
    pub(crate) fn kernel_addr(
        self: &Arc<Self>,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
    ) -> Result<u64> {
        let generation = self.registry.generation();
        slot.address(self.id, generation, || {
            let f = self.kernel(lib, symbol)?;
            f.check(self.id)?;
            Ok(f.addr)
        })
    }

    /// The kernel `symbol` of `lib`, loading the library on first use.
    pub(crate) fn kernel(self: &Arc<Self>, lib: &KernelLibrary, symbol: &str) -> Result<Function> {
        self.registry.kernel(self, lib, symbol)
    }
}

impl Loader for Arc<ProcInner> {
    fn load_library(&self, path: &Path) -> Result<Library> {
        ProcInner::load_library(self, path)
    }

    /// An embedded library (no file of it on this machine) is written to a
    /// private file for the VE's loader.
    fn load_built(&self, built: &BuiltLibrary, path: &str) -> Result<Library> {
        if !is_embedded(path) {
            return ProcInner::load_library(self, Path::new(path));
        }
        self.check()?;
        let handle = self
            .as_proc()
            .load_library_image(built.name(), built.bytes())?;
        let lib = Library::new(handle, path.to_string(), self.weak());
        self.registry.opened(&lib);
        Ok(lib)
    }

    fn static_library(&self) -> Result<Library> {
        ProcInner::static_library(self)
    }
}

/// Whether `path` is the in-memory file of an embedded library
/// (`/proc/<pid>/fd/<n>`, `crate::locate`): a VE's loader, in another
/// process on another machine's memory, cannot open it.
fn is_embedded(path: &str) -> bool {
    path.strip_prefix("/proc/")
        .is_some_and(|rest| rest.contains("/fd/"))
}
