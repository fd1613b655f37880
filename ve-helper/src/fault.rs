//! Faults inside kernels: a fatal signal or `exit` is recorded in the
//! segment header for the VH, which then fails that request with the signal
//! and address; the helper exits at once.

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, Ordering};
use veo_urpc::segment::{fault, SegmentHeader};
use veo_urpc::Segment;

/// The segment, for the signal handler (set once, never freed: the helper
/// exits with `_exit` and never unmaps it).
static SEGMENT: AtomicPtr<Segment> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    /// The (channel, request) this thread is running a kernel for.
    static CURRENT: Cell<(u64, u64)> = const { Cell::new((u64::MAX, 0)) };
}

/// Marks the request a kernel call belongs to, for the duration of the call.
pub(crate) fn set_current(channel: u64, reqid: u64) {
    CURRENT.with(|c| c.set((channel, reqid)));
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
    // SAFETY: plain sigaction/atexit registration with handlers that only
    // use async-signal-safe operations (atomics, futex wake, _exit).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut sa.sa_mask);
        for sig in SIGNALS {
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        libc::atexit(on_exit);
    }
    alt_stack();
}

/// Gives the calling thread an alternate signal stack, so that a kernel's
/// stack overflow is reported too. Each worker calls it once.
pub(crate) fn alt_stack() {
    const SIZE: usize = 256 << 10;
    // SAFETY: a private anonymous mapping handed to sigaltstack; it is never
    // unmapped (threads live as long as their context, and it is small).
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return;
        }
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
