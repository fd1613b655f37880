//! Shared helpers of the integration tests: the kernel libraries, a proc
//! ready to call them ([`Ve`]), test patterns, waiting until a deadline
//! ([`eventually`], `src/poll.rs`) and re-running one test in a child process
//! ([`run_child`], `src/child.rs`).

mod child;
mod poll;

pub use child::{child, is_child, run_child, test_path, write_program};
pub use poll::{eventually, poll_for, poll_until, Backoff};

use std::time::Duration;
use veo_runtime::{Context, Function, Library, Proc};

/// The path of the kernel library built by this package's build script.
pub const KERNELS: &str = env!("VEO_LIB_tests");

/// A second, small library (tests/kernels/core_reload/), for unloading and
/// reloading and for lookups across several libraries.
pub const RELOAD_KERNELS: &str = env!("VEO_LIB_core_reload");

/// A generous bound for things that must happen, so that a broken runtime
/// fails a test instead of hanging it. Never a performance assertion.
pub const PATIENCE: Duration = Duration::from_secs(8);

/// A proc with one context and the test kernels loaded: what most tests need.
pub struct Ve {
    /// The proc (one helper process).
    pub proc: Proc,
    /// An open context on it.
    pub ctx: Context,
    /// The kernel library, loaded.
    pub lib: Library,
    /// On AVEO, the proc's first context (AVEO's main one), kept so that
    /// `ctx` is another: the proc's synchronous functions run on the main
    /// context's queue, as the emulated VE's run on a channel of their own.
    pub main: Option<Context>,
}

impl Ve {
    /// Starts a proc on node 0, opens a context and loads [`KERNELS`].
    pub fn new() -> Ve {
        let proc = Proc::new(0).expect("cannot start a proc");
        let main = is_aveo(&proc).then(|| proc.open_context().expect("cannot open a context"));
        let ctx = proc.open_context().expect("cannot open a context");
        let lib = proc
            .load_library(KERNELS)
            .expect("cannot load the test kernels");
        Ve {
            proc,
            ctx,
            lib,
            main,
        }
    }

    /// The kernel `name` of the test library.
    pub fn f(&self, name: &str) -> Function {
        self.lib
            .function(name)
            .unwrap_or_else(|e| panic!("kernel {name}: {e}"))
    }
}

impl Default for Ve {
    fn default() -> Self {
        Ve::new()
    }
}

/// Whether `proc` runs on the AVEO backend (`tests/tests/contract.rs` runs
/// the core and `#[ve_kernel]` tests so, with the workspace's libveo.so).
pub fn is_aveo(proc: &Proc) -> bool {
    matches!(proc.backend(), veo_runtime::Backend::Aveo { .. })
}

/// [`is_aveo`], saying on stderr that `what` (something only the emulated
/// VE has) is skipped there.
pub fn on_aveo(proc: &Proc, what: &str) -> bool {
    let aveo = is_aveo(proc);
    if aveo {
        eprintln!("on AVEO, skipped: {what} (the emulated VE's)");
    }
    aveo
}

/// Whether procs start on AVEO here (`VEO_BACKEND=aveo`), saying on stderr
/// that `what` is skipped: for tests of what only the emulated VE's
/// builder settings do, before any proc exists.
pub fn aveo_selected(what: &str) -> bool {
    let aveo = std::env::var("VEO_BACKEND").is_ok_and(|v| v.trim() == "aveo");
    if aveo {
        eprintln!("on AVEO, skipped: {what} (the emulated VE's)");
    }
    aveo
}

/// Word `i` of the test pattern with `seed` (splitmix64): every word differs,
/// so a piece of a transfer landing at the wrong offset is caught. The
/// kernels in `core_memory.c` compute the same words.
pub fn pattern_word(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `n` words of the pattern.
pub fn pattern_words(seed: u64, n: usize) -> Vec<u64> {
    (0..n as u64).map(|i| pattern_word(seed, i)).collect()
}

/// `n` bytes of the pattern: the little-endian bytes of its words.
pub fn pattern_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut v: Vec<u8> = pattern_words(seed, n.div_ceil(8))
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    v.truncate(n);
    v
}

/// The index of the first element where `a` and `b` differ (or the shorter
/// length), for assertion messages that do not print megabytes.
pub fn first_difference<T: PartialEq>(a: &[T], b: &[T]) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Asserts that two big buffers are equal, naming the first difference.
#[track_caller]
pub fn assert_same<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], what: &str) {
    if got == want {
        return;
    }
    if let Some(i) = first_difference(got, want) {
        panic!(
            "{what}: first difference at element {i} of {} (got {:?}, want {:?})",
            want.len(),
            got.get(i),
            want.get(i)
        );
    }
}
