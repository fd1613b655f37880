//! A build of veo-runtime without its `emulator` feature (a build for
//! hardware): no helper is linked, a proc on the emulated VE is refused with
//! an error that says why, and the code `#[ve_kernel]` generates still
//! compiles, static kernels included.
//!
//! `cargo test -p veo-runtime --no-default-features --test no_emulator`
//! (`.ci/run` does); with the default features this file is empty.
#![cfg(not(feature = "emulator"))]

use veo_runtime::{ve_kernel, Error, Proc};

/// A kernel linked into the program, defined here in Rust with C linkage.
mod host {
    #[no_mangle]
    pub extern "C" fn no_emulator_twice(x: i32) -> i32 {
        2 * x
    }
}

#[ve_kernel(static)]
extern "C" {
    fn no_emulator_twice(x: i32) -> i32;
}

#[test]
fn a_proc_on_the_emulated_ve_is_refused_naming_the_feature() {
    let err = Proc::new(0).expect_err("no emulated VE in this build");
    match &err {
        Error::NotCompiledIn { backend, feature } => {
            assert_eq!(*backend, "emulated VE");
            assert_eq!(*feature, "emulator");
        }
        other => panic!("expected NotCompiledIn, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("emulated VE is not compiled in"), "{text}");
    assert!(text.contains("`emulator` feature"), "{text}");
    // The builder refuses the same way.
    assert!(matches!(
        Proc::builder().node(1).build(),
        Err(Error::NotCompiledIn { .. })
    ));
}

#[test]
fn static_kernels_still_register_without_the_emulator() {
    // The stub was generated and type-checks against the public API...
    let _stub: fn(&Proc, i32) -> veo_runtime::Result<i32> = no_emulator_twice_sync;
    // ...and its registration is in the registry the linker assembled.
    assert_eq!(veo_runtime::__private::STATIC_KERNELS.len(), 1);
    assert_eq!(host::no_emulator_twice(21), 42);
}
