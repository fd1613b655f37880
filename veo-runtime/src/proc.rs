//! Procs: one helper process (an emulated VE) each.

use crate::args::{Args, KernelRet};
use crate::channel::{ChannelVh, Done};
use crate::context::{submit_call, Context};
use crate::error::{short, shown, Error, Result};
use crate::fxhash::FxHashMap;
use crate::library::{Function, KernelLibrary, Library, STATIC_HANDLE, STATIC_NAME};
use crate::life::{signal_name, Life};
use crate::memory::{self, AsVePtr, VeBuffer};
use crate::ptr::VePtr;
use crate::request::{status_error, What};
use crate::slot::KernelSlot;
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use veo_urpc::proto::{self, Status};
use veo_urpc::segment::state;
use veo_urpc::{Segment, SegmentConfig, WaitPolicy};

/// How long a helper asked to exit may take before it is killed.
const GRACE: Duration = Duration::from_millis(200);
/// How long a drop waits for a killed helper's end: with [`GRACE`], the
/// bound of a drop (well under a second, even on a loaded machine).
const KILLED_WAIT: Duration = Duration::from_millis(400);

/// How much of a name or path, and of a loader's message, errors show.
const NAME_SHOWN: usize = 200;
const MESSAGE_SHOWN: usize = 1024;

/// The most contexts a proc can have open at once.
pub const MAX_CONTEXTS: usize = 64;

/// The VE nodes the emulated VE offers: 0 to `VE_NODES - 1`.
pub const VE_NODES: u32 = 8;

/// OpenMP threads of a helper when neither [`ProcBuilder::omp_threads`]
/// nor `VE_OMP_NUM_THREADS` says: a VE core group, as on a VE.
pub const DEFAULT_OMP_THREADS: u32 = 8;

/// Builds a [`Proc`] with non-default settings.
#[derive(Clone, Debug)]
pub struct ProcBuilder {
    node: Option<u32>,
    core: Option<u32>,
    helper: Option<PathBuf>,
    stack_size: u64,
    ring_bytes: usize,
    start_timeout: Duration,
    omp_threads: Option<u32>,
    trace: Option<crate::trace::TraceTo>,
}

impl Default for ProcBuilder {
    fn default() -> Self {
        ProcBuilder {
            node: None,
            core: None,
            helper: None,
            stack_size: 256 << 20,
            ring_bytes: 1 << 20,
            start_timeout: Duration::from_secs(20),
            omp_threads: None,
            trace: None,
        }
    }
}

/// The number in environment variable `name` (`None`: unset or empty); a
/// value that is not a number is an error naming the variable and value.
fn env_number(name: &str) -> Result<Option<u32>> {
    let Some(value) = std::env::var_os(name) else {
        return Ok(None);
    };
    let text = value.to_string_lossy();
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse().map(Some).map_err(|_| {
        Error::InvalidArgument(format!(
            "{name}={} is not a number (a non-negative integer such as 0)",
            shown(&text)
        ))
    })
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

impl ProcBuilder {
    /// The VE node (default: `VE_NODE_NUMBER`, else 0).
    pub fn node(mut self, node: u32) -> Self {
        self.node = Some(node);
        self
    }

    /// The VE core to run the helper on (default: `VE_CORE_NUMBER`, else any).
    pub fn core(mut self, core: u32) -> Self {
        self.core = Some(core);
        self
    }

    /// The helper program (default: `VEORUN_BIN` or `VEO_HELPER`, else this
    /// program, re-executed in helper mode).
    pub fn helper(mut self, path: impl Into<PathBuf>) -> Self {
        self.helper = Some(path.into());
        self
    }

    /// Bytes of each context's call frame area, the limit of OnStack data
    /// per call (default 256 MiB, allocated as used).
    pub fn stack_size(mut self, bytes: u64) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Bytes of each ring of the shared segment (default 1 MiB; 64 KiB to
    /// 1 GiB, larger is an error when the proc is built).
    pub fn ring_bytes(mut self, bytes: usize) -> Self {
        self.ring_bytes = bytes;
        self
    }

    /// How long the helper may take to start (default 20 s).
    pub fn start_timeout(mut self, limit: Duration) -> Self {
        self.start_timeout = limit;
        self
    }

    /// The OpenMP threads of kernels built with OpenMP: the helper starts
    /// with `OMP_NUM_THREADS` set to this (default: `VE_OMP_NUM_THREADS`,
    /// else [`DEFAULT_OMP_THREADS`]), as VEOS gives a VE program.
    pub fn omp_threads(mut self, threads: u32) -> Self {
        self.omp_threads = Some(threads);
        self
    }

    /// Traces the proc: every request's time queued and on the VE, written
    /// to `path` as Chrome trace-event JSON when the proc ends (default:
    /// the file `VEO_TRACE` names, else no trace); see [`Proc::profile`].
    pub fn trace(mut self, path: impl Into<PathBuf>) -> Self {
        self.trace = Some(crate::trace::TraceTo::File(path.into()));
        self
    }

    /// Traces the proc for [`Proc::profile`] only, without a file.
    pub fn profile(mut self) -> Self {
        self.trace = Some(crate::trace::TraceTo::Memory);
        self
    }

    /// Starts the helper and waits until it serves.
    pub fn build(self) -> Result<Proc> {
        crate::entry::ensure_linked();
        let node = match self.node {
            Some(n) => n,
            None => env_number("VE_NODE_NUMBER")?.unwrap_or(0),
        };
        let core = match self.core {
            Some(c) => Some(check_core(c, &format!("ProcBuilder::core({c})"))?),
            None => match env_number("VE_CORE_NUMBER")? {
                Some(c) => Some(check_core(c, &format!("VE_CORE_NUMBER={c}"))?),
                None => None,
            },
        };
        let helper = match &self.helper {
            Some(p) => p.clone(),
            None => match std::env::var_os("VEORUN_BIN").or_else(|| std::env::var_os("VEO_HELPER"))
            {
                Some(p) if !p.is_empty() => PathBuf::from(p),
                _ => std::env::current_exe()
                    .map_err(|e| Error::io("cannot find the current executable", e))?,
            },
        };
        let helper_name = helper.display().to_string();
        crate::binary::check_helper(&helper)?;
        let token = random_token();
        check_node(node, self.node.is_some())?;
        let omp = crate::omp::threads(self.omp_threads)?;
        let cfg = SegmentConfig {
            channels: MAX_CONTEXTS + 1,
            ring_bytes: self.ring_bytes,
            stack_size: self.stack_size,
            core,
        };
        // With a VE memory region both sides map, synchronous transfers are
        // a memcpy; without one (the system refused) cross-memory attach.
        let seg = Arc::new(
            Segment::create_with_heap(&cfg, token, veo_urpc::heap::default_size())
                .or_else(|_| Segment::create(&cfg, token))
                .map_err(|e| Error::io("cannot create the shared segment", e))?,
        );
        let trace = crate::trace::TraceTo::chosen(self.trace.clone());
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
        let life = Arc::new(Life::new(pid, seg.clone()));
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
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let shared = Arc::new(ProcShared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            node,
            helper: helper_name.clone(),
            control: ChannelVh::new(0, seg.channel(0), life.clone()),
            life: life.clone(),
            seg: seg.clone(),
            slots: Mutex::new(vec![Slot::Free; MAX_CONTEXTS + 1]),
            channels: Mutex::new(Vec::new()),
            libs: Mutex::new(Libs::default()),
            kernels: Mutex::new(FxHashMap::default()),
            kernels_generation: AtomicU64::new(0),
            pvm: AtomicBool::new(true),
            heap_helper_base: AtomicU64::new(0),
            stack_size: self.stack_size,
            monitor: Mutex::new(Some(monitor)),
            pidfd,
            shut: AtomicBool::new(false),
        });
        let proc = Proc {
            _owner: Arc::new(Owner(shared.clone())),
            shared,
        };
        proc.wait_ready(&helper_name, self.start_timeout)?;
        crate::hmem::register(&proc);
        crate::hooks::run(&proc)?;
        Ok(proc)
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

fn spawn(
    helper: &Path,
    seg: &Segment,
    token: u64,
    node: u32,
    omp_threads: u32,
) -> std::io::Result<Child> {
    let fd = seg.fd().as_raw_fd();
    let cfg = ve_helper::HelperConfig {
        fd,
        ppid: std::process::id(),
        token,
    };
    let mut cmd = Command::new(helper);
    cmd.env(ve_helper::ENV, cfg.to_env())
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
    // async-signal-safe system calls (fcntl, prctl).
    unsafe {
        cmd.pre_exec(move || {
            // Let the segment descriptor survive exec (it is CLOEXEC in the VH).
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The helper dies with the VH, even on SIGKILL.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // A process group of its own: what it starts (a `VEORUN_BIN`
            // script's children, a kernel's) can be ended with it, and a
            // terminal's Ctrl-C reaches the VH, which decides.
            if libc::setpgid(0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    on_spawner_thread(move || cmd.spawn())?
}

/// Kills the helper's process group (its id is the helper's pid): the
/// helper if it still runs, and whatever it started. Safe after the helper
/// was reaped: a group id is not reused while any member lives.
fn kill_group(pid: u32) {
    // SAFETY: kill has no memory effects.
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
}

fn random_token() -> u64 {
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

/// Describes a wait status in words.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => {
            use ve_helper::exit_code;
            let why = match code {
                exit_code::BAD_SEGMENT => {
                    ": the helper quit because its shared segment is corrupted (or is not the one it was given)"
                }
                exit_code::BAD_ENV => ": the helper's start-up variable is malformed",
                exit_code::NOT_PARENT => ": the helper was not started by this process",
                exit_code::MISMATCH => ": the helper speaks another protocol",
                exit_code::FORKED_CHILD => ": a kernel forked and its child returned into the helper",
                exit_code::THREAD_EXIT => ": a kernel ended its thread instead of returning",
                _ => "",
            };
            format!("exited with status {code}{why}")
        }
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Free,
    Open,
    /// Dropped without `close`: reusable once its worker reports it stopped.
    Closing,
}

#[derive(Default)]
struct Libs {
    /// Loaded libraries by handle.
    open: HashMap<u64, Library>,
    /// Libraries loaded for kernels, by path.
    by_path: HashMap<&'static str, Library>,
    statik: Option<Library>,
}

pub(crate) struct ProcShared {
    pub id: u64,
    pub node: u32,
    pub helper: String,
    pub control: ChannelVh,
    pub life: Arc<Life>,
    pub seg: Arc<Segment>,
    slots: Mutex<Vec<Slot>>,
    /// The contexts' channels, for an unload's pass over their locks.
    channels: Mutex<Vec<std::sync::Weak<ChannelVh>>>,
    libs: Mutex<Libs>,
    /// The kernels of `#[ve_kernel]` stubs, for a stub whose own slot
    /// misses (see [`KernelSlot`]): by the address and length of the
    /// library's `&'static str` key (no hashing of a long path; two equal
    /// keys at different addresses only make two entries), then by symbol.
    kernels: Mutex<FxHashMap<(usize, usize), FxHashMap<String, Function>>>,
    /// Bumped when entries leave `kernels`, so that the addresses the
    /// stubs' slots keep are not used any more.
    kernels_generation: AtomicU64,
    pvm: AtomicBool,
    /// The VE address of the segment's VE memory region in the helper (0:
    /// none, or not yet known).
    heap_helper_base: AtomicU64,
    pub stack_size: u64,
    monitor: Mutex<Option<JoinHandle<()>>>,
    /// The helper as a pidfd: to wait for its end and to signal it without
    /// a pid that its reaping could let the system reuse.
    pidfd: Option<std::os::fd::OwnedFd>,
    shut: AtomicBool,
}

/// One VE process: an emulated VE helper (py-veo's `VeoProc`, VEO's
/// `veo_proc_handle`).
///
/// Cloning gives another handle to the same helper (to use in a VH closure
/// or another thread); dropping the last handle, or [`close`](Proc::close),
/// ends the helper. Contexts, buffers and libraries that outlive it report
/// [`Error::Closed`].
///
/// ```
/// use veo_runtime::Proc;
///
/// # fn main() -> veo_runtime::Result<()> {
/// let proc = Proc::new(0)?; // VE node 0; the emulated VE is a helper process
/// let buf = proc.alloc_from(&[1u32, 2, 3])?;
/// let mut back = [0u32; 3];
/// proc.read(&mut back, &buf)?;
/// assert_eq!(back, [1, 2, 3]);
/// let ctx = proc.open_context()?; // a queue of requests on the VE
/// # drop(ctx);
/// proc.close(); // or drop the last handle
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Proc {
    pub(crate) shared: Arc<ProcShared>,
    /// Shared by the clones of this handle; the last one ends the helper.
    _owner: Arc<Owner>,
}

/// Ends the helper when the last [`Proc`] handle goes.
struct Owner(Arc<ProcShared>);

/// A [`Proc`] that does not keep the helper running: for registries
/// (proc identifiers, requests kept by id) that must not outlive its owner.
#[derive(Clone)]
pub(crate) struct WeakProc {
    shared: std::sync::Weak<ProcShared>,
    owner: std::sync::Weak<Owner>,
}

impl WeakProc {
    /// The proc, while a handle is alive and it was not closed.
    pub(crate) fn upgrade(&self) -> Option<Proc> {
        let p = Proc {
            shared: self.shared.upgrade()?,
            _owner: self.owner.upgrade()?,
        };
        (!p.shared.life.is_closed()).then_some(p)
    }

    /// Whether this names `proc`.
    pub(crate) fn is(&self, proc: &Proc) -> bool {
        std::ptr::eq(self.shared.as_ptr(), Arc::as_ptr(&proc.shared))
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.shutdown();
        // Killed by now if it was not ending: its end is a matter of
        // milliseconds, the limit only bounds the drop.
        self.0.join_monitor(KILLED_WAIT);
    }
}

impl std::fmt::Debug for Proc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proc")
            .field("node", &self.shared.node)
            .field("pid", &self.shared.life.pid)
            .finish()
    }
}

impl Proc {
    /// Starts a proc on VE node `node` with default settings.
    pub fn new(node: u32) -> Result<Proc> {
        ProcBuilder::default().node(node).build()
    }

    /// A builder for the other settings.
    pub fn builder() -> ProcBuilder {
        ProcBuilder::default()
    }

    pub(crate) fn downgrade(&self) -> WeakProc {
        WeakProc {
            shared: Arc::downgrade(&self.shared),
            owner: Arc::downgrade(&self._owner),
        }
    }

    fn wait_ready(&self, helper: &str, limit: Duration) -> Result<()> {
        let h = self.shared.seg.header();
        let life = &self.shared.life;
        let ring = self.shared.seg.channel(0).res;
        let deadline = Instant::now() + limit;
        let policy = WaitPolicy {
            spin: Duration::from_micros(20),
            yield_for: Duration::from_micros(200),
            sleep_slice: Duration::from_millis(5),
        };
        ring.wait_until(
            &policy,
            Some(deadline),
            || h.helper_state.load(Ordering::Acquire) != state::STARTING,
            || life.is_dead(),
        );
        match h.helper_state.load(Ordering::Acquire) {
            state::READY => {
                if self.shared.seg.heap().is_some() {
                    let base = h.helper_heap_base.load(Ordering::Acquire);
                    self.shared.heap_helper_base.store(base, Ordering::Release);
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
                    self.shared.join_monitor(Duration::from_secs(5));
                    return Err(Error::HelperStart {
                        helper: helper.to_string(),
                        reason: format!("it did not answer within {limit:?}"),
                    });
                }
                self.shared.join_monitor(Duration::from_secs(5));
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

    /// The VE node.
    pub fn node(&self) -> u32 {
        self.shared.node
    }

    /// The helper's process id.
    pub fn pid(&self) -> u32 {
        self.shared.life.pid
    }

    /// The helper program.
    pub fn helper(&self) -> &str {
        &self.shared.helper
    }

    /// Whether the helper is alive and the proc open.
    pub fn is_alive(&self) -> bool {
        !self.shared.life.is_dead()
    }

    /// Whether the shared segment lives in huge pages.
    pub fn huge_pages(&self) -> bool {
        self.shared.seg.huge_pages()
    }

    /// Opens a new context: a worker thread on the VE with its own queue.
    pub fn open_context(&self) -> Result<Context> {
        let s = &self.shared;
        s.life.check()?;
        let idx = s.take_slot()?;
        let ch = s.seg.channel(idx);
        ch.cmd.reset();
        ch.res.reset();
        ch.header().reset();
        if let Err(e) = s.control_op(proto::KIND_OPEN, &[idx as u64], &[], What::Other) {
            s.release_slot(idx, Slot::Free);
            return Err(e);
        }
        let ch = Arc::new(ChannelVh::new(idx, ch, s.life.clone()));
        {
            let mut channels = s.channels.lock().unwrap_or_else(|e| e.into_inner());
            channels.retain(|c| c.strong_count() > 0);
            channels.push(Arc::downgrade(&ch));
        }
        Ok(Context::new(s.clone(), ch))
    }

    /// Number of open contexts (VEO's `veo_num_contexts`).
    pub fn num_contexts(&self) -> usize {
        self.shared
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|s| **s == Slot::Open)
            .count()
    }

    /// The slot numbers of the open contexts, as [`Context::index`] reports them.
    pub fn contexts(&self) -> Vec<usize> {
        let slots = self.shared.slots.lock().unwrap_or_else(|e| e.into_inner());
        (1..slots.len())
            .filter(|&i| slots[i] == Slot::Open)
            .collect()
    }

    /// Loads the shared library at `path` (VEO's `veo_load_library`).
    pub fn load_library(&self, path: impl AsRef<Path>) -> Result<Library> {
        self.shared.load_library(path.as_ref())
    }

    /// The kernels linked into the helper program itself (py-veo's
    /// `static_library()`).
    pub fn static_library(&self) -> Result<Library> {
        self.shared.static_library()
    }

    /// The loaded libraries.
    pub fn libraries(&self) -> Vec<Library> {
        let libs = self.shared.libs.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<Library> = libs.open.values().cloned().collect();
        v.sort_by_key(|l| l.handle());
        v
    }

    /// Finds `name` in the loaded libraries, then the static library
    /// (py-veo's `get_function`).
    pub fn get_function(&self, name: &str) -> Result<Function> {
        self.shared.get_function(name)
    }

    /// The kernel `symbol` of `lib`, loading the library on first use;
    /// cached per proc, library and symbol (`__private::kernel`).
    pub(crate) fn kernel(&self, lib: &KernelLibrary, symbol: &str) -> Result<Function> {
        self.shared.kernel(lib, symbol)
    }

    /// Calls the kernel `symbol` of `lib` and waits for its result: what
    /// `#[ve_kernel]`'s `_sync` stubs call (through `__private::call_kernel_sync`).
    pub(crate) fn call_kernel_sync<R: KernelRet>(
        &self,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
        args: &mut Args<'_>,
    ) -> Result<R> {
        let addr = self.shared.kernel_addr(slot, lib, symbol)?;
        self.shared.call_sync_at(addr, None, args)
    }

    /// Calls `f` and waits for its result, on the proc's own queue, without a
    /// context (AVEO's `veo_call_sync`).
    pub fn call_sync<R: KernelRet>(&self, f: &Function, args: Args<'_>) -> Result<R> {
        self.shared.call_sync(f, &mut { args })
    }

    /// Calls the function `name` (see [`get_function`](Self::get_function)) synchronously.
    pub fn call_sync_by_name<R: KernelRet>(&self, name: &str, args: Args<'_>) -> Result<R> {
        let f = self.get_function(name)?;
        self.call_sync(&f, args)
    }

    /// Allocates `len` elements of VE memory, freed when the buffer drops.
    pub fn alloc<T: bytemuck::Pod>(&self, len: usize) -> Result<VeBuffer<T>> {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .ok_or(Error::OutOfMemory { size: u64::MAX })?;
        let ptr = self.shared.alloc_mem(bytes as u64)?;
        Ok(VeBuffer::new(self.shared.clone(), ptr.cast(), len))
    }

    /// Allocates room for `data` in VE memory and copies it there; freed
    /// when the buffer drops (also when the copy fails).
    pub fn alloc_from<T: bytemuck::Pod>(&self, data: &[T]) -> Result<VeBuffer<T>> {
        let buf = self.alloc::<T>(data.len())?;
        self.write(&buf, data)?;
        Ok(buf)
    }

    /// Allocates `bytes` of VE memory that the caller frees with
    /// [`free_mem`](Self::free_mem) (VEO's `veo_alloc_mem`).
    ///
    /// The memory hook of [`MemoryOp::Alloc`](crate::MemoryOp) runs after it.
    pub fn alloc_mem(&self, bytes: u64) -> Result<VePtr<u8>> {
        let ptr = self.shared.alloc_mem(bytes)?;
        crate::mem_hooks::fire(crate::MemoryOp::Alloc, self, None, ptr.addr(), bytes);
        Ok(ptr)
    }

    /// Frees memory from [`alloc_mem`](Self::alloc_mem) (VEO's `veo_free_mem`).
    ///
    /// The memory hook of [`MemoryOp::Free`](crate::MemoryOp) runs after it.
    pub fn free_mem<T>(&self, ptr: VePtr<T>) -> Result<()> {
        self.shared.free_mem(ptr.cast())?;
        crate::mem_hooks::fire(crate::MemoryOp::Free, self, None, ptr.addr(), 0);
        Ok(())
    }

    /// Copies `src` into VE memory at `dst` (VEO's `veo_write_mem`).
    pub fn write<T: bytemuck::Pod>(&self, dst: impl AsVePtr<T>, src: &[T]) -> Result<()> {
        memory::check_fits(&dst, src.len())?;
        self.shared
            .write_bytes(dst.ve_ptr().addr(), bytemuck::cast_slice(src))
    }

    /// Copies VE memory at `src` into `dst` (VEO's `veo_read_mem`).
    pub fn read<T: bytemuck::Pod>(&self, dst: &mut [T], src: impl AsVePtr<T>) -> Result<()> {
        memory::check_fits(&src, dst.len())?;
        self.shared
            .read_bytes(bytemuck::cast_slice_mut(dst), src.ve_ptr().addr())
    }

    /// Copies `count` elements inside VE memory.
    pub fn memcpy<T>(&self, dst: VePtr<T>, src: VePtr<T>, count: usize) -> Result<()> {
        let len = memory::byte_len(src, count)?;
        self.shared.control_op(
            proto::KIND_MEMCPY,
            &[dst.addr(), src.addr(), len],
            &[],
            What::Transfer {
                addr: src.addr(),
                len,
            },
        )?;
        Ok(())
    }

    /// What each kernel (and each kind of transfer) has cost on the VE so
    /// far, the most expensive first; empty unless the proc is traced
    /// ([`ProcBuilder::trace`], [`ProcBuilder::profile`], `VEO_TRACE`).
    pub fn profile(&self) -> Vec<crate::trace::KernelProfile> {
        self.shared
            .life
            .trace
            .get()
            .map_or_else(Vec::new, |t| t.profile())
    }

    /// Writes the trace so far to `path` as Chrome trace-event JSON (what
    /// a traced proc writes when it ends); an error if it is not traced.
    pub fn write_trace(&self, path: impl AsRef<Path>) -> Result<()> {
        let t = self.shared.life.trace.get().ok_or_else(|| {
            Error::InvalidArgument("the proc is not traced (ProcBuilder::trace, VEO_TRACE)".into())
        })?;
        std::fs::write(path.as_ref(), t.to_json(self.pid()).to_string())
            .map_err(|e| Error::io("cannot write the trace", e))
    }

    /// Ends the helper now, for every clone of this handle; what is pending
    /// fails with [`Error::Closed`]. Dropping the last handle does the same.
    pub fn close(self) {
        self.shared.shutdown();
        self.shared.join_monitor(KILLED_WAIT);
    }
}

impl ProcShared {
    /// Joins the monitor once the helper has ended, waiting for that at most
    /// `limit`; past it, the monitor is left to reap the helper on its own.
    pub(crate) fn join_monitor(&self, limit: Duration) {
        if self.life.foreign() {
            // A fork() child's copy: the monitor thread is the parent's.
            return;
        }
        let handle = self
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
        if let Some(fd) = &self.pidfd {
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

    fn take_slot(&self) -> Result<usize> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let mut reap = Vec::new();
        let mut found = None;
        for i in 1..slots.len() {
            let exited = self
                .seg
                .channel(i)
                .header()
                .worker_exited
                .load(Ordering::Acquire)
                != 0;
            if slots[i] == Slot::Closing && exited {
                reap.push(i);
                slots[i] = Slot::Free;
            }
            if found.is_none() && slots[i] == Slot::Free {
                found = Some(i);
            }
        }
        let idx = found.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "too many contexts: a proc has at most {MAX_CONTEXTS} open at once"
            ))
        })?;
        slots[idx] = Slot::Open;
        drop(slots);
        for i in reap {
            // Reap the worker threads of contexts that were dropped unclosed.
            let _ = self.control_op(proto::KIND_JOIN, &[i as u64], &[], What::Other);
        }
        Ok(idx)
    }

    pub(crate) fn release_slot(&self, idx: usize, to: Slot) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())[idx] = to;
    }

    /// A synchronous command on the control channel.
    pub(crate) fn control_op(
        &self,
        kind: u16,
        words: &[u64],
        tail: &[u8],
        what: What,
    ) -> Result<u64> {
        let reqid = self.control.simple(kind, words, tail)?;
        self.finish(reqid, what).map(|d| d.value)
    }

    fn finish(&self, reqid: u64, what: What) -> Result<Done> {
        let done = self.control.wait(reqid, None)?;
        match done.status {
            Some(Status::Ok) => Ok(done),
            Some(s) => Err(status_error(s, done, what)),
            None => Err(Error::Helper(done.text)),
        }
    }

    fn call_sync<R: KernelRet>(&self, f: &Function, args: &mut Args<'_>) -> Result<R> {
        f.check(self.id)?;
        self.call_sync_at(f.addr, Some(&f.shared.loaded), args)
    }

    fn call_sync_at<R: KernelRet>(
        &self,
        addr: u64,
        loaded: Option<&AtomicBool>,
        args: &mut Args<'_>,
    ) -> Result<R> {
        let (reqid, outs) =
            submit_call(&self.control, addr, loaded, R::CLASS, args, self.stack_size)?;
        let req = crate::request::Request::<R>::new(&self.control, reqid, outs, What::Call);
        req.wait()
    }

    pub(crate) fn alloc_mem(&self, bytes: u64) -> Result<VePtr<u8>> {
        self.control_op(proto::KIND_ALLOC, &[bytes], &[], What::Alloc)
            .map(VePtr::new)
    }

    pub(crate) fn free_mem(&self, ptr: VePtr<u8>) -> Result<()> {
        self.control_op(
            proto::KIND_FREE,
            &[ptr.addr()],
            &[],
            What::Transfer {
                addr: ptr.addr(),
                len: 0,
            },
        )
        .map(|_| ())
    }

    /// This process's address of the VE memory `[addr, addr + len)`, if the
    /// range lies entirely in the shared VE memory file.
    pub(crate) fn local_ve_memory(&self, addr: u64, len: usize) -> Option<*mut u8> {
        let base = self.heap_helper_base.load(Ordering::Acquire);
        if base == 0 {
            return None;
        }
        self.seg.heap()?.alias(base, addr, len as u64)
    }

    pub(crate) fn write_bytes(&self, addr: u64, src: &[u8]) -> Result<()> {
        self.life.check()?;
        memory::check_range(addr, src.len() as u64)?;
        if src.is_empty() {
            return Ok(());
        }
        if let Some(p) = self.local_ve_memory(addr, src.len()) {
            // SAFETY: `p..p + len` lies inside our mapping of the VE memory
            // file (checked by `Heap::alias`), which lives as long as
            // `self`; nothing in this process holds a reference into it.
            unsafe { veo_urpc::copy::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
            return Ok(());
        }
        if self.pvm.load(Ordering::Relaxed) {
            match memory::pvm_write(self.life.pid, addr, src) {
                Ok(()) => return Ok(()),
                Err(memory::PvmError::Unsupported) => self.pvm.store(false, Ordering::Relaxed),
                Err(memory::PvmError::Fault(reason)) => {
                    self.life.check()?;
                    return Err(Error::InvalidAddress {
                        addr,
                        len: src.len() as u64,
                        reason,
                    });
                }
            }
        }
        // Through the control channel, in overlapping pieces.
        let mut s = self.control.submit()?;
        let reqid = s.next_reqid();
        s.message(proto::KIND_WRITE, reqid, 16, |b| {
            proto::encode_words(b, &[addr, src.len() as u64])
        })?;
        s.data(reqid, 0, src)?;
        drop(s);
        self.finish(
            reqid,
            What::Transfer {
                addr,
                len: src.len() as u64,
            },
        )
        .map(|_| ())
    }

    pub(crate) fn read_bytes(&self, dst: &mut [u8], addr: u64) -> Result<()> {
        self.life.check()?;
        memory::check_range(addr, dst.len() as u64)?;
        if dst.is_empty() {
            return Ok(());
        }
        let len = dst.len() as u64;
        if let Some(p) = self.local_ve_memory(addr, dst.len()) {
            // SAFETY: as in `write_bytes`; `dst` is a distinct host buffer.
            unsafe { veo_urpc::copy::copy_nonoverlapping(p, dst.as_mut_ptr(), dst.len()) };
            return Ok(());
        }
        if self.pvm.load(Ordering::Relaxed) {
            match memory::pvm_read(self.life.pid, dst, addr) {
                Ok(()) => return Ok(()),
                Err(memory::PvmError::Unsupported) => self.pvm.store(false, Ordering::Relaxed),
                Err(memory::PvmError::Fault(reason)) => {
                    self.life.check()?;
                    return Err(Error::InvalidAddress { addr, len, reason });
                }
            }
        }
        let reqid = self.control.simple(proto::KIND_READ, &[addr, len], &[])?;
        let done = self.finish(reqid, What::Transfer { addr, len })?;
        if done.data.len() != dst.len() {
            return Err(Error::Helper(format!(
                "a read of {len} bytes was answered with {}",
                done.data.len()
            )));
        }
        veo_urpc::copy::copy(dst, &done.data);
        Ok(())
    }

    fn load_library(self: &Arc<Self>, path: &Path) -> Result<Library> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        let name = path.display().to_string();
        if bytes.contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "library path {} contains a NUL byte",
                shown(&name)
            )));
        }
        let handle = self
            .control_op(proto::KIND_LOAD, &[bytes.len() as u64], bytes, What::Other)
            .map_err(|e| match e {
                Error::LibraryNotFound { message, .. } => Error::LibraryNotFound {
                    path: short(&name, NAME_SHOWN),
                    message: short(&message, MESSAGE_SHOWN),
                },
                e => e,
            })?;
        let lib = Library::new(handle, name, self);
        self.libs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open
            .insert(handle, lib.clone());
        Ok(lib)
    }

    fn static_library(self: &Arc<Self>) -> Result<Library> {
        self.life.check()?;
        let mut libs = self.libs.lock().unwrap_or_else(|e| e.into_inner());
        Ok(libs
            .statik
            .get_or_insert_with(|| Library::new(STATIC_HANDLE, STATIC_NAME.into(), self))
            .clone())
    }

    pub(crate) fn symbol(&self, handle: u64, library: &str, name: &str) -> Result<u64> {
        if name.as_bytes().contains(&0) {
            return Err(Error::InvalidArgument(format!(
                "symbol name {} contains a NUL byte",
                shown(name)
            )));
        }
        let addr = self
            .control_op(
                proto::KIND_SYMBOL,
                &[handle, name.len() as u64],
                name.as_bytes(),
                What::Other,
            )
            .map_err(|e| match e {
                Error::SymbolNotFound { message, .. } => Error::SymbolNotFound {
                    name: short(name, NAME_SHOWN),
                    library: short(library, NAME_SHOWN),
                    message: short(&message, MESSAGE_SHOWN),
                },
                e => e,
            })?;
        if addr == 0 {
            return Err(Error::SymbolNotFound {
                name: short(name, NAME_SHOWN),
                library: short(library, NAME_SHOWN),
                message: "the symbol's address is null".into(),
            });
        }
        Ok(addr)
    }

    pub(crate) fn unload(&self, lib: &Library) -> Result<()> {
        {
            let mut libs = self.libs.lock().unwrap_or_else(|e| e.into_inner());
            libs.open.remove(&lib.handle());
            libs.by_path.retain(|_, l| l.handle() != lib.handle());
        }
        self.kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, fns| {
                fns.values()
                    .all(|f| !Arc::ptr_eq(&f.shared.loaded, &lib.inner.loaded))
            });
        self.kernels_generation.fetch_add(1, Ordering::AcqRel);
        // The library's flag is cleared: a call that saw it set did so
        // holding its channel's lock, so once every lock has been taken
        // here, every call into the library is in a ring, before the
        // unload, and the helper defers the close until they have run.
        let channels: Vec<Arc<ChannelVh>> = self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|c| c.upgrade())
            .collect();
        for ch in channels.iter().map(|c| &**c).chain([&self.control]) {
            ch.barrier();
        }
        self.control_op(proto::KIND_UNLOAD, &[lib.handle()], &[], What::Other)
            .map(|_| ())
    }

    pub(crate) fn get_function(self: &Arc<Self>, name: &str) -> Result<Function> {
        let libs: Vec<Library> = {
            let l = self.libs.lock().unwrap_or_else(|e| e.into_inner());
            let mut v: Vec<Library> = l.open.values().cloned().collect();
            v.sort_by_key(|l| l.handle());
            v
        };
        for lib in &libs {
            if lib.cached(name).is_some() {
                return lib.function(name);
            }
        }
        for lib in &libs {
            if let Ok(f) = lib.function(name) {
                return Ok(f);
            }
        }
        self.static_library()?.function(name).map_err(|e| match e {
            Error::SymbolNotFound { message, .. } => Error::SymbolNotFound {
                name: short(name, NAME_SHOWN),
                library: "any loaded library or the static library".into(),
                message,
            },
            e => e,
        })
    }

    /// The address of the kernel `symbol` of `lib`: from the stub's own
    /// `slot` when it answers for this proc and these libraries, else found
    /// (loading the library if need be) and kept there.
    pub(crate) fn kernel_addr(
        self: &Arc<Self>,
        slot: &KernelSlot,
        lib: &KernelLibrary,
        symbol: &str,
    ) -> Result<u64> {
        // Read before the lookup: an unload meanwhile leaves the slot stale.
        let generation = self.kernels_generation.load(Ordering::Acquire);
        if let Some(addr) = slot.get(self.id, generation) {
            return Ok(addr);
        }
        let f = self.kernel(lib, symbol)?;
        f.check(self.id)?;
        if let Some(t) = self.life.trace.get() {
            t.name(f.addr, slot.name().unwrap_or(symbol));
        }
        slot.put(self.id, generation, f.addr);
        Ok(f.addr)
    }

    pub(crate) fn kernel(self: &Arc<Self>, lib: &KernelLibrary, symbol: &str) -> Result<Function> {
        // Cached under the key the stubs ask with (not the resolved one, or
        // `Path("static")` would miss the cache on every call).
        let key = (lib.key().as_ptr() as usize, lib.key().len());
        let cached = self
            .kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .and_then(|m| m.get(symbol))
            .cloned();
        if let Some(f) = cached {
            return Ok(f);
        }
        let lib = match lib {
            KernelLibrary::Path(p) => KernelLibrary::from_build(p),
            KernelLibrary::Built(b) if b.is_static() => KernelLibrary::Static,
            other => *other,
        };
        let library = match lib {
            KernelLibrary::Static => self.static_library()?,
            KernelLibrary::Built(b) => {
                let cached = self.libs.lock().unwrap().by_path.get(b.path()).cloned();
                match cached {
                    Some(l) => l,
                    None => {
                        let path = crate::locate::locate(b)?;
                        let l = self.load_library(Path::new(&path))?;
                        self.libs
                            .lock()
                            .unwrap()
                            .by_path
                            .insert(b.path(), l.clone());
                        l
                    }
                }
            }
            KernelLibrary::Path(path) => {
                let cached = self
                    .libs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .by_path
                    .get(path)
                    .cloned();
                match cached {
                    Some(l) => l,
                    None => {
                        let l = self.load_library(Path::new(path))?;
                        self.libs
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .by_path
                            .insert(path, l.clone());
                        l
                    }
                }
            }
        };
        let f = library.function(symbol)?;
        self.kernels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .insert(symbol.to_string(), f.clone());
        Ok(f)
    }

    /// Ends the helper: asks it to exit, then kills it if it has not within
    /// [`GRACE`]. Bounded whatever the helper's state: a stopped helper is
    /// continued (so that it can exit), a busy or hung one killed, a dead
    /// one found dead at once; a fork() child's copy does nothing.
    fn shutdown(&self) {
        if self.life.foreign() || self.shut.swap(true, Ordering::AcqRel) {
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
        let handle = self.monitor.lock().unwrap_or_else(|e| e.into_inner());
        let Some(m) = handle.as_ref() else { return };
        if let Some(fd) = &self.pidfd {
            use rustix::process::{pidfd_send_signal, Signal};
            // Errors mean it has ended already.
            let _ = pidfd_send_signal(fd, Signal::CONT);
            if !self.wait_exit(GRACE, m) {
                let _ = pidfd_send_signal(fd, Signal::KILL);
            }
            return;
        }
        if !self.wait_exit(GRACE, m) {
            // SAFETY: the monitor has not reaped the child yet, so the pid
            // is still ours; kill has no memory effects.
            unsafe { libc::kill(self.life.pid as i32, libc::SIGKILL) };
        }
    }
}
