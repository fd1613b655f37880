//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fresh directory for one test, under Cargo's temporary target dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("veo-build-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `text` to `dir/name`, creating directories.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// Whether gfortran can be started: the tests of Fortran kernels return
/// early without it (the `veo-tests` build prints the one line that says
/// Fortran was skipped). `VEO_REQUIRE_FORTRAN=1`, set by CI, turns a
/// missing gfortran into a failure.
pub fn fortran() -> bool {
    let found = std::process::Command::new("gfortran")
        .arg("--version")
        .output()
        .is_ok();
    let required = std::env::var("VEO_REQUIRE_FORTRAN").is_ok_and(|v| v == "1");
    assert!(
        found || !required,
        "VEO_REQUIRE_FORTRAN=1, but gfortran cannot be started"
    );
    found
}
