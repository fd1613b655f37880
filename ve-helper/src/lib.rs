//! The VE-side process of veo-rs: an emulated VE (AVEO's `aveorun`).
//!
//! A helper attaches the proc's shared segment, then serves the control
//! channel on its main thread and one worker thread per context. It loads
//! kernel libraries, owns the "VE memory" (its own address space), and calls
//! kernels with signatures known only at run time.
//!
//! It is reached with zero configuration: the runtime starts the current
//! executable again with [`ENV`] set, and a constructor in `veo-runtime` calls
//! [`enter_if_requested`] before `main`. The standalone `ve-helper` binary
//! serves the same protocol (`VEORUN_BIN` / `VEO_HELPER`).
//!
//! This crate is an internal part of veo-rs, like the transport it serves
//! (`veo-urpc`): it is built with `veo-runtime` from the same sources, and
//! its API carries no stability promise between releases. Programs depend
//! on `veo-runtime`.
#![warn(missing_docs)]

mod call;
mod fault;
mod heap;
mod library;
mod memory;
mod serve;
mod statics;
mod ve_side;

#[doc(hidden)]
pub use linkme;
#[doc(hidden)]
pub use statics::{StaticKernel, STATIC_KERNELS};

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};

/// The helper's one policy for poisoned locks: the data behind its locks
/// stays consistent (nothing panics while holding one), so a lock a
/// panicking thread left behind is taken over rather than panicking again.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub use ve_side::write_ve_side_libraries;

/// The environment variable that puts a process in helper mode:
/// `fd=<segment fd>,ppid=<VH pid>,token=<hex>`.
pub const ENV: &str = "VEO_RS_HELPER";

/// What the VH tells a helper through [`ENV`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperConfig {
    /// The inherited segment file descriptor.
    pub fd: i32,
    /// The VH's process id.
    pub ppid: u32,
    /// The token also written in the segment header.
    pub token: u64,
}

impl HelperConfig {
    /// The value of [`ENV`] for this configuration.
    pub fn to_env(&self) -> String {
        format!("fd={},ppid={},token={:x}", self.fd, self.ppid, self.token)
    }

    /// Parses the value of [`ENV`].
    pub fn parse(s: &str) -> Option<HelperConfig> {
        let (mut fd, mut ppid, mut token) = (None, None, None);
        for part in s.split(',') {
            let (k, v) = part.split_once('=')?;
            match k {
                "fd" => fd = v.parse().ok(),
                "ppid" => ppid = v.parse().ok(),
                "token" => token = u64::from_str_radix(v, 16).ok(),
                _ => return None,
            }
        }
        Some(HelperConfig {
            fd: fd?,
            ppid: ppid?,
            token: token?,
        })
    }
}

/// Exit codes of a helper that could not start serving.
pub mod exit_code {
    /// [`ENV`](super::ENV) is malformed.
    pub const BAD_ENV: i32 = 90;
    /// The process was not started by the VH named in the environment.
    pub const NOT_PARENT: i32 = 91;
    /// The segment is not ours or cannot be mapped.
    pub const BAD_SEGMENT: i32 = 92;
    /// The VH speaks another protocol.
    pub const MISMATCH: i32 = 93;
    /// A forked copy of the helper (a kernel called `fork` and its child
    /// returned from the kernel) ends with this status instead of serving.
    pub const FORKED_CHILD: i32 = 94;
    /// A kernel ended its worker thread instead of returning
    /// (`pthread_exit`, `pthread_cancel`, an exception thrown out of it).
    pub const THREAD_EXIT: i32 = 95;
}

/// If this process was started as a helper, serves until told to exit and
/// never returns; otherwise returns at once.
pub fn enter_if_requested() {
    let Some(value) = std::env::var_os(ENV) else {
        return;
    };
    scrub_environ_block();
    // SAFETY: called before main (from a constructor) or at the start of the
    // helper binary's main, while the process has a single thread.
    unsafe { std::env::remove_var(ENV) };
    let Some(cfg) = value.to_str().and_then(HelperConfig::parse) else {
        eprintln!("ve-helper: malformed {ENV}={value:?}");
        std::process::exit(exit_code::BAD_ENV);
    };
    // SAFETY: the VH passed this descriptor for us to own; nothing else in
    // this fresh process uses it.
    let fd = unsafe { OwnedFd::from_raw_fd(cfg.fd) };
    serve::run(cfg, fd)
}

/// Overwrites the value of [`ENV`] where the kernel shows it: `remove_var`
/// only drops the pointer from `environ`, while `/proc/PID/environ` reads
/// the process's original environment block, which would keep the
/// segment's token readable by anyone who may read that file.
fn scrub_environ_block() {
    extern "C" {
        static mut environ: *mut *mut libc::c_char;
    }
    let prefix = format!("{ENV}=");
    // SAFETY: single-threaded (see `enter_if_requested`); `environ` is a
    // null-terminated array of NUL-terminated strings, and the strings of
    // the original block are writable (they live on the initial stack).
    unsafe {
        let mut p = std::ptr::addr_of!(environ).read();
        if p.is_null() {
            return;
        }
        while !(*p).is_null() {
            let var = *p;
            let bytes = std::ffi::CStr::from_ptr(var).to_bytes();
            if bytes.starts_with(prefix.as_bytes()) {
                for i in prefix.len()..bytes.len() {
                    var.add(i).write_volatile(b'x' as libc::c_char);
                }
            }
            p = p.add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_round_trips_and_rejects_junk() {
        let c = HelperConfig {
            fd: 7,
            ppid: 1234,
            token: 0xdead_beef,
        };
        assert_eq!(HelperConfig::parse(&c.to_env()), Some(c));
        assert_eq!(HelperConfig::parse("fd=1,ppid=2"), None);
        assert_eq!(HelperConfig::parse("fd=x,ppid=2,token=3"), None);
        assert_eq!(HelperConfig::parse("fd=1,ppid=2,token=3,evil=4"), None);
    }
}
