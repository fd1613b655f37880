//! py-veo's mixed-argument example with `#[ve_kernel]`: six arguments of
//! mixed integer and floating types, then ten `int`s, more than fit in
//! registers, so the last ones travel on the stack.
//!
//! `cargo run -p veo-examples --bin mixed_args`

use std::process::ExitCode;
use veo_runtime::{ve_kernel, Proc};

#[ve_kernel(library = "examples")]
extern "C" {
    /// `a + 10 b + 100 c + 1000 d + 10^4 e + 10^5 f`.
    fn macro_mixed6(a: i8, b: f64, c: u16, d: f32, e: i64, f: u32) -> f64;
    /// `sum((i + 1) * a_i)`.
    fn macro_ten(
        a0: i32,
        a1: i32,
        a2: i32,
        a3: i32,
        a4: i32,
        a5: i32,
        a6: i32,
        a7: i32,
        a8: i32,
        a9: i32,
    ) -> isize;
}

fn main() -> ExitCode {
    veo_examples::exit_code("mixed_args", run())
}

fn run() -> veo_runtime::Result<bool> {
    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    let mut ok = true;

    let (a, b, c, d, e, f) = (-3i8, 0.5f64, 7u16, 0.25f32, -2i64, 9u32);
    let expect = a as f64
        + b * 10.0
        + c as f64 * 100.0
        + d as f64 * 1000.0
        + e as f64 * 10000.0
        + f as f64 * 100000.0;
    let got = macro_mixed6(&ctx, a, b, c, d, e, f)?.wait()?;
    ok &= check(
        &format!("macro_mixed6({a}, {b}, {c}, {d}, {e}, {f})"),
        got,
        expect,
    );

    let v = [1, -2, 3, -4, 5, -6, 7, -8, 9, -10];
    let expect: isize = v.iter().zip(1..).map(|(x, w)| (x * w) as isize).sum();
    let got = macro_ten_sync(
        &proc, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
    )?;
    // The VE passes 8 arguments in registers: a9 and a10 go on its stack.
    ok &= check(
        &format!("macro_ten({v:?}), synchronously, 2 of them on the stack"),
        got,
        expect,
    );
    Ok(ok)
}

fn check<T: PartialEq + std::fmt::Debug>(what: &str, got: T, expect: T) -> bool {
    let ok = got == expect;
    println!(
        "{what} = {got:?}, expected {expect:?}: {}",
        if ok { "ok" } else { "WRONG" }
    );
    ok
}
