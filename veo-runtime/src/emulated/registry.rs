//! The library registry: libraries loaded into the helper, their symbols,
//! the static library, and the kernels of `#[ve_kernel]` stubs by library
//! and symbol (what a stub's own slot falls back on).

use super::channel::ChannelVh;
use super::request::What;
use super::EmulatedProc;
use crate::backend::WeakProcBackend;
use crate::error::{short, shown, Error, Result, NAME_SHOWN};
use crate::library::{Function, KernelLibrary, Library, STATIC_HANDLE, STATIC_NAME};
use crate::slot::KernelSlot;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use veo_urpc::proto;

#[derive(Default)]
struct Libs {
    /// Loaded libraries by handle.
    open: HashMap<u64, Library>,
    /// Libraries loaded for kernels, by path.
    by_path: HashMap<&'static str, Library>,
    statik: Option<Library>,
}

/// The libraries and kernels of one proc.
#[derive(Default)]
pub(crate) struct Registry {
    libs: Mutex<Libs>,
    /// The kernels of `#[ve_kernel]` stubs, for a stub whose own slot
    /// misses (see [`KernelSlot`]): by the address and length of the
    /// library's `&'static str` key (no hashing of a long path; two equal
    /// keys at different addresses only make two entries), then by symbol.
    kernels: Mutex<FxHashMap<(usize, usize), FxHashMap<String, Function>>>,
    /// Bumped when entries leave `kernels`, so that the addresses the
    /// stubs' slots keep are not used any more.
    generation: AtomicU64,
}

impl Registry {
    fn libs(&self) -> std::sync::MutexGuard<'_, Libs> {
        self.libs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The loaded libraries, by handle.
    pub(crate) fn libraries(&self) -> Vec<Library> {
        let mut v: Vec<Library> = self.libs().open.values().cloned().collect();
        v.sort_by_key(|l| l.handle());
        v
    }
}

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
        self.registry.libs().open.insert(handle, lib.clone());
        Ok(lib)
    }

    /// The kernels linked into the helper program itself.
    pub(crate) fn static_library(self: &Arc<Self>) -> Result<Library> {
        self.life.check()?;
        let mut libs = self.registry.libs();
        Ok(libs
            .statik
            .get_or_insert_with(|| Library::new(STATIC_HANDLE, STATIC_NAME.into(), self.weak()))
            .clone())
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
        {
            let mut libs = self.registry.libs();
            libs.open.remove(&lib.handle());
            libs.by_path.retain(|_, l| l.handle() != lib.handle());
        }
        self.registry
            .kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, fns| {
                fns.values()
                    .all(|f| !Arc::ptr_eq(&f.shared.loaded, &lib.inner.loaded))
            });
        self.registry.generation.fetch_add(1, Ordering::AcqRel);
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
        let libs = self.registry.libraries();
        for lib in &libs {
            if lib.cached(name).is_some() {
                return lib.function(name);
            }
        }
        for lib in &libs {
            if let Ok(f) = lib.function(name) {
                return Ok(f);
            }
        }
        self.static_library()?.function(name).map_err(|e| match e {
            Error::SymbolNotFound { message, .. } => Error::SymbolNotFound {
                name: short(name, NAME_SHOWN),
                library: "any loaded library or the static library".into(),
                message,
            },
            e => e,
        })
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
        // Read before the lookup: an unload meanwhile leaves the slot stale.
        let generation = self.registry.generation.load(Ordering::Acquire);
        if let Some(addr) = slot.get(self.id, generation) {
            return Ok(addr);
        }
        self.kernel_addr_slow(slot, lib, symbol, generation)
    }

    #[cold]
    #[inline(never)]
    fn kernel_addr_slow(
        self: &Arc<Self>,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        generation: u64,
    ) -> Result<u64> {
        let f = self.kernel(lib, symbol)?;
        f.check(self.id)?;
        if let Some(t) = self.life.trace.get() {
            t.name(f.addr, slot.name().unwrap_or(symbol));
        }
        slot.put(self.id, generation, f.addr);
        Ok(f.addr)
    }

    /// The kernel `symbol` of `lib`, loading the library on first use;
    /// cached per library and symbol.
    pub(crate) fn kernel(self: &Arc<Self>, lib: &KernelLibrary, symbol: &str) -> Result<Function> {
        // Cached under the key the stubs ask with (not the resolved one, or
        // `Path("static")` would miss the cache on every call).
        let key = (lib.key().as_ptr() as usize, lib.key().len());
        let cached = self
            .registry
            .kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .and_then(|m| m.get(symbol))
            .cloned();
        if let Some(f) = cached {
            return Ok(f);
        }
        let lib = match lib {
            KernelLibrary::Path(p) => KernelLibrary::from_build(p),
            KernelLibrary::Built(b) if b.is_static() => KernelLibrary::Static,
            other => *other,
        };
        let library = match lib {
            KernelLibrary::Static => self.static_library()?,
            KernelLibrary::Built(b) => {
                let cached = self.registry.libs().by_path.get(b.path()).cloned();
                match cached {
                    Some(l) => l,
                    None => {
                        let path = crate::locate::locate(b)?;
                        let l = self.load_library(Path::new(&path))?;
                        self.registry.libs().by_path.insert(b.path(), l.clone());
                        l
                    }
                }
            }
            KernelLibrary::Path(path) => {
                let cached = self.registry.libs().by_path.get(path).cloned();
                match cached {
                    Some(l) => l,
                    None => {
                        let l = self.load_library(Path::new(path))?;
                        self.registry.libs().by_path.insert(path, l.clone());
                        l
                    }
                }
            }
        };
        let f = library.function(symbol)?;
        self.registry
            .kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .insert(symbol.to_string(), f.clone());
        Ok(f)
    }
}
