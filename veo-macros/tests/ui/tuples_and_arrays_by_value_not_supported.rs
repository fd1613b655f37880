use veo_runtime::ve_kernel;

#[ve_kernel(library = "kernels")]
extern "C" {
    fn pair(p: (i32, i32));
    fn unit(u: ());
    fn array(a: [f64; 4]);
    fn slice(s: [f64]);
    fn two() -> (f64, f64);
    fn arr() -> [u8; 16];
}

fn main() {}
