//! Compiler selection, with fake `ncc`/`nc++`/`nfort` scripts that record
//! their arguments. These tests change environment variables, so each one
//! holds `ENV` for its whole run (this file is its own test binary).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::{scratch, write};
use veo_build::{Build, Error, Target};

static ENV: Mutex<()> = Mutex::new(());

const VARS: &[&str] = &[
    "NCC",
    "NCXX",
    "NFORT",
    "VEO_NEC_ROOT",
    "VEO_BUILD_TARGET",
    "CC",
    "CXX",
    "FC",
    "AR",
];

/// Holds the lock, with every variable veo-build reads unset and
/// `VEO_NEC_ROOT` pointing at an empty prefix (so a real /opt/nec/ve does
/// not count).
struct Env<'a> {
    _guard: std::sync::MutexGuard<'a, ()>,
}

impl Env<'_> {
    fn new(dir: &Path) -> Env<'static> {
        let guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
        for v in VARS {
            std::env::remove_var(v);
        }
        std::fs::create_dir_all(dir.join("no-nec")).unwrap();
        std::env::set_var("VEO_NEC_ROOT", dir.join("no-nec"));
        Env { _guard: guard }
    }

    fn set(&self, k: &str, v: impl AsRef<std::ffi::OsStr>) {
        std::env::set_var(k, v);
    }
}

impl Drop for Env<'_> {
    fn drop(&mut self) {
        for v in VARS {
            std::env::remove_var(v);
        }
    }
}

/// A fake compiler at `path`: appends `---` and its arguments, one per
/// line, to `path.log`, and creates the file after `-o`.
fn fake(path: &Path) -> PathBuf {
    let log = path.with_extension("log");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' --- \"$@\" >> '{}'\nout=\nprev=\nfor a in \"$@\"; do\n  [ \"$prev\" = -o ] && out=\"$a\"\n  prev=\"$a\"\ndone\n[ -n \"$out\" ] && : > \"$out\"\nexit 0\n",
        log.display()
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

/// The recorded invocations of a fake compiler.
fn calls(log: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.split("---\n")
        .filter(|c| !c.is_empty())
        .map(|c| c.lines().map(String::from).collect())
        .collect()
}

fn warnings(d: &[String]) -> Vec<&String> {
    d.iter().filter(|d| d.starts_with("warning=")).collect()
}

#[test]
fn nec_root_compilers_get_ve_shared_object_flags() {
    let dir = scratch("select-root");
    let env = Env::new(&dir);
    let root = dir.join("nec");
    let ncc_log = fake(&root.join("bin/ncc"));
    env.set("VEO_NEC_ROOT", &root);
    let a = Build::new()
        .out_dir(dir.join("out"))
        .file(write(
            &dir,
            "k/avg.c",
            "double average(double *a, int n);\n",
        ))
        .openmp(true)
        .opt_level(3)
        .compile("kernels");
    assert_eq!(a.target(), Target::Ve);
    let calls = calls(&ncc_log);
    assert_eq!(calls.len(), 2, "compile and link: {calls:#?}");
    let (compile, link) = (&calls[0], &calls[1]);
    for flag in ["-O3", "-fpic", "-fopenmp", "-c"] {
        assert!(
            compile.contains(&flag.to_string()),
            "{flag} not in {compile:?}"
        );
    }
    assert!(compile.iter().any(|a| a.ends_with("k/avg.c")));
    for flag in ["-shared", "-fpic", "-pthread", "-fopenmp"] {
        assert!(link.contains(&flag.to_string()), "{flag} not in {link:?}");
    }
    assert!(link.iter().any(|a| a.ends_with(".o")));
    let d = a.cargo_directives();
    assert!(warnings(d).is_empty(), "{d:#?}");
    let s = a.summary();
    assert!(
        s.contains("NEC Vector Engine") && s.contains("nec/bin/ncc"),
        "{s}"
    );
    for v in ["NCC", "VEO_NEC_ROOT"] {
        assert!(
            d.contains(&format!("rerun-if-env-changed={v}")),
            "{v}: {d:#?}"
        );
    }
    assert_eq!(a.path(), dir.join("out/libkernels.so"));
}

#[test]
fn nfort_variable_wins_and_links_fortran() {
    let dir = scratch("select-nfort");
    let env = Env::new(&dir);
    let log = fake(&dir.join("tools/my-nfort"));
    // A variable may carry arguments after the program.
    env.set(
        "NFORT",
        format!("{} -fextra", dir.join("tools/my-nfort").display()),
    );
    let a = Build::new()
        .out_dir(dir.join("out"))
        .fortran_source("f", "subroutine f\nend\n")
        .compile("f");
    assert_eq!(a.target(), Target::Ve);
    let calls = calls(&log);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0][0], "-fextra");
    assert!(calls[0].iter().any(|a| a.ends_with("f.f90")));
    assert!(calls[1].contains(&"-shared".to_string()));
    assert!(a.summary().contains("my-nfort"), "{}", a.summary());
}

#[test]
fn c_with_ncc_and_fortran_on_the_host_is_refused() {
    let dir = scratch("select-mixed");
    let env = Env::new(&dir);
    fake(&dir.join("tools/ncc"));
    env.set("NCC", dir.join("tools/ncc"));
    let e = Build::new()
        .out_dir(dir.join("out"))
        .c_source("a", "void a(void) {}\n")
        .fortran_source("f", "subroutine f\nend\n")
        .try_compile("mixed")
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::MixedTargets { .. }), "{text}");
    assert!(
        text.contains("C would be compiled by ncc for the NEC Vector Engine"),
        "{text}"
    );
    assert!(
        text.contains("Fortran would be compiled by gfortran for the emulated VE"),
        "{text}"
    );
}

#[test]
fn veo_build_target_pins_the_target() {
    let dir = scratch("select-pin");
    let env = Env::new(&dir);
    let root = dir.join("nec");
    let log = fake(&root.join("bin/ncc"));
    env.set("VEO_NEC_ROOT", &root);
    env.set("VEO_BUILD_TARGET", "emulated");
    let a = Build::new()
        .out_dir(dir.join("out"))
        .c_source("a", "int a(void) { return 7; }\n")
        .try_compile("pinned")
        .unwrap();
    assert_eq!(a.target(), Target::Emulated);
    assert!(calls(&log).is_empty(), "ncc must not run");
    let d = a.cargo_directives();
    assert!(a.summary().contains("emulated VE"), "{}", a.summary());
    assert!(warnings(d).is_empty(), "{d:#?}");
    assert!(d.contains(&"rerun-if-env-changed=VEO_BUILD_TARGET".to_string()));
    // Pinned to the emulator, NCC is not even read.
    assert!(!d.contains(&"rerun-if-env-changed=NCC".to_string()));

    env.set("VEO_BUILD_TARGET", "ve");
    env.set("VEO_NEC_ROOT", dir.join("no-nec"));
    let e = Build::new()
        .out_dir(dir.join("out"))
        .c_source("a", "int a(void) { return 7; }\n")
        .try_compile("pinned")
        .unwrap_err();
    assert!(matches!(e, Error::ToolNotFound { .. }), "{e}");
    assert!(e.to_string().contains("no-nec/bin/ncc"), "{e}");

    env.set("VEO_BUILD_TARGET", "gpu");
    let e = Build::new()
        .out_dir(dir.join("out"))
        .c_source("a", "")
        .try_compile("pinned")
        .unwrap_err();
    assert!(matches!(e, Error::InvalidEnv { .. }), "{e}");
}

#[test]
fn a_missing_compiler_names_the_variable_and_the_command() {
    let dir = scratch("select-missing");
    let env = Env::new(&dir);
    env.set("NCC", "/nonexistent/bin/ncc");
    let e = Build::new()
        .out_dir(dir.join("out"))
        .c_source("a", "")
        .try_compile("missing")
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::ToolNotFound { .. }), "{text}");
    assert!(
        text.contains("(NCC)") && text.contains("/nonexistent/bin/ncc -O"),
        "{text}"
    );
}

#[test]
fn host_cc_variable_is_honoured() {
    let dir = scratch("select-cc");
    let env = Env::new(&dir);
    let log = fake(&dir.join("tools/my-cc"));
    env.set("CC", dir.join("tools/my-cc"));
    let a = Build::new()
        .out_dir(dir.join("out"))
        .c_source("a", "")
        .try_compile("cc")
        .unwrap();
    assert_eq!(a.target(), Target::Emulated);
    assert_eq!(calls(&log).len(), 2);
    assert!(a
        .cargo_directives()
        .contains(&"rerun-if-env-changed=CC".to_string()));
}

#[test]
fn static_mode_for_a_real_ve_needs_mk_veorun_static() {
    let dir = scratch("select-static");
    let env = Env::new(&dir);
    fake(&dir.join("tools/ncc"));
    env.set("NCC", dir.join("tools/ncc"));
    let e = Build::new()
        .out_dir(dir.join("out"))
        .c_source("a", "")
        .static_link(true)
        .try_compile("st")
        .unwrap_err();
    assert!(matches!(e, Error::ToolNotFound { .. }), "{e}");
    assert!(e.to_string().contains("mk_veorun_static"), "{e}");
}
