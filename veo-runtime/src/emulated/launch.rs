//! Starting and ending the helper: the spawn (from one long-lived thread),
//! the handshake's wait until it serves, the monitor that notices its end,
//! and the shutdown that bounds a proc's drop.

use super::channel::ChannelVh;
use super::{slots, transfer, EmulatedProc};
use crate::error::{Error, Result};
use crate::life::{signal_name, Life};
use crate::proc::{env_number, ProcBuilder, MAX_CONTEXTS, VE_NODES};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use veo_urpc::proto;
use veo_urpc::segment::state;
use veo_urpc::{Segment, SegmentConfig, WaitPolicy};

/// How long a helper asked to exit may take before it is killed.
const GRACE: Duration = Duration::from_millis(200);
/// How long a drop waits for a killed helper's end: with [`GRACE`], the
/// bound of a drop (well under a second, even on a loaded machine).
pub(crate) const KILLED_WAIT: Duration = Duration::from_millis(400);

/// The helper process, as the proc sees it.
pub(crate) struct Launch {
    monitor: Mutex<Option<JoinHandle<()>>>,
    shut: AtomicBool,
}

/// `core` if this machine has it; `what` names where it came from.
fn check_core(core: u32, what: &str) -> Result<u32> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if (core as usize) < cpus {
        Ok(core)
    } else {
        Err(Error::InvalidArgument(format!(
            "{what}: there is no core {core}, this machine has {cpus} CPUs (cores 0 to {})",
            cpus - 1
        )))
    }
}

/// Refuses a node the emulated VE does not offer; `given` says whether it
/// came from [`ProcBuilder::node`] rather than `VE_NODE_NUMBER`.
fn check_node(node: u32, given: bool) -> Result<()> {
    if node < VE_NODES {
        return Ok(());
    }
    let from = if given { "" } else { " (from VE_NODE_NUMBER)" };
    Err(Error::InvalidArgument(format!(
        "VE node {node}{from} does not exist: the emulated VE offers nodes 0 to {}",
        VE_NODES - 1
    )))
}

impl EmulatedProc {
    /// Starts the helper for VE node `node` with the builder's settings and
    /// waits until it serves.
    pub(crate) fn start(b: &ProcBuilder, node: u32) -> Result<Arc<EmulatedProc>> {
        #[cfg(feature = "emulator")]
        super::entry::ensure_linked();
        let core = match b.core {
            Some(c) => Some(check_core(c, &format!("ProcBuilder::core({c})"))?),
            None => match env_number("VE_CORE_NUMBER")? {
                Some(c) => Some(check_core(c, &format!("VE_CORE_NUMBER={c}"))?),
                None => None,
            },
        };
        let helper = match &b.helper {
            Some(p) => p.clone(),
            None => match std::env::var_os("VEORUN_BIN").or_else(|| std::env::var_os("VEO_HELPER"))
            {
                Some(p) if !p.is_empty() => PathBuf::from(p),
                _ => std::env::current_exe()
                    .map_err(|e| Error::io("cannot find the current executable", e))?,
            },
        };
        let helper_name = helper.display().to_string();
        super::binary::check_helper(&helper)?;
        let token = random_token();
        check_node(node, b.node.is_some())?;
        let omp = super::omp::threads(b.omp_threads)?;
        let cfg = SegmentConfig {
            channels: MAX_CONTEXTS + 1,
            ring_bytes: b.ring_bytes,
            stack_size: b.stack_size,
            core,
        };
        // With a VE memory region both sides map, synchronous transfers are
        // a memcpy; without one (the system refused) cross-memory attach.
        let seg = Arc::new(
            Segment::create_with_heap(&cfg, token, veo_urpc::heap::default_size())
                .or_else(|_| Segment::create(&cfg, token))
                .map_err(|e| Error::io("cannot create the shared segment", e))?,
        );
        let trace = crate::trace::TraceTo::chosen(b.trace.clone());
        if trace.is_some() {
            seg.header().trace.store(1, Ordering::Release);
        }
        let child = spawn(&helper, &seg, token, node, omp).map_err(|e| Error::HelperStart {
            helper: helper_name.clone(),
            reason: e.to_string(),
        })?;
        let pid = child.id();
        // Waiting for the helper's end is waiting for this descriptor to
        // become readable (no polling); `None` on kernels before Linux 5.3.
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_child(&child),
            rustix::process::PidfdFlags::empty(),
        )
        .ok();
        let life = Arc::new(Life::new(pid, pidfd, seg.clone()));
        if let Some(to) = trace {
            let _ = life.trace.set(crate::trace::Trace::new(to));
        }
        let monitor = {
            let life = life.clone();
            std::thread::Builder::new()
                .name(format!("veo-monitor-{pid}"))
                .spawn(move || monitor(child, life))
                .map_err(|e| Error::io("cannot start the monitor thread", e))?
        };
        // A fresh segment: nothing holds the control channel's ends yet.
        let control = match ChannelVh::new(0, &seg, life.clone()) {
            Ok(control) => control,
            Err(e) => {
                kill_group(pid);
                return Err(e);
            }
        };
        let proc = Arc::new(EmulatedProc {
            id: crate::backend::next_proc_id(),
            node,
            helper: helper_name.clone(),
            control,
            life,
            seg,
            stack_size: b.stack_size,
            launch: Launch {
                monitor: Mutex::new(Some(monitor)),
                shut: AtomicBool::new(false),
            },
            slots: slots::Slots::new(),
            transfer: transfer::Transfers::new(),
            registry: crate::registry::Registry::default(),
        });
        if let Err(e) = proc.wait_ready(&helper_name, b.start_timeout) {
            proc.shutdown();
            proc.join_monitor(KILLED_WAIT);
            return Err(e);
        }
        Ok(proc)
    }

    fn wait_ready(&self, helper: &str, limit: Duration) -> Result<()> {
        let h = self.seg.header();
        let life = &self.life;
        let ring = self.seg.channel(0).res;
        let deadline = Instant::now() + limit;
        let policy = WaitPolicy {
            spin: Duration::from_micros(20),
            yield_for: Duration::from_micros(200),
            sleep_slice: Duration::from_millis(5),
            spin_yield_every: 0,
        };
        ring.wait_until(
            &policy,
            Some(deadline),
            || h.helper_state.load(Ordering::Acquire) != state::STARTING,
            || life.is_dead(),
        );
        match h.helper_state.load(Ordering::Acquire) {
            state::READY => {
                if self.seg.heap().is_some() {
                    self.transfer
                        .set_helper_base(h.helper_heap_base.load(Ordering::Acquire));
                }
                Ok(())
            }
            state::REFUSED => Err(Error::ProtocolMismatch {
                helper: helper.to_string(),
                expected: proto::PROTOCOL_VERSION,
                found: h.helper_version.load(Ordering::Acquire),
            }),
            _ => {
                // Decided before the kill below makes it dead.
                let too_slow = !life.is_dead();
                // Whatever the helper started goes with it: its whole group.
                kill_group(life.pid);
                if too_slow {
                    // Too slow: make sure it does not linger.
                    self.join_monitor(Duration::from_secs(5));
                    return Err(Error::HelperStart {
                        helper: helper.to_string(),
                        reason: format!("it did not answer within {limit:?}"),
                    });
                }
                self.join_monitor(Duration::from_secs(5));
                let status = match life.check() {
                    Err(Error::HelperDied { status, .. }) => status,
                    _ => "ended".into(),
                };
                Err(Error::HelperStart {
                    helper: helper.to_string(),
                    reason: format!(
                        "it {status} before it was ready (is it a veo-rs helper built with this veo-runtime?)"
                    ),
                })
            }
        }
    }

    /// Joins the monitor once the helper has ended, waiting for that at most
    /// `limit`; past it, the monitor is left to reap the helper on its own.
    pub(crate) fn join_monitor(&self, limit: Duration) {
        if self.life.foreign() {
            // A fork() child's copy: the monitor thread is the parent's.
            return;
        }
        let handle = self
            .launch
            .monitor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = handle {
            if h.is_finished() || self.wait_exit(limit, &h) {
                // The helper has ended: its monitor is reaping it now.
                let _ = h.join();
            }
        }
    }

    /// Waits at most `limit` for the helper to end: on its pidfd, else (old
    /// kernels) by watching the monitor with short sleeps.
    fn wait_exit(&self, limit: Duration, monitor: &JoinHandle<()>) -> bool {
        if let Some(fd) = &self.life.pidfd {
            use rustix::event::{poll, PollFd, PollFlags, Timespec};
            let until = Instant::now() + limit;
            loop {
                let left = until.saturating_duration_since(Instant::now());
                let ts = Timespec::try_from(left).unwrap_or(Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                });
                let mut fds = [PollFd::new(fd, PollFlags::IN)];
                match poll(&mut fds, Some(&ts)) {
                    Ok(n) if n > 0 => return true,
                    Ok(_) => return false,
                    // Interrupted: wait for what is left.
                    Err(_) if !left.is_zero() => continue,
                    Err(_) => return false,
                }
            }
        }
        let until = Instant::now() + limit;
        while !monitor.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_micros(200));
        }
        monitor.is_finished()
    }

    /// Ends the helper: asks it to exit, then kills it if it has not within
    /// [`GRACE`]. Bounded whatever the helper's state: a stopped helper is
    /// continued (so that it can exit), a busy or hung one killed, a dead
    /// one found dead at once; a fork() child's copy does nothing.
    pub(crate) fn shutdown(&self) {
        if self.life.foreign() || self.launch.shut.swap(true, Ordering::AcqRel) {
            return;
        }
        // Everything answered so far is in the trace: written before the
        // helper is asked to go (whatever way it then ends).
        if let Some(t) = self.life.trace.get() {
            t.finish(self.life.pid);
        }
        let h = self.seg.header();
        h.shutdown.store(1, Ordering::Release);
        self.life.close();
        // Ask politely; the control channel may be busy or full, the
        // shutdown flag and the kill below cover that.
        let _ = self.control.exit_message();
        let handle = self
            .launch
            .monitor
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(m) = handle.as_ref() else { return };
        use rustix::process::Signal;
        // A stopped helper cannot exit when asked: continue it.
        self.life.signal(Signal::CONT);
        if !self.wait_exit(GRACE, m) {
            self.life.signal(Signal::KILL);
        }
    }
}

/// Starts children from one long-lived thread: `PR_SET_PDEATHSIG` fires when
/// the *thread* that forked dies, so helpers must not be forked by
/// short-lived threads (test threads, worker pools).
fn on_spawner_thread<R: Send + 'static>(
    job: impl FnOnce() -> R + Send + 'static,
) -> std::io::Result<R> {
    type Job = Box<dyn FnOnce() + Send>;
    /// The spawner's queue, and the process that started it (a forked
    /// child has the queue but not the thread: it starts its own).
    static SPAWNER: Mutex<Option<(u32, mpsc::Sender<Job>)>> = Mutex::new(None);
    let gone = || std::io::Error::other("the veo-spawner thread is gone");
    let (rtx, rrx) = mpsc::channel();
    let job: Job = Box::new(move || {
        let _ = rtx.send(job());
    });
    {
        let mut spawner = SPAWNER.lock().unwrap_or_else(|e| e.into_inner());
        let me = std::process::id();
        let tx = match spawner.as_ref() {
            Some((pid, tx)) if *pid == me => tx,
            _ => {
                let (tx, rx) = mpsc::channel::<Job>();
                std::thread::Builder::new()
                    .name("veo-spawner".into())
                    .spawn(move || {
                        for job in rx {
                            job();
                        }
                    })?;
                &spawner.insert((me, tx)).1
            }
        };
        if tx.send(job).is_err() {
            *spawner = None;
            return Err(gone());
        }
    }
    rrx.recv().map_err(|_| gone())
}

/// The helper's start-up variable and its value: where the segment is,
/// who its parent is, the token.
#[cfg(feature = "emulator")]
fn helper_env(fd: i32, token: u64) -> std::io::Result<(&'static str, String)> {
    let cfg = ve_helper::HelperConfig {
        fd,
        ppid: std::process::id(),
        token,
    };
    Ok((ve_helper::ENV, cfg.to_env()))
}

/// Without the emulator compiled in there is no helper to start
/// (`ProcBuilder::build` says so before it comes to this).
#[cfg(not(feature = "emulator"))]
fn helper_env(_fd: i32, _token: u64) -> std::io::Result<(&'static str, String)> {
    Err(std::io::Error::other(
        crate::backend::no_emulator().to_string(),
    ))
}

fn spawn(
    helper: &Path,
    seg: &Segment,
    token: u64,
    node: u32,
    omp_threads: u32,
) -> std::io::Result<Child> {
    let fd = seg.fd().as_raw_fd();
    let (var, value) = helper_env(fd, token)?;
    let mut cmd = Command::new(helper);
    cmd.env(var, value)
        .env("VE_NODE_NUMBER", node.to_string())
        .env("OMP_NUM_THREADS", omp_threads.to_string())
        .stdin(Stdio::null());
    // Fortran kernels' output, unbuffered like C's (see ve-helper's serve.rs),
    // unless the user chose otherwise.
    if std::env::var_os("GFORTRAN_UNBUFFERED_PRECONNECTED").is_none() {
        cmd.env("GFORTRAN_UNBUFFERED_PRECONNECTED", "y");
    }
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // system calls (fcntl, prctl, setpgid: rustix's, direct system calls,
    // async-signal-safe), allocating nothing.
    unsafe {
        cmd.pre_exec(move || {
            use rustix::io::{fcntl_setfd, FdFlags};
            use rustix::process::{set_parent_process_death_signal, setpgid, Signal};
            // SAFETY: `fd` is the segment's descriptor, which `seg` keeps
            // open in the VH until the spawn has returned; the child has a
            // copy of it.
            let seg_fd = std::os::fd::BorrowedFd::borrow_raw(fd);
            // Let the segment descriptor survive exec (it is CLOEXEC in the VH).
            fcntl_setfd(seg_fd, FdFlags::empty())?;
            // The helper dies with the VH, even on SIGKILL.
            set_parent_process_death_signal(Some(Signal::KILL))?;
            // A process group of its own: what it starts (a `VEORUN_BIN`
            // script's children, a kernel's) can be ended with it, and a
            // terminal's Ctrl-C reaches the VH, which decides.
            setpgid(None, None)?;
            Ok(())
        });
    }
    on_spawner_thread(move || cmd.spawn())?
}

/// Kills the helper's process group (its id is the helper's pid): the
/// helper if it still runs, and whatever it started. Safe after the helper
/// was reaped: a group id is not reused while any member lives.
fn kill_group(pid: u32) {
    if let Some(group) = rustix::process::Pid::from_raw(pid as i32) {
        // A pidfd names one process, not a group: by id. Errors mean the
        // group has ended already.
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

/// The segment's token: random bytes from the kernel, or (before Linux
/// 3.17, without `getrandom`) a hash of the time and the pid under std's
/// randomly keyed hasher.
fn random_token() -> u64 {
    let mut bytes = [0u8; 8];
    if let Ok(8) = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty()) {
        return u64::from_ne_bytes(bytes) | 1;
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish() | 1
}

/// What the helper's exit status `code` means, when it is one of the
/// helper's own (`ve_helper::exit_code`).
#[cfg(feature = "emulator")]
fn exit_reason(code: i32) -> &'static str {
    use ve_helper::exit_code;
    match code {
        exit_code::BAD_SEGMENT => {
            ": the helper quit because its shared segment is corrupted (or is not the one it was given)"
        }
        exit_code::BAD_ENV => ": the helper's start-up variable is malformed",
        exit_code::NOT_PARENT => ": the helper was not started by this process",
        exit_code::MISMATCH => ": the helper speaks another protocol",
        exit_code::FORKED_CHILD => ": a kernel forked and its child returned into the helper",
        exit_code::THREAD_EXIT => ": a kernel ended its thread instead of returning",
        _ => "",
    }
}

#[cfg(not(feature = "emulator"))]
fn exit_reason(_code: i32) -> &'static str {
    ""
}

/// Describes a wait status in words.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}{}", exit_reason(code)),
        (_, Some(sig)) => format!("killed by {} (signal {sig})", signal_name(sig)),
        _ => format!("ended: {status}"),
    }
}

fn monitor(mut child: Child, life: Arc<Life>) {
    let status = match child.wait() {
        Ok(s) => describe(s),
        Err(e) => format!("could not be waited for: {e}"),
    };
    life.mark_dead(status);
}
