//! Synchronous VE memory: `veo_alloc_mem`, `veo_free_mem`, `veo_read_mem`,
//! `veo_write_mem`.

use crate::diag::{errno_of, fail, guard};
use crate::handles;
use crate::proc::after_main_queue;
use crate::types::veo_proc_handle;
use libc::{c_int, c_void};
use veo_runtime::{Error, VePtr};

#[no_mangle]
pub unsafe extern "C" fn veo_alloc_mem(
    h: *mut veo_proc_handle,
    addr: *mut u64,
    size: usize,
) -> c_int {
    const F: &str = "veo_alloc_mem";
    guard(F, -2, || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, -2),
        };
        if addr.is_null() {
            return fail(F, libc::EINVAL, "the address pointer is NULL", -2);
        }
        after_main_queue(&p);
        match p.proc.alloc_mem(size as u64) {
            Ok(a) => {
                // SAFETY: non-NULL, and the caller's to write per the declaration.
                unsafe { *addr = a.addr() };
                if a.addr() == 0 {
                    return fail(F, libc::ENOMEM, "the VE returned address 0", -1);
                }
                0
            }
            Err(e @ Error::OutOfMemory { .. }) => {
                // SAFETY: as above.
                unsafe { *addr = 0 };
                fail(F, libc::ENOMEM, &e, -1)
            }
            Err(e) => fail(F, errno_of(&e), &e, -2),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_free_mem(h: *mut veo_proc_handle, addr: u64) -> c_int {
    const F: &str = "veo_free_mem";
    guard(F, -1, || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, -1),
        };
        if addr == 0 {
            // free(NULL) on the VE: nothing to do.
            return 0;
        }
        after_main_queue(&p);
        match p.proc.free_mem(VePtr::<u8>::new(addr)) {
            Ok(()) => 0,
            Err(e) => fail(F, errno_of(&e), &e, -1),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_read_mem(
    h: *mut veo_proc_handle,
    dst: *mut c_void,
    src: u64,
    size: usize,
) -> c_int {
    const F: &str = "veo_read_mem";
    guard(F, -1, || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, -1),
        };
        if size == 0 {
            return 0;
        }
        if dst.is_null() {
            return fail(F, libc::EINVAL, "the destination is NULL", -1);
        }
        after_main_queue(&p);
        // SAFETY: the caller's contract: `dst` is writable for `size` bytes.
        let dst = unsafe { std::slice::from_raw_parts_mut(dst as *mut u8, size) };
        match p.proc.read(dst, VePtr::<u8>::new(src)) {
            Ok(()) => 0,
            Err(e) => fail(F, errno_of(&e), &e, -1),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_write_mem(
    h: *mut veo_proc_handle,
    dst: u64,
    src: *const c_void,
    size: usize,
) -> c_int {
    const F: &str = "veo_write_mem";
    guard(F, -1, || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, -1),
        };
        if size == 0 {
            return 0;
        }
        if src.is_null() {
            return fail(F, libc::EINVAL, "the source is NULL", -1);
        }
        after_main_queue(&p);
        // SAFETY: the caller's contract: `src` is readable for `size` bytes.
        let src = unsafe { std::slice::from_raw_parts(src as *const u8, size) };
        match p.proc.write(VePtr::<u8>::new(dst), src) {
            Ok(()) => 0,
            Err(e) => fail(F, errno_of(&e), &e, -1),
        }
    })
}
