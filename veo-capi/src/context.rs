//! Contexts and requests: `veo_context_*`, `veo_call_*`, the asynchronous
//! memory functions and request blocks, over [`ContextList`] and
//! [`RequestQueue`](veo_runtime::RequestQueue).
//!
//! [`ContextList`]: veo_runtime::ContextList

use crate::diag::{errno_of, fail, guard};
use crate::handles::{self, CCtx, CProc, CallArgs, Tag, ATTRS};
use crate::proc::{after_main_queue, get_sym};
use crate::types::{veo_args, veo_proc_handle, veo_thr_ctxt, veo_thr_ctxt_attr};
use crate::{command, state, VEO_REQUEST_ID_INVALID};
use libc::{c_char, c_int, c_void};
use std::ptr::null_mut;
use std::sync::Arc;
use veo_runtime::{ArgList, Collected, ContextState, Error, ResultKind};

/// AVEO's default VE stack size of a context, 128 MiB.
const DEFAULT_STACK: usize = 0x800_0000;
/// AVEO's smallest VE stack size of a context, 4 MiB.
const STACK_MIN: usize = 4 << 20;

fn open(func: &str, p: &Arc<CProc>) -> *mut veo_thr_ctxt {
    if !p.contexts.is_empty() {
        // AVEO runs further contexts as VE threads beside the proc's
        // OpenMP threads, which it allows only with one OpenMP thread.
        let one = std::env::var("VE_OMP_NUM_THREADS").is_ok_and(|v| v.trim() == "1");
        if !one {
            return fail(
                func,
                libc::EINVAL,
                "a second context needs VE_OMP_NUM_THREADS=1 in the environment (as on a VE)",
                null_mut(),
            );
        }
    }
    match p.contexts.open(&p.proc) {
        Ok(q) => {
            if p.contexts.is_main(&q) {
                let _ = p.main.set(q.clone());
            }
            // OUT buffers and reads land when the queue learns they are
            // done: at collection, or at veo_context_sync as in AVEO.
            q.on_done(|tag, outs| deliver(outs, tag.to()));
            match handles::ctx_handle(q, p) {
                Some(h) => h,
                None => fail(func, libc::EMFILE, handles::FULL, null_mut()),
            }
        }
        Err(e) => fail(func, errno_of(&e), &e, null_mut()),
    }
}

#[no_mangle]
pub unsafe extern "C" fn veo_context_open(h: *mut veo_proc_handle) -> *mut veo_thr_ctxt {
    const F: &str = "veo_context_open";
    guard(F, null_mut(), || match handles::proc(h) {
        Ok(p) => open(F, &p),
        Err(e) => fail(F, libc::EINVAL, e, null_mut()),
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_context_open_with_attr(
    h: *mut veo_proc_handle,
    attr: *mut veo_thr_ctxt_attr,
) -> *mut veo_thr_ctxt {
    const F: &str = "veo_context_open_with_attr";
    guard(F, null_mut(), || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, null_mut()),
        };
        if let Err(e) = handles::attr(attr) {
            return fail(F, libc::EINVAL, e, null_mut());
        }
        // The stack size is kept in the attributes; the emulated VE's
        // kernels run on the helper's thread stacks.
        open(F, &p)
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_num_contexts(h: *mut veo_proc_handle) -> c_int {
    const F: &str = "veo_num_contexts";
    guard(F, -1, || match handles::proc(h) {
        Ok(p) => p.contexts.len() as c_int,
        Err(e) => fail(F, libc::EINVAL, e, -1),
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_get_context(h: *mut veo_proc_handle, idx: c_int) -> *mut veo_thr_ctxt {
    const F: &str = "veo_get_context";
    guard(F, null_mut(), || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, null_mut()),
        };
        match usize::try_from(idx).ok().and_then(|i| p.contexts.get(i)) {
            Some(q) => match handles::ctx_handle(q, &p) {
                Some(h) => h,
                None => fail(F, libc::EMFILE, handles::FULL, null_mut()),
            },
            None => fail(
                F,
                libc::EINVAL,
                format!(
                    "context index {idx} is out of range (0..{})",
                    p.contexts.len()
                ),
                null_mut(),
            ),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_context_close(ctx: *mut veo_thr_ctxt) -> c_int {
    const F: &str = "veo_context_close";
    guard(F, -1, || {
        let c = match handles::ctx(ctx) {
            Ok(c) => c,
            Err(e) => return fail(F, libc::EINVAL, e, -1),
        };
        if c.proc.contexts.is_main(&c.queue) {
            return 0;
        }
        handles::forget_ctx(&c.queue);
        match c.proc.contexts.close(&c.queue) {
            Ok(_) => 0,
            Err(e) => fail(F, errno_of(&e), &e, -1),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_get_context_state(ctx: *mut veo_thr_ctxt) -> c_int {
    const F: &str = "veo_get_context_state";
    guard(F, state::EXIT, || match handles::ctx(ctx) {
        Ok(c) => match c.queue.state() {
            ContextState::Running => state::RUNNING,
            _ => state::EXIT,
        },
        Err(e) => fail(F, libc::EINVAL, e, state::EXIT),
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_context_sync(ctx: *mut veo_thr_ctxt) {
    const F: &str = "veo_context_sync";
    guard(F, (), || match handles::ctx(ctx) {
        Ok(c) => {
            if let Err(e) = c.queue.sync() {
                if c.queue.state() == ContextState::Running {
                    fail(F, errno_of(&e), &e, ())
                }
            }
        }
        Err(e) => fail(F, libc::EINVAL, e, ()),
    })
}

/// Submits through `f` on the context `ctx`: the request id, or
/// `VEO_REQUEST_ID_INVALID` and a message.
pub(crate) fn submit(
    func: &str,
    ctx: *mut veo_thr_ctxt,
    f: impl FnOnce(&CCtx) -> Result<u64, String>,
) -> u64 {
    guard(func, VEO_REQUEST_ID_INVALID, || {
        let c = match handles::ctx(ctx) {
            Ok(c) => c,
            Err(e) => return fail(func, libc::EINVAL, e, VEO_REQUEST_ID_INVALID),
        };
        match f(&c) {
            Ok(id) => id,
            Err(e) => fail(func, libc::EINVAL, e, VEO_REQUEST_ID_INVALID),
        }
    })
}

/// Queues a call on `c`; `kind` says how its result is read, or `None`
/// for what the function's debug information says (`crate::results`).
pub(crate) fn call(
    c: &CCtx,
    addr: u64,
    args: *mut veo_args,
    kind: Option<ResultKind>,
) -> Result<u64, String> {
    let kind = kind.unwrap_or_else(|| c.proc.results.kind(addr));
    let tag = |to| Tag::new(to, kind);
    let r = if args.is_null() {
        c.queue
            .call_list(addr, kind, || Ok((ArgList::new(), tag(Vec::new()))))
    } else {
        // Locked once the queue takes the call; a bad handle stops it.
        c.queue.call_list(addr, kind, || match handles::args(args) {
            Ok(mut held) => {
                let to = held.get().map_or(Vec::new(), |a| a.delivery());
                Ok((CallArgs::from(held), tag(to)))
            }
            Err(e) => Err(Error::InvalidArgument(e.into())),
        })
    };
    r.map_err(|e| e.to_string())
}

#[no_mangle]
pub unsafe extern "C" fn veo_call_async(
    ctx: *mut veo_thr_ctxt,
    addr: u64,
    args: *mut veo_args,
) -> u64 {
    submit("veo_call_async", ctx, |c| call(c, addr, args, None))
}

#[no_mangle]
pub unsafe extern "C" fn veo_call_async_by_name(
    ctx: *mut veo_thr_ctxt,
    libhdl: u64,
    symname: *const c_char,
    args: *mut veo_args,
) -> u64 {
    const F: &str = "veo_call_async_by_name";
    submit(F, ctx, |c| {
        let addr = get_sym(F, &c.proc, libhdl, symname);
        if addr == 0 {
            return Err("the function was not found".into());
        }
        call(c, addr, args, None)
    })
}

/// A C function and its argument, to run on the VH in queue order.
struct VhCall {
    func: unsafe extern "C" fn(*mut c_void) -> u64,
    arg: usize,
}

#[no_mangle]
pub unsafe extern "C" fn veo_call_async_vh(
    ctx: *mut veo_thr_ctxt,
    func: Option<unsafe extern "C" fn(*mut c_void) -> u64>,
    arg: *mut c_void,
) -> u64 {
    submit("veo_call_async_vh", ctx, |c| {
        let func = func.ok_or("the function is NULL")?;
        let call = VhCall {
            func,
            arg: arg as usize,
        };
        c.queue
            .call_vh(
                move || {
                    let call = call;
                    // SAFETY: the caller's contract: `func` may be called
                    // with `arg` from another thread.
                    unsafe { (call.func)(call.arg as *mut c_void) }
                },
                Tag::default(),
            )
            .map_err(|e| e.to_string())
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_alloc_mem_async(ctx: *mut veo_thr_ctxt, size: usize) -> u64 {
    submit("veo_alloc_mem_async", ctx, |c| {
        c.queue
            .alloc(size as u64, Tag::default())
            .map_err(|e| e.to_string())
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_free_mem_async(ctx: *mut veo_thr_ctxt, addr: u64) -> u64 {
    submit("veo_free_mem_async", ctx, |c| {
        c.queue
            .free(addr, Tag::default())
            .map_err(|e| e.to_string())
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_async_read_mem(
    ctx: *mut veo_thr_ctxt,
    dst: *mut c_void,
    src: u64,
    size: usize,
) -> u64 {
    submit("veo_async_read_mem", ctx, |c| {
        if dst.is_null() && size > 0 {
            return Err("the destination is NULL".into());
        }
        c.queue
            .read(
                src,
                size,
                Tag::new(vec![(dst as usize, size)], ResultKind::Integer),
            )
            .map_err(|e| e.to_string())
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_async_write_mem(
    ctx: *mut veo_thr_ctxt,
    dst: u64,
    src: *const c_void,
    size: usize,
) -> u64 {
    submit("veo_async_write_mem", ctx, |c| {
        let src: &[u8] = match (src.is_null(), size) {
            (_, 0) => &[],
            (true, _) => return Err("the source is NULL".into()),
            // SAFETY: the caller's contract: readable for `size` bytes; the
            // bytes are copied before this returns.
            (false, _) => unsafe { std::slice::from_raw_parts(src as *const u8, size) },
        };
        c.queue
            .write(dst, src, Tag::default())
            .map_err(|e| e.to_string())
    })
}

/// Copies the bytes of a collected request to where C wants them.
pub(crate) fn deliver(outs: &[Vec<u8>], to: &[(usize, usize)]) {
    for (bytes, &(addr, len)) in outs.iter().zip(to) {
        let n = bytes.len().min(len);
        if n > 0 && addr != 0 {
            // SAFETY: the caller's contract of the OUT/INOUT buffer or the
            // read's destination: writable for `len` bytes until collected.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, n) };
        }
    }
}

fn collect(func: &str, ctx: *mut veo_thr_ctxt, reqid: u64, retp: *mut u64, wait: bool) -> c_int {
    guard(func, -1, || {
        let c = match handles::ctx(ctx) {
            Ok(c) => c,
            Err(e) => return fail(func, libc::EINVAL, e, -1),
        };
        let got = if wait {
            c.queue.wait(reqid)
        } else {
            c.queue.peek(reqid)
        };
        let store = |v: u64| {
            if !retp.is_null() {
                // SAFETY: non-NULL, the caller's to write per the declaration.
                unsafe { *retp = v };
            }
        };
        match got {
            Collected::Unknown => fail(
                func,
                libc::EINVAL,
                format!("request {reqid} is unknown on this context, or was collected already"),
                command::ERROR,
            ),
            Collected::Unfinished => command::UNFINISHED,
            Collected::Done {
                result: Ok(v), tag, ..
            } => {
                // The bytes were delivered by the queue (`on_done`).
                store(crate::results::as_on_ve(v, tag.kind));
                command::OK
            }
            Collected::Done {
                result: Err(Error::KernelException { signal, .. }),
                ..
            } => {
                store(signal as u64);
                command::EXCEPTION
            }
            Collected::Done { result: Err(e), .. } => fail(
                func,
                errno_of(&e),
                format!("request {reqid}: {e}"),
                command::ERROR,
            ),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_call_peek_result(
    ctx: *mut veo_thr_ctxt,
    reqid: u64,
    retp: *mut u64,
) -> c_int {
    collect("veo_call_peek_result", ctx, reqid, retp, false)
}

#[no_mangle]
pub unsafe extern "C" fn veo_call_wait_result(
    ctx: *mut veo_thr_ctxt,
    reqid: u64,
    retp: *mut u64,
) -> c_int {
    collect("veo_call_wait_result", ctx, reqid, retp, true)
}

#[no_mangle]
pub unsafe extern "C" fn veo_call_sync(
    h: *mut veo_proc_handle,
    addr: u64,
    args: *mut veo_args,
    result: *mut u64,
) -> c_int {
    call_sync("veo_call_sync", h, addr, args, result, None)
}

/// `veo_call_sync` as function `f`, with `kind` as for [`call`].
pub(crate) fn call_sync(
    f: &'static str,
    h: *mut veo_proc_handle,
    addr: u64,
    args: *mut veo_args,
    result: *mut u64,
    kind: Option<ResultKind>,
) -> c_int {
    guard(f, -1, || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(f, libc::EINVAL, e, -1),
        };
        after_main_queue(&p);
        let kind = kind.unwrap_or_else(|| p.results.kind(addr));
        let r = if args.is_null() {
            p.proc
                .call_sync_list_in_place(addr, &mut ArgList::new(), kind)
                .map(|r| (r, Vec::new()))
        } else {
            let mut held = match handles::args(args) {
                Ok(a) => a,
                Err(e) => return fail(f, libc::EINVAL, e, -1),
            };
            let d = held.get().map_or(Vec::new(), |a| a.delivery());
            let mut a = CallArgs::from(held);
            p.proc
                .call_sync_list_in_place(addr, a.as_mut(), kind)
                .map(|r| (r, d))
        };
        match r {
            Err(e) => fail(f, errno_of(&e), &e, -1),
            Ok(((v, outs), d)) => {
                deliver(&outs, &d);
                if !result.is_null() {
                    // SAFETY: non-NULL, the caller's to write.
                    unsafe { *result = crate::results::as_on_ve(v, kind) };
                }
                0
            }
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_req_block_begin(ctx: *mut veo_thr_ctxt) {
    const F: &str = "veo_req_block_begin";
    guard(F, (), || match handles::ctx(ctx) {
        Ok(c) => c.queue.begin_block(),
        Err(e) => fail(F, libc::EINVAL, e, ()),
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_req_block_end(ctx: *mut veo_thr_ctxt) {
    const F: &str = "veo_req_block_end";
    guard(F, (), || match handles::ctx(ctx) {
        Ok(c) => {
            if !c.queue.end_block() {
                fail(
                    F,
                    libc::EINVAL,
                    "this thread has no request block open here",
                    (),
                )
            }
        }
        Err(e) => fail(F, libc::EINVAL, e, ()),
    })
}

#[no_mangle]
pub extern "C" fn veo_alloc_thr_ctxt_attr() -> *mut veo_thr_ctxt_attr {
    guard("veo_alloc_thr_ctxt_attr", null_mut(), || {
        match ATTRS.insert(DEFAULT_STACK) {
            Some(key) => key as *mut veo_thr_ctxt_attr,
            None => fail(
                "veo_alloc_thr_ctxt_attr",
                libc::ENOMEM,
                handles::FULL,
                null_mut(),
            ),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_free_thr_ctxt_attr(attr: *mut veo_thr_ctxt_attr) -> c_int {
    const F: &str = "veo_free_thr_ctxt_attr";
    guard(F, -1, || {
        if attr.is_null() {
            return fail(F, libc::EINVAL, "the attributes are NULL", -1);
        }
        if ATTRS.remove(attr as usize).is_none() {
            return fail(
                F,
                libc::EINVAL,
                "the attributes are not live (freed, or never allocated)",
                -1,
            );
        }
        0
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_set_thr_ctxt_stacksize(
    attr: *mut veo_thr_ctxt_attr,
    size: usize,
) -> c_int {
    const F: &str = "veo_set_thr_ctxt_stacksize";
    guard(F, -1, || {
        let mut a = match handles::attr(attr) {
            Ok(a) => a,
            Err(e) => return fail(F, libc::EINVAL, e, -1),
        };
        if size < STACK_MIN {
            return fail(
                F,
                libc::EINVAL,
                format!("stack size {size} is below the minimum of {STACK_MIN} bytes"),
                -1,
            );
        }
        if let Some(s) = a.get() {
            *s = size;
        }
        0
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_get_thr_ctxt_stacksize(
    attr: *mut veo_thr_ctxt_attr,
    size: *mut usize,
) -> c_int {
    const F: &str = "veo_get_thr_ctxt_stacksize";
    guard(F, -1, || {
        let mut a = match handles::attr(attr) {
            Ok(a) => a,
            Err(e) => return fail(F, libc::EINVAL, e, -1),
        };
        if size.is_null() {
            return fail(F, libc::EINVAL, "the size pointer is NULL", -1);
        }
        let v = a.get().map_or(DEFAULT_STACK, |s| *s);
        // SAFETY: non-NULL, the caller's to write.
        unsafe { *size = v };
        0
    })
}
