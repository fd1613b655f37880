//! Compiles every kernel in kernels/ into the library "examples", exactly as
//! a user's build script would, and checks the C definitions against every
//! `#[ve_kernel]` declaration of the example programs and of the benchmarks'
//! shared calls.
//!
//! The Fortran kernel is optional: without a Fortran compiler it is left
//! out and `fortran_arrays` (`cfg(veo_no_fortran)`) says so when run.
use veo_build::{Build, Language};

fn main() {
    println!("cargo:rustc-check-cfg=cfg(veo_no_fortran)");
    let mut build = Build::new();
    build.files_in("kernels").optional(Language::Fortran);
    let mut programs: Vec<_> = std::fs::read_dir("src/bin")
        .expect("examples/src/bin")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    programs.push("src/bench/calls.rs".into());
    programs.sort();
    for program in programs {
        let text = std::fs::read_to_string(&program).unwrap_or_default();
        if text.contains("#[ve_kernel") {
            build.bindings(&program);
        }
    }
    let lib = build.compile("examples");
    if lib.left_out().contains(&Language::Fortran) {
        println!("cargo:rustc-cfg=veo_no_fortran");
    }
}
