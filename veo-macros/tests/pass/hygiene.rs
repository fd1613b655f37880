// Parameters may be named like the stubs' own variables.
use veo_runtime::{ve_kernel, Context, Proc, Result};

#[ve_kernel(library = "kernels")]
extern "C" {
    fn shadows(ctx: i32, proc: i32, args: i32, function: i32, a: i32) -> i32;
}

#[allow(dead_code)]
fn calls(c: &Context, p: &Proc) -> Result<i32> {
    shadows(c, 1, 2, 3, 4, 5)?.wait()?;
    shadows_sync(p, 1, 2, 3, 4, 5)
}

fn main() {}
