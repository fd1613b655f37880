//! What a build for a real VE adds to the emulator's: the optimisation
//! floor, the VE architecture, AVEO's VE-side libraries, and static kernels
//! linked into a VE helper by `mk_veorun_static`.
//!
//! NEC documents kernels for VEO/AVEO as position-independent shared objects
//! (`ncc -fpic`, `ncc -shared`); the builder already compiles that way for
//! both targets, so this module only holds what differs on a VE.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::builder::Build;
use crate::command::{Cmd, Tool};
use crate::env::Context;
use crate::error::{Error, Result};
use crate::lang::Language;
use crate::toolchain::{nec_root, Target, Toolchain, DEFAULT_NEC_ROOT};

/// Where the VE driver describes the cards: `ve<N>/ve_arch_class` under it
/// says `ve1` (VE10, VE20) or `ve3` (VE30). `$VEO_VE_SYSFS` overrides it.
pub const DEFAULT_VE_SYSFS: &str = "/sys/class/ve";

/// The prefix of the NEC tools for VE3 cards, beside [`DEFAULT_NEC_ROOT`]:
/// AVEO installs its VE3 libraries there.
const DEFAULT_NEC_ROOT_VE3: &str = "/opt/nec/ve3";

/// The architecture of a Vector Engine, which decides the compilers' target
/// flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VeArch {
    /// VE10 and VE20 cards: the compilers' default, no flag.
    Ve1,
    /// VE30 cards: `-march=ve3 -mabi=2`.
    Ve3,
}

impl VeArch {
    /// The architecture named `ve1` or `ve3` (as in `ve_arch_class`).
    pub fn from_name(name: &str) -> Option<VeArch> {
        match name.trim() {
            "ve1" => Some(VeArch::Ve1),
            "ve3" => Some(VeArch::Ve3),
            _ => None,
        }
    }

    /// The flags that make ncc, nc++ and nfort compile and link for it.
    pub fn flags(self) -> &'static [&'static str] {
        match self {
            VeArch::Ve1 => &[],
            VeArch::Ve3 => &["-march=ve3", "-mabi=2"],
        }
    }
}

impl Build {
    /// Compiles for this VE architecture (real VE only), instead of the one
    /// `$VEO_VE_ARCH` names or the card of `$VE_NODE_NUMBER` (node 0 by
    /// default) reports.
    pub fn ve_arch(&mut self, arch: VeArch) -> &mut Build {
        self.ve_arch = Some(arch);
        self
    }

    /// Links AVEO's VE-side `libveohmem` (`veo_get_hmem_addr`,
    /// `veo_is_ve_addr`), with `-I`, `-L` and rpath of AVEO's VE tree
    /// (real VE only).
    pub fn veo_hmem(&mut self, on: bool) -> &mut Build {
        self.veo_hmem = on;
        self
    }

    /// Links AVEO's VE-side `libaveoVE` (`veo_prev_req_result`), with `-I`,
    /// `-L` and rpath of AVEO's VE tree (real VE only).
    pub fn aveo_ve(&mut self, on: bool) -> &mut Build {
        self.aveo_ve = on;
        self
    }
}

/// The optimisation level of a VE kernel when the user did not set one:
/// Cargo's, but never below `-O2`, since `-O0`/`-O1` turn off the
/// vectorisation that is the reason to run on a VE.
pub(crate) fn opt_level_floor(cargo_level: String) -> String {
    match cargo_level.as_str() {
        "0" | "1" => "2".into(),
        _ => cargo_level,
    }
}

/// The flags a build for a real VE adds to every compile and to the link.
#[derive(Debug, Clone, Default)]
pub(crate) struct VeFlags {
    /// Architecture, and `-I` of AVEO's VE-side headers.
    pub(crate) compile: Vec<OsString>,
    /// Architecture (shared-library link only).
    pub(crate) link: Vec<OsString>,
    /// `-L`, rpath and `-l` of AVEO's VE-side libraries.
    pub(crate) libs: Vec<OsString>,
}

impl VeFlags {
    /// Nothing for the emulated VE; for a real VE the architecture (the
    /// builder's, else `$VEO_VE_ARCH`, else the card's) and the AVEO
    /// libraries asked for.
    pub(crate) fn new(ctx: &mut Context, chain: &Toolchain, build: &Build) -> Result<VeFlags> {
        let mut flags = VeFlags::default();
        let wants_aveo = build.veo_hmem || build.aveo_ve;
        if chain.target != Target::Ve {
            if wants_aveo {
                // The helper loads its own libaveoVE and libveohmem before
                // any kernel library (docs/VE-SIDE.md): no flag is needed.
                ctx.log("veo-build: on the emulated VE the helper provides libaveoVE and libveohmem; nothing to link");
            }
            return Ok(flags);
        }
        let arch = match build.ve_arch {
            Some(a) => Some(a),
            None => arch_from_env(ctx)?,
        };
        if let Some(a) = arch {
            flags.compile.extend(a.flags().iter().map(OsString::from));
            flags.link.extend(a.flags().iter().map(OsString::from));
        }
        if wants_aveo {
            let root = aveo_ve_root(ctx, arch);
            let mut inc = OsString::from("-I");
            inc.push(root.join("include"));
            flags.compile.push(inc);
            let lib = root.join("lib");
            let mut l = OsString::from("-L");
            l.push(&lib);
            flags.libs.push(l);
            let mut rpath = OsString::from("-Wl,-rpath,");
            rpath.push(&lib);
            flags.libs.push(rpath);
            if build.veo_hmem {
                flags.libs.push("-lveohmem".into());
            }
            if build.aveo_ve {
                flags.libs.push("-laveoVE".into());
            }
        }
        Ok(flags)
    }
}

/// `$VEO_VE_ARCH`, else the `ve_arch_class` of the node the program will
/// use (`$VE_NODE_NUMBER`, else 0) under `$VEO_VE_SYSFS`; `None` when the
/// build host has no VE (a login node): the compilers' default.
fn arch_from_env(ctx: &mut Context) -> Result<Option<VeArch>> {
    if let Some(v) = ctx.var("VEO_VE_ARCH") {
        return VeArch::from_name(&v)
            .map(Some)
            .ok_or_else(|| Error::InvalidEnv {
                var: "VEO_VE_ARCH".into(),
                value: v,
                expected: "`ve1` (VE10, VE20) or `ve3` (VE30)".into(),
            });
    }
    let node = match ctx.var("VE_NODE_NUMBER") {
        None => 0,
        Some(v) => v.trim().parse::<u32>().map_err(|_| Error::InvalidEnv {
            var: "VE_NODE_NUMBER".into(),
            value: v.clone(),
            expected: "a VE node number (0, 1, ...)".into(),
        })?,
    };
    let sysfs = ctx
        .var("VEO_VE_SYSFS")
        .unwrap_or_else(|| DEFAULT_VE_SYSFS.to_string());
    let file = Path::new(&sysfs)
        .join(format!("ve{node}"))
        .join("ve_arch_class");
    let Ok(text) = fs::read_to_string(&file) else {
        ctx.log(&format!(
            "veo-build: no {}; the VE compilers' default architecture is used",
            file.display()
        ));
        return Ok(None);
    };
    match VeArch::from_name(&text) {
        Some(a) => Ok(Some(a)),
        None => {
            ctx.warning(&format!(
                "veo-build: {} says {:?}, an architecture veo-build does not know; the compilers' default is used (set VEO_VE_ARCH to choose)",
                file.display(),
                text.trim()
            ));
            Ok(None)
        }
    }
}

/// The prefix of AVEO's VE-side headers and libraries: `$VEO_NEC_ROOT`
/// when set, else `/opt/nec/ve3` for a VE3 and `/opt/nec/ve` otherwise.
fn aveo_ve_root(ctx: &mut Context, arch: Option<VeArch>) -> PathBuf {
    let root = nec_root(ctx);
    if arch == Some(VeArch::Ve3) && root == Path::new(DEFAULT_NEC_ROOT) {
        PathBuf::from(DEFAULT_NEC_ROOT_VE3)
    } else {
        root
    }
}

/// The name of the variable that carries the path of a static VE helper to
/// the crate: `VEO_VEORUN_<name>`.
pub fn veorun_env_var(name: &str) -> String {
    format!("VEO_VEORUN_{name}")
}

/// Links the objects of a static build into a VE helper program with
/// `mk_veorun_static -o <out_dir>/veorun_<name> OBJECTS [-fopenmp] [-lLIB...]
/// [LINK_ARGS...]`, and returns its path.
pub(crate) fn link_veorun(
    ctx: &mut Context,
    chain: &Toolchain,
    build: &Build,
    name: &str,
    out_dir: &Path,
    objects: &[PathBuf],
) -> Result<PathBuf> {
    let tool = static_linker(ctx, chain)?;
    let path = out_dir.join(format!("veorun_{name}"));
    let mut cmd: Cmd = tool.cmd();
    cmd.arg("-o").arg(&path).args(objects);
    if build.openmp {
        cmd.arg("-fopenmp");
    }
    for lib in &build.link_libs {
        cmd.arg(format!("-l{lib}"));
    }
    cmd.args(&build.link_args);
    ctx.log(&format!("running: {cmd}"));
    let out = cmd.run()?;
    if !out.trim().is_empty() {
        ctx.log(&out);
    }
    Ok(path)
}

/// `mk_veorun_static` beside one of the library's compilers (C first), else
/// in `$VEO_NEC_ROOT/bin`.
pub(crate) fn static_linker(ctx: &mut Context, chain: &Toolchain) -> Result<Tool> {
    const NAME: &str = "mk_veorun_static";
    for lang in [Language::C, Language::Cxx, Language::Fortran] {
        let Some(compiler) = chain.compilers.get(&lang) else {
            continue;
        };
        if let Some(dir) = directory_of(ctx, &compiler.program) {
            let candidate = dir.join(NAME);
            if candidate.is_file() {
                return Ok(tool(candidate, format!("beside {}", compiler.name())));
            }
        }
    }
    let bin = nec_root(ctx).join("bin");
    let candidate = bin.join(NAME);
    if candidate.is_file() {
        let origin = bin.display().to_string();
        return Ok(tool(candidate, origin));
    }
    Err(Error::ToolNotFound {
        what: "AVEO's static linker".into(),
        origin: "static mode for a real VE".into(),
        command: candidate.display().to_string(),
        hint: format!(
            "install AVEO (it puts {NAME} in {DEFAULT_NEC_ROOT}/bin), or set VEO_NEC_ROOT to the prefix that holds bin/{NAME}"
        ),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    })
}

fn tool(path: PathBuf, origin: String) -> Tool {
    Tool {
        program: path.into_os_string(),
        args: Vec::new(),
        what: "AVEO's static linker".into(),
        origin,
        hint: "check the AVEO installation".into(),
    }
}

/// The directory of a program given as a path, or found in `$PATH`.
fn directory_of(ctx: &mut Context, program: &std::ffi::OsStr) -> Option<PathBuf> {
    let p = Path::new(program);
    if p.components().count() > 1 {
        return p.parent().map(Path::to_path_buf);
    }
    let path = ctx.var("PATH")?;
    std::env::split_paths(&path).find(|d| d.join(p).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_keeps_levels_from_two_up() {
        for (cargo, want) in [("0", "2"), ("1", "2"), ("2", "2"), ("3", "3"), ("s", "s")] {
            assert_eq!(opt_level_floor(cargo.into()), want, "{cargo}");
        }
    }

    #[test]
    fn arch_names() {
        assert_eq!(VeArch::from_name("ve3\n"), Some(VeArch::Ve3));
        assert_eq!(VeArch::from_name("ve1"), Some(VeArch::Ve1));
        assert_eq!(VeArch::from_name("ve2"), None);
        assert_eq!(VeArch::Ve3.flags(), ["-march=ve3", "-mabi=2"]);
        assert!(VeArch::Ve1.flags().is_empty());
    }
}
