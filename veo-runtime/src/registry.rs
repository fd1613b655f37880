//! The library registry of a proc, whatever its backend: the libraries
//! loaded into it, the static library, and the kernels of `#[ve_kernel]`
//! stubs by library and symbol (what a stub's own [`KernelSlot`] falls back
//! on). Each backend keeps one [`Registry`] and does the loading itself
//! ([`Loader`]); the bookkeeping, the same for both, is here.
//!
//! [`KernelSlot`]: crate::slot::KernelSlot

use crate::error::{short, Error, Result, NAME_SHOWN};
use crate::library::{BuiltLibrary, Function, KernelLibrary, Library};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a backend does for the registry: load a library, and give its
/// static library.
pub(crate) trait Loader {
    /// Loads the library file at `path` (a user's `load_library`), and
    /// records it as open ([`Registry::opened`]).
    fn load_library(&self, path: &Path) -> Result<Library>;

    /// Loads `built`, found on this machine at `path`, for its kernels.
    /// The default loads the file; a backend whose loader cannot open
    /// `path` (an in-memory file) overrides it.
    fn load_built(&self, built: &BuiltLibrary, path: &str) -> Result<Library> {
        let _ = built;
        self.load_library(Path::new(path))
    }

    /// The kernels linked into the program that plays (or is) the VE.
    fn static_library(&self) -> Result<Library>;
}

#[derive(Default)]
struct Libs {
    /// Loaded libraries by handle.
    open: HashMap<u64, Library>,
    /// Libraries loaded for kernels, by the stubs' key.
    by_path: HashMap<&'static str, Library>,
    statik: Option<Library>,
}

/// The libraries and kernels of one proc.
#[derive(Default)]
pub(crate) struct Registry {
    libs: Mutex<Libs>,
    /// The kernels of `#[ve_kernel]` stubs, for a stub whose own slot
    /// misses: by the address and length of the library's `&'static str`
    /// key (no hashing of a long path; two equal keys at different
    /// addresses only make two entries), then by symbol.
    kernels: Mutex<FxHashMap<(usize, usize), FxHashMap<String, Function>>>,
    /// Bumped when entries leave `kernels`, so that the addresses the
    /// stubs' slots keep are not used any more.
    generation: AtomicU64,
}

impl Registry {
    fn libs(&self) -> MutexGuard<'_, Libs> {
        self.libs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The generation of the kernels: read it before a lookup, and keep an
    /// address in a slot under it (an unload meanwhile leaves it stale).
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The loaded libraries, by handle.
    pub(crate) fn libraries(&self) -> Vec<Library> {
        let mut v: Vec<Library> = self.libs().open.values().cloned().collect();
        v.sort_by_key(|l| l.handle());
        v
    }

    /// Records `lib`, just loaded, as open.
    pub(crate) fn opened(&self, lib: &Library) {
        self.libs().open.insert(lib.handle(), lib.clone());
    }

    /// The static library, made by `make` the first time.
    pub(crate) fn static_library(&self, make: impl FnOnce() -> Library) -> Library {
        self.libs().statik.get_or_insert_with(make).clone()
    }

    /// Forgets `lib`, being unloaded, and every kernel found in it; the
    /// stubs' slots see a new generation.
    pub(crate) fn forget(&self, lib: &Library) {
        {
            let mut libs = self.libs();
            libs.open.remove(&lib.handle());
            libs.by_path.retain(|_, l| l.handle() != lib.handle());
        }
        self.kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, fns| {
                fns.values()
                    .all(|f| !Arc::ptr_eq(&f.shared.loaded, &lib.inner.loaded))
            });
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// `name` in the loaded libraries (those that know it first), then the
    /// static library.
    pub(crate) fn get_function(&self, loader: &impl Loader, name: &str) -> Result<Function> {
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
        loader
            .static_library()?
            .function(name)
            .map_err(|e| match e {
                Error::SymbolNotFound { message, .. } => Error::SymbolNotFound {
                    name: short(name, NAME_SHOWN),
                    library: "any loaded library or the static library".into(),
                    message,
                },
                e => e,
            })
    }

    /// The kernel `symbol` of `lib`, loading the library on first use;
    /// cached per library and symbol.
    pub(crate) fn kernel(
        &self,
        loader: &impl Loader,
        lib: &KernelLibrary,
        symbol: &str,
    ) -> Result<Function> {
        // Cached under the key the stubs ask with (not the resolved one, or
        // `Path("static")` would miss the cache on every call).
        let key = (lib.key().as_ptr() as usize, lib.key().len());
        let cached = self
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
            KernelLibrary::Static => loader.static_library()?,
            KernelLibrary::Built(b) => self.for_kernels(b.path(), || {
                let path = crate::locate::locate(b)?;
                loader.load_built(b, &path)
            })?,
            KernelLibrary::Path(path) => {
                self.for_kernels(path, || loader.load_library(Path::new(path)))?
            }
        };
        let f = library.function(symbol)?;
        self.kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .insert(symbol.to_string(), f.clone());
        Ok(f)
    }

    /// The library loaded for kernels under `key`, loaded by `load` the
    /// first time.
    fn for_kernels(
        &self,
        key: &'static str,
        load: impl FnOnce() -> Result<Library>,
    ) -> Result<Library> {
        let cached = self.libs().by_path.get(key).cloned();
        if let Some(l) = cached {
            return Ok(l);
        }
        let l = load()?;
        self.libs().by_path.insert(key, l.clone());
        Ok(l)
    }
}
