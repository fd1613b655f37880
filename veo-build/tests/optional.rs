//! Optional languages (`Build::optional`): sources left out when their
//! compiler cannot be started, `VEO_REQUIRE_<LANG>` making them required
//! again, and its bad values. These tests change environment variables, so
//! each one holds `ENV` for its whole run (this file is its own test binary).

mod common;

use std::sync::{Mutex, MutexGuard};

use common::{scratch, write};
use veo_build::{require_env_var, Build, Error, Language};

static ENV: Mutex<()> = Mutex::new(());

const VARS: &[&str] = &["NFORT", "FC", "VEO_BUILD_TARGET", "VEO_REQUIRE_FORTRAN"];

/// Holds the lock with no NEC compilers and `FC` naming a program that
/// does not exist: a machine without a Fortran compiler.
fn no_fortran(dir: &std::path::Path) -> MutexGuard<'static, ()> {
    let guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    for v in VARS {
        std::env::remove_var(v);
    }
    std::fs::create_dir_all(dir.join("no-nec")).unwrap();
    std::env::set_var("VEO_NEC_ROOT", dir.join("no-nec"));
    std::env::set_var("FC", dir.join("no-such-gfortran"));
    guard
}

/// A C kernel and a Fortran one, and a Rust file declaring both.
fn mixed(dir: &std::path::Path) -> Build {
    let kernels = dir.join("kernels");
    write(
        &kernels,
        "twice.c",
        "double twice(double x) { return 2 * x; }\n",
    );
    write(
        &kernels,
        "half.f90",
        "function half(x)\n  real(8) :: x, half\n  half = x / 2\nend function\n",
    );
    let decls = write(
        dir,
        "decls.rs",
        "#[ve_kernel(library = \"mixed\")]\nextern \"C\" { fn twice(x: f64) -> f64; }\n\
         #[ve_kernel(library = \"mixed\", fortran)]\nextern \"C\" { fn half(x: f64) -> f64; }\n",
    );
    let mut b = Build::new();
    b.out_dir(dir.join("out"))
        .cargo_metadata(false)
        .files_in(&kernels)
        .bindings(decls);
    b
}

#[test]
fn an_optional_language_without_compiler_is_left_out_with_its_declarations() {
    let dir = scratch("optional-left-out");
    let _env = no_fortran(&dir);
    let a = mixed(&dir)
        .optional(Language::Fortran)
        .try_compile("mixed")
        .unwrap();
    assert_eq!(a.left_out(), &[Language::Fortran]);
    // The C kernel is there and works; the Fortran one is not.
    // SAFETY: the library was just built from the kernel source above, and each symbol is called with the C signature its source defines.
    unsafe {
        let l = libloading::Library::new(a.path()).unwrap();
        let twice: libloading::Symbol<unsafe extern "C" fn(f64) -> f64> = l.get(b"twice").unwrap();
        assert_eq!(twice(21.0), 42.0);
        assert!(l.get::<unsafe extern "C" fn()>(b"half_").is_err());
    }
    assert!(a
        .cargo_directives()
        .contains(&"rerun-if-env-changed=VEO_REQUIRE_FORTRAN".to_string()));
    // Installing the compiler later reruns the build script: PATH and the
    // directories in it are watched.
    let d = a.cargo_directives();
    assert!(
        d.contains(&"rerun-if-env-changed=PATH".to_string()),
        "{d:?}"
    );
    let path = std::env::var_os("PATH").unwrap_or_default();
    let watched: Vec<_> = std::env::split_paths(&path)
        .filter(|p| p.is_absolute() && p.is_dir())
        .map(|p| format!("rerun-if-changed={}", p.display()))
        .collect();
    assert!(!watched.is_empty());
    assert!(watched.iter().all(|w| d.contains(w)), "{d:?}");
}

#[test]
fn only_the_existing_absolute_directories_of_path_are_watched() {
    let dir = scratch("optional-path");
    let _env = no_fortran(&dir);
    let orig = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<std::path::PathBuf> = std::env::split_paths(&orig).collect();
    let missing = dir.join("no-such-dir");
    dirs.extend([std::path::PathBuf::from("relative/bin"), missing.clone()]);
    std::env::set_var("PATH", std::env::join_paths(&dirs).unwrap());
    let built = mixed(&dir).optional(Language::Fortran).try_compile("mixed");
    std::env::set_var("PATH", &orig);
    let a = built.unwrap();
    let d = a.cargo_directives();
    assert!(
        d.contains(&"rerun-if-env-changed=PATH".to_string()),
        "{d:?}"
    );
    assert!(!d.iter().any(|l| l.contains("relative/bin")), "{d:?}");
    assert!(
        !d.contains(&format!("rerun-if-changed={}", missing.display())),
        "{d:?}"
    );
}

#[test]
fn without_optional_a_missing_compiler_fails_the_build() {
    let dir = scratch("optional-not-asked");
    let _env = no_fortran(&dir);
    let e = mixed(&dir).try_compile("mixed").unwrap_err();
    assert!(matches!(e, Error::ToolNotFound { .. }), "{e}");
    assert!(e.to_string().contains("no-such-gfortran"), "{e}");
}

#[test]
fn veo_require_fortran_turns_the_skip_into_an_error() {
    let dir = scratch("optional-required");
    let _env = no_fortran(&dir);
    assert_eq!(require_env_var(Language::Fortran), "VEO_REQUIRE_FORTRAN");
    std::env::set_var("VEO_REQUIRE_FORTRAN", "1");
    let e = mixed(&dir)
        .optional(Language::Fortran)
        .try_compile("mixed")
        .unwrap_err();
    assert!(matches!(e, Error::ToolNotFound { .. }), "{e}");
    assert!(e.to_string().contains("the Fortran compiler"), "{e}");

    // `0` is the default: left out again.
    std::env::set_var("VEO_REQUIRE_FORTRAN", "0");
    let a = mixed(&dir)
        .optional(Language::Fortran)
        .try_compile("mixed")
        .unwrap();
    assert_eq!(a.left_out(), &[Language::Fortran]);
}

#[test]
fn a_bad_veo_require_value_is_refused() {
    let dir = scratch("optional-bad");
    let _env = no_fortran(&dir);
    std::env::set_var("VEO_REQUIRE_FORTRAN", "sometimes");
    let e = mixed(&dir)
        .optional(Language::Fortran)
        .try_compile("mixed")
        .unwrap_err();
    assert!(matches!(e, Error::InvalidEnv { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("VEO_REQUIRE_FORTRAN") && text.contains("sometimes"),
        "{text}"
    );
}

#[test]
fn a_library_of_the_optional_language_alone_still_fails() {
    let dir = scratch("optional-alone");
    let _env = no_fortran(&dir);
    let e = Build::new()
        .out_dir(dir.join("out"))
        .cargo_metadata(false)
        .fortran_source("f", "subroutine f\nend\n")
        .optional(Language::Fortran)
        .try_compile("alone")
        .unwrap_err();
    assert!(matches!(e, Error::ToolNotFound { .. }), "{e}");
}

#[test]
fn a_found_compiler_builds_the_optional_sources() {
    if !common::fortran() {
        return;
    }
    let dir = scratch("optional-found");
    let _env = no_fortran(&dir);
    std::env::remove_var("FC");
    let a = mixed(&dir)
        .optional(Language::Fortran)
        .try_compile("mixed")
        .unwrap();
    assert!(a.left_out().is_empty());
    // SAFETY: the library was just built from the kernel source above, and each symbol is called with the C signature its source defines.
    unsafe {
        let l = libloading::Library::new(a.path()).unwrap();
        let half: libloading::Symbol<unsafe extern "C" fn(*const f64) -> f64> =
            l.get(b"half_").unwrap();
        assert_eq!(half(&8.0), 4.0);
    }
}
