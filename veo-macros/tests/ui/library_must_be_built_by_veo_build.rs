// A library that veo-build did not build for this crate.
use veo_runtime::ve_kernel;

#[ve_kernel(library = "not_built")]
extern "C" {
    fn average(a: veo_runtime::VePtr<f64>, n: i32) -> f64;
}

fn main() {}
