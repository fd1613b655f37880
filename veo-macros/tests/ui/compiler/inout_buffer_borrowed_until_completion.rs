// An INOUT buffer is borrowed by the pending request until it completes.
use veo_runtime::{ve_kernel, Context, Result};

#[ve_kernel(library = "kernels")]
extern "C" {
    fn scale(x: &mut [f64], n: usize, f: f64);
}

fn touch_while_pending(ctx: &Context) -> Result<()> {
    let mut x = [1.0f64; 4];
    let request = scale(ctx, &mut x, 4, 2.0)?;
    x[0] = 0.0; //~ E0506
    println!("{}", x[1]);
    request.wait()
}

fn main() {
    let _ = touch_while_pending;
}
