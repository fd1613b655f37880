//! The baselines measured in the same run as veo-rs:
//!
//! - [`Floor`]: a raw shared-memory ping-pong between two processes, each
//!   spinning on an atomic in a shared mapping. No runtime, no messages, no
//!   kernel call: the least a cross-process round trip costs on this machine.
//! - [`UdsServer`]: what a user would write without veo-rs: a child process
//!   that `dlopen`s the same kernel library and answers each request on a
//!   Unix-domain socket by calling the same kernel.
//! - [`MemcpyBufs`]: `memcpy` between two host buffers of the same size.
//!
//! Both children are forked, so they must be started while the benchmark is
//! still single-threaded (before the first `Proc`); they die with it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Forks; the child runs `child` and exits without returning.
///
/// # Panics
/// If the process already has more than one thread (fork would copy a
/// process whose other threads may hold locks).
fn fork_child(child: impl FnOnce() -> i32) -> libc::pid_t {
    assert_eq!(
        super::own_threads(),
        1,
        "baseline children must be forked before any thread starts"
    );
    // SAFETY: the process is single-threaded (checked above), so the child
    // may use everything the parent could.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: prctl/getppid only affect this process. The child dies
        // with the benchmark, even if the benchmark is killed.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() == 1 {
                libc::_exit(0);
            }
        }
        let code = child();
        // SAFETY: leaving the forked child without running the parent's
        // atexit handlers or flushing its copied stdio buffers.
        unsafe { libc::_exit(code) }
    }
    pid
}

fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: our own child; waitpid writes only `status`.
    unsafe { libc::waitpid(pid, &mut status, 0) };
}

/// Two cache lines in a shared anonymous mapping.
#[repr(C, align(128))]
struct PingPong {
    ping: AtomicU64,
    _pad: [u64; 15],
    pong: AtomicU64,
}

/// The floor: a two-process ping-pong on shared atomics.
pub struct Floor {
    pid: libc::pid_t,
    shared: *mut PingPong,
    /// Tells the child how many round trips follow; closed to end it.
    control: UnixStream,
    seq: u64,
}

impl Floor {
    /// Forks the echoing child. Call while single-threaded.
    pub fn start() -> Floor {
        let size = std::mem::size_of::<PingPong>();
        // SAFETY: a fresh shared anonymous mapping; zero bytes are valid
        // atomics. It is unmapped in Drop.
        let shared = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(shared != libc::MAP_FAILED, "mmap failed");
        let shared = shared.cast::<PingPong>();
        let (control, mut theirs) = UnixStream::pair().expect("socketpair");
        let pid = fork_child(move || {
            // SAFETY: the mapping is inherited and stays mapped in the child.
            let pp = unsafe { &*shared };
            let mut seq = 0u64;
            let mut word = [0u8; 8];
            // Idle between runs: blocked in read, no CPU.
            while theirs.read_exact(&mut word).is_ok() {
                let n = u64::from_le_bytes(word);
                for _ in 0..n {
                    seq += 1;
                    while pp.ping.load(Ordering::Acquire) != seq {
                        std::hint::spin_loop();
                    }
                    pp.pong.store(seq, Ordering::Release);
                }
            }
            0
        });
        Floor {
            pid,
            shared,
            control,
            seq: 0,
        }
    }

    /// Microseconds per round trip over `n` round trips (after a warm-up that
    /// lets the child wake up and start spinning).
    pub fn rtt_us(&mut self, n: u64) -> f64 {
        let warm = 2000;
        self.control
            .write_all(&(warm + n).to_le_bytes())
            .expect("the floor child is gone");
        // SAFETY: mapped until Drop.
        let pp = unsafe { &*self.shared };
        let round = |seq: u64| {
            pp.ping.store(seq, Ordering::Release);
            while pp.pong.load(Ordering::Acquire) != seq {
                std::hint::spin_loop();
            }
        };
        for _ in 0..warm {
            self.seq += 1;
            round(self.seq);
        }
        let t = Instant::now();
        for _ in 0..n {
            self.seq += 1;
            round(self.seq);
        }
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.control.shutdown(std::net::Shutdown::Both);
        reap(self.pid);
        // SAFETY: our mapping, no longer used by anyone.
        unsafe { libc::munmap(self.shared.cast(), std::mem::size_of::<PingPong>()) };
    }
}

/// The Unix-domain-socket baseline: one blocking request/response per call.
pub struct UdsServer {
    pid: libc::pid_t,
    sock: UnixStream,
}

impl UdsServer {
    /// Forks a child that loads `library` and answers each 8-byte request `x`
    /// with `symbol(x)` (an `int64_t (*)(int64_t)`). Call while single-threaded.
    pub fn start(library: &str, symbol: &str) -> UdsServer {
        let (sock, mut theirs) = UnixStream::pair().expect("socketpair");
        let (library, symbol) = (library.to_string(), symbol.to_string());
        let pid = fork_child(move || {
            // SAFETY: loading a kernel library built by this package; its
            // initialisers are plain C.
            let lib = match unsafe { libloading::Library::new(&library) } {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("uds baseline: cannot load {library}: {e}");
                    return 1;
                }
            };
            // SAFETY: the kernel is `int64_t noop(int64_t)` (kernels/bench.c).
            let f = match unsafe { lib.get::<unsafe extern "C" fn(i64) -> i64>(symbol.as_bytes()) }
            {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("uds baseline: no {symbol} in {library}: {e}");
                    return 1;
                }
            };
            let mut word = [0u8; 8];
            while theirs.read_exact(&mut word).is_ok() {
                // SAFETY: the signature above.
                let r = unsafe { f(i64::from_le_bytes(word)) };
                if theirs.write_all(&r.to_le_bytes()).is_err() {
                    break;
                }
            }
            0
        });
        UdsServer { pid, sock }
    }

    /// One call: send `x`, wait for the kernel's answer.
    pub fn call(&mut self, x: i64) -> std::io::Result<i64> {
        self.sock.write_all(&x.to_le_bytes())?;
        let mut word = [0u8; 8];
        self.sock.read_exact(&mut word)?;
        Ok(i64::from_le_bytes(word))
    }

    /// Microseconds per call over `n` calls (after a short warm-up).
    pub fn call_us(&mut self, n: u64) -> std::io::Result<f64> {
        for i in 0..100 {
            assert_eq!(self.call(i)?, i);
        }
        let t = Instant::now();
        for i in 0..n as i64 {
            let r = self.call(i)?;
            debug_assert_eq!(r, i);
        }
        Ok(t.elapsed().as_secs_f64() * 1e6 / n as f64)
    }
}

impl Drop for UdsServer {
    fn drop(&mut self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        reap(self.pid);
    }
}

/// A host buffer that starts on a page boundary, so that a slice at
/// offset `k` lies exactly `k` bytes past a page.
pub struct PageBuf {
    buf: Vec<u8>,
    start: usize,
}

impl PageBuf {
    /// Room for `len` bytes at any offset below 4096, filled with `fill(i)`
    /// (every page touched).
    pub fn new(len: usize, fill: impl Fn(usize) -> u8) -> PageBuf {
        let buf: Vec<u8> = (0..len + 2 * 4096).map(fill).collect();
        let start = buf.as_ptr().align_offset(4096);
        PageBuf { buf, start }
    }

    /// `len` bytes, `offset` bytes past the first page boundary.
    pub fn at(&self, offset: usize, len: usize) -> &[u8] {
        &self.buf[self.start + offset..self.start + offset + len]
    }

    /// As [`at`](PageBuf::at), mutable.
    pub fn at_mut(&mut self, offset: usize, len: usize) -> &mut [u8] {
        &mut self.buf[self.start + offset..self.start + offset + len]
    }
}

/// Which way a `memcpy` baseline copies, named after the transfer it
/// stands beside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the host buffer at an offset into a page-aligned buffer (like
    /// a write into VE memory).
    Write,
    /// From a page-aligned buffer into the host buffer at an offset (like a
    /// read from VE memory into a heap `Vec`).
    Read,
}

/// Host buffers for the `memcpy` baseline, touched so that no page fault is
/// measured: a page-aligned one standing for VE memory, and one whose
/// slices start at any page offset standing for the user's buffer.
pub struct MemcpyBufs {
    aligned: PageBuf,
    host: PageBuf,
}

impl MemcpyBufs {
    /// Buffers of `max` bytes (at any offset below 4096).
    pub fn new(max: usize) -> MemcpyBufs {
        MemcpyBufs {
            aligned: PageBuf::new(max, |i| i as u8),
            host: PageBuf::new(max, |i| (i * 3) as u8),
        }
    }

    /// GB/s of glibc's `memcpy` (`copy_from_slice`) of `size` bytes, with
    /// the host side `offset` bytes past a page, repeated for at least
    /// `min_time`.
    pub fn gbs(&mut self, size: usize, offset: usize, dir: Direction, min_time: Duration) -> f64 {
        let (a, h) = (&mut self.aligned, &mut self.host);
        let per = super::per_iteration(min_time, |iters| {
            for _ in 0..iters {
                match dir {
                    Direction::Write => std::hint::black_box(a.at_mut(0, size))
                        .copy_from_slice(std::hint::black_box(h.at(offset, size))),
                    Direction::Read => std::hint::black_box(h.at_mut(offset, size))
                        .copy_from_slice(std::hint::black_box(a.at(0, size))),
                }
            }
            Ok::<(), ()>(())
        })
        .unwrap_or(f64::NAN);
        size as f64 / per / 1e9
    }
}
