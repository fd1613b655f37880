//! The py-veo blog example: the average of 1,000,000 random doubles,
//! computed on the VE twice (through a VE buffer, and passed OnStack) and on
//! the host. Exits non-zero if they disagree beyond rounding.

use std::process::ExitCode;
use veo_runtime::{ve_kernel, Proc, VePtr};

#[ve_kernel(library = "examples")]
extern "C" {
    /// The average of `n` doubles at `a` in VE memory.
    fn average(a: VePtr<f64>, n: i32) -> f64;
}

mod onstack {
    use veo_runtime::ve_kernel;

    #[ve_kernel(library = "examples")]
    extern "C" {
        /// The same kernel, with the vector copied onto the VE stack.
        pub fn average(a: &[f64], n: i32) -> f64;
    }
}

/// A small xorshift generator: reproducible, no dependency.
fn random_doubles(n: usize, mut seed: u64) -> Vec<f64> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

fn main() -> ExitCode {
    veo_examples::exit_code("average", run())
}

fn run() -> veo_runtime::Result<bool> {
    let node = std::env::var("VE_NODE_NUMBER")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let proc = Proc::new(node)?;
    println!("backend: {}", proc.backend());

    let n = 1_000_000;
    let a = random_doubles(n, 0x9e37_79b9_7f4a_7c15);
    let host = a.iter().sum::<f64>() / n as f64;
    println!("VH average                 = {host:.17}");

    let ctx = proc.open_context()?;

    let a_ve = proc.alloc::<f64>(n)?;
    proc.write(&a_ve, &a)?;
    let via_buffer = average(&ctx, a_ve.as_ptr(), n as i32)?.wait()?;
    println!("VE average (VE buffer)     = {via_buffer:.17}");

    let on_stack = onstack::average(&ctx, &a, n as i32)?.wait()?;
    println!("VE average (OnStack)       = {on_stack:.17}");

    // The host sums in the same order as the kernel, but a VE compiler may
    // vectorise and reorder: allow for rounding of a million terms.
    let tolerance = 1e-9 * host.abs().max(1.0);
    let ok = (via_buffer - host).abs() <= tolerance && (on_stack - host).abs() <= tolerance;
    println!(
        "{}",
        if ok {
            "all three agree"
        } else {
            "MISMATCH: the averages differ beyond rounding"
        }
    );
    Ok(ok)
}
