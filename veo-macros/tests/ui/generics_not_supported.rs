use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn sum<T>(a: &[T], n: usize) -> T;
    fn bounded(n: i32) where i32: Copy;
}

fn main() {}
