//! Shared helpers of the fault suite (tests/tests/fault/) and of the soak
//! test (tests/tests/soak.rs).

use std::sync::mpsc;
use std::time::{Duration, Instant};
use veo_runtime::{Args, Function, Library, Proc};

/// Aborts the whole test process, with a message, if it is still alive
/// after `limit`: a hang becomes a failure instead of a stuck suite. Not a
/// timing assertion: the limits are minutes where the work takes
/// milliseconds.
pub struct Guard {
    done: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn guard(what: &'static str, limit: Duration) -> Guard {
    let (tx, rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("HANG: {what} did not finish within {limit:?}; aborting the test process");
            std::process::abort();
        }
    });
    Guard {
        done: Some(tx),
        thread: Some(thread),
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The state letter of `/proc/<pid>/stat` (`None`: no such process).
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().next()?.chars().next()
}

/// Whether `pid` no longer runs: no such process, or a zombie (dead, only its
/// exit status is left, for a parent that may never reap it).
pub fn is_gone(pid: u32) -> bool {
    matches!(proc_state(pid), None | Some('Z') | Some('X'))
}

/// Polls (`veo_tests::poll_for`) until `pid` is gone or `limit` passes;
/// returns how long it took, or `None` if it is still running.
pub fn wait_gone(pid: u32, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    veo_tests::poll_for(limit, || is_gone(pid).then(|| start.elapsed()))
}

/// The test kernels loaded into `proc`.
pub fn kernels(proc: &Proc) -> Library {
    proc.load_library(veo_tests::KERNELS).unwrap()
}

/// `f` of the test kernels.
pub fn kernel(proc: &Proc, name: &str) -> Function {
    kernels(proc).function(name).unwrap()
}

/// The reference of the `fault_mix` kernel.
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 31;
    x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 29;
    x
}

/// Checks that `proc` still answers: a call, an allocation, a transfer.
pub fn assert_answers(proc: &Proc) {
    let f = kernel(proc, "add_i64");
    let mut args = Args::new();
    args.i64(40).i64(2);
    let r: i64 = proc
        .call_sync(&f, args)
        .expect("the helper still answers calls");
    assert_eq!(r, 42);
    let buf = proc.alloc::<u64>(4).expect("the helper still allocates");
    proc.write(&buf, &[1, 2, 3, 4]).unwrap();
    let mut back = [0u64; 4];
    proc.read(&mut back, &buf).unwrap();
    assert_eq!(back, [1, 2, 3, 4]);
    let ctx = proc
        .open_context()
        .expect("the helper still opens contexts");
    let mut args = Args::new();
    args.i64(-1).i64(1);
    assert_eq!(ctx.call::<i64>(&f, args).unwrap().wait().unwrap(), 0);
}

/// The proc's shared segment, mapped a second time in this process through
/// the helper's descriptor in `/proc`: what a test scribbles on to play a
/// corrupted segment.
pub fn attach_segment(proc: &Proc) -> veo_urpc::Segment {
    let dir = format!("/proc/{}/fd", proc.pid());
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        if target.to_string_lossy().starts_with("/memfd:veo-urpc") {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(e.path())
                .unwrap();
            return veo_urpc::Segment::attach(f.into()).unwrap();
        }
    }
    panic!("no segment among the helper's descriptors");
}
