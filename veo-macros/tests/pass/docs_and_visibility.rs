// Visibility carries over (the stubs are reachable from outside their module
// as declared), and so do doc comments and `#[cfg]` (a configured-out kernel
// generates nothing, so its unknown type is never looked at).
pub mod kernels {
    use veo_runtime::{ve_kernel, VePtr};

    #[ve_kernel(library = "kernels")]
    extern "C" {
        /// The mean of `n` doubles.
        pub fn average(a: VePtr<f64>, n: i32) -> f64;
        /// Crate-visible.
        pub(crate) fn inner(n: i32);
        fn private(n: i32);
        #[cfg(any())]
        fn configured_out(n: UnknownType);
    }

    #[allow(dead_code)]
    fn uses_private(ctx: &veo_runtime::Context) -> veo_runtime::Result<()> {
        private(ctx, 1)?.wait()
    }
}

#[allow(dead_code)]
fn calls(ctx: &veo_runtime::Context, proc: &veo_runtime::Proc) -> veo_runtime::Result<()> {
    kernels::average(ctx, veo_runtime::VePtr::null(), 1)?.wait()?;
    kernels::average_sync(proc, veo_runtime::VePtr::null(), 1)?;
    kernels::inner_sync(proc, 1)
}

fn main() {}
