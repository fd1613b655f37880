//! The build-script context: environment variables read (and declared to
//! Cargo), and the `cargo:` directives printed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where veo-build runs, and what it has told Cargo so far.
///
/// Inside a build script every directive is printed on standard output as
/// `cargo:...`; at run time nothing is printed. Either way the directives are
/// kept, so that an [`Artifact`](crate::Artifact) can list them.
#[derive(Debug)]
pub(crate) struct Context {
    cargo: bool,
    declared: BTreeSet<String>,
    watched: BTreeSet<PathBuf>,
    directives: Vec<String>,
}

impl Context {
    /// `cargo` forces build-script mode on or off; `None` detects it.
    pub(crate) fn new(cargo: Option<bool>) -> Context {
        Context {
            cargo: cargo.unwrap_or_else(in_build_script),
            declared: BTreeSet::new(),
            watched: BTreeSet::new(),
            directives: Vec::new(),
        }
    }

    /// Whether this runs in a build script (or was told to act as one with
    /// [`Build::cargo_metadata`](crate::Build::cargo_metadata)).
    pub(crate) fn is_build_script(&self) -> bool {
        self.cargo
    }

    /// Reads a variable the user may set, and declares it with
    /// `rerun-if-env-changed`. Empty values count as unset.
    pub(crate) fn var(&mut self, name: &str) -> Option<String> {
        if self.declared.insert(name.to_string()) {
            self.emit(format!("rerun-if-env-changed={name}"));
        }
        cargo_var(name)
    }

    /// Tells Cargo to run the build script again when `path` changes.
    pub(crate) fn rerun_if_changed(&mut self, path: &Path) {
        if self.watched.insert(path.to_path_buf()) {
            self.emit(format!("rerun-if-changed={}", path.display()));
        }
    }

    /// A `cargo:warning`.
    pub(crate) fn warning(&mut self, text: &str) {
        // One directive per line: Cargo ends a warning at the newline.
        for line in text.lines() {
            self.emit(format!("warning={line}"));
        }
    }

    /// Records a directive (without the `cargo:` prefix) and prints it in a
    /// build script.
    pub(crate) fn emit(&mut self, directive: String) {
        if self.cargo {
            println!("cargo:{directive}");
        }
        self.directives.push(directive);
    }

    /// Prints a line for the build log (stdout of a build script, shown by
    /// Cargo with `-vv` or on failure); silent at run time.
    pub(crate) fn log(&self, line: &str) {
        if self.cargo {
            println!("{line}");
        }
    }

    pub(crate) fn into_directives(self) -> Vec<String> {
        self.directives
    }
}

/// A variable Cargo sets for build scripts (`OUT_DIR`, `OPT_LEVEL`, ...):
/// read without a `rerun-if-env-changed`, since Cargo itself reruns the
/// script when it changes. Empty values count as unset.
pub(crate) fn cargo_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// True inside a build script: Cargo sets `OUT_DIR`, `TARGET` and `HOST` for
/// build scripts, and not for `cargo run`/`cargo test` (which may set
/// `OUT_DIR`, but never `TARGET` and `HOST`).
fn in_build_script() -> bool {
    ["OUT_DIR", "TARGET", "HOST"]
        .iter()
        .all(|v| std::env::var_os(v).is_some())
}
