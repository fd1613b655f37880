//! The compile-time behaviour of `#[ve_kernel]`, against the real runtime:
//! `tests/ui/pass_*.rs` must build (and run: they only type-check calls),
//! `tests/ui/fail_*.rs` must fail with exactly the `.stderr` beside them.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite` and read every
//! one: the message must say what to write, at the offending token.

#[test]
fn ui() {
    // What veo-build's build script sets for a library named "kernels"; the
    // pass cases only compile calls, so the file need not exist.
    std::env::set_var("VEO_LIB_kernels", "/nonexistent/libkernels.so");
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
