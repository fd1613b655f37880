//! Memory hooks: `veo_register_hook` and friends, over veo-runtime's
//! [`set_memory_hook`]. The key is the address of the function a hook
//! follows; the hook gets the payload, then the arguments of its key.

use crate::context::{veo_alloc_mem_async, veo_free_mem_async};
use crate::diag::{fail, guard};
use crate::handles;
use crate::hmem::{veo_alloc_hmem, veo_free_hmem};
use crate::memory::{veo_alloc_mem, veo_free_mem};
use libc::c_void;
use std::collections::BTreeMap;
use std::sync::Mutex;
use veo_runtime::{remove_memory_hook, set_memory_hook, MemoryEvent, MemoryOp};

/// `void (*hook)(void *payload, ...)`.
type CHook = unsafe extern "C" fn(*mut c_void, ...);

/// The C function registered per key, for `veo_get_hook`.
static REGISTERED: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());

fn keys() -> [(usize, MemoryOp); 6] {
    [
        (veo_alloc_mem as *const () as usize, MemoryOp::Alloc),
        (veo_free_mem as *const () as usize, MemoryOp::Free),
        (veo_alloc_hmem as *const () as usize, MemoryOp::AllocHmem),
        (veo_free_hmem as *const () as usize, MemoryOp::FreeHmem),
        (
            veo_alloc_mem_async as *const () as usize,
            MemoryOp::AllocAsync,
        ),
        (
            veo_free_mem_async as *const () as usize,
            MemoryOp::FreeAsync,
        ),
    ]
}

fn key_of(op: MemoryOp) -> usize {
    keys()
        .iter()
        .find(|(_, o)| *o == op)
        .expect("every op has a key")
        .0
}

fn op_of(func: *mut c_void) -> Option<MemoryOp> {
    keys()
        .iter()
        .find(|(k, _)| *k == func as usize)
        .map(|(_, op)| *op)
}

/// The C handles of the event's proc and context (0 when unknown).
fn c_handles(e: &MemoryEvent<'_>) -> (usize, usize) {
    let proc = handles::handle_of(e.proc).map_or(0, |(k, _)| k);
    let ctx = e
        .context
        .and_then(|i| handles::ctx_handle_of(e.proc, i))
        .unwrap_or(0);
    (proc, ctx)
}

fn call_c_hook(hook: CHook, payload: usize, e: &MemoryEvent<'_>) {
    let (proc, ctx) = c_handles(e);
    let payload = payload as *mut c_void;
    // SAFETY: the arguments AVEO documents for each key, in its order; the
    // hook was registered by the program for this key.
    unsafe {
        match e.op {
            MemoryOp::Alloc => {
                let mut addr = e.addr;
                hook(
                    payload,
                    proc as *mut c_void,
                    &mut addr as *mut u64,
                    e.size as usize,
                )
            }
            MemoryOp::Free => hook(payload, proc as *mut c_void, e.addr),
            MemoryOp::AllocHmem => hook(
                payload,
                proc as *mut c_void,
                e.addr as *mut c_void,
                e.size as usize,
            ),
            MemoryOp::FreeHmem => hook(payload, proc as *mut c_void, e.addr as *mut c_void),
            MemoryOp::AllocAsync => hook(payload, ctx as *mut c_void, e.addr, e.size as usize),
            MemoryOp::FreeAsync => hook(payload, ctx as *mut c_void, e.addr),
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn veo_register_hook(
    func: *mut c_void,
    hook: Option<CHook>,
    payload: *mut c_void,
) {
    const F: &str = "veo_register_hook";
    guard(F, (), || {
        let Some(op) = op_of(func) else {
            return fail(
                F,
                libc::EINVAL,
                format!("{func:p} is not a function memory hooks can follow"),
                (),
            );
        };
        let Some(hook) = hook else {
            return unregister(op);
        };
        let payload = payload as usize;
        set_memory_hook(op, move |e| call_c_hook(hook, payload, e));
        REGISTERED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key_of(op), hook as usize);
    })
}

fn unregister(op: MemoryOp) {
    remove_memory_hook(op);
    REGISTERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&key_of(op));
}

#[no_mangle]
pub unsafe extern "C" fn veo_get_hook(func: *mut c_void) -> *mut c_void {
    guard("veo_get_hook", std::ptr::null_mut(), || {
        REGISTERED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(func as usize))
            .map_or(std::ptr::null_mut(), |&f| f as *mut c_void)
    })
}

#[no_mangle]
pub unsafe extern "C" fn veo_unregister_hook(func: *mut c_void) {
    const F: &str = "veo_unregister_hook";
    guard(F, (), || match op_of(func) {
        Some(op) => unregister(op),
        None => fail(
            F,
            libc::EINVAL,
            format!("{func:p} is not a function memory hooks can follow"),
            (),
        ),
    })
}

/// The HMEM address of the event's VE memory (0 if the proc has no tag).
fn hmem_of(e: &MemoryEvent<'_>) -> u64 {
    e.proc
        .identifier()
        .and_then(|i| veo_runtime::hmem::tag(e.addr, i))
        .unwrap_or(0)
}

#[no_mangle]
pub extern "C" fn veo_register_hmem_hook_functions(
    alloc: Option<unsafe extern "C" fn(*mut c_void, usize)>,
    free: Option<unsafe extern "C" fn(u64)>,
) {
    guard("veo_register_hmem_hook_functions", (), || {
        let mut reg = REGISTERED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(alloc) = alloc {
            for op in [MemoryOp::Alloc, MemoryOp::AllocAsync] {
                set_memory_hook(op, move |e| {
                    // SAFETY: the program's hook, called as it declared it.
                    unsafe { alloc(hmem_of(e) as *mut c_void, e.size as usize) }
                });
                reg.insert(key_of(op), alloc as usize);
            }
        }
        if let Some(free) = free {
            for op in [MemoryOp::Free, MemoryOp::FreeAsync] {
                set_memory_hook(op, move |e| {
                    // SAFETY: as above.
                    unsafe { free(hmem_of(e)) }
                });
                reg.insert(key_of(op), free as usize);
            }
        }
    })
}

#[no_mangle]
pub extern "C" fn veo_unregister_hmem_hook_functions() {
    guard("veo_unregister_hmem_hook_functions", (), || {
        for op in [
            MemoryOp::Alloc,
            MemoryOp::Free,
            MemoryOp::AllocAsync,
            MemoryOp::FreeAsync,
        ] {
            unregister(op);
        }
    })
}
