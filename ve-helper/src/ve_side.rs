//! The VE side of AVEO for kernels: what aveorun's `libaveoVE` and the VE's
//! `libveohmem` give kernels on a real VE (`veo_prev_req_result`,
//! `veo_is_ve_addr`, `veo_get_hmem_addr`, the proc identifier functions).
//!
//! Those functions are C (csrc/aveo_ve.c), built by the build script as
//! `libaveoVE.so` and `libveohmem.so` and embedded in the helper.
//! [`install`] writes each into a memfd and loads it with `RTLD_GLOBAL`
//! before any kernel library, so that a kernel resolves them whatever the
//! program hosting the helper exports (a Rust program linked without
//! `-rdynamic`, a C program linking `libveo.so`); a kernel linked with
//! `-laveoVE` or `-lveohmem` finds its dependency already loaded, under
//! that soname. The C side reaches the helper through [`VeSideTable`].
//!
//! [`RecentResults`] is the small ring of results each context worker
//! keeps for `veo_prev_req_result`.

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
use std::cell::Cell;
use std::ffi::c_int;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;

/// How many of its latest results a context worker keeps.
pub(crate) const RECENT: usize = 16;

/// The results of a worker's latest replies, newest last: what
/// `veo_prev_req_result` reads. Written once per reply (a few stores, no
/// allocation), read only by kernels on the worker's own thread.
pub(crate) struct RecentResults {
    /// Replies recorded so far.
    count: Cell<u64>,
    /// Reply `n` at `n % RECENT`: its value, and whether the request
    /// succeeded (a failed one has no result).
    slots: [Cell<(u64, bool)>; RECENT],
}

impl RecentResults {
    pub(crate) fn new() -> Rc<RecentResults> {
        Rc::new(RecentResults {
            count: Cell::new(0),
            slots: Default::default(),
        })
    }

    /// Records the result of the reply just sent.
    #[inline]
    pub(crate) fn record(&self, ok: bool, value: u64) {
        let n = self.count.get();
        self.slots[(n % RECENT as u64) as usize].set((value, ok));
        self.count.set(n.wrapping_add(1));
    }

    /// The result of the reply sent `offs` replies ago (0: the latest), if
    /// it is still kept and its request succeeded.
    pub(crate) fn get(&self, offs: usize) -> Option<u64> {
        let n = self.count.get();
        if offs >= RECENT || offs as u64 >= n {
            return None;
        }
        let (value, ok) = self.slots[((n - 1 - offs as u64) % RECENT as u64) as usize].get();
        ok.then_some(value)
    }
}

thread_local! {
    /// The results of the worker running on this thread, for the kernels
    /// it calls; null on other threads (a kernel's own threads included).
    static CURRENT: Cell<*const RecentResults> = const { Cell::new(std::ptr::null()) };
}

/// Makes a worker's results those that `veo_prev_req_result` reads on this
/// thread, until dropped.
pub(crate) struct Current {
    /// Keeps the results alive as long as [`CURRENT`] points at them.
    results: Rc<RecentResults>,
}

impl Current {
    pub(crate) fn enter(results: Rc<RecentResults>) -> Current {
        CURRENT.with(|c| c.set(Rc::as_ptr(&results)));
        Current { results }
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        CURRENT.with(|c| {
            if c.get() == Rc::as_ptr(&self.results) {
                c.set(std::ptr::null());
            }
        });
    }
}

/// What the helper gives the C side; the same layout as
/// `struct veo_rs_ve_table` in csrc/aveo_ve.c.
#[repr(C)]
struct VeSideTable {
    size: u64,
    prev_req_result: extern "C" fn(c_int, *mut u64) -> c_int,
}

static TABLE: VeSideTable = VeSideTable {
    size: std::mem::size_of::<VeSideTable>() as u64,
    prev_req_result,
};

/// `veo_prev_req_result` (checked for a null `result` and a negative
/// `offs` on the C side too): 0 with the result, or -1.
extern "C" fn prev_req_result(offs: c_int, result: *mut u64) -> c_int {
    let Ok(offs) = usize::try_from(offs) else {
        return -1;
    };
    if result.is_null() {
        return -1;
    }
    let current = CURRENT.with(Cell::get);
    if current.is_null() {
        return -1;
    }
    // SAFETY: a non-null CURRENT points at the results a `Current` on this
    // thread keeps alive; they are only touched through shared references
    // (cells), and by this thread alone.
    let value = unsafe { &*current }.get(offs);
    match value {
        Some(v) => {
            // SAFETY: the kernel passed a pointer to a uint64_t to write,
            // checked non-null above; that is veo_prev_req_result's contract.
            unsafe { result.write_unaligned(v) };
            0
        }
        None => -1,
    }
}

/// The libraries, as the build script made them, and whether each takes
/// the [`VeSideTable`] (`veo_rs_ve_install`).
const LIBRARIES: [(&str, &[u8], bool); 2] = [
    (
        "libaveoVE.so",
        include_bytes!(concat!(env!("OUT_DIR"), "/libaveoVE.so")),
        true,
    ),
    (
        "libveohmem.so",
        include_bytes!(concat!(env!("OUT_DIR"), "/libveohmem.so")),
        false,
    ),
];

/// Writes the VE-side AVEO libraries, `libaveoVE.so` and `libveohmem.so`,
/// into `dir` (created if missing) and returns their paths: for a kernel
/// build line that names `-laveoVE` or `-lveohmem`, with `-L dir`.
///
/// They are needed only to link. At run time the helper has loaded its own
/// copies before any kernel library, and the loader matches a kernel's
/// dependency on `libaveoVE.so` or `libveohmem.so` to them by soname, so
/// the directory need not be on any library path.
pub fn write_ve_side_libraries(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::with_capacity(LIBRARIES.len());
    for (name, bytes, _) in LIBRARIES {
        let path = dir.join(name);
        std::fs::write(&path, bytes)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Loads the VE-side libraries with `RTLD_GLOBAL` and installs the table
/// in them. Called once when the helper starts, before any kernel library
/// is loaded. A failure is reported on standard error and the helper
/// serves on: only kernels that call these functions then fail to load,
/// with the loader naming the missing symbol.
pub(crate) fn install() {
    // Every memfd stays open until all are loaded: the loader knows a
    // library by its path, and /proc/self/fd/N must name a different file
    // each time.
    let mut fds = Vec::with_capacity(LIBRARIES.len());
    for (name, bytes, table) in LIBRARIES {
        match load(name, bytes, table) {
            Ok(fd) => fds.push(fd),
            Err(e) => eprintln!(
                "ve-helper: cannot load the VE-side library {name}: {e}; \
                 kernels that call veo_prev_req_result or veo_get_hmem_addr will not load"
            ),
        }
    }
}

fn load(name: &str, bytes: &[u8], table: bool) -> Result<OwnedFd, String> {
    let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| format!("memfd_create: {e}"))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes).map_err(|e| format!("write: {e}"))?;
    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
    // SAFETY: loading our own library, built from csrc/aveo_ve.c, whose
    // only initialiser is the C runtime's.
    let lib = unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_GLOBAL) }
        .map_err(|e| with_sources(&e))?;
    if table {
        // SAFETY: veo_rs_ve_install has this signature in csrc/aveo_ve.c.
        let installer =
            unsafe { lib.get::<unsafe extern "C" fn(*const VeSideTable)>(b"veo_rs_ve_install\0") }
                .map_err(|e| with_sources(&e))?;
        // SAFETY: TABLE is static and has the layout the C side expects.
        unsafe { installer(&TABLE) };
    }
    // Loaded for the life of the process: kernels may call into it any time.
    let _ = lib.into_raw();
    Ok(file.into())
}

/// An error with its sources: libloading's own message is only "dlopen
/// failed"; the loader's is in the source.
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_results_count_back_from_the_latest_reply() {
        let r = RecentResults::new();
        assert_eq!(r.get(0), None, "no reply yet");
        r.record(true, 10);
        r.record(false, 99);
        r.record(true, 30);
        assert_eq!(r.get(0), Some(30));
        assert_eq!(r.get(1), None, "a failed request has no result");
        assert_eq!(r.get(2), Some(10));
        assert_eq!(r.get(3), None, "older than the first reply");
        for i in 0..100 {
            r.record(true, i);
        }
        assert_eq!(r.get(0), Some(99));
        assert_eq!(r.get(RECENT - 1), Some(100 - RECENT as u64));
        assert_eq!(r.get(RECENT), None, "no longer kept");
    }

    #[test]
    fn prev_req_result_reads_the_current_threads_worker_only() {
        let mut out = 0u64;
        assert_eq!(prev_req_result(0, &mut out), -1, "no worker on this thread");
        let r = RecentResults::new();
        r.record(true, 7);
        let current = Current::enter(r.clone());
        assert_eq!(prev_req_result(0, &mut out), 0);
        assert_eq!(out, 7);
        assert_eq!(prev_req_result(-1, &mut out), -1);
        assert_eq!(prev_req_result(0, std::ptr::null_mut()), -1);
        let other = std::thread::spawn(|| {
            let mut out = 0u64;
            prev_req_result(0, &mut out)
        });
        assert_eq!(other.join().unwrap(), -1);
        drop(current);
        assert_eq!(prev_req_result(0, &mut out), -1);
    }
}
