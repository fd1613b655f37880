//! Live handles: what a C pointer stands for. A pointer that is not in a
//! registry (NULL, destroyed, never ours) is reported, never dereferenced.

use crate::results::ResultKinds;
use crate::types::{veo_args, veo_proc_handle, veo_thr_ctxt, veo_thr_ctxt_attr};
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use veo_runtime::{ArgList, ContextList, Proc, RequestQueue, ResultKind};

/// Where the bytes of a collected request go: host addresses and lengths,
/// in the order of its OUT/INOUT buffers (or the one of a read).
pub(crate) type Delivery = Vec<(usize, usize)>;

/// What the C layer attaches to each request it queues: two words, as it
/// is moved with the request into and out of the queue.
#[derive(Default)]
pub(crate) struct Tag {
    /// Where its bytes go; `None` for none (most calls).
    pub to: Option<Box<Delivery>>,
    /// How its result is read (for a call).
    pub kind: ResultKind,
}

impl Tag {
    /// A tag for bytes going to `to`.
    #[inline(always)]
    pub(crate) fn new(to: Delivery, kind: ResultKind) -> Tag {
        Tag {
            to: (!to.is_empty()).then(|| Box::new(to)),
            kind,
        }
    }

    /// Where the bytes go.
    pub(crate) fn to(&self) -> &[(usize, usize)] {
        self.to.as_deref().map_or(&[], |v| v.as_slice())
    }
}

/// A proc as C sees it.
pub(crate) struct CProc {
    pub proc: Proc,
    pub contexts: ContextList<Tag>,
    /// The main context (the first opened), kept here once opened: every
    /// synchronous call looks at its queue (`crate::proc::after_main_queue`)
    /// without taking the list's lock. It never changes: closing it is a
    /// no-op, and only the proc's end discards it.
    pub main: OnceLock<Arc<RequestQueue<Tag>>>,
    /// The functions of this proc known to return `float` or `double`.
    pub results: ResultKinds,
}

/// A context as C sees it.
pub(crate) struct CCtx {
    pub queue: Arc<RequestQueue<Tag>>,
    pub proc: Arc<CProc>,
}

/// An argument list as C sees it: the list, and the host buffers its
/// OUT/INOUT arguments go back to. A call uses it in place, locked, and a
/// collected request's bytes go where `targets` said at the call.
#[derive(Default)]
pub(crate) struct CArgs {
    pub list: ArgList,
    /// (position, host address, length) of each OUT/INOUT argument.
    pub targets: Vec<(usize, usize, usize)>,
}

impl AsMut<ArgList> for CArgs {
    fn as_mut(&mut self) -> &mut ArgList {
        &mut self.list
    }
}

impl CArgs {
    /// Where the OUT/INOUT bytes of a call go, in position order (the
    /// order [`ArgList`] gives them back in); empty, without allocating,
    /// for a list without such arguments.
    #[inline]
    pub(crate) fn delivery(&self) -> Delivery {
        if self.targets.is_empty() {
            return Vec::new();
        }
        self.sorted_targets()
    }

    #[cold]
    fn sorted_targets(&self) -> Delivery {
        let mut t = self.targets.clone();
        t.sort_by_key(|&(n, _, _)| n);
        t.into_iter().map(|(_, a, l)| (a, l)).collect()
    }
}

/// Slots in the first chunk of a registry; chunk `k` has `FIRST << k`.
const FIRST: usize = 64;
/// Chunks at most: room for about 2^32 live handles of one kind.
const CHUNKS: usize = 26;
/// Freed slots kept unused before one is handed out again, so that a
/// handle used after it was freed is recognised as stale (unless this
/// many others were freed since).
const QUARANTINE: usize = 1024;

/// One handle: the object, while it is live. Its lock is taken on every
/// call through the handle, so it is parking_lot's (one inlined atomic
/// instruction to take, one to release; std's costs about 40
/// instructions per use, docs/PERFORMANCE.md).
struct Slot<V>(parking_lot::Mutex<Option<V>>);

/// Live objects by the address C holds.
///
/// A handle is the address of a slot in one of the registry's chunks,
/// which are allocated as needed and never freed: a pointer C passes in is
/// checked to lie on a slot of a chunk before it is used, so NULL, a
/// destroyed handle or a pointer that was never ours is recognised without
/// being dereferenced, and a lookup takes no global lock and no hashing
/// (a range check per chunk, then the slot's own lock), which keeps the
/// per-call functions cheap and threads on different contexts apart.
/// `V` is what a slot holds: an `Arc` for objects a call may hold while it
/// waits (procs, contexts), the object itself for argument lists, used
/// under the slot's lock ([`Registry::lock`]).
pub(crate) struct Registry<V> {
    chunks: [AtomicPtr<Slot<V>>; CHUNKS],
    alloc: Mutex<Alloc>,
}

/// Slots handed out so far, and freed ones waiting for reuse.
struct Alloc {
    next: usize,
    freed: VecDeque<usize>,
}

// SAFETY: the chunks are shared, never-freed arrays of slots whose
// contents are behind a lock.
unsafe impl<V: Send> Sync for Registry<V> {}

/// A live object with its slot locked ([`Registry::lock`]).
pub(crate) struct Held<'a, V>(parking_lot::MutexGuard<'a, Option<V>>);

impl<V> Held<'_, V> {
    /// The object (always there: a `Held` is made only for a live slot,
    /// and it stays locked).
    pub(crate) fn get(&mut self) -> Option<&mut V> {
        self.0.as_mut()
    }
}

impl<V> Registry<V> {
    const fn new() -> Self {
        Registry {
            chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; CHUNKS],
            alloc: Mutex::new(Alloc {
                next: 0,
                freed: VecDeque::new(),
            }),
        }
    }

    fn alloc_lock(&self) -> MutexGuard<'_, Alloc> {
        self.alloc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The chunk and index in it of slot number `i`.
    fn place(i: usize) -> (usize, usize) {
        let k = (i / FIRST + 1).ilog2() as usize;
        (k, i - FIRST * ((1 << k) - 1))
    }

    /// The slot at address `key`, if `key` is one of ours.
    #[inline(always)]
    fn slot(&self, key: usize) -> Option<&Slot<V>> {
        let size = std::mem::size_of::<Slot<V>>();
        for (k, c) in self.chunks.iter().enumerate() {
            let base = c.load(Ordering::Acquire);
            if base.is_null() {
                return None;
            }
            let off = key.wrapping_sub(base as usize);
            if off < (FIRST << k) * size {
                if !off.is_multiple_of(size) {
                    return None;
                }
                // SAFETY: `key` is the address of a slot of chunk k (checked
                // just above), and chunks are never freed.
                return Some(unsafe { &*(key as *const Slot<V>) });
            }
        }
        None
    }

    /// Registers `v`; its handle is the address of its slot. `None` when
    /// every slot is in use.
    pub(crate) fn insert(&self, v: V) -> Option<usize> {
        let mut a = self.alloc_lock();
        let key = if a.freed.len() > QUARANTINE {
            a.freed.pop_front()?
        } else {
            let (k, j) = Self::place(a.next);
            if k >= CHUNKS {
                return None;
            }
            let mut base = self.chunks[k].load(Ordering::Acquire);
            if base.is_null() {
                let chunk: Box<[Slot<V>]> = (0..FIRST << k)
                    .map(|_| Slot(parking_lot::Mutex::new(None)))
                    .collect();
                base = Box::into_raw(chunk) as *mut Slot<V>;
                self.chunks[k].store(base, Ordering::Release);
            }
            a.next += 1;
            // SAFETY: j < FIRST << k, the chunk's length.
            unsafe { base.add(j) as usize }
        };
        let slot = self.slot(key)?;
        *slot.0.lock() = Some(v);
        Some(key)
    }

    /// The live object at `key`, locked.
    #[inline(always)]
    pub(crate) fn lock(&self, key: usize) -> Option<Held<'_, V>> {
        let g = self.slot(key)?.0.lock();
        g.is_some().then_some(Held(g))
    }

    pub(crate) fn remove(&self, key: usize) -> Option<V> {
        let v = self.slot(key)?.0.lock().take()?;
        self.alloc_lock().freed.push_back(key);
        Some(v)
    }
}

impl<V: Clone> Registry<V> {
    /// A clone of the live object at `key`.
    #[inline(always)]
    pub(crate) fn get(&self, key: usize) -> Option<V> {
        self.slot(key)?.0.lock().clone()
    }

    pub(crate) fn find(&self, f: impl Fn(&V) -> bool) -> Option<(usize, V)> {
        let n = self.alloc_lock().next;
        (0..n).find_map(|i| {
            let (k, j) = Self::place(i);
            let base = self.chunks[k].load(Ordering::Acquire);
            // SAFETY: slot i was handed out, so its chunk exists and j is
            // inside it.
            let slot = unsafe { &*base.add(j) };
            let v = slot.0.lock().clone()?;
            f(&v).then_some((slot as *const Slot<V> as usize, v))
        })
    }
}

pub(crate) static PROCS: Registry<Arc<CProc>> = Registry::new();
pub(crate) static CTXS: Registry<Arc<CCtx>> = Registry::new();
pub(crate) static ARGS: Registry<CArgs> = Registry::new();
pub(crate) static ATTRS: Registry<usize> = Registry::new();

/// The C handle of each registered queue, by the queue's address, so that
/// `veo_get_context` gives the handle `veo_context_open` gave.
static CTX_KEYS: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());

/// The error line when a registry is full.
pub(crate) const FULL: &str = "too many live handles of this kind";

/// Registers a new proc; its handle is the address of its slot.
pub(crate) fn new_proc(proc: Proc) -> Option<*mut veo_proc_handle> {
    let c = Arc::new(CProc {
        proc,
        contexts: ContextList::new(),
        main: OnceLock::new(),
        results: ResultKinds::default(),
    });
    PROCS.insert(c).map(|k| k as *mut veo_proc_handle)
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

/// The handle C holds for `queue`, registering it if new; `None` when
/// the registry is full.
pub(crate) fn ctx_handle(
    queue: Arc<RequestQueue<Tag>>,
    proc: &Arc<CProc>,
) -> Option<*mut veo_thr_ctxt> {
    let id = Arc::as_ptr(&queue) as usize;
    let mut keys = CTX_KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let key = match keys.get(&id) {
        Some(&k) => k,
        None => {
            let k = CTXS.insert(Arc::new(CCtx {
                queue,
                proc: proc.clone(),
            }))?;
            keys.insert(id, k);
            k
        }
    };
    Some(key as *mut veo_thr_ctxt)
}

/// Unregisters the handle of `queue`.
pub(crate) fn forget_ctx(queue: &Arc<RequestQueue<Tag>>) {
    let id = Arc::as_ptr(queue) as usize;
    let key = CTX_KEYS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id);
    if let Some(k) = key {
        CTXS.remove(k);
    }
}

/// The context behind `h`, or the error line.
#[inline]
pub(crate) fn ctx(h: *const veo_thr_ctxt) -> Result<Arc<CCtx>, &'static str> {
    if h.is_null() {
        return Err("the context is NULL");
    }
    CTXS.get(h as usize)
        .ok_or("the context is not a live context (closed, or never opened)")
}

/// The argument list behind `h`, or the error line.
#[inline]
pub(crate) fn args(h: *const veo_args) -> Result<Held<'static, CArgs>, &'static str> {
    if h.is_null() {
        return Err("the argument list is NULL");
    }
    ARGS.lock(h as usize)
        .ok_or("the argument list is not live (freed, or never allocated)")
}

/// A locked argument list, as a call uses it (in place).
pub(crate) struct CallArgs<'a> {
    pub held: Held<'a, CArgs>,
}

impl<'a> From<Held<'a, CArgs>> for CallArgs<'a> {
    #[inline]
    fn from(held: Held<'a, CArgs>) -> Self {
        CallArgs { held }
    }
}

impl AsMut<ArgList> for CallArgs<'_> {
    #[inline]
    fn as_mut(&mut self) -> &mut ArgList {
        // A `Held` slot is never empty: the empty list is never made.
        &mut self.held.0.get_or_insert_with(CArgs::default).list
    }
}

/// The attributes behind `h`, or the error line.
pub(crate) fn attr(h: *const veo_thr_ctxt_attr) -> Result<Held<'static, usize>, &'static str> {
    if h.is_null() {
        return Err("the attributes are NULL");
    }
    ATTRS
        .lock(h as usize)
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
