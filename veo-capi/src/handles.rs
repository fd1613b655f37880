//! Live handles: what a C pointer stands for. A pointer that is not in a
//! registry (NULL, destroyed, never ours) is reported, never dereferenced.

use crate::types::{veo_args, veo_proc_handle, veo_thr_ctxt, veo_thr_ctxt_attr};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use veo_runtime::{ArgList, ContextList, Proc, RequestQueue};

/// Where the bytes of a collected request go: host addresses and lengths,
/// in the order of its OUT/INOUT buffers (or the one of a read).
pub(crate) type Delivery = Vec<(usize, usize)>;

/// A proc as C sees it.
pub(crate) struct CProc {
    pub proc: Proc,
    pub contexts: ContextList<Delivery>,
}

/// A context as C sees it.
pub(crate) struct CCtx {
    pub queue: Arc<RequestQueue<Delivery>>,
    pub proc: Arc<CProc>,
}

/// Live objects by the address C holds.
pub(crate) struct Registry<T>(Mutex<BTreeMap<usize, Arc<T>>>);

impl<T> Registry<T> {
    const fn new() -> Self {
        Registry(Mutex::new(BTreeMap::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, Arc<T>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn insert_at(&self, key: usize, v: Arc<T>) {
        self.lock().insert(key, v);
    }

    pub(crate) fn get(&self, key: usize) -> Option<Arc<T>> {
        self.lock().get(&key).cloned()
    }

    pub(crate) fn remove(&self, key: usize) -> Option<Arc<T>> {
        self.lock().remove(&key)
    }

    pub(crate) fn find(&self, f: impl Fn(&T) -> bool) -> Option<(usize, Arc<T>)> {
        self.lock()
            .iter()
            .find(|(_, v)| f(v))
            .map(|(k, v)| (*k, v.clone()))
    }
}

pub(crate) static PROCS: Registry<CProc> = Registry::new();
pub(crate) static CTXS: Registry<CCtx> = Registry::new();
pub(crate) static ARGS: Registry<Mutex<ArgList>> = Registry::new();
pub(crate) static ATTRS: Registry<Mutex<usize>> = Registry::new();

/// Registers a new proc; its handle is the address of its record.
pub(crate) fn new_proc(proc: Proc) -> *mut veo_proc_handle {
    let c = Arc::new(CProc {
        proc,
        contexts: ContextList::new(),
    });
    let key = Arc::as_ptr(&c) as usize;
    PROCS.insert_at(key, c);
    key as *mut veo_proc_handle
}

/// The proc behind `h`, or the error line.
pub(crate) fn proc(h: *const veo_proc_handle) -> Result<Arc<CProc>, &'static str> {
    if h.is_null() {
        return Err("the proc handle is NULL");
    }
    PROCS
        .get(h as usize)
        .ok_or("the proc handle is not a live proc (destroyed, or never created)")
}

/// The handle C holds for `queue`, registering it if new.
pub(crate) fn ctx_handle(
    queue: Arc<RequestQueue<Delivery>>,
    proc: &Arc<CProc>,
) -> *mut veo_thr_ctxt {
    let key = Arc::as_ptr(&queue) as usize;
    if CTXS.get(key).is_none() {
        CTXS.insert_at(
            key,
            Arc::new(CCtx {
                queue,
                proc: proc.clone(),
            }),
        );
    }
    key as *mut veo_thr_ctxt
}

/// The context behind `h`, or the error line.
pub(crate) fn ctx(h: *const veo_thr_ctxt) -> Result<Arc<CCtx>, &'static str> {
    if h.is_null() {
        return Err("the context is NULL");
    }
    CTXS.get(h as usize)
        .ok_or("the context is not a live context (closed, or never opened)")
}

/// The argument list behind `h`, or the error line.
pub(crate) fn args(h: *const veo_args) -> Result<Arc<Mutex<ArgList>>, &'static str> {
    if h.is_null() {
        return Err("the argument list is NULL");
    }
    ARGS.get(h as usize)
        .ok_or("the argument list is not live (freed, or never allocated)")
}

/// The attributes behind `h`, or the error line.
pub(crate) fn attr(h: *const veo_thr_ctxt_attr) -> Result<Arc<Mutex<usize>>, &'static str> {
    if h.is_null() {
        return Err("the attributes are NULL");
    }
    ATTRS
        .get(h as usize)
        .ok_or("the attributes are not live (freed, or never allocated)")
}

/// The C handle of the proc `p` (for hooks and HMEM lookups).
pub(crate) fn handle_of(p: &Proc) -> Option<(usize, Arc<CProc>)> {
    let pid = p.pid();
    PROCS.find(|c| c.proc.pid() == pid)
}

/// The C handle of context `index` of proc `p`.
pub(crate) fn ctx_handle_of(p: &Proc, index: usize) -> Option<usize> {
    let pid = p.pid();
    CTXS.find(|c| c.proc.proc.pid() == pid && c.queue.context().index() == index)
        .map(|(k, _)| k)
}

/// Reads a C string argument: NULL and over-long names are errors.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string.
pub(crate) unsafe fn c_name<'a>(
    s: *const libc::c_char,
    what: &'static str,
) -> Result<&'a str, (i32, String)> {
    if s.is_null() {
        return Err((libc::EINVAL, format!("the {what} is NULL")));
    }
    // SAFETY: the caller's contract: a NUL-terminated string.
    let c = unsafe { std::ffi::CStr::from_ptr(s) };
    let b = c.to_bytes();
    if b.len() > crate::VEO_SYMNAME_LEN_MAX {
        return Err((
            libc::ENAMETOOLONG,
            format!(
                "the {what} is {} bytes long, longer than VEO_SYMNAME_LEN_MAX ({})",
                b.len(),
                crate::VEO_SYMNAME_LEN_MAX
            ),
        ));
    }
    c.to_str()
        .map_err(|_| (libc::EINVAL, format!("the {what} is not UTF-8")))
}
