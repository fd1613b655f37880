//! Argument lists: `veo_args_*`, each a thin layer over [`ArgList`].

use crate::diag::{fail, guard};
use crate::handles::{self, ARGS};
use crate::types::veo_args;
use libc::{c_char, c_int, c_void};
use std::sync::{Arc, Mutex};
use veo_runtime::{ArgList, Intent};

#[no_mangle]
pub extern "C" fn veo_args_alloc() -> *mut veo_args {
    guard("veo_args_alloc", std::ptr::null_mut(), || {
        let a = Arc::new(Mutex::new(ArgList::new()));
        let key = Arc::as_ptr(&a) as usize;
        ARGS.insert_at(key, a);
        key as *mut veo_args
    })
}

/// Sets argument `argnum` of `args` with `set`: 0, or -1 and a message.
fn set(
    func: &str,
    args: *mut veo_args,
    argnum: c_int,
    set: impl FnOnce(&mut ArgList, usize) -> veo_runtime::Result<()>,
) -> c_int {
    guard(func, -1, || {
        let a = match handles::args(args) {
            Ok(a) => a,
            Err(e) => return fail(func, libc::EINVAL, e, -1),
        };
        if argnum < 0 {
            return fail(func, libc::EINVAL, format!("argument number {argnum} is negative"), -1);
        }
        let mut l = a.lock().unwrap_or_else(|e| e.into_inner());
        match set(&mut l, argnum as usize) {
            Ok(()) => {
                // A position set anew no longer sends bytes back.
                if let Some(t) = OUT_TARGETS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_mut(&(args as usize))
                {
                    t.retain(|&(n, _, _)| n != argnum as usize);
                }
                0
            }
            Err(e) => fail(func, libc::EINVAL, format!("argument number {argnum}: {e}"), -1),
        }
    })
}

macro_rules! setters {
    ($($name:ident($t:ty) => $method:ident;)*) => {$(
        #[no_mangle]
        pub unsafe extern "C" fn $name(args: *mut veo_args, argnum: c_int, val: $t) -> c_int {
            set(stringify!($name), args, argnum, |l, i| l.$method(i, val))
        }
    )*};
}

setters! {
    veo_args_set_i64(i64) => set_i64;
    veo_args_set_u64(u64) => set_u64;
    veo_args_set_i32(i32) => set_i32;
    veo_args_set_u32(u32) => set_u32;
    veo_args_set_i16(i16) => set_i16;
    veo_args_set_u16(u16) => set_u16;
    veo_args_set_i8(i8) => set_i8;
    veo_args_set_u8(u8) => set_u8;
    veo_args_set_double(f64) => set_f64;
    veo_args_set_float(f32) => set_f32;
}

#[no_mangle]
pub unsafe extern "C" fn veo_args_set_hmem(args: *mut veo_args, argnum: c_int, addr: *mut c_void) -> c_int {
    // The tag bits travel as they are: the kernel strips them.
    set("veo_args_set_hmem", args, argnum, |l, i| l.set_u64(i, addr as u64))
}

#[no_mangle]
pub unsafe extern "C" fn veo_args_set_stack(
    args: *mut veo_args,
    intent: c_int,
    argnum: c_int,
    buff: *mut c_char,
    len: usize,
) -> c_int {
    const F: &str = "veo_args_set_stack";
    let intent = match intent {
        0 => Intent::In,
        1 => Intent::InOut,
        2 => Intent::Out,
        other => return fail(F, libc::EINVAL, format!("intent {other} is not IN, INOUT or OUT"), -1),
    };
    if buff.is_null() && len > 0 {
        return fail(F, libc::EINVAL, "the buffer is NULL", -1);
    }
    let data: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: the caller's contract: `buff` is readable for `len` bytes
        // (OUT buffers too: AVEO hands their address over the same way).
        unsafe { std::slice::from_raw_parts(buff as *const u8, len) }
    };
    let r = set(F, args, argnum, |l, i| l.set_stack(i, intent, data));
    if r == 0 && intent != Intent::In {
        // Remember where the bytes go back to.
        OUT_TARGETS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(args as usize)
            .or_default()
            .push((argnum as usize, buff as usize, len));
    }
    r
}

/// The host buffers of each list's OUT/INOUT arguments: (position, address,
/// length), by list.
static OUT_TARGETS: Mutex<std::collections::BTreeMap<usize, Vec<(usize, usize, usize)>>> =
    Mutex::new(std::collections::BTreeMap::new());

/// Where the OUT/INOUT bytes of a call made with `args` go, in position
/// order (the order [`ArgList`] gives them back in).
fn delivery(args: usize) -> crate::handles::Delivery {
    let targets = OUT_TARGETS.lock().unwrap_or_else(|e| e.into_inner());
    let mut t: Vec<(usize, usize, usize)> = targets
        .get(&args)
        .cloned()
        .unwrap_or_default();
    t.sort_by_key(|&(n, _, _)| n);
    t.into_iter().map(|(_, a, l)| (a, l)).collect()
}

fn forget_targets(key: usize) {
    OUT_TARGETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&key);
}

#[no_mangle]
pub unsafe extern "C" fn veo_args_clear(args: *mut veo_args) {
    const F: &str = "veo_args_clear";
    guard(F, (), || match handles::args(args) {
        Ok(a) => {
            a.lock().unwrap_or_else(|e| e.into_inner()).clear();
            forget_targets(args as usize);
        }
        Err(e) => fail(F, libc::EINVAL, e, ()),
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_args_free(args: *mut veo_args) {
    const F: &str = "veo_args_free";
    guard(F, (), || {
        if args.is_null() {
            return fail(F, libc::EINVAL, "the argument list is NULL", ());
        }
        match ARGS.remove(args as usize) {
            Some(_) => forget_targets(args as usize),
            None => fail(F, libc::EINVAL, "the argument list is not live (freed, or never allocated)", ()),
        }
    })
}

/// Runs `f` with the list behind `args` (NULL: no arguments) and where
/// its OUT/INOUT bytes go.
pub(crate) fn with_args<R>(
    args: *mut veo_args,
    f: impl FnOnce(&ArgList, crate::handles::Delivery) -> R,
) -> Result<R, &'static str> {
    if args.is_null() {
        return Ok(f(&ArgList::new(), Vec::new()));
    }
    let a = handles::args(args)?;
    // A copy: the list's lock must not be held while a submit waits (for
    // another thread's request block, or for room in the queue).
    let l = a.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(f(&l, delivery(args as usize)))
}
