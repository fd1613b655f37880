//! Compiles every kernel in kernels/ into the library "examples", exactly as
//! a user's build script would.
fn main() {
    veo_build::Build::new().files_in("kernels").compile("examples");
}
