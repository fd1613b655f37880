//! Compiles every kernel in kernels/ into the library "tests", as a user's
//! build script would, and kernels/core_reload/ into a second library.
fn main() {
    veo_build::Build::new().files_in("kernels").compile("tests");
    // A library of its own, that tests can unload and reload without
    // disturbing the kernels of other tests.
    veo_build::Build::new()
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
