// `#[out]`: intent OUT for `&mut T` and `&mut [T]`.
use veo_runtime::{ve_kernel, Context, Proc, Result};

#[ve_kernel(library = "kernels")]
extern "C" {
    fn fill(#[out] x: &mut [f64], n: usize);
    fn answer(#[out] x: &mut i64) -> i32;
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<()> {
    let mut x = vec![0.0f64; 16];
    fill(ctx, &mut x, 16)?.wait()?;
    fill_sync(proc, &mut x[..8], 8)?;
    let mut v = 0i64;
    let _: i32 = answer(ctx, &mut v)?.wait()?;
    let _: i32 = answer_sync(proc, &mut v)?;
    Ok(())
}

fn main() {}
