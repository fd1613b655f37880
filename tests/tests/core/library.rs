//! Libraries: load, unload and reload (really unloaded: its state starts
//! over), a library loaded twice, library not found and symbol not found
//! (errors that leave the helper serving), the static library (kernels of
//! the program itself), lookups by name across libraries, the symbol cache,
//! and the synchronous call on the proc.
//! Kernels: tests/kernels/core_reload/core_reload.c, core_args.c, and
//! `core_static_triple` below.

// The glue of `#[ve_kernel]` stubs, to test the cache they fall back on.
use veo_runtime::__private::{kernel, KernelLibrary};
use veo_runtime::{ve_kernel, Args, Error, Proc};
use veo_tests::{Ve, KERNELS, RELOAD_KERNELS};

/// A kernel linked into the test program itself: the helper is this program
/// re-executed, so `static_library()` finds it (tests/build.rs links the
/// tests with `-rdynamic` so that the symbol is exported).
#[no_mangle]
pub extern "C" fn core_static_triple(x: i64) -> i64 {
    x.wrapping_mul(3)
}

fn call0(proc: &Proc, f: &veo_runtime::Function) -> veo_runtime::Result<i64> {
    proc.call_sync(f, Args::new())
}

#[test]
fn unload_and_reload_starts_the_library_over() {
    let proc = Proc::new(0).unwrap();
    let ctx = proc.open_context().unwrap();
    let lib = proc.load_library(RELOAD_KERNELS).unwrap();
    assert!(lib.is_loaded());
    assert_eq!(lib.name(), RELOAD_KERNELS);
    let bump = lib.function("core_reload_bump").unwrap();
    let loads = lib.function("core_reload_loads").unwrap();
    assert_eq!(call0(&proc, &loads).unwrap(), 1);
    for k in 1..=3 {
        let v: i64 = ctx.call(&bump, Args::new()).unwrap().wait().unwrap();
        assert_eq!(v, k);
    }
    assert!(proc.libraries().iter().any(|l| l.handle() == lib.handle()));

    lib.unload().unwrap();
    assert!(!lib.is_loaded());
    assert!(!proc.libraries().iter().any(|l| l.handle() == lib.handle()));
    // Its functions and symbols are unusable now, with an error that
    // names the library.
    let unloaded = |r: Result<(), Error>, what: &str| match r {
        Err(Error::LibraryUnloaded { path }) => assert_eq!(path, RELOAD_KERNELS, "{what}"),
        other => panic!("{what} after the unload: {other:?}"),
    };
    unloaded(ctx.call::<i64>(&bump, Args::new()).map(drop), "call");
    unloaded(call0(&proc, &bump).map(drop), "call_sync");
    unloaded(lib.symbol("core_reload_bump").map(drop), "symbol");
    unloaded(lib.function("core_reload_loads").map(drop), "function");
    unloaded(lib.unload(), "a second unload");

    // Loaded again: a fresh copy, its state starts over.
    let lib2 = proc.load_library(RELOAD_KERNELS).unwrap();
    let bump2 = lib2.function("core_reload_bump").unwrap();
    assert_eq!(
        call0(&proc, &lib2.function("core_reload_loads").unwrap()).unwrap(),
        1
    );
    let v: i64 = ctx.call(&bump2, Args::new()).unwrap().wait().unwrap();
    assert_eq!(v, 1, "the library was not really unloaded");
}

#[test]
fn a_library_loaded_twice_stays_until_both_are_unloaded() {
    let proc = Proc::new(0).unwrap();
    let a = proc.load_library(RELOAD_KERNELS).unwrap();
    let b = proc.load_library(RELOAD_KERNELS).unwrap();
    let fa = a.function("core_reload_bump").unwrap();
    let fb = b.function("core_reload_bump").unwrap();
    assert_eq!(fa.addr(), fb.addr(), "one copy in the helper");
    assert_eq!(call0(&proc, &fa).unwrap(), 1);
    assert_eq!(call0(&proc, &fb).unwrap(), 2);
    a.unload().unwrap();
    assert_eq!(call0(&proc, &fb).unwrap(), 3, "b still holds the library");
    b.unload().unwrap();
    let c = proc.load_library(RELOAD_KERNELS).unwrap();
    assert_eq!(
        call0(&proc, &c.function("core_reload_bump").unwrap()).unwrap(),
        1
    );
}

#[test]
fn library_not_found_is_an_error_and_the_helper_still_answers() {
    let ve = Ve::new();
    let missing = "/nonexistent/veo-tests/libnope.so";
    match ve.proc.load_library(missing) {
        Err(Error::LibraryNotFound { path, message }) => {
            assert_eq!(path, missing);
            assert!(
                message.contains("No such file"),
                "the loader's message is kept: {message:?}"
            );
        }
        other => panic!("expected LibraryNotFound, got {other:?}"),
    }
    // A file that is not a library.
    let not_a_lib = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let e = ve.proc.load_library(not_a_lib).unwrap_err();
    assert!(matches!(e, Error::LibraryNotFound { .. }), "{e}");
    assert!(
        e.to_string().contains("Cargo.toml"),
        "message names the file: {e}"
    );
    // A path with a NUL byte never reaches the helper.
    assert!(matches!(
        ve.proc.load_library("lib\0x.so"),
        Err(Error::InvalidArgument(_))
    ));

    assert_still_answers(&ve, 5);
    assert!(ve.proc.load_library(RELOAD_KERNELS).is_ok());
}

#[test]
fn symbol_not_found_is_an_error_and_the_helper_still_answers() {
    let ve = Ve::new();
    match ve.lib.function("core_no_such_kernel") {
        Err(Error::SymbolNotFound { name, library, .. }) => {
            assert_eq!(name, "core_no_such_kernel");
            assert_eq!(library, KERNELS);
        }
        other => panic!("expected SymbolNotFound, got {other:?}"),
    }
    assert!(matches!(
        ve.proc.get_function("core_no_such_kernel"),
        Err(Error::SymbolNotFound { .. })
    ));
    assert!(matches!(
        ve.ctx
            .call_by_name::<i64>("core_no_such_kernel", Args::new()),
        Err(Error::SymbolNotFound { .. })
    ));
    assert!(matches!(
        ve.proc
            .static_library()
            .unwrap()
            .function("core_no_such_kernel"),
        Err(Error::SymbolNotFound { .. })
    ));
    assert!(matches!(
        ve.lib.function("core_one\0"),
        Err(Error::InvalidArgument(_))
    ));
    // A symbol of the other library is not in this one.
    assert!(matches!(
        ve.lib.function("core_reload_bump"),
        Err(Error::SymbolNotFound { .. })
    ));

    assert_still_answers(&ve, 6);
}

#[test]
fn the_static_library_finds_kernels_of_the_program_itself() {
    let proc = Proc::new(0).unwrap();
    let ctx = proc.open_context().unwrap();
    let lib = proc.static_library().unwrap();
    let f = lib.function("core_static_triple").unwrap();
    let mut a = Args::new();
    a.i64(-14);
    assert_eq!(ctx.call::<i64>(&f, a).unwrap().wait().unwrap(), -42);
    let mut a = Args::new();
    a.i64(1 << 40);
    assert_eq!(proc.call_sync::<i64>(&f, a).unwrap(), 3 << 40);
    // Found by name with no library loaded, and through KernelLibrary::Static.
    assert!(proc.libraries().is_empty());
    let mut a = Args::new();
    a.i64(7);
    assert_eq!(
        ctx.call_by_name::<i64>("core_static_triple", a)
            .unwrap()
            .wait()
            .unwrap(),
        21
    );
    let k = kernel(&proc, &KernelLibrary::Static, "core_static_triple").unwrap();
    assert_eq!(k.addr(), f.addr());
    // It cannot be unloaded.
    assert!(lib.unload().is_err());
    let mut a = Args::new();
    a.i64(2);
    assert_eq!(proc.call_sync::<i64>(&f, a).unwrap(), 6);
}

#[test]
fn calls_by_name_search_every_loaded_library() {
    let ve = Ve::new();
    let _reload = ve.proc.load_library(RELOAD_KERNELS).unwrap();
    assert_eq!(ve.proc.libraries().len(), 2);
    // One kernel from each library, by name, async and sync.
    let mut a = Args::new();
    a.i64(3);
    let v: i64 = ve
        .ctx
        .call_by_name("core_reload_only_here", a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(v, 3042);
    let mut a = Args::new();
    a.i64(1);
    let v: i64 = ve.proc.call_sync_by_name("core_one", a).unwrap();
    assert_eq!(v, 1 ^ 0x0123_4567_89ab_cdef);
    let mut a = Args::new();
    a.i64(4);
    let v: i64 = ve
        .proc
        .call_sync_by_name("core_reload_only_here", a)
        .unwrap();
    assert_eq!(v, 4042);
    assert_eq!(
        ve.proc.get_function("core_one").unwrap().addr(),
        ve.f("core_one").addr()
    );
    // The static library comes last: the program's own kernels too.
    let mut a = Args::new();
    a.i64(5);
    assert_eq!(
        ve.proc
            .call_sync_by_name::<i64>("core_static_triple", a)
            .unwrap(),
        15
    );
}

#[test]
fn symbols_are_cached_per_library() {
    let ve = Ve::new();
    assert!(!ve.lib.cached_symbols().contains(&"core_zero".to_string()));
    let a = ve.lib.symbol("core_zero").unwrap();
    let b = ve.lib.symbol("core_zero").unwrap();
    assert_eq!(a, b);
    assert!(!a.is_null());
    assert!(ve.lib.cached_symbols().contains(&"core_zero".to_string()));
    assert_eq!(ve.f("core_zero").addr(), a.addr());
    assert_eq!(ve.f("core_zero").name(), "core_zero");

    // The kernel cache #[ve_kernel] stubs fall back on loads the library on first
    // use and returns the same function every time.
    let proc = Proc::new(0).unwrap();
    assert!(proc.libraries().is_empty());
    let k1 = kernel(&proc, &KernelLibrary::Path(KERNELS), "core_zero").unwrap();
    let k2 = kernel(&proc, &KernelLibrary::Path(KERNELS), "core_zero").unwrap();
    assert_eq!(k1.addr(), k2.addr());
    assert_eq!(proc.libraries().len(), 1, "loaded once");
    assert_eq!(proc.call_sync::<i64>(&k1, Args::new()).unwrap(), 0x5eed);
}

#[test]
fn kernels_reload_after_their_library_was_unloaded() {
    // The path #[ve_kernel] stubs take: the kernel cache loads on first use.
    let proc = Proc::new(0).unwrap();
    let lib = KernelLibrary::Path(RELOAD_KERNELS);
    let k = kernel(&proc, &lib, "core_reload_bump").unwrap();
    assert_eq!(call0(&proc, &k).unwrap(), 1);
    assert_eq!(call0(&proc, &k).unwrap(), 2);
    let loaded = proc.libraries();
    assert_eq!(loaded.len(), 1);
    loaded[0].unload().unwrap();
    assert!(proc.libraries().is_empty());
    assert!(matches!(
        call0(&proc, &k),
        Err(Error::LibraryUnloaded { ref path }) if path == RELOAD_KERNELS
    ));
    // Asked again: loaded afresh, not the stale cached function.
    let k2 = kernel(&proc, &lib, "core_reload_bump").unwrap();
    assert_eq!(call0(&proc, &k2).unwrap(), 1);
    assert_eq!(proc.libraries().len(), 1);
}

#[ve_kernel(library = "core_reload")]
extern "C" {
    /// Counts its calls since the library was loaded.
    fn core_reload_bump() -> i64;
}

#[test]
fn a_stub_finds_its_kernel_again_in_another_proc_and_after_an_unload() {
    // Each stub keeps the address it resolved last (for one proc, one
    // state of the libraries): another proc, or an unload, must not use it.
    let a = Proc::new(0).unwrap();
    let b = Proc::new(0).unwrap();
    assert_eq!(core_reload_bump_sync(&a).unwrap(), 1);
    assert_eq!(core_reload_bump_sync(&a).unwrap(), 2);
    assert_eq!(core_reload_bump_sync(&b).unwrap(), 1, "b's own library");
    assert_eq!(core_reload_bump_sync(&a).unwrap(), 3);
    let loaded = a.libraries();
    assert_eq!(loaded.len(), 1);
    loaded[0].unload().unwrap();
    // Loaded afresh on the next call: its counter starts over.
    assert_eq!(core_reload_bump_sync(&a).unwrap(), 1);
    let ctx = a.open_context().unwrap();
    assert_eq!(core_reload_bump(&ctx).unwrap().wait().unwrap(), 2);
    assert_eq!(core_reload_bump_sync(&b).unwrap(), 2);
}

/// The helper is alive and still runs kernels after a failed request.
fn assert_still_answers(ve: &Ve, x: i64) {
    assert!(ve.proc.is_alive());
    let mut a = Args::new();
    a.i64(x);
    assert_eq!(
        ve.ctx
            .call::<i64>(&ve.f("core_one"), a)
            .unwrap()
            .wait()
            .unwrap(),
        x ^ 0x0123_4567_89ab_cdef
    );
}
