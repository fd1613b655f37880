// `VePtr<T>` in and out, for scalars, structs and the default `VePtr`.
use veo_runtime::{ve_kernel, Context, Proc, Result, VePtr};

#[derive(Clone, Copy)]
#[repr(C)]
struct Opaque {
    _x: [u64; 4],
}

#[ve_kernel(library = "kernels")]
extern "C" {
    fn average(a: VePtr<f64>, n: i32) -> f64;
    fn alloc_copy(src: VePtr<u8>, n: usize) -> VePtr<u8>;
    fn touch(o: VePtr<Opaque>, raw: VePtr) -> VePtr<Opaque>;
    fn qualified(p: veo_runtime::VePtr<i32>) -> veo_runtime::VePtr<i32>;
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<()> {
    let a = VePtr::<f64>::null();
    let _: f64 = average(ctx, a, 3)?.wait()?;
    let _: VePtr<u8> = alloc_copy_sync(proc, VePtr::null(), 1)?;
    let _: VePtr<Opaque> = touch(ctx, VePtr::null(), VePtr::null())?.wait()?;
    let _: VePtr<i32> = qualified_sync(proc, VePtr::null())?;
    Ok(())
}

fn main() {}
