use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn borrowed(x: &'static [f64]);
    fn out(x: &'a mut [f64]);
}

fn main() {}
