//! The helper's main loop: attach, announce, then serve channels.

use crate::call::Caller;
use crate::heap::VeHeap;
use crate::library::{Behind, Libraries, Progress};
use crate::memory::{self, Allocations};
use crate::ve_side::{self, RecentResults};
use crate::{exit_code, fault, HelperConfig};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread::JoinHandle;
use veo_urpc::proto::{self, Call, Status};
use veo_urpc::segment::{state, AttachError, LAYOUT};
use veo_urpc::{wait, Consumer, Producer, Segment, SpinBudget, WaitPolicy, Wake};

/// The helper's ends of one channel: the command consumer and the result
/// producer.
type Ends = (Consumer<'static>, Producer<'static>);

/// Worker threads get a roomy stack: kernels may keep big arrays on it.
const WORKER_STACK: usize = 64 << 20;

struct Helper {
    seg: &'static Segment,
    mem: Allocations,
    libs: Libraries,
    workers: Mutex<HashMap<usize, JoinHandle<()>>>,
    /// Each channel's worker's progress, for closes deferred by unloads.
    progress: Box<[Progress]>,
    ppid: u32,
}

impl Helper {
    /// This process's ends of channel `index` (refused while a worker
    /// holds them still).
    fn ends(&self, index: usize) -> Result<Ends, veo_urpc::Taken> {
        let chan = self.seg.channel(index);
        Ok((chan.cmd.acquire_consumer()?, chan.res.acquire_producer()?))
    }
}

fn die(code: i32, msg: std::fmt::Arguments<'_>) -> ! {
    eprintln!("ve-helper: {msg}");
    // libc's `_exit`: rustix offers `exit_group` only in its unstable
    // runtime module.
    // SAFETY: ending the process without running anything else.
    unsafe { libc::_exit(code) }
}

/// Whether the VH asked the workers to stop (it writes 1 and nothing
/// else): any other value means the segment header was overwritten, and the
/// helper quits saying so rather than mistaking it for a request to exit.
fn asked_to_stop(seg: &Segment) -> bool {
    match seg.header().shutdown.load(Ordering::Relaxed) {
        0 => false,
        1 => true,
        v => die(
            exit_code::BAD_SEGMENT,
            format_args!("the segment header is corrupted (shutdown flag {v:#x})"),
        ),
    }
}

/// `CLOCK_MONOTONIC` in ns: the clock the VH's trace shares.
fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn getppid() -> u32 {
    // `None` is the kernel's "no parent" (pid 0): never the VH's pid.
    rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32)
}

pub(crate) fn run(cfg: HelperConfig, fd: OwnedFd) -> ! {
    if getppid() != cfg.ppid {
        die(
            exit_code::NOT_PARENT,
            format_args!("not started by process {}", cfg.ppid),
        );
    }
    // Best effort: if the flag cannot be set, the parent check below and the
    // VH's monitor still end the helper with its parent.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    // The parent may have died before the line above: then we were reparented.
    if getppid() != cfg.ppid {
        die(
            exit_code::NOT_PARENT,
            format_args!("parent {} is gone", cfg.ppid),
        );
    }
    // A second descriptor, to announce a refusal after `attach` consumed the first.
    let spare = fd.try_clone().ok();
    let seg = match Segment::attach(fd) {
        Ok(seg) => seg,
        Err(e @ AttachError::Mismatch { .. }) => {
            if let Some(spare) = &spare {
                use std::os::fd::AsFd;
                Segment::announce_refusal(spare.as_fd());
            }
            die(exit_code::MISMATCH, format_args!("{e}"))
        }
        Err(e) => die(exit_code::BAD_SEGMENT, format_args!("{e}")),
    };
    drop(spare);
    count_idle_spinners();
    let h = seg.header();
    if h.token != cfg.token || h.parent_pid != cfg.ppid {
        die(
            exit_code::BAD_SEGMENT,
            format_args!("segment token mismatch"),
        );
    }
    if h.core >= 0 {
        pin(h.core as usize);
    }
    let seg: &'static Segment = Box::leak(Box::new(seg));
    // VE memory in the segment's region when it has one and an address
    // range is free for it; else `malloc`, reached by the VH with
    // cross-memory attach (slower, still correct).
    let heap: Option<&'static VeHeap> = seg
        .heap()
        .and_then(VeHeap::new)
        .map(|h| &*Box::leak(Box::new(h)));
    if let Some(h) = heap {
        seg.header()
            .helper_heap_base
            .store(h.region(), Ordering::Release);
    }
    memory::set_direct(seg.mapped_range(), heap);
    unbuffered_stdout();
    fault::install(seg);
    // Before any kernel library: they may need its symbols.
    ve_side::install();
    let helper: &'static Helper = Box::leak(Box::new(Helper {
        seg,
        mem: Allocations::with_heap(heap),
        libs: Libraries::default(),
        workers: Mutex::new(HashMap::new()),
        progress: (0..seg.channels()).map(|_| Progress::default()).collect(),
        ppid: cfg.ppid,
    }));
    let h = seg.header();
    h.helper_pid.store(
        rustix::process::getpid().as_raw_nonzero().get() as u32,
        Ordering::Relaxed,
    );
    h.helper_version
        .store(proto::PROTOCOL_VERSION, Ordering::Relaxed);
    h.helper_layout.store(LAYOUT, Ordering::Relaxed);
    h.helper_state.store(state::READY, Ordering::Release);
    seg.channel(0).res.wake_all();
    // The control channel is served on a thread of its own, like the
    // contexts: the main thread may be inside a constructor (before main),
    // where a kernel's pthread_exit would crash the C library rather than
    // unwind to `fault::Unwinding`; and its kernels get the same roomy stack.
    let control = std::thread::Builder::new()
        .name("ve-control".into())
        .stack_size(WORKER_STACK)
        .spawn(move || {
            fault::alt_stack();
            serve_control(helper);
        });
    match control {
        Ok(t) => {
            let _ = t.join();
        }
        Err(_) => serve_control(helper),
    }
    // SAFETY: the control channel asked us to exit; workers die with us.
    unsafe { libc::_exit(0) }
}

/// Serves the control channel, whose ends nothing else takes.
fn serve_control(h: &'static Helper) {
    match h.ends(0) {
        Ok((cmd, res)) => Worker::new(h, 0, res).run(cmd),
        Err(e) => die(exit_code::BAD_SEGMENT, format_args!("control channel: {e}")),
    }
}

/// Makes the C library's stdout unbuffered, as stderr is. Kernels print
/// with `printf`; stdout is fully buffered when it is a pipe or a file (every
/// CI log), and the helper ends with `_exit`, or is killed, so buffered
/// output would be lost, or would appear long after the request that
/// printed it. Unbuffered, each `printf` is one `write`, in order with the
/// VH's own output, before the request completes. (C++ streams share it;
/// Fortran units get `GFORTRAN_UNBUFFERED_PRECONNECTED` from the VH.)
fn unbuffered_stdout() {
    extern "C" {
        static mut stdout: *mut libc::FILE;
    }
    // SAFETY: single-threaded still (no worker started), before any output
    // on the stream; `stdout` is the C library's own stream.
    unsafe {
        let out = std::ptr::addr_of!(stdout).read();
        if !out.is_null() {
            libc::setvbuf(out, std::ptr::null_mut(), libc::_IONBF, 0);
        }
    }
}

/// Pins the helper to `core` (modulo the CPUs this machine has): VE_CORE_NUMBER.
fn pin(core: usize) {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut set = rustix::thread::CpuSet::new();
    set.set(core % n);
    // Best effort, as taskset: a CPU the cgroup forbids leaves the helper unpinned.
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

enum Pending {
    None,
    Stack {
        reqid: u64,
        call: Call,
        received: u64,
    },
    Write {
        reqid: u64,
        addr: u64,
        len: u64,
        received: u64,
        err: Option<String>,
    },
}

enum Flow {
    Continue,
    Stop,
}

struct Worker {
    h: &'static Helper,
    idx: usize,
    /// This channel's entry of `h.progress`.
    progress: &'static Progress,
    res: Producer<'static>,
    frame: Vec<u128>,
    pending: Pending,
    caller: Caller,
    /// The latest results, for `veo_prev_req_result` in kernels.
    recent: std::rc::Rc<RecentResults>,
    stack_max: u64,
    /// Decoded calls reuse this one's vectors.
    spare: Call,
    /// How long to spin for the next command.
    spin: SpinBudget,
    /// [`ACTIVATIONS`] when this worker last took a command after another
    /// worker had.
    activation: u64,
    /// The ring position past the command being handled.
    msg_end: u64,
    /// Whether to time requests (the segment's `trace` flag), and when the
    /// request being served started: request id, ns.
    trace: bool,
    started: (u64, u64),
}

/// Counts the times a worker took a command after another worker had:
/// the workers that did so last are the ones whose VH threads are calling.
static ACTIVATIONS: AtomicU64 = AtomicU64::new(0);

/// How many workers may spin for their next command while idle: one fewer
/// than the CPUs this process may run on, at least one (set at start).
static IDLE_SPINNERS: AtomicU64 = AtomicU64::new(1);

/// Sets [`IDLE_SPINNERS`] from the CPUs this process may run on.
fn count_idle_spinners() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    IDLE_SPINNERS.store(cpus.saturating_sub(1).max(1), Ordering::Relaxed);
}

/// Whether a worker idle since `activation` may keep spinning: only while
/// fewer than [`IDLE_SPINNERS`] other workers took commands since. On two
/// CPUs with one VH thread calling, the VH thread and its worker are all
/// the CPUs can run: another worker spinning for work that is not coming
/// takes one of them, and the scheduler then puts the VH thread and the
/// worker it calls on the other, where they wake each other with a system
/// call per call (docs/PERFORMANCE.md, "What remains").
#[inline]
fn may_spin_idle(activation: u64) -> bool {
    spins_idle(
        ACTIVATIONS.load(Ordering::Relaxed),
        activation,
        IDLE_SPINNERS.load(Ordering::Relaxed),
    )
}

/// [`may_spin_idle`] with [`ACTIVATIONS`] at `now` and `spinners` allowed.
#[inline(always)]
fn spins_idle(now: u64, activation: u64, spinners: u64) -> bool {
    now.wrapping_sub(activation) < spinners
}

impl Worker {
    /// Notes that this worker has a command: if another worker took one
    /// since this one last did, this worker is the latest (one shared
    /// write per change of worker, none per command).
    #[inline(always)]
    fn activate(&mut self) {
        let now = ACTIVATIONS.load(Ordering::Relaxed);
        if now != self.activation {
            self.activation = ACTIVATIONS.fetch_add(1, Ordering::Relaxed) + 1;
        }
    }

    fn new(h: &'static Helper, idx: usize, res: Producer<'static>) -> Worker {
        Worker {
            h,
            idx,
            progress: &h.progress[idx],
            res,
            frame: Vec::new(),
            pending: Pending::None,
            caller: Caller::default(),
            recent: RecentResults::new(),
            stack_max: h.seg.header().stack_size,
            spare: Call::empty(),
            spin: SpinBudget::new(),
            // Not the latest until its first command.
            activation: u64::MAX,
            trace: h.seg.header().trace.load(Ordering::Relaxed) != 0,
            started: (0, 0),
            msg_end: 0,
        }
    }

    /// Records that the command being handled has finished (its kernel
    /// returned), and closes the unloaded libraries that waited for it.
    #[inline]
    fn finished(&self) {
        self.progress.done.store(self.msg_end, Ordering::Release);
        if self.h.libs.retiring() {
            self.h.libs.close_retired(&self.h.progress);
        }
    }

    fn stopping(&self) -> bool {
        asked_to_stop(self.h.seg) || getppid() != self.h.ppid
    }

    fn run(mut self, mut cmd: Consumer<'static>) {
        let chan = self.h.seg.channel(self.idx);
        let _current = ve_side::Current::enter(self.recent.clone());
        loop {
            let msg = match cmd.peek() {
                Ok(Some(m)) => m,
                Ok(None) => {
                    // The room made is published lazily (an eighth of the
                    // ring at a time: one fence per burst, not per command).
                    // Withholding less than an eighth never blocks the VH
                    // while this worker idles: messages are at most a
                    // quarter ring.
                    // Before sleeping, a library waiting for this worker's
                    // last command is closed (the fence pairs with the one
                    // of `Libraries::unload`).
                    std::sync::atomic::fence(Ordering::SeqCst);
                    if self.h.libs.retiring() {
                        self.h.libs.close_retired(&self.h.progress);
                    }
                    // A copy: polled in registers while spinning.
                    let ring = *cmd.ring();
                    let next = cmd.head();
                    // The word where the next command starts: polling it
                    // pulls the command's own cache line.
                    let ready = || ring.committed_at(next);
                    let ch = chan.header();
                    let here = wait::note_cpu(&ch.helper_cpu);
                    let peer_here = here != 0 && ch.vh_cpu.load(Ordering::Relaxed) == here;
                    let activation = self.activation;
                    let wake = ring.data_word().wait_adaptive_while(
                        &WaitPolicy::HELPER,
                        &self.spin,
                        peer_here,
                        None,
                        ready,
                        || self.stopping(),
                        || may_spin_idle(activation),
                    );
                    match wake {
                        Wake::Ready => continue,
                        _ => return,
                    }
                }
                Err(e) => die(
                    exit_code::BAD_SEGMENT,
                    format_args!("channel {}: {e}", self.idx),
                ),
            };
            self.activate();
            let (kind, reqid) = (msg.kind, msg.reqid);
            self.msg_end = msg.end;
            if self.trace && self.started.0 != reqid {
                self.started = (reqid, now_ns());
            }
            // The common call, straight from its message: no `Call` built.
            #[cfg(target_arch = "x86_64")]
            if kind == proto::KIND_CALL {
                if let Some(call) = proto::decode_register_call(msg.body) {
                    self.call_registers(reqid, &call);
                    cmd.advance_lazily();
                    continue;
                }
            }
            let flow = self.handle(kind, reqid, msg.body);
            cmd.advance_lazily();
            self.finished();
            if let Flow::Stop = flow {
                cmd.release();
                return;
            }
        }
    }

    /// Makes a call whose arguments travel in registers and answers it:
    /// what most calls are, kept inline in the loop.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn call_registers(&mut self, reqid: u64, call: &proto::RegisterCall) {
        fault::set_current(self.idx as u64, reqid);
        let unwinding = fault::Unwinding::arm();
        // SAFETY: the VH vouches for the signature (typed stubs or Args), as
        // for every call.
        let value = unsafe { crate::call::invoke_registers(call) };
        unwinding.disarm();
        fault::clear_current();
        fault::leave_if_forked();
        self.finished();
        self.answer(reqid, Status::Ok, value, b"");
    }

    fn reply(&mut self, reqid: u64, status: Status, value: u64, text: &str) {
        let text = &text.as_bytes()[..text.len().min(4096)];
        self.answer(reqid, status, value, text);
    }

    /// Sends the result of `reqid` (`text` at most 4 KiB) and publishes it.
    #[inline(always)]
    fn answer(&mut self, reqid: u64, status: Status, value: u64, text: &[u8]) {
        if self.trace {
            self.send_times(reqid);
        }
        let stop = || asked_to_stop(self.h.seg);
        self.res.write(
            proto::KIND_RESULT,
            reqid,
            proto::RESULT_FIXED + text.len(),
            move |b| proto::encode_result(b, status, value, text),
            &WaitPolicy::HELPER,
            stop,
        );
        self.res.publish();
        self.recent.record(matches!(status, Status::Ok), value);
    }

    /// Tells a traced VH when `reqid` started and ended here.
    #[cold]
    #[inline(never)]
    fn send_times(&mut self, reqid: u64) {
        let end = now_ns();
        let start = if self.started.0 == reqid {
            self.started.1
        } else {
            end
        };
        let stop = || asked_to_stop(self.h.seg);
        self.res.write(
            proto::KIND_TIMES,
            reqid,
            16,
            |b| proto::encode_words(b, &[start, end]),
            &WaitPolicy::HELPER,
            stop,
        );
    }

    fn chunk(&self) -> usize {
        (self.res.ring().max_body() - 16) & !4095
    }

    /// Sends `len` bytes from `src` (any address) as RDATA at `base`;
    /// stops at the first bad address.
    fn send_bytes(&mut self, reqid: u64, base: u64, src: u64, len: u64) -> Result<(), String> {
        let chunk = self.chunk() as u64;
        let mut off = 0;
        while off < len {
            let n = chunk.min(len - off);
            let mut err = None;
            let stop = || asked_to_stop(self.h.seg);
            self.res.write(
                proto::KIND_RDATA,
                reqid,
                16 + n as usize,
                |b| {
                    proto::encode_words(b, &[base + off, n]);
                    let dst = b[16..].as_mut_ptr() as u64;
                    if let Err(e) = memory::copy(dst, src + off, n) {
                        err = Some(e.0);
                    }
                },
                &WaitPolicy::HELPER,
                stop,
            );
            if let Some(e) = err {
                return Err(e);
            }
            off += n;
        }
        Ok(())
    }

    /// Every command but the register calls of `run`: kept out of its loop.
    #[inline(never)]
    fn handle(&mut self, kind: u16, reqid: u64, body: &[u8]) -> Flow {
        use proto::*;
        macro_rules! words {
            ($n:literal) => {
                match decode_words::<$n>(body) {
                    Ok(w) => w,
                    Err(e) => {
                        self.reply(reqid, Status::Invalid, 0, &e.to_string());
                        return Flow::Continue;
                    }
                }
            };
        }
        match kind {
            KIND_CALL => match self.decode(body) {
                Err(e) => self.reply(reqid, Status::Invalid, 0, &e.to_string()),
                Ok(call) if call.func == 0 => {
                    self.spare = call;
                    self.reply(reqid, Status::Invalid, 0, "call of a null function")
                }
                Ok(call) if call.image_len == 0 => self.execute(reqid, call),
                Ok(call) => {
                    let words = (call.image_len as usize).div_ceil(16);
                    if self.frame.len() < words {
                        self.frame.resize(words, 0);
                    }
                    self.pending = Pending::Stack {
                        reqid,
                        call,
                        received: 0,
                    };
                }
            },
            KIND_DATA => {
                let ([offset, len], rest) = words!(2);
                self.data(reqid, offset, len, rest);
            }
            KIND_WRITE => {
                let ([addr, len], _) = words!(2);
                let err = addr
                    .checked_add(len)
                    .is_none()
                    .then(|| "address + length overflows".to_string());
                if len == 0 {
                    self.reply(reqid, Status::Ok, 0, "");
                } else {
                    self.pending = Pending::Write {
                        reqid,
                        addr,
                        len,
                        received: 0,
                        err,
                    };
                }
            }
            KIND_READ => {
                let ([addr, len], _) = words!(2);
                if addr.checked_add(len).is_none() {
                    self.reply(
                        reqid,
                        Status::InvalidAddress,
                        addr,
                        "address + length overflows",
                    );
                } else if let Err(e) = memory::readable(addr, len) {
                    self.reply(reqid, Status::InvalidAddress, addr, &e.0);
                } else {
                    match self.send_bytes(reqid, 0, addr, len) {
                        Ok(()) => self.reply(reqid, Status::Ok, 0, ""),
                        Err(e) => self.reply(reqid, Status::InvalidAddress, addr, &e),
                    }
                }
            }
            KIND_ALLOC => {
                let ([size], _) = words!(1);
                match self.h.mem.alloc(size) {
                    Some(addr) => self.reply(reqid, Status::Ok, addr, ""),
                    None => self.reply(reqid, Status::OutOfMemory, size, ""),
                }
            }
            KIND_FREE => {
                let ([addr], _) = words!(1);
                match self.h.mem.free(addr) {
                    Ok(()) => self.reply(reqid, Status::Ok, 0, ""),
                    Err(e) => self.reply(reqid, Status::InvalidAddress, addr, &e.0),
                }
            }
            KIND_MEMCPY => {
                let ([dst, src, len], _) = words!(3);
                match memory::copy(dst, src, len) {
                    Ok(()) => self.reply(reqid, Status::Ok, 0, ""),
                    Err(e) => self.reply(reqid, Status::InvalidAddress, src, &e.0),
                }
            }
            KIND_LOAD => {
                let ([len], rest) = words!(1);
                match rest.get(..len as usize) {
                    None => self.reply(reqid, Status::Invalid, 0, "truncated path"),
                    Some(path) => match self.h.libs.load(path) {
                        Ok(handle) => self.reply(reqid, Status::Ok, handle, ""),
                        Err(e) => self.reply(reqid, Status::Library, 0, &e),
                    },
                }
            }
            KIND_UNLOAD => {
                let ([handle], _) = words!(1);
                // What every context had published when the unload came:
                // the calls that may still go into the library.
                let behind = (1..self.h.seg.channels())
                    .map(|channel| {
                        let opening = self.h.progress[channel].opening.load(Ordering::Acquire);
                        Behind {
                            channel,
                            opening,
                            tail: self.h.seg.channel(channel).cmd.tail(),
                        }
                    })
                    .collect();
                match self.h.libs.unload(handle, behind, &self.h.progress) {
                    Ok(()) => self.reply(reqid, Status::Ok, 0, ""),
                    Err(e) => self.reply(reqid, Status::Library, 0, &e),
                }
            }
            KIND_SYMBOL => {
                let ([handle, len], rest) = words!(2);
                match rest.get(..len as usize) {
                    None => self.reply(reqid, Status::Invalid, 0, "truncated name"),
                    Some(name) => match self.h.libs.symbol(handle, name) {
                        Ok(addr) => self.reply(reqid, Status::Ok, addr, ""),
                        Err(e) => self.reply(reqid, Status::Symbol, 0, &e),
                    },
                }
            }
            KIND_OPEN => {
                let ([index], _) = words!(1);
                match self.open(index as usize) {
                    Ok(()) => self.reply(reqid, Status::Ok, 0, ""),
                    Err(e) => self.reply(reqid, Status::Invalid, 0, &e),
                }
            }
            KIND_JOIN => {
                let ([index], _) = words!(1);
                let handle = crate::lock(&self.h.workers).remove(&(index as usize));
                if let Some(t) = handle {
                    let _ = t.join();
                }
                self.reply(reqid, Status::Ok, 0, "");
            }
            KIND_CLOSE => {
                self.reply(reqid, Status::Ok, 0, "");
                return Flow::Stop;
            }
            KIND_GATE => {
                let ch = self.h.seg.channel(self.idx);
                let g = ch.header();
                g.gate_reached.store(reqid, Ordering::Release);
                g.gate_reached_wake.notify();
                let wake = g.gate_released_wake.wait(
                    &WaitPolicy::HELPER,
                    None,
                    || g.gate_released.load(Ordering::Acquire) == reqid,
                    || self.stopping(),
                );
                if wake != Wake::Ready {
                    return Flow::Stop;
                }
            }
            KIND_NOP => self.reply(reqid, Status::Ok, 0, ""),
            KIND_EXIT => return Flow::Stop,
            _ => self.reply(reqid, Status::Invalid, 0, "unknown command"),
        }
        Flow::Continue
    }

    fn open(&mut self, index: usize) -> Result<(), String> {
        if self.idx != 0 || index == 0 || index >= self.h.seg.channels() {
            return Err(format!("cannot open channel {index}"));
        }
        let mut workers = crate::lock(&self.h.workers);
        if workers.contains_key(&index) {
            return Err(format!("channel {index} is already open"));
        }
        let h = self.h;
        // Not in `workers`: its last worker was joined, and gave them back.
        let (cmd, res) = h
            .ends(index)
            .map_err(|e| format!("channel {index} is in use: {e}"))?;
        let progress = &h.progress[index];
        progress.done.store(0, Ordering::Release);
        progress.opening.fetch_add(1, Ordering::AcqRel);
        let t = std::thread::Builder::new()
            .name(format!("ve-context-{index}"))
            .stack_size(WORKER_STACK)
            .spawn(move || {
                fault::alt_stack();
                Worker::new(h, index, res).run(cmd);
                let progress = &h.progress[index];
                progress.done.store(u64::MAX, Ordering::Release);
                progress.opening.fetch_add(1, Ordering::AcqRel);
                if h.libs.retiring() {
                    h.libs.close_retired(&h.progress);
                }
                h.seg
                    .channel(index)
                    .header()
                    .worker_exited
                    .store(1, Ordering::Release);
            })
            .map_err(|e| e.to_string())?;
        workers.insert(index, t);
        Ok(())
    }

    fn data(&mut self, reqid: u64, offset: u64, len: u64, bytes: &[u8]) {
        let Some(bytes) = bytes.get(..len as usize) else {
            return self.reply(reqid, Status::Invalid, 0, "truncated data");
        };
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::Stack {
                reqid: r,
                call,
                received,
            } if r == reqid => {
                let end = offset.checked_add(len).filter(|&e| e <= call.image_len);
                let Some(_) = end else {
                    return self.reply(reqid, Status::Invalid, 0, "stack data outside the image");
                };
                let frame: &mut [u8] = bytemuck::cast_slice_mut::<u128, u8>(&mut self.frame);
                veo_urpc::copy::copy(&mut frame[offset as usize..(offset + len) as usize], bytes);
                let received = received + len;
                if received >= call.image_len {
                    self.execute(reqid, call);
                } else {
                    self.pending = Pending::Stack {
                        reqid,
                        call,
                        received,
                    };
                }
            }
            Pending::Write {
                reqid: r,
                addr,
                len: total,
                received,
                mut err,
            } if r == reqid => {
                if err.is_none() {
                    if let Err(e) =
                        memory::copy(addr.wrapping_add(offset), bytes.as_ptr() as u64, len)
                    {
                        err = Some(e.0);
                    }
                }
                let received = received + len;
                if received >= total {
                    match err {
                        None => self.reply(reqid, Status::Ok, 0, ""),
                        Some(e) => self.reply(reqid, Status::InvalidAddress, addr, &e),
                    }
                } else {
                    self.pending = Pending::Write {
                        reqid,
                        addr,
                        len: total,
                        received,
                        err,
                    };
                }
            }
            other => {
                self.pending = other;
                self.reply(reqid, Status::Invalid, 0, "data for no pending request");
            }
        }
    }

    /// Decodes a call into the spare one's vectors.
    fn decode(&mut self, body: &[u8]) -> Result<Call, veo_urpc::ProtoError> {
        let mut call = std::mem::replace(&mut self.spare, Call::empty());
        match proto::decode_call_into(body, self.stack_max, &mut call) {
            Ok(()) => Ok(call),
            Err(e) => {
                self.spare = call;
                Err(e)
            }
        }
    }

    fn execute(&mut self, reqid: u64, call: Call) {
        self.execute_call(reqid, &call);
        // Its vectors serve the next call.
        self.spare = call;
    }

    fn execute_call(&mut self, reqid: u64, call: &Call) {
        let frame = bytemuck::cast_slice_mut::<u128, u8>(&mut self.frame).as_mut_ptr();
        fault::set_current(self.idx as u64, reqid);
        let unwinding = fault::Unwinding::arm();
        // SAFETY: the VH vouches for the signature (typed stubs or Args);
        // the frame holds the whole image (checked when it was received).
        let r = unsafe { self.caller.invoke(call, frame) };
        unwinding.disarm();
        fault::clear_current();
        fault::leave_if_forked();
        self.finished();
        let value = match r {
            Ok(v) => v,
            Err(e) => return self.reply(reqid, Status::Invalid, 0, &e),
        };
        let mut out = 0;
        for s in call.stack.iter().filter(|s| s.intent.copies_out()) {
            let src = frame as u64 + s.offset;
            if let Err(e) = self.send_bytes(reqid, out, src, s.len) {
                return self.reply(reqid, Status::Invalid, 0, &e);
            }
            out += s.len;
        }
        self.reply(reqid, Status::Ok, value, "");
    }
}

#[cfg(test)]
mod tests {
    use super::spins_idle;

    #[test]
    fn an_idle_worker_spins_only_while_few_workers_took_commands_since() {
        // Two CPUs: one idle spinner. Worker A took a command at activation
        // 5; while it is the latest, it may spin.
        assert!(spins_idle(5, 5, 1));
        // Worker B took one since: A sleeps instead of spinning.
        assert!(!spins_idle(6, 5, 1));
        // Eight CPUs: seven may spin, so A spins on until seven others
        // took commands after it.
        assert!(spins_idle(11, 5, 7));
        assert!(!spins_idle(12, 5, 7));
        // A worker before its first command (activation all ones) does not
        // spin: its first command may wake it.
        assert!(!spins_idle(0, u64::MAX, 1));
        assert!(!spins_idle(3, u64::MAX, 1));
    }
}
