//! Gives libveo.so the soname AVEO's library has, so that programs linked
//! against it ask for `libveo.so.1` as they do on a VE host.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libveo.so.1");
    println!("cargo:rerun-if-changed=build.rs");
}
