use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn raw(p: *const f64, q: *mut u8);
    fn flag(b: bool, c: char);
    fn wide(x: i128);
    fn callback(f: fn(i32) -> i32);
    fn erased(x: impl Copy, y: &dyn std::any::Any);
    fn nested(x: &&f64, o: Option<veo_runtime::VePtr<f64>>);
}

fn main() {}
