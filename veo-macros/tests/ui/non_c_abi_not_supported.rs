use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "system" {
    fn average(a: veo_runtime::VePtr<f64>, n: i32) -> f64;
}

#[ve_kernel(library = "kernels")]
extern "C" {
    extern "C" fn inner_abi(n: i32);
}

fn main() {}
