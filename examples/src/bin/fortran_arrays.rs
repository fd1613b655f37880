//! py-veo's test9 with `#[ve_kernel(fortran)]`: a Fortran kernel takes an
//! integer array on the stack (IN), an integer array in VE memory, and
//! fills a double precision n x m matrix (OUT, column-major); the stub
//! passes `n` and `m` by reference and calls the symbol `macro_test9_`.
//!
//! `cargo run -p veo-examples --bin fortran_arrays`

use std::process::ExitCode;
#[cfg(not(veo_no_fortran))]
use veo_runtime::{ve_kernel, Proc, VePtr};

#[cfg(not(veo_no_fortran))]
#[ve_kernel(library = "examples", fortran)]
extern "C" {
    /// Returns the sum of `a`; `b(i) = a(i) + 2`; `c(i, j) = a(i) * j`.
    fn macro_test9(a: &[i32], b: VePtr<i32>, #[out] c: &mut [f64], n: i32, m: i32) -> i32;
}

fn main() -> ExitCode {
    veo_examples::exit_code("fortran_arrays", run())
}

/// Built where no Fortran compiler was found (examples/build.rs).
#[cfg(veo_no_fortran)]
fn run() -> Result<bool, &'static str> {
    Err(
        "built without its Fortran kernel: no Fortran compiler was found; \
         install gfortran (or set FC or NFORT) and build again",
    )
}

#[cfg(not(veo_no_fortran))]
fn run() -> veo_runtime::Result<bool> {
    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    let (n, m) = (5usize, 3usize);
    let a = [1, 2, 3, 4, 5];
    let b = proc.alloc::<i32>(n)?;
    proc.write(&b, &[0; 5])?;
    let mut c = vec![0.0f64; n * m];

    let sum = macro_test9(&ctx, &a, b.as_ptr(), &mut c, n as i32, m as i32)?.wait()?;
    let mut b_host = [0i32; 5];
    proc.read(&mut b_host, &b)?;

    let mut ok = sum == 15;
    println!("sum of a = {sum}, expected 15: {}", verdict(sum == 15));
    let b_ok = b_host == [3, 4, 5, 6, 7];
    ok &= b_ok;
    println!("b = {b_host:?}, expected a + 2: {}", verdict(b_ok));
    println!("c ({n} x {m}, c(i, j) = a(i) * j):");
    for i in 0..n {
        let row: Vec<f64> = (0..m).map(|j| c[j * n + i]).collect();
        let row_ok = row
            .iter()
            .enumerate()
            .all(|(j, &v)| v == (a[i] * (j as i32 + 1)) as f64);
        ok &= row_ok;
        println!("  {row:?} {}", verdict(row_ok));
    }
    Ok(ok)
}

#[cfg(not(veo_no_fortran))]
fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "WRONG"
    }
}
