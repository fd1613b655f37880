//! The signature cross-check: the `#[ve_kernel]` declarations of Rust files
//! against the kernels' C, C++ and Fortran definitions, with the compiler as
//! the judge.
//!
//! For each source that defines a declared kernel (read from the symbol
//! table of its object file), a checking translation unit `#include`s the
//! source and asserts, with `#line` set to the Rust declaration, that the
//! kernel's type is one of the C types the Rust declaration allows:
//! `_Static_assert(_Generic(&k, T: 1, default: 0) || ...)` in C,
//! `static_assert(same<decltype(&k), T>::value || ...)` in C++. For
//! Fortran, gfortran writes C prototypes of the source
//! (`-fc-prototypes -fc-prototypes-external`) and a C unit checks those.
//! When an assertion fails, a second unit redeclares the kernel with the
//! exact prototype, so that the compiler's note names the C definition.
//!
//! This module finds the declarations and which source defines each;
//! `spellings` lists the C types a declaration allows (from veo-syntax's
//! C type model), `probe` runs the C and C++ units, `fortran` has gfortran
//! write the C view of a Fortran source first, and `report` is what the
//! user is shown.

mod fortran;
mod probe;
mod report;
mod spellings;

pub use report::{Mismatch, Problem};

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use veo_syntax::{CBase, Kernel, Options};

use crate::builder::Unit;
use crate::env::Context;
use crate::error::{Error, Result};
use crate::files::{absolute, mkdir};
use crate::lang::Language;
use crate::toolchain::{Target, Toolchain};
use probe::{c_escape, Probe};
use report::rust_decl;

/// What [`check`] needs from the build.
pub(crate) struct Request<'a> {
    pub(crate) name: &'a str,
    pub(crate) is_static: bool,
    /// Languages left out of the library: their blocks are not checked.
    pub(crate) left_out: &'a [Language],
    /// Files given to `Build::bindings`.
    pub(crate) rust_files: &'a [PathBuf],
    /// The package's own files that mention `ve_kernel`: those without a
    /// block of the library, or that do not parse, are passed over quietly.
    pub(crate) discovered: &'a [PathBuf],
    pub(crate) units: &'a [Unit],
    pub(crate) objects: &'a [PathBuf],
    pub(crate) chain: &'a Toolchain,
    /// The compile flags of each language (optimisation, `-I`, `-D`, user flags).
    pub(crate) flags: &'a BTreeMap<Language, Vec<OsString>>,
    /// `-I` and `-D` alone.
    pub(crate) preprocessor: &'a [OsString],
    pub(crate) work: &'a Path,
}

/// One Rust declaration that applies to the library being built.
struct Decl {
    /// The Rust file, as given or found.
    file: PathBuf,
    kernel: Kernel,
    options: Options,
    /// The kernel's C symbol.
    symbol: String,
}

impl Decl {
    fn mismatch(&self, problem: Problem) -> Mismatch {
        Mismatch {
            kernel: self.symbol.clone(),
            problem,
            rust_file: self.file.clone(),
            rust_line: self.kernel.line(),
            rust_decl: rust_decl(&self.kernel),
            expected: self.kernel.c_prototype(&self.options),
            c_file: None,
            c_line: None,
            c_decl: None,
            command: String::new(),
            output: String::new(),
        }
    }

    /// `#line N "file"` for diagnostics at the Rust declaration.
    fn line_directive(&self) -> String {
        format!(
            "#line {} \"{}\"",
            self.kernel.line(),
            c_escape(&self.file.display().to_string())
        )
    }
}

/// Runs the check; every disagreement found is in the error. Returns the
/// kernels it could not judge, with the reason.
pub(crate) fn check(ctx: &mut Context, req: &Request<'_>) -> Result<Vec<String>> {
    let decls = parse_decls(ctx, req)?;
    if decls.is_empty() {
        return Ok(Vec::new());
    }
    let dir = req.work.join("check");
    mkdir(&dir)?;

    // Which object defines which symbol.
    let mut defined: Vec<Option<BTreeSet<String>>> = Vec::new();
    for obj in req.objects {
        let data = fs::read(obj).map_err(|e| Error::io("cannot read", obj, e))?;
        defined.push(crate::elf::defined_symbols(&data));
    }
    let all_known = defined.iter().all(Option::is_some);

    let mut mismatches = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut per_unit: BTreeMap<usize, Vec<&Decl>> = BTreeMap::new();
    for d in &decls {
        let units: Vec<usize> = (0..req.units.len())
            .filter(|&i| defined[i].as_ref().is_some_and(|s| s.contains(&d.symbol)))
            .collect();
        if units.is_empty() {
            if all_known {
                let hint = not_defined_hint(d, &defined);
                mismatches.push(d.mismatch(Problem::NotDefined { hint }));
            } else {
                skipped.push(format!("`{}` (an object file could not be read)", d.symbol));
            }
            continue;
        }
        if let Some(why) = unchecked_reason(&d.kernel, &d.options) {
            skipped.push(format!(
                "`{}` ({}:{}: {why})",
                d.symbol,
                d.file.display(),
                d.kernel.line()
            ));
            continue;
        }
        for i in units {
            per_unit.entry(i).or_default().push(d);
        }
    }

    for (i, decls) in per_unit {
        let unit = &req.units[i];
        match unit.lang {
            Language::C | Language::Cxx => {
                let tool = req.chain.compiler(unit.lang).clone();
                let include = format!(
                    "#include \"{}\"",
                    c_escape(&unit.path.display().to_string())
                );
                let probe = Probe {
                    tool,
                    cxx: unit.lang == Language::Cxx,
                    flags: req.flags[&unit.lang].clone(),
                    include,
                    def_file: unit.path.clone(),
                    dir: &dir,
                    stem: format!("{i}"),
                };
                mismatches.extend(probe.run(&decls)?);
            }
            Language::Fortran => {
                if req.chain.target == Target::Ve {
                    for d in &decls {
                        skipped.push(format!(
                            "`{}` (Fortran with nfort: only gfortran can write C prototypes)",
                            d.symbol
                        ));
                    }
                    continue;
                }
                mismatches.extend(fortran::check_fortran(ctx, req, i, &decls, &dir)?);
            }
        }
    }

    // Nothing the user can act on: in the build log, not a warning.
    if !skipped.is_empty() {
        ctx.log(&format!(
            "veo-build: signatures of library `{}` not checked: {}",
            req.name,
            skipped.join(", ")
        ));
    }
    if mismatches.is_empty() {
        Ok(skipped)
    } else {
        Err(Error::Mismatch { mismatches })
    }
}

/// Parses every Rust file and keeps the declarations of this library.
fn parse_decls(ctx: &mut Context, req: &Request<'_>) -> Result<Vec<Decl>> {
    let mut decls = Vec::new();
    let given = req.rust_files.iter().map(|f| (f, true));
    for (file, explicit) in given.chain(req.discovered.iter().map(|f| (f, false))) {
        let abs = absolute(file)?;
        if explicit {
            ctx.rerun_if_changed(&abs);
        }
        let source = fs::read_to_string(&abs).map_err(|e| Error::io("cannot read", file, e))?;
        let blocks = match veo_syntax::parse_file(&source) {
            Ok(blocks) => blocks,
            // rustc reports the package's own files when it compiles them.
            Err(e) if !explicit => {
                ctx.log(&format!("veo-build: {} left to rustc: {e}", file.display()));
                continue;
            }
            Err(e) => {
                return Err(Error::Syntax {
                    path: file.clone(),
                    line: e.span().start().line,
                    message: e
                        .into_iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                })
            }
        };
        let mut found = false;
        for block in blocks {
            let o = &block.options;
            let ours = o.library.as_deref() == Some(req.name)
                || (o.library.is_none() && o.is_static && req.is_static);
            if !ours {
                continue;
            }
            found = true;
            if o.fortran && req.left_out.contains(&Language::Fortran) {
                continue;
            }
            for kernel in block.kernels {
                decls.push(Decl {
                    file: file.clone(),
                    symbol: kernel.symbol(o),
                    options: o.clone(),
                    kernel,
                });
            }
        }
        if !found && explicit {
            ctx.warning(&format!(
                "veo-build: {} has no #[ve_kernel(library = \"{}\")] block to check",
                file.display(),
                req.name
            ));
        }
    }
    Ok(decls)
}

/// Why a kernel's signature cannot be checked, if it cannot.
fn unchecked_reason(k: &Kernel, o: &Options) -> Option<&'static str> {
    if !k.is_c_checkable() {
        return Some("a type known only by name");
    }
    // `void *` in the C model: Rust's declaration names no C type that a
    // definition taking `struct point *` could be compared with.
    let mut types = k.params.iter().map(|p| p.c_type(o)).chain([k.ret.c_type()]);
    if types.any(|t| t.is_pointer() && *t.base() == CBase::Void) {
        return Some("a pointer to a struct or untyped memory, `void *` in C");
    }
    None
}

/// A likely cause of a missing definition.
fn not_defined_hint(d: &Decl, defined: &[Option<BTreeSet<String>>]) -> Option<String> {
    let all: BTreeSet<&String> = defined.iter().flatten().flatten().collect();
    let plain = d.kernel.name.to_string();
    let mangled = format!("{}{}", plain.len(), plain);
    if all
        .iter()
        .any(|s| s.starts_with("_Z") && s.contains(&mangled))
    {
        return Some(format!(
            "a C++ function `{plain}` exists with a mangled name: declare it `extern \"C\"`"
        ));
    }
    let lower = plain.to_lowercase();
    if let Some(s) = all
        .iter()
        .find(|s| s.starts_with("__") && s.ends_with(&format!("_MOD_{lower}")))
    {
        return Some(format!(
            "`{s}` is a Fortran module procedure: give it `bind(C, name=\"{}\")`",
            d.symbol
        ));
    }
    let fortran = format!("{lower}_");
    if !d.options.fortran && all.contains(&fortran) {
        return Some(format!(
            "`{fortran}` is defined: a Fortran procedure needs `#[ve_kernel(..., fortran)]`"
        ));
    }
    if d.options.fortran && all.contains(&plain) {
        return Some(format!(
            "`{plain}` is defined (bind(C)?): drop `fortran` or use #[link_name = \"{plain}\"]"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_without_a_c_type_to_compare_are_not_checked() {
        let blocks = veo_syntax::parse_file(
            "#[ve_kernel(library = \"k\")] extern \"C\" {
                fn by_ref(p: &Point);
                fn untyped(v: VePtr);
                fn returns_struct() -> VePtr<Point>;
                fn alias(x: Real);
                fn typed(x: &[f64], v: VePtr<u8>) -> VePtr<u8>;
            }",
        )
        .unwrap();
        let o = &blocks[0].options;
        let why: Vec<Option<&str>> = blocks[0]
            .kernels
            .iter()
            .map(|k| unchecked_reason(k, o))
            .collect();
        let void = Some("a pointer to a struct or untyped memory, `void *` in C");
        assert_eq!(
            why,
            [void, void, void, Some("a type known only by name"), None]
        );
    }
}
