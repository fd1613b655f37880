use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    async fn later(n: i32) -> i32;
    unsafe fn risky(n: i32);
    const fn constant() -> i32;
}

fn main() {}
