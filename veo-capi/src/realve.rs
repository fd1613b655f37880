//! The families that need a real VE (VESHM, host SysV shared memory mapped
//! for the VE, VE user DMA, PCIRCVSYC): exported so programs link, and
//! failing with their error value and `errno = ENOTSUP`, with one line on
//! stderr the first time a family is used.

use crate::diag::{report, set_errno};
use crate::types::{ve_dma_handle_t, veo_proc_handle};
use libc::{c_int, c_void, pid_t};
use std::sync::Once;

static VESHM: Once = Once::new();
static VHVESHM: Once = Once::new();
static DMA: Once = Once::new();
static PCIRCVSYC: Once = Once::new();

fn unsupported<R>(family: &Once, func: &str, what: &str, value: R) -> R {
    family.call_once(|| {
        report(
            func,
            format!("{what} needs a real VE; the emulated VE does not provide it (ENOTSUP)"),
        )
    });
    set_errno(libc::ENOTSUP);
    value
}

#[no_mangle]
pub extern "C" fn veo_shared_mem_open(
    _addr: *mut c_void,
    _size: usize,
    _syncnum: c_int,
    _mode: i64,
) -> c_int {
    unsupported(
        &VESHM,
        "veo_shared_mem_open",
        "VE shared memory (VESHM)",
        -1,
    )
}

#[no_mangle]
pub extern "C" fn veo_shared_mem_close(
    _addr: *mut c_void,
    _size: usize,
    _syncnum: c_int,
    _mode: i64,
) -> c_int {
    unsupported(
        &VESHM,
        "veo_shared_mem_close",
        "VE shared memory (VESHM)",
        -1,
    )
}

#[no_mangle]
pub extern "C" fn veo_shared_mem_attach(
    _proc: *mut veo_proc_handle,
    _pid: pid_t,
    _addr: *mut c_void,
    _size: usize,
    _syncnum: c_int,
    _mode: i64,
) -> *mut c_void {
    unsupported(
        &VESHM,
        "veo_shared_mem_attach",
        "VE shared memory (VESHM)",
        usize::MAX as *mut c_void,
    )
}

#[no_mangle]
pub extern "C" fn veo_shared_mem_detach(
    _proc: *mut veo_proc_handle,
    _addr: *mut c_void,
    _mode: i64,
) -> c_int {
    unsupported(
        &VESHM,
        "veo_shared_mem_detach",
        "VE shared memory (VESHM)",
        -1,
    )
}

const VH_SHM: &str = "host shared memory mapped for the VE (veo_shm*)";

#[no_mangle]
pub extern "C" fn veo_shmget(
    _proc: *mut veo_proc_handle,
    _key: libc::key_t,
    _size: usize,
    _flag: c_int,
) -> c_int {
    unsupported(&VHVESHM, "veo_shmget", VH_SHM, -1)
}

#[no_mangle]
pub extern "C" fn veo_shmat(
    _proc: *mut veo_proc_handle,
    _shmid: c_int,
    _shmaddr: *const c_void,
    _flag: c_int,
    _vehva: *mut *mut c_void,
) -> *mut c_void {
    unsupported(&VHVESHM, "veo_shmat", VH_SHM, usize::MAX as *mut c_void)
}

#[no_mangle]
pub extern "C" fn veo_shmdt(_proc: *mut veo_proc_handle, _shmaddr: *const c_void) -> c_int {
    unsupported(&VHVESHM, "veo_shmdt", VH_SHM, -1)
}

const VE_DMA: &str = "VE user DMA (veo_dma_*, DMAATB)";

#[no_mangle]
pub extern "C" fn veo_dma_post(
    _proc: *mut veo_proc_handle,
    _dst: u64,
    _src: u64,
    _size: c_int,
    _handle: *mut ve_dma_handle_t,
) -> c_int {
    unsupported(&DMA, "veo_dma_post", VE_DMA, -1)
}

#[no_mangle]
pub extern "C" fn veo_dma_poll(
    _proc: *mut veo_proc_handle,
    _handle: *mut ve_dma_handle_t,
) -> c_int {
    unsupported(&DMA, "veo_dma_poll", VE_DMA, -1)
}

#[no_mangle]
pub extern "C" fn veo_dma_post_wait(
    _proc: *mut veo_proc_handle,
    _dst: u64,
    _src: u64,
    _size: c_int,
) -> c_int {
    unsupported(&DMA, "veo_dma_post_wait", VE_DMA, -1)
}

#[no_mangle]
pub extern "C" fn veo_register_mem_to_dmaatb(_addr: *mut c_void, _size: usize) -> u64 {
    unsupported(&DMA, "veo_register_mem_to_dmaatb", VE_DMA, !0)
}

#[no_mangle]
pub extern "C" fn veo_unregister_mem_from_dmaatb(
    _proc: *mut veo_proc_handle,
    _vehva: u64,
) -> c_int {
    unsupported(&DMA, "veo_unregister_mem_from_dmaatb", VE_DMA, -1)
}

#[no_mangle]
pub extern "C" fn veo_access_pcircvsyc_register(_proc: *mut veo_proc_handle) {
    unsupported(
        &PCIRCVSYC,
        "veo_access_pcircvsyc_register",
        "the PCIRCVSYC register (VE DMA synchronisation)",
        (),
    )
}
