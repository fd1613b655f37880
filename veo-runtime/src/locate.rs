//! Finding the file of a library built by veo-build, wherever the program
//! runs: after `cargo install`, after `cargo clean`, or copied alone to
//! another machine of the same kind.
//!
//! A [`BuiltLibrary`] carries the path veo-build gave at compile time and
//! the library's bytes, embedded in the program. The library is taken from,
//! in order:
//!
//! 1. `VEO_LIB_<name>_PATH` in the environment at run time, when set: that file
//!    and nothing else (an override that silently fell back would hide a
//!    typo);
//! 2. the path of the build, when the file there still holds the embedded
//!    bytes (a rebuild since may have changed it);
//! 3. the embedded bytes, written once per process to an anonymous
//!    in-memory file (`memfd_create`) that the VE side loads through
//!    `/proc/<pid>/fd/<n>`.
//!
//! When none gives a file, the error lists each place and why it was
//! passed over.

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::library::BuiltLibrary;

/// The variable that overrides the location of library `name` at run
/// time: `VEO_LIB_<name>_PATH` (`VEO_LIB_kernels_PATH=/opt/app/libkernels.so`).
pub fn library_env_var(name: &str) -> String {
    format!("VEO_LIB_{name}_PATH")
}

/// The file to load for `lib`.
pub(crate) fn locate(lib: &BuiltLibrary) -> Result<String> {
    let var = library_env_var(lib.name());
    let not_found = |looked: Vec<String>| Error::LibraryNotFound {
        path: format!("lib{}.so (library `{}`)", lib.name(), lib.name()),
        message: format!("not found; looked in:\n  {}", looked.join("\n  ")),
    };
    let mut looked = Vec::new();

    if let Some(value) = std::env::var_os(&var).filter(|v| !v.is_empty()) {
        let path = std::path::PathBuf::from(&value);
        if path.is_file() {
            return Ok(path.display().to_string());
        }
        looked.push(format!(
            "${var} = {}: {}",
            path.display(),
            if path.exists() {
                "not a file"
            } else {
                "no such file"
            }
        ));
        return Err(not_found(looked));
    }
    looked.push(format!("${var}: not set"));

    match std::fs::read(lib.path()) {
        Ok(bytes) if lib.bytes().is_empty() || bytes == lib.bytes() => {
            return Ok(lib.path().to_string());
        }
        Ok(_) => looked.push(format!(
            "{} (where it was built): a different build of the library",
            lib.path()
        )),
        Err(e) => looked.push(format!("{} (where it was built): {e}", lib.path())),
    }

    if lib.bytes().is_empty() {
        looked.push("the program: no copy embedded".into());
        return Err(not_found(looked));
    }
    match embedded_file(lib) {
        Ok(path) => Ok(path),
        Err(e) => {
            looked.push(format!("the copy embedded in the program: {e}"));
            Err(not_found(looked))
        }
    }
}

/// The in-memory files of embedded libraries, by the address of their
/// bytes: written once, kept open for the life of the process.
fn memfds() -> &'static Mutex<HashMap<usize, (OwnedFd, String)>> {
    static FILES: OnceLock<Mutex<HashMap<usize, (OwnedFd, String)>>> = OnceLock::new();
    FILES.get_or_init(Default::default)
}

/// A path to an in-memory file holding `lib`'s embedded bytes, sealed
/// against writes.
fn embedded_file(lib: &BuiltLibrary) -> std::io::Result<String> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let key = lib.bytes().as_ptr() as usize;
    let mut files = memfds().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = files.get(&key) {
        return Ok(path.clone());
    }
    let fd = rustix::fs::memfd_create(
        format!("lib{}.so", lib.name()),
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )?;
    let mut file = std::fs::File::from(fd);
    file.write_all(lib.bytes())?;
    let fd = OwnedFd::from(file);
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL,
    )?;
    // The VE side (the helper, another process) opens it by this name.
    let path = format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd());
    files.insert(key, (fd, path.clone()));
    Ok(path)
}
