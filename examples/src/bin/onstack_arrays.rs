//! py-veo's "arrays on the stack" example with `#[ve_kernel]`: an IN array
//! (`&[i32]`, copied to the VE) and an INOUT array (`&mut [i32]`, copied
//! there and back). The kernel returns the sum of the first and adds 2 to
//! every element of the second.
//!
//! `cargo run -p veo-examples --bin onstack_arrays`

use std::process::ExitCode;
use veo_runtime::{ve_kernel, Proc};

#[ve_kernel(library = "examples")]
extern "C" {
    fn macro_sum_and_add2(a: &[i32], b: &mut [i32], n: i32) -> i32;
}

fn main() -> ExitCode {
    veo_examples::exit_code("onstack_arrays", run())
}

fn run() -> veo_runtime::Result<bool> {
    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    let a: Vec<i32> = (1..=10).collect();
    let mut b: Vec<i32> = (0..10).map(|i| i * 10).collect();
    let before = b.clone();

    let sum = macro_sum_and_add2(&ctx, &a, &mut b, a.len() as i32)?.wait()?;
    let sum_ok = sum == 55;
    println!("sum of {a:?} = {sum}, expected 55: {}", verdict(sum_ok));
    let expect: Vec<i32> = before.iter().map(|x| x + 2).collect();
    let b_ok = b == expect;
    println!("{before:?} plus 2 = {b:?}: {}", verdict(b_ok));
    Ok(sum_ok && b_ok)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "WRONG"
    }
}
