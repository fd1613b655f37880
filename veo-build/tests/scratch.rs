//! Scratch crates built with `cargo build`: a build script using
//! veo-build with the signature check (passing, failing on a mismatch,
//! failing on a compile error) and static mode. The fixtures in
//! `tests/fixtures/` are copied to a temporary directory and built there,
//! all into one shared target directory (the first build warms it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn target_dir() -> PathBuf {
    tmp().join("veo-build-scratch-target")
}

/// Copies fixture `fixture` to a fresh directory named `variant`, with
/// package name `veo-build-scratch-<variant>`; returns the directory.
fn prepare(fixture: &str, variant: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let dst = tmp().join("veo-build-scratch").join(variant);
    let _ = std::fs::remove_dir_all(&dst);
    copy_dir(&src, &dst);
    let manifest = std::fs::read_to_string(dst.join("Cargo.toml.in"))
        .unwrap()
        .replace("@NAME@", &package(variant))
        .replace("@VEO_BUILD@", env!("CARGO_MANIFEST_DIR"))
        .replace(
            "@VEO_RUNTIME@",
            &format!("{}/../veo-runtime", env!("CARGO_MANIFEST_DIR")),
        );
    std::fs::write(dst.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock file, when there is one, pins the versions
    // already downloaded (the build is offline).
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    if lock.is_file() {
        std::fs::copy(lock, dst.join("Cargo.lock")).unwrap();
    }
    dst
}

fn package(variant: &str) -> String {
    format!("veo-build-scratch-{variant}")
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
}

/// `cargo build --offline` of the crate in `dir`, for the emulated VE.
fn cargo_build(dir: &Path) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(["build", "--offline", "--target-dir"])
        .arg(target_dir())
        .env("VEO_BUILD_TARGET", "emulated");
    for v in [
        "NCC",
        "NCXX",
        "NFORT",
        "VEO_NEC_ROOT",
        "CC",
        "CXX",
        "FC",
        "AR",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn binary(variant: &str) -> PathBuf {
    target_dir().join("debug").join(package(variant))
}

/// The build script's recorded stdout (`target/debug/build/<pkg>-*/output`).
fn script_output(variant: &str) -> String {
    let build = target_dir().join("debug/build");
    let prefix = format!("{}-", package(variant));
    let mut found = String::new();
    for entry in std::fs::read_dir(build).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && p.join("output").is_file() {
            found.push_str(&std::fs::read_to_string(p.join("output")).unwrap());
        }
    }
    found
}

fn assert_no_panic(out: &str) {
    assert!(
        !out.contains("panicked") && !out.contains("RUST_BACKTRACE"),
        "a panic instead of an error:\n{out}"
    );
}

#[test]
fn build_script_builds_checks_and_hands_over_the_library() {
    if !common::fortran() {
        return;
    }
    let dir = prepare("checked", "agree");
    let out = cargo_build(&dir);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    // Nothing for the user to act on, so no warning.
    assert!(!all.contains("warning"), "{all}");

    // The crate was handed the library's path.
    let run = Command::new(binary("agree")).output().unwrap();
    let path = String::from_utf8(run.stdout).unwrap().trim().to_string();
    assert!(
        path.ends_with("/out/libkernels.so") && Path::new(&path).is_file(),
        "{path}"
    );

    // Sources, the included header and the variables are watched.
    let script = script_output("agree");
    assert!(
        script.contains("veo-build: library `kernels` is built for the emulated VE"),
        "{script}"
    );
    for watched in [
        "kernels/avg.c",
        "kernels/avg.h",
        "kernels/scale.cpp",
        "kernels/twice.f90",
        "src/decls.rs",
    ] {
        let line = format!("cargo:rerun-if-changed={}", dir.join(watched).display());
        assert!(script.contains(&line), "{line} missing:\n{script}");
    }
    for var in ["VEO_BUILD_TARGET", "CC", "CXX", "FC"] {
        assert!(
            script.contains(&format!("cargo:rerun-if-env-changed={var}\n")),
            "{var}:\n{script}"
        );
    }

    // SAFETY: the library was just built from the kernel source above, and each symbol is called with the C signature its source defines.
    unsafe {
        let l = libloading::Library::new(&path).unwrap();
        let average: libloading::Symbol<unsafe extern "C" fn(*const f64, i32) -> f64> =
            l.get(b"average").unwrap();
        assert_eq!(average([1.0, 2.0, 6.0].as_ptr(), 3), 3.0);
        let scale: libloading::Symbol<unsafe extern "C" fn(*mut f64, usize, f64)> =
            l.get(b"scale").unwrap();
        let mut x = [1.0, 2.0];
        scale(x.as_mut_ptr(), 2, 0.5);
        assert_eq!(x, [0.5, 1.0]);
        let twice: libloading::Symbol<unsafe extern "C" fn(*const f64) -> f64> =
            l.get(b"twice_").unwrap();
        assert_eq!(twice(&21.0), 42.0);
    }
}

#[test]
fn build_script_fails_on_a_mismatch_naming_both_places() {
    if !common::fortran() {
        return;
    }
    let dir = prepare("checked", "mismatch");
    let decls = std::fs::read_to_string(dir.join("src/decls.rs")).unwrap();
    let decls = decls
        .replace(
            "a: VePtr<f64>, n: i32) -> f64",
            "a: VePtr<f32>, n: i32) -> f64",
        )
        .replace(
            "fn scale(x: &mut [f64], n: usize, f: f64);",
            "fn scale(x: &mut [f64], n: usize);",
        )
        .replace("fn twice(x: f64) -> f64;", "fn twice(x: f64) -> f32;");
    std::fs::write(dir.join("src/decls.rs"), decls).unwrap();
    let out = cargo_build(&dir);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert_no_panic(&all);
    for expected in [
        "kernel `average`: the Rust declaration does not match the definition",
        "Rust declaration: src/decls.rs:5: fn average(a: VePtr<f32>, n: i32) -> f64",
        "which needs the C definition: double average(float *a, int n);",
        "C definition: kernels/avg.c:3",
        "kernel `scale`",
        "Rust declaration: src/decls.rs:6: fn scale(x: &mut [f64], n: usize)",
        "C definition: kernels/scale.cpp:3",
        "kernel `twice_`",
        "Rust declaration: src/decls.rs:11: fn twice(x: f64) -> f32",
        "C definition: kernels/twice.f90:1",
    ] {
        assert!(all.contains(expected), "`{expected}` missing:\n{all}");
    }
}

#[test]
fn build_script_fails_on_a_compile_error_with_the_command() {
    let dir = prepare("checked", "broken");
    std::fs::write(
        dir.join("kernels/avg.c"),
        "double average(double *a, int n) {\n  return a[0] +;\n}\n",
    )
    .unwrap();
    let out = cargo_build(&dir);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert_no_panic(&all);
    assert!(
        all.contains("error: veo-build failed to build library `kernels`"),
        "{all}"
    );
    assert!(all.contains("command failed (exit status 1)"), "{all}");
    let cmd = all
        .lines()
        .find(|l| l.trim_start().starts_with("cc ") && l.contains("avg.c"))
        .unwrap_or_else(|| panic!("no command line:\n{all}"));
    assert!(cmd.contains("-fpic") && cmd.contains(" -c "), "{cmd}");
    assert!(all.contains("avg.c:2:"), "the compiler's message:\n{all}");
}

#[test]
fn static_mode_links_the_kernels_into_the_program() {
    let dir = prepare("static", "static");
    let out = cargo_build(&dir);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let exe = binary("static");
    let nm = Command::new("nm")
        .arg("-D")
        .arg("--defined-only")
        .arg(&exe)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&nm.stdout);
    assert!(
        table.lines().any(|l| l.ends_with(" T average")),
        "average is not exported:\n{table}"
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "3");
    let script = script_output("static");
    for d in [
        "cargo:rustc-link-lib=static:+whole-archive=kernels",
        "cargo:rustc-link-arg=-Wl,--export-dynamic",
        "cargo:rustc-env=VEO_LIB_kernels=static",
    ] {
        assert!(script.contains(d), "{d} missing:\n{script}");
    }
}

#[test]
fn the_package_sources_are_checked_without_being_named() {
    let dir = prepare("discovered", "discovered");
    let out = cargo_build(&dir);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(!all.contains("warning"), "{all}");
    let script = script_output("discovered");
    for watched in ["src", "tests"] {
        let line = format!("cargo:rerun-if-changed={}\n", dir.join(watched).display());
        assert!(script.contains(&line), "{line} missing:\n{script}");
    }

    // A declaration in src/ that disagrees, and one in tests/ that no
    // source defines, fail the build, named where they are.
    let kernels = std::fs::read_to_string(dir.join("src/kernels.rs")).unwrap();
    std::fs::write(
        dir.join("src/kernels.rs"),
        kernels.replace("a: VePtr<f64>, n: i32", "a: VePtr<f32>, n: i32"),
    )
    .unwrap();
    let scale = std::fs::read_to_string(dir.join("tests/scale.rs")).unwrap();
    std::fs::write(
        dir.join("tests/scale.rs"),
        scale.replace("fn scale(", "fn scale_all(x: &mut [f64]);\n    fn scale("),
    )
    .unwrap();
    let out = cargo_build(&dir);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert_no_panic(&all);
    for expected in [
        "kernel `average`: the Rust declaration does not match the definition",
        "Rust declaration: src/kernels.rs:5: fn average(a: VePtr<f32>, n: i32) -> f64",
        "kernel `scale_all`: declared in Rust but defined by no source of the library",
        "Rust declaration: tests/scale.rs:5: fn scale_all(x: &mut [f64])",
    ] {
        assert!(all.contains(expected), "`{expected}` missing:\n{all}");
    }
    assert!(!all.contains("nowhere"), "another library's block:\n{all}");

    // Turned off, the same sources build.
    let script = std::fs::read_to_string(dir.join("build.rs")).unwrap();
    std::fs::write(
        dir.join("build.rs"),
        script.replace(".compile(", ".check_signatures(false)\n        .compile("),
    )
    .unwrap();
    let out = cargo_build(&dir);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_program_runs_after_its_library_is_deleted_and_when_copied_alone() {
    let dir = prepare("program", "program");
    let out = cargo_build(&dir);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let exe = binary("program");
    let run = |exe: &Path, var: Option<&str>| {
        let mut cmd = Command::new(exe);
        if let Some(v) = var {
            cmd.env("VEO_LIB_kernels_PATH", v);
        }
        cmd.output().unwrap()
    };
    let first = run(&exe, None);
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), "3");

    // `cargo clean` or `cargo install`: the library of the build is gone.
    let build = target_dir().join("debug/build");
    let mut removed = 0;
    for entry in std::fs::read_dir(&build).unwrap() {
        let lib = entry.unwrap().path().join("out/libkernels.so");
        if lib.to_string_lossy().contains(&package("program")) && lib.is_file() {
            std::fs::remove_file(&lib).unwrap();
            removed += 1;
        }
    }
    assert_eq!(removed, 1, "the library of the build");
    let again = run(&exe, None);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), "3");

    // Copied alone somewhere else.
    let alone = tmp().join("veo-build-scratch/program-alone");
    let _ = std::fs::remove_dir_all(&alone);
    std::fs::create_dir_all(&alone).unwrap();
    let copy = alone.join("program");
    std::fs::copy(&exe, &copy).unwrap();
    let moved = run(&copy, None);
    assert!(moved.status.success(), "{}", text(&moved));
    assert_eq!(String::from_utf8_lossy(&moved.stdout).trim(), "3");

    // The run-time override, wrong: the error names it.
    let wrong = run(&copy, Some("/nonexistent/libkernels.so"));
    assert!(!wrong.status.success());
    let err = text(&wrong);
    assert!(
        err.contains("$VEO_LIB_kernels_PATH = /nonexistent/libkernels.so: no such file"),
        "{err}"
    );
}

#[test]
fn static_kernels_work_from_every_binary_and_a_downstream_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/static_crates");
    let dst = tmp().join("veo-build-scratch/static_crates");
    let _ = std::fs::remove_dir_all(&dst);
    copy_dir(&src, &dst);
    for krate in ["kern", "app"] {
        let manifest = std::fs::read_to_string(dst.join(krate).join("Cargo.toml.in"))
            .unwrap()
            .replace("@VEO_BUILD@", env!("CARGO_MANIFEST_DIR"))
            .replace(
                "@VEO_RUNTIME@",
                &format!("{}/../veo-runtime", env!("CARGO_MANIFEST_DIR")),
            );
        std::fs::write(dst.join(krate).join("Cargo.toml"), manifest).unwrap();
        let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        std::fs::copy(lock, dst.join(krate).join("Cargo.lock")).unwrap();
    }
    for (krate, exe) in [("kern", "solo"), ("app", "veo-build-scratch-app")] {
        let out = cargo_build(&dst.join(krate));
        assert!(out.status.success(), "{krate}: {}", text(&out));
        let run = Command::new(target_dir().join("debug").join(exe))
            .output()
            .unwrap();
        assert!(run.status.success(), "{exe}: {}", text(&run));
        assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "3", "{exe}");
    }
}
