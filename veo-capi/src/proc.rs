//! Procs and libraries: `veo_proc_*`, `veo_load_library`, `veo_get_sym`.

use crate::diag::{errno_of, fail, guard};
use crate::handles::{self, c_name, CProc, PROCS};
use crate::types::veo_proc_handle;
use libc::{c_char, c_int};
use std::ptr::null_mut;
use veo_runtime::Proc;

/// The VE node AVEO uses for `venode`: -1 is `$VE_NODE_NUMBER` (else 0),
/// and `$_VENODELIST` maps a program's node numbers to real ones.
fn node_for(venode: c_int) -> Result<u32, String> {
    if venode < -1 {
        return Err(format!("VE node {venode} is invalid"));
    }
    let node = if venode == -1 {
        match std::env::var("VE_NODE_NUMBER") {
            Ok(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("VE_NODE_NUMBER={v:?} is not a node number"))?,
            Err(_) => 0,
        }
    } else {
        venode as u32
    };
    match std::env::var("_VENODELIST") {
        Ok(list) if !list.trim().is_empty() => {
            let nodes: Vec<&str> = list.split([' ', ',']).filter(|s| !s.is_empty()).collect();
            nodes
                .get(node as usize)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("VE node {node} is not in _VENODELIST={list:?}"))
        }
        _ => Ok(node),
    }
}

fn create(func: &str, venode: c_int, helper: Option<std::path::PathBuf>) -> *mut veo_proc_handle {
    let node = match node_for(venode) {
        Ok(n) => n,
        Err(e) => return fail(func, libc::EINVAL, e, null_mut()),
    };
    // This library is AVEO's API over the emulated VE: its procs are the
    // emulated VE's whatever VEO_BACKEND says (AVEO here would be itself).
    let mut b = Proc::builder()
        .node(node)
        .backend(veo_runtime::BackendChoice::Emulated);
    if let Some(h) = helper {
        b = b.helper(h);
    }
    match b.build() {
        Ok(p) => match handles::new_proc(p.clone()) {
            Some(h) => h,
            None => {
                p.close();
                fail(func, libc::EMFILE, handles::FULL, null_mut())
            }
        },
        Err(e) => fail(func, errno_of(&e), &e, null_mut()),
    }
}

#[no_mangle]
pub extern "C" fn veo_proc_create(venode: c_int) -> *mut veo_proc_handle {
    guard("veo_proc_create", null_mut(), || {
        create("veo_proc_create", venode, None)
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_proc_create_static(
    venode: c_int,
    binary: *mut c_char,
) -> *mut veo_proc_handle {
    const F: &str = "veo_proc_create_static";
    guard(F, null_mut(), || {
        if binary.is_null() {
            return fail(F, libc::EINVAL, "the binary path is NULL", null_mut());
        }
        // SAFETY: a non-NULL C string, per the declaration.
        let path = unsafe { std::ffi::CStr::from_ptr(binary) };
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::OsStr::from_bytes(path.to_bytes());
        create(F, venode, Some(path.into()))
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_proc_destroy(h: *mut veo_proc_handle) -> c_int {
    const F: &str = "veo_proc_destroy";
    guard(F, -1, || {
        let Some(p) = (!h.is_null()).then(|| PROCS.remove(h as usize)).flatten() else {
            return fail(
                F,
                libc::EINVAL,
                handles::proc(h)
                    .err()
                    .unwrap_or("the proc handle is invalid"),
                -1,
            );
        };
        for q in p.contexts.discard_all() {
            handles::forget_ctx(&q);
        }
        p.proc.clone().close();
        0
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_proc_identifier(h: *mut veo_proc_handle) -> c_int {
    const F: &str = "veo_proc_identifier";
    guard(F, -1, || match handles::proc(h) {
        Ok(p) => p.proc.identifier().map_or(-1, |i| i as c_int),
        Err(e) => fail(F, libc::EINVAL, e, -1),
    })
}

/// Waits for what the main context has queued, as AVEO's synchronous
/// functions go through the main context's queue.
pub(crate) fn after_main_queue(p: &CProc) {
    if let Some(main) = p.main.get() {
        if main.has_pending() {
            let _ = main.sync();
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn veo_load_library(h: *mut veo_proc_handle, libname: *const c_char) -> u64 {
    const F: &str = "veo_load_library";
    guard(F, 0, || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, 0),
        };
        // SAFETY: NULL or a C string, per the declaration.
        let name = match unsafe { c_name(libname, "library name") } {
            Ok(n) => n,
            Err((errno, e)) => return fail(F, errno, e, 0),
        };
        after_main_queue(&p);
        match p.proc.load_library(name) {
            Ok(lib) => lib.handle(),
            Err(e) => fail(F, errno_of(&e), &e, 0),
        }
    })
}

fn library(p: &CProc, libhdl: u64) -> Result<veo_runtime::Library, String> {
    if libhdl == 0 {
        return p.proc.static_library().map_err(|e| e.to_string());
    }
    p.proc
        .libraries()
        .into_iter()
        .find(|l| l.handle() == libhdl)
        .ok_or_else(|| format!("library handle {libhdl:#x} is not loaded in this proc"))
}

#[no_mangle]
pub unsafe extern "C" fn veo_unload_library(h: *mut veo_proc_handle, libhdl: u64) -> c_int {
    const F: &str = "veo_unload_library";
    guard(F, -1, || {
        let p = match handles::proc(h) {
            Ok(p) => p,
            Err(e) => return fail(F, libc::EINVAL, e, -1),
        };
        if libhdl == 0 {
            return fail(F, libc::EINVAL, "library handle 0 cannot be unloaded", -1);
        }
        after_main_queue(&p);
        match library(&p, libhdl).map(|l| l.unload().map_err(|e| e.to_string())) {
            Ok(Ok(())) => {
                p.results.forget_library(libhdl);
                0
            }
            Ok(Err(e)) | Err(e) => fail(F, libc::EINVAL, e, -1),
        }
    })
}

/// `veo_get_sym` for the other functions that take a name.
pub(crate) fn get_sym(func: &str, p: &CProc, libhdl: u64, name: *const c_char) -> u64 {
    // SAFETY: NULL or a C string, per the caller's declaration.
    let name = match unsafe { c_name(name, "symbol name") } {
        Ok(n) => n,
        Err((errno, e)) => return fail(func, errno, e, 0),
    };
    after_main_queue(p);
    match library(p, libhdl).map(|l| l.symbol(name).map_err(|e| e.to_string())) {
        Ok(Ok(a)) => {
            // Whether it returns a float, from the library's debug
            // information (C calls it by address, without a type).
            p.results.learn(p.proc.pid(), a.addr(), libhdl, name);
            a.addr()
        }
        Ok(Err(e)) | Err(e) => fail(func, libc::ENOENT, e, 0),
    }
}

#[no_mangle]
pub unsafe extern "C" fn veo_get_sym(
    h: *mut veo_proc_handle,
    libhdl: u64,
    symname: *const c_char,
) -> u64 {
    const F: &str = "veo_get_sym";
    guard(F, 0, || match handles::proc(h) {
        Ok(p) => get_sym(F, &p, libhdl, symname),
        Err(e) => fail(F, libc::EINVAL, e, 0),
    })
}
