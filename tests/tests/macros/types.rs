//! `#[ve_kernel]` end to end: every row of the type table
//! (docs/ARCHITECTURE.md, "The type table") through the generated stubs, against the C kernels of
//! `tests/kernels/macro_types.c`, both async (on a context) and sync (on the
//! proc).

use std::time::Duration;
use veo_runtime::{ve_kernel, Context, Proc, VePtr};

#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Pair {
    a: i32,
    b: i32,
    scale: f64,
}

type Real = f64;

#[ve_kernel(library = "tests")]
extern "C" {
    fn macro_echo_i8(x: i8) -> i8;
    fn macro_echo_u8(x: u8) -> u8;
    fn macro_echo_i16(x: i16) -> i16;
    fn macro_echo_u16(x: u16) -> u16;
    fn macro_echo_i32(x: i32) -> i32;
    fn macro_echo_u32(x: u32) -> u32;
    fn macro_echo_i64(x: i64) -> i64;
    fn macro_echo_u64(x: u64) -> u64;
    fn macro_echo_isize(x: isize) -> isize;
    fn macro_echo_usize(x: usize) -> usize;
    fn macro_echo_f32(x: f32) -> f32;
    fn macro_echo_f64(x: Real) -> Real;
    fn macro_mixed(
        a: i8,
        b: f32,
        c: u8,
        d: f64,
        e: i16,
        f: u16,
        g: i32,
        h: u32,
        i: i64,
        j: u64,
        k: isize,
        l: usize,
    ) -> f64;
    fn macro_nothing();
    fn macro_calls() -> i32;
    fn macro_sum_ptr(a: VePtr<f64>, n: i32) -> f64;
    fn macro_offset(a: VePtr<f64>, k: isize) -> VePtr<f64>;
    fn macro_sum_in(a: &[f64], n: usize) -> f64;
    fn macro_pair_in(p: &Pair) -> f64;
    fn macro_bump(x: &mut i64);
    fn macro_scale(x: &mut [f64], n: usize, f: f64) -> f64;
    fn macro_fill(#[out] x: &mut [f64], n: usize, v: f64);
    fn macro_make_pair(#[out] p: &mut Pair, a: i32, b: i32);
}

fn start() -> (Proc, Context) {
    let proc = Proc::new(0).expect("start the helper");
    let ctx = proc.open_context().expect("open a context");
    (proc, ctx)
}

/// Each scalar goes out and comes back unchanged, including the extremes
/// that show sign and zero extension, both async and sync.
#[test]
fn scalars_in_registers() {
    let (proc, ctx) = start();
    macro_rules! echo {
        ($async:ident, $sync:ident: $($v:expr),*) => {$(
            assert_eq!($async(&ctx, $v).unwrap().wait().unwrap(), $v, stringify!($async));
            assert_eq!($sync(&proc, $v).unwrap(), $v, stringify!($sync));
        )*};
    }
    echo!(macro_echo_i8, macro_echo_i8_sync: i8::MIN, -1, 0, i8::MAX);
    echo!(macro_echo_u8, macro_echo_u8_sync: 0, 0x80, u8::MAX);
    echo!(macro_echo_i16, macro_echo_i16_sync: i16::MIN, -1, i16::MAX);
    echo!(macro_echo_u16, macro_echo_u16_sync: 0x8000, u16::MAX);
    echo!(macro_echo_i32, macro_echo_i32_sync: i32::MIN, -1, i32::MAX);
    echo!(macro_echo_u32, macro_echo_u32_sync: 0x8000_0000, u32::MAX);
    echo!(macro_echo_i64, macro_echo_i64_sync: i64::MIN, -1, i64::MAX);
    echo!(macro_echo_u64, macro_echo_u64_sync: 1 << 63, u64::MAX);
    echo!(macro_echo_isize, macro_echo_isize_sync: isize::MIN, -1, isize::MAX);
    echo!(macro_echo_usize, macro_echo_usize_sync: 1 << 63, usize::MAX);
    echo!(macro_echo_f32, macro_echo_f32_sync: -0.5, f32::MAX, f32::MIN_POSITIVE);
    echo!(macro_echo_f64, macro_echo_f64_sync: -0.25, f64::MAX, 1e-300);
    assert!(macro_echo_f64_sync(&proc, f64::NAN).unwrap().is_nan());
}

/// Integers and floats interleaved in one call land in the right places.
#[test]
fn mixed_classes_in_one_call() {
    let (proc, ctx) = start();
    let args = (
        -1i8, 2.5f32, 3u8, -4.25f64, -5i16, 6u16, -7i32, 8u32, -9i64, 10u64, -11isize, 12usize,
    );
    let expect = -1.0
        + 2.5 * 2.0
        + 3.0 * 3.0
        + -4.25 * 4.0
        + -5.0 * 5.0
        + 6.0 * 6.0
        + -7.0 * 7.0
        + 8.0 * 8.0
        + -9.0 * 9.0
        + 10.0 * 10.0
        + -11.0 * 11.0
        + 12.0 * 12.0;
    let (a, b, c, d, e, f, g, h, i, j, k, l) = args;
    let got = macro_mixed(&ctx, a, b, c, d, e, f, g, h, i, j, k, l)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(got, expect);
    let got = macro_mixed_sync(&proc, a, b, c, d, e, f, g, h, i, j, k, l).unwrap();
    assert_eq!(got, expect);
}

/// `()` in and out: the kernel runs (its side effect is seen by the next).
#[test]
fn no_arguments_no_result() {
    let (proc, ctx) = start();
    let () = macro_nothing(&ctx).unwrap().wait().unwrap();
    let () = macro_nothing_sync(&proc).unwrap();
    macro_nothing(&ctx).unwrap().wait().unwrap();
    assert_eq!(macro_calls(&ctx).unwrap().wait().unwrap(), 3);
}

/// `VePtr<T>` in a register, and a `VePtr<T>` result.
#[test]
fn ve_pointers() {
    let (proc, ctx) = start();
    let host: Vec<f64> = (1..=10).map(f64::from).collect();
    let buf = proc.alloc::<f64>(host.len()).unwrap();
    proc.write(&buf, &host).unwrap();
    let sum = macro_sum_ptr(&ctx, buf.as_ptr(), 10)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(sum, 55.0);
    let third = macro_offset_sync(&proc, buf.as_ptr(), 2).unwrap();
    assert_eq!(third, buf.as_ptr().add(2));
    assert_eq!(macro_sum_ptr_sync(&proc, third, 8).unwrap(), 55.0 - 3.0);
}

/// Register-only stubs one after another, their values, classes and counts
/// changing: each call answers for its own arguments (on AVEO the proc
/// keeps one `veo_args` and sets anew only the positions that changed),
/// with many requests pending at once, sync and async mixed, a stack
/// argument in between, and after requests dropped unfinished.
#[test]
fn register_arguments_change_between_calls() {
    let (proc, ctx) = start();
    let host: Vec<f64> = (1..=10).map(f64::from).collect();
    let buf = proc.alloc::<f64>(host.len()).unwrap();
    proc.write(&buf, &host).unwrap();
    let base = buf.as_ptr();

    // One position, a new value each call, fifty pending at once.
    let pending: Vec<_> = (0..50i64)
        .map(|i| macro_echo_i64(&ctx, i * 3 - 7).unwrap())
        .collect();
    for (i, r) in (0i64..).zip(pending) {
        assert_eq!(r.wait().unwrap(), i * 3 - 7);
    }
    // The same value again, sync and async.
    assert_eq!(macro_echo_i64_sync(&proc, 5).unwrap(), 5);
    assert_eq!(macro_echo_i64(&ctx, 5).unwrap().wait().unwrap(), 5);
    // The same bits in another class: 1.0f32 is 0x3f80_0000.
    assert_eq!(
        macro_echo_i32(&ctx, 0x3f80_0000).unwrap().wait().unwrap(),
        0x3f80_0000
    );
    assert_eq!(macro_echo_f32(&ctx, 1.0).unwrap().wait().unwrap(), 1.0);
    assert_eq!(
        macro_echo_u32_sync(&proc, 0x3f80_0000).unwrap(),
        0x3f80_0000
    );

    // Two positions, one changing at a time, then the other's class.
    assert_eq!(macro_sum_ptr(&ctx, base, 10).unwrap().wait().unwrap(), 55.0);
    assert_eq!(macro_sum_ptr(&ctx, base, 4).unwrap().wait().unwrap(), 10.0);
    assert_eq!(macro_sum_ptr_sync(&proc, base.add(2), 4).unwrap(), 18.0);
    assert_eq!(macro_offset_sync(&proc, base, 4).unwrap(), base.add(4));
    assert_eq!(macro_sum_ptr_sync(&proc, base.add(4), 4).unwrap(), 26.0);

    // More positions than fit a register list's memory, then one.
    let mixed = |l: usize| {
        macro_mixed(&ctx, 1, 0.0, 0, 0.0, 0, 0, 0, 0, 0, 0, 0, l)
            .unwrap()
            .wait()
            .unwrap()
    };
    assert_eq!(mixed(1), 1.0 + 12.0);
    assert_eq!(mixed(2), 1.0 + 24.0);
    assert_eq!(macro_echo_i64(&ctx, -3).unwrap().wait().unwrap(), -3);

    // A stack argument in between, then registers again.
    assert_eq!(macro_sum_in_sync(&proc, &host, 10).unwrap(), 55.0);
    assert_eq!(
        macro_sum_in(&ctx, &host[..2], 2).unwrap().wait().unwrap(),
        3.0
    );
    assert_eq!(macro_sum_ptr(&ctx, base, 3).unwrap().wait().unwrap(), 6.0);
    assert_eq!(macro_echo_i64_sync(&proc, 9).unwrap(), 9);

    // Requests dropped unfinished, then new calls: each answers its own.
    for i in 0..20i64 {
        drop(macro_echo_i64(&ctx, i).unwrap());
    }
    for i in 0..20i64 {
        assert_eq!(
            macro_echo_i64(&ctx, 100 + i).unwrap().wait().unwrap(),
            100 + i
        );
    }
    assert_eq!(macro_echo_i64_sync(&proc, -100).unwrap(), -100);
    ctx.sync().unwrap();
    assert_eq!(macro_echo_u64(&ctx, 7).unwrap().wait().unwrap(), 7);
}

/// `&[T]` and `&T` (a Pod struct): IN, copied at submission, so the caller
/// may change its data while the request is pending.
#[test]
fn in_buffers() {
    let (proc, ctx) = start();
    let mut data: Vec<f64> = (0..1000).map(|i| i as f64).collect();
    let request = macro_sum_in(&ctx, &data, data.len()).unwrap();
    data.iter_mut().for_each(|x| *x = -1.0);
    assert_eq!(request.wait().unwrap(), 499_500.0);
    assert_eq!(macro_sum_in_sync(&proc, &data[..10], 10).unwrap(), -10.0);

    let pair = Pair {
        a: 3,
        b: 4,
        scale: 1.5,
    };
    assert_eq!(macro_pair_in(&ctx, &pair).unwrap().wait().unwrap(), 10.5);
    assert_eq!(macro_pair_in_sync(&proc, &pair).unwrap(), 10.5);
}

/// `&mut T`, `&mut [T]`: INOUT, the data goes in and comes back.
#[test]
fn inout_buffers() {
    let (proc, ctx) = start();
    let mut x = 41i64;
    macro_bump(&ctx, &mut x).unwrap().wait().unwrap();
    assert_eq!(x, 42);
    macro_bump_sync(&proc, &mut x).unwrap();
    assert_eq!(x, 43);

    let mut v = vec![1.0, 2.0, 3.0, 4.0];
    let seen = macro_scale(&ctx, &mut v, 4, 2.0).unwrap().wait().unwrap();
    assert_eq!((seen, &v[..]), (10.0, &[2.0, 4.0, 6.0, 8.0][..]));
    let seen = macro_scale_sync(&proc, &mut v[2..], 2, 0.5).unwrap();
    assert_eq!((seen, &v[..]), (14.0, &[2.0, 4.0, 3.0, 4.0][..]));
}

/// `#[out] &mut [T]`, `#[out] &mut T`: OUT, filled by the kernel.
#[test]
fn out_buffers() {
    let (proc, ctx) = start();
    let mut x = vec![f64::NAN; 5];
    macro_fill(&ctx, &mut x, 5, 10.0).unwrap().wait().unwrap();
    assert_eq!(x, [10.0, 11.0, 12.0, 13.0, 14.0]);
    macro_fill_sync(&proc, &mut x[..2], 2, -1.0).unwrap();
    assert_eq!(x, [-1.0, 0.0, 12.0, 13.0, 14.0]);

    let mut p = Pair {
        a: 0,
        b: 0,
        scale: 0.0,
    };
    macro_make_pair(&ctx, &mut p, 5, 6).unwrap().wait().unwrap();
    assert_eq!(
        p,
        Pair {
            a: 5,
            b: 6,
            scale: 0.5
        }
    );
    let mut q = Pair {
        a: 0,
        b: 0,
        scale: 0.0,
    };
    macro_make_pair_sync(&proc, &mut q, 7, 8).unwrap();
    assert_eq!(
        q,
        Pair {
            a: 7,
            b: 8,
            scale: 0.5
        }
    );
}

/// Results come back through `peek` as well as `wait`.
#[test]
fn peek_until_done() {
    let (_proc, ctx) = start();
    let mut x = vec![0.0; 3];
    let mut request = macro_fill(&ctx, &mut x, 3, 1.0).unwrap();
    veo_tests::poll_until("the request's completion", Duration::from_secs(30), || {
        request.peek().unwrap()
    });
    drop(request);
    assert_eq!(x, [1.0, 2.0, 3.0]);
}

/// A forgotten request never writes into its OUT/INOUT buffers, even after
/// the kernel has run (docs/ARCHITECTURE.md, "Invariants": data lands in
/// borrowed buffers only inside `wait` or `peek`).
#[test]
fn forgetting_a_request_never_writes_into_its_buffers() {
    let (_proc, ctx) = start();
    let mut out = vec![7.0f64; 4];
    let mut inout = vec![1.0f64; 4];
    std::mem::forget(macro_fill(&ctx, &mut out, 4, 100.0).unwrap());
    std::mem::forget(macro_scale(&ctx, &mut inout, 4, 3.0).unwrap());
    // Requests on a context run in order: once this one is done, the two
    // forgotten kernels have run and their results have arrived.
    assert_eq!(
        macro_sum_in(&ctx, &[1.0, 2.0], 2).unwrap().wait().unwrap(),
        3.0
    );
    ctx.sync().unwrap();
    assert_eq!(out, [7.0; 4]);
    assert_eq!(inout, [1.0; 4]);
}

/// Both kinds of stub, arguments in registers only (no `Args` built) and
/// with a buffer, answer a proc that is closed under a context, or whose
/// helper was killed, with an error: no panic, no hang.
#[test]
fn stubs_on_a_closed_or_dead_proc_are_errors() {
    use veo_runtime::{Closable, Error};
    let (proc, ctx) = start();
    assert_eq!(macro_echo_i32(&ctx, 5).unwrap().wait().unwrap(), 5);
    proc.close();
    for e in [
        macro_echo_i32(&ctx, 6).err(),
        macro_sum_in(&ctx, &[1.0], 1).err(),
    ] {
        assert!(matches!(e, Some(Error::Closed(Closable::Proc))), "{e:?}");
    }

    let (proc, ctx) = start();
    assert_eq!(macro_echo_i32_sync(&proc, 7).unwrap(), 7);
    // The helper's death, where this test knows the helper: the emulated
    // VE's (the contract program runs the suite on the AVEO backend).
    if proc.backend() != veo_runtime::Backend::Emulated || proc.pid() == 0 {
        return;
    }
    // SAFETY: kill(2) on the helper this test started, which nothing
    // else uses.
    unsafe { libc::kill(proc.pid() as i32, libc::SIGKILL) };
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        // Submitted before the death is seen, a call fails in its wait.
        let async_reg = macro_echo_i32(&ctx, 8).and_then(|r| r.wait());
        let async_buf = macro_sum_in(&ctx, &[1.0], 1).and_then(|r| r.wait());
        let sync_reg = macro_echo_i32_sync(&proc, 9);
        for r in [&async_reg, &sync_reg] {
            assert!(r.is_err(), "a call after the helper was killed: {r:?}");
        }
        assert!(async_buf.is_err(), "{async_buf:?}");
        if matches!(sync_reg, Err(Error::HelperDied { .. })) {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "death not seen: {sync_reg:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The stubs load their library once per proc, on first use, and look each
/// symbol up once: the proc lists one library for any number of calls, on
/// any number of contexts, with each called kernel cached once.
#[test]
fn library_loaded_once_and_symbols_cached() {
    let (proc, ctx) = start();
    let tests_lib = env!("VEO_LIB_tests");
    let loaded = |proc: &Proc| {
        proc.libraries()
            .into_iter()
            .filter(|l| l.name() == tests_lib)
            .collect::<Vec<_>>()
    };
    assert!(loaded(&proc).is_empty(), "loaded before any call");
    let other = proc.open_context().unwrap();
    for _ in 0..3 {
        macro_echo_i32(&ctx, 1).unwrap().wait().unwrap();
        macro_echo_i32(&other, 2).unwrap().wait().unwrap();
        macro_echo_i32_sync(&proc, 3).unwrap();
        macro_nothing_sync(&proc).unwrap();
    }
    let libs = loaded(&proc);
    assert_eq!(libs.len(), 1, "{:?}", proc.libraries());
    let mut symbols = libs[0].cached_symbols();
    symbols.sort();
    assert_eq!(symbols, ["macro_echo_i32", "macro_nothing"]);
}
