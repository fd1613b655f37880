//! Choosing the compiler of each language, and the target it builds for.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use crate::command::Tool;
use crate::env::Context;
use crate::error::{Error, Result};
use crate::lang::Language;

/// The default install prefix of the NEC compilers (`$VEO_NEC_ROOT`).
pub const DEFAULT_NEC_ROOT: &str = "/opt/nec/ve";

/// The machine the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A real NEC SX-Aurora Vector Engine: `ncc`, `nc++`, `nfort`.
    Ve,
    /// The emulated VE (the helper process on this host): the host's
    /// `cc`, `c++`, `gfortran`.
    Emulated,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Ve => "the NEC Vector Engine",
            Target::Emulated => "the emulated VE",
        })
    }
}

/// The names that belong to one language.
struct Names {
    nec_var: &'static str,
    nec_tool: &'static str,
    host_var: &'static str,
    host_tool: &'static str,
    what: &'static str,
    package: &'static str,
}

fn names(lang: Language) -> Names {
    match lang {
        Language::C => Names {
            nec_var: "NCC",
            nec_tool: "ncc",
            host_var: "CC",
            host_tool: "cc",
            what: "the C compiler",
            package: "gcc",
        },
        Language::Cxx => Names {
            nec_var: "NCXX",
            nec_tool: "nc++",
            host_var: "CXX",
            host_tool: "c++",
            what: "the C++ compiler",
            package: "g++",
        },
        Language::Fortran => Names {
            nec_var: "NFORT",
            nec_tool: "nfort",
            host_var: "FC",
            host_tool: "gfortran",
            what: "the Fortran compiler",
            package: "gfortran",
        },
    }
}

/// The compilers of one library, all for one target.
#[derive(Debug, Clone)]
pub(crate) struct Toolchain {
    pub(crate) target: Target,
    pub(crate) compilers: BTreeMap<Language, Tool>,
    /// What a real VE adds to the flags (empty for the emulated VE).
    pub(crate) ve: crate::ve::VeFlags,
}

impl Toolchain {
    /// Chooses a compiler for each of `langs`; `forced` (from
    /// [`Build::target`](crate::Build::target) or `VEO_BUILD_TARGET`) pins
    /// the target.
    pub(crate) fn select(
        ctx: &mut Context,
        name: &str,
        langs: &BTreeSet<Language>,
        forced: Option<Target>,
    ) -> Result<Toolchain> {
        let forced = match forced {
            Some(t) => Some(t),
            None => target_from_env(ctx)?,
        };
        let mut compilers = BTreeMap::new();
        let mut targets = BTreeMap::new();
        for &lang in langs {
            let (target, tool) = select_one(ctx, lang, forced)?;
            targets.insert(lang, (target, tool.name()));
            compilers.insert(lang, tool);
        }
        let mut distinct: Vec<Target> = targets.values().map(|(t, _)| *t).collect();
        distinct.dedup();
        if distinct.len() > 1 {
            let detail = targets
                .iter()
                .map(|(l, (t, tool))| format!("{l} would be compiled by {tool} for {t}"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::MixedTargets {
                name: name.to_string(),
                detail,
            });
        }
        let target = distinct.first().copied().unwrap_or(Target::Emulated);
        Ok(Toolchain {
            target,
            compilers,
            ve: Default::default(),
        })
    }

    /// The same compilers, with what a real VE adds to their flags.
    pub(crate) fn with_ve(self, ve: crate::ve::VeFlags) -> Toolchain {
        Toolchain { ve, ..self }
    }

    /// The compiler of `lang`; selected for every language of the library.
    pub(crate) fn compiler(&self, lang: Language) -> &Tool {
        &self.compilers[&lang]
    }

    /// The one-line summary of the build log ([`Artifact::summary`](crate::Artifact::summary)).
    pub(crate) fn describe(&self, name: &str) -> String {
        let tools = self
            .compilers
            .values()
            .map(|t| t.program.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        match self.target {
            Target::Ve => format!(
                "veo-build: library `{name}` is built for {} with {tools}",
                self.target
            ),
            Target::Emulated => format!(
                "veo-build: library `{name}` is built for {} with the host compilers ({tools}); \
                 set NCC/NCXX/NFORT or install the NEC compilers in {DEFAULT_NEC_ROOT}/bin to build for a real VE",
                self.target
            ),
        }
    }
}

/// `VEO_BUILD_TARGET`: `ve` or `emulated` (alias `host`); unset means
/// "NEC compilers when found, host compilers otherwise".
fn target_from_env(ctx: &mut Context) -> Result<Option<Target>> {
    match ctx.var("VEO_BUILD_TARGET").as_deref() {
        None => Ok(None),
        Some("ve") | Some("VE") => Ok(Some(Target::Ve)),
        Some("emulated") | Some("host") => Ok(Some(Target::Emulated)),
        Some(other) => Err(Error::InvalidEnv {
            var: "VEO_BUILD_TARGET".into(),
            value: other.into(),
            expected: "`ve` (NEC compilers) or `emulated` (host compilers)".into(),
        }),
    }
}

/// The NEC install prefix: `$VEO_NEC_ROOT`, else `/opt/nec/ve`.
pub(crate) fn nec_root(ctx: &mut Context) -> PathBuf {
    PathBuf::from(
        ctx.var("VEO_NEC_ROOT")
            .unwrap_or_else(|| DEFAULT_NEC_ROOT.to_string()),
    )
}

/// The NEC compilers' directory: `$VEO_NEC_ROOT/bin`.
pub(crate) fn nec_bin(ctx: &mut Context) -> PathBuf {
    nec_root(ctx).join("bin")
}

fn select_one(ctx: &mut Context, lang: Language, forced: Option<Target>) -> Result<(Target, Tool)> {
    let n = names(lang);
    if forced != Some(Target::Emulated) {
        if let Some(value) = ctx.var(n.nec_var) {
            let tool = split_tool(&value, n.what, n.nec_var, format!("check {}", n.nec_var));
            return Ok((Target::Ve, tool));
        }
        let bin = nec_bin(ctx);
        let path = bin.join(n.nec_tool);
        if path.is_file() {
            let tool = Tool {
                program: path.into_os_string(),
                args: Vec::new(),
                what: n.what.into(),
                origin: bin.display().to_string(),
                hint: format!("check the NEC compiler installation, or set {}", n.nec_var),
            };
            return Ok((Target::Ve, tool));
        }
        if forced == Some(Target::Ve) {
            return Err(Error::ToolNotFound {
                what: n.what.into(),
                origin: "VEO_BUILD_TARGET=ve".into(),
                command: path.display().to_string(),
                hint: format!(
                    "set {} to the NEC compiler, or VEO_NEC_ROOT to its install prefix",
                    n.nec_var
                ),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
    }
    let tool = match ctx.var(n.host_var) {
        Some(value) => split_tool(
            &value,
            n.what,
            n.host_var,
            format!("check {} (the host compiler used for the emulated VE)", n.host_var),
        ),
        None => Tool {
            program: n.host_tool.into(),
            args: Vec::new(),
            what: n.what.into(),
            origin: "host default for the emulated VE".into(),
            hint: format!(
                "install it (e.g. `apt-get install {}`), set {} to the host compiler, or {} to the NEC compiler",
                n.package, n.host_var, n.nec_var
            ),
        },
    };
    Ok((Target::Emulated, tool))
}

/// The host compiler of `lang` (for the emulated VE), whatever the target
/// of the library: the Fortran check has gfortran write C prototypes and
/// the host C compiler read them.
pub(crate) fn host_compiler(ctx: &mut Context, lang: Language) -> Tool {
    match select_one(ctx, lang, Some(Target::Emulated)) {
        Ok((_, tool)) => tool,
        Err(_) => unreachable!("the host compiler is always named"),
    }
}

/// A tool from an environment variable: `"ncc -some -flags"` is split on
/// whitespace into the program and leading arguments.
fn split_tool(value: &str, what: &str, var: &str, hint: String) -> Tool {
    let mut words = value.split_whitespace();
    let program = words.next().unwrap_or(value).into();
    Tool {
        program,
        args: words.map(Into::into).collect(),
        what: what.into(),
        origin: var.into(),
        hint,
    }
}

/// The host archiver for static mode: `$AR`, else `ar`.
pub(crate) fn archiver(ctx: &mut Context) -> Tool {
    match ctx.var("AR") {
        Some(v) => split_tool(&v, "the archiver", "AR", "check AR".into()),
        None => Tool {
            program: "ar".into(),
            args: Vec::new(),
            what: "the archiver".into(),
            origin: "host default".into(),
            hint: "install binutils, or set AR".into(),
        },
    }
}

/// The optimisation flag for a Cargo `OPT_LEVEL` value.
pub(crate) fn opt_flag(target: Target, level: &str) -> String {
    match (target, level) {
        (_, "0" | "1" | "2" | "3") => format!("-O{level}"),
        (Target::Ve, "4") => "-O4".into(),
        (Target::Emulated, "4") => "-O3".into(),
        // Size levels: gcc and clang know -Os; ncc's nearest is -O2.
        (Target::Emulated, "s" | "z") => "-Os".into(),
        _ => "-O2".into(),
    }
}
