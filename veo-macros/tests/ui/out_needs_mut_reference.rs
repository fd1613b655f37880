use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn fill(#[out] x: &[f64], n: usize);
    fn scalar(#[out] n: i32);
    fn twice(#[out] #[out] x: &mut [f64]);
    fn other(#[inout] x: &mut [f64]);
}

fn main() {}
