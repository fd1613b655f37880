//! Queue order on one context: async transfers against calls queued before
//! them, VH closures (`call_vh`) between calls, and batched submission.
//! The kernels that go first are slow on purpose, so that anything allowed
//! to overtake them would see old data. Kernels: tests/kernels/core_order.c.

use std::sync::Arc;
use veo_runtime::{Args, Error, Function, Proc, VePtr};
use veo_tests::{Ve, KERNELS};

fn slow_fill<'a>(
    ve: &'a Ve,
    f: &Function,
    p: VePtr<u64>,
    n: usize,
    v: u64,
) -> veo_runtime::Request<'a, ()> {
    let mut a = Args::new();
    a.ptr(p).u64(n as u64).u64(v).u32(30_000);
    ve.ctx.call(f, a).unwrap()
}

#[test]
fn async_transfers_wait_for_calls_queued_before_them() {
    let ve = Ve::new();
    let fill = ve.f("core_slow_fill");
    let sum = ve.f("core_sum_words");
    const N: usize = 4096;
    let a = ve.proc.alloc::<u64>(N).unwrap();
    let b = ve.proc.alloc::<u64>(N).unwrap();
    ve.proc.write(&a, &[0u64; N]).unwrap();

    let mut seen_by_read = vec![0u64; N];
    let mut seen_after_copy = vec![0u64; N];
    let newer: Vec<u64> = (0..N as u64).map(|i| 5000 + i).collect();

    // call (slow) -> read: the read sees what the call wrote.
    let r1 = slow_fill(&ve, &fill, a.as_ptr(), N, 1000);
    let r2 = ve.ctx.read_async(&mut seen_by_read, &a).unwrap();
    // write -> call: the call sees what was written.
    let r3 = ve.ctx.write_async(&a, &newer).unwrap();
    let mut args = Args::new();
    args.ptr(a.as_ptr()).u64(N as u64);
    let r4 = ve.ctx.call::<u64>(&sum, args).unwrap();
    // call (slow) -> memcpy -> read.
    let r5 = slow_fill(&ve, &fill, a.as_ptr(), N, 9000);
    let r6 = ve.ctx.memcpy_async(b.as_ptr(), a.as_ptr(), N).unwrap();
    let r7 = ve.ctx.read_async(&mut seen_after_copy, &b).unwrap();

    // Waited for out of order, last first.
    r7.wait().unwrap();
    r6.wait().unwrap();
    r5.wait().unwrap();
    let total = r4.wait().unwrap();
    r3.wait().unwrap();
    r2.wait().unwrap();
    r1.wait().unwrap();

    let want1: Vec<u64> = (0..N as u64).map(|i| 1000 + i).collect();
    assert_eq!(seen_by_read, want1, "the read overtook the call before it");
    assert_eq!(
        total,
        newer.iter().sum::<u64>(),
        "the call overtook the write before it"
    );
    let want9: Vec<u64> = (0..N as u64).map(|i| 9000 + i).collect();
    assert_eq!(
        seen_after_copy, want9,
        "memcpy or read overtook the call before them"
    );
}

#[test]
fn async_alloc_and_free_are_ordered_with_calls() {
    let ve = Ve::new();
    let fill = ve.f("core_slow_fill");
    // alloc -> (wait) -> slow call using it -> read -> free: all in order,
    // and the free comes after the call has used the memory.
    let p = ve
        .ctx
        .alloc_async(64 * 8)
        .unwrap()
        .wait()
        .unwrap()
        .cast::<u64>();
    let mut back = vec![0u64; 64];
    let r1 = slow_fill(&ve, &fill, p, 64, 42);
    let r2 = ve.ctx.read_async(&mut back, p).unwrap();
    let r3 = ve.ctx.free_async(p).unwrap();
    r3.wait().unwrap();
    r2.wait().unwrap();
    r1.wait().unwrap();
    assert_eq!(back, (42..42 + 64).collect::<Vec<u64>>());
    assert!(matches!(
        ve.proc.free_mem(p),
        Err(Error::InvalidAddress { .. })
    ));
}

/// Reads the VE log (count, then entries).
fn read_log(proc: &Proc, log: VePtr<u64>) -> Vec<u64> {
    let mut n = [0u64; 1];
    proc.read(&mut n, log).unwrap();
    let mut v = vec![0u64; n[0] as usize];
    proc.read(&mut v, log.add(1)).unwrap();
    v
}

/// Appends to the VE log from the VH, with a pause between reading the
/// count and writing it: a kernel running meanwhile would be lost or clobbered.
fn push_from_vh(proc: &Proc, log: VePtr<u64>, v: u64) -> u64 {
    let mut n = [0u64; 1];
    proc.read(&mut n, log).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    proc.write(log.add(1 + n[0] as usize), &[v]).unwrap();
    proc.write(log, &[n[0] + 1]).unwrap();
    n[0] + 1
}

#[test]
fn vh_closures_run_in_queue_order() {
    let proc = Arc::new(Proc::new(0).unwrap());
    // On AVEO the closures' reads and writes through the proc run on the
    // main context's queue: not the one they wait in.
    let _main = veo_tests::is_aveo(&proc).then(|| proc.open_context().unwrap());
    let ctx = proc.open_context().unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    let fill = lib.function("core_slow_fill").unwrap();
    let read = lib.function("core_read_word").unwrap();
    let push = lib.function("core_log_push").unwrap();

    // A closure after a slow call sees its effect; a call after the closure
    // sees the closure's.
    let word = proc.alloc::<u64>(1).unwrap();
    let w = word.as_ptr();
    let mut a = Args::new();
    a.ptr(w).u64(1).u64(77).u32(30_000);
    let r1 = ctx.call::<()>(&fill, a).unwrap();
    let p = proc.clone();
    let r2 = ctx
        .call_vh(move || {
            let mut v = [0u64; 1];
            p.read(&mut v, w).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            p.write(w, &[v[0] + 1]).unwrap();
            v[0]
        })
        .unwrap();
    let mut a = Args::new();
    a.ptr(w);
    let r3 = ctx.call::<u64>(&read, a).unwrap();
    assert_eq!(
        r3.wait().unwrap(),
        78,
        "the call after the closure ran before it finished"
    );
    assert_eq!(
        r2.wait().unwrap(),
        77,
        "the closure ran before the call queued before it"
    );
    r1.wait().unwrap();

    // Calls and closures interleaved append to one log in queue order.
    let log = proc.alloc::<u64>(16).unwrap();
    proc.write(&log, &[0u64; 16]).unwrap();
    let l = log.as_ptr();
    let mut reqs = Vec::new();
    let mut vh = Vec::new();
    for i in 1..=6u64 {
        if i % 2 == 1 {
            let mut a = Args::new();
            a.ptr(l).u64(i);
            reqs.push(ctx.call::<u64>(&push, a).unwrap());
        } else {
            let p = proc.clone();
            vh.push(ctx.call_vh(move || push_from_vh(&p, l, i)).unwrap());
        }
    }
    let counts: Vec<u64> = reqs.into_iter().map(|r| r.wait().unwrap()).collect();
    let vh_counts: Vec<u64> = vh.into_iter().map(|r| r.wait().unwrap()).collect();
    assert_eq!(counts, vec![1, 3, 5]);
    assert_eq!(vh_counts, vec![2, 4, 6]);
    assert_eq!(read_log(&proc, l), vec![1, 2, 3, 4, 5, 6]);

    // A closure that panics fails its own request only.
    let bad = ctx
        .call_vh(|| panic!("a deliberate panic in a VH closure"))
        .unwrap();
    let mut a = Args::new();
    a.ptr(l).u64(7);
    let after = ctx.call::<u64>(&push, a).unwrap();
    assert!(bad.wait().is_err());
    assert_eq!(after.wait().unwrap(), 7);
}

#[test]
fn batches_run_in_order_with_one_result_each() {
    let ve = Ve::new();
    let push = ve.f("core_log_push");
    let log = ve.proc.alloc::<u64>(64).unwrap();
    ve.proc.write(&log, &[0u64; 64]).unwrap();
    let l = log.as_ptr();

    let calls = (0..20u64).map(|i| {
        let mut a = Args::new();
        a.ptr(l).u64(i * 11);
        (&push, a)
    });
    let reqs = ve.ctx.call_batch::<u64>(calls).unwrap();
    assert_eq!(reqs.len(), 20);
    let ids: Vec<u64> = reqs.iter().map(|r| r.id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "request ids {ids:?}");
    let counts: Vec<u64> = reqs.into_iter().map(|r| r.wait().unwrap()).collect();
    assert_eq!(counts, (1..=20).collect::<Vec<u64>>());
    assert_eq!(
        read_log(&ve.proc, l),
        (0..20).map(|i| i * 11).collect::<Vec<u64>>()
    );

    // Each call of a batch has its own OUT buffer.
    let out_fill = ve.f("core_out_fill");
    let mut bufs = vec![vec![0xaau8; 5], vec![0xaau8; 17], vec![0xaau8; 1]];
    let calls = bufs.iter_mut().map(|b| {
        let n = b.len() as u64;
        let mut a = Args::new();
        a.stack_out(b).u64(n).u8(0xaa);
        (&out_fill, a)
    });
    let seen: Vec<u64> = ve
        .ctx
        .call_batch::<u64>(calls)
        .unwrap()
        .into_iter()
        .map(|r| r.wait().unwrap())
        .collect();
    assert_eq!(seen, vec![0, 0, 0]);
    for b in &bufs {
        assert!(b.iter().enumerate().all(|(i, &x)| x == (i * 7 + 3) as u8));
    }

    // A batch with one bad call is refused as a whole: nothing runs.
    let calls = (0..3u64).map(|i| {
        let mut a = Args::new();
        a.ptr(l).u64(1000 + i);
        if i == 2 {
            for _ in 0..300 {
                a.u8(0);
            }
        }
        (&push, a)
    });
    assert!(matches!(
        ve.ctx.call_batch::<u64>(calls),
        Err(Error::TooManyArguments { .. })
    ));
    ve.ctx.sync().unwrap();
    assert_eq!(
        read_log(&ve.proc, l).len(),
        20,
        "part of a refused batch ran"
    );

    // An empty batch.
    let none = ve
        .ctx
        .call_batch::<u64>(std::iter::empty::<(&Function, Args<'_>)>())
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn dropping_a_context_does_not_wait_for_its_pending_vh_closure() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let ve = Ve::new();
    let flag = ve.proc.alloc::<u64>(1).unwrap();
    ve.proc.write(&flag, &[0]).unwrap();
    let ctx = ve.proc.open_context().unwrap();
    // A kernel that runs until the test sets the flag (or a minute passes),
    // then a closure queued behind it.
    let mut a = Args::new();
    a.ptr(flag.as_ptr()).u64(1).i64(60_000);
    drop(ctx.call::<i64>(&ve.f("core_wait_flag"), a).unwrap());
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    drop(ctx.call_vh(move || {
        r.store(true, Ordering::SeqCst);
        0
    }));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(ctx);
        let _ = tx.send(());
    });
    let dropped = rx.recv_timeout(veo_tests::PATIENCE);
    // Release the kernel whatever happened, so nothing lingers.
    ve.proc.write(&flag, &[1]).unwrap();
    assert!(
        dropped.is_ok(),
        "dropping the context blocked on the kernel before its VH closure"
    );
    // The queue still runs to its end: the closure runs once the kernel returns.
    veo_tests::eventually("the closure's run", || {
        ran.load(Ordering::SeqCst).then_some(())
    });
}

/// Stops a process (`SIGSTOP`) until dropped (`SIGCONT`), even when the
/// test fails in between.
struct Stopped(i32);

impl Stopped {
    fn new(pid: u32) -> Stopped {
        let pid = pid as i32;
        // SAFETY: kill has no memory effects; the pid is our own helper.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}

#[test]
fn transfers_on_an_idle_context_complete_without_the_helper() {
    let ve = Ve::new();
    if veo_tests::on_aveo(
        &ve.proc,
        "transfers made by this process alone, the helper stopped",
    ) {
        return;
    }
    let sum = ve.f("core_sum_words");
    // An odd length: the copies are not whole vectors.
    const N: usize = 5001;
    let a = ve.proc.alloc::<u64>(N).unwrap();
    let data: Vec<u64> = (0..N as u64).map(|i| i * 3 + 1).collect();
    let mut back = vec![0u64; N];
    // Every request before has finished: the VH makes the copy itself, in
    // queue order, with the helper stopped.
    let limit = std::time::Duration::from_secs(60);
    {
        let _stopped = Stopped::new(ve.proc.pid());
        let mut w = ve.ctx.write_async(&a, &data).unwrap();
        w.wait_timeout(limit).unwrap();
        let mut r = ve.ctx.read_async(&mut back, &a).unwrap();
        r.wait_timeout(limit).unwrap();
    }
    assert_eq!(back, data);
    // A kernel queued after the write sees it.
    let mut args = Args::new();
    args.ptr(a.as_ptr()).u64(N as u64);
    let total = ve.ctx.call::<u64>(&sum, args).unwrap().wait().unwrap();
    assert_eq!(total, data.iter().sum::<u64>());
}

#[test]
fn a_read_on_an_idle_context_sees_the_memory_of_its_place_in_the_queue() {
    let ve = Ve::new();
    let fill = ve.f("core_slow_fill");
    const N: usize = 3000;
    let a = ve.proc.alloc::<u64>(N).unwrap();
    let old: Vec<u64> = (0..N as u64).map(|i| 7 * i).collect();
    ve.ctx.write_async(&a, &old).unwrap().wait().unwrap();
    let mut seen = vec![0u64; N];
    let read = ve.ctx.read_async(&mut seen, &a).unwrap();
    // Queued after the read, finished before the read is waited for.
    slow_fill(&ve, &fill, a.as_ptr(), N, 100).wait().unwrap();
    read.wait().unwrap();
    assert_eq!(seen, old, "the read saw a call queued after it");
    // The call did run: a read now sees it.
    let mut now = vec![0u64; N];
    ve.ctx.read_async(&mut now, &a).unwrap().wait().unwrap();
    assert_eq!(now, (0..N as u64).map(|i| 100 + i).collect::<Vec<_>>());
}

#[test]
fn a_write_behind_a_running_call_still_waits_for_it() {
    let ve = Ve::new();
    let fill = ve.f("core_slow_fill");
    const N: usize = 3000;
    let a = ve.proc.alloc::<u64>(N).unwrap();
    let newer: Vec<u64> = (0..N as u64).map(|i| 3 * i + 2).collect();
    // The context is busy: the write must not overtake the fill.
    let r1 = slow_fill(&ve, &fill, a.as_ptr(), N, 500);
    let r2 = ve.ctx.write_async(&a, &newer).unwrap();
    r2.wait().unwrap();
    r1.wait().unwrap();
    let mut back = vec![0u64; N];
    ve.proc.read(&mut back, &a).unwrap();
    assert_eq!(back, newer, "the write overtook the call queued before it");
}
