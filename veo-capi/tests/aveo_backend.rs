//! veo-runtime's AVEO backend objects (`veo_runtime::aveo::{proc, context,
//! request}`) driving this package's libveo.so as the vendor library: a
//! proc's memory, libraries, symbols and synchronous calls; contexts with
//! calls of every result class, OnStack intents, asynchronous transfers,
//! allocations and VH functions; requests waited for, peeked at, timed out,
//! dropped and forgotten. Kernels: `tests/kernels/aveo_backend.c`, built
//! with the host compiler (this libveo.so's VE is the emulated one).
//!
//! libveo.so is the one cargo built for this package's tests (building an
//! integration test builds the library target, `cdylib` included).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use veo_runtime::aveo::proc::AveoProc;
use veo_runtime::aveo::sys::LibVeo;
use veo_runtime::{Args, ContextState, Error, Out, VePtr};

struct Setup {
    lib: Arc<LibVeo>,
    kernels: PathBuf,
    dir: PathBuf,
}

/// The libveo.so cargo built beside this test (`target/<profile>/deps`).
fn libveo() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let deps = exe.parent().expect("the deps directory");
    for dir in [deps, deps.parent().unwrap_or(deps)] {
        let p = dir.join("libveo.so");
        if p.exists() {
            return p;
        }
    }
    panic!("libveo.so not found beside {}", exe.display());
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        // AVEO opens a second context of a proc only with one OpenMP
        // thread, and this libveo.so does as AVEO does. Set before any
        // proc exists (every test comes through here first).
        std::env::set_var("VE_OMP_NUM_THREADS", "1");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("aveo-backend-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let kernels = dir.join("libaveo_backend.so");
        let status = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()))
            .args(["-shared", "-fPIC", "-O1", "-Wall", "-o"])
            .arg(&kernels)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kernels/aveo_backend.c"))
            .status()
            .unwrap();
        assert!(status.success(), "cannot build the kernels");
        // A copy, so that a rebuild meanwhile cannot change it under us.
        let lib = dir.join("libveo.so");
        std::fs::copy(libveo(), &lib).unwrap();
        let lib = Arc::new(LibVeo::open(Some(&lib)).unwrap());
        Setup { lib, kernels, dir }
    })
}

/// A proc on this libveo.so, with the test kernels loaded.
fn proc() -> (AveoProc, u64) {
    let s = setup();
    let p = AveoProc::open(s.lib.clone(), 0, None).unwrap();
    let h = p.load_library(&s.kernels).unwrap();
    (p, h)
}

#[test]
fn the_library_is_the_emulated_ve_with_the_current_api() {
    let s = setup();
    assert!(s.lib.api_version() >= 16, "{:?}", s.lib);
    let e = s.lib.emulated().expect("veo-capi's marker");
    assert_eq!(e.version, 1);
    let (p, _) = proc();
    assert!(p.is_emulated());
    assert_eq!(p.node(), 0);
    assert_eq!(p.static_helper(), None);
}

#[test]
fn memory_round_trips_and_bad_addresses_are_named() {
    let (p, _) = proc();
    let a = p.alloc(64).unwrap();
    let b = p.alloc(64).unwrap();
    assert_ne!(a, 0);
    let data: Vec<u8> = (0..64).collect();
    p.write(a, &data).unwrap();
    let mut back = [0u8; 64];
    p.read(&mut back, a).unwrap();
    assert_eq!(back.as_slice(), data.as_slice());
    // Inside VE memory, by the VE's memcpy.
    p.memcpy(b, a + 8, 32).unwrap();
    let mut copied = [0u8; 32];
    p.read(&mut copied, b).unwrap();
    assert_eq!(copied.as_slice(), &data[8..40]);
    p.free(a).unwrap();
    p.free(b).unwrap();
    // An address that is not VE memory of this proc.
    match p.read(&mut back, 0x10) {
        Err(Error::InvalidAddress {
            addr: 0x10,
            len: 64,
            reason,
        }) => {
            assert!(reason.contains("veo_read_mem failed"), "{reason}")
        }
        other => panic!("expected InvalidAddress, got {other:?}"),
    }
    assert!(p.free(a).is_err(), "a second free is an error");
}

#[test]
fn libraries_symbols_and_synchronous_calls() {
    let (p, h) = proc();
    let avg = p.get_sym(h, "average").unwrap();
    assert_ne!(avg, 0);
    let e = p.get_sym(h, "no_such_kernel").unwrap_err();
    assert!(
        matches!(&e, Error::SymbolNotFound { name, .. } if name == "no_such_kernel"),
        "{e:?}"
    );
    // A double result, through the register a host double is in.
    let host = [1.0f64, 2.0, 6.0];
    let a = p.alloc(24).unwrap();
    let bytes: Vec<u8> = host.iter().flat_map(|v| v.to_le_bytes()).collect();
    p.write(a, &bytes).unwrap();
    let mut args = Args::new();
    args.ptr(VePtr::<f64>::new(a)).i32(3);
    assert_eq!(p.call_sync::<f64>(avg, args).unwrap(), 3.0);
    // OnStack IN, and an f32 result.
    let mut args = Args::new();
    args.push(&host[..]).i32(3);
    assert_eq!(p.call_sync::<f64>(avg, args).unwrap(), 3.0);
    let mut args = Args::new();
    args.f32(3.0);
    assert_eq!(
        p.call_sync::<f32>(p.get_sym(h, "half").unwrap(), args)
            .unwrap(),
        1.5
    );
    // INOUT and OUT land in the borrowed buffers before call_sync returns.
    let mut x = [1.0f64, 2.0];
    let mut args = Args::new();
    args.push(&mut x[..]).i32(2).f64(10.0);
    let sum: f64 = p.call_sync(p.get_sym(h, "scale").unwrap(), args).unwrap();
    assert_eq!((sum, x), (3.0, [10.0, 20.0]));
    let mut out = [9.0f64; 3];
    let mut args = Args::new();
    args.push(Out(&mut out[..])).i32(3);
    p.call_sync::<()>(p.get_sym(h, "fill").unwrap(), args)
        .unwrap();
    assert_eq!(out, [0.0, 0.5, 1.0]);
    p.unload_library(h).unwrap();
    p.free(a).unwrap();
}

#[test]
fn a_library_image_is_loaded_from_a_private_file() {
    let s = setup();
    let (p, _) = proc();
    let bytes = std::fs::read(&s.kernels).unwrap();
    let h = p.load_library_image("aveo_image", &bytes).unwrap();
    let f = p.get_sym(h, "add").unwrap();
    let mut args = Args::new();
    args.i64(40).i64(2);
    assert_eq!(p.call_sync::<i64>(f, args).unwrap(), 42);
}

/// The header of an ELF64 shared object for `machine`.
fn elf_header(machine: u16) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[6] = 1;
    h[16..18].copy_from_slice(&3u16.to_le_bytes());
    h[18..20].copy_from_slice(&machine.to_le_bytes());
    h
}

#[test]
fn binaries_for_a_real_ve_are_refused_by_name_on_the_emulated_ve() {
    let s = setup();
    let (p, _) = proc();
    // A host library is right here (the emulated VE runs host code)...
    p.load_library(&s.kernels).unwrap();
    // ...and a VE library is named for what it is.
    let ve_lib = s.dir.join("libfor_a_ve.so");
    std::fs::write(&ve_lib, elf_header(251)).unwrap();
    let e = p.load_library(&ve_lib).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::LibraryNotFound { .. }), "{e:?}");
    assert!(
        text.contains("built for a real VE") && text.contains("emulated VE"),
        "{text}"
    );
    assert!(!text.contains("No such file"), "{text}");
    let e = p
        .load_library(&s.dir.join("libnothing_here.so"))
        .unwrap_err();
    assert!(e.to_string().contains("No such file or directory"), "{e}");
    // A static helper for a real VE, likewise.
    let e = AveoProc::open(s.lib.clone(), 0, Some(&ve_lib)).unwrap_err();
    assert!(
        e.to_string().contains("helper program built for a real VE"),
        "{e}"
    );
}

#[test]
fn calls_of_every_result_class_on_a_context() {
    let (p, h) = proc();
    let ctx = p.open_context().unwrap();
    assert!(ctx.is_main());
    assert_eq!((ctx.index(), p.num_contexts()), (0, 1));
    assert_eq!(ctx.state(), ContextState::Running);
    let sym = |n| p.get_sym(h, n).unwrap();

    let mut args = Args::new();
    args.i8(-1).u16(2).i32(-3).f32(0.5).f64(0.25).i64(100);
    let r = ctx.call::<f64>(sym("mix_args"), args).unwrap();
    let mut args = Args::new();
    args.f32(5.0);
    let half = ctx.call::<f32>(sym("half"), args).unwrap();
    let mut args = Args::new();
    args.i32(7);
    let neg = ctx.call::<i32>(sym("negate_i32"), args).unwrap();
    let mut args = Args::new();
    args.i64(1 << 40).i64(1);
    let add = ctx.call::<i64>(sym("add"), args).unwrap();
    assert_eq!(r.id() + 1, half.id(), "ids count up per context");
    // Collected out of order.
    assert_eq!(add.wait().unwrap(), (1 << 40) + 1);
    assert_eq!(neg.wait().unwrap(), -7);
    assert_eq!(half.wait().unwrap(), 2.5);
    assert_eq!(r.wait().unwrap(), -1.0 + 2.0 - 3.0 + 0.5 + 0.25 + 100.0);

    // OnStack: IN, INOUT and OUT with their intents.
    let v = [2.0f64, 4.0, 9.0];
    let mut args = Args::new();
    args.push(&v[..]).i32(3);
    assert_eq!(
        ctx.call::<f64>(sym("average"), args)
            .unwrap()
            .wait()
            .unwrap(),
        5.0
    );
    let mut x = [1.0f64, 2.0, 3.0];
    let mut args = Args::new();
    args.push(&mut x[..]).i32(3).f64(-1.0);
    let mut r = ctx.call::<f64>(sym("scale"), args).unwrap();
    let sum = loop {
        if let Some(s) = r.peek().unwrap() {
            break s;
        }
        std::thread::yield_now();
    };
    assert!(matches!(r.peek(), Err(Error::AlreadyTaken)));
    drop(r);
    assert_eq!((sum, x), (6.0, [-1.0, -2.0, -3.0]));
    let mut out = [7.0f64; 4];
    let mut args = Args::new();
    args.push(Out(&mut out[..])).i32(4);
    ctx.call::<()>(sym("fill"), args).unwrap().wait().unwrap();
    assert_eq!(out, [0.0, 0.5, 1.0, 1.5]);
    assert_eq!(ctx.outstanding(), 0);
    ctx.close().unwrap();
    assert_eq!(p.num_contexts(), 0);
}

#[test]
fn asynchronous_transfers_allocations_and_vh_functions() {
    let (p, _) = proc();
    let ctx = p.open_context().unwrap();
    let a = ctx.alloc_async(256).unwrap().wait().unwrap();
    assert_ne!(a, 0);
    let b = p.alloc(256).unwrap();
    let data: Vec<u8> = (0..=255).collect();
    let w = ctx.write_async(a, &data).unwrap();
    let c = ctx.memcpy_async(b, a, 256).unwrap();
    let mut back = vec![0u8; 256];
    let r = ctx.read_async(&mut back, b).unwrap();
    let vh = ctx.call_vh(|| 41 + 1).unwrap();
    w.wait().unwrap();
    c.wait().unwrap();
    r.wait().unwrap();
    assert_eq!(back, data);
    assert_eq!(vh.wait().unwrap(), 42);
    ctx.free_async(a).unwrap().wait().unwrap();
    // A read of memory that is not there fails as an address.
    let mut small = [0u8; 8];
    match ctx.read_async(&mut small, 0x10).unwrap().wait() {
        Err(Error::InvalidAddress {
            addr: 0x10, len: 8, ..
        }) => {}
        other => panic!("expected InvalidAddress, got {other:?}"),
    }
    // A VH function that panics is an error, not an unwinding into C.
    let e = ctx.call_vh(|| panic!("on purpose")).unwrap().wait();
    assert!(
        matches!(e, Err(Error::Helper(ref m)) if m.contains("panicked")),
        "{e:?}"
    );
    ctx.sync().unwrap();
    p.free(b).unwrap();
}

/// The gate of `wait_gate`: its address, and a way to open and close it.
struct Gate<'p> {
    proc: &'p AveoProc,
    addr: u64,
}

impl Gate<'_> {
    fn set(&self, v: i64) {
        self.proc.write(self.addr, &v.to_le_bytes()).unwrap();
    }
}

/// Starts `wait_gate` on a second context (the main one stays free for
/// the proc's synchronous functions, which the gate is set through).
fn gated(p: &AveoProc, h: u64) -> (Gate<'_>, u64) {
    let gate = Gate {
        proc: p,
        addr: p.get_sym(h, "gate").unwrap(),
    };
    gate.set(0);
    (gate, p.get_sym(h, "wait_gate").unwrap())
}

#[test]
fn a_timed_out_wait_leaves_the_request_pending() {
    let (p, h) = proc();
    let main = p.open_context().unwrap();
    let ctx = p.open_context().unwrap();
    assert!(!ctx.is_main());
    assert_eq!((ctx.index(), p.num_contexts()), (1, 2));
    let (gate, wait_gate) = gated(&p, h);
    let mut out = [0u8; 16];
    let mut args = Args::new();
    args.push(Out(&mut out[..])).i32(16).i32(0x5a);
    let mut r = ctx.call::<i64>(wait_gate, args).unwrap();
    assert!(matches!(
        r.wait_timeout(Duration::from_millis(1)),
        Err(Error::Timeout(_))
    ));
    assert_eq!(r.peek().unwrap(), None);
    gate.set(3);
    assert_eq!(r.wait_timeout(Duration::from_secs(3600)).unwrap(), 3);
    drop(r);
    assert_eq!(out, [0x5a; 16]);
    ctx.close().unwrap();
    main.close().unwrap();
}

#[test]
fn a_forgotten_request_never_writes_into_its_buffer() {
    let (p, h) = proc();
    let _main = p.open_context().unwrap();
    let ctx = p.open_context().unwrap();
    let (gate, wait_gate) = gated(&p, h);
    let mut buf = vec![0u8; 32];
    {
        let mut args = Args::new();
        args.push(Out(&mut buf[..])).i32(32).i32(0xee);
        std::mem::forget(ctx.call::<i64>(wait_gate, args).unwrap());
    }
    // The borrow is over: the program uses the memory again.
    buf.fill(0x11);
    gate.set(1);
    ctx.sync().unwrap();
    assert_eq!(
        buf, [0x11; 32],
        "libveo's bytes went to the context's staging"
    );
    assert_eq!(
        ctx.outstanding(),
        1,
        "the forgotten request is the context's"
    );
    ctx.close().unwrap();
}

#[test]
fn a_dropped_request_is_collected_by_its_context() {
    let (p, h) = proc();
    let _main = p.open_context().unwrap();
    let ctx = p.open_context().unwrap();
    let (gate, wait_gate) = gated(&p, h);
    let mut buf = [0u8; 8];
    let mut args = Args::new();
    args.push(Out(&mut buf[..])).i32(8).i32(1);
    let r = ctx.call::<i64>(wait_gate, args).unwrap();
    drop(r);
    assert_eq!(ctx.outstanding(), 1);
    gate.set(1);
    ctx.sync().unwrap();
    assert_eq!(ctx.outstanding(), 0, "collected once finished");
    assert_eq!(buf, [0; 8]);
    // Dropping a context with a request outstanding does not wait for it.
    gate.set(0);
    let mut b2 = [0u8; 8];
    let mut args = Args::new();
    args.push(Out(&mut b2[..])).i32(8).i32(2);
    std::mem::forget(ctx.call::<i64>(wait_gate, args).unwrap());
    drop(ctx);
    assert_eq!(p.num_contexts(), 1);
    gate.set(1);
}

#[test]
fn the_main_context_is_handed_out_again() {
    let (p, h) = proc();
    let main = p.open_context().unwrap();
    assert!(main.is_main());
    drop(main);
    assert_eq!(p.num_contexts(), 0);
    let again = p.open_context().unwrap();
    assert!(again.is_main());
    assert_eq!(again.index(), 0);
    let mut args = Args::new();
    args.i64(1).i64(2);
    assert_eq!(
        again
            .call::<i64>(p.get_sym(h, "add").unwrap(), args)
            .unwrap()
            .wait()
            .unwrap(),
        3
    );
    again.close().unwrap();
    // Closed, it takes nothing.
    let ctx = p.open_context().unwrap();
    let mut args = Args::new();
    args.i64(1).i64(2);
    let r = ctx.call::<i64>(p.get_sym(h, "add").unwrap(), args).unwrap();
    assert_eq!(r.wait().unwrap(), 3);
}

/// Runs `fut` to its end on this thread (a minimal executor: the waker
/// unparks the thread).
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn a_pending_request_is_awaited_and_woken() {
    let (p, h) = proc();
    let _main = p.open_context().unwrap();
    let ctx = p.open_context().unwrap();
    let (gate, wait_gate) = gated(&p, h);
    let mut out = [0u8; 4];
    let mut args = Args::new();
    args.push(Out(&mut out[..])).i32(4).i32(7);
    let r = ctx.call::<i64>(wait_gate, args).unwrap();
    // The gate opens from another thread while this one awaits.
    std::thread::scope(|s| {
        s.spawn(|| gate.set(9));
        assert_eq!(block_on(r).unwrap(), 9);
    });
    assert_eq!(out, [7; 4]);
    let mut args = Args::new();
    args.f32(8.0);
    let half = ctx
        .call::<f32>(p.get_sym(h, "half").unwrap(), args)
        .unwrap();
    assert_eq!(block_on(half).unwrap(), 4.0);
}
