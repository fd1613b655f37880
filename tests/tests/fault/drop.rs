//! Dropping the last handle of a proc returns within a second whatever the
//! helper's state: stopped, spinning in a kernel on the control channel or
//! on a context, already dead. The bound is the one the runtime promises
//! (its graceful wait is a fraction of it); it is measured around the drop
//! alone, so the load of other tests only adds their share of 2 CPUs.

use super::util::{guard, is_gone, kernel, wait_gone};
use std::time::{Duration, Instant};
use veo_runtime::{Args, Proc};

const BOUND: Duration = Duration::from_secs(1);

fn timed_drop(proc: Proc, what: &str) {
    let pid = proc.pid();
    let start = Instant::now();
    drop(proc);
    let took = start.elapsed();
    assert!(took < BOUND, "{what}: the drop took {took:?}");
    assert!(
        wait_gone(pid, Duration::from_secs(30)).is_some(),
        "{what}: the helper {pid} still runs"
    );
}

#[test]
fn dropping_a_stopped_helper_is_bounded() {
    let _g = guard("stopped", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    // SAFETY: kill has no memory effects; our child.
    unsafe { libc::kill(proc.pid() as i32, libc::SIGSTOP) };
    timed_drop(proc, "stopped");
}

#[test]
fn dropping_a_helper_spinning_on_the_control_channel_is_bounded() {
    let _g = guard("spinning", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let spin = kernel(&proc, "fault_spin_flag");
    let flag = proc.alloc::<i64>(1).unwrap();
    proc.write(&flag, &[0]).unwrap();
    let p = proc.clone();
    let ptr = flag.as_ptr();
    let t = std::thread::spawn(move || {
        let mut a = Args::new();
        a.ptr(ptr);
        p.call_sync::<i64>(&spin, a)
    });
    // Wait until the kernel spins: the flag's page is being read in a
    // loop, nothing to observe from here but the helper's CPU time.
    std::thread::sleep(Duration::from_millis(50));
    std::mem::forget(flag);
    // The last handle goes when both this one and the thread's do: close
    // ends the helper for every handle.
    let start = Instant::now();
    proc.close();
    let took = start.elapsed();
    assert!(took < BOUND, "close took {took:?}");
    assert!(t.join().unwrap().is_err());
}

#[test]
fn dropping_a_helper_spinning_on_a_context_is_bounded() {
    let _g = guard("spinning context", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let spin = kernel(&proc, "fault_spin_flag");
    let flag = proc.alloc::<i64>(1).unwrap();
    proc.write(&flag, &[0]).unwrap();
    let ctx = proc.open_context().unwrap();
    let mut a = Args::new();
    a.ptr(flag.as_ptr());
    let r = ctx.call::<i64>(&spin, a).unwrap();
    std::mem::forget(r);
    std::mem::forget(flag);
    std::mem::forget(ctx);
    timed_drop(proc, "spinning context");
}

#[test]
fn dropping_a_dead_helper_is_bounded() {
    let _g = guard("dead", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let pid = proc.pid();
    // SAFETY: as above.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert!(wait_gone(pid, Duration::from_secs(30)).is_some());
    assert!(is_gone(pid));
    timed_drop(proc, "dead");
}
