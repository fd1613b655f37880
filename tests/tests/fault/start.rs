//! Starting a helper: it runs in a process group of its own, and a start
//! that fails or times out ends the whole group; the environment and the
//! builder's settings are checked; the segment's token is not left readable
//! in the helper's `/proc/PID/environ`.

use super::util::{self, guard, wait_gone};
use std::time::Duration;
use veo_runtime::{Error, Proc};
use veo_tests::{is_child, run_child, test_path};

/// A helper program (a shell script) that starts a long-lived child,
/// writes its pid to `pidfile`, then does `then`.
fn script(
    dir: &std::path::Path,
    name: &str,
    then: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let pidfile = dir.join(format!("{name}.pid"));
    let path = dir.join(format!("{name}.sh"));
    veo_tests::write_program(
        &path,
        format!(
            "#!/bin/sh\nsleep 1000 &\necho $! > {}.tmp\nmv {0}.tmp {0}\n{then}\n",
            pidfile.display()
        ),
    );
    (path, pidfile)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("veo-fault-start-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pid_in(file: &std::path::Path) -> u32 {
    std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_failed_start_ends_the_helpers_whole_process_group() {
    let _g = guard("failed start", Duration::from_secs(120));
    let dir = scratch("fail");
    let (helper, pidfile) = script(&dir, "fails", "exit 3");
    let err = Proc::builder().helper(&helper).build().unwrap_err();
    assert!(matches!(err, Error::HelperStart { .. }), "{err}");
    assert!(err.to_string().contains("status 3"), "{err}");
    let child = pid_in(&pidfile);
    // Not a timing assertion: "gone" is what is checked, the minute only
    // bounds the wait for the kill to take effect.
    assert!(
        wait_gone(child, Duration::from_secs(60)).is_some(),
        "the helper's child {child} is still running"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_timed_out_start_ends_the_helpers_whole_process_group() {
    let _g = guard("timed-out start", Duration::from_secs(120));
    let dir = scratch("slow");
    let (helper, pidfile) = script(&dir, "slow", "exec sleep 1000");
    let err = Proc::builder()
        .helper(&helper)
        .start_timeout(Duration::from_millis(1500))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("did not answer"), "{err}");
    let child = pid_in(&pidfile);
    assert!(
        wait_gone(child, Duration::from_secs(60)).is_some(),
        "the helper's child {child} is still running"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_helper_leads_a_process_group_of_its_own() {
    let _g = guard("process group", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    // SAFETY: getpgid has no memory effects.
    let group = unsafe { libc::getpgid(proc.pid() as i32) };
    assert_eq!(group, proc.pid() as i32);
    // SAFETY: as above.
    assert_ne!(group, unsafe { libc::getpgid(0) });
}

const ENV_CHILD: &str = "VEO_FAULT_START_ENV_CHILD";

/// In a child process whose environment has the bad values: what the
/// builder says, one line each.
#[test]
fn bad_environment_values_are_errors_naming_them() {
    if is_child(ENV_CHILD) {
        let err = Proc::builder().build().unwrap_err();
        println!("\nBUILD-ERROR {err}");
        std::process::exit(0);
    }
    let _g = guard("environment", Duration::from_secs(120));
    /// (the child's environment, words its error must contain)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 4] = [
        (&[("VE_NODE_NUMBER", "abc")], &["VE_NODE_NUMBER", "abc"]),
        (&[("VE_NODE_NUMBER", "-1")], &["VE_NODE_NUMBER", "-1"]),
        (&[("VE_CORE_NUMBER", "999")], &["VE_CORE_NUMBER", "999"]),
        (&[("VE_CORE_NUMBER", "x7")], &["VE_CORE_NUMBER", "x7"]),
    ];
    for (env, words) in cases {
        let (status, out, err) = run_child(
            &test_path!(bad_environment_values_are_errors_naming_them),
            ENV_CHILD,
            env,
        );
        assert!(status.success(), "{env:?}: {status}\n{out}\n{err}");
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("BUILD-ERROR "))
            .unwrap_or_else(|| panic!("{env:?}: no error\n{out}\n{err}"));
        for w in words {
            assert!(line.contains(w), "{env:?}: {line}");
        }
    }
}

#[test]
fn a_core_past_the_machines_cpus_is_an_error() {
    let _g = guard("core range", Duration::from_secs(60));
    let cpus = std::thread::available_parallelism().unwrap().get() as u32;
    for core in [cpus, cpus + 97] {
        let err = Proc::builder().core(core).build().unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::InvalidArgument(_)), "{text}");
        assert!(text.contains(&format!("core({core})")), "{text}");
    }
    // The last CPU is fine.
    let proc = Proc::builder().core(cpus - 1).build().unwrap();
    util::assert_answers(&proc);
}

#[test]
fn the_segment_token_is_not_readable_in_the_helpers_environ() {
    let _g = guard("environ", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let environ = std::fs::read(format!("/proc/{}/environ", proc.pid())).unwrap();
    for var in environ.split(|&b| b == 0) {
        let var = String::from_utf8_lossy(var);
        if let Some(i) = var.find("token=") {
            let rest = &var[i + 6..];
            assert!(
                !rest.starts_with(|c: char| c.is_ascii_hexdigit()),
                "the helper's environ shows the token: {var}"
            );
        }
    }
    util::assert_answers(&proc);
}
