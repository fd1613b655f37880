//! The one error type of veo-build.

use std::io;
use std::path::PathBuf;

/// Everything that can stop a build.
///
/// The `Display` text is meant to be shown as is: it names the file, the
/// exact command line and the compiler's output where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No source was given.
    #[error("library `{name}` has no source: add one with Build::file, Build::files_in or Build::c_source")]
    NoSources {
        /// The library name.
        name: String,
    },
    /// A directory given to [`Build::files_in`](crate::Build::files_in) holds no source.
    #[error("{} holds no C, C++ or Fortran source (.c .cpp .cc .cxx .f .f90 .F90 ...)", dir.display())]
    EmptyDir {
        /// The directory.
        dir: PathBuf,
    },
    /// A source file does not exist.
    #[error("source file {} does not exist (relative paths are relative to {})", path.display(), cwd.display())]
    MissingSource {
        /// The path as given.
        path: PathBuf,
        /// The working directory it was resolved against.
        cwd: PathBuf,
    },
    /// A source file's extension names no known language.
    #[error("cannot tell the language of {}: expected .c (C), .cpp/.cc/.cxx (C++) or .f/.f90/.F90/.F/.f95 (Fortran)", path.display())]
    UnknownLanguage {
        /// The file.
        path: PathBuf,
    },
    /// A library name or inline-source label that cannot be a file name.
    #[error("invalid {what} {name:?}: use letters, digits, `_` and `-` only")]
    InvalidName {
        /// What was named ("library name", "inline source label").
        what: &'static str,
        /// The name.
        name: String,
    },
    /// Neither `OUT_DIR` nor [`Build::out_dir`](crate::Build::out_dir) says where to build.
    #[error("no output directory: OUT_DIR is not set (not running in a build script); call Build::out_dir(dir)")]
    NoOutDir,
    /// An environment variable has a value veo-build cannot use.
    #[error("environment variable {var}={value:?} is invalid: {expected}")]
    InvalidEnv {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A compiler or tool could not be started.
    #[error("cannot run {what} ({origin}): {source}\n  command: {command}\n  {hint}")]
    ToolNotFound {
        /// What the tool is for ("the C compiler", ...).
        what: String,
        /// Where its name came from ("NCC", "host default", ...).
        origin: String,
        /// The exact command line.
        command: String,
        /// What to do about it.
        hint: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A compiler or tool ran and failed.
    #[error("command failed ({status}):\n  {command}\n{output}")]
    CommandFailed {
        /// The exact command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard output and standard error.
        output: String,
    },
    /// The languages of one library would be compiled for different targets.
    #[error("library `{name}` mixes targets: {detail}\n  set NCC, NCXX and NFORT consistently, or VEO_BUILD_TARGET=emulated to use the host compilers for everything")]
    MixedTargets {
        /// The library name.
        name: String,
        /// Which language goes where.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{context} {}: {source}", path.display())]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A Rust file given to [`Build::bindings`](crate::Build::bindings) does not parse.
    #[error("{}:{line}: cannot parse the #[ve_kernel] declarations: {message}", path.display())]
    Syntax {
        /// The Rust file.
        path: PathBuf,
        /// The line of the (first) error.
        line: usize,
        /// The parser's messages.
        message: String,
    },
    /// The Rust declarations and the kernel sources disagree.
    #[error("{}", mismatches.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Mismatch {
        /// One entry per disagreeing kernel.
        mismatches: Vec<crate::check::Mismatch>,
    },
}

impl Error {
    pub(crate) fn io(context: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
