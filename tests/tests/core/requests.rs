//! Requests: `peek` and `wait_timeout` on a request the test holds pending
//! (a kernel that waits for a flag the test sets), results taken once,
//! monotonic ids, dropped requests, and waiting out of order.
//! Kernels: tests/kernels/core_order.c, core_stack.c.

use std::time::{Duration, Instant};
use veo_runtime::{Args, Error, VeBuffer};
use veo_tests::{eventually, Ve, PATIENCE};

/// Queues `core_wait_flag(flag, want)`: pending until the flag is set.
fn hold<'a>(ve: &'a Ve, flag: &VeBuffer<u64>, want: u64) -> veo_runtime::Request<'a, i64> {
    let mut a = Args::new();
    a.ptr(flag.as_ptr())
        .u64(want)
        .i64(PATIENCE.as_millis() as i64);
    ve.ctx.call(&ve.f("core_wait_flag"), a).unwrap()
}

#[test]
fn peek_returns_none_until_done_then_the_result_once() {
    let ve = Ve::new();
    let flag = ve.proc.alloc::<u64>(1).unwrap();
    ve.proc.write(&flag, &[0]).unwrap();
    let mut req = hold(&ve, &flag, 1);
    assert_eq!(req.peek().unwrap(), None);
    assert_eq!(req.peek().unwrap(), None);
    ve.proc.write(&flag, &[1]).unwrap();
    let got = eventually("the request's completion", || req.peek().unwrap());
    assert_eq!(got, 1, "the kernel saw the flag (0 means it timed out)");
    assert!(matches!(req.peek(), Err(Error::AlreadyTaken)));
    assert!(matches!(
        req.wait_timeout(Duration::from_millis(1)),
        Err(Error::AlreadyTaken)
    ));
    assert!(matches!(req.wait(), Err(Error::AlreadyTaken)));
}

#[test]
fn peek_delivers_out_buffers() {
    let ve = Ve::new();
    let flag = ve.proc.alloc::<u64>(1).unwrap();
    ve.proc.write(&flag, &[0]).unwrap();
    let held = hold(&ve, &flag, 1);
    let mut out = vec![0xaau8; 100];
    let mut a = Args::new();
    a.stack_out(&mut out).u64(100).u8(0xaa);
    let mut req = ve.ctx.call::<u64>(&ve.f("core_out_fill"), a).unwrap();
    // Queued behind the held request: not done yet.
    assert_eq!(req.peek().unwrap(), None);
    ve.proc.write(&flag, &[1]).unwrap();
    let seen = eventually("the request's completion", || req.peek().unwrap());
    drop(req);
    assert_eq!(seen, 0);
    assert!(out.iter().enumerate().all(|(i, &b)| b == (i * 7 + 3) as u8));
    assert_eq!(held.wait().unwrap(), 1);
}

#[test]
fn wait_timeout_leaves_the_request_pending() {
    let ve = Ve::new();
    let flag = ve.proc.alloc::<u64>(1).unwrap();
    ve.proc.write(&flag, &[0]).unwrap();
    let mut req = hold(&ve, &flag, 7);
    match req.wait_timeout(Duration::from_millis(20)) {
        Err(Error::Timeout(d)) => assert_eq!(d, Duration::from_millis(20)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(matches!(
        req.wait_timeout(Duration::ZERO),
        Err(Error::Timeout(_))
    ));
    assert_eq!(
        req.peek().unwrap(),
        None,
        "still pending after the timeouts"
    );
    ve.proc.write(&flag, &[7]).unwrap();
    assert_eq!(req.wait_timeout(PATIENCE).unwrap(), 1);
    assert!(matches!(req.peek(), Err(Error::AlreadyTaken)));

    // wait() after a timeout works too.
    ve.proc.write(&flag, &[0]).unwrap();
    let mut req = hold(&ve, &flag, 8);
    assert!(matches!(
        req.wait_timeout(Duration::from_millis(5)),
        Err(Error::Timeout(_))
    ));
    ve.proc.write(&flag, &[8]).unwrap();
    assert_eq!(req.wait().unwrap(), 1);
}

#[test]
fn ids_are_monotonic_and_waits_can_come_in_any_order() {
    let ve = Ve::new();
    let f = ve.f("core_one");
    let reqs: Vec<_> = (0..50i64)
        .map(|i| {
            let mut a = Args::new();
            a.i64(i);
            ve.ctx.call::<i64>(&f, a).unwrap()
        })
        .collect();
    let ids: Vec<u64> = reqs.iter().map(|r| r.id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids {ids:?}");
    // Every other one, from the end, then the rest.
    let mut reqs: Vec<Option<_>> = reqs.into_iter().map(Some).collect();
    for i in (0..50).rev().step_by(2) {
        let v = reqs[i].take().unwrap().wait().unwrap();
        assert_eq!(v, i as i64 ^ 0x0123_4567_89ab_cdef);
    }
    for (i, r) in reqs.into_iter().enumerate() {
        if let Some(r) = r {
            assert_eq!(r.wait().unwrap(), i as i64 ^ 0x0123_4567_89ab_cdef);
        }
    }
}

#[test]
fn dropped_requests_still_run_and_do_not_disturb_others() {
    let ve = Ve::new();
    let push = ve.f("core_log_push");
    let log = ve.proc.alloc::<u64>(8).unwrap();
    ve.proc.write(&log, &[0u64; 8]).unwrap();
    for v in [10u64, 20, 30] {
        let mut a = Args::new();
        a.ptr(log.as_ptr()).u64(v);
        let r = ve.ctx.call::<u64>(&push, a).unwrap();
        if v != 30 {
            drop(r);
        } else {
            assert_eq!(r.wait().unwrap(), 3, "the dropped calls ran before");
        }
    }
    let mut entries = [0u64; 3];
    ve.proc.read(&mut entries, log.as_ptr().add(1)).unwrap();
    assert_eq!(entries, [10, 20, 30]);
}

#[test]
fn peek_delivers_async_reads() {
    let ve = Ve::new();
    let flag = ve.proc.alloc::<u64>(1).unwrap();
    ve.proc.write(&flag, &[0]).unwrap();
    let data = veo_tests::pattern_words(5, 1000);
    let buf = ve.proc.alloc::<u64>(1000).unwrap();
    ve.proc.write(&buf, &data).unwrap();
    let held = hold(&ve, &flag, 1);
    let mut back = vec![0u64; 1000];
    let mut req = ve.ctx.read_async(&mut back, &buf).unwrap();
    assert_eq!(req.peek().unwrap(), None, "the read overtook the held call");
    ve.proc.write(&flag, &[1]).unwrap();
    eventually("the read's completion", || req.peek().unwrap());
    drop(req);
    assert_eq!(back, data);
    assert_eq!(held.wait().unwrap(), 1);
}

#[test]
fn the_proc_serves_while_a_context_is_busy() {
    let ve = Ve::new();
    let flag = ve.proc.alloc::<u64>(1).unwrap();
    ve.proc.write(&flag, &[0]).unwrap();
    let mut held = hold(&ve, &flag, 1);
    // Control operations do not queue behind the busy context.
    let mut a = Args::new();
    a.i64(9);
    let v: i64 = ve.proc.call_sync_by_name("core_one", a).unwrap();
    assert_eq!(v, 9 ^ 0x0123_4567_89ab_cdef);
    let other = ve.proc.load_library(veo_tests::RELOAD_KERNELS).unwrap();
    let p = ve.proc.alloc::<u8>(100).unwrap();
    ve.proc.write(&p, &[1u8; 100]).unwrap();
    let ctx2 = ve.proc.open_context().unwrap();
    ctx2.sync().unwrap();
    other.unload().unwrap();
    assert_eq!(held.peek().unwrap(), None, "still held");
    ve.proc.write(&flag, &[1]).unwrap();
    assert_eq!(held.wait().unwrap(), 1);
}

#[test]
fn many_requests_in_flight_through_small_rings() {
    // 64 KiB rings (the smallest): the command ring and the result ring
    // both fill up while nobody waits; submitting must keep draining.
    let proc = veo_runtime::Proc::builder().ring_bytes(1).build().unwrap();
    let ctx = proc.open_context().unwrap();
    let lib = proc.load_library(veo_tests::KERNELS).unwrap();
    let f = lib.function("core_one").unwrap();
    let n = 20_000i64;
    let reqs: Vec<_> = (0..n)
        .map(|i| {
            let mut a = Args::new();
            a.i64(i);
            ctx.call::<i64>(&f, a).unwrap()
        })
        .collect();
    for (i, r) in reqs.into_iter().enumerate() {
        assert_eq!(r.wait().unwrap(), i as i64 ^ 0x0123_4567_89ab_cdef);
    }
    // One batch far bigger than the command ring.
    let calls = (0..5000i64).map(|i| {
        let mut a = Args::new();
        a.i64(-i);
        (&f, a)
    });
    let reqs = ctx.call_batch::<i64>(calls).unwrap();
    for (i, r) in reqs.into_iter().enumerate() {
        assert_eq!(r.wait().unwrap(), -(i as i64) ^ 0x0123_4567_89ab_cdef);
    }
}

#[test]
fn timeouts_in_the_middle_of_a_big_answer_lose_nothing() {
    let ve = Ve::new();
    let n = 2 << 20; // 16 MiB of words, answered in many pieces
    let data = veo_tests::pattern_words(9, n);
    let buf = ve.proc.alloc::<u64>(n).unwrap();
    ve.proc.write(&buf, &data).unwrap();
    let mut back = vec![0u64; n];
    let mut req = ve.ctx.read_async(&mut back, &buf).unwrap();
    let until = Instant::now() + PATIENCE;
    let mut timeouts = 0u32;
    loop {
        match req.wait_timeout(Duration::from_micros(100)) {
            Ok(()) => break,
            Err(Error::Timeout(_)) => timeouts += 1,
            Err(e) => panic!("after {timeouts} timeouts: {e}"),
        }
        assert!(Instant::now() < until, "the read never completed");
    }
    drop(req);
    veo_tests::assert_same(&back, &data, "read waited for in 100 µs slices");
}
