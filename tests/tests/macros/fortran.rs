//! `#[ve_kernel(fortran)]` end to end, against `tests/kernels/macro_test9.f90`:
//! py-veo's test9 (integer arrays in, a double precision matrix out), with
//! the stub lower-casing the symbol, adding gfortran's `_`, and passing the
//! scalars by reference.
//!
//! Left out when the build found no Fortran compiler (tests/build.rs).
#![cfg(not(veo_no_fortran))]

use veo_runtime::{ve_kernel, Proc, VePtr};

#[ve_kernel(library = "tests", fortran)]
extern "C" {
    /// `a` on the VE stack (IN), `b` in VE memory, `c` on the VE stack (OUT,
    /// column-major n x m), `n` and `m` by reference. Returns the sum of `a`.
    #[allow(non_snake_case)] // Fortran's spelling; the symbol is `macro_test9_`
    fn MACRO_TEST9(a: &[i32], b: VePtr<i32>, #[out] c: &mut [f64], n: i32, m: i32) -> i32;
    fn macro_fortran_scalars(i1: i8, i2: i16, i4: i32, i8: i64, r4: f32, r8: f64) -> f64;
}

#[test]
fn test9_integer_arrays_in_double_matrix_out() {
    let proc = Proc::new(0).unwrap();
    let ctx = proc.open_context().unwrap();
    let (n, m) = (5usize, 3usize);
    let a = [1, 2, 3, 4, 5];
    let b = proc.alloc::<i32>(n).unwrap();
    proc.write(&b, &[0; 5]).unwrap();
    let mut c = vec![0.0f64; n * m];

    let sum = MACRO_TEST9(&ctx, &a, b.as_ptr(), &mut c, n as i32, m as i32)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(sum, 15);

    let mut b_host = [0i32; 5];
    proc.read(&mut b_host, &b).unwrap();
    assert_eq!(b_host, [3, 4, 5, 6, 7]);
    // Column-major: c(i, j) = a(i) * j.
    for j in 0..m {
        for i in 0..n {
            assert_eq!(
                c[j * n + i],
                (a[i] * (j as i32 + 1)) as f64,
                "c({}, {})",
                i + 1,
                j + 1
            );
        }
    }

    // The synchronous stub, on a smaller problem: only the first 2 x 2.
    let mut c2 = [f64::NAN; 4];
    let sum = MACRO_TEST9_sync(&proc, &a[..2], b.as_ptr(), &mut c2, 2, 2).unwrap();
    assert_eq!(sum, 3);
    assert_eq!(c2, [1.0, 2.0, 2.0, 4.0]);
}

#[test]
fn every_scalar_kind_by_reference() {
    let proc = Proc::new(0).unwrap();
    let got = macro_fortran_scalars_sync(&proc, -1, 2, -3, 4, 0.5, 0.25).unwrap();
    assert_eq!(got, -1.0 + 20.0 - 300.0 + 4000.0 + 5000.0 + 25000.0);
}
