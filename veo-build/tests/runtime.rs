//! The builder at run time: inline sources, C, C++ and Fortran kernels
//! loaded with `dlopen` and called; failures with their command lines.

mod common;

use common::{scratch, write};
use veo_build::{Build, Error, Target};

const AVERAGE_C: &str = "double average(double *a, int n) {\n  double s = 0;\n  for (int i = 0; i < n; i++) s += a[i];\n  return s / n;\n}\n";

fn build(dir: &std::path::Path) -> Build {
    let mut b = Build::new();
    b.out_dir(dir.join("out")).target(Target::Emulated);
    b
}

#[test]
fn inline_c_source_is_built_loaded_and_called() {
    let dir = scratch("inline-c");
    let lib = build(&dir)
        .c_source("avg", AVERAGE_C)
        .try_compile("avg")
        .unwrap();
    assert_eq!(lib.path(), dir.join("out/libavg.so"));
    assert!(!lib.is_static());
    assert_eq!(lib.target(), Target::Emulated);
    assert_eq!(lib.env_var(), "VEO_LIB_avg");
    assert!(lib
        .cargo_directives()
        .contains(&format!("rustc-env=VEO_LIB_avg={}", lib.path().display())));
    assert!(dir.join("out/veo-build/avg/src/avg.c").is_file());
    // SAFETY: the library was just built from the kernel source above, and each symbol is called with the C signature its source defines.
    unsafe {
        let l = libloading::Library::new(lib.path()).unwrap();
        let f: libloading::Symbol<unsafe extern "C" fn(*const f64, i32) -> f64> =
            l.get(b"average").unwrap();
        assert_eq!(f([1.0, 2.0, 6.0].as_ptr(), 3), 3.0);
    }
}

#[test]
fn cpp_and_fortran_kernels_in_one_library() {
    if !common::fortran() {
        return;
    }
    let dir = scratch("mixed");
    let lib = build(&dir)
        .cpp_source(
            "scale",
            "#include <vector>\nextern \"C\" void scale(double *x, unsigned long n, double f) {\n  std::vector<double> v(x, x + n);\n  for (unsigned long i = 0; i < n; i++) x[i] = v[i] * f;\n}\n",
        )
        .fortran_source(
            "twice",
            "function twice(x, n) result(s)\n  integer :: n\n  real(8) :: x(n), s\n  s = 2 * sum(x)\nend function\n",
        )
        .c_source("avg", AVERAGE_C)
        .try_compile("mixed")
        .unwrap();
    // SAFETY: the library was just built from the kernel source above, and each symbol is called with the C signature its source defines.
    unsafe {
        let l = libloading::Library::new(lib.path()).unwrap();
        let scale: libloading::Symbol<unsafe extern "C" fn(*mut f64, u64, f64)> =
            l.get(b"scale").unwrap();
        let mut x = [1.0, 2.0];
        scale(x.as_mut_ptr(), 2, 3.0);
        assert_eq!(x, [3.0, 6.0]);
        // Fortran: lower-case symbol with `_`, every argument by reference.
        let twice: libloading::Symbol<unsafe extern "C" fn(*const f64, *const i32) -> f64> =
            l.get(b"twice_").unwrap();
        assert_eq!(twice(x.as_ptr(), &2), 18.0);
    }
}

#[test]
fn files_includes_defines_and_headers_are_tracked() {
    let dir = scratch("files");
    write(&dir, "inc/k.h", "#define FACTOR 3\n");
    write(
        &dir,
        "kernels/k.c",
        "#include \"k.h\"\nint triple(int x) { return x * FACTOR * BIAS; }\n",
    );
    write(&dir, "kernels/notes.txt", "not a source");
    write(&dir, "kernels/other.h", "/* a header: not compiled */");
    let lib = build(&dir)
        .files_in(dir.join("kernels"))
        .include(dir.join("inc"))
        .define("BIAS", "2")
        .opt_level(1)
        .try_compile("files")
        .unwrap();
    let d = lib.cargo_directives();
    for watched in ["kernels", "kernels/k.c", "inc/k.h"] {
        let line = format!("rerun-if-changed={}", dir.join(watched).display());
        assert!(d.contains(&line), "{line} not in {d:#?}");
    }
    assert!(!d.iter().any(|l| l.ends_with("notes.txt")));
    // SAFETY: the library was just built from the kernel source above, and each symbol is called with the C signature its source defines.
    unsafe {
        let l = libloading::Library::new(lib.path()).unwrap();
        let f: libloading::Symbol<unsafe extern "C" fn(i32) -> i32> = l.get(b"triple").unwrap();
        assert_eq!(f(5), 30);
    }
}

#[test]
fn every_variable_read_is_declared_once() {
    let dir = scratch("declared");
    let lib = build(&dir)
        .c_source("a", "int a(void) { return 1; }\n")
        .c_source("b", "int b(void) { return 2; }\n")
        .try_compile("declared")
        .unwrap();
    let declared: Vec<&str> = lib
        .cargo_directives()
        .iter()
        .filter_map(|d| d.strip_prefix("rerun-if-env-changed="))
        .collect();
    // The target is pinned, so only the host compiler's variables are read.
    assert_eq!(declared, ["CC", "CFLAGS"]);
    let warnings = lib
        .cargo_directives()
        .iter()
        .filter(|d| d.starts_with("warning="))
        .count();
    assert_eq!(warnings, 0, "a warning only when the user must act");
}

#[test]
fn flag_if_supported_keeps_only_what_the_compiler_takes() {
    let dir = scratch("flags");
    let lib = build(&dir)
        .c_source("a", "int a(void) { return 1; }\n")
        .flag_if_supported("-fno-such-flag-veo")
        .flag_if_supported("-Wall")
        .try_compile("flags");
    assert!(lib.is_ok(), "{}", lib.unwrap_err());
    let e = build(&dir)
        .c_source("a", "int a(void) { return 1; }\n")
        .flag("-fno-such-flag-veo")
        .try_compile("flags")
        .unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::CommandFailed { .. }), "{text}");
    assert!(
        text.contains("cc ") && text.contains("-fno-such-flag-veo"),
        "{text}"
    );
}

#[test]
fn compile_errors_carry_the_command_and_the_compiler_output() {
    let dir = scratch("broken");
    let e = build(&dir)
        .c_source("broken", "int broken( {\n")
        .try_compile("broken")
        .unwrap_err();
    let text = e.to_string();
    let Error::CommandFailed {
        command, output, ..
    } = &e
    else {
        panic!("{text}")
    };
    assert!(
        command.starts_with("cc ") && command.contains("broken.c"),
        "{command}"
    );
    assert!(output.contains("broken.c:1"), "{output}");
    assert!(text.contains(command.as_str()) && text.contains(output.as_str()));
}

#[test]
fn bad_inputs_are_errors() {
    let dir = scratch("bad");
    let e = build(&dir)
        .file(dir.join("nope.c"))
        .try_compile("x")
        .unwrap_err();
    assert!(matches!(e, Error::MissingSource { .. }), "{e}");
    assert!(e.to_string().contains("nope.c"));

    let f = write(&dir, "k.rs", "");
    let e = build(&dir).file(&f).try_compile("x").unwrap_err();
    assert!(matches!(e, Error::UnknownLanguage { .. }), "{e}");

    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let e = build(&dir)
        .files_in(dir.join("empty"))
        .try_compile("x")
        .unwrap_err();
    assert!(matches!(e, Error::EmptyDir { .. }), "{e}");

    let e = build(&dir).try_compile("x").unwrap_err();
    assert!(matches!(e, Error::NoSources { .. }), "{e}");

    let e = build(&dir)
        .c_source("a", "")
        .try_compile("lib/x")
        .unwrap_err();
    assert!(matches!(e, Error::InvalidName { .. }), "{e}");
    let e = build(&dir)
        .c_source("a b", "")
        .try_compile("x")
        .unwrap_err();
    assert!(matches!(e, Error::InvalidName { .. }), "{e}");

    // No OUT_DIR at run time: the output directory must be given.
    assert!(std::env::var_os("OUT_DIR").is_none());
    let e = Build::new().c_source("a", "").try_compile("x").unwrap_err();
    assert!(matches!(e, Error::NoOutDir), "{e}");
}

#[test]
fn rebuilding_replaces_the_library() {
    let dir = scratch("rebuild");
    let v = |n: i32| {
        let lib = build(&dir)
            .c_source("v", &format!("int version(void) {{ return {n}; }}\n"))
            .try_compile("v")
            .unwrap();
        // SAFETY: a library just built from `int version(void)` alone: no constructor runs.
        let l = unsafe { libloading::Library::new(lib.path()).unwrap() };
        // SAFETY: `version` is `int version(void)` in that source.
        let f: libloading::Symbol<unsafe extern "C" fn() -> i32> =
            unsafe { l.get(b"version").unwrap() };
        // SAFETY: as declared in the source.
        unsafe { f() }
    };
    assert_eq!(v(1), 1);
    // The first library is closed (dropped) before the second is loaded:
    // dlopen would otherwise return the cached handle.
    assert_eq!(v(2), 2);
}

/// Run as a child by `directives_are_printed_only_in_a_build_script`.
#[test]
fn child_builds_a_library() {
    let Some(dir) = std::env::var_os("VEO_BUILD_TEST_CHILD") else {
        return;
    };
    build(std::path::Path::new(&dir))
        .c_source("a", "int a(void) { return 1; }\n")
        .try_compile("child")
        .unwrap();
}

#[test]
fn directives_are_printed_only_in_a_build_script() {
    let dir = scratch("child");
    let run = |build_script: bool| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "child_builds_a_library",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VEO_BUILD_TEST_CHILD", &dir);
        for v in ["OUT_DIR", "TARGET", "HOST"] {
            if build_script {
                cmd.env(v, dir.join("unused"));
            } else {
                cmd.env_remove(v);
            }
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let at_run_time = run(false);
    assert!(!at_run_time.contains("cargo:"), "{at_run_time}");
    let in_script = run(true);
    let lib = dir.join("out/libchild.so");
    assert!(
        in_script.contains(&format!(
            "cargo:rustc-env=VEO_LIB_child={}\n",
            lib.display()
        )),
        "{in_script}"
    );
    assert!(
        in_script.contains("\nveo-build: library `child` is built for"),
        "{in_script}"
    );
    assert!(!in_script.contains("cargo:warning"), "{in_script}");
}

/// The kernels and declarations of the `build_kernels` example, as that
/// example uses them: they build, every declaration but the struct one is
/// checked and agrees, the kernel computes, and an `f32` in place of `f64`
/// is stopped.
#[test]
fn the_build_kernels_example_sources_agree_and_a_wrong_declaration_is_stopped() {
    let dir = scratch("example-stats");
    let kernels = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kernels");
    let lib = build(&dir)
        .file(kernels.join("stats.c"))
        .bindings(kernels.join("stats.rs"))
        .try_compile("stats")
        .unwrap();
    let unchecked = lib.unchecked();
    assert_eq!(unchecked.len(), 1, "{unchecked:?}");
    assert!(unchecked[0].starts_with("`shift` ("), "{unchecked:?}");
    // SAFETY: stats.c defines `average(const double *, int)`, as the check
    // above confirmed; the array holds the 4 doubles it reads.
    unsafe {
        let l = libloading::Library::new(lib.path()).unwrap();
        let average: libloading::Symbol<unsafe extern "C" fn(*const f64, i32) -> f64> =
            l.get(b"average").unwrap();
        assert_eq!(average([1.0, 2.0, 6.0, 7.0].as_ptr(), 4), 4.0);
    }
    let source = std::fs::read_to_string(kernels.join("stats.rs")).unwrap();
    let right = "pub fn average(a: &[f64], n: i32) -> f64;";
    assert!(source.contains(right));
    let wrong = write(
        &dir,
        "wrong.rs",
        &source.replace(right, "pub fn average(a: &[f32], n: i32) -> f64;"),
    );
    match build(&dir.join("wrong"))
        .file(kernels.join("stats.c"))
        .bindings(&wrong)
        .try_compile("stats")
    {
        Err(Error::Mismatch { mismatches }) => {
            assert_eq!(mismatches.len(), 1, "{mismatches:#?}");
            assert_eq!(mismatches[0].kernel, "average");
            assert_eq!(
                mismatches[0].expected,
                "double average(const float *a, int n);"
            );
            assert_eq!(mismatches[0].c_line, Some(8));
        }
        other => panic!("expected one mismatch, got {other:?}"),
    }
}
