//! Where a library built by veo-build is found at run time
//! (`KernelLibrary::Built`, what `#[ve_kernel(library = ...)]` uses): the
//! `VEO_LIB_<name>_PATH` override, the path of the build when it still
//! holds the same bytes, else the copy embedded in the program; and the
//! error that lists every place looked at. Each test has a library name of
//! its own, so the variables they set do not meet.

use std::path::{Path, PathBuf};

use veo_runtime::__private::{kernel, BuiltLibrary, KernelLibrary};
use veo_runtime::{Args, Error, Proc};

/// Builds `lib<name>.so` whose kernel `which` returns `value`, in a
/// directory of its own; returns its path.
fn build(name: &str, value: i64) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("core-locate")
        .join(format!("{name}-{value}"));
    let lib = veo_build::Build::new()
        .out_dir(&dir)
        .cargo_metadata(false)
        .c_source(
            "which",
            &format!("long which(void) {{ return {value}; }}\n"),
        )
        .try_compile(name)
        .unwrap();
    lib.path().to_path_buf()
}

/// A `BuiltLibrary` as `#[ve_kernel]` makes it, built at `path` (a
/// `'static` leak: each test makes one or two).
fn built(name: &str, path: &str, bytes: Vec<u8>) -> KernelLibrary {
    let lib = BuiltLibrary::new(
        Box::leak(name.to_string().into_boxed_str()),
        Box::leak(path.to_string().into_boxed_str()),
        Box::leak(bytes.into_boxed_slice()),
    );
    KernelLibrary::Built(Box::leak(Box::new(lib)))
}

fn which(proc: &Proc, lib: &KernelLibrary) -> veo_runtime::Result<i64> {
    let f = kernel(proc, lib, "which")?;
    proc.call_sync(&f, Args::new())
}

/// The file the proc loaded (its only library).
fn loaded(proc: &Proc) -> String {
    let libs = proc.libraries();
    assert_eq!(libs.len(), 1, "{libs:?}");
    libs[0].name().to_string()
}

#[test]
fn the_path_of_the_build_is_used_while_it_holds_the_same_library() {
    let path = build("locate_same", 1);
    let bytes = std::fs::read(&path).unwrap();
    let lib = built("locate_same", path.to_str().unwrap(), bytes);
    let proc = Proc::new(0).unwrap();
    assert_eq!(which(&proc, &lib).unwrap(), 1);
    assert_eq!(loaded(&proc), path.display().to_string());
}

#[test]
fn a_deleted_library_is_loaded_from_the_copy_in_the_program() {
    let path = build("locate_gone", 2);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let lib = built("locate_gone", path.to_str().unwrap(), bytes);
    let proc = Proc::new(0).unwrap();
    assert_eq!(which(&proc, &lib).unwrap(), 2);
    assert!(loaded(&proc).starts_with("/proc/"), "{}", loaded(&proc));
    // A second proc gets the same in-memory copy.
    let proc2 = Proc::new(0).unwrap();
    assert_eq!(which(&proc2, &lib).unwrap(), 2);
}

#[test]
fn a_rebuilt_library_at_the_path_is_passed_over_for_the_embedded_one() {
    let path = build("locate_rebuilt", 3);
    let bytes = std::fs::read(&path).unwrap();
    // Another build of the library now sits where this one was built.
    let other = build("locate_rebuilt", 4);
    std::fs::copy(&other, &path).unwrap();
    let lib = built("locate_rebuilt", path.to_str().unwrap(), bytes);
    let proc = Proc::new(0).unwrap();
    assert_eq!(which(&proc, &lib).unwrap(), 3);
}

#[test]
fn the_variable_overrides_the_location() {
    let path = build("locate_override", 5);
    let other = build("locate_override", 6);
    let bytes = std::fs::read(&path).unwrap();
    let lib = built("locate_override", path.to_str().unwrap(), bytes);
    std::env::set_var("VEO_LIB_locate_override_PATH", &other);
    let proc = Proc::new(0).unwrap();
    assert_eq!(which(&proc, &lib).unwrap(), 6);
    assert_eq!(loaded(&proc), other.display().to_string());
}

#[test]
fn a_variable_naming_no_file_is_an_error_that_says_so() {
    let path = build("locate_bad_var", 7);
    let bytes = std::fs::read(&path).unwrap();
    let lib = built("locate_bad_var", path.to_str().unwrap(), bytes);
    std::env::set_var("VEO_LIB_locate_bad_var_PATH", "/nonexistent/libx.so");
    let proc = Proc::new(0).unwrap();
    let e = which(&proc, &lib).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::LibraryNotFound { .. }), "{text}");
    assert!(
        text.contains("$VEO_LIB_locate_bad_var_PATH = /nonexistent/libx.so: no such file"),
        "{text}"
    );
    // A folder is not a library either; the proc still works.
    std::env::set_var("VEO_LIB_locate_bad_var_PATH", env!("CARGO_TARGET_TMPDIR"));
    let text = which(&proc, &lib).unwrap_err().to_string();
    assert!(text.contains("not a file"), "{text}");
    std::env::remove_var("VEO_LIB_locate_bad_var_PATH");
    assert_eq!(which(&proc, &lib).unwrap(), 7);
}

#[test]
fn nothing_found_lists_every_place_looked_at() {
    let lib = built("locate_none", "/nonexistent/liblocate_none.so", Vec::new());
    let proc = Proc::new(0).unwrap();
    let text = which(&proc, &lib).unwrap_err().to_string();
    for place in [
        "$VEO_LIB_locate_none_PATH: not set",
        "/nonexistent/liblocate_none.so (where it was built): No such file",
        "the program: no copy embedded",
    ] {
        assert!(text.contains(place), "`{place}` missing:\n{text}");
    }
}
