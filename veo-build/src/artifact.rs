//! [`Artifact`]: the library a build produced, and the variable that
//! carries its path to the crate.

use std::path::{Path, PathBuf};

use crate::lang::Language;
use crate::toolchain::Target;

/// The library a [`Build`](crate::Build) produced.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) is_static: bool,
    pub(crate) target: Target,
    pub(crate) directives: Vec<String>,
    pub(crate) left_out: Vec<Language>,
    pub(crate) summary: String,
    pub(crate) unchecked: Vec<String>,
}

impl Artifact {
    /// The library name given to [`Build::compile`](crate::Build::compile).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The absolute path of `lib<name>.so` (or `lib<name>.a` in static mode).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True for a static archive linked into the program.
    pub fn is_static(&self) -> bool {
        self.is_static
    }

    /// The target the kernels were compiled for.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The name of the variable handed to the crate: `VEO_LIB_<name>`.
    pub fn env_var(&self) -> String {
        lib_env_var(&self.name)
    }

    /// The [optional](crate::Build::optional) languages whose sources were left
    /// out because no compiler of theirs was found; empty when every
    /// source was built.
    pub fn left_out(&self) -> &[Language] {
        &self.left_out
    }

    /// One line saying what built the library: its target and compilers
    /// (printed in the build script's log, shown by `cargo build -vv`).
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The kernels whose signatures the check could not judge, each with
    /// the reason (a pointer to a struct, a Fortran kernel built by nfort,
    /// ...); their symbols were still required to exist.
    pub fn unchecked(&self) -> &[String] {
        &self.unchecked
    }

    /// The Cargo directives this build gave (without the `cargo:` prefix),
    /// in order: printed inside a build script, only recorded at run time.
    pub fn cargo_directives(&self) -> &[String] {
        &self.directives
    }
}

/// The variable that carries a library's path to the crate:
/// `VEO_LIB_<name>`, set with `cargo:rustc-env`. Its value is the absolute
/// path of the shared library, or [`STATIC_LIB`] in static mode.
pub fn lib_env_var(name: &str) -> String {
    format!("VEO_LIB_{name}")
}

/// The value of `VEO_LIB_<name>` for a library linked into the program
/// ([`Build::static_link`](crate::Build::static_link)): the runtime then resolves its kernels in the
/// program itself (`dlopen(NULL)`), as the "static" library.
pub const STATIC_LIB: &str = "static";
