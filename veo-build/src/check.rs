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

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use veo_syntax::{Intent, Kernel, Options, ParamKind, RetType};

use crate::builder::{mkdir, write_if_changed, Unit};
use crate::command::Tool;
use crate::env::Context;
use crate::error::{Error, Result};
use crate::lang::Language;
use crate::toolchain::{self, Target, Toolchain};

/// Most alternative C types tried for one kernel (see [`variants`]).
const MAX_VARIANTS: usize = 256;

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

/// One Rust declaration that applies to the library being built.
struct Decl {
    file: PathBuf,
    kernel: Kernel,
    options: Options,
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
        if let Some(why) = unchecked_reason(&d.kernel) {
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
                let checker = Checker {
                    tool,
                    cxx: unit.lang == Language::Cxx,
                    flags: req.flags[&unit.lang].clone(),
                    include,
                    def_file: unit.path.clone(),
                    dir: &dir,
                    stem: format!("{i}"),
                };
                mismatches.extend(checker.run(&decls)?);
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
                mismatches.extend(check_fortran(ctx, req, i, &decls, &dir)?);
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
        let abs = crate::builder::absolute(file)?;
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
fn unchecked_reason(k: &Kernel) -> Option<&'static str> {
    if !k.is_c_checkable() {
        return Some("a type known only by name");
    }
    let wild_param = k.params.iter().any(|p| {
        matches!(
            p.kind,
            ParamKind::VePtr(None) | ParamKind::Stack { elem: None, .. }
        )
    });
    if wild_param || matches!(k.ret, RetType::VePtr(None)) {
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

/// Runs the checking units of one C or C++ source (or of a C header
/// written by gfortran).
struct Checker<'a> {
    tool: Tool,
    cxx: bool,
    flags: Vec<OsString>,
    /// The `#include` line that brings in the definitions.
    include: String,
    /// Where the definitions are, for messages.
    def_file: PathBuf,
    dir: &'a Path,
    stem: String,
}

impl Checker<'_> {
    fn run(&self, decls: &[&Decl]) -> Result<Vec<Mismatch>> {
        let mut text = self.prelude();
        if self.cxx {
            text.push_str(
                "template <class A, class B> struct veo_build_same { static const bool value = false; };\n\
                 template <class A> struct veo_build_same<A, A> { static const bool value = true; };\n",
            );
        }
        for d in decls {
            let tests: Vec<String> = variants(&d.kernel, &d.options)
                .iter()
                .map(|ty| {
                    if self.cxx {
                        format!("veo_build_same<decltype(&{}), {ty}>::value", d.symbol)
                    } else {
                        format!("_Generic(&{}, {ty}: 1, default: 0)", d.symbol)
                    }
                })
                .collect();
            let assert = if self.cxx {
                "static_assert"
            } else {
                "_Static_assert"
            };
            text.push_str(&format!(
                "{}\n{assert}({}, \"veo_build_mismatch({})\");\n",
                d.line_directive(),
                tests.join(" || "),
                d.symbol
            ));
        }
        let (ok, cmd, output) = self.compile("check", &text)?;
        if ok {
            return Ok(Vec::new());
        }
        let failed: Vec<&&Decl> = decls
            .iter()
            .filter(|d| output.contains(&format!("veo_build_mismatch({})", d.symbol)))
            .collect();
        if failed.is_empty() {
            return Err(Error::CommandFailed {
                command: cmd,
                status: "the signature check did not compile".into(),
                output,
            });
        }
        // Redeclare each failing kernel exactly, alone, for the compiler's
        // note on its definition.
        let mut found = Vec::new();
        for d in failed {
            let linkage = if self.cxx { "extern \"C\" " } else { "" };
            let text = format!(
                "{}{}\n{linkage}{}\n",
                self.prelude(),
                d.line_directive(),
                d.kernel.c_prototype(&d.options)
            );
            let (_, cmd, output) = self.compile(&format!("explain-{}", d.symbol), &text)?;
            let mut m = d.mismatch(Problem::Signature);
            let note = definition_note(&output, &d.symbol, &d.file);
            m.c_file = Some(
                note.as_ref()
                    .map_or_else(|| display_path(&self.def_file), |n| n.0.clone()),
            );
            m.c_line = note.as_ref().map(|n| n.1);
            m.c_decl = note.map(|n| n.2);
            m.command = cmd;
            m.output = output;
            found.push(m);
        }
        Ok(found)
    }

    fn prelude(&self) -> String {
        let std = if self.cxx {
            "#include <cstddef>\n#include <cstdint>\n"
        } else {
            "#include <stddef.h>\n#include <stdint.h>\n"
        };
        format!(
            "/* Generated by veo-build: the signature check of {} */\n{}\n{std}",
            self.def_file.display(),
            self.include
        )
    }

    /// Compiles `text` with `-fsyntax-only`; returns success, the command
    /// line and the output.
    fn compile(&self, what: &str, text: &str) -> Result<(bool, String, String)> {
        let ext = if self.cxx { "cpp" } else { "c" };
        let path = self.dir.join(format!("{what}-{}.{ext}", self.stem));
        write_if_changed(&path, text)?;
        let mut cmd = self.tool.cmd();
        cmd.args(&self.flags)
            .args(["-fsyntax-only", "-w"])
            .arg(&path);
        let (ok, _, output) = cmd.run_status()?;
        Ok((ok, cmd.to_string(), output))
    }
}

/// Fortran: gfortran writes the C prototypes of the source, a C unit
/// checks them.
fn check_fortran(
    ctx: &mut Context,
    req: &Request<'_>,
    i: usize,
    decls: &[&Decl],
    dir: &Path,
) -> Result<Vec<Mismatch>> {
    let unit = &req.units[i];
    let fc = req.chain.compiler(Language::Fortran);
    let mods = dir.join(format!("fmod-{i}"));
    mkdir(&mods)?;
    let mut cmd = fc.cmd();
    cmd.args(&req.flags[&Language::Fortran])
        .args([
            "-fsyntax-only",
            "-fc-prototypes",
            "-fc-prototypes-external",
            "-J",
        ])
        .arg(&mods)
        .arg(&unit.path);
    let header_text = cmd.run_stdout()?;
    let header = dir.join(format!("fortran-{i}.h"));
    write_if_changed(&header, &header_text)?;
    let cc = toolchain::host_compiler(ctx, Language::C);
    let checker = Checker {
        tool: cc,
        cxx: false,
        flags: req.preprocessor.to_vec(),
        include: format!("#include \"{}\"", c_escape(&header.display().to_string())),
        def_file: unit.path.clone(),
        dir,
        stem: format!("f{i}"),
    };
    let source = fs::read_to_string(&unit.path).unwrap_or_default();
    let mut found = checker.run(decls)?;
    for m in &mut found {
        // The note points into the generated header: show the Fortran
        // definition and gfortran's C view of it instead.
        m.c_file = Some(display_path(&unit.path));
        m.c_line = fortran_line(&source, &m.kernel);
        m.c_decl = header_text
            .lines()
            .find(|l| {
                l.contains(&format!("{} (", m.kernel)) || l.contains(&format!("{}(", m.kernel))
            })
            .map(|l| format!("gfortran's C prototype of it: {}", l.trim()));
    }
    Ok(found)
}

/// The line of `subroutine name` / `function name` (or of
/// `bind(C, name="symbol")`) in a Fortran source.
fn fortran_line(source: &str, symbol: &str) -> Option<usize> {
    let name = symbol.strip_suffix('_').unwrap_or(symbol).to_lowercase();
    let bind = format!("name=\"{}\"", symbol.to_lowercase());
    source
        .lines()
        .position(|line| {
            let l = line.to_lowercase();
            let code = l.split('!').next().unwrap_or("");
            let words: Vec<&str> = code
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .collect();
            let defines = words
                .windows(2)
                .any(|w| (w[0] == "subroutine" || w[0] == "function") && w[1] == name);
            defines && words.first().is_none_or(|w| *w != "end")
                || code.replace(' ', "").contains(&bind)
        })
        .map(|i| i + 1)
}

/// The C types of the kernel's definition the Rust declaration allows: a
/// function pointer type per combination of ABI-identical spellings
/// (`const` or not on pointers the kernel may only read, `long` or
/// `long long` for 64-bit integers, `char` or `signed char`), capped at
/// [`MAX_VARIANTS`] (beyond, `const` alone varies, then nothing).
fn variants(k: &Kernel, o: &Options) -> Vec<String> {
    // (C type, whether the kernel may declare it `const`)
    let types: Vec<(String, bool)> = std::iter::once((k.ret.c_type(), true))
        .chain(k.params.iter().map(|p| {
            let read_only = !matches!(
                p.kind,
                ParamKind::Stack {
                    intent: Intent::InOut | Intent::Out,
                    ..
                }
            );
            (p.c_type(o), read_only)
        }))
        .collect();
    let slots = |spell: bool, konst: bool| -> Vec<Vec<String>> {
        types
            .iter()
            .map(|(t, read_only)| slot(t, *read_only && konst, spell))
            .collect()
    };
    let count = |s: &[Vec<String>]| {
        s.iter()
            .map(Vec::len)
            .try_fold(1usize, |a, n| a.checked_mul(n))
            .unwrap_or(usize::MAX)
    };
    let mut chosen = slots(true, true);
    if count(&chosen) > MAX_VARIANTS {
        chosen = slots(false, true);
    }
    if count(&chosen) > MAX_VARIANTS {
        chosen = slots(false, false);
    }
    let (ret, params) = chosen.split_first().expect("the return slot");
    let mut lists: Vec<Vec<&str>> = vec![Vec::new()];
    for p in params {
        lists = lists
            .into_iter()
            .flat_map(|prefix| {
                p.iter().map(move |t| {
                    let mut v = prefix.clone();
                    v.push(t.as_str());
                    v
                })
            })
            .collect();
    }
    let mut out = Vec::new();
    for r in ret {
        for ps in &lists {
            let list = if ps.is_empty() {
                "void".to_string()
            } else {
                ps.join(", ")
            };
            out.push(format!("{r} (*)({list})"));
        }
    }
    out
}

/// The spellings of one C type: `const` optional on pointers the kernel
/// may only read, and ABI-identical integer types when `spell`.
fn slot(c_type: &str, vary_const: bool, spell: bool) -> Vec<String> {
    let t = c_type.trim();
    let Some(pointee) = t.strip_suffix('*').map(str::trim) else {
        return if spell {
            alternatives(t).into_iter().map(String::from).collect()
        } else {
            vec![t.to_string()]
        };
    };
    let (is_const, base) = match pointee.strip_prefix("const ") {
        Some(b) => (true, b.trim()),
        None => (false, pointee),
    };
    let bases = if spell {
        pointee_alternatives(base)
    } else {
        vec![base]
    };
    let mut out = Vec::new();
    for b in bases {
        let (first, second) = (format!("{b} *"), format!("const {b} *"));
        if !vary_const {
            out.push(if is_const { second } else { first });
        } else if is_const {
            out.extend([second, first]);
        } else {
            out.extend([first, second]);
        }
    }
    out
}

/// Distinct C types with the same size and signedness as `base` on LP64
/// (x86_64 and the VE), `base` first.
fn alternatives(base: &str) -> Vec<&str> {
    match base {
        "int8_t" | "signed char" => vec![base, "char"],
        "char" => vec![base, "signed char"],
        "int64_t" | "long" => vec![base, "long long"],
        "long long" => vec![base, "long"],
        "uint64_t" | "unsigned long" => vec![base, "unsigned long long"],
        "unsigned long long" => vec![base, "unsigned long"],
        _ => vec![base],
    }
}

/// The pointees a pointer to `base` may have in C with the same meaning:
/// [`alternatives`], `char` for any byte (strings are `char *`), and
/// `void`, which commits to no type.
fn pointee_alternatives(base: &str) -> Vec<&str> {
    let mut v = alternatives(base);
    if matches!(base, "uint8_t" | "unsigned char") {
        v.push("char");
    }
    if base != "void" {
        v.push("void");
    }
    v
}

/// The note (or error) where the compiler shows the definition of
/// `symbol`: its file, line and text. gcc and clang style
/// (`file:line:col: note: ...`).
fn definition_note(
    output: &str,
    symbol: &str,
    rust_file: &Path,
) -> Option<(PathBuf, usize, String)> {
    let rust = rust_file.display().to_string();
    output.lines().find_map(|line| {
        let (loc, msg) = line.split_once(": note: ")?;
        let mut parts = loc.rsplitn(3, ':');
        let (col, lno, file) = (parts.next()?, parts.next()?, parts.next()?);
        let (lno, _) = (lno.parse::<usize>().ok()?, col.parse::<usize>().ok()?);
        if file == rust || !msg.contains(symbol) {
            return None;
        }
        Some((display_path(Path::new(file)), lno, msg.trim().to_string()))
    })
}

/// `path` relative to the working directory when under it.
fn display_path(p: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf())
}

/// The Rust declaration as written: `fn average(a: VePtr<f64>, n: i32) -> f64`.
fn rust_decl(k: &Kernel) -> String {
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

/// Escapes a path for a C string literal.
fn c_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(src: &str) -> (Kernel, Options) {
        let mut blocks = veo_syntax::parse_file(src).unwrap();
        let b = blocks.remove(0);
        (b.kernels.into_iter().next().unwrap(), b.options)
    }

    #[test]
    fn variants_allow_const_only_where_the_kernel_may_only_read() {
        let (k, o) = kernel(
            "#[ve_kernel(library = \"k\")] extern \"C\" { fn f(a: &[f64], b: &mut [f64], c: VePtr<f32>) -> i32; }",
        );
        let v = variants(&k, &o);
        assert_eq!(v[0], "int (*)(const double *, double *, float *)");
        // const or not, double or void for `a`; double or void for `b`;
        // const or not, float or void for `c`.
        assert_eq!(v.len(), 4 * 2 * 4, "{v:?}");
        assert!(v.contains(&"int (*)(void *, void *, const void *)".to_string()));
        assert!(v.contains(&"int (*)(double *, double *, const float *)".to_string()));
        assert!(!v.iter().any(|t| t.contains(", const double *, ")));
    }

    #[test]
    fn variants_of_64_bit_integers_and_void() {
        let (k, o) = kernel("#[ve_kernel(library = \"k\")] extern \"C\" { fn g(n: i64); fn h(); }");
        assert_eq!(
            variants(&k, &o),
            ["void (*)(int64_t)", "void (*)(long long)"]
        );
        let blocks =
            veo_syntax::parse_file("#[ve_kernel(library = \"k\")] extern \"C\" { fn h(); }")
                .unwrap();
        assert_eq!(variants(&blocks[0].kernels[0], &o), ["void (*)(void)"]);
    }

    #[test]
    fn variants_are_capped() {
        let params: Vec<String> = (0..12).map(|i| format!("p{i}: &[i64]")).collect();
        let (k, o) = kernel(&format!(
            "#[ve_kernel(library = \"k\")] extern \"C\" {{ fn many({}); }}",
            params.join(", ")
        ));
        let v = variants(&k, &o);
        assert_eq!(v.len(), 1, "12 params: exact types only");
        assert!(v[0].starts_with("void (*)(const int64_t *, "), "{}", v[0]);
    }

    #[test]
    fn rust_decl_reads_like_source() {
        let (k, _) = kernel(
            "#[ve_kernel(library = \"k\")] extern \"C\" { fn f(#[out] a: &mut [f64], p: VePtr<f32>, n: usize) -> VePtr<u8>; }",
        );
        assert_eq!(
            rust_decl(&k),
            "fn f(#[out] a: &mut [f64], p: VePtr<f32>, n: usize) -> VePtr<u8>"
        );
    }

    #[test]
    fn notes_name_the_definition() {
        let out = "src/decls.rs:3:8: error: conflicting types for 'average'; have 'double(float *, int)'\n\
                   /w/kernels/avg.c:1:8: note: previous definition of 'average' with type 'double(double *, int)'\n";
        let (file, line, text) =
            definition_note(out, "average", Path::new("src/decls.rs")).unwrap();
        assert_eq!((file, line), (PathBuf::from("/w/kernels/avg.c"), 1));
        assert!(text.contains("double(double *, int)"));
        assert_eq!(
            definition_note("nothing here", "average", Path::new("x.rs")),
            None
        );
    }

    #[test]
    fn fortran_definition_lines() {
        let src = "! average\nmodule m\ncontains\n  real(8) function Average(a, n)\n  end function average\n  subroutine s(x) bind(C, name=\"scale_it\")\n";
        assert_eq!(fortran_line(src, "average_"), Some(4));
        assert_eq!(fortran_line(src, "scale_it"), Some(6));
        assert_eq!(fortran_line(src, "missing_"), None);
    }
}
