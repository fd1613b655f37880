//! The libraries of an AVEO proc as the public types see them
//! ([`Library`], [`Function`]), the static library (the helper program's
//! own kernels, `veo_get_sym(proc, 0, name)`), and the kernels of
//! `#[ve_kernel]` stubs by library and symbol.

use super::proc::{AveoProc, ProcInner};
use crate::backend::WeakProcBackend;
use crate::error::{short, Error, Result, NAME_SHOWN};
use crate::library::{Function, KernelLibrary, Library, STATIC_HANDLE, STATIC_NAME};
use crate::slot::KernelSlot;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct Libs {
    /// Loaded libraries by handle.
    open: HashMap<u64, Library>,
    /// Libraries loaded for kernels, by the stubs' key.
    by_path: HashMap<&'static str, Library>,
    statik: Option<Library>,
}

/// The libraries and kernels of one AVEO proc.
#[derive(Default)]
pub(crate) struct Registry {
    libs: Mutex<Libs>,
    /// Kernels of `#[ve_kernel]` stubs, by the address and length of the
    /// library's key, then by symbol.
    kernels: Mutex<HashMap<(usize, usize), HashMap<String, Function>>>,
    /// Bumped when kernels are forgotten (an unload): the stubs' slots
    /// keep addresses of one generation.
    generation: AtomicU64,
}

impl Registry {
    fn libs(&self) -> MutexGuard<'_, Libs> {
        self.libs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ProcInner {
    fn weak(self: &Arc<Self>) -> WeakProcBackend {
        WeakProcBackend::Aveo(Arc::downgrade(self))
    }

    fn as_proc(self: &Arc<Self>) -> AveoProc {
        AveoProc {
            inner: self.clone(),
        }
    }

    /// The loaded libraries, by handle.
    pub(crate) fn libraries(&self) -> Vec<Library> {
        let mut v: Vec<Library> = self.registry.libs().open.values().cloned().collect();
        v.sort_by_key(|l| l.handle());
        v
    }

    /// Loads the library at `path` (`veo_load_library`).
    pub(crate) fn load_library(self: &Arc<Self>, path: &Path) -> Result<Library> {
        self.check()?;
        let handle = self.as_proc().load_library(path)?;
        let lib = Library::new(handle, path.display().to_string(), self.weak());
        self.registry.libs().open.insert(handle, lib.clone());
        Ok(lib)
    }

    /// The kernels linked into the helper program (a static helper's).
    pub(crate) fn static_library(self: &Arc<Self>) -> Result<Library> {
        self.check()?;
        let mut libs = self.registry.libs();
        Ok(libs
            .statik
            .get_or_insert_with(|| Library::new(STATIC_HANDLE, STATIC_NAME.into(), self.weak()))
            .clone())
    }

    /// The address of `name` in the library `handle` (named `library`).
    pub(crate) fn symbol(self: &Arc<Self>, handle: u64, library: &str, name: &str) -> Result<u64> {
        self.check()?;
        self.as_proc().symbol_in(handle, library, name)
    }

    /// Unloads `lib` (its flag is cleared already).
    pub(crate) fn unload(self: &Arc<Self>, lib: &Library) -> Result<()> {
        self.check()?;
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
        self.as_proc().unload_library(lib.handle())
    }

    /// `name` in the loaded libraries (those that know it first), then the
    /// static library.
    pub(crate) fn get_function(self: &Arc<Self>, name: &str) -> Result<Function> {
        let libs = self.libraries();
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

    /// The address of the kernel `symbol` of `lib`, from the stub's `slot`
    /// when it answers for this proc, else found and kept there.
    #[inline]
    pub(crate) fn kernel_addr(
        self: &Arc<Self>,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
    ) -> Result<u64> {
        let generation = self.registry.generation.load(Ordering::Acquire);
        if let Some(addr) = slot.get(self.id, generation) {
            return Ok(addr);
        }
        let f = self.kernel(lib, symbol)?;
        f.check(self.id)?;
        slot.put(self.id, generation, f.addr);
        Ok(f.addr)
    }

    /// The kernel `symbol` of `lib`, loading the library on first use.
    /// An embedded library (no file of it on this machine) is written to a
    /// private file for the VE's loader.
    pub(crate) fn kernel(self: &Arc<Self>, lib: &KernelLibrary, symbol: &str) -> Result<Function> {
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
                        let l = if is_embedded(&path) {
                            self.check()?;
                            let handle = self.as_proc().load_library_image(b.name(), b.bytes())?;
                            let l = Library::new(handle, path, self.weak());
                            self.registry.libs().open.insert(handle, l.clone());
                            l
                        } else {
                            self.load_library(Path::new(&path))?
                        };
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

/// Whether `path` is the in-memory file of an embedded library
/// (`/proc/<pid>/fd/<n>`, `crate::locate`): a VE's loader, in another
/// process on another machine's memory, cannot open it.
fn is_embedded(path: &str) -> bool {
    path.strip_prefix("/proc/")
        .is_some_and(|rest| rest.contains("/fd/"))
}
