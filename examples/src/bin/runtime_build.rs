//! py-veo's `VeBuild`: a kernel compiled from a string while the program
//! runs, loaded into a proc and called.

use std::process::ExitCode;
use veo_runtime::{Args, Proc};

const SOURCE: &str = r#"
#include <stdint.h>
/* The dot product of two vectors passed OnStack. */
double dot(const double *x, const double *y, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}
"#;

fn main() -> ExitCode {
    veo_examples::exit_code("runtime_build", run())
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("veo-runtime-build-{}", std::process::id()));
    let artifact = veo_build::Build::new()
        .out_dir(&dir)
        .c_source("dot", SOURCE)
        .try_compile("dot")?;
    println!("built {}", artifact.path().display());

    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    let lib = proc.load_library(artifact.path())?;
    let dot = lib.function("dot")?;

    let x: Vec<f64> = (1..=100).map(f64::from).collect();
    let y = vec![2.0; x.len()];
    let mut args = Args::new();
    args.push(&x[..]).push(&y[..]).push(x.len() as i64);
    let got: f64 = ctx.call(&dot, args)?.wait()?;
    let want: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
    println!("dot on the VE = {got}, on the VH = {want}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(got == want)
}
