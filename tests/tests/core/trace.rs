//! The profiler (veo-runtime/src/trace.rs): a traced proc writes one
//! Chrome trace event per request, named after its kernel, on its
//! context's track, with its bytes; `Proc::profile` sums them per kernel;
//! an untraced proc records nothing. Kernels: tests/kernels/async_await.c.

use veo_runtime::{ve_kernel, Args, Proc};
use veo_tests::KERNELS;

#[ve_kernel(library = "tests")]
extern "C" {
    fn async_mul(x: i64, k: i64) -> i64;
    fn async_sleep_ms(ms: i64) -> i64;
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("veo-trace-{}-{name}.json", std::process::id()))
}

#[test]
fn a_traced_proc_writes_one_event_per_request_named_after_its_kernel() {
    let path = temp_path("events");
    let _ = std::fs::remove_file(&path);
    let proc = Proc::builder().trace(&path).build().unwrap();
    let ctx = proc.open_context().unwrap();
    let ctx2 = proc.open_context().unwrap();
    for i in 0..10 {
        assert_eq!(async_mul(&ctx, i, 2).unwrap().wait().unwrap(), 2 * i);
    }
    for i in 0..5 {
        assert_eq!(async_mul(&ctx2, i, 3).unwrap().wait().unwrap(), 3 * i);
    }
    // Through `Args` and a `Function`: the symbol names it.
    let lib = proc.load_library(KERNELS).unwrap();
    let f = lib.function("async_sleep_ms").unwrap();
    let mut a = Args::new();
    a.i64(1);
    assert_eq!(ctx.call::<i64>(&f, a).unwrap().wait().unwrap(), 1);
    // Transfers queued behind a kernel go through the queue, with bytes.
    let buf = proc.alloc::<u8>(4096).unwrap();
    // On an idle context a transfer may be done by the VH itself, through
    // memory both sides map: traced as well.
    ctx2.write_async(&buf, &[1u8; 4096])
        .unwrap()
        .wait()
        .unwrap();
    let sleeping = async_sleep_ms(&ctx2, 200).unwrap();
    let w = ctx2.write_async(&buf, &[7u8; 4096]).unwrap();
    let mut back = vec![0u8; 4096];
    let r = ctx2.read_async(&mut back, &buf).unwrap();
    assert_eq!(sleeping.wait().unwrap(), 200);
    w.wait().unwrap();
    r.wait().unwrap();
    assert!(back.iter().all(|&b| b == 7));

    let profile = proc.profile();
    let mul = profile.iter().find(|p| p.name == "async_mul").unwrap();
    assert_eq!(mul.count, 15);
    assert!(mul.kernel);
    assert!(mul.max >= mul.mean && mul.total >= mul.max);
    let sleep = profile.iter().find(|p| p.name == "async_sleep_ms").unwrap();
    assert_eq!(sleep.count, 2);
    assert!(
        sleep.total >= std::time::Duration::from_millis(200),
        "{sleep:?}"
    );
    let write = profile.iter().find(|p| p.name == "write").unwrap();
    assert_eq!((write.count, write.bytes, write.kernel), (2, 8192, false));
    let read = profile.iter().find(|p| p.name == "read").unwrap();
    assert_eq!((read.count, read.bytes), (1, 4096));

    let (c1, c2) = (ctx.index() as u64, ctx2.index() as u64);
    drop((ctx, ctx2, buf, lib));
    drop(proc);
    let text =
        std::fs::read_to_string(&path).expect("the trace file is written when the proc ends");
    let _ = std::fs::remove_file(&path);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let events = json["traceEvents"].as_array().unwrap();
    let complete: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    let named = |n: &str, tid: u64| {
        complete
            .iter()
            .filter(|e| e["name"] == n && e["tid"] == tid)
            .count()
    };
    assert_eq!(named("async_mul", c1), 10);
    assert_eq!(named("async_mul", c2), 5);
    assert_eq!(named("async_sleep_ms", c1), 1);
    assert_eq!(named("async_sleep_ms", c2), 1);
    let write = complete
        .iter()
        .filter(|e| e["name"] == "write")
        .max_by(|a, b| a["ts"].as_f64().partial_cmp(&b["ts"].as_f64()).unwrap())
        .unwrap();
    assert_eq!(write["args"]["bytes"], 4096);
    assert_eq!(write["tid"], c2);
    for e in &complete {
        assert!(e["dur"].as_f64().unwrap() >= 0.0);
        assert!(e["args"]["queued_us"].as_f64().unwrap() >= 0.0);
    }
    // The write ran after the kernel queued before it on its context.
    let slept = complete
        .iter()
        .find(|e| e["name"] == "async_sleep_ms" && e["tid"] == c2)
        .unwrap();
    let slept_end = slept["ts"].as_f64().unwrap() + slept["dur"].as_f64().unwrap();
    assert!(
        write["ts"].as_f64().unwrap() + 0.01 >= slept_end,
        "{slept} {write}"
    );
    // A track name per context.
    let tracks = events.iter().filter(|e| e["name"] == "thread_name").count();
    assert!(tracks >= 2);
}

#[test]
fn an_untraced_proc_profiles_nothing() {
    let proc = Proc::new(0).unwrap();
    let ctx = proc.open_context().unwrap();
    assert_eq!(async_mul(&ctx, 2, 2).unwrap().wait().unwrap(), 4);
    assert!(proc.profile().is_empty());
    assert!(proc.write_trace(temp_path("none")).is_err());
}

/// Run in a child process of the test below, with `VEO_TRACE` set.
fn hundred_awaited_calls() {
    use std::future::IntoFuture;
    let proc = Proc::new(0).unwrap();
    let ctxs: Vec<_> = (0..4).map(|_| proc.open_context().unwrap()).collect();
    let reqs: Vec<_> = (0..100)
        .map(|i| async_mul(&ctxs[i % 4], i as i64, 9).unwrap().into_future())
        .collect();
    let got = futures::executor::block_on(futures::future::join_all(reqs));
    let got: Vec<i64> = got.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(got, (0..100).map(|i| i * 9).collect::<Vec<i64>>());
}

#[test]
fn veo_trace_traces_a_program_of_a_hundred_awaited_calls() {
    const CHILD: &str = "VEO_TRACE_TEST_CHILD";
    if veo_tests::is_child(CHILD) {
        hundred_awaited_calls();
        return;
    }
    let path = temp_path("env");
    let _ = std::fs::remove_file(&path);
    let status = veo_tests::child(
        &veo_tests::test_path!(veo_trace_traces_a_program_of_a_hundred_awaited_calls),
        CHILD,
    )
    .env("VEO_TRACE", &path)
    .status()
    .unwrap();
    assert!(status.success(), "the traced program failed: {status}");
    let text = std::fs::read_to_string(&path).expect("VEO_TRACE names the trace file");
    let _ = std::fs::remove_file(&path);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let calls = json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X" && e["name"] == "async_mul")
        .count();
    assert_eq!(calls, 100, "one event per call, named after the kernel");
}
