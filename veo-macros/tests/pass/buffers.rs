// Buffers on the VE stack: `&T`, `&[T]`, `&[T; N]` (IN), `&mut T`, `&mut [T]` (INOUT).
use veo_runtime::{ve_kernel, Context, Proc, Result};

#[ve_kernel(library = "kernels")]
extern "C" {
    fn sum_on_stack(a: &[f64], n: usize) -> f64;
    fn one_in(x: &i32) -> i32;
    fn matrix_in(m: &[[f32; 3]; 3]) -> f32;
    fn scale(x: &mut [f64], n: usize, f: f64);
    fn bump(x: &mut u64);
    fn bytes(s: &[u8], t: &mut [i8]) -> usize;
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<()> {
    let a = vec![1.0f64; 8];
    let _: f64 = sum_on_stack(ctx, &a, a.len())?.wait()?;
    let _: i32 = one_in_sync(proc, &7)?;
    let _: f32 = matrix_in(ctx, &[[1.0; 3]; 3])?.wait()?;
    let mut x = [1.0f64; 4];
    scale(ctx, &mut x, 4, 2.0)?.wait()?;
    scale_sync(proc, &mut x[1..], 3, 2.0)?;
    let mut n = 1u64;
    bump(ctx, &mut n)?.wait()?;
    let mut t = [0i8; 4];
    let _: usize = bytes_sync(proc, b"abc\0", &mut t)?;
    Ok(())
}

fn main() {}
