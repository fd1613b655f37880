//! Compiles every kernel in kernels/ into the library "examples", exactly as
//! a user's build script would; veo-build checks the C definitions against
//! every `#[ve_kernel]` declaration of the example programs on its own.
//!
//! The Fortran kernel is optional: without a Fortran compiler it is left
//! out and `fortran_arrays` (`cfg(veo_no_fortran)`) says so when run.
use veo_build::{Build, Language};

fn main() {
    println!("cargo:rustc-check-cfg=cfg(veo_no_fortran)");
    let lib = Build::new()
        .files_in("kernels")
        .optional(Language::Fortran)
        .compile("examples");
    if lib.left_out().contains(&Language::Fortran) {
        println!("cargo:rustc-cfg=veo_no_fortran");
    }
}
