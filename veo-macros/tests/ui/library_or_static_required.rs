use veo_runtime::ve_kernel;

#[ve_kernel]
extern "C" {
    fn average(a: veo_runtime::VePtr<f64>, n: i32) -> f64;
}

fn main() {}
