//! `CFLAGS`/`CXXFLAGS`/`FFLAGS` and their target-specific forms, read as
//! the `cc` crate reads them, and a bad flag reported with the command.
//! These tests change environment variables, so each one holds `ENV` for
//! its whole run (this file is its own test binary).

mod common;

use std::sync::{Mutex, MutexGuard};

use common::scratch;
use veo_build::{Build, Error, Target};

static ENV: Mutex<()> = Mutex::new(());

const VARS: &[&str] = &[
    "CFLAGS",
    "CXXFLAGS",
    "TARGET_CFLAGS",
    "HOST_CFLAGS",
    "CFLAGS_x86_64_unknown_linux_gnu",
    "CFLAGS_x86_64-unknown-linux-gnu",
    "TARGET",
    "HOST",
];

fn env() -> MutexGuard<'static, ()> {
    let guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    for v in VARS {
        std::env::remove_var(v);
    }
    guard
}

/// Builds a kernel returning the macro `V` and calls it.
fn value(test: &str) -> Result<(i64, Vec<String>), Error> {
    let dir = scratch(test);
    let a = Build::new()
        .out_dir(dir.join("out"))
        .cargo_metadata(false)
        .target(Target::Emulated)
        .c_source("v", "long v(void) { return V; }\n")
        .try_compile("v")?;
    // SAFETY: the library was just built from the source above; `v` takes
    // nothing and returns a long.
    let got = unsafe {
        let l = libloading::Library::new(a.path()).unwrap();
        let v: libloading::Symbol<unsafe extern "C" fn() -> i64> = l.get(b"v").unwrap();
        v()
    };
    Ok((got, a.cargo_directives().to_vec()))
}

#[test]
fn cflags_reach_the_c_compiler_and_are_declared() {
    let _env = env();
    std::env::set_var("CFLAGS", "-O1 -DV=7");
    let (v, directives) = value("flags-cflags").unwrap();
    assert_eq!(v, 7);
    assert!(directives.contains(&"rerun-if-env-changed=CFLAGS".to_string()));
}

#[test]
fn the_target_specific_form_wins_as_with_cc() {
    let _env = env();
    std::env::set_var("TARGET", "x86_64-unknown-linux-gnu");
    std::env::set_var("HOST", "x86_64-unknown-linux-gnu");
    std::env::set_var("CFLAGS", "-DV=1");
    std::env::set_var("HOST_CFLAGS", "-DV=2");
    assert_eq!(value("flags-host").unwrap().0, 2);
    std::env::set_var("CFLAGS_x86_64_unknown_linux_gnu", "-DV=3");
    let (v, directives) = value("flags-target").unwrap();
    assert_eq!(v, 3);
    for var in [
        "CFLAGS_x86_64-unknown-linux-gnu",
        "CFLAGS_x86_64_unknown_linux_gnu",
    ] {
        assert!(
            directives.contains(&format!("rerun-if-env-changed={var}")),
            "{var}: {directives:#?}"
        );
    }
}

#[test]
fn a_flag_the_compiler_refuses_fails_with_the_command() {
    let _env = env();
    std::env::set_var("CFLAGS", "-DV=1 -fno-such-veo-flag");
    let e = value("flags-bad").unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::CommandFailed { .. }), "{text}");
    assert!(text.contains("-fno-such-veo-flag"), "{text}");
}

#[test]
fn cxxflags_do_not_reach_the_c_compiler() {
    let _env = env();
    std::env::set_var("CXXFLAGS", "-DV=9 -fno-such-veo-flag");
    std::env::set_var("CFLAGS", "-DV=4");
    assert_eq!(value("flags-cxx").unwrap().0, 4);
}
