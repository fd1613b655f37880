// `fortran`: symbol `test9_`, scalars passed by reference by the stub.
use veo_runtime::{ve_kernel, Context, Proc, Result, VePtr};

type Real = f64;

#[ve_kernel(library = "kernels", fortran)]
extern "C" {
    fn test9(a: &[i32], b: &[i32], n: i32, m: i32, #[out] c: &mut [f64]);
    fn dot(x: VePtr<f64>, y: VePtr<f64>, n: i64) -> f64;
    fn axpy(alpha: Real, x: &[Real], y: &mut [Real], n: i32);
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<()> {
    let a = [1, 2, 3];
    let mut c = [0.0; 9];
    test9(ctx, &a, &a, 3, 3, &mut c)?.wait()?;
    let _: f64 = dot_sync(proc, VePtr::null(), VePtr::null(), 3)?;
    let mut y = [0.0; 3];
    axpy(ctx, 2.0, &[1.0; 3], &mut y, 3)?.wait()?;
    Ok(())
}

fn main() {}
