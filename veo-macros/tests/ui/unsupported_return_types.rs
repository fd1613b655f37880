use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn reference() -> &'static f64;
    fn mutable() -> &mut [f64];
    fn flag() -> bool;
    fn wide() -> u128;
    fn never() -> !;
    fn result() -> Result<f64, ()>;
    fn pointer() -> *mut f64;
}

fn main() {}
