//! Loaded kernel libraries, and the static library (the program itself).

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
use std::collections::HashMap;
use std::sync::Mutex;

/// The handle of the static library: kernels linked into the helper program.
pub(crate) const STATIC_HANDLE: u64 = 0;

#[derive(Default)]
pub(crate) struct Libraries {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    open: HashMap<u64, Library>,
}

impl Libraries {
    /// Loads `path`, resolving every symbol now so that a library with
    /// unresolved symbols fails here and not in the middle of a call. Its
    /// symbols become visible to libraries loaded later (`RTLD_GLOBAL`, as
    /// AVEO's VE side loads them), so a library may use another's.
    pub(crate) fn load(&self, path: &[u8]) -> Result<u64, String> {
        if path.contains(&0) {
            return Err("the path contains a NUL byte".into());
        }
        // glibc answers "No such file or directory" for a library of another
        // machine (a VE library): refuse it first, saying what it is.
        use veo_urpc::elf;
        let file = std::path::Path::new(std::ffi::OsStr::from_encoded_bytes_checked(path));
        if let Some(why) = elf::mismatch(file, elf::Binary::Library, elf::Side::Emulated) {
            return Err(why);
        }
        let path = std::ffi::OsStr::from_encoded_bytes_checked(path);
        // SAFETY: running a library's initialisers is what loading a kernel
        // library means; the VH asked for exactly this file.
        let lib = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }
            .map_err(|e| loader_message(&e))?;
        let mut inner = self.inner.lock().unwrap();
        inner.next += 1;
        let handle = inner.next;
        inner.open.insert(handle, lib);
        Ok(handle)
    }

    pub(crate) fn unload(&self, handle: u64) -> Result<(), String> {
        let lib = self
            .inner
            .lock()
            .unwrap()
            .open
            .remove(&handle)
            .ok_or_else(|| format!("no library with handle {handle}"))?;
        lib.close().map_err(|e| loader_message(&e))
    }

    /// The address of `name` in library `handle`.
    pub(crate) fn symbol(&self, handle: u64, name: &[u8]) -> Result<u64, String> {
        if name.contains(&0) {
            return Err("the name contains a NUL byte".into());
        }
        let lookup = |lib: &Library| {
            // SAFETY: the symbol is only read as an address, never called or
            // dereferenced here.
            unsafe { lib.get::<*const libc::c_void>(name) }
                .map(|s| unsafe_addr(&s))
                .map_err(|e| loader_message(&e))
        };
        if handle == STATIC_HANDLE {
            // Registered by a `#[ve_kernel(static)]` block, else exported by
            // the program (`-rdynamic`).
            if let Some(addr) = crate::statics::find(name) {
                return Ok(addr);
            }
            return lookup(&Library::this()).map_err(|e| {
                format!(
                    "{e} (a kernel linked into the program is found when a \
                     #[ve_kernel(static)] block declares it, or when the program \
                     exports it with -rdynamic)"
                )
            });
        }
        let inner = self.inner.lock().unwrap();
        let lib = inner
            .open
            .get(&handle)
            .ok_or_else(|| format!("no library with handle {handle}"))?;
        lookup(lib)
    }
}

/// The loader's own words: libloading's `Display` says only "dlopen
/// failed"; `dlerror`'s message is in the error's source.
fn loader_message(e: &libloading::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn unsafe_addr(s: &libloading::os::unix::Symbol<*const libc::c_void>) -> u64 {
    **s as u64
}

/// `OsStr::from_encoded_bytes_unchecked` needs bytes from an OsStr; on Unix
/// any bytes are a valid OsStr, which `OsStrExt` expresses safely.
trait FromBytes {
    fn from_encoded_bytes_checked(b: &[u8]) -> &std::ffi::OsStr;
}
impl FromBytes for std::ffi::OsStr {
    fn from_encoded_bytes_checked(b: &[u8]) -> &std::ffi::OsStr {
        std::os::unix::ffi::OsStrExt::from_bytes(b)
    }
}
