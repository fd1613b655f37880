//! The mean of a vector, computed on the VE: a kernel compiled at run time
//! with veo-build, loaded into a proc, called with its arguments pushed one
//! by one, on VE memory allocated and filled from the host.
//!
//! `cargo run -p veo-runtime --example average`
//!
//! (A crate of your own declares its kernels with `#[ve_kernel]` and
//! compiles them in `build.rs`: see the crate documentation.)

use veo_runtime::{Args, Proc};

const KERNEL: &str = "double average(const double *a, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i];
    return s / n;
}
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("veo-average-{}", std::process::id()));
    let lib = veo_build::Build::new()
        .out_dir(&dir)
        .c_source("average", KERNEL)
        .try_compile("average")?;

    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    let library = proc.load_library(lib.path())?;
    let average = library.function("average")?;

    let host: Vec<f64> = (1..=100).map(f64::from).collect();
    let a = proc.alloc_from(&host)?;
    let mut args = Args::new();
    args.ptr(a.as_ptr()).i32(host.len() as i32);
    let avg: f64 = ctx.call(&average, args)?.wait()?;
    println!("average of 1..=100 on the VE: {avg}");
    std::fs::remove_dir_all(&dir)?;
    if avg == 50.5 {
        Ok(())
    } else {
        Err(format!("expected 50.5, got {avg}").into())
    }
}
