//! A kernel that never returns (docs/RELIABILITY.md, "A kernel that never
//! returns cannot hang the program"). A wait with a time limit
//! gives `Error::Timeout` and leaves the request pending; dropping the
//! context never blocks; dropping the proc ends the helper, and what was
//! pending then fails instead of hanging.

use super::util::{assert_answers, guard, kernel, wait_gone};
use std::time::Duration;
use veo_runtime::{Args, Error, Proc};

#[test]
fn wait_timeout_then_drop_proc_ends_helper() {
    let _g = guard("never-returning kernel", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let pid = proc.pid();
    let forever = kernel(&proc, "fault_forever");
    let ctx = proc.open_context().unwrap();
    let mut req = ctx.call::<()>(&forever, Args::new()).unwrap();

    let limit = Duration::from_millis(100);
    match req.wait_timeout(limit) {
        Err(Error::Timeout(d)) => assert_eq!(d, limit),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // Still pending: a second timed wait and a peek say so again.
    assert!(matches!(req.wait_timeout(limit), Err(Error::Timeout(_))));
    assert!(matches!(req.peek(), Ok(None)));
    // The proc's own queue still answers while the context is stuck.
    assert_answers(&proc);

    drop(proc);
    // The helper is gone: the runtime asked it to exit, killed it when it did
    // not, and reaped it.
    assert!(
        wait_gone(pid, Duration::from_secs(10)).is_some(),
        "helper {pid} still runs after its proc was dropped"
    );
    // What was pending fails now instead of hanging, and so does new work.
    let e = req.wait().unwrap_err();
    assert!(matches!(e, Error::Closed(_)), "{e:?}");
    let e = ctx.call::<()>(&forever, Args::new()).unwrap_err();
    assert!(matches!(e, Error::Closed(_)), "{e:?}");
}

#[test]
fn dropping_a_stuck_context_does_not_block() {
    let _g = guard("dropping a stuck context", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let pid = proc.pid();
    let forever = kernel(&proc, "fault_forever");
    {
        let ctx = proc.open_context().unwrap();
        let req = ctx.call::<()>(&forever, Args::new()).unwrap();
        // Dropping an unfinished request discards it; dropping the context
        // queues its close behind the stuck kernel and returns.
        drop(req);
        drop(ctx);
    }
    // The proc lives on: new contexts work, and the stuck slot is not reused
    // while its worker is still inside the kernel.
    assert_answers(&proc);
    let ctx = proc.open_context().unwrap();
    let f = kernel(&proc, "fault_inc");
    let mut args = Args::new();
    args.u64(41);
    assert_eq!(ctx.call::<u64>(&f, args).unwrap().wait().unwrap(), 42);
    drop(ctx);
    drop(proc);
    assert!(
        wait_gone(pid, Duration::from_secs(10)).is_some(),
        "helper {pid} still runs after its proc was dropped"
    );
}

#[test]
fn never_returning_sync_call_ends_with_the_proc() {
    // A synchronous call blocks its thread; the proc cannot be dropped while
    // it is borrowed, but killing the helper (as an operator would) ends the
    // call with an error instead of a hang.
    let _g = guard("never-returning sync call", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let pid = proc.pid();
    let forever = kernel(&proc, "fault_forever");
    std::thread::scope(|s| {
        let t = s.spawn(|| proc.call_sync::<()>(&forever, Args::new()));
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: kill has no memory effects; the pid is the proc's
        // unreaped child.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        let e = t.join().unwrap().unwrap_err();
        match e {
            Error::HelperDied { pid: p, status } => {
                assert_eq!(p, pid);
                assert!(status.contains("SIGKILL"), "{status}");
            }
            other => panic!("{other:?}"),
        }
    });
    assert!(!proc.is_alive());
}
