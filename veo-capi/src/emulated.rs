//! What only this libveo.so has: a marker that says the "VE" behind it is
//! veo-rs's emulated VE, and calls that take the class of the kernel's
//! result. Declared in `include/veo_rs.h`.
//!
//! veo-runtime's AVEO backend, driving a libveo.so, needs both: with this
//! library the kernels are host code (a host library is then the right
//! kind of binary, not a mistake to refuse), and a host's `float` or
//! `double` result is in another register than an integer one, which
//! AVEO's `veo_call_async` learns only from the kernel's debug information
//! (`crate::results`); a caller that knows the type says it. The result
//! then reads as on a VE: a `float` in the upper 32 bits.

use crate::context::{call, call_sync, submit};
use crate::types::{veo_args, veo_proc_handle, veo_thr_ctxt};
use libc::c_int;
use veo_runtime::ResultKind;

/// `VEO_RS_RET_U64`: the result is an integer, a pointer or nothing.
const RET_U64: c_int = 0;
/// `VEO_RS_RET_FLOAT`.
const RET_FLOAT: c_int = 1;
/// `VEO_RS_RET_DOUBLE`.
const RET_DOUBLE: c_int = 2;

/// The marker: non-zero, the version of these extensions.
#[no_mangle]
pub extern "C" fn veo_rs_emulated_ve() -> c_int {
    1
}

/// The result kind of class `ret`.
fn kind_of(ret: c_int) -> Result<ResultKind, String> {
    match ret {
        RET_U64 => Ok(ResultKind::Integer),
        RET_FLOAT => Ok(ResultKind::F32),
        RET_DOUBLE => Ok(ResultKind::F64),
        other => Err(format!(
            "result class {other} is none of VEO_RS_RET_U64, _FLOAT, _DOUBLE"
        )),
    }
}

/// `veo_call_async` of a kernel whose C result has the class `ret`.
#[no_mangle]
pub unsafe extern "C" fn veo_rs_call_async_ret(
    ctx: *mut veo_thr_ctxt,
    addr: u64,
    args: *mut veo_args,
    ret: c_int,
) -> u64 {
    submit("veo_rs_call_async_ret", ctx, |c| {
        call(c, addr, args, Some(kind_of(ret)?))
    })
}

/// `veo_call_sync` of a kernel whose C result has the class `ret`.
#[no_mangle]
pub unsafe extern "C" fn veo_rs_call_sync_ret(
    h: *mut veo_proc_handle,
    addr: u64,
    args: *mut veo_args,
    ret: c_int,
    result: *mut u64,
) -> c_int {
    const F: &str = "veo_rs_call_sync_ret";
    match kind_of(ret) {
        Ok(kind) => call_sync(F, h, addr, args, result, Some(kind)),
        Err(e) => crate::diag::fail(F, libc::EINVAL, e, -1),
    }
}
