use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn sum(v: Vec<f64>) -> f64;
    fn sum_ref(v: &Vec<f64>) -> f64;
    fn boxed(b: Box<[u8]>);
    fn make() -> Vec<f64>;
}

fn main() {}
