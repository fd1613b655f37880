//! The job pool: compile commands run in parallel, up to Cargo's
//! `NUM_JOBS` (or the number of CPUs), each worker beyond the first
//! holding a token of Cargo's jobserver as the `cc` crate does, so that
//! `cargo build -j N` holds for the whole build.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::command::Cmd;
use crate::env::cargo_var;
use crate::error::Result;

/// Runs every command and returns their results in the order given (each
/// the command's output, or the error with its command line and output).
pub(crate) fn run_all(cmds: &[Cmd]) -> Vec<Result<String>> {
    if cmds.is_empty() {
        return Vec::new();
    }
    let wanted = cargo_var("NUM_JOBS")
        .and_then(|n| n.parse::<usize>().ok())
        .or_else(|| std::thread::available_parallelism().map(|n| n.get()).ok())
        .unwrap_or(1)
        .clamp(1, cmds.len());
    // The first worker runs on the token Cargo gave this build script; each
    // other one holds a token of Cargo's jobserver, taken without waiting
    // (a worker blocked on a token while holding a compile could wait for
    // ever). The tokens go back when `tokens` is dropped.
    let tokens: Vec<jobserver::Acquired> = match jobserver() {
        Some(c) => (1..wanted)
            .map_while(|_| c.try_acquire().ok().flatten())
            .collect(),
        None => Vec::new(),
    };
    let workers = if jobserver().is_some() {
        1 + tokens.len()
    } else {
        wanted
    };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<String>>>> =
        Mutex::new((0..cmds.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            let (next, results) = (&next, &results);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(cmd) = cmds.get(i) else {
                    break;
                };
                let r = cmd.run();
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
            });
        }
    });
    drop(tokens);
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every command is taken by a worker"))
        .collect()
}

/// Cargo's jobserver, when this process was given one (a build script
/// always is).
fn jobserver() -> Option<&'static jobserver::Client> {
    static CLIENT: OnceLock<Option<jobserver::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // SAFETY: `from_env` trusts the file descriptors named in
            // CARGO_MAKEFLAGS/MAKEFLAGS to be the jobserver's; Cargo passes
            // them open to build scripts, and this is the only place in the
            // process that claims them (once, through the OnceLock).
            unsafe { jobserver::Client::from_env() }
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Tool;
    use crate::error::Error;

    fn sh(script: &str) -> Cmd {
        let tool = Tool {
            program: "sh".into(),
            args: vec![],
            what: "the shell".into(),
            origin: "test".into(),
            hint: String::new(),
        };
        let mut cmd = tool.cmd();
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn results_come_back_in_order_with_each_failure_in_its_place() {
        let cmds: Vec<Cmd> = (0..9)
            .map(|i| {
                if i == 4 {
                    sh("echo four failed >&2; exit 2")
                } else {
                    sh(&format!("echo {i}"))
                }
            })
            .collect();
        let results = run_all(&cmds);
        assert_eq!(results.len(), 9);
        for (i, r) in results.iter().enumerate() {
            match r {
                Ok(out) => assert_eq!(*out, format!("{i}\n")),
                Err(Error::CommandFailed { output, status, .. }) => {
                    assert_eq!(i, 4);
                    assert_eq!(
                        (output.as_str(), status.as_str()),
                        ("four failed\n", "exit status 2")
                    );
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(results[4].is_err());
        assert!(run_all(&[]).is_empty());
    }
}
