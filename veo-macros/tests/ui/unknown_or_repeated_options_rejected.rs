use veo_runtime::ve_kernel;

#[ve_kernel(libary = "kernels")]
extern "C" {
    fn a();
}

#[ve_kernel(library = "kernels", fortran, fortran)]
extern "C" {
    fn b();
}

#[ve_kernel(library = "one", library = "two")]
extern "C" {
    fn c();
}

#[ve_kernel(static, library = "kernels")]
extern "C" {
    fn d();
}

#[ve_kernel(library = kernels)]
extern "C" {
    fn e();
}

fn main() {}
