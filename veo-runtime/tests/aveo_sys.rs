//! The AVEO backend's lower layers (`veo_runtime::aveo::{sys, result}`)
//! against stand-in vendor libraries built from
//! `tests/fixtures/libveo_stand_in.c` with the host C compiler: the API
//! version check (8, the original VEO, refused), functions of later API
//! versions missing (`Error::Unsupported` naming the function and the
//! version), `veo_proc_create` returning NULL (the huge-pages hint), and
//! the return codes of the calls.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr::NonNull;
use veo_runtime::aveo::result;
use veo_runtime::aveo::sys::{self, LibVeo};
use veo_runtime::Error;
use veo_urpc::elf::Side;

/// Builds the stand-in with `defines` into `lib<name>.so`.
fn stand_in(name: &str, defines: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aveo_sys");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("lib{name}.so"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libveo_stand_in.c");
    let status = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()))
        .args(["-shared", "-fpic", "-o"])
        .arg(&out)
        .args(defines)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success(), "cannot build the stand-in {name}");
    out
}

fn open_err(path: &Path) -> String {
    match LibVeo::open(Some(path)) {
        Err(e @ Error::Aveo { .. }) => e.to_string(),
        Err(e) => panic!("expected Error::Aveo, got {e:?}"),
        Ok(l) => panic!("{l:?} was accepted"),
    }
}

#[test]
fn api_8_is_refused_as_the_original_veo() {
    let lib = stand_in("veo_api8", &["-DAPI=8"]);
    let e = open_err(&lib);
    assert!(
        e.contains("API version 8")
            && e.contains("original VEO")
            && e.contains("API 9 or later")
            && e.contains("libveo_api8.so"),
        "{e}"
    );
    // The first AVEO API is accepted.
    let lib = stand_in("veo_api9", &["-DAPI=9"]);
    assert_eq!(LibVeo::open(Some(&lib)).unwrap().api_version(), 9);
}

#[test]
fn a_later_function_missing_is_unsupported_naming_it_and_its_api() {
    let path = stand_in("veo_api13", &["-DAPI=13"]);
    let lib = LibVeo::open(Some(&path)).unwrap();
    assert_eq!(lib.api_version(), 13);
    assert_eq!(lib.version(), "stand-in");
    assert_eq!(lib.path(), path);
    let e = lib.veo_alloc_mem_async().unwrap_err();
    match &e {
        Error::Unsupported {
            function,
            since,
            api,
            library,
        } => {
            assert_eq!(*function, "veo_alloc_mem_async");
            assert_eq!((*since, *api), (14, 13));
            assert_eq!(library, &path.display().to_string());
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("veo_alloc_mem_async")
            && text.contains("AVEO API 14")
            && text.contains("(API 13)"),
        "{text}"
    );
    let missing = lib.missing();
    assert!(
        missing.contains(&("veo_alloc_mem_async", 14)),
        "{missing:?}"
    );
    assert!(missing.contains(&("veo_num_contexts", 9)), "{missing:?}");
    assert!(!missing.iter().any(|(f, _)| *f == "veo_proc_create"));

    // API 14 has it, and the pointer is the library's function.
    let lib = LibVeo::open(Some(&stand_in("veo_api14", &["-DAPI=14"]))).unwrap();
    let f = lib.veo_alloc_mem_async().unwrap();
    // SAFETY: the stand-in ignores the context and returns the size.
    assert_eq!(unsafe { f(std::ptr::null_mut(), 4096) }, 4096);
}

#[test]
fn a_null_proc_gives_the_huge_pages_hint() {
    let lib = LibVeo::open(Some(&stand_in("veo_nullproc", &["-DNULL_PROC"]))).unwrap();
    let e = result::proc_create(&lib, 1).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::Aveo { .. }), "{e:?}");
    assert!(
        text.starts_with("veo_proc_create(1): ")
            && text.contains("vm.nr_hugepages")
            && text.contains("another job")
            && text.contains("VE node 1"),
        "{text}"
    );
}

#[test]
fn return_codes_become_errors() {
    let path = stand_in("veo_api16", &[]);
    let lib = LibVeo::open(Some(&path)).unwrap();
    assert_eq!(lib.api_version(), 16);
    let proc = result::proc_create(&lib, 0).unwrap();

    // SAFETY: `proc` is the stand-in's live handle.
    let addr = unsafe { result::alloc_mem(&lib, proc, 64) }.unwrap();
    assert_eq!(addr, 0x6000_0000_0000 + 64);
    // SAFETY: as above.
    let e = unsafe { result::alloc_mem(&lib, proc, 2 << 20) }.unwrap_err();
    assert!(
        matches!(e, Error::OutOfMemory { size } if size == 2 << 20),
        "{e:?}"
    );

    // A host library given to a VE is named as such.
    // SAFETY: as above.
    let e = unsafe { result::load_library(&lib, proc, path.to_str().unwrap()) }.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::LibraryNotFound { .. }), "{e:?}");
    assert!(
        text.contains("built for x86_64") || text.contains("built for aarch64"),
        "{text}"
    );
    assert!(
        text.contains("not for the VE") && text.contains("NCC"),
        "{text}"
    );
    // SAFETY: as above.
    let e = unsafe { result::load_library(&lib, proc, "/nonexistent/libk.so") }.unwrap_err();
    assert!(e.to_string().contains("No such file or directory"), "{e}");
    // A bare name is the VE loader's to search: no guess about this host.
    // SAFETY: as above.
    let e = unsafe { result::load_library(&lib, proc, "libk_nowhere.so") }.unwrap_err();
    assert!(e.to_string().contains("veo_load_library returned 0"), "{e}");

    let destroy = lib.veo_proc_destroy().unwrap();
    // SAFETY: the stand-in's handle, destroyed once.
    result::check("veo_proc_destroy", unsafe { destroy(proc.as_ptr()) }).unwrap();
    // SAFETY: the stand-in only compares the pointer.
    let rc = unsafe { destroy(NonNull::dangling().as_ptr()) };
    let e = result::check("veo_proc_destroy", rc).unwrap_err();
    assert_eq!(
        e.to_string(),
        "veo_proc_destroy: failed with -1 (libveo's message, if any, is on standard output)"
    );
}

#[test]
fn request_ids_and_command_states() {
    assert_eq!(result::request_id("veo_call_async", 7).unwrap(), 7);
    let e = result::request_id("veo_call_async", sys::VEO_REQUEST_ID_INVALID).unwrap_err();
    assert!(e.to_string().contains("VEO_REQUEST_ID_INVALID"), "{e}");

    let w = "veo_call_wait_result";
    assert_eq!(
        result::command(w, sys::VEO_COMMAND_OK, 42).unwrap(),
        Some(42)
    );
    assert_eq!(
        result::command(w, sys::VEO_COMMAND_UNFINISHED, 0).unwrap(),
        None
    );
    match result::command(w, sys::VEO_COMMAND_EXCEPTION, 11) {
        Err(Error::KernelException {
            signal,
            signal_name,
            ..
        }) => assert_eq!((signal, signal_name), (11, "SIGSEGV")),
        other => panic!("{other:?}"),
    }
    let e = result::command(w, sys::VEO_COMMAND_ERROR, 0).unwrap_err();
    assert!(e.to_string().contains("VEO_COMMAND_ERROR"), "{e}");
    let e = result::command(w, -1, 0).unwrap_err();
    assert!(e.to_string().contains("internal error"), "{e}");

    assert_eq!(
        result::symbol_address("f", "libk.so", 0x1000).unwrap(),
        0x1000
    );
    assert!(matches!(
        result::symbol_address("f", "libk.so", 0),
        Err(Error::SymbolNotFound { .. })
    ));
    assert!(matches!(
        result::library_handle(&"x".repeat(300), 0, Side::Ve),
        Err(Error::LibraryNotFound { message, .. }) if message.contains("255 bytes")
    ));
}

#[test]
fn the_library_comes_from_the_path_then_veo_libveo_then_the_default() {
    // The only test of this binary that touches VEO_LIBVEO.
    let path = stand_in("veo_env", &["-DAPI=15"]);
    std::env::set_var(sys::LIBVEO_ENV, &path);
    let lib = LibVeo::open(None);
    std::env::remove_var(sys::LIBVEO_ENV);
    assert_eq!(lib.unwrap().api_version(), 15);

    if !Path::new(sys::DEFAULT_LIBVEO).exists() {
        let e = LibVeo::open(None).unwrap_err().to_string();
        assert!(
            e.contains(sys::DEFAULT_LIBVEO)
                && e.contains("install AVEO")
                && e.contains("VEO_LIBVEO"),
            "{e}"
        );
    }

    // A library that is not VEO at all.
    let other = stand_in("not_veo", &["-Dveo_api_version=something_else"]);
    let e = open_err(&other);
    assert!(e.contains("not a VEO library"), "{e}");
}

#[test]
fn a_static_helper_must_be_a_ve_program() {
    let lib = LibVeo::open(Some(&stand_in("veo_static", &[]))).unwrap();
    // This test program is a host program: refused by name, before libveo.
    let exe = std::env::current_exe().unwrap();
    let e = result::proc_create_static(&lib, 0, &exe, Side::Ve).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::Aveo { .. }), "{e:?}");
    assert!(
        text.contains("is a helper program built for") && text.contains("not for the VE"),
        "{text}"
    );

    // A VE program (a fabricated ELF header, machine 251) goes through.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aveo_sys");
    let veorun = dir.join("veorun_static");
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[16..18].copy_from_slice(&2u16.to_le_bytes());
    h[18..20].copy_from_slice(&251u16.to_le_bytes());
    std::fs::write(&veorun, h).unwrap();
    result::proc_create_static(&lib, 0, &veorun, Side::Ve).unwrap();

    // NULL from libveo: the same hint as veo_proc_create.
    let null = LibVeo::open(Some(&stand_in("veo_static_null", &["-DNULL_PROC"]))).unwrap();
    let e = result::proc_create_static(&null, 2, &veorun, Side::Ve).unwrap_err();
    assert!(e.to_string().contains("vm.nr_hugepages"), "{e}");
}

/// One record of the stand-in's last argument list.
#[derive(Debug, PartialEq)]
struct Rec {
    kind: char,
    argnum: i32,
    bits: u64,
    intent: i32,
    len: usize,
}

#[test]
fn args_become_veo_args_with_stack_buffers_the_runtime_owns() {
    use veo_runtime::aveo::args::marshal;
    use veo_runtime::{Args, VePtr};

    let path = stand_in("veo_args", &[]);
    let lib = LibVeo::open(Some(&path)).unwrap();
    // The stand-in's test hooks, read through a second handle on the same
    // library (the same globals).
    // SAFETY: the stand-in was just built from the fixture; its hooks have
    // the C types written here.
    let hooks = unsafe { libloading::Library::new(&path) }.unwrap();
    type RecordFn =
        unsafe extern "C" fn(i32, *mut u8, *mut i32, *mut u64, *mut i32, *mut usize) -> i32;
    // SAFETY: as above.
    let (count, record, write_back, freed) = unsafe {
        (
            *hooks
                .get::<unsafe extern "C" fn() -> i32>(b"stand_in_count")
                .unwrap(),
            *hooks.get::<RecordFn>(b"stand_in_record").unwrap(),
            *hooks
                .get::<unsafe extern "C" fn(i32, u8)>(b"stand_in_write_back")
                .unwrap(),
            *hooks
                .get::<unsafe extern "C" fn() -> i32>(b"stand_in_freed")
                .unwrap(),
        )
    };
    let records = || -> Vec<Rec> {
        // SAFETY: the hooks read the stand-in's globals into these.
        (0..unsafe { count() })
            .map(|i| {
                let (mut kind, mut argnum, mut bits, mut intent, mut len) = (0u8, 0, 0, 0, 0);
                // SAFETY: `record` writes the five locals for an index below `count()`.
                let rc =
                    unsafe { record(i, &mut kind, &mut argnum, &mut bits, &mut intent, &mut len) };
                assert_eq!(rc, 0);
                Rec {
                    kind: kind as char,
                    argnum,
                    bits,
                    intent,
                    len,
                }
            })
            .collect()
    };

    let input = [7u8, 8, 9];
    let mut inout = [1u8, 2];
    let mut out = [0u8; 4];
    let mut args = Args::new();
    args.i8(-2)
        .u16(65535)
        .i32(-5)
        .u64(u64::MAX)
        .f32(1.5)
        .f64(-0.25)
        .ptr(VePtr::<f64>::new(0x6000_0000_1000))
        .stack_in(&input)
        .stack_inout(&mut inout)
        .stack_out(&mut out);
    let (veo, stack) = marshal(&lib, &args, 1 << 20).unwrap();
    assert_eq!(stack.len(), 3);
    // SAFETY: reads a counter.
    let before = unsafe { freed() };
    drop(veo);
    // SAFETY: reads a counter.
    let after = unsafe { freed() };
    assert_eq!(after, before + 1, "the veo_args is freed on drop");

    let s = |argnum, bits, intent, len| Rec {
        kind: 's',
        argnum,
        bits,
        intent,
        len,
    };
    let r = |kind, argnum, bits| Rec {
        kind,
        argnum,
        bits,
        intent: 0,
        len: 0,
    };
    assert_eq!(
        records(),
        [
            r('b', 0, (-2i64) as u64),
            r('H', 1, 65535),
            r('i', 2, (-5i64) as u64),
            r('L', 3, u64::MAX),
            r('f', 4, u64::from(1.5f32.to_bits())),
            r('d', 5, (-0.25f64).to_bits()),
            r('L', 6, 0x6000_0000_1000),
            // AVEO's intents: IN 0, INOUT 1, OUT 2; first byte of the data.
            s(7, 7, 0, 3),
            s(8, 1, 1, 2),
            s(9, 0, 2, 4),
        ]
    );

    // libveo delivers the result into its own buffers whenever it likes;
    // the borrowed Rust buffers (still borrowed by `args`) are written only
    // by the request's copy-out.
    // SAFETY: writes into the buffers `stack` owns and keeps alive.
    unsafe {
        write_back(8, 0xAA);
        write_back(9, 0xBB);
    }
    stack.copy_out(&mut args);
    drop(args);
    assert_eq!(inout, [0xAA; 2]);
    assert_eq!(out, [0xBB; 4]);
    assert_eq!(input, [7, 8, 9], "IN data is never written back");

    // The limits are checked before libveo is asked for anything.
    let mut big = Args::new();
    big.stack_in(&[0u8; 64]);
    match marshal(&lib, &big, 32) {
        Err(Error::StackTooLarge { size: 64, max: 32 }) => {}
        other => panic!("expected StackTooLarge, got {other:?}"),
    };
}

#[test]
fn the_backend_objects_report_the_quirks_of_the_vendor_library() {
    use std::sync::Arc;
    use veo_runtime::aveo::proc::AveoProc;

    // veo_proc_create returning NULL: the huge-pages and node hints.
    let null = Arc::new(LibVeo::open(Some(&stand_in("veo_obj_null", &["-DNULL_PROC"]))).unwrap());
    let e = AveoProc::open(null, 3, None).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("veo_proc_create(3): ")
            && text.contains("vm.nr_hugepages")
            && text.contains("another job"),
        "{text}"
    );

    // An AVEO of API 13 lacks veo_alloc_mem_async: Unsupported, naming it
    // and API 14, when it is used.
    let path = stand_in("veo_obj_api13", &["-DAPI=13"]);
    let lib = Arc::new(LibVeo::open(Some(&path)).unwrap());
    assert!(
        lib.emulated().is_none(),
        "NEC's library has no veo-rs marker"
    );
    let proc = AveoProc::open(lib, 0, None).unwrap();
    assert!(!proc.is_emulated());
    let ctx = proc.open_context().unwrap();
    assert!(ctx.is_main());
    match ctx.alloc_async(64) {
        Err(Error::Unsupported {
            function,
            since,
            api,
            ..
        }) => assert_eq!((function, since, api), ("veo_alloc_mem_async", 14, 13)),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    // A host library given to a real VE is named as such, before libveo.
    let e = proc.load_library(&path).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("not for the VE") && text.contains("NEC compilers"),
        "{text}"
    );
    ctx.close().unwrap();
}

#[test]
fn a_proc_on_aveo_reports_the_vendor_library_s_quirks() {
    use veo_runtime::{Backend, BackendChoice, Proc};
    let aveo = |lib: &Path| Proc::builder().backend(BackendChoice::Aveo).libveo(lib);

    // The original VEO (API 8) is refused when the proc is built.
    let e = aveo(&stand_in("veo_proc_api8", &["-DAPI=8"]))
        .build()
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("API version 8") && text.contains("original VEO"),
        "{text}"
    );

    // veo_proc_create returning NULL: the node, huge pages, another job.
    let e = aveo(&stand_in("veo_proc_null", &["-DNULL_PROC"]))
        .node(2)
        .build()
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("veo_proc_create(2): ")
            && text.contains("vm.nr_hugepages")
            && text.contains("another job"),
        "{text}"
    );

    // A function of a later API than the library's: Unsupported, naming it
    // and the API that has it, when it is used; the rest works.
    let path = stand_in("veo_proc_api13", &["-DAPI=13"]);
    let proc = aveo(&path).build().unwrap();
    assert_eq!(
        proc.backend(),
        Backend::Aveo {
            library: path.clone(),
            api: 13
        }
    );
    assert_eq!(
        proc.backend().to_string(),
        format!("AVEO ({}, API 13)", path.display())
    );
    let ctx = proc.open_context().unwrap();
    match ctx.alloc_async(64) {
        Err(Error::Unsupported {
            function,
            since,
            api,
            ..
        }) => assert_eq!((function, since, api), ("veo_alloc_mem_async", 14, 13)),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    let ve = proc.alloc_mem(64).unwrap();
    assert_eq!(ve.addr(), 0x6000_0000_0000 + 64);
    // A host library for a real VE: named for what it is.
    let e = proc.load_library(&path).unwrap_err().to_string();
    assert!(
        e.contains("not for the VE") && e.contains("NEC compilers"),
        "{e}"
    );
    drop(ctx);
}

/// NEC's libveo keeps a reference to a call's `veo_args` until the call is
/// collected (the stand-in reads argument 0 from it only then): each
/// request keeps its own list, so calls queued together answer for their
/// own arguments, and no list is freed while a request holds it.
#[test]
fn a_call_s_list_stays_with_its_request_on_nec_s_library() {
    use std::sync::Arc;
    use veo_runtime::aveo::proc::AveoProc;
    use veo_runtime::Args;

    let path = stand_in("veo_lend", &[]);
    let lib = Arc::new(LibVeo::open(Some(&path)).unwrap());
    assert!(
        lib.emulated().is_none(),
        "a library without veo-rs's marker"
    );
    // SAFETY: the stand-in was just built from the fixture; the hook has
    // the C type written here.
    let hooks = unsafe { libloading::Library::new(&path) }.unwrap();
    // SAFETY: as above.
    let freed = unsafe {
        *hooks
            .get::<unsafe extern "C" fn() -> i32>(b"stand_in_freed")
            .unwrap()
    };
    let proc = AveoProc::open(lib, 0, None).unwrap();
    let ctx = proc.open_context().unwrap();
    let call = |v: u64| {
        let mut args = Args::new();
        args.u64(v).i32(-1);
        ctx.call::<u64>(0x1000, args).unwrap()
    };
    for round in 0..3u64 {
        let pending: Vec<_> = (0..40).map(|i| call(round * 100 + i)).collect();
        // SAFETY: a hook of the stand-in, no arguments.
        assert_eq!(unsafe { freed() }, 0, "no list freed while lent");
        for (i, r) in (0..).zip(pending) {
            assert_eq!(r.wait().unwrap(), round * 100 + i);
        }
    }
    // Dropped unfinished: the list stays with the context until collected.
    drop(call(7));
    assert_eq!(ctx.outstanding(), 1);
    assert_eq!(call(8).wait().unwrap(), 8);
    ctx.close().unwrap();
}

/// NEC's libveo runs queued VH functions inside `veo_call_peek_result`,
/// in the thread that asks (its progress); the context asks it when it
/// collects the requests dropped unfinished. A VH function that submits
/// on that context and drops the request (the stand-in runs one inside
/// the next peek) finds the context's list of dropped requests free, not
/// locked by the collection it runs in.
#[test]
fn a_vh_function_run_inside_a_collection_submits_and_drops_on_its_context() {
    use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    use veo_runtime::aveo::context::AveoContext;
    use veo_runtime::aveo::proc::AveoProc;
    use veo_runtime::Args;

    static CTX: AtomicPtr<AveoContext> = AtomicPtr::new(std::ptr::null_mut());
    static RAN: AtomicBool = AtomicBool::new(false);
    extern "C" fn vh_function() {
        // SAFETY: set to the test's context, which outlives every peek.
        let ctx = unsafe { &*CTX.load(Ordering::Acquire) };
        let mut args = Args::new();
        args.u64(5);
        drop(ctx.call::<u64>(0x1000, args).unwrap());
        RAN.store(true, Ordering::Release);
    }

    let path = stand_in("veo_progress", &[]);
    let lib = Arc::new(LibVeo::open(Some(&path)).unwrap());
    // SAFETY: the stand-in was just built from the fixture; the hook has
    // the C type written here.
    let hooks = unsafe { libloading::Library::new(&path) }.unwrap();
    // SAFETY: as above.
    let on_next_peek = unsafe {
        *hooks
            .get::<unsafe extern "C" fn(extern "C" fn())>(b"stand_in_on_next_peek")
            .unwrap()
    };
    let (done, finished) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let proc = AveoProc::open(lib, 0, None).unwrap();
        let ctx = Box::new(proc.open_context().unwrap());
        CTX.store(&*ctx as *const AveoContext as *mut _, Ordering::Release);
        let call = |v: u64| {
            let mut args = Args::new();
            args.u64(v);
            ctx.call::<u64>(0x1000, args).unwrap()
        };
        drop(call(1));
        // SAFETY: a hook of the stand-in, given a function of the C type.
        unsafe { on_next_peek(vh_function) };
        // This submit collects the dropped call: the VH function runs
        // inside its peek.
        assert_eq!(call(2).wait().unwrap(), 2);
        assert!(RAN.load(Ordering::Acquire), "the VH function ran");
        assert_eq!(ctx.outstanding(), 1, "its dropped call is the context's");
        ctx.sync().unwrap();
        assert_eq!(ctx.outstanding(), 0);
        CTX.store(std::ptr::null_mut(), Ordering::Release);
        drop(ctx);
        done.send(()).unwrap();
    });
    if finished.recv_timeout(Duration::from_secs(60)).is_err() {
        panic!("deadlock: the VH function waits for the collection it runs in");
    }
    t.join().unwrap();
}
