// A struct by value: the macro cannot tell it from an alias by its name, so
// the runtime's sealed `KernelArg` trait rejects it, at the type.
use veo_runtime::ve_kernel;

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

#[ve_kernel(library = "kernels")]
extern "C" {
    fn norm(p: Point) -> f64; //~ `Point` cannot be passed to a VE kernel
    fn origin() -> Point; //~ `Point` cannot be returned from a VE kernel
}

fn main() {}
