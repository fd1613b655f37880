//! Faults inside kernels: a fatal signal or `exit` is recorded in the
//! segment header for the VH, which then fails that request with the signal
//! and address; the helper exits at once.
//!
//! Signal handlers, `atexit`, fork handlers, `sigaltstack` and `_exit` are
//! the C library's (rustix has no stable equivalent), hence `libc` here.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use veo_urpc::segment::{fault, SegmentHeader};
use veo_urpc::Segment;

/// The segment, for the signal handler (set once, never freed: the helper
/// exits with `_exit` and never unmaps it).
static SEGMENT: AtomicPtr<Segment> = AtomicPtr::new(std::ptr::null_mut());

/// Set in a `fork()` child of the helper (by an `atfork` handler): a copy
/// that must neither serve the channels nor record faults.
static FORKED: AtomicBool = AtomicBool::new(false);

extern "C" fn after_fork_in_child() {
    FORKED.store(true, Ordering::Relaxed);
}

/// Called after every kernel returns: in a copy of the helper that a
/// kernel's `fork()` made, which just returned from the kernel, says what
/// happened and ends that copy, before it can take an answer or a command
/// meant for the helper.
#[inline]
pub(crate) fn leave_if_forked() {
    if FORKED.load(Ordering::Relaxed) {
        forked_child_returned();
    }
}

#[cold]
fn forked_child_returned() -> ! {
    let msg = format!(
        "ve-helper: a kernel called fork() and its child (pid {}) returned from the kernel into \
         the helper; only the helper serves its VH: the child ends here with status {}\n",
        std::process::id(),
        crate::exit_code::FORKED_CHILD
    );
    // Errors are ignored: nothing is left to tell.
    let _ = rustix::io::write(std::io::stderr(), msg.as_bytes());
    // SAFETY: ends this process without running anything of the parent's
    // (atexit handlers, buffers).
    unsafe { libc::_exit(crate::exit_code::FORKED_CHILD) }
}

thread_local! {
    /// The (channel, request) this thread is running a kernel for.
    static CURRENT: Cell<(u64, u64)> = const { Cell::new((u64::MAX, 0)) };
}

/// Marks the request a kernel call belongs to, for the duration of the call.
pub(crate) fn set_current(channel: u64, reqid: u64) {
    CURRENT.with(|c| c.set((channel, reqid)));
}

/// Held across a kernel call: dropped only if the kernel never returns but
/// unwinds its caller's frames instead (`pthread_exit`, `pthread_cancel`,
/// an exception thrown out of the kernel). The worker's thread is ending
/// under it and its channel could never be served again: the fault is
/// recorded for the VH and the helper ends, as for a fatal signal.
pub(crate) struct Unwinding(());

impl Unwinding {
    pub(crate) fn arm() -> Unwinding {
        Unwinding(())
    }

    /// The kernel returned normally.
    #[inline]
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for Unwinding {
    fn drop(&mut self) {
        record(fault::THREAD_EXIT, 0, 0);
        // SAFETY: ends the process at once: the unwinding thread must not
        // get back into the helper's frames.
        unsafe { libc::_exit(crate::exit_code::THREAD_EXIT) };
    }
}

/// Clears the mark after the call.
pub(crate) fn clear_current() {
    CURRENT.with(|c| c.set((u64::MAX, 0)));
}

const SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];

/// Installs the handlers. `seg` must live until the process exits.
pub(crate) fn install(seg: &'static Segment) {
    SEGMENT.store(seg as *const Segment as *mut Segment, Ordering::Release);
    // SAFETY: plain sigaction/atexit/atfork registration with handlers that
    // only use async-signal-safe operations (atomics, futex wake, _exit).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut sa.sa_mask);
        for sig in SIGNALS {
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        libc::atexit(on_exit);
        libc::pthread_atfork(None, None, Some(after_fork_in_child));
    }
    alt_stack();
}

/// Gives the calling thread an alternate signal stack, so that a kernel's
/// stack overflow is reported too. Each worker calls it once.
pub(crate) fn alt_stack() {
    const SIZE: usize = 256 << 10;
    use rustix::mm::{mmap_anonymous, MapFlags, ProtFlags};
    // SAFETY: a fresh private anonymous mapping, placed by the kernel:
    // nothing else is at that address.
    let p = unsafe {
        mmap_anonymous(
            std::ptr::null_mut(),
            SIZE,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::PRIVATE,
        )
    };
    let Ok(p) = p else { return };
    // SAFETY: the mapping above handed to sigaltstack; it is never unmapped
    // (threads live as long as their context, and it is small).
    unsafe {
        let st = libc::stack_t {
            ss_sp: p,
            ss_flags: 0,
            ss_size: SIZE,
        };
        libc::sigaltstack(&st, std::ptr::null_mut());
    }
}

fn header() -> Option<&'static Segment> {
    let p = SEGMENT.load(Ordering::Acquire);
    // SAFETY: set from a &'static Segment in `install`.
    unsafe { p.as_ref() }
}

fn record(kind: u32, signal: i32, addr: u64) {
    // A kernel's fork() child that faults or exits is not the helper.
    if FORKED.load(Ordering::Relaxed) {
        return;
    }
    let Some(seg) = header() else { return };
    let h: &SegmentHeader = seg.header();
    let (channel, reqid) = CURRENT.with(|c| c.get());
    // Only the first fault counts.
    if h.fault_kind.load(Ordering::Acquire) != fault::NONE {
        return;
    }
    h.fault_signal.store(signal, Ordering::Relaxed);
    h.fault_channel.store(channel, Ordering::Relaxed);
    h.fault_reqid.store(reqid, Ordering::Relaxed);
    h.fault_addr.store(addr, Ordering::Relaxed);
    h.fault_kind.store(kind, Ordering::Release);
    if (channel as usize) < seg.channels() {
        seg.channel(channel as usize).res.wake_all();
    }
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let addr = if sig == libc::SIGABRT || info.is_null() {
        0
    } else {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers;
        // si_addr is defined for SIGSEGV, SIGBUS, SIGFPE and SIGILL.
        unsafe { (*info).si_addr() as u64 }
    };
    record(fault::SIGNAL, sig, addr);
    // SAFETY: _exit is async-signal-safe and skips atexit handlers.
    unsafe { libc::_exit(128 + sig) };
}

extern "C" fn on_exit() {
    // Only a kernel calling exit() gets here: the helper itself ends with _exit.
    record(fault::EXIT, 0, 0);
}
