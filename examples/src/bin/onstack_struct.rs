//! py-veo's "struct on the stack" example with `#[ve_kernel]`: a
//! `bytemuck::Pod` struct passed by reference (`&T`, intent IN); the kernel
//! returns the sum of its values times its factor: (1 + 2 + 3 + 4) * 3 = 30.
//!
//! `cargo run -p veo-examples --bin onstack_struct`

use std::process::ExitCode;
use veo_runtime::{ve_kernel, Proc};

/// `struct macro_params` of `kernels/macro_examples.c`.
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Params {
    values: [i32; 4],
    factor: i32,
}

#[ve_kernel(library = "examples")]
extern "C" {
    fn macro_sum_times(p: &Params) -> i32;
}

fn main() -> ExitCode {
    veo_examples::exit_code("onstack_struct", run())
}

fn run() -> veo_runtime::Result<bool> {
    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    let params = Params {
        values: [1, 2, 3, 4],
        factor: 3,
    };
    let got = macro_sum_times(&ctx, &params)?.wait()?;
    let ok = got == 30;
    println!(
        "macro_sum_times({params:?}) = {got}, expected 30: {}",
        if ok { "ok" } else { "WRONG" }
    );
    Ok(ok)
}
