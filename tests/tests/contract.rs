//! The contract of the AVEO backend: the core API tests and the
//! `#[ve_kernel]` tests of this directory, compiled a second time into this
//! program, which runs every proc on the AVEO backend (`VEO_BACKEND=aveo`)
//! with this workspace's own `libveo.so` (veo-capi: AVEO's C API over the
//! emulated VE) as the vendor library (`VEO_LIBVEO`). The same assertions
//! hold on both backends; a test that checks what only the emulator has
//! (its helper process, its builder settings) says so on stderr and skips
//! that part (`veo_tests::on_aveo`).
//!
//! The environment is set by a constructor, before `main` and any test
//! thread. `VE_OMP_NUM_THREADS=1`: AVEO opens a second context of a proc
//! only with one OpenMP thread, and this libveo.so does as AVEO does.
//!
//! The modules are listed once, below; the core tests' own binaries run
//! them on the emulated VE.

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

#[path = "core_args.rs"]
mod core_args;
#[path = "core_buffer.rs"]
mod core_buffer;
#[path = "core_concurrency.rs"]
mod core_concurrency;
#[path = "core_hooks.rs"]
mod core_hooks;
#[path = "core_library.rs"]
mod core_library;
#[path = "core_locate.rs"]
mod core_locate;
#[path = "core_memory.rs"]
mod core_memory;
#[path = "core_order.rs"]
mod core_order;
#[path = "core_proc.rs"]
mod core_proc;
#[path = "core_requests.rs"]
mod core_requests;
#[path = "core_stack.rs"]
mod core_stack;
#[path = "macro_fortran.rs"]
mod macro_fortran;
#[path = "macro_many.rs"]
mod macro_many;
#[path = "macro_types.rs"]
mod macro_types;
