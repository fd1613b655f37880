//! `fork()` on either side. A VH that forks while it holds a proc: the
//! child's copy does nothing on drop and refuses every use with an error
//! that says why; the parent's proc is untouched. A kernel that forks: only
//! the helper itself serves the channel and records faults, so the VH gets
//! the parent's answer, and a child's `exit` is not mistaken for the
//! kernel's.

use super::util::{assert_answers, guard, kernel};
use std::time::{Duration, Instant};
use veo_runtime::{Args, Proc};
use veo_tests::{is_child, run_child, test_path};

const VH_CHILD: &str = "VEO_FAULT_FORK_VH_CHILD";

/// Writes a line to the real stdout (the harness captures only `print!`).
fn say(line: &str) {
    let text = format!("\n{line}\n");
    // SAFETY: writes a valid buffer to fd 1.
    unsafe { libc::write(1, text.as_ptr().cast(), text.len()) };
}

/// The VH of the test: holds a proc, a context, a library and a buffer,
/// forks, and plays both sides.
fn forking_vh() -> ! {
    let proc = Proc::new(0).unwrap();
    let lib = proc.load_library(veo_tests::KERNELS).unwrap();
    let add = lib.function("add_i64").unwrap();
    let ctx = proc.open_context().unwrap();
    let buf = proc.alloc::<u64>(4).unwrap();
    proc.write(&buf, &[1, 2, 3, 4]).unwrap();
    // SAFETY: fork; the child only uses what this function owns, and ends
    // with _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let mut a = Args::new();
        a.i64(1).i64(2);
        match proc.call_sync::<i64>(&add, a) {
            Ok(v) => say(&format!("CHILD-SYNC-OK {v}")),
            Err(e) => say(&format!("CHILD-SYNC-ERR {e}")),
        }
        let mut a = Args::new();
        a.i64(1).i64(2);
        match ctx.call::<i64>(&add, a) {
            Ok(_) => say("CHILD-CALL-OK"),
            Err(e) => say(&format!("CHILD-CALL-ERR {e}")),
        }
        match proc.alloc::<u8>(1) {
            Ok(_) => say("CHILD-ALLOC-OK"),
            Err(e) => say(&format!("CHILD-ALLOC-ERR {e}")),
        }
        let start = Instant::now();
        drop(buf);
        drop(ctx);
        drop(lib);
        drop(proc);
        // The runtime's bound for a drop, whatever the state; here it must
        // do nothing at all.
        say(&format!("CHILD-DROP-MS {}", start.elapsed().as_millis()));
        // SAFETY: ends the child without running the harness's exit path.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    say(&format!("CHILD-STATUS {status}"));
    let mut back = [0u64; 4];
    proc.read(&mut back, &buf).unwrap();
    assert_eq!(back, [1, 2, 3, 4]);
    let mut a = Args::new();
    a.i64(40).i64(2);
    assert_eq!(ctx.call::<i64>(&add, a).unwrap().wait().unwrap(), 42);
    assert_answers(&proc);
    say("PARENT-OK");
    std::process::exit(0)
}

#[test]
fn a_forked_vh_leaves_its_parents_proc_alone() {
    if is_child(VH_CHILD) {
        forking_vh();
    }
    let _g = guard("VH fork", Duration::from_secs(120));
    let (status, out, err) = run_child(
        &test_path!(a_forked_vh_leaves_its_parents_proc_alone),
        VH_CHILD,
        &[],
    );
    let all = format!("{status}\n--- stdout\n{out}\n--- stderr\n{err}");
    assert!(status.success(), "{all}");
    let line = |tag: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("no {tag}: {all}"))
            .to_string()
    };
    for tag in ["CHILD-SYNC-ERR ", "CHILD-CALL-ERR ", "CHILD-ALLOC-ERR "] {
        let e = line(tag);
        assert!(e.contains("fork"), "{tag}{e}");
        assert!(e.contains("process"), "{tag}{e}");
    }
    assert_eq!(line("CHILD-STATUS "), "0");
    let ms: u64 = line("CHILD-DROP-MS ").parse().unwrap();
    assert!(ms < 1000, "the child's drop took {ms} ms");
    line("PARENT-OK");
}

#[test]
fn only_the_helper_answers_when_a_kernel_forks() {
    let _g = guard("kernel fork", Duration::from_secs(120));
    let proc = Proc::new(0).unwrap();
    let fork = kernel(&proc, "fault_fork_return");
    let ctx = proc.open_context().unwrap();
    for i in 0..10 {
        let r = ctx.call::<i64>(&fork, Args::new()).unwrap().wait().unwrap();
        assert_eq!(r, 2, "call {i} got the child's answer");
        let r: i64 = proc.call_sync(&fork, Args::new()).unwrap();
        assert_eq!(r, 2, "sync call {i} got the child's answer");
    }
    assert_answers(&proc);
}

#[test]
fn a_forked_childs_exit_is_not_the_kernels() {
    let _g = guard("kernel fork exit", Duration::from_secs(120));
    let proc = Proc::new(0).unwrap();
    let f = kernel(&proc, "fault_fork_exit");
    let ctx = proc.open_context().unwrap();
    assert_eq!(ctx.call::<i64>(&f, Args::new()).unwrap().wait().unwrap(), 7);
    assert_answers(&proc);
    // A later death reads as what it is: a SIGKILL, not "exit()".
    // SAFETY: kill has no memory effects; the helper is our child.
    unsafe { libc::kill(proc.pid() as i32, libc::SIGKILL) };
    let err = proc.call_sync::<i64>(&f, Args::new()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("SIGKILL"), "{text}");
    assert!(!text.contains("exit()"), "{text}");
}
