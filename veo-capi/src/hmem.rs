//! HMEM: tagged addresses, `veo_alloc_hmem`, `veo_hmemcpy` and the lookups
//! from an address to its proc, over [`veo_runtime::hmem`].

use crate::diag::{errno_of, fail, guard};
use crate::handles::{self};
use crate::types::veo_proc_handle;
use libc::{c_int, c_void};
use veo_runtime::hmem;

#[no_mangle]
pub extern "C" fn veo_is_ve_addr(addr: *const c_void) -> c_int {
    hmem::is_ve_addr(addr as u64) as c_int
}

#[no_mangle]
pub extern "C" fn veo_get_hmem_addr(addr: *mut c_void) -> *mut c_void {
    hmem::strip(addr as u64) as *mut c_void
}

#[no_mangle]
pub extern "C" fn veo_get_max_proc_identifier() -> c_int {
    hmem::MAX_PROC_IDENTIFIERS as c_int
}

#[no_mangle]
pub extern "C" fn veo_get_proc_identifier_from_hmem(addr: *const c_void) -> c_int {
    hmem::identifier_of(addr as u64).map_or(-1, |i| i as c_int)
}

#[no_mangle]
pub extern "C" fn veo_set_proc_identifier(addr: *mut c_void, proc_ident: c_int) -> *mut c_void {
    usize::try_from(proc_ident)
        .ok()
        .and_then(|i| hmem::tag(addr as u64, i))
        .unwrap_or(0) as *mut c_void
}

#[no_mangle]
pub extern "C" fn veo_get_proc_handle_from_hmem(addr: *const c_void) -> *mut veo_proc_handle {
    guard(
        "veo_get_proc_handle_from_hmem",
        std::ptr::null_mut(),
        || {
            hmem::proc_of(addr as u64)
                .and_then(|p| handles::handle_of(&p))
                .map_or(std::ptr::null_mut(), |(k, _)| k as *mut veo_proc_handle)
        },
    )
}

#[no_mangle]
pub extern "C" fn veo_get_pid_from_hmem(addr: *const c_void) -> libc::pid_t {
    guard("veo_get_pid_from_hmem", -1, || {
        hmem::proc_of(addr as u64).map_or(-1, |p| p.pid() as libc::pid_t)
    })
}

#[no_mangle]
pub extern "C" fn veo_get_venum_from_hmem(addr: *const c_void) -> c_int {
    guard("veo_get_venum_from_hmem", -1, || {
        hmem::proc_of(addr as u64).map_or(-1, |p| p.node() as c_int)
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_alloc_hmem(
    h: *mut veo_proc_handle,
    addr: *mut *mut c_void,
    size: usize,
) -> c_int {
    const F: &str = "veo_alloc_hmem";
    guard(F, -2, || {
        if addr.is_null() {
            return fail(F, libc::EINVAL, "the address pointer is NULL", -2);
        }
        if h.is_null() {
            // VH memory: a plain malloc.
            // SAFETY: malloc has no preconditions.
            let p = unsafe { libc::malloc(size) };
            // SAFETY: non-NULL, the caller's to write.
            unsafe { *addr = p };
            return if p.is_null() && size > 0 {
                fail(F, libc::ENOMEM, format!("malloc({size}) failed"), -1)
            } else {
                0
            };
        }
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, -2),
        };
        crate::proc::after_main_queue(&p);
        match p.proc.alloc_hmem(size as u64) {
            Ok(a) => {
                // SAFETY: as above.
                unsafe { *addr = a as *mut c_void };
                0
            }
            Err(e) => {
                // SAFETY: as above.
                unsafe { *addr = std::ptr::null_mut() };
                fail(F, errno_of(&e), &e, -1)
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_free_hmem(addr: *mut c_void) -> c_int {
    const F: &str = "veo_free_hmem";
    guard(F, -1, || {
        if !hmem::is_ve_addr(addr as u64) {
            // SAFETY: the caller's contract: VH memory from veo_alloc_hmem
            // (malloc), or NULL.
            unsafe { libc::free(addr) };
            return 0;
        }
        match hmem::free_hmem(addr as u64) {
            Ok(()) => 0,
            Err(e) => fail(F, errno_of(&e), &e, -1),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_hmemcpy(dst: *mut c_void, src: *const c_void, size: usize) -> c_int {
    const F: &str = "veo_hmemcpy";
    guard(F, -1, || {
        let (d, s) = (dst as u64, src as u64);
        if size > 0 && (d == 0 || s == 0) {
            return fail(F, libc::EINVAL, "an address is NULL", -1);
        }
        // SAFETY: the caller's contract for host addresses: valid for
        // `size` bytes and not overlapping.
        match unsafe { hmem::hmemcpy(d, s, size) } {
            Ok(()) => 0,
            Err(e) => fail(F, errno_of(&e), &e, -1),
        }
    })
}
