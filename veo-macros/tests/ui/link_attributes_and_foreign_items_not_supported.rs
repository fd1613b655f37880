use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
#[link(name = "kernels")]
extern "C" {
    fn a();
}

#[ve_kernel(library = "kernels")]
extern "C" {
    #![allow(unused)]
    type Opaque;
    safe fn b();
    #[link_name = 42]
    fn c();
    fn d(p: veo_runtime::VePtr<f64, u8>, u: ());
}

fn main() {}
