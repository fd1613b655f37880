//! The signature cross-check at run time: agreeing and disagreeing C, C++
//! and Fortran definitions, with the places named in the error.

mod common;

use std::path::PathBuf;

use common::{scratch, write};
use veo_build::{Build, Error, Mismatch, Problem, Target};

/// Builds `sources` (label, text) as library `k` checked against `decls`.
fn check(
    test: &str,
    decls: &str,
    sources: &[(&str, &str)],
) -> (PathBuf, Result<Vec<String>, Vec<Mismatch>>) {
    let dir = scratch(test);
    let rs = write(&dir, "decls.rs", decls);
    let mut b = Build::new();
    b.out_dir(dir.join("out"))
        .target(Target::Emulated)
        .bindings(&rs);
    for (name, text) in sources {
        b.file(write(&dir, name, text));
    }
    let r = match b.try_compile("k") {
        Ok(a) => Ok(a.unchecked().to_vec()),
        Err(Error::Mismatch { mismatches }) => Err(mismatches),
        Err(e) => panic!("not a mismatch: {e}"),
    };
    (rs, r)
}

fn block(kernels: &str) -> String {
    format!("use veo_runtime::{{ve_kernel, VePtr}};\n\n#[ve_kernel(library = \"k\")]\nextern \"C\" {{\n{kernels}}}\n")
}

fn one(m: Result<Vec<String>, Vec<Mismatch>>) -> Mismatch {
    let mut m = m.expect_err("a mismatch");
    assert_eq!(m.len(), 1, "{m:#?}");
    m.remove(0)
}

fn ends(p: &Option<PathBuf>, name: &str) -> bool {
    p.as_deref().is_some_and(|p| p.ends_with(name))
}

#[test]
fn agreeing_c_cpp_and_fortran_pass_with_abi_identical_spellings() {
    if !common::fortran() {
        return;
    }
    let decls = block(
        "    fn average(a: VePtr<f64>, n: i32) -> f64;\n\
         \x20   fn sum(a: &[f64], n: i64) -> f64;\n\
         \x20   fn fill(#[out] x: &mut [u64], n: usize) -> VePtr<u8>;\n\
         \x20   fn scale(x: &mut [f64], n: usize, f: f32);\n\
         \x20   fn by_struct(p: &Point);\n\
         \x20   fn copy(s: &[u8]) -> VePtr<u8>;\n\
         \x20   fn release(p: VePtr<f64>);\n",
    )
        + "#[ve_kernel(library = \"k\", fortran)]\nextern \"C\" { fn twice(x: f64) -> f64; }\n\
         #[ve_kernel(library = \"k\")]\nextern \"C\" { fn bound(x: VePtr<f64>, n: i32) -> f64; }\n\
         #[ve_kernel(library = \"other\")]\nextern \"C\" { fn elsewhere(); }\n";
    let (_, r) = check(
        "agree",
        &decls,
        &[
            // `double *` for a read-only `&[f64]`, `long long` for an i64,
            // `const` on a VePtr the kernel only reads, `char *` for bytes,
            // `void *` for any pointer.
            (
                "avg.c",
                "#include <stdint.h>\n#include <stddef.h>\n\
                 double average(const double *a, int n) { double s = 0; for (int i = 0; i < n; i++) s += a[i]; return s / n; }\n\
                 double sum(double *a, long long n) { double s = 0; while (n--) s += a[n]; return s; }\n\
                 uint8_t *fill(uint64_t *x, size_t n) { while (n--) x[n] = n; return 0; }\n\
                 struct point { int x, y; };\nvoid by_struct(const struct point *p) { (void)p; }\n\
                 char *copy(const char *s) { return (char *)s; }\nvoid release(void *p) { (void)p; }\n",
            ),
            ("scale.cpp", "extern \"C\" void scale(double *x, unsigned long n, float f) { while (n--) x[n] *= f; }\n"),
            (
                "twice.f90",
                "function twice(x)\n  real(8) :: x, twice\n  twice = 2 * x\nend function\n\
                 function bound(x, n) bind(C)\n  use iso_c_binding\n  integer(c_int), value :: n\n  real(c_double) :: x(n), bound\n  bound = sum(x)\nend function\n",
            ),
        ],
    );
    let unchecked = r.unwrap_or_else(|m| panic!("{m:#?}"));
    let warning = unchecked
        .iter()
        .find(|d| d.contains("by_struct"))
        .expect("the struct kernel is listed as unchecked");
    assert!(
        warning.contains("`by_struct`") && warning.contains("decls.rs:9"),
        "{warning}"
    );
}

#[test]
fn f32_against_double_names_kernel_rust_line_and_c_definition() {
    let (rs, r) = check(
        "f32",
        &block("    fn average(a: VePtr<f32>, n: i32) -> f64;\n"),
        &[(
            "avg.c",
            "/* the kernel */\ndouble average(double *a, int n) { return a[0] * n; }\n",
        )],
    );
    let m = one(r);
    assert_eq!(m.kernel, "average");
    assert_eq!(m.problem, Problem::Signature);
    assert_eq!((m.rust_file.as_path(), m.rust_line), (rs.as_path(), 5));
    assert_eq!(m.rust_decl, "fn average(a: VePtr<f32>, n: i32) -> f64");
    assert_eq!(m.expected, "double average(float *a, int n);");
    assert!(ends(&m.c_file, "avg.c") && m.c_line == Some(2), "{m}");
    assert!(
        m.c_decl
            .as_deref()
            .unwrap_or("")
            .contains("double(double *, int)"),
        "{m}"
    );
    let text = m.to_string();
    assert!(text.contains(&format!("{}:5", rs.display())), "{text}");
    assert!(
        text.contains("avg.c:2") && text.contains("-fsyntax-only"),
        "{text}"
    );
}

#[test]
fn wrong_count_and_wrong_return_type_fail() {
    let (_, r) = check(
        "count",
        &block("    fn two(a: i32, b: i32) -> i32;\n    fn ret(a: i32) -> f64;\n"),
        &[(
            "k.c",
            "int two(int a) { return a; }\n\nfloat ret(int a) { return a; }\n",
        )],
    );
    let m = r.expect_err("two mismatches");
    let names: Vec<(&str, usize, Option<usize>)> = m
        .iter()
        .map(|m| (m.kernel.as_str(), m.rust_line, m.c_line))
        .collect();
    assert_eq!(names, [("two", 5, Some(1)), ("ret", 6, Some(3))]);
}

#[test]
fn writable_buffer_against_const_pointer_fails() {
    let (_, r) = check(
        "const",
        &block("    fn scale(x: &mut [f64], n: usize);\n"),
        &[(
            "k.c",
            "void scale(const double *x, unsigned long n) { (void)x; (void)n; }\n",
        )],
    );
    assert_eq!(one(r).kernel, "scale");
}

#[test]
fn cpp_mismatch_and_missing_extern_c() {
    let (_, r) = check(
        "cpp",
        &block("    fn scale(x: &mut [f64], n: usize, f: f64);\n    fn mangled(n: i32) -> i32;\n"),
        &[(
            "k.cpp",
            "extern \"C\" void scale(float *x, unsigned long n, double f) { (void)x; (void)n; (void)f; }\n\
             int mangled(int n) { return n; }\n",
        )],
    );
    let m = r.expect_err("mismatches");
    assert_eq!(m.len(), 2, "{m:#?}");
    let nd = m.iter().find(|m| m.kernel == "mangled").unwrap();
    let Problem::NotDefined { hint: Some(hint) } = &nd.problem else {
        panic!("{nd}")
    };
    assert!(hint.contains("extern \"C\""), "{hint}");
    let sig = m.iter().find(|m| m.kernel == "scale").unwrap();
    assert_eq!(sig.problem, Problem::Signature);
    assert!(ends(&sig.c_file, "k.cpp") && sig.c_line == Some(1), "{sig}");
}

#[test]
fn fortran_mismatch_names_the_fortran_definition() {
    if !common::fortran() {
        return;
    }
    let decls =
        "#[ve_kernel(library = \"k\", fortran)]\nextern \"C\" {\n    fn twice(x: f64) -> f64;\n}\n";
    let (_, r) = check(
        "fortran",
        decls,
        &[("f.f90", "! single precision\nfunction twice(x)\n  real(4) :: x, twice\n  twice = 2 * x\nend function\n")],
    );
    let m = one(r);
    assert_eq!((m.kernel.as_str(), m.rust_line), ("twice_", 3));
    assert!(ends(&m.c_file, "f.f90") && m.c_line == Some(2), "{m}");
    assert!(
        m.c_decl
            .as_deref()
            .unwrap_or("")
            .contains("float twice_ (float *x)"),
        "{m}"
    );
}

#[test]
fn undefined_kernel_and_fortran_hint() {
    if !common::fortran() {
        return;
    }
    let (_, r) = check(
        "undefined",
        &block("    fn nowhere();\n    fn twice(x: VePtr<f64>) -> f64;\n"),
        &[(
            "f.f90",
            "function twice(x)\n  real(8) :: x, twice\n  twice = 2 * x\nend function\n",
        )],
    );
    let m = r.expect_err("mismatches");
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].problem, Problem::NotDefined { hint: None });
    let Problem::NotDefined { hint: Some(h) } = &m[1].problem else {
        panic!("{}", m[1])
    };
    assert!(h.contains("fortran"), "{h}");
}

/// Also: gfortran's module file goes to the build's own directory, never
/// into the current one (under Cargo, the crate's source tree).
#[test]
fn module_procedure_without_bind_c_is_pointed_out() {
    if !common::fortran() {
        return;
    }
    let decls =
        "#[ve_kernel(library = \"k\", fortran)]\nextern \"C\" {\n    fn half(x: f64) -> f64;\n}\n";
    let (_, r) = check(
        "module",
        decls,
        &[("m.f90", "module kern\ncontains\n  function half(x)\n    real(8) :: x, half\n    half = x / 2\n  end function\nend module\n")],
    );
    let m = one(r);
    let Problem::NotDefined { hint: Some(h) } = &m.problem else {
        panic!("{m}")
    };
    assert!(
        h.contains("__kern_MOD_half") && h.contains("bind(C, name=\"half_\")"),
        "{h}"
    );
    let stray = std::env::current_dir().unwrap().join("kern.mod");
    assert!(!stray.exists(), "{} was written", stray.display());
}

#[test]
fn unparsable_declarations_are_a_syntax_error_with_a_line() {
    let dir = scratch("syntax");
    let rs = write(
        &dir,
        "decls.rs",
        "#[ve_kernel(library = \"k\")]\nextern \"C\" {\n    fn f(s: String);\n}\n",
    );
    let e = Build::new()
        .out_dir(dir.join("out"))
        .target(Target::Emulated)
        .c_source("f", "void f(void) {}\n")
        .bindings(&rs)
        .try_compile("k")
        .unwrap_err();
    let Error::Syntax {
        path,
        line,
        message,
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!((path.as_path(), *line), (rs.as_path(), 3));
    assert!(message.contains("String"), "{message}");
}

#[test]
fn a_file_without_a_block_of_this_library_warns() {
    let dir = scratch("no-block");
    let rs = write(
        &dir,
        "decls.rs",
        "#[ve_kernel(library = \"other\")]\nextern \"C\" { fn f(); }\n",
    );
    let a = Build::new()
        .out_dir(dir.join("out"))
        .target(Target::Emulated)
        .c_source("f", "void g(void) {}\n")
        .bindings(&rs)
        .try_compile("k")
        .unwrap();
    assert!(
        a.cargo_directives()
            .iter()
            .any(|d| d.starts_with("warning=")
                && d.contains("no #[ve_kernel(library = \"k\")] block"))
    );
}
