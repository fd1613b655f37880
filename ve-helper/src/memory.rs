//! "VE memory": the helper's own address space, accessed so that a bad
//! address is an error and never a crash.

use std::collections::HashMap;
use std::sync::Mutex;

/// Why an access failed.
#[derive(Debug)]
pub(crate) struct BadAddress(pub String);

/// Copies `len` bytes from `src` to `dst`, either of which may be any
/// address: `process_vm_readv` on ourselves reports unmapped memory as
/// `EFAULT` instead of faulting (memory a kernel allocated with its own
/// `malloc` is reachable too, unlike with a table of our allocations).
pub(crate) fn copy(dst: u64, src: u64, len: u64) -> Result<(), BadAddress> {
    if len == 0 {
        return Ok(());
    }
    if dst.checked_add(len).is_none() || src.checked_add(len).is_none() {
        return Err(BadAddress("address + length overflows".into()));
    }
    let mut done = 0u64;
    while done < len {
        let local = libc::iovec {
            iov_base: (dst + done) as *mut libc::c_void,
            iov_len: (len - done) as usize,
        };
        let remote = libc::iovec {
            iov_base: (src + done) as *mut libc::c_void,
            iov_len: (len - done) as usize,
        };
        // SAFETY: the kernel checks both ranges against our mappings and
        // returns EFAULT instead of touching unmapped memory; no Rust
        // reference covers the destination while it is written.
        let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(BadAddress(format!("{e}")));
        }
        if n == 0 {
            return Err(BadAddress("not mapped".into()));
        }
        done += n as u64;
    }
    Ok(())
}

/// The allocations made through the VEO API, so that `free` of anything else
/// is an error instead of heap corruption.
#[derive(Default)]
pub(crate) struct Allocations {
    live: Mutex<HashMap<u64, u64>>,
}

impl Allocations {
    pub(crate) fn alloc(&self, size: u64) -> Option<u64> {
        let size = usize::try_from(size).ok()?;
        let mut p = std::ptr::null_mut();
        // SAFETY: posix_memalign writes a pointer or fails; 64 is a power of
        // two multiple of the pointer size.
        let rc = unsafe { libc::posix_memalign(&mut p, 64, size.max(1)) };
        if rc != 0 || p.is_null() {
            return None;
        }
        let addr = p as u64;
        self.live.lock().unwrap().insert(addr, size as u64);
        Some(addr)
    }

    pub(crate) fn free(&self, addr: u64) -> Result<(), BadAddress> {
        if self.live.lock().unwrap().remove(&addr).is_none() {
            return Err(BadAddress(
                "not allocated by this proc, or already freed".into(),
            ));
        }
        // SAFETY: addr came from posix_memalign in `alloc` and was removed
        // from the table, so it is freed exactly once.
        unsafe { libc::free(addr as *mut libc::c_void) };
        Ok(())
    }
}
