//! Awaited requests (veo-runtime/src/future.rs): typed calls, `Args` calls,
//! transfers, async alloc/free and VH closures as futures, on
//! `futures::executor` and on tokio; the borrow rules of `Request` kept by
//! futures; the proc's end resolving pending futures; the waking thread
//! ending with its proc. Kernels: tests/kernels/async_await.c,
//! core_order.c, core_stack.c.

use futures::future::join_all;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;
use veo_runtime::{ve_kernel, Args, Context, Error, Proc, VeBuffer};
use veo_tests::{eventually, Ve, KERNELS, PATIENCE};

#[ve_kernel(library = "tests")]
extern "C" {
    fn async_mul(x: i64, k: i64) -> i64;
    fn async_fill(#[out] out: &mut [i64], n: i64, v: i64) -> i64;
}

/// Four contexts on one proc.
fn four_contexts(proc: &Proc) -> Vec<Context> {
    (0..4).map(|_| proc.open_context().unwrap()).collect()
}

/// 1000 awaited typed calls over `ctxs`, every tenth with an OUT buffer:
/// checks every result and every buffer.
async fn thousand_calls(ctxs: &[Context]) {
    let mut outs: Vec<[i64; 4]> = vec![[-1; 4]; 100];
    let mut outs_iter = outs.iter_mut();
    let mut calls = Vec::new();
    let mut fills = Vec::new();
    for i in 0..1000i64 {
        let ctx = &ctxs[i as usize % ctxs.len()];
        if i % 10 == 0 {
            let out = outs_iter.next().unwrap();
            fills.push(async_fill(ctx, out, 4, i).unwrap().into_future());
        } else {
            calls.push(async_mul(ctx, i, 3).unwrap().into_future());
        }
    }
    let (products, filled) = futures::join!(join_all(calls), join_all(fills));
    let want: Vec<i64> = (0..1000).filter(|i| i % 10 != 0).map(|i| i * 3).collect();
    let got: Vec<i64> = products.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(got, want);
    assert!(filled.into_iter().all(|r| r.unwrap() == 4));
    for (k, out) in outs.iter().enumerate() {
        let v = k as i64 * 10;
        assert_eq!(*out, [v, v + 1, v + 2, v + 3], "OUT buffer of call {v}");
    }
}

#[test]
fn thousand_awaited_calls_over_four_contexts_on_futures_executor() {
    let proc = Proc::new(0).unwrap();
    let ctxs = four_contexts(&proc);
    futures::executor::block_on(thousand_calls(&ctxs));
    // Awaited one at a time too: each future waits for its answer.
    futures::executor::block_on(async {
        for i in 0..200i64 {
            let ctx = &ctxs[i as usize % 4];
            assert_eq!(async_mul(ctx, i, -2).unwrap().await.unwrap(), -2 * i);
        }
    });
}

#[test]
fn thousand_awaited_calls_over_four_contexts_on_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let proc = Proc::new(0).unwrap();
    let ctxs: Vec<Arc<Context>> = four_contexts(&proc).into_iter().map(Arc::new).collect();
    // One task per context, each with 250 calls in flight; on tokio's
    // worker threads, so wakers cross threads.
    let tasks: Vec<_> = ctxs
        .iter()
        .enumerate()
        .map(|(c, ctx)| {
            let ctx = ctx.clone();
            rt.spawn(async move {
                let base = c as i64 * 250;
                let reqs: Vec<_> = (base..base + 250)
                    .map(|i| async_mul(&ctx, i, 7).unwrap().into_future())
                    .collect();
                let got: Vec<i64> = join_all(reqs)
                    .await
                    .into_iter()
                    .map(|r| r.unwrap())
                    .collect();
                assert_eq!(got, (base..base + 250).map(|i| i * 7).collect::<Vec<_>>());
                let mut out = [0i64; 8];
                let n = async_fill(&ctx, &mut out, 8, base).unwrap().await.unwrap();
                assert_eq!((n, out[7]), (8, base + 7));
                got.len()
            })
        })
        .collect();
    let total: usize = rt.block_on(async {
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(total, 1000);
    // And the same 1000 calls from one task, on tokio's waker.
    rt.block_on(async {
        let ctxs: Vec<&Context> = ctxs.iter().map(|c| &**c).collect();
        let mut futs = Vec::new();
        for i in 0..1000i64 {
            futs.push(async_mul(ctxs[i as usize % 4], i, 5).unwrap().into_future());
        }
        let got: Vec<i64> = join_all(futs)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got, (0..1000).map(|i| i * 5).collect::<Vec<_>>());
    });
}

#[test]
fn every_kind_of_request_is_awaitable() {
    let ve = Ve::new();
    futures::executor::block_on(async {
        // Async alloc, write, read, free.
        let p = ve.ctx.alloc_async(64).unwrap().await.unwrap();
        let p64 = p.cast::<u64>();
        let src: Vec<u64> = (0..8).map(|i| i * 11).collect();
        ve.ctx.write_async(p64, &src).unwrap().await.unwrap();
        let mut back = vec![0u64; 8];
        ve.ctx.read_async(&mut back, p64).unwrap().await.unwrap();
        assert_eq!(back, src);
        // A call through `Args`.
        let mut a = Args::new();
        a.i64(6).i64(7);
        let r: i64 = ve.ctx.call(&ve.f("async_mul"), a).unwrap().await.unwrap();
        assert_eq!(r, 42);
        // A VH closure in queue order.
        let v = ve.ctx.call_vh(|| 99).unwrap().await.unwrap();
        assert_eq!(v, 99);
        ve.ctx.free_async(p).unwrap().await.unwrap();
        // Errors come through the future too.
        let bad = ve.ctx.free_async(p).unwrap().await;
        assert!(bad.is_err(), "freeing twice: {bad:?}");
    });
}

/// Queues `core_wait_flag(flag, 1)`: pending until the test sets the flag.
fn hold<'a>(ve: &'a Ve, flag: &VeBuffer<u64>) -> veo_runtime::Request<'a, i64> {
    let mut a = Args::new();
    a.ptr(flag.as_ptr()).u64(1).i64(PATIENCE.as_millis() as i64);
    ve.ctx.call(&ve.f("core_wait_flag"), a).unwrap()
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut TaskContext::from_waker(Waker::noop()))
}

#[test]
fn a_dropped_or_forgotten_future_never_writes_its_buffer() {
    let ve = Ve::new();
    let flag = ve.proc.alloc::<u64>(1).unwrap();
    ve.proc.write(&flag, &[0]).unwrap();
    let held = hold(&ve, &flag);
    let mut dropped = vec![0xaau8; 100];
    let mut forgotten = vec![0xbbu8; 100];
    {
        let mut a = Args::new();
        a.stack_out(&mut dropped).u64(100).u8(0xaa);
        let req = ve.ctx.call::<u64>(&ve.f("core_out_fill"), a).unwrap();
        let mut fut = Box::pin(req.into_future());
        assert!(
            poll_once(fut.as_mut()).is_pending(),
            "queued behind the held call"
        );
        drop(fut);
    }
    {
        let mut a = Args::new();
        a.stack_out(&mut forgotten).u64(100).u8(0xbb);
        let req = ve.ctx.call::<u64>(&ve.f("core_out_fill"), a).unwrap();
        let mut fut = Box::pin(req.into_future());
        assert!(poll_once(fut.as_mut()).is_pending());
        std::mem::forget(fut);
    }
    ve.proc.write(&flag, &[1]).unwrap();
    assert_eq!(held.wait().unwrap(), 1, "the kernel saw the flag");
    ve.ctx.sync().unwrap();
    // Both kernels ran (and wrote their copies of the buffers on the VE);
    // nothing reached the host buffers.
    assert!(dropped.iter().all(|&b| b == 0xaa), "a dropped future wrote");
    assert!(
        forgotten.iter().all(|&b| b == 0xbb),
        "a forgotten future wrote"
    );
    // The context works on, awaited.
    let r = futures::executor::block_on(async_mul(&ve.ctx, 4, 4).unwrap().into_future());
    assert_eq!(r.unwrap(), 16);
}

#[test]
fn out_bytes_land_only_when_the_future_completes() {
    let ve = Ve::new();
    let flag = ve.proc.alloc::<u64>(1).unwrap();
    ve.proc.write(&flag, &[0]).unwrap();
    let held = hold(&ve, &flag).into_future();
    let mut out = [0i64; 16];
    let fill = async_fill(&ve.ctx, &mut out, 16, 100).unwrap();
    let mut fill = Box::pin(fill.into_future());
    assert!(poll_once(fill.as_mut()).is_pending());
    ve.proc.write(&flag, &[1]).unwrap();
    futures::executor::block_on(async {
        assert_eq!(held.await.unwrap(), 1);
        assert_eq!(fill.await.unwrap(), 16);
    });
    assert_eq!(out[0], 100);
    assert_eq!(out[15], 115);
}

#[test]
fn a_future_on_a_proc_whose_helper_dies_resolves_to_the_error() {
    let ve = Ve::new();
    let flag = ve.proc.alloc::<u64>(1).unwrap();
    ve.proc.write(&flag, &[0]).unwrap();
    let held = hold(&ve, &flag);
    let mut later = Vec::new();
    for i in 0..10 {
        later.push(async_mul(&ve.ctx, i, 2).unwrap().into_future());
    }
    let mut held = Box::pin(held.into_future());
    assert!(poll_once(held.as_mut()).is_pending());
    let killer = {
        let pid = ve.proc.pid();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // SAFETY: kill has no memory effects; the pid is the proc's
            // helper, an unreaped child of this process.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        })
    };
    let (first, rest) = futures::executor::block_on(async { (held.await, join_all(later).await) });
    killer.join().unwrap();
    assert!(matches!(first, Err(Error::HelperDied { .. })), "{first:?}");
    assert!(rest.iter().all(|r| r.is_err()), "{rest:?}");
    // A future made after the death resolves at once too.
    assert!(async_mul(&ve.ctx, 1, 1).is_err());
}

/// The threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|n| n.starts_with(prefix))
        .count()
}

#[test]
fn the_waking_thread_starts_with_the_first_wait_and_ends_with_the_proc() {
    let proc = Proc::new(0).unwrap();
    let name = format!("veo-await-{}", proc.pid());
    let name = &name[..name.len().min(15)];
    let ctx = proc.open_context().unwrap();
    // Blocking waits never start it.
    assert_eq!(async_mul(&ctx, 2, 3).unwrap().wait().unwrap(), 6);
    assert_eq!(threads_named(name), 0, "no future, no thread");
    let lib = proc.load_library(KERNELS).unwrap();
    let sleep = lib.function("async_sleep_ms").unwrap();
    let mut a = Args::new();
    a.i64(100);
    let r: i64 = futures::executor::block_on(ctx.call(&sleep, a).unwrap().into_future()).unwrap();
    assert_eq!(r, 100);
    assert_eq!(threads_named(name), 1, "started by the wait");
    drop(ctx);
    drop(lib);
    drop(proc);
    eventually("the waking thread's end with its proc", || {
        (threads_named(name) == 0).then_some(())
    });
}

#[test]
fn a_forgotten_future_does_not_stall_the_next_awaited_call_of_its_context() {
    // A forgotten future stays watched by the waking thread and is never
    // polled again; a call awaited after it must not depend on it to drain
    // the ring. Many rounds, so that the next call's answer often arrives
    // before the waking thread has seen the call.
    let ve = Arc::new(Ve::new());
    let (done, rounds) = std::sync::mpsc::channel();
    let v = Arc::clone(&ve);
    let runner = std::thread::spawn(move || {
        for i in 0..300i64 {
            let mut fut = Box::pin(async_mul(&v.ctx, i, 2).unwrap().into_future());
            let _ = poll_once(fut.as_mut());
            std::mem::forget(fut);
            let r = futures::executor::block_on(async_mul(&v.ctx, i, 3).unwrap().into_future());
            assert_eq!(r.unwrap(), 3 * i);
            done.send(i).unwrap();
        }
    });
    for want in 0..300i64 {
        match rounds.recv_timeout(PATIENCE) {
            Ok(i) => assert_eq!(i, want),
            Err(e) => panic!("round {want} of 300 stalled ({e}): an awaited call was never woken"),
        }
    }
    runner.join().unwrap();
}
