//! A kernel's output reaches the VH's own stdout and stderr, in order, by
//! the time the request that printed it completes, when stdout is a pipe
//! (as in every CI log), not only a terminal.

use super::util::{guard, kernel};
use std::time::Duration;
use veo_runtime::{Args, Proc};
use veo_tests::{is_child, run_child, test_path};

const CHILD: &str = "VEO_FAULT_OUTPUT_CHILD";

fn vh_write(fd: i32, text: &str) {
    // SAFETY: writes a valid buffer to one of our descriptors.
    unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
}

fn text(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// The VH: kernels print without newline or fflush, the VH prints after
/// each request completes; the helper outlives everything that printed.
fn printing_vh() -> ! {
    let proc = Proc::new(0).unwrap();
    let print = kernel(&proc, "fault_print");
    let eprint = kernel(&proc, "fault_eprint");
    let ctx = proc.open_context().unwrap();
    let k1 = text("<K1>");
    let mut a = Args::new();
    a.stack_in(&k1);
    ctx.call::<()>(&print, a).unwrap().wait().unwrap();
    vh_write(1, "<V1>");
    let k2 = text("<K2>");
    let mut a = Args::new();
    a.stack_in(&k2);
    proc.call_sync::<()>(&print, a).unwrap();
    vh_write(1, "<V2>");
    let e1 = text("<E1>");
    let mut a = Args::new();
    a.stack_in(&e1);
    ctx.call::<()>(&eprint, a).unwrap().wait().unwrap();
    vh_write(2, "<W1>");
    let k3 = text("<K3>");
    let mut a = Args::new();
    a.stack_in(&k3);
    ctx.call::<()>(&print, a).unwrap().wait().unwrap();
    vh_write(1, "<V3>");
    // Killed, not asked to exit: output already printed is not lost either.
    // SAFETY: kill has no memory effects; the helper is our child.
    unsafe { libc::kill(proc.pid() as i32, libc::SIGKILL) };
    drop(ctx);
    drop(proc);
    std::process::exit(0)
}

fn in_order(out: &str, marks: &[&str]) -> bool {
    let mut at = 0;
    for m in marks {
        match out[at..].find(m) {
            Some(i) => at += i + m.len(),
            None => return false,
        }
    }
    true
}

#[test]
fn kernel_output_reaches_a_piped_stdout_in_order() {
    if is_child(CHILD) {
        printing_vh();
    }
    let _g = guard("kernel output", Duration::from_secs(120));
    let (status, out, err) = run_child(
        &test_path!(kernel_output_reaches_a_piped_stdout_in_order),
        CHILD,
        &[],
    );
    assert!(status.success(), "{status}\n{out}\n{err}");
    assert!(
        in_order(&out, &["<K1>", "<V1>", "<K2>", "<V2>", "<K3>", "<V3>"]),
        "stdout: {out}"
    );
    assert!(in_order(&err, &["<E1>", "<W1>"]), "stderr: {err}");
}
