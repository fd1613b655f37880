//! Loaded kernel libraries, and the static library (the program itself).

use crate::lock;
use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
use std::collections::HashMap;
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The handle of the static library: kernels linked into the helper program.
pub(crate) const STATIC_HANDLE: u64 = 0;

#[derive(Default)]
pub(crate) struct Libraries {
    inner: Mutex<Inner>,
    /// Unloaded libraries whose close waits for calls queued before the
    /// unload (see [`Libraries::unload`]).
    retiring: Mutex<Vec<Retiring>>,
    /// `retiring.len()`, read without the lock after every command.
    retiring_count: AtomicUsize,
}

/// How far a channel's worker got, for deferred closes: the ring position
/// past the last command it finished, and which opening of the channel it
/// serves (bumped when a worker is started and when it ends).
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct Progress {
    pub done: AtomicU64,
    pub opening: AtomicU64,
}

/// A channel's commands that were published before an unload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Behind {
    pub channel: usize,
    pub opening: u64,
    pub tail: u64,
}

impl Behind {
    /// Whether every command before the unload on this channel has finished
    /// (or the worker that had them has ended).
    fn passed(&self, progress: &[Progress]) -> bool {
        let p = &progress[self.channel];
        p.opening.load(Ordering::Acquire) != self.opening
            || p.done.load(Ordering::Acquire) >= self.tail
    }
}

struct Retiring {
    lib: Library,
    behind: Vec<Behind>,
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
        let mut inner = lock(&self.inner);
        inner.next += 1;
        let handle = inner.next;
        inner.open.insert(handle, lib);
        Ok(handle)
    }

    /// Unloads library `handle`. Calls into it may still be queued or
    /// running on other channels (`behind`: what each had published when
    /// the unload arrived): then the `dlclose` waits until they have all
    /// finished, and the last worker to finish one does it. The handle is
    /// gone at once either way.
    pub(crate) fn unload(
        &self,
        handle: u64,
        behind: Vec<Behind>,
        progress: &[Progress],
    ) -> Result<(), String> {
        let lib = lock(&self.inner)
            .open
            .remove(&handle)
            .ok_or_else(|| format!("no library with handle {handle}"))?;
        if behind.iter().all(|b| b.passed(progress)) {
            return lib.close().map_err(|e| loader_message(&e));
        }
        lock(&self.retiring).push(Retiring { lib, behind });
        self.retiring_count.fetch_add(1, Ordering::SeqCst);
        // Pairs with the fence of a worker going idle: either it sees the
        // count, or the check below sees its progress.
        fence(Ordering::SeqCst);
        self.close_retired(progress);
        Ok(())
    }

    /// Whether libraries wait for their close (cheap: one load).
    #[inline]
    pub(crate) fn retiring(&self) -> bool {
        self.retiring_count.load(Ordering::Relaxed) != 0
    }

    /// Closes the unloaded libraries whose calls have all finished. A
    /// failing `dlclose` here has nobody to tell: the library stays mapped.
    pub(crate) fn close_retired(&self, progress: &[Progress]) {
        let mut retiring = lock(&self.retiring);
        let mut i = 0;
        while i < retiring.len() {
            if retiring[i].behind.iter().all(|b| b.passed(progress)) {
                let r = retiring.swap_remove(i);
                let _ = r.lib.close();
            } else {
                i += 1;
            }
        }
        self.retiring_count.store(retiring.len(), Ordering::SeqCst);
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
        let inner = lock(&self.inner);
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
