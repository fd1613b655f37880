//! What only this libveo.so has: a marker that says the "VE" behind it is
//! veo-rs's emulated VE, and calls that take the class of the kernel's
//! result. Declared in `include/veo_rs.h`.
//!
//! veo-runtime's AVEO backend, driving a libveo.so, needs both: with this
//! library the kernels are host code (a host library is then the right
//! kind of binary, not a mistake to refuse), and a host's `float` or
//! `double` result is in another register than an integer one, which
//! AVEO's `veo_call_async` cannot tell (on a VE every result is in `%s0`).

use crate::args::with_args;
use crate::context::{deliver, submit};
use crate::diag::{errno_of, fail, guard};
use crate::handles;
use crate::proc::after_main_queue;
use crate::types::{veo_args, veo_proc_handle, veo_thr_ctxt};
use libc::c_int;
use veo_runtime::{ArgList, KernelRet, Proc, RequestQueue};

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

/// Calls `f` with the Rust type of the result class `ret`.
fn by_class<T>(ret: c_int, f: impl RetFn<T>) -> Result<T, String> {
    match ret {
        RET_U64 => Ok(f.call::<u64>()),
        RET_FLOAT => Ok(f.call::<f32>()),
        RET_DOUBLE => Ok(f.call::<f64>()),
        other => Err(format!(
            "result class {other} is none of VEO_RS_RET_U64, _FLOAT, _DOUBLE"
        )),
    }
}

/// A function generic over the result type (closures cannot be).
trait RetFn<T> {
    fn call<R: KernelRet>(self) -> T;
}

struct Async<'a> {
    queue: &'a RequestQueue<crate::handles::Delivery>,
    addr: u64,
    list: &'a ArgList,
    delivery: crate::handles::Delivery,
}

impl RetFn<veo_runtime::Result<u64>> for Async<'_> {
    fn call<R: KernelRet>(self) -> veo_runtime::Result<u64> {
        self.queue
            .call_returning::<R>(self.addr, self.list, self.delivery)
    }
}

struct Sync<'a> {
    proc: &'a Proc,
    addr: u64,
    list: &'a ArgList,
}

impl RetFn<veo_runtime::Result<(u64, Vec<Vec<u8>>)>> for Sync<'_> {
    fn call<R: KernelRet>(self) -> veo_runtime::Result<(u64, Vec<Vec<u8>>)> {
        self.proc
            .call_sync_list_returning::<R>(self.addr, self.list)
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
        with_args(args, |list, delivery| {
            by_class(
                ret,
                Async {
                    queue: &c.queue,
                    addr,
                    list,
                    delivery,
                },
            )
        })
        .map_err(str::to_string)??
        .map_err(|e| e.to_string())
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
    guard(F, -1, || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, -1),
        };
        after_main_queue(&p);
        let r = with_args(args, |list, d| {
            by_class(
                ret,
                Sync {
                    proc: &p.proc,
                    addr,
                    list,
                },
            )
            .map(|r| r.map(|v| (v, d)))
        });
        match r {
            Err(e) => fail(F, libc::EINVAL, e, -1),
            Ok(Err(e)) => fail(F, libc::EINVAL, e, -1),
            Ok(Ok(Err(e))) => fail(F, errno_of(&e), &e, -1),
            Ok(Ok(Ok(((v, outs), d)))) => {
                deliver(&outs, &d);
                if !result.is_null() {
                    // SAFETY: non-NULL, the caller's to write.
                    unsafe { *result = v };
                }
                0
            }
        }
    })
}
