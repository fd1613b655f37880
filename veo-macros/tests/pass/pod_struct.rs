// `bytemuck::Pod` structs by reference (IN, INOUT, OUT) and behind `VePtr`.
use veo_runtime::{ve_kernel, Context, Proc, Result, VePtr};

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Params {
    values: [i32; 4],
    factor: i32,
}

#[ve_kernel(library = "kernels")]
extern "C" {
    fn sum_times(p: &Params) -> i32;
    fn double_all(p: &mut Params);
    fn make(#[out] p: &mut Params, many: &[Params]);
    fn remote(p: VePtr<Params>) -> VePtr<Params>;
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<()> {
    let mut p = Params { values: [1, 2, 3, 4], factor: 3 };
    let _: i32 = sum_times(ctx, &p)?.wait()?;
    double_all_sync(proc, &mut p)?;
    let many = [p; 2];
    make(ctx, &mut p, &many)?.wait()?;
    let _: VePtr<Params> = remote_sync(proc, VePtr::null())?;
    Ok(())
}

fn main() {}
