// Data on the VE stack must be plain: `bytemuck::Pod`.
use veo_runtime::ve_kernel;

#[derive(Clone, Copy)]
#[repr(C)]
struct NotPod {
    x: f64,
}

#[ve_kernel(library = "kernels")]
extern "C" {
    fn read(p: &NotPod); //~ `&NotPod` cannot be passed to a VE kernel
    fn write(p: &mut [NotPod]); //~ `&mut [NotPod]` cannot be passed to a VE kernel
}

fn main() {}
