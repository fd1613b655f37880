//! Every way a helper can end is said in words: any signal by its name, a
//! kernel ending its thread with `pthread_exit`, a helper that quit because
//! its shared segment was corrupted.

use super::util::{self, attach_segment, guard, kernel};
use std::time::Duration;
use veo_runtime::{Args, Error, Proc};

/// The message of what a request got when its kernel raised `sig`.
fn ending_of_raise(sig: i32) -> String {
    let proc = Proc::new(0).unwrap();
    let raise = kernel(&proc, "fault_raise");
    let ctx = proc.open_context().unwrap();
    let mut a = Args::new();
    a.i32(sig);
    let err = ctx.call::<()>(&raise, a).unwrap().wait().unwrap_err();
    // A later use reports the same death.
    let later = proc.alloc::<u8>(1).unwrap_err();
    assert!(matches!(later, Error::HelperDied { .. }), "{later}");
    format!("{err} / {later}")
}

#[test]
fn every_signal_is_named() {
    let _g = guard("signal names", Duration::from_secs(120));
    for (sig, name) in [
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
        (libc::SIGRTMIN() + 3, "SIGRTMIN+3"),
    ] {
        let text = ending_of_raise(sig);
        assert!(text.contains(name), "signal {sig}: {text}");
        assert!(!text.contains("a signal (signal"), "signal {sig}: {text}");
    }
}

#[test]
fn a_kernel_calling_pthread_exit_is_named() {
    let _g = guard("pthread_exit", Duration::from_secs(180));
    let proc = Proc::new(0).unwrap();
    let f = kernel(&proc, "fault_pthread_exit");
    let ctx = proc.open_context().unwrap();
    let mut r = ctx.call::<()>(&f, Args::new()).unwrap();
    // Not a timing assertion: a request that never ends is the bug.
    let err = r.wait_timeout(Duration::from_secs(60)).unwrap_err();
    assert!(!matches!(err, Error::Timeout(_)), "the request never ended");
    assert!(err.to_string().contains("pthread_exit"), "{err}");
    // As a synchronous call too, on a fresh proc.
    let proc = Proc::new(0).unwrap();
    let f = kernel(&proc, "fault_pthread_exit");
    let err = proc.call_sync::<()>(&f, Args::new()).unwrap_err();
    assert!(err.to_string().contains("pthread_exit"), "{err}");
}

#[test]
fn a_helper_that_finds_its_segment_corrupted_says_so() {
    let _g = guard("corrupted segment", Duration::from_secs(120));
    let proc = Proc::new(0).unwrap();
    let wait = kernel(&proc, "fault_wait_flag");
    let add = kernel(&proc, "add_i64");
    let flag = proc.alloc::<i64>(1).unwrap();
    proc.write(&flag, &[0]).unwrap();
    let ctx = proc.open_context().unwrap();
    let mut a = Args::new();
    a.ptr(flag.as_ptr());
    let held = ctx.call::<i64>(&wait, a).unwrap();
    let mut a = Args::new();
    a.i64(1).i64(2);
    let queued = ctx.call::<i64>(&add, a).unwrap();
    // While the worker is held in the kernel, overwrite the queued call in
    // its command ring: it is garbage when the worker gets to it.
    let seg = attach_segment(&proc);
    let mut cmd = seg.channel(ctx.index()).cmd.acquire_consumer().unwrap();
    let mut target = None;
    while let Ok(Some(m)) = cmd.peek() {
        if m.reqid == queued.id() {
            target = Some(m.body.as_ptr() as *mut u64);
            break;
        }
        cmd.advance();
    }
    let body = target.expect("the queued call is in the ring");
    // SAFETY: the message lies in this process's own shared mapping of the
    // segment, 8-aligned; nothing here holds a reference to it any more.
    unsafe { body.sub(2).write_volatile(0x5a5a_5a5a_5a5a_5a5a) };
    proc.write(&flag, &[1]).unwrap();
    let _ = held.wait();
    let err = queued.wait().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("corrupt"), "{text}");
    let later = proc.alloc::<u8>(1).unwrap_err().to_string();
    assert!(later.contains("corrupt"), "{later}");
}

#[test]
fn a_helper_whose_segment_header_was_overwritten_says_so() {
    let _g = guard("corrupted header", Duration::from_secs(120));
    let proc = Proc::new(0).unwrap();
    let seg = attach_segment(&proc);
    // Garbage where the VH's "please exit" flag lives: not a request to exit.
    seg.header()
        .shutdown
        .store(0x5a5a_5a5a, std::sync::atomic::Ordering::Release);
    seg.channel(0).cmd.wake_all();
    let pid = proc.pid();
    assert!(
        util::wait_gone(pid, Duration::from_secs(60)).is_some(),
        "the helper ignored its corrupted segment"
    );
    let err = proc.alloc::<u8>(1).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("corrupt"), "{text}");
    assert!(!text.ends_with("exited with status 0"), "{text}");
}
