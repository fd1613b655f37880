// `crate = path`: the runtime reached through a re-export.
mod runtime {
    pub use veo_runtime::*;
}

use runtime::{Context, Proc, Result};

#[runtime::ve_kernel(library = "kernels", crate = crate::runtime)]
extern "C" {
    fn average(a: runtime::VePtr<f64>, n: i32) -> f64;
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<f64> {
    average(ctx, runtime::VePtr::null(), 1)?.wait()?;
    average_sync(proc, runtime::VePtr::null(), 1)
}

fn main() {}
