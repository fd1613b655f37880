//! Compiles every kernel in kernels/ into the library "tests", as a user's
//! build script would, and kernels/core_reload/ into a second library.
//!
//! The Fortran kernels are optional: on a machine without a Fortran
//! compiler they are left out, their tests (`cfg(veo_no_fortran)`) too, and
//! one warning says so. CI sets `VEO_REQUIRE_FORTRAN=1`, which makes a
//! missing Fortran compiler fail the build instead.
use veo_build::{Build, Language};

fn main() {
    println!("cargo:rustc-check-cfg=cfg(veo_no_fortran)");
    let tests = Build::new()
        .files_in("kernels")
        .optional(Language::Fortran)
        .compile("tests");
    if tests.left_out().contains(&Language::Fortran) {
        println!("cargo:rustc-cfg=veo_no_fortran");
        println!(
            "cargo:warning=no Fortran compiler found (gfortran, $FC or $NFORT): \
             the Fortran kernels and their tests are skipped; install gfortran to run them"
        );
    }
    // A library of its own, that tests can unload and reload without
    // disturbing the kernels of other tests.
    Build::new()
        .files_in("kernels/core_reload")
        .compile("core_reload");
    // A third, kernels/aveo_ve/: AVEO's VE-side API (the headers in
    // veo-capi/include/ve) and OpenMP.
    veo_build::Build::new()
        .files_in("kernels/aveo_ve")
        .include("../veo-capi/include/ve")
        .openmp(true)
        .compile("aveo_ve");
    // The test programs are their own helpers (re-executed in helper mode):
    // exporting their symbols lets `Proc::static_library()` find the
    // `#[no_mangle]` kernels defined in the tests themselves.
    println!("cargo:rustc-link-arg-tests=-rdynamic");
}
