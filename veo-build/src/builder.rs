//! [`Build`]: the builder, its options, the sources and the compile step
//! that `try_compile` runs before the link steps of `link`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::artifact::{lib_env_var, Artifact, STATIC_LIB};
use crate::command::Cmd;
use crate::depfile;
use crate::env::{cargo_var, Context};
use crate::error::{Error, Result};
use crate::files::{absolute, mkdir, object_stem, write_if_changed};
use crate::lang::Language;
use crate::toolchain::{opt_flag, Target, Toolchain};

/// Where a source comes from.
#[derive(Debug, Clone)]
enum Source {
    /// A file.
    File(PathBuf),
    /// Every source file of a directory.
    Dir(PathBuf),
    /// Text written into the build directory.
    Inline {
        label: String,
        lang: Language,
        text: String,
    },
}

/// One source file ready to compile.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    /// Absolute path.
    pub(crate) path: PathBuf,
    pub(crate) lang: Language,
}

/// A builder for one library of VE kernels, in the style of `cc::Build`.
///
/// ```no_run
/// // build.rs
/// veo_build::Build::new()
///     .files_in("kernels")
///     .openmp(true)
///     .compile("kernels");
/// ```
///
/// The crate then finds the library as `env!("VEO_LIB_kernels")`, which is
/// what `#[ve_kernel(library = "kernels")]` uses.
#[derive(Debug, Clone, Default)]
pub struct Build {
    sources: Vec<Source>,
    includes: Vec<PathBuf>,
    defines: Vec<(String, Option<String>)>,
    flags: Vec<(Option<Language>, String)>,
    flags_if_supported: Vec<String>,
    pub(crate) link_libs: Vec<String>,
    pub(crate) link_args: Vec<String>,
    pub(crate) openmp: bool,
    /// Real VE only: see [`Build::ve_arch`], [`Build::veo_hmem`], [`Build::aveo_ve`].
    pub(crate) ve_arch: Option<crate::ve::VeArch>,
    pub(crate) veo_hmem: bool,
    pub(crate) aveo_ve: bool,
    opt_level: Option<String>,
    debug: Option<bool>,
    out_dir: Option<PathBuf>,
    static_link: bool,
    target: Option<Target>,
    cargo_metadata: Option<bool>,
    bindings: Vec<PathBuf>,
    optional: Vec<Language>,
    no_check: bool,
}

impl Build {
    /// A builder with no sources, optimisation from Cargo's profile, no
    /// OpenMP, a shared library.
    pub fn new() -> Build {
        Build::default()
    }

    /// Adds a source file; its language follows its extension.
    pub fn file(&mut self, path: impl AsRef<Path>) -> &mut Build {
        self.sources.push(Source::File(path.as_ref().to_path_buf()));
        self
    }

    /// Adds several source files.
    pub fn files<P: AsRef<Path>>(&mut self, paths: impl IntoIterator<Item = P>) -> &mut Build {
        for p in paths {
            self.file(p);
        }
        self
    }

    /// Adds every C, C++ and Fortran source directly in `dir` (not in its
    /// subdirectories), in name order; other files (headers...) are skipped.
    /// The directory itself is watched, so adding a file reruns the build.
    pub fn files_in(&mut self, dir: impl AsRef<Path>) -> &mut Build {
        self.sources.push(Source::Dir(dir.as_ref().to_path_buf()));
        self
    }

    /// Adds a C source given as text (py-veo's `VeBuild.set_c_src`); it is
    /// written as `<label>.c` into the build directory.
    pub fn c_source(&mut self, label: &str, text: &str) -> &mut Build {
        self.inline(label, Language::C, text)
    }

    /// Adds a C++ source given as text (`<label>.cpp`). Kernels need
    /// `extern "C"`.
    pub fn cpp_source(&mut self, label: &str, text: &str) -> &mut Build {
        self.inline(label, Language::Cxx, text)
    }

    /// Adds a free-form Fortran source given as text (`<label>.f90`).
    pub fn fortran_source(&mut self, label: &str, text: &str) -> &mut Build {
        self.inline(label, Language::Fortran, text)
    }

    fn inline(&mut self, label: &str, lang: Language, text: &str) -> &mut Build {
        self.sources.push(Source::Inline {
            label: label.to_string(),
            lang,
            text: text.to_string(),
        });
        self
    }

    /// Adds an include directory (`-I`).
    pub fn include(&mut self, dir: impl AsRef<Path>) -> &mut Build {
        self.includes.push(dir.as_ref().to_path_buf());
        self
    }

    /// Defines a preprocessor macro: `-DNAME` or `-DNAME=VALUE`.
    pub fn define<'a>(&mut self, name: &str, value: impl Into<Option<&'a str>>) -> &mut Build {
        self.defines
            .push((name.to_string(), value.into().map(str::to_string)));
        self
    }

    /// Adds a flag to every compile command.
    pub fn flag(&mut self, flag: &str) -> &mut Build {
        self.flags.push((None, flag.to_string()));
        self
    }

    /// Adds a flag to the compile commands of one language.
    pub fn flag_for(&mut self, lang: Language, flag: &str) -> &mut Build {
        self.flags.push((Some(lang), flag.to_string()));
        self
    }

    /// Adds a flag to the compile commands of each language whose compiler
    /// accepts it (tried once on an empty source with `-Werror`).
    pub fn flag_if_supported(&mut self, flag: &str) -> &mut Build {
        self.flags_if_supported.push(flag.to_string());
        self
    }

    /// Links a library: `-l<lib>` for a shared library, a
    /// `cargo:rustc-link-lib=<lib>` in static mode.
    pub fn link_lib(&mut self, lib: &str) -> &mut Build {
        self.link_libs.push(lib.to_string());
        self
    }

    /// Adds an argument to the link command of the shared library
    /// (`-L/some/dir`, `-Wl,...`); unused in static mode.
    pub fn link_arg(&mut self, arg: &str) -> &mut Build {
        self.link_args.push(arg.to_string());
        self
    }

    /// Compiles and links with OpenMP (`-fopenmp`).
    pub fn openmp(&mut self, on: bool) -> &mut Build {
        self.openmp = on;
        self
    }

    /// Sets the optimisation level (`0`..`3`; `4` for ncc), overriding
    /// Cargo's `OPT_LEVEL`.
    pub fn opt_level(&mut self, level: u32) -> &mut Build {
        self.opt_level = Some(level.to_string());
        self
    }

    /// Sets the optimisation level from a string such as `"s"`.
    pub fn opt_level_str(&mut self, level: &str) -> &mut Build {
        self.opt_level = Some(level.to_string());
        self
    }

    /// Compiles with debug information (`-g`), overriding Cargo's `DEBUG`.
    pub fn debug(&mut self, on: bool) -> &mut Build {
        self.debug = Some(on);
        self
    }

    /// Builds into `dir` instead of `OUT_DIR`. Required at run time.
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Build {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Static mode. Emulated VE: build `lib<name>.a` and link it, whole,
    /// into the crate's programs, with the kernels exported in their dynamic
    /// symbol table so that the helper finds them as the "static" library.
    /// Real VE: link the objects into a VE helper program with
    /// `mk_veorun_static`, handed to the crate as `VEO_VEORUN_<name>`.
    pub fn static_link(&mut self, on: bool) -> &mut Build {
        self.static_link = on;
        self
    }

    /// Pins the target instead of choosing it from the environment.
    pub fn target(&mut self, target: Target) -> &mut Build {
        self.target = Some(target);
        self
    }

    /// Whether to print `cargo:` directives. By default they are printed
    /// inside a build script (Cargo set `OUT_DIR`, `TARGET` and `HOST`) and
    /// not at run time.
    pub fn cargo_metadata(&mut self, on: bool) -> &mut Build {
        self.cargo_metadata = Some(on);
        self
    }

    /// Also checks the kernels declared with
    /// `#[ve_kernel(library = "<name>")]` in the Rust file `path`, a file
    /// outside the package's own sources (which are always read, see
    /// [`check_signatures`](Build::check_signatures)), against their C,
    /// C++ and Fortran definitions: a disagreement fails the build. Blocks
    /// of other libraries in the file are left alone; a `static` block
    /// without a library is checked by a static build. A file without a
    /// block of the library is a `cargo:warning`.
    pub fn bindings(&mut self, path: impl AsRef<Path>) -> &mut Build {
        self.bindings.push(path.as_ref().to_path_buf());
        self
    }

    /// Turns the signature check on (the default) or off.
    ///
    /// When on, in a build script, every `.rs` file of the package's
    /// `src/`, `tests/`, `examples/` and `benches/` folders that mentions
    /// `ve_kernel` is read, and each kernel declared in a
    /// `#[ve_kernel(library = "<name>")]` block of this library (or a
    /// `static` block without a library, in static mode) is checked
    /// against its definition, as for the files given to
    /// [`bindings`](Build::bindings): a Rust declaration that disagrees
    /// with its C definition, or that no source defines, fails the build.
    /// Those folders are watched (`cargo:rerun-if-changed`), so a changed
    /// declaration is checked again. A file that does not parse is left to
    /// rustc, which will report it.
    ///
    /// Off, neither the package's sources nor the `bindings` files are
    /// read: for kernels checked some other way, or declarations that are
    /// meant to differ (a `void *` standing for several types...).
    ///
    /// ```no_run
    /// // build.rs
    /// veo_build::Build::new()
    ///     .file("kernels/average.c")
    ///     .check_signatures(false)
    ///     .compile("kernels");
    /// ```
    pub fn check_signatures(&mut self, on: bool) -> &mut Build {
        self.no_check = !on;
        self
    }

    /// Makes the sources of `lang` optional: when no compiler of `lang` can
    /// be started (the one veo-build would choose, see the crate
    /// documentation), they are left out of the library instead of failing
    /// the build, and so are the `#[ve_kernel]` blocks of that language
    /// from the signature check (`fortran` blocks for Fortran).
    /// [`Artifact::left_out`] tells the build script, which can then print a
    /// `cargo:warning` and a `cargo:rustc-cfg` for the code that needs them.
    ///
    /// `VEO_REQUIRE_C`, `VEO_REQUIRE_CXX` or `VEO_REQUIRE_FORTRAN` set to
    /// `1` makes the language required again (a CI machine that must run
    /// everything sets it); any value but `0`/`1` (or `true`/`false`,
    /// `yes`/`no`) is an error. A library whose sources are all of an
    /// optional language is never left empty: its build fails as usual.
    ///
    /// ```no_run
    /// // build.rs
    /// use veo_build::{Build, Language};
    /// let lib = Build::new()
    ///     .files_in("kernels")
    ///     .optional(Language::Fortran)
    ///     .compile("kernels");
    /// println!("cargo:rustc-check-cfg=cfg(no_fortran)");
    /// if lib.left_out().contains(&Language::Fortran) {
    ///     println!("cargo:warning=no Fortran compiler found: the Fortran kernels are left out");
    ///     println!("cargo:rustc-cfg=no_fortran");
    /// }
    /// ```
    pub fn optional(&mut self, lang: Language) -> &mut Build {
        self.optional.push(lang);
        self
    }

    /// Compiles the library; inside a build script, on failure prints the
    /// error (with the exact command and the compiler's output) to standard
    /// error and exits with status 1, without a panic.
    pub fn compile(&self, name: &str) -> Artifact {
        match self.try_compile(name) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("\nerror: veo-build failed to build library `{name}`:\n{e}\n");
                std::process::exit(1);
            }
        }
    }

    /// Static mode in one call: `static_link(true)` then
    /// [`compile`](Build::compile).
    pub fn compile_static(&mut self, name: &str) -> Artifact {
        self.static_link(true).compile(name)
    }

    /// Compiles the library and returns it, or the error.
    pub fn try_compile(&self, name: &str) -> Result<Artifact> {
        check_name("library name", name)?;
        let mut ctx = Context::new(self.cargo_metadata);
        let out_dir = self.resolve_out_dir()?;
        let work = out_dir.join("veo-build").join(name);
        mkdir(&work)?;

        let mut units = self.collect_sources(&mut ctx, name, &work)?;
        let left_out =
            crate::optional::leave_out(&mut ctx, name, &self.optional, self.target, &mut units)?;
        let langs: BTreeSet<Language> = units.iter().map(|u| u.lang).collect();
        let chain = Toolchain::select(&mut ctx, name, &langs, self.target)?;
        // Information, not a call to act: in the build log, not a warning.
        let summary = chain.describe(name);
        ctx.log(&summary);
        if self.static_link && chain.target == Target::Ve {
            crate::ve::static_linker(&mut ctx, &chain)?; // before compiling anything
        }
        let ve = crate::ve::VeFlags::new(&mut ctx, &chain, self)?;
        let chain = chain.with_ve(ve);
        let ve_static = self.static_link && chain.target == Target::Ve;

        let opts = self.compile_options(&mut ctx, &chain, &work)?;
        let objects = compile_all(&mut ctx, &chain, &units, &opts, &work)?;
        let path = if ve_static {
            crate::ve::link_veorun(&mut ctx, &chain, self, name, &out_dir, &objects)?
        } else if self.static_link {
            self.archive(&mut ctx, name, &out_dir, &objects)?
        } else {
            self.link_shared(&mut ctx, &chain, name, &out_dir, &units, &objects)?
        };

        let mut unchecked = Vec::new();
        let discovered = if self.no_check {
            Vec::new()
        } else {
            let given = self
                .bindings
                .iter()
                .map(|p| absolute(p))
                .collect::<Result<Vec<_>>>()?;
            let mut found = Vec::new();
            for p in crate::discover::package_sources(&mut ctx) {
                if !given.contains(&absolute(&p)?) {
                    found.push(p);
                }
            }
            found
        };
        if !self.no_check && (!self.bindings.is_empty() || !discovered.is_empty()) {
            let flags: BTreeMap<Language, Vec<OsString>> = langs
                .iter()
                .map(|&l| (l, opts.flags(l).collect()))
                .collect();
            unchecked = crate::check::check(
                &mut ctx,
                &crate::check::Request {
                    name,
                    is_static: self.static_link,
                    left_out: &left_out,
                    rust_files: &self.bindings,
                    discovered: &discovered,
                    units: &units,
                    objects: &objects,
                    chain: &chain,
                    flags: &flags,
                    preprocessor: &opts.preprocessor,
                    work: &work,
                },
            )?;
        }

        if ve_static {
            // The kernels live in the VE helper program; the runtime starts
            // it instead of the default helper and finds them as "static".
            ctx.emit(format!("rustc-env={}={STATIC_LIB}", lib_env_var(name)));
            let var = crate::ve::veorun_env_var(name);
            ctx.emit(format!("rustc-env={var}={}", path.display()));
        } else if self.static_link {
            self.emit_static(&mut ctx, &units, &out_dir, name);
            ctx.emit(format!("rustc-env={}={STATIC_LIB}", lib_env_var(name)));
        } else {
            ctx.emit(format!(
                "rustc-env={}={}",
                lib_env_var(name),
                path.display()
            ));
        }
        let built = crate::link::write_built(name, &path, self.static_link, &work)?;
        ctx.emit(format!("rustc-env=VEO_BUILT_{name}={}", built.display()));
        Ok(Artifact {
            name: name.into(),
            path,
            is_static: self.static_link,
            target: chain.target,
            directives: ctx.into_directives(),
            left_out,
            summary,
            unchecked,
        })
    }

    fn resolve_out_dir(&self) -> Result<PathBuf> {
        let dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => PathBuf::from(cargo_var("OUT_DIR").ok_or(Error::NoOutDir)?),
        };
        let dir = absolute(&dir)?;
        mkdir(&dir)?;
        Ok(dir)
    }

    /// Resolves files, expands directories, writes inline sources.
    fn collect_sources(&self, ctx: &mut Context, name: &str, work: &Path) -> Result<Vec<Unit>> {
        let mut units: Vec<Unit> = Vec::new();
        let push = |units: &mut Vec<Unit>, u: Unit| {
            if !units.iter().any(|x| x.path == u.path) {
                units.push(u);
            }
        };
        for src in &self.sources {
            match src {
                Source::File(p) => {
                    let abs = absolute(p)?;
                    if !abs.is_file() {
                        return Err(Error::MissingSource {
                            path: p.clone(),
                            cwd: std::env::current_dir().unwrap_or_default(),
                        });
                    }
                    let lang = Language::from_path(p)
                        .ok_or_else(|| Error::UnknownLanguage { path: p.clone() })?;
                    ctx.rerun_if_changed(&abs);
                    push(&mut units, Unit { path: abs, lang });
                }
                Source::Dir(d) => {
                    let abs = absolute(d)?;
                    let entries =
                        fs::read_dir(&abs).map_err(|e| Error::io("cannot read directory", d, e))?;
                    let mut found: Vec<(PathBuf, Language)> = Vec::new();
                    for entry in entries {
                        let entry = entry.map_err(|e| Error::io("cannot read directory", d, e))?;
                        let p = entry.path();
                        let hidden = entry.file_name().to_string_lossy().starts_with('.');
                        if let (false, true, Some(lang)) =
                            (hidden, p.is_file(), Language::from_path(&p))
                        {
                            found.push((p, lang));
                        }
                    }
                    if found.is_empty() {
                        return Err(Error::EmptyDir { dir: d.clone() });
                    }
                    found.sort();
                    ctx.rerun_if_changed(&abs);
                    for (p, lang) in found {
                        ctx.rerun_if_changed(&p);
                        push(&mut units, Unit { path: p, lang });
                    }
                }
                Source::Inline { label, lang, text } => {
                    check_name("inline source label", label)?;
                    let dir = work.join("src");
                    mkdir(&dir)?;
                    let p = dir.join(format!("{label}.{}", lang.extension()));
                    write_if_changed(&p, text)?;
                    push(
                        &mut units,
                        Unit {
                            path: p,
                            lang: *lang,
                        },
                    );
                }
            }
        }
        if units.is_empty() {
            return Err(Error::NoSources { name: name.into() });
        }
        Ok(units)
    }

    /// Flags shared by every compile command, per language.
    fn compile_options(
        &self,
        ctx: &mut Context,
        chain: &Toolchain,
        work: &Path,
    ) -> Result<Options> {
        let level = self.opt_level.clone().unwrap_or_else(|| {
            let cargo =
                cargo_var("OPT_LEVEL").unwrap_or_else(|| match cargo_var("PROFILE").as_deref() {
                    Some("debug") => "0".into(),
                    _ => "2".into(),
                });
            match chain.target {
                Target::Ve => crate::ve::opt_level_floor(cargo),
                Target::Emulated => cargo,
            }
        });
        let debug = self.debug.unwrap_or_else(|| {
            !matches!(
                cargo_var("DEBUG").as_deref(),
                None | Some("false" | "0" | "none")
            )
        });
        let mut preprocessor: Vec<OsString> = Vec::new();
        for dir in &self.includes {
            let mut a = OsString::from("-I");
            a.push(absolute(dir)?);
            preprocessor.push(a);
        }
        for (k, v) in &self.defines {
            preprocessor.push(match v {
                Some(v) => format!("-D{k}={v}").into(),
                None => format!("-D{k}").into(),
            });
        }
        let mut common: Vec<OsString> = vec![opt_flag(chain.target, &level).into(), "-fpic".into()];
        if debug {
            common.push("-g".into());
        }
        if self.openmp {
            common.push("-fopenmp".into());
        }
        common.extend(chain.ve.compile.iter().cloned());
        let mut per_lang = BTreeMap::new();
        for (&lang, tool) in &chain.compilers {
            // The environment's CFLAGS/CXXFLAGS/FFLAGS first, so that the
            // build script's own flags come later and win.
            let mut flags: Vec<OsString> = crate::flags_env::env_flags(ctx, lang, chain.target)
                .into_iter()
                .map(OsString::from)
                .collect();
            flags.extend(
                self.flags
                    .iter()
                    .filter(|(l, _)| l.is_none() || *l == Some(lang))
                    .map(|(_, f)| OsString::from(f)),
            );
            for f in &self.flags_if_supported {
                if supports(tool, lang, f, work)? {
                    flags.push(f.into());
                } else {
                    ctx.log(&format!(
                        "veo-build: {} does not accept {f}; left out",
                        tool.name()
                    ));
                }
            }
            per_lang.insert(lang, flags);
        }
        Ok(Options {
            common,
            preprocessor,
            per_lang,
        })
    }
}

/// Flags computed once per build.
pub(crate) struct Options {
    /// Optimisation, `-fpic`, `-g`, `-fopenmp`.
    common: Vec<OsString>,
    /// `-I` and `-D`: also used by the signature check.
    pub(crate) preprocessor: Vec<OsString>,
    /// User flags per language.
    per_lang: BTreeMap<Language, Vec<OsString>>,
}

impl Options {
    /// Every compile flag of `lang`, in command-line order.
    fn flags(&self, lang: Language) -> impl Iterator<Item = OsString> + '_ {
        self.common
            .iter()
            .chain(&self.preprocessor)
            .chain(&self.per_lang[&lang])
            .cloned()
    }
}

/// Compiles every unit into an object, in parallel (the job pool of
/// `jobs`), and declares the headers each one read.
fn compile_all(
    ctx: &mut Context,
    chain: &Toolchain,
    units: &[Unit],
    opts: &Options,
    work: &Path,
) -> Result<Vec<PathBuf>> {
    let obj_dir = work.join("obj");
    mkdir(&obj_dir)?;
    // The command of each unit, and its object and depfile.
    let (cmds, outputs): (Vec<Cmd>, Vec<(PathBuf, PathBuf)>) = units
        .iter()
        .map(|u| {
            let base = object_stem(&u.path);
            let obj = obj_dir.join(format!("{base}.o"));
            let dep = obj_dir.join(format!("{base}.d"));
            let mut cmd = chain.compiler(u.lang).cmd();
            cmd.args(opts.flags(u.lang));
            if u.lang != Language::Fortran {
                cmd.arg("-MMD").arg("-MF").arg(&dep);
            } else if chain.target == Target::Emulated {
                // gfortran writes the `.mod` of each module into the current
                // directory (the crate's, under Cargo) unless told where.
                cmd.arg("-J").arg(&obj_dir);
            }
            cmd.arg("-c").arg(&u.path).arg("-o").arg(&obj);
            (cmd, (obj, dep))
        })
        .unzip();
    for (cmd, (_, dep)) in cmds.iter().zip(&outputs) {
        ctx.log(&format!("running: {cmd}"));
        let _ = fs::remove_file(dep);
    }
    let mut objects = Vec::new();
    for ((obj, dep), r) in outputs.into_iter().zip(crate::jobs::run_all(&cmds)) {
        let output = r?;
        if !output.trim().is_empty() {
            ctx.log(&output);
        }
        if let Ok(text) = fs::read_to_string(&dep) {
            for d in depfile::parse(&text) {
                if let Ok(abs) = absolute(&d) {
                    if !abs.starts_with(work) {
                        ctx.rerun_if_changed(&abs);
                    }
                }
            }
        }
        objects.push(obj);
    }
    Ok(objects)
}

/// Whether `tool` accepts `flag` (an empty source compiles with it and
/// `-Werror`).
fn supports(tool: &crate::command::Tool, lang: Language, flag: &str, work: &Path) -> Result<bool> {
    let dir = work.join("probe");
    mkdir(&dir)?;
    let src = dir.join(format!("empty.{}", lang.extension()));
    let text = if lang == Language::Fortran {
        "end\n"
    } else {
        "int veo_build_probe;\n"
    };
    write_if_changed(&src, text)?;
    let mut cmd = tool.cmd();
    cmd.args(["-Werror", flag, "-c"])
        .arg(&src)
        .arg("-o")
        .arg(dir.join("empty.o"));
    Ok(cmd.run_status()?.0)
}

pub(crate) fn check_name(what: &'static str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what,
            name: name.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("x", "kernels").is_ok());
        assert!(check_name("x", "my-kernels_2").is_ok());
        for bad in ["", "a/b", "a b", "-x", "a.so"] {
            assert!(check_name("x", bad).is_err(), "{bad}");
        }
    }
}
