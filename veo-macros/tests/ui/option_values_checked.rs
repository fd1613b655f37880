use veo_runtime::ve_kernel;

#[ve_kernel(library = "lib kernels.so")]
extern "C" {
    fn a();
}

#[ve_kernel(library = "kernels", fortran = true)]
extern "C" {
    fn b();
}

#[ve_kernel(static, crate)]
extern "C" {
    fn c();
}

#[ve_kernel(static crate = veo_runtime)]
extern "C" {
    fn d();
}

fn main() {}
