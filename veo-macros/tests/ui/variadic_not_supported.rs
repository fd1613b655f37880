use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn printf(fmt: &[u8], ...) -> i32;
}

fn main() {}
