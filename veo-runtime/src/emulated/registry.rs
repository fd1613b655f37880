//! Libraries in the helper: loading, symbols and unloading over the
//! control channel, and the kernels of `#[ve_kernel]` stubs; the
//! bookkeeping is the proc's [`Registry`](crate::registry::Registry).

use super::channel::ChannelVh;
use super::request::What;
use super::EmulatedProc;
use crate::backend::WeakProcBackend;
use crate::error::{short, shown, Error, Result, NAME_SHOWN};
use crate::library::{Function, KernelLibrary, Library, STATIC_HANDLE, STATIC_NAME};
use crate::registry::Loader;
use crate::slot::KernelSlot;
use std::path::Path;
use std::sync::Arc;
use veo_urpc::proto;

impl EmulatedProc {
    fn weak(self: &Arc<Self>) -> WeakProcBackend {
        WeakProcBackend::Emulated(Arc::downgrade(self))
    }

    /// Loads the shared library at `path` into the helper.
    pub(crate) fn load_library(self: &Arc<Self>, path: &Path) -> Result<Library> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        let name = path.display().to_string();
        if bytes.contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "library path {} contains a NUL byte",
                shown(&name)
            )));
        }
        let handle = self.control_op(
            proto::KIND_LOAD,
            &[bytes.len() as u64],
            bytes,
            What::Load { path: &name },
        )?;
        let lib = Library::new(handle, name, self.weak());
        self.registry.opened(&lib);
        Ok(lib)
    }

    /// The kernels linked into the helper program itself.
    pub(crate) fn static_library(self: &Arc<Self>) -> Result<Library> {
        self.life.check()?;
        Ok(self
            .registry
            .static_library(|| Library::new(STATIC_HANDLE, STATIC_NAME.into(), self.weak())))
    }

    /// The address of `name` in the library `handle` (named `library`).
    pub(crate) fn symbol(&self, handle: u64, library: &str, name: &str) -> Result<u64> {
        if name.as_bytes().contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "symbol name {} contains a NUL byte",
                shown(name)
            )));
        }
        let addr = self.control_op(
            proto::KIND_SYMBOL,
            &[handle, name.len() as u64],
            name.as_bytes(),
            What::Symbol { name, library },
        )?;
        if addr == 0 {
            return Err(Error::SymbolNotFound {
                name: short(name, NAME_SHOWN),
                library: short(library, NAME_SHOWN),
                message: "the symbol's address is null".into(),
            });
        }
        Ok(addr)
    }

    /// Unloads `lib` (its flag is cleared already) once no call into it can
    /// still be on its way into a ring.
    pub(crate) fn unload(&self, lib: &Library) -> Result<()> {
        self.registry.forget(lib);
        // The library's flag is cleared: a call that saw it set did so
        // holding its channel's lock, so once every lock has been taken
        // here, every call into the library is in a ring, before the
        // unload, and the helper defers the close until they have run.
        let channels: Vec<Arc<ChannelVh>> = self.slots.channels();
        for ch in channels.iter().map(|c| &**c).chain([&self.control]) {
            ch.barrier();
        }
        self.control_op(
            proto::KIND_UNLOAD,
            &[lib.handle()],
            &[],
            What::Unload { path: lib.name() },
        )
        .map(|_| ())
    }

    /// `name` in the loaded libraries (those that know it first), then the
    /// static library.
    pub(crate) fn get_function(self: &Arc<Self>, name: &str) -> Result<Function> {
        self.registry.get_function(self, name)
    }

    /// The address of the kernel `symbol` of `lib`: from the stub's own
    /// `slot` when it answers for this proc and these libraries, else found
    /// (loading the library if need be) and kept there.
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
            if let Some(t) = self.life.trace.get() {
                t.name(f.addr, slot.name().unwrap_or(symbol));
            }
            Ok(f.addr)
        })
    }

    /// The kernel `symbol` of `lib`, loading the library on first use;
    /// cached per library and symbol.
    pub(crate) fn kernel(self: &Arc<Self>, lib: &KernelLibrary, symbol: &str) -> Result<Function> {
        self.registry.kernel(self, lib, symbol)
    }
}

impl Loader for Arc<EmulatedProc> {
    fn load_library(&self, path: &Path) -> Result<Library> {
        EmulatedProc::load_library(self, path)
    }

    fn static_library(&self) -> Result<Library> {
        EmulatedProc::static_library(self)
    }
}
