// `static`: kernels linked into the helper; no library name.
use veo_runtime::{ve_kernel, Context, Proc, Result};

#[ve_kernel(static)]
extern "C" {
    fn builtin_add(a: i32, b: i32) -> i32;
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<i32> {
    builtin_add(ctx, 1, 2)?.wait()?;
    builtin_add_sync(proc, 1, 2)
}

fn main() {}
