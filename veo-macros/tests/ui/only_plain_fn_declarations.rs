use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    static COUNTER: i32;
    fn with_body(n: i32) -> i32 {
        n
    }
    fn average(a: veo_runtime::VePtr<f64>, n: i32) -> f64;
    fn average_sync();
    #[inline]
    fn attributed();
}

fn main() {}
