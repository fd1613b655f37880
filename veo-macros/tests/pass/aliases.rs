// Type aliases and the C aliases of `core::ffi` / `std::os::raw`: checked
// through the runtime's traits, like the types they name.
use core::ffi::{c_char, c_int};
use veo_runtime::{ve_kernel, Context, Proc, Result, VePtr};

type Real = f64;
type Index = usize;
type Buffer = VePtr<Real>;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn norm(x: Buffer, n: Index) -> Real;
    fn count(s: &[c_char], c: c_int) -> c_int;
    fn raw(x: std::os::raw::c_double, y: core::ffi::c_ulong) -> std::os::raw::c_long;
    fn on_stack(x: &[Real], y: &mut [Index]) -> Index;
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<()> {
    let _: f64 = norm(ctx, VePtr::null(), 4)?.wait()?;
    let _: i32 = count_sync(proc, &[0; 4], 0)?;
    let _ = raw(ctx, 1.0, 2)?.wait()?;
    let mut y = [0usize; 2];
    let _: usize = on_stack_sync(proc, &[1.0, 2.0], &mut y)?;
    Ok(())
}

fn main() {}
