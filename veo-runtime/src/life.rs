//! Whether a proc's helper is alive, and what to say when it is not.

use crate::error::{Closable, Error};
use rustix::process::{Pid, Signal};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Once, OnceLock};
use veo_urpc::segment::fault;
use veo_urpc::Segment;

/// How the helper ended.
#[derive(Clone, Debug)]
pub(crate) struct Death {
    /// Exit status or signal, in words.
    pub status: String,
    /// What the helper recorded before dying, if anything.
    pub fault: Option<Fault>,
}

/// A fault recorded by the helper's signal or exit handler.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fault {
    pub kind: u32,
    pub channel: u64,
    pub reqid: u64,
    pub signal: i32,
    pub addr: u64,
}

/// This process's id, kept current across `fork()` by an `atfork` handler:
/// reading it costs a load, where `getpid()` is a system call.
static THIS_PROCESS: AtomicU32 = AtomicU32::new(0);

extern "C" fn after_fork_in_child() {
    THIS_PROCESS.store(std::process::id(), Ordering::Relaxed);
}

/// The id of the running process, following forks.
pub(crate) fn this_process() -> u32 {
    static WATCH: Once = Once::new();
    WATCH.call_once(|| {
        THIS_PROCESS.store(std::process::id(), Ordering::Relaxed);
        // libc's: fork handlers belong to the C library (rustix has none).
        // SAFETY: registers a handler that only stores an atomic (getpid
        // is async-signal-safe); it is never unregistered, and the function
        // lives as long as the program.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    });
    THIS_PROCESS.load(Ordering::Relaxed)
}

pub(crate) struct Life {
    pub pid: u32,
    /// The helper as a pidfd (Linux 5.3 and later): to wait for its end and
    /// to signal it without a pid that its reaping could let the system
    /// reuse.
    pub pidfd: Option<OwnedFd>,
    /// The process that created the proc: the only one that may use it.
    owner: u32,
    pub seg: Arc<Segment>,
    dead: AtomicBool,
    closed: AtomicBool,
    death: OnceLock<Death>,
    /// Wakes the proc's futures (`future.rs`): ends when the proc does.
    pub waiter: crate::future::Waiter,
    /// The proc's trace, when it is traced (`trace.rs`).
    pub trace: OnceLock<crate::trace::Trace>,
}

/// The name of a signal, for messages: every Linux signal by its name
/// (`SIGRTMIN+n` for the real-time ones, numbered as the C library and
/// `kill -l` number them), never a bare number.
pub(crate) fn signal_name(sig: i32) -> &'static str {
    const NAMES: [&str; 32] = [
        "signal 0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    const RT: [&str; 33] = [
        "SIGRTMIN",
        "SIGRTMIN+1",
        "SIGRTMIN+2",
        "SIGRTMIN+3",
        "SIGRTMIN+4",
        "SIGRTMIN+5",
        "SIGRTMIN+6",
        "SIGRTMIN+7",
        "SIGRTMIN+8",
        "SIGRTMIN+9",
        "SIGRTMIN+10",
        "SIGRTMIN+11",
        "SIGRTMIN+12",
        "SIGRTMIN+13",
        "SIGRTMIN+14",
        "SIGRTMIN+15",
        "SIGRTMIN+16",
        "SIGRTMIN+17",
        "SIGRTMIN+18",
        "SIGRTMIN+19",
        "SIGRTMIN+20",
        "SIGRTMIN+21",
        "SIGRTMIN+22",
        "SIGRTMIN+23",
        "SIGRTMIN+24",
        "SIGRTMIN+25",
        "SIGRTMIN+26",
        "SIGRTMIN+27",
        "SIGRTMIN+28",
        "SIGRTMIN+29",
        "SIGRTMIN+30",
        "SIGRTMIN+31",
        "SIGRTMIN+32",
    ];
    // The C library keeps the kernel's first real-time signals for itself
    // (glibc: 32 and 33) and starts SIGRTMIN after them: the C library's
    // own value, hence libc's.
    let rtmin = libc::SIGRTMIN();
    match usize::try_from(sig) {
        Ok(n) if n < NAMES.len() => NAMES[n],
        _ if sig >= rtmin => usize::try_from(sig - rtmin)
            .ok()
            .and_then(|i| RT.get(i))
            .copied()
            .unwrap_or("an unknown signal"),
        _ if sig >= 32 => "a signal reserved by the C library",
        _ => "an unknown signal",
    }
}

impl Life {
    pub(crate) fn new(pid: u32, pidfd: Option<OwnedFd>, seg: Arc<Segment>) -> Life {
        Life {
            pid,
            pidfd,
            owner: this_process(),
            seg,
            dead: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            death: OnceLock::new(),
            waiter: Default::default(),
            trace: OnceLock::new(),
        }
    }

    /// Whether nothing more can be done with this proc.
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire) || self.closed.load(Ordering::Acquire) || self.foreign()
    }

    /// Whether this is a `fork()` child's copy of the proc: it must neither
    /// use the parent's helper nor end it.
    #[inline]
    pub(crate) fn foreign(&self) -> bool {
        THIS_PROCESS.load(Ordering::Relaxed) != self.owner
    }

    #[cold]
    fn foreign_error(&self) -> Error {
        Error::OtherProcess {
            owner: self.owner,
            current: THIS_PROCESS.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// An error if the proc cannot take requests.
    ///
    /// A proc its owner closed reports [`Error::Closed`] even after the
    /// helper has (consequently) exited: the death is not news to the user.
    #[inline]
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.foreign() {
            return Err(self.foreign_error());
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed(Closable::Proc));
        }
        if self.dead.load(Ordering::Acquire) {
            return Err(self.died());
        }
        Ok(())
    }

    #[cold]
    fn died(&self) -> Error {
        let status = self
            .death
            .get()
            .map_or_else(|| "unknown".to_string(), |d| d.status.clone());
        Error::HelperDied {
            pid: self.pid,
            status,
        }
    }

    /// The error a request pending on `channel` gets now that the proc is gone.
    pub(crate) fn error_for(&self, channel: usize, reqid: u64) -> Error {
        if self.foreign() {
            return self.foreign_error();
        }
        if let Some(Death { fault: Some(f), .. }) = self.death.get() {
            if f.channel == channel as u64 && f.reqid == reqid && f.kind == fault::SIGNAL {
                return Error::KernelException {
                    signal: f.signal,
                    signal_name: signal_name(f.signal),
                    addr: f.addr,
                };
            }
        }
        if self.closed.load(Ordering::Acquire) || !self.dead.load(Ordering::Acquire) {
            return Error::Closed(Closable::Proc);
        }
        self.died()
    }

    /// Marks the proc closed by its owner.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake_everyone();
    }

    /// Records the helper's end (from its wait status) and fails everything pending.
    pub(crate) fn mark_dead(&self, status: String) {
        let h = self.seg.header();
        let kind = h.fault_kind.load(Ordering::Acquire);
        let fault = (kind != fault::NONE).then(|| Fault {
            kind,
            channel: h.fault_channel.load(Ordering::Relaxed),
            reqid: h.fault_reqid.load(Ordering::Relaxed),
            signal: h.fault_signal.load(Ordering::Relaxed),
            addr: h.fault_addr.load(Ordering::Relaxed),
        });
        let status = match fault {
            Some(f) if f.kind == fault::SIGNAL => format!(
                "{status}; a kernel raised {} (signal {}) at address {:#x}",
                signal_name(f.signal),
                f.signal,
                f.addr
            ),
            Some(f) if f.kind == fault::EXIT => format!("{status}; a kernel called exit()"),
            Some(f) if f.kind == fault::THREAD_EXIT => format!(
                "{status}; a kernel ended its thread instead of returning (pthread_exit(), \
                 pthread_cancel() or an exception thrown out of the kernel)"
            ),
            // Only the VH asks the helper to exit: a status 0 it did not ask
            // for comes from a kernel (`_exit(0)` runs no handler).
            _ if status == "exited with status 0" && !self.closed.load(Ordering::Acquire) => {
                format!("{status} without being asked to (a kernel may have called _exit(0))")
            }
            _ => status,
        };
        let _ = self.death.set(Death { status, fault });
        self.dead.store(true, Ordering::Release);
        self.wake_everyone();
    }

    /// A malformed answer means the helper cannot be trusted: end it.
    pub(crate) fn protocol_failure(&self, what: &str) {
        let _ = self.death.set(Death {
            status: format!("protocol error: {what}; the helper was killed"),
            fault: None,
        });
        self.dead.store(true, Ordering::Release);
        self.signal(Signal::KILL);
        self.wake_everyone();
    }

    /// Sends `sig` to the helper, if it still runs. Through its pidfd, which
    /// names this one process even after the monitor thread has reaped it
    /// (the signal then fails and reaches no one). Without a pidfd (a kernel
    /// before Linux 5.3) by pid: a pid the monitor reaped concurrently could
    /// in principle name another process by then, which is the best such a
    /// kernel allows.
    pub(crate) fn signal(&self, sig: Signal) {
        // Errors mean it has ended already.
        let _ = match &self.pidfd {
            Some(fd) => rustix::process::pidfd_send_signal(fd, sig),
            None => match Pid::from_raw(self.pid as i32) {
                Some(pid) => rustix::process::kill_process(pid, sig),
                None => Ok(()),
            },
        };
    }

    fn wake_everyone(&self) {
        for i in 0..self.seg.channels() {
            let ch = self.seg.channel(i);
            ch.res.wake_all();
            ch.cmd.wake_all();
            ch.header().gate_reached_wake.notify_always();
            ch.header().gate_released_wake.notify_always();
        }
    }
}
