//! Compiles every kernel in kernels/ into the library "tests", as a user's
//! build script would.
fn main() {
    veo_build::Build::new().files_in("kernels").compile("tests");
    // The test programs are their own helpers (re-executed in helper mode):
    // exporting their symbols lets `Proc::static_library()` find the
    // `#[no_mangle]` kernels defined in the tests themselves.
    println!("cargo:rustc-link-arg-tests=-rdynamic");
}
