//! Running one test of this test program again in a child process, where it
//! is alone: for what must not happen in a process whose tests run in
//! parallel threads (an environment variable the runtime reads, a fork, an
//! exit, a measure of the whole process).
//!
//! The child is this executable, filtered to the one test with `--exact`,
//! with a marker variable set that tells the test to play the child's part.
//! Also [`write_program`]: writing a program a test starts, safely in a
//! process whose other threads fork.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

/// The name under which the harness knows test `name` of the module at
/// `module_path` (a `module_path!()`): the module path without the crate's
/// own name. It stays right wherever the module is included.
pub fn test_path(module_path: &str, name: &str) -> String {
    match module_path.split_once("::") {
        Some((_crate, modules)) => format!("{modules}::{name}"),
        None => name.to_string(),
    }
}

/// The harness's name of test function `$name` of the current module.
#[macro_export]
macro_rules! test_path {
    ($name:ident) => {
        $crate::test_path(::core::module_path!(), ::core::stringify!($name))
    };
}

/// Whether this process is a child started for `marker`.
pub fn is_child(marker: &str) -> bool {
    std::env::var_os(marker).is_some()
}

/// The command that runs test `test` (a [`test_path()`]) of this program
/// alone, with its output not captured, `marker` set in its environment and
/// no standard input.
pub fn child(test: &str, marker: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test program's path"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(marker, "1")
        .stdin(Stdio::null());
    cmd
}

/// Runs [`child`] with `env` added to the child's environment only; returns
/// its exit status and everything it wrote to stdout and stderr.
pub fn run_child(test: &str, marker: &str, env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    let mut cmd = child(test, marker);
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("the child test program runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes `contents` to `path` as an executable program (mode 0755) that
/// this process can start at once.
///
/// Not `std::fs::write`: while this process holds the file open for
/// writing, a process another test thread forks inherits the descriptor
/// until it execs, and starting the program in that window fails with
/// `ETXTBSY` ("Text file busy"). So the bytes go to a scratch file first
/// and `install`, a process of its own that no test forks from, writes the
/// program.
pub fn write_program(path: &Path, contents: impl AsRef<[u8]>) {
    let scratch = path.with_extension(format!("{}.bytes", std::process::id()));
    std::fs::write(&scratch, contents).expect("the program's bytes are written");
    let status = Command::new("install")
        .arg("-m")
        .arg("0755")
        .arg(&scratch)
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("`install` runs");
    assert!(status.success(), "install {}: {status}", path.display());
    let _ = std::fs::remove_file(&scratch);
}
