//! The contract of the AVEO backend: the core API tests, the awaited
//! requests and the `#[ve_kernel]` tests of this directory, compiled a
//! second time into this program, which runs every proc on the AVEO
//! backend (`VEO_BACKEND=aveo`) with this workspace's own `libveo.so`
//! (veo-capi: AVEO's C API over the emulated VE) as the vendor library
//! (`VEO_LIBVEO`). The same assertions
//! hold on both backends; a test that checks what only the emulator has
//! (its helper process, its builder settings) says so on stderr and skips
//! that part (`veo_tests::on_aveo`).
//!
//! The environment is set by a constructor, before `main` and any test
//! thread. `VE_OMP_NUM_THREADS=1`: AVEO opens a second context of a proc
//! only with one OpenMP thread, and this libveo.so does as AVEO does.
//!
//! The modules are listed below, by path: the `core` and `macros` programs
//! (`core/main.rs`, `macros/main.rs`) run the same files on the emulated
//! VE. Left out: the request queue of veo-rs's own C API, which AVEO does
//! not have, and the emulated VE's profiler and helper-side tests.

#[used]
#[link_section = ".init_array"]
static ON_AVEO: extern "C" fn() = on_aveo;

extern "C" fn on_aveo() {
    std::env::set_var("VEO_BACKEND", "aveo");
    std::env::set_var("VE_OMP_NUM_THREADS", "1");
    if let Some(lib) = libveo() {
        std::env::set_var("VEO_LIBVEO", lib);
    }
}

/// The libveo.so cargo built for this test run: beside this program
/// (`target/<profile>/deps`) or one directory up. veo-capi is a
/// dev-dependency of this package, which makes cargo build it first.
fn libveo() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let found = [deps, deps.parent()?]
        .into_iter()
        .map(|d| d.join("libveo.so"))
        .find(|p| p.exists());
    found
}

#[test]
fn every_proc_here_runs_on_aveo_over_the_workspace_libveo() {
    let proc = veo_runtime::Proc::new(0).unwrap();
    match proc.backend() {
        veo_runtime::Backend::Aveo { library, api } => {
            assert_eq!(Some(library), libveo());
            assert!(api >= 16, "API {api}");
        }
        other => panic!("expected AVEO, got {other}"),
    }
    assert!(proc.backend().to_string().starts_with("AVEO ("));
}

/// `ProcBuilder::static_helper`: the proc runs a helper program with the
/// kernels linked in (`veo_proc_create_static`), whose kernels are the
/// proc's static library. With this libveo.so the helper is a host
/// program: this one (tests/build.rs exports its symbols), which becomes a
/// helper when started as one.
mod host {
    #[no_mangle]
    pub extern "C" fn contract_static_square(x: i64) -> i64 {
        x.wrapping_mul(x)
    }
}

#[veo_runtime::ve_kernel(static)]
extern "C" {
    fn contract_static_square(x: i64) -> i64;
}

#[test]
fn a_static_helper_runs_the_kernels_linked_into_it() {
    let exe = std::env::current_exe().unwrap();
    let proc = veo_runtime::Proc::builder()
        .static_helper(&exe)
        .build()
        .unwrap();
    assert_eq!(proc.helper(), exe.display().to_string());
    assert_eq!(contract_static_square_sync(&proc, 12).unwrap(), 144);
    let ctx = proc.open_context().unwrap();
    assert_eq!(
        contract_static_square(&ctx, -7).unwrap().wait().unwrap(),
        49
    );
    let f = proc
        .static_library()
        .unwrap()
        .function("contract_static_square")
        .unwrap();
    let mut args = veo_runtime::Args::new();
    args.i64(5);
    assert_eq!(ctx.call::<i64>(&f, args).unwrap().wait().unwrap(), 25);
    // A helper built for a real VE is not one this libveo.so can start.
    let ve_helper = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract_veorun");
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[16..18].copy_from_slice(&2u16.to_le_bytes());
    h[18..20].copy_from_slice(&251u16.to_le_bytes());
    std::fs::write(&ve_helper, h).unwrap();
    let e = veo_runtime::Proc::builder()
        .static_helper(&ve_helper)
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("helper program built for a real VE"), "{e}");
}

/// Requests dropped unfinished are their context's to collect: counted as
/// outstanding until the context's sync, or a later submit once a batch of
/// them is there (`REAP_BATCH`, veo-runtime/src/aveo/context.rs), collects
/// them (in order or not), and a call after them answers for itself. On
/// the AVEO backend's own types over this libveo.so, whose contexts count
/// their outstanding requests.
#[test]
fn requests_dropped_unfinished_are_collected_by_their_context() {
    use std::sync::Arc;
    use veo_runtime::aveo::{proc::AveoProc, sys::LibVeo};
    let lib = Arc::new(LibVeo::open(libveo().as_deref()).unwrap());
    let exe = std::env::current_exe().unwrap();
    let p = AveoProc::open(lib, 0, Some(&exe)).unwrap();
    let square = p.get_sym(0, "contract_static_square").unwrap();
    let ctx = p.open_context().unwrap();
    let call = |x: i64| {
        let mut a = veo_runtime::Args::new();
        a.i64(x);
        ctx.call::<i64>(square, a).unwrap()
    };
    for i in 0..10 {
        drop(call(i));
    }
    // Fewer than a batch: the submits leave them to the sync.
    assert_eq!(ctx.outstanding(), 10);
    ctx.sync().unwrap();
    assert_eq!(ctx.outstanding(), 0, "collected once finished");
    // Many: the submits collect them a batch at a time, as they finish.
    for i in 0..1000 {
        drop(call(i));
    }
    assert_eq!(call(11).wait().unwrap(), 121, "all before it have run");
    drop(call(0));
    let left = ctx.outstanding();
    assert!((1..=64).contains(&left), "{left} outstanding");
    ctx.sync().unwrap();
    assert_eq!(ctx.outstanding(), 0);
    let r = call(12);
    assert_eq!(ctx.outstanding(), 1);
    assert_eq!(r.wait().unwrap(), 144);
    assert_eq!(ctx.outstanding(), 0);
    // Dropped out of order.
    let (a, b, c) = (call(1), call(2), call(3));
    drop(c);
    drop(a);
    drop(b);
    assert_eq!(ctx.outstanding(), 3);
    ctx.sync().unwrap();
    assert_eq!(ctx.outstanding(), 0);
    assert_eq!(call(-5).wait().unwrap(), 25);
    ctx.close().unwrap();
}

#[path = "core/args.rs"]
mod args;
#[path = "core/awaiting.rs"]
mod awaiting;
#[path = "core/buffer.rs"]
mod buffer;
#[path = "core/concurrency.rs"]
mod concurrency;
#[path = "core/hooks.rs"]
mod hooks;
#[path = "core/library.rs"]
mod library;
#[path = "core/locate.rs"]
mod locate;
#[path = "macros/main.rs"]
mod macros;
#[path = "core/memory.rs"]
mod memory;
#[path = "core/order.rs"]
mod order;
#[path = "core/proc.rs"]
mod proc;
#[path = "core/requests.rs"]
mod requests;
#[path = "core/stack.rs"]
mod stack;
#[path = "core/wrong_machine.rs"]
mod wrong_machine;
