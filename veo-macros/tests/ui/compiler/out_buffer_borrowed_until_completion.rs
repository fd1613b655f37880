// An OUT buffer is borrowed by the pending request until it completes: it
// can be neither read nor dropped before that.
use veo_runtime::{ve_kernel, Context, Result};

#[ve_kernel(library = "kernels")]
extern "C" {
    fn fill(#[out] x: &mut [f64], n: usize);
}

fn read_while_pending(ctx: &Context) -> Result<()> {
    let mut x = vec![0.0f64; 4];
    let request = fill(ctx, &mut x, 4)?;
    let first = x[0]; //~ E0502
    request.wait()?;
    println!("{first}");
    Ok(())
}

fn drop_while_pending(ctx: &Context) -> Result<()> {
    let mut x = vec![0.0f64; 4];
    let request = fill(ctx, &mut x, 4)?;
    drop(x); //~ E0505
    request.wait()
}

fn main() {
    let _ = read_while_pending;
    let _ = drop_while_pending;
}
