// IN data is copied when the call is submitted: the pending request does not
// borrow it, so the caller may change or drop it at once. `VePtr`s and
// scalars are values, too.
use veo_runtime::{ve_kernel, Context, Result, VePtr};

#[ve_kernel(library = "kernels")]
extern "C" {
    fn sum_on_stack(a: &[f64], n: usize) -> f64;
    fn mixed(a: &[f64], p: VePtr<f64>, x: &mut [f64]);
}

#[allow(dead_code)]
fn calls(ctx: &Context) -> Result<()> {
    let mut data = vec![1.0f64; 4];
    let request = sum_on_stack(ctx, &data, 4)?;
    data[0] = 2.0;
    drop(data);
    let _: f64 = request.wait()?;

    let mut input = [1.0f64; 2];
    let mut output = [0.0f64; 2];
    let request = mixed(ctx, &input, VePtr::null(), &mut output)?;
    input[0] = 3.0;
    request.wait()?;
    output[0] += input[0];
    std::hint::black_box(output);
    Ok(())
}

fn main() {}
