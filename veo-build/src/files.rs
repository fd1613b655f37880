//! The file-system steps of a build: absolute paths, folders, and files
//! written only when their text changes.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `p` made absolute against the working directory, without touching the
/// file system (`std::path::absolute`: symbolic links are kept, as the
/// user wrote them, so that messages show the paths they know).
pub(crate) fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io("cannot make the path absolute", p, e))
}

/// Creates `p` and its parents.
pub(crate) fn mkdir(p: &Path) -> Result<()> {
    fs::create_dir_all(p).map_err(|e| Error::io("cannot create directory", p, e))
}

/// Writes `text` unless the file already holds it, so that its mtime (and
/// anything Cargo or a compiler decides from it) stays put.
pub(crate) fn write_if_changed(p: &Path, text: &str) -> Result<()> {
    if fs::read_to_string(p).ok().as_deref() == Some(text) {
        return Ok(());
    }
    fs::write(p, text).map_err(|e| Error::io("cannot write", p, e))
}

/// The file name (without extension) of a source's object: its stem and
/// a hash of its path, so that `a/k.c` and `b/k.c` get two objects.
///
/// FNV-1a, written here rather than std's `DefaultHasher`, whose output
/// may change between Rust releases: the names stay the same from one
/// toolchain to the next, and the five lines are not worth a dependency.
pub(crate) fn object_stem(source: &Path) -> String {
    let stem = source.file_stem().unwrap_or_default().to_string_lossy();
    let hash = source
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0x811c_9dc5u32, |h, &b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
    format!("{stem}-{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("k.c")).unwrap(), cwd.join("k.c"));
        assert_eq!(absolute(Path::new("./k.c")).unwrap(), cwd.join("k.c"));
        assert_eq!(absolute(Path::new("/a/b.c")).unwrap(), Path::new("/a/b.c"));
        let e = absolute(Path::new("")).unwrap_err().to_string();
        assert!(e.contains("cannot make the path absolute"), "{e}");
    }

    #[test]
    fn written_only_when_changed() {
        let dir = std::env::temp_dir().join(format!("veo-build-files-{}", std::process::id()));
        mkdir(&dir.join("a/b")).unwrap();
        let f = dir.join("a/b/t.txt");
        write_if_changed(&f, "one").unwrap();
        // An mtime in the past: a rewrite would move it to now.
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(old)
            .unwrap();
        write_if_changed(&f, "one").unwrap();
        assert_eq!(fs::metadata(&f).unwrap().modified().unwrap(), old);
        write_if_changed(&f, "two").unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "two");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn objects_of_same_named_sources_differ() {
        let a = object_stem(Path::new("/x/a/k.c"));
        let b = object_stem(Path::new("/x/b/k.c"));
        assert!(a.starts_with("k-") && b.starts_with("k-") && a != b);
        assert_eq!(a, object_stem(Path::new("/x/a/k.c")));
        // FNV-1a of the empty path: the offset basis.
        assert_eq!(object_stem(Path::new("")), "-811c9dc5");
    }
}
