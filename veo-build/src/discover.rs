//! Finding the package's own `#[ve_kernel]` declarations for the signature
//! check, so that it is on without being asked for.

use std::fs;
use std::path::{Path, PathBuf};

use crate::env::Context;

/// The folders of a package that Cargo builds targets from: the library
/// and binaries, integration tests, examples and benchmarks.
const TARGET_DIRS: &[&str] = &["src", "tests", "examples", "benches"];

/// The Rust files under the package's target folders (`src/`, `tests/`,
/// `examples/`, `benches/` of `CARGO_MANIFEST_DIR`) that mention
/// `ve_kernel`, relative to the package (as error messages show them); each
/// folder is watched, so that a new or changed file reruns the build.
/// Empty outside a build script.
pub(crate) fn package_sources(ctx: &mut Context) -> Vec<PathBuf> {
    if !ctx.is_build_script() {
        return Vec::new();
    }
    let Some(root) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for dir in TARGET_DIRS {
        let abs = root.join(dir);
        if abs.is_dir() {
            // Cargo watches a folder's whole tree for `rerun-if-changed`.
            ctx.rerun_if_changed(&abs);
            walk(&abs, &mut found);
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|p| match p.strip_prefix(&root) {
            Ok(rel) if std::env::current_dir().is_ok_and(|d| d == root) => rel.to_path_buf(),
            _ => p,
        })
        .collect()
}

/// Every `.rs` file under `dir` (hidden entries skipped) whose text
/// mentions `ve_kernel`. Symbolic links are not followed (so no loop
/// needs detecting): the dozen lines are not worth a `walkdir` dependency
/// in every build script that uses veo-build.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs")
            && fs::read_to_string(&path).is_ok_and(|t| t.contains("ve_kernel"))
        {
            found.push(path);
        }
    }
}
