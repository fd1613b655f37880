//! What the signature check reports: one [`Mismatch`] per kernel whose
//! Rust declaration and definition disagree, printed (through
//! [`Error::Mismatch`](crate::Error::Mismatch)) when the build fails.

use std::fmt;
use std::path::{Path, PathBuf};

use veo_syntax::Kernel;

/// What is wrong with one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The C type of the definition is not one the Rust declaration allows.
    Signature,
    /// No source of the library defines the kernel's symbol.
    NotDefined {
        /// A likely cause, when one is seen ("the C++ definition lacks
        /// `extern \"C\"`").
        hint: Option<String>,
    },
}

/// One kernel whose Rust declaration and definition disagree.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// The kernel's C symbol.
    pub kernel: String,
    /// What disagrees.
    pub problem: Problem,
    /// The Rust file, as given to [`Build::bindings`](crate::Build::bindings).
    pub rust_file: PathBuf,
    /// The line of the declaration's `fn`.
    pub rust_line: usize,
    /// The Rust declaration: `fn average(a: VePtr<f32>, n: i32) -> f64`.
    pub rust_decl: String,
    /// The C prototype it stands for: `double average(float *a, int n);`.
    pub expected: String,
    /// The file of the C, C++ or Fortran definition, when known.
    pub c_file: Option<PathBuf>,
    /// The line of the definition, when known.
    pub c_line: Option<usize>,
    /// The definition's type as the compiler showed it, when it did.
    pub c_decl: Option<String>,
    /// The command that showed the disagreement.
    pub command: String,
    /// The compiler's output.
    pub output: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rust = format!("{}:{}", self.rust_file.display(), self.rust_line);
        match &self.problem {
            Problem::Signature => writeln!(
                f,
                "kernel `{}`: the Rust declaration does not match the definition",
                self.kernel
            )?,
            Problem::NotDefined { .. } => writeln!(
                f,
                "kernel `{}`: declared in Rust but defined by no source of the library",
                self.kernel
            )?,
        }
        writeln!(f, "  Rust declaration: {rust}: {}", self.rust_decl)?;
        writeln!(f, "    which needs the C definition: {}", self.expected)?;
        match (&self.c_file, self.c_line) {
            (Some(file), Some(line)) => writeln!(f, "  C definition: {}:{line}", file.display())?,
            (Some(file), None) => writeln!(f, "  C definition: in {}", file.display())?,
            _ => {}
        }
        if let Some(decl) = &self.c_decl {
            writeln!(f, "    {decl}")?;
        }
        if let Problem::NotDefined { hint: Some(h) } = &self.problem {
            writeln!(f, "  hint: {h}")?;
        }
        if !self.command.is_empty() {
            writeln!(f, "  checked with: {}", self.command)?;
        }
        for line in self.output.lines() {
            writeln!(f, "  | {line}")?;
        }
        Ok(())
    }
}

/// The Rust declaration as written: `fn average(a: VePtr<f64>, n: i32) -> f64`.
pub(super) fn rust_decl(k: &Kernel) -> String {
    let params: Vec<String> = k
        .params
        .iter()
        .map(|p| {
            let out = if p.out_attr.is_some() { "#[out] " } else { "" };
            format!("{out}{}: {}", p.name, veo_syntax::type_text(&p.ty))
        })
        .collect();
    let ret = k
        .ret_type
        .as_ref()
        .map(|t| format!(" -> {}", veo_syntax::type_text(t)))
        .unwrap_or_default();
    format!("fn {}({}){ret}", k.name, params.join(", "))
}

/// `path` relative to the working directory when under it.
pub(super) fn display_path(p: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_decl_reads_like_source() {
        let blocks = veo_syntax::parse_file(
            "#[ve_kernel(library = \"k\")] extern \"C\" { fn f(#[out] a: &mut [f64], p: VePtr<f32>, n: usize) -> VePtr<u8>; }",
        )
        .unwrap();
        assert_eq!(
            rust_decl(&blocks[0].kernels[0]),
            "fn f(#[out] a: &mut [f64], p: VePtr<f32>, n: usize) -> VePtr<u8>"
        );
    }

    #[test]
    fn a_mismatch_names_both_sides() {
        let m = Mismatch {
            kernel: "average".into(),
            problem: Problem::Signature,
            rust_file: "src/decls.rs".into(),
            rust_line: 3,
            rust_decl: "fn average(a: VePtr<f32>, n: i32) -> f64".into(),
            expected: "double average(float *a, int n);".into(),
            c_file: Some("kernels/avg.c".into()),
            c_line: Some(1),
            c_decl: Some("previous definition of 'average'".into()),
            command: "cc -fsyntax-only check-0.c".into(),
            output: "error: conflicting types".into(),
        };
        assert_eq!(
            m.to_string(),
            "kernel `average`: the Rust declaration does not match the definition\n\
             \x20 Rust declaration: src/decls.rs:3: fn average(a: VePtr<f32>, n: i32) -> f64\n\
             \x20   which needs the C definition: double average(float *a, int n);\n\
             \x20 C definition: kernels/avg.c:1\n\
             \x20   previous definition of 'average'\n\
             \x20 checked with: cc -fsyntax-only check-0.c\n\
             \x20 | error: conflicting types\n"
        );
        let missing = Mismatch {
            problem: Problem::NotDefined {
                hint: Some("declare it `extern \"C\"`".into()),
            },
            c_file: None,
            c_decl: None,
            command: String::new(),
            output: String::new(),
            ..m
        };
        let text = missing.to_string();
        assert!(text.starts_with("kernel `average`: declared in Rust but defined by no source"));
        assert!(
            text.ends_with("  hint: declare it `extern \"C\"`\n"),
            "{text}"
        );
        assert!(!text.contains("checked with"));
    }
}
