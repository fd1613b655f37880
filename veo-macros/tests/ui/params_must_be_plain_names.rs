use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn method(&self, n: i32);
    fn pattern((a, b): (i32, i32));
    fn mutable(mut n: i32);
    fn wild(_: i32);
}

fn main() {}
