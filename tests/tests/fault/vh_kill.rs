//! The VH process killed with SIGKILL (docs/RELIABILITY.md, "A VH killed
//! with SIGKILL leaves nothing behind"). The VH is a child
//! program started by the test (this test binary, re-run with an environment
//! variable and an `--exact` filter on this same test). Its helper must be
//! gone within a second of the VH's end, and nothing must be left in
//! `/dev/shm` or in SysV IPC.

use super::util::{guard, proc_state, wait_gone};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};
use veo_runtime::{Args, Proc};
use veo_tests::{is_child, test_path};

const CHILD_ENV: &str = "VEO_FAULT_VH_CHILD";

/// What the child VH does: start a proc with a kernel running, report the
/// helper's pid, then wait to be killed (bounded: it gives up after a minute).
fn child_vh() -> ! {
    let proc = Proc::new(0).unwrap();
    let lib = proc.load_library(veo_tests::KERNELS).unwrap();
    let forever = lib.function("fault_forever").unwrap();
    let ctx = proc.open_context().unwrap();
    let add = lib.function("add_i64").unwrap();
    let mut args = Args::new();
    args.i64(1).i64(2);
    assert_eq!(ctx.call::<i64>(&add, args).unwrap().wait().unwrap(), 3);
    let busy = proc.open_context().unwrap();
    let _running = busy.call::<()>(&forever, Args::new()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nHELPER {}", proc.pid()).unwrap();
    out.flush().unwrap();
    std::thread::sleep(Duration::from_secs(60));
    std::process::exit(1)
}

/// The names in /dev/shm.
fn dev_shm() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The SysV IPC objects: (kind, id, creator pid or 0).
fn sysv() -> BTreeSet<(String, String, u32)> {
    let mut out = BTreeSet::new();
    for kind in ["shm", "sem", "msg"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/sysvipc/{kind}")) else {
            continue;
        };
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        for line in lines {
            let f: Vec<&str> = line.split_whitespace().collect();
            let id = col(&format!("{kind}id"))
                .or(col("semid"))
                .and_then(|i| f.get(i))
                .map_or(String::new(), |s| s.to_string());
            let cpid = col("cpid")
                .or(col("lspid"))
                .and_then(|i| f.get(i))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            out.insert((kind.to_string(), id, cpid));
        }
    }
    out
}

/// Paths a process has open or mapped that live in a global namespace of
/// shared memory: /dev/shm files or SysV segments.
fn named_shared_memory(pid: u32) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let t = target.to_string_lossy().into_owned();
                if t.starts_with("/dev/shm") || t.contains("SYSV") {
                    found.push(format!("fd {t}"));
                }
            }
        }
    }
    if let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
        for line in maps.lines() {
            if line.contains("/dev/shm/") || line.contains("SYSV") {
                found.push(format!("map {line}"));
            }
        }
    }
    found
}

#[test]
fn vh_sigkill_leaves_no_helper_and_no_ipc() {
    if is_child(CHILD_ENV) {
        child_vh();
    }
    let _g = guard("VH kill", Duration::from_secs(120));
    let shm_before = dev_shm();
    let sysv_before = sysv();

    let mut child = veo_tests::child(
        &test_path!(vh_sigkill_leaves_no_helper_and_no_ipc),
        CHILD_ENV,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap();
    let vh_pid = child.id();
    let mut helper_pid = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // The harness prints "test <name> ... " without a newline first.
        if let Some((_, p)) = line.split_once("HELPER ") {
            helper_pid = Some(p.trim().parse::<u32>().unwrap());
            break;
        }
    }
    let helper_pid = helper_pid.expect("the child VH did not report its helper");
    assert!(proc_state(helper_pid).is_some(), "helper not running");
    // While both run, neither holds shared memory with a global name.
    assert_eq!(named_shared_memory(vh_pid), Vec::<String>::new());
    assert_eq!(named_shared_memory(helper_pid), Vec::<String>::new());

    // SAFETY: kill has no memory effects; the pid is our unreaped child.
    assert_eq!(unsafe { libc::kill(vh_pid as i32, libc::SIGKILL) }, 0);
    let status = child.wait().unwrap();
    let reaped = Instant::now();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));

    // The helper follows its VH (parent-death signal): gone within a second
    // of the VH's end. A zombie counts as gone: it is dead, and only its
    // exit status waits for a reaper that may never come in a container.
    let took = wait_gone(helper_pid, Duration::from_secs(1));
    assert!(
        took.is_some(),
        "helper {helper_pid} still {:?} {:?} after its VH died",
        proc_state(helper_pid),
        reaped.elapsed()
    );
    eprintln!("helper gone {:?} after the VH was reaped", took.unwrap());

    // Nothing new in /dev/shm or SysV IPC.
    let shm_new: Vec<_> = dev_shm().difference(&shm_before).cloned().collect();
    assert!(shm_new.is_empty(), "new in /dev/shm: {shm_new:?}");
    let sysv_after = sysv();
    let sysv_new: Vec<_> = sysv_after.difference(&sysv_before).collect();
    assert!(sysv_new.is_empty(), "new SysV IPC objects: {sysv_new:?}");
    for (kind, id, cpid) in &sysv_after {
        assert!(
            *cpid != vh_pid && *cpid != helper_pid,
            "SysV {kind} {id} created by the dead VH or helper"
        );
    }
}
