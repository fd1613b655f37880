//! Dynamic calls (`Args`): every integer width at its extremes with sign and
//! zero extension checked in the kernel, f32/f64 alone and mixed with
//! integers, every return class, and 0, 1, 8, 9, 32, 256 and 257 arguments.
//! Kernels: tests/kernels/core_args.c.

use veo_runtime::{Args, Error, KernelRet, MAX_ARGS};
use veo_tests::Ve;

/// Calls `name` with `args` on the test context and waits.
fn call<R: KernelRet>(ve: &Ve, name: &str, args: Args<'_>) -> R {
    let f = ve.f(name);
    ve.ctx
        .call::<R>(&f, args)
        .unwrap_or_else(|e| panic!("{name}: submit: {e}"))
        .wait()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// For one integer width: the kernel sees each extreme exactly (compared
/// with the value widened to 64 bits on the VH), widens it the same way, and
/// echoes it back; its own extremes come back decoded.
macro_rules! width_test {
    ($test:ident, $t:ty, $c:literal, $wide:ty, $setter:ident) => {
        #[test]
        fn $test() {
            let ve = Ve::new();
            let values: [$t; 6] = [<$t>::MIN, <$t>::MAX, 0, 1, <$t>::MAX - 1, <$t>::MIN + 1];
            // Bit patterns that expose a wrong extension: all ones, the top
            // bit alone, everything below the top bit.
            let bits = [
                !0 as $t,
                (1 as $t).rotate_right(1),
                !(1 as $t).rotate_right(1),
            ];
            for x in values.into_iter().chain(bits) {
                let want = x as $wide;
                let mut a = Args::new();
                a.$setter(x).push(want);
                let seen: i32 = call(&ve, concat!("core_see_", $c), a);
                assert_eq!(seen, 1, "the kernel did not see {x} as {}", stringify!($t));

                let mut a = Args::new();
                a.$setter(x);
                let widened: $wide = call(&ve, concat!("core_widen_", $c), a);
                assert_eq!(
                    widened,
                    want,
                    "{} {x} widened in the kernel",
                    stringify!($t)
                );

                let mut a = Args::new();
                a.$setter(x);
                let echo: $t = call(&ve, concat!("core_echo_", $c), a);
                assert_eq!(echo, x, "{} {x} echoed", stringify!($t));
            }
            let ext = |which: i32| -> $t {
                let mut a = Args::new();
                a.i32(which);
                call(&ve, concat!("core_ext_", $c), a)
            };
            assert_eq!(ext(0), <$t>::MIN, "minimum returned");
            assert_eq!(ext(1), <$t>::MAX, "maximum returned");
            assert_eq!(ext(2), !0 as $t, "all bits returned");
            assert_eq!(ext(3), 0, "zero returned");
        }
    };
}

width_test!(i8_extremes, i8, "int8", i64, i8);
width_test!(u8_extremes, u8, "uint8", u64, u8);
width_test!(i16_extremes, i16, "int16", i64, i16);
width_test!(u16_extremes, u16, "uint16", u64, u16);
width_test!(i32_extremes, i32, "int32", i64, i32);
width_test!(u32_extremes, u32, "uint32", u64, u32);
width_test!(i64_extremes, i64, "int64", i64, i64);
width_test!(u64_extremes, u64, "uint64", u64, u64);

#[test]
fn signed_and_unsigned_of_the_same_bits() {
    let ve = Ve::new();
    let mut a = Args::new();
    a.i8(-1).u8(u8::MAX);
    assert_eq!(call::<i32>(&ve, "core_both_8", a), 1);
    let mut a = Args::new();
    a.i16(-1).u16(u16::MAX);
    assert_eq!(call::<i32>(&ve, "core_both_16", a), 1);
    let mut a = Args::new();
    a.i32(-1).u32(u32::MAX);
    assert_eq!(call::<i32>(&ve, "core_both_32", a), 1);
    // The generic push takes the class from the Rust type.
    let mut a = Args::new();
    a.push(-1i8).push(u8::MAX);
    assert_eq!(call::<i32>(&ve, "core_both_8", a), 1);
    // isize and usize are C's long and unsigned long.
    for x in [isize::MIN, -1, isize::MAX] {
        let mut a = Args::new();
        a.push(x).push(x as i64);
        assert_eq!(call::<i32>(&ve, "core_see_int64", a), 1, "isize {x}");
        let mut a = Args::new();
        a.push(x);
        assert_eq!(call::<isize>(&ve, "core_echo_int64", a), x);
    }
    for x in [0usize, usize::MAX] {
        let mut a = Args::new();
        a.push(x).push(x as u64);
        assert_eq!(call::<i32>(&ve, "core_see_uint64", a), 1, "usize {x}");
        let mut a = Args::new();
        a.push(x);
        assert_eq!(call::<usize>(&ve, "core_echo_uint64", a), x);
    }
}

#[test]
fn floats_alone() {
    let ve = Ve::new();
    let f32s = [
        0.0f32,
        -0.0,
        1.5,
        -3.25,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        f32::EPSILON,
        1.0e-45, // subnormal
    ];
    for x in f32s {
        let mut a = Args::new();
        a.f32(x).f32(x);
        assert_eq!(call::<i32>(&ve, "core_see_f32", a), 1, "f32 {x} seen");
        let mut a = Args::new();
        a.f32(x);
        let back: f32 = call(&ve, "core_echo_f32", a);
        assert_eq!(back.to_bits(), x.to_bits(), "f32 {x} echoed bit for bit");
        let mut a = Args::new();
        a.f32(x);
        assert_eq!(
            call::<f64>(&ve, "core_f32_to_f64", a),
            x as f64,
            "f32 {x} widened"
        );
    }
    let f64s = [
        0.0f64,
        -0.0,
        0.1,
        -2.5e-300,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324, // subnormal
        std::f64::consts::PI,
    ];
    for x in f64s {
        let mut a = Args::new();
        a.f64(x).f64(x);
        assert_eq!(call::<i32>(&ve, "core_see_f64", a), 1, "f64 {x} seen");
        let mut a = Args::new();
        a.f64(x);
        let back: f64 = call(&ve, "core_echo_f64", a);
        assert_eq!(back.to_bits(), x.to_bits(), "f64 {x} echoed bit for bit");
    }
    // Infinities and NaN travel bit for bit too.
    for x in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
        let mut a = Args::new();
        a.f64(x);
        let back: f64 = call(&ve, "core_echo_f64", a);
        assert_eq!(back.to_bits(), x.to_bits());
    }
    let mut a = Args::new();
    a.f32(f32::NAN);
    assert!(call::<f32>(&ve, "core_echo_f32", a).is_nan());
}

#[test]
fn floats_mixed_with_integers_and_every_return_class() {
    let ve = Ve::new();
    // f32 result from int, float, int.
    let mut a = Args::new();
    a.i32(-3).f32(2.5).u8(200);
    assert_eq!(call::<f32>(&ve, "core_scale_f32", a), -7.5 + 200.0);
    // f64 result from integers only.
    let mut a = Args::new();
    a.i64(1).i64(4);
    assert_eq!(call::<f64>(&ve, "core_ratio", a), 0.25);
    // Integer result from floats only.
    let mut a = Args::new();
    a.f32(1.9).f64(-20.7).f32(300.2);
    assert_eq!(call::<i64>(&ve, "core_trunc_sum", a), 1 - 20 + 300);

    // Twenty arguments, the classes interleaved beyond the registers of both.
    let mut a = Args::new();
    a.i8(-100)
        .f32(1.5)
        .u64(u64::MAX - 3)
        .f64(-2.25)
        .i16(i16::MIN + 7)
        .f32(-0.125)
        .u32(4_000_000_000)
        .f64(1e300)
        .i32(i32::MIN)
        .f32(3.0e38)
        .i64(i64::MIN + 1)
        .f64(-1e-300)
        .u8(200)
        .f32(65504.0)
        .u16(50000)
        .f64(0.5)
        .i8(127)
        .f32(-7.75)
        .f64(123456789.0)
        .i64(-42);
    assert_eq!(a.len(), 20);
    assert_eq!(
        call::<i32>(&ve, "core_mixed", a),
        0,
        "core_mixed: the argument at this 1-based position was wrong"
    );
}

#[test]
fn zero_and_one_argument() {
    let ve = Ve::new();
    assert!(Args::new().is_empty());
    assert_eq!(call::<i64>(&ve, "core_zero", Args::new()), 0x5eed);
    let before: i64 = call(&ve, "core_zero_calls", Args::new());
    let () = call(&ve, "core_zero_void", Args::new());
    let () = call(&ve, "core_zero_void", Args::new());
    let after: i64 = call(&ve, "core_zero_calls", Args::new());
    assert_eq!(
        after - before,
        2,
        "a void kernel with no arguments ran twice"
    );

    for x in [0i64, -1, i64::MIN, i64::MAX, 0x0123_4567_89ab_cdef] {
        let mut a = Args::new();
        a.i64(x);
        assert_eq!(a.len(), 1);
        assert_eq!(call::<i64>(&ve, "core_one", a), x ^ 0x0123_4567_89ab_cdef);
    }
}

#[test]
fn eight_and_nine_arguments() {
    let ve = Ve::new();
    let mut a = Args::new();
    for k in 1..=8i64 {
        a.i64(k * -1_000_001);
    }
    assert_eq!(call::<i32>(&ve, "core_eight", a), 0);

    let mut a = Args::new();
    for k in 1..=8 {
        a.f64(k as f64 + 0.5);
    }
    assert_eq!(call::<i32>(&ve, "core_eight_f64", a), 0);

    let mut a = Args::new();
    for k in 1..=9i64 {
        a.i64(k * -1_000_001);
    }
    assert_eq!(call::<i32>(&ve, "core_nine_i64", a), 0);

    let mut a = Args::new();
    a.i8(-1)
        .u16(u16::MAX)
        .f32(2.5)
        .f64(-3.75)
        .i32(-5)
        .u64(u64::MAX)
        .f32(-0.0625)
        .i64(i64::MIN)
        .f64(9.5);
    assert_eq!(call::<i32>(&ve, "core_nine", a), 0);

    // A wrong value is reported by position: the check itself can fail.
    let mut a = Args::new();
    for k in 1..=9i64 {
        a.i64(if k == 9 { 0 } else { k * -1_000_001 });
    }
    assert_eq!(call::<i32>(&ve, "core_nine_i64", a), 9);
}

/// Pushes argument number `i` of the 32/256-argument kernels (the formulas
/// of CHECK_GROUP in core_args.c).
fn many_arg(a: &mut Args<'_>, i: usize) {
    let g = (i / 16) as i64;
    let n = i as i64;
    match i % 16 {
        0 => a.i8((-128 + g) as i8),
        1 => a.u8((255 - g) as u8),
        2 => a.i16((-32768 + n) as i16),
        3 => a.u16((65535 - n) as u16),
        4 => a.i32(i32::MIN + n as i32),
        5 => a.u32(u32::MAX - n as u32),
        6 => a.i64(i64::MIN + n),
        7 => a.u64(u64::MAX - n as u64),
        8 => a.f32(n as f32 + 0.5),
        9 => a.f64(-(n as f64 + 0.25)),
        10 => a.f32(n as f32 * -0.125),
        11 => a.f64(n as f64 * 1e10),
        12 => a.i32(-(n as i32)),
        13 => a.u64((n as u64) << 40),
        14 => a.f64(1.0 / (n + 1) as f64),
        _ => a.f32(n as f32 * -3.0),
    };
}

fn many_args(n: usize) -> Args<'static> {
    let mut a = Args::new();
    for i in 0..n {
        many_arg(&mut a, i);
    }
    a
}

#[test]
fn thirty_two_arguments() {
    let ve = Ve::new();
    assert_eq!(call::<i32>(&ve, "core_32", many_args(32)), 0);
}

#[test]
fn two_hundred_fifty_six_arguments() {
    let ve = Ve::new();
    let a = many_args(MAX_ARGS);
    assert_eq!(a.len(), 256);
    assert_eq!(call::<i32>(&ve, "core_256", a), 0);
    // The synchronous call on the proc takes the same.
    let f = ve.f("core_256");
    assert_eq!(ve.proc.call_sync::<i32>(&f, many_args(256)).unwrap(), 0);

    // 255 registers and one OnStack buffer: 256 arguments as well.
    let buf: [i64; 4] = [-1, -2, -3, -4];
    let mut a = Args::new();
    for i in 0..255 {
        a.i64(i);
    }
    a.push(&buf);
    assert_eq!(a.len(), 256);
    assert_eq!(call::<i32>(&ve, "core_256_stack", a), 0);

    // A deliberately wrong last argument is caught, so the check works.
    let mut a = Args::new();
    for i in 0..255 {
        many_arg(&mut a, i);
    }
    a.f32(0.0);
    assert_eq!(call::<i32>(&ve, "core_256", a), 256);
}

#[test]
fn two_hundred_fifty_seven_arguments_are_an_error() {
    let ve = Ve::new();
    let f = ve.f("core_256");
    let mut a = many_args(256);
    a.i32(0);
    assert_eq!(a.len(), 257);
    match ve.ctx.call::<i32>(&f, a) {
        Err(Error::TooManyArguments { count, max }) => {
            assert_eq!((count, max), (257, 256));
        }
        other => panic!("257 arguments: expected TooManyArguments, got {other:?}"),
    }
    // The same through the proc, with an OnStack buffer as the 257th.
    let mut a = many_args(256);
    a.push(&[1u8, 2, 3][..]);
    let e = ve.proc.call_sync::<i32>(&f, a).unwrap_err();
    assert!(
        matches!(e, Error::TooManyArguments { count: 257, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("257"),
        "message names the count: {e}"
    );
    // Nothing was sent: the context and the proc still work.
    assert_eq!(call::<i32>(&ve, "core_256", many_args(256)), 0);
}

/// A list taken by reference is left empty, its memory kept, and carries a
/// different argument list into the next call with exact results: from 256
/// register arguments (beyond the inline room) down to one, and from OUT
/// and IN stack buffers to plain registers, asynchronously and on the proc.
#[test]
fn a_cleared_list_carries_a_different_call() {
    let ve = Ve::new();
    let (many, one) = (ve.f("core_256"), ve.f("core_one"));
    let mut a = Args::new();
    for i in 0..MAX_ARGS {
        many_arg(&mut a, i);
    }
    let r = ve.ctx.call_with::<i32>(&many, &mut a).unwrap();
    assert!(a.is_empty(), "call_with leaves the list cleared");
    a.i64(0x1111);
    let r1 = ve.ctx.call_with::<i64>(&one, &mut a).unwrap();
    assert_eq!(r.wait().unwrap(), 0, "256 arguments, each exact");
    assert_eq!(r1.wait().unwrap(), 0x1111 ^ 0x0123_4567_89ab_cdef);

    // OUT then IN stack buffers through one list, synchronously.
    let fill = ve.f("core_out_fill");
    let sum = ve.f("core_in_sum");
    let mut out = [0x5au8; 40];
    let mut a = Args::new();
    a.push(veo_runtime::Out(&mut out[..])).u64(40).u8(0x5a);
    let seen: u64 = ve.proc.call_sync_with(&fill, &mut a).unwrap();
    assert_eq!(seen, 0, "OUT bytes were not copied in");
    assert!(a.is_empty());
    // The list kept borrowing `out`; recycled, it lets go.
    let mut a = a.recycle();
    let want: Vec<u8> = (0..40u64).map(|i| (i * 7 + 3) as u8).collect();
    assert_eq!(
        out[..],
        want[..],
        "OUT copied back into the first call's buffer"
    );
    let values = [5i64, -9, 1 << 40];
    a.push(&values[..]).u64(3);
    assert_eq!(
        ve.proc.call_sync_with::<i64>(&sum, &mut a).unwrap(),
        5 - 9 + (1 << 40)
    );
    a.i64(-2);
    assert_eq!(
        ve.proc.call_sync_with::<i64>(&one, &mut a).unwrap(),
        -2 ^ 0x0123_4567_89ab_cdef,
        "no stack buffer of the earlier calls is left in the list"
    );
}

/// `clear` forgets everything pushed, an overflow past the limit too.
#[test]
fn clear_forgets_arguments_and_overflow() {
    let ve = Ve::new();
    let f = ve.f("core_one");
    let mut a = many_args(MAX_ARGS);
    a.push(&[1u8, 2][..]).i32(3);
    assert_eq!(a.len(), MAX_ARGS + 2);
    a.clear();
    assert!(a.is_empty());
    a.i64(7);
    assert_eq!(
        ve.ctx.call::<i64>(&f, a).unwrap().wait().unwrap(),
        7 ^ 0x0123_4567_89ab_cdef
    );
    // A call that fails leaves the list cleared as well.
    let mut a = many_args(MAX_ARGS + 1);
    assert!(matches!(
        ve.ctx.call_with::<i64>(&f, &mut a),
        Err(Error::TooManyArguments { count: 257, .. })
    ));
    assert!(a.is_empty());
    a.i64(8);
    assert_eq!(
        ve.ctx.call_with::<i64>(&f, &mut a).unwrap().wait().unwrap(),
        8 ^ 0x0123_4567_89ab_cdef
    );
}
