//! Memory hooks: code that runs after VE memory is allocated or freed
//! (AVEO's `veo_register_hook`), for tools that track VE memory, such as
//! an MPI library registering buffers.

use crate::proc::Proc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// The operation a memory hook follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryOp {
    /// [`Proc::alloc_mem`] succeeded.
    Alloc,
    /// [`Proc::free_mem`] succeeded.
    Free,
    /// [`Proc::alloc_hmem`] succeeded (the address is HMEM-tagged).
    AllocHmem,
    /// [`free_hmem`](crate::hmem::free_hmem) succeeded (HMEM-tagged).
    FreeHmem,
    /// An allocation queued with
    /// [`RequestQueue::alloc`](crate::RequestQueue::alloc) finished, in queue
    /// order, before the request can be collected.
    AllocAsync,
    /// A free was queued with
    /// [`RequestQueue::free`](crate::RequestQueue::free) (the hook runs
    /// right after it was queued).
    FreeAsync,
}

impl MemoryOp {
    const ALL: [MemoryOp; 6] = [
        MemoryOp::Alloc,
        MemoryOp::Free,
        MemoryOp::AllocHmem,
        MemoryOp::FreeHmem,
        MemoryOp::AllocAsync,
        MemoryOp::FreeAsync,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// What a memory hook is told.
#[derive(Debug)]
pub struct MemoryEvent<'a> {
    /// The operation.
    pub op: MemoryOp,
    /// The proc whose memory it is.
    pub proc: &'a Proc,
    /// The context's index ([`Context::index`](crate::Context::index)) for
    /// the queued operations, `None` for the synchronous ones.
    pub context: Option<usize>,
    /// The VE address allocated or freed (HMEM-tagged for the HMEM ops).
    pub addr: u64,
    /// The size allocated (0 for frees).
    pub size: u64,
}

/// A memory hook.
pub type MemoryHook = Arc<dyn Fn(&MemoryEvent<'_>) + Send + Sync>;

static ANY: AtomicBool = AtomicBool::new(false);
static HOOKS: RwLock<[Option<MemoryHook>; 6]> = RwLock::new([None, None, None, None, None, None]);

/// Registers `hook` to run after every `op`, replacing the hook `op` had.
pub fn set_memory_hook(op: MemoryOp, hook: impl Fn(&MemoryEvent<'_>) + Send + Sync + 'static) {
    let mut hooks = HOOKS.write().unwrap_or_else(|e| e.into_inner());
    hooks[op.index()] = Some(Arc::new(hook));
    ANY.store(true, Ordering::Release);
}

/// The hook registered for `op`.
pub fn memory_hook(op: MemoryOp) -> Option<MemoryHook> {
    if !ANY.load(Ordering::Acquire) {
        return None;
    }
    HOOKS.read().unwrap_or_else(|e| e.into_inner())[op.index()].clone()
}

/// Removes the hook of `op`; returns whether there was one.
pub fn remove_memory_hook(op: MemoryOp) -> bool {
    let mut hooks = HOOKS.write().unwrap_or_else(|e| e.into_inner());
    let had = hooks[op.index()].take().is_some();
    ANY.store(
        MemoryOp::ALL.iter().any(|o| hooks[o.index()].is_some()),
        Ordering::Release,
    );
    had
}

/// Runs the hook of `op`, if any.
pub(crate) fn fire(op: MemoryOp, proc: &Proc, context: Option<usize>, addr: u64, size: u64) {
    if let Some(hook) = memory_hook(op) {
        hook(&MemoryEvent {
            op,
            proc,
            context,
            addr,
            size,
        });
    }
}
