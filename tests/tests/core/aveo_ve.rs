//! AVEO's VE side on the emulated VE: kernels built with gcc against
//! veo-capi/include/ve call `veo_prev_req_result`, the HMEM address
//! functions and `veo_time.h`, and resolve them from the helper whatever
//! links them; OpenMP kernels get `VE_OMP_NUM_THREADS` threads (8 when
//! unset); nodes 0 to 7 exist. Kernels: tests/kernels/aveo_ve/aveo_ve.c.

use std::process::Command;
use veo_runtime::{Args, Context, Error, Proc, VePtr, DEFAULT_OMP_THREADS, VE_NODES};
use veo_tests::test_path;

/// The library built from tests/kernels/aveo_ve/ (with OpenMP).
const AVEO_VE: &str = env!("VEO_LIB_aveo_ve");

/// How many results a context keeps for `veo_prev_req_result`.
const KEPT: usize = 16;

fn proc_with_kernels() -> Proc {
    let proc = Proc::new(0).expect("cannot start a proc");
    proc.load_library(AVEO_VE)
        .expect("cannot load the aveo_ve kernels");
    proc
}

fn echo(ctx: &Context, x: u64) {
    let mut a = Args::new();
    a.u64(x);
    let got: u64 = ctx.call_by_name("ave_echo", a).unwrap().wait().unwrap();
    assert_eq!(got, x);
}

/// What `veo_prev_req_result(offs)` gives for offs = 0 .. n-1, called from
/// a kernel on `ctx`: `Some(result)` or `None` for -1.
fn prev_results(ctx: &Context, n: usize) -> Vec<Option<u64>> {
    let mut out = vec![0i64; 2 * n];
    let found: i32 = {
        let mut a = Args::new();
        a.i32(n as i32)
            .stack_out(bytemuck::cast_slice_mut(&mut out[..]));
        ctx.call_by_name("ave_prev_results", a)
            .unwrap()
            .wait()
            .unwrap()
    };
    let v: Vec<Option<u64>> = out
        .chunks(2)
        .map(|p| {
            assert!(
                p[0] == 0 || p[0] == -1,
                "veo_prev_req_result returned {}",
                p[0]
            );
            (p[0] == 0).then_some(p[1] as u64)
        })
        .collect();
    assert_eq!(found as usize, v.iter().flatten().count());
    v
}

#[test]
fn prev_req_result_reads_earlier_results_on_the_context() {
    let proc = proc_with_kernels();
    let ctx = proc.open_context().unwrap();
    // A fresh context has answered nothing yet.
    assert_eq!(prev_results(&ctx, 3), vec![None, None, None]);
    for x in [100, 200, 300] {
        echo(&ctx, x);
    }
    // 0 is the request answered just before, then back in time to the
    // first call (which found 0 results), then nothing.
    assert_eq!(
        prev_results(&ctx, 6),
        vec![Some(300), Some(200), Some(100), Some(0), None, None]
    );
    // Calls queued without waiting see each other in order.
    let reqs: Vec<_> = (1..=4u64)
        .map(|x| {
            let mut a = Args::new();
            a.u64(x * 11);
            ctx.call_by_name::<u64>("ave_echo", a).unwrap()
        })
        .collect();
    let mut out = vec![0i64; 4];
    let mut a = Args::new();
    a.i32(2).stack_out(bytemuck::cast_slice_mut(&mut out[..]));
    let last = ctx.call_by_name::<i32>("ave_prev_results", a).unwrap();
    for r in reqs {
        r.wait().unwrap();
    }
    assert_eq!(last.wait().unwrap(), 2);
    assert_eq!(out, vec![0, 44, 0, 33]);
    // A failed request has no result: a read of an unmapped VE address
    // (page 0), between two that succeed.
    echo(&ctx, 500);
    let mut buf = [0u8; 8];
    let bad = ctx.read_async(&mut buf[..], VePtr::<u8>::new(8)).unwrap();
    assert!(matches!(bad.wait(), Err(Error::InvalidAddress { .. })));
    echo(&ctx, 600);
    assert_eq!(prev_results(&ctx, 3), vec![Some(600), None, Some(500)]);
}

#[test]
fn prev_req_result_keeps_each_contexts_results_apart() {
    let proc = proc_with_kernels();
    let a = proc.open_context().unwrap();
    let b = proc.open_context().unwrap();
    echo(&a, 1);
    echo(&b, 2);
    echo(&a, 3);
    assert_eq!(prev_results(&b, 2), vec![Some(2), None]);
    assert_eq!(prev_results(&a, 3), vec![Some(3), Some(1), None]);
    // Proc-level calls run on the proc's own channel, with its own results.
    let mut args = Args::new();
    args.u64(77);
    let _: u64 = proc.call_sync_by_name("ave_echo", args).unwrap();
    let mut out = [0i64; 2];
    let mut args = Args::new();
    args.i32(1)
        .stack_out(bytemuck::cast_slice_mut(&mut out[..]));
    let found: i32 = proc.call_sync_by_name("ave_prev_results", args).unwrap();
    assert_eq!((found, out), (1, [0, 77]));
}

#[test]
fn prev_req_result_keeps_the_latest_sixteen() {
    let proc = proc_with_kernels();
    let ctx = proc.open_context().unwrap();
    for x in 1..=40u64 {
        echo(&ctx, x);
    }
    let got = prev_results(&ctx, KEPT + 4);
    let want: Vec<Option<u64>> = (0..KEPT + 4)
        .map(|offs| (offs < KEPT).then_some(40 - offs as u64))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn prev_req_result_answers_only_on_the_contexts_own_thread() {
    let proc = proc_with_kernels();
    let ctx = proc.open_context().unwrap();
    echo(&ctx, 5);
    // In an OpenMP team of several threads only the master (the context's
    // thread) finds a result.
    let found: i32 = ctx
        .call_by_name("ave_prev_result_in_team", Args::new())
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(found, 1);
    // A null result pointer or a negative offset is -1, not a crash.
    let misuse: i32 = ctx
        .call_by_name("ave_prev_result_misuse", Args::new())
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(misuse, 2);
}

#[test]
fn ve_side_functions_come_from_the_helpers_own_libraries() {
    // Not from the program hosting the helper (this test binary): from the
    // libraries the helper loaded before any kernel library.
    let proc = proc_with_kernels();
    let n: i32 = proc
        .call_sync_by_name("ave_providers", Args::new())
        .unwrap();
    assert_eq!(n, 5);
}

fn hmem_probe(proc: &Proc, addr: u64) -> [i64; 4] {
    let mut out = [0i64; 4];
    let mut a = Args::new();
    a.u64(addr)
        .stack_out(bytemuck::cast_slice_mut(&mut out[..]));
    proc.call_sync_by_name::<()>("ave_hmem_probe", a).unwrap();
    out
}

#[test]
fn hmem_functions_test_and_strip_the_tag() {
    let proc = proc_with_kernels();
    const VE: u64 = 1 << 63;
    let plain = 0x7f12_3456_7000u64;
    assert_eq!(hmem_probe(&proc, plain), [0, plain as i64, -1, 16]);
    for ident in [0u64, 3, 15] {
        let tagged = plain | VE | ident << 59;
        assert_eq!(
            hmem_probe(&proc, tagged),
            [1, plain as i64, ident as i64, 16],
            "proc identifier {ident}"
        );
    }
    // A kernel reads VE memory through an HMEM address it strips.
    let data: Vec<i64> = (1..=100).collect();
    let buf = proc.alloc::<i64>(data.len()).unwrap();
    proc.write(&buf, &data).unwrap();
    let addr = buf.as_ptr().addr();
    assert_eq!(
        addr & (VE | 0xf << 59),
        0,
        "VE addresses leave the tag bits free"
    );
    let ctx = proc.open_context().unwrap();
    let sum = |a: u64| -> i64 {
        let mut args = Args::new();
        args.u64(a).i32(data.len() as i32);
        ctx.call_by_name("ave_hmem_sum", args)
            .unwrap()
            .wait()
            .unwrap()
    };
    assert_eq!(sum(addr | VE | 7 << 59), 5050);
    assert_eq!(
        sum(addr),
        -1,
        "an untagged address is not an HMEM VE address"
    );
}

#[test]
fn veo_time_helpers_measure_microseconds() {
    let proc = proc_with_kernels();
    let mut a = Args::new();
    a.i64(2000);
    let waited: i64 = proc.call_sync_by_name("ave_busy_sleep", a).unwrap();
    // At least what was asked (and the user clock counted as much).
    assert!(
        waited >= 2000,
        "busy_sleep_us(2000) returned after {waited} µs"
    );
}

const LINKED: &str = r#"
#include <stdint.h>
#include <veo_hmem.h>
#include <veo_ve.h>
/* Built with -laveoVE -lveohmem: both are DT_NEEDED dependencies. */
int64_t linked_probe(uint64_t addr)
{
    uint64_t r = 0;
    int rc = veo_prev_req_result(0, &r);
    return rc == 0 ? (int64_t)r + veo_get_proc_identifier_from_hmem((void *)addr) : -100;
}
"#;

#[test]
fn kernels_linked_with_laveove_and_lveohmem_load_without_a_library_path() {
    let dir = std::env::temp_dir().join(format!("veo-aveo-ve-linked-{}", std::process::id()));
    let libs = dir.join("lib");
    let written = ve_helper::write_ve_side_libraries(&libs).unwrap();
    assert_eq!(written.len(), 2);
    let include = concat!(env!("CARGO_MANIFEST_DIR"), "/../veo-capi/include/ve");
    let artifact = veo_build::Build::new()
        .out_dir(dir.join("out"))
        .include(include)
        .c_source("linked", LINKED)
        .link_arg(&format!("-L{}", libs.display()))
        .link_lib("aveoVE")
        .link_lib("veohmem")
        .try_compile("linked")
        .unwrap();
    let needed = needed_libraries(artifact.path());
    assert!(
        needed.iter().any(|n| n == "libaveoVE.so") && needed.iter().any(|n| n == "libveohmem.so"),
        "DT_NEEDED of the kernel: {needed:?}"
    );
    // The written copies are not on any library path: the helper's own,
    // loaded first, satisfy the dependencies by soname.
    std::fs::remove_dir_all(&libs).unwrap();
    let proc = Proc::new(0).unwrap();
    let lib = proc.load_library(artifact.path()).unwrap();
    let ctx = proc.open_context().unwrap();
    echo_with(&ctx, &proc, 1000);
    let mut a = Args::new();
    a.u64(1 << 63 | 9 << 59);
    let got: i64 = ctx
        .call(&lib.function("linked_probe").unwrap(), a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(got, 1009);
    let _ = std::fs::remove_dir_all(&dir);
}

const HEADERS_C: &str = r#"
#include <veo_hmem.h>
#include <veo_time.h>
#include <veo_ve.h>
int headers_c(void)
{
    uint64_t r;
    long t = get_time_us();
    (void)timediff_us(t);
    (void)veo_prev_req_result(0, &r);
    return veo_get_max_proc_identifier();
}
"#;

const HEADERS_CPP: &str = r#"
#include <veo_hmem.h>
#include <veo_time.h>
#include <veo_ve.h>
extern "C" int headers_cpp(void)
{
    uint64_t r;
    long t = get_time_us();
    (void)timediff_us(t);
    (void)veo_prev_req_result(0, &r);
    return veo_get_max_proc_identifier() + (veo_get_hmem_addr(nullptr) == nullptr);
}
"#;

#[test]
fn ve_side_headers_build_warning_free_in_c_and_cpp() {
    let dir = std::env::temp_dir().join(format!("veo-aveo-ve-headers-{}", std::process::id()));
    let include = concat!(env!("CARGO_MANIFEST_DIR"), "/../veo-capi/include/ve");
    let artifact = veo_build::Build::new()
        .out_dir(&dir)
        .include(include)
        .flag("-Wall")
        .flag("-Wextra")
        .flag("-Werror")
        .flag_for(veo_build::Language::C, "-std=c11")
        .flag_for(veo_build::Language::Cxx, "-std=c++11")
        .c_source("headers_c", HEADERS_C)
        .cpp_source("headers_cpp", HEADERS_CPP)
        .try_compile("headers")
        .unwrap();
    // The C++ declarations are extern "C": the kernels load and call them.
    let proc = Proc::new(0).unwrap();
    let lib = proc.load_library(artifact.path()).unwrap();
    for (name, want) in [("headers_c", 16), ("headers_cpp", 17)] {
        let f = lib.function(name).unwrap();
        let got: i32 = proc.call_sync(&f, Args::new()).unwrap();
        assert_eq!(got, want, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn echo_with(ctx: &Context, proc: &Proc, x: u64) {
    proc.load_library(AVEO_VE).unwrap();
    echo(ctx, x);
}

/// The DT_NEEDED entries of a shared library, as `ldd`-free as possible:
/// read with the system's `readelf` when present, else `objdump`.
fn needed_libraries(path: &std::path::Path) -> Vec<String> {
    for (tool, args) in [("readelf", &["-d"][..]), ("objdump", &["-p"][..])] {
        if let Ok(o) = Command::new(tool).args(args).arg(path).output() {
            if o.status.success() {
                return String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter(|l| l.contains("NEEDED"))
                    .filter_map(|l| {
                        l.split(['[', ']', ' '])
                            .rfind(|w| w.starts_with("lib"))
                            .map(str::to_string)
                    })
                    .collect();
            }
        }
    }
    panic!("neither readelf nor objdump could read {}", path.display());
}

fn omp(proc: &Proc) -> (i64, i64) {
    let max: i64 = proc
        .call_sync_by_name("ave_omp_max_threads", Args::new())
        .unwrap();
    let distinct: i64 = proc
        .call_sync_by_name("ave_omp_distinct_threads", Args::new())
        .unwrap();
    (max, distinct)
}

#[test]
fn openmp_threads_from_the_builder() {
    let proc = Proc::builder().omp_threads(3).build().unwrap();
    proc.load_library(AVEO_VE).unwrap();
    assert_eq!(omp(&proc), (3, 3));
    assert!(matches!(
        Proc::builder().omp_threads(0).build(),
        Err(Error::InvalidArgument(m)) if m.contains("0 OpenMP threads")
    ));
}

/// Set in the children of the tests below.
const CHILD: &str = "VEO_TESTS_AVEO_VE_CHILD";

/// Runs test `name` (a `test_path!`) of this program again in a child
/// process with `VE_OMP_NUM_THREADS` set to `value` (removed for `None`), so
/// that the variable is never changed in this process, whose tests run in
/// threads.
fn in_child(name: &str, value: Option<&str>) {
    let mut cmd = veo_tests::child(name, CHILD);
    match value {
        Some(v) => cmd.env("VE_OMP_NUM_THREADS", v),
        None => cmd.env_remove("VE_OMP_NUM_THREADS"),
    };
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "child test {name} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_child() -> bool {
    veo_tests::is_child(CHILD)
}

#[test]
fn openmp_threads_default_to_a_core_group() {
    if !is_child() {
        return in_child(&test_path!(openmp_threads_default_to_a_core_group), None);
    }
    let proc = proc_with_kernels();
    let n = DEFAULT_OMP_THREADS as i64;
    assert_eq!(n, 8);
    assert_eq!(omp(&proc), (n, n));
}

#[test]
fn openmp_threads_from_ve_omp_num_threads() {
    if !is_child() {
        return in_child(
            &test_path!(openmp_threads_from_ve_omp_num_threads),
            Some("5"),
        );
    }
    let proc = proc_with_kernels();
    assert_eq!(omp(&proc), (5, 5));
    // The builder's count wins over the variable.
    let p2 = Proc::builder().omp_threads(2).build().unwrap();
    p2.load_library(AVEO_VE).unwrap();
    assert_eq!(omp(&p2), (2, 2));
}

#[test]
fn ve_omp_num_threads_that_is_no_number_is_an_error() {
    if !is_child() {
        return in_child(
            &test_path!(ve_omp_num_threads_that_is_no_number_is_an_error),
            Some("many"),
        );
    }
    match Proc::new(0) {
        Err(Error::InvalidArgument(m)) => {
            assert!(
                m.contains("VE_OMP_NUM_THREADS") && m.contains("many"),
                "{m}"
            )
        }
        other => panic!("expected an invalid argument, got {other:?}"),
    }
}

#[test]
fn procs_on_nodes_0_and_1_work_at_once() {
    let p0 = Proc::new(0).unwrap();
    let p1 = Proc::new(1).unwrap();
    assert_ne!(p0.pid(), p1.pid());
    for (p, node) in [(&p0, 0u64), (&p1, 1)] {
        assert_eq!(p.node() as u64, node);
        p.load_library(AVEO_VE).unwrap();
    }
    let c0 = p0.open_context().unwrap();
    let c1 = p1.open_context().unwrap();
    // Both busy at the same time, each with its own memory and results.
    let b0 = p0.alloc::<i64>(4).unwrap();
    let b1 = p1.alloc::<i64>(4).unwrap();
    p0.write(&b0, &[1, 2, 3, 4]).unwrap();
    p1.write(&b1, &[10, 20, 30, 40]).unwrap();
    fn sum(ctx: &Context, addr: u64) -> veo_runtime::Request<'_, i64> {
        let mut a = Args::new();
        a.u64(addr | 1 << 63).i32(4);
        ctx.call_by_name::<i64>("ave_hmem_sum", a).unwrap()
    }
    let r0 = sum(&c0, b0.as_ptr().addr());
    let r1 = sum(&c1, b1.as_ptr().addr());
    assert_eq!((r0.wait().unwrap(), r1.wait().unwrap()), (10, 100));
    echo(&c0, 7);
    echo(&c1, 8);
    assert_eq!(prev_results(&c0, 1), vec![Some(7)]);
    assert_eq!(prev_results(&c1, 1), vec![Some(8)]);
}

#[test]
fn node_8_or_more_is_an_error_naming_the_node_and_the_range() {
    assert_eq!(VE_NODES, 8);
    for node in [8, 9, 1000] {
        match Proc::new(node) {
            Err(Error::InvalidArgument(m)) => assert!(
                m.contains(&format!("VE node {node} ")) && m.contains("nodes 0 to 7"),
                "{m}"
            ),
            other => panic!("node {node}: expected an error, got {other:?}"),
        }
    }
    // The last node exists.
    let p7 = Proc::new(7).unwrap();
    assert_eq!(p7.node(), 7);
}
