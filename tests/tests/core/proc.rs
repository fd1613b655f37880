//! Procs and contexts: the ProcBuilder options as the helper sees them
//! (node, core, stack size, ring size, helper program), the helper process
//! itself, and contexts opened, listed, closed, dropped, synced, their state,
//! and their limit. Kernels: tests/kernels/core_proc.c, core_order.c.

use veo_runtime::{Args, Closable, ContextState, Error, Proc, MAX_CONTEXTS};
use veo_tests::{pattern_bytes, Ve, KERNELS, PATIENCE};

fn env_in_helper(proc: &Proc, name: &str) -> i64 {
    let mut a = Args::new();
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0);
    a.stack_in(&bytes);
    proc.call_sync_by_name("core_env_int", a).unwrap()
}

#[test]
fn builder_node_and_core_reach_the_helper() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let core = 1 % cpus;
    let proc = Proc::builder().node(3).core(core).build().unwrap();
    assert_eq!(proc.node(), 3);
    proc.load_library(KERNELS).unwrap();
    assert_eq!(env_in_helper(&proc, "VE_NODE_NUMBER"), 3);
    // Pinned: the control thread and the context workers alike.
    if !veo_tests::on_aveo(&proc, "the helper pinned to a core") {
        let mask: u64 = proc
            .call_sync_by_name("core_cpu_mask", Args::new())
            .unwrap();
        assert_eq!(mask, 1 << core, "the helper is not pinned to core {core}");
        let ctx = proc.open_context().unwrap();
        let f = proc.get_function("core_cpu_mask").unwrap();
        let mask: u64 = ctx.call(&f, Args::new()).unwrap().wait().unwrap();
        assert_eq!(mask, 1 << core, "a context worker is not pinned");
    }

    // Proc::new(node) sets the node too.
    let p2 = Proc::new(5).unwrap();
    p2.load_library(KERNELS).unwrap();
    assert_eq!(p2.node(), 5);
    assert_eq!(env_in_helper(&p2, "VE_NODE_NUMBER"), 5);
}

#[test]
fn the_helper_is_a_child_process_that_ends_with_the_proc() {
    let ve = Ve::new();
    let pid: i64 = ve
        .proc
        .call_sync(&ve.f("core_getpid"), Args::new())
        .unwrap();
    let ppid: i64 = ve
        .proc
        .call_sync(&ve.f("core_getppid"), Args::new())
        .unwrap();
    assert_eq!(pid, ve.proc.pid() as i64);
    assert_eq!(ppid, std::process::id() as i64);
    assert!(ve.proc.is_alive());
    assert!(!ve.proc.helper().is_empty());
    let Ve { proc, ctx, lib, .. } = ve;
    let buf = proc.alloc::<u64>(16).unwrap();
    drop(proc);
    // Dropping the proc ended (and reaped) the helper.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the helper process {pid} is still there"
    );
    // What outlives the proc reports it closed.
    assert_eq!(ctx.state(), ContextState::Closed);
    assert!(matches!(ctx.sync(), Err(Error::Closed(Closable::Proc))));
    assert!(matches!(
        lib.function("core_one"),
        Err(Error::Closed(Closable::Proc))
    ));
    // A buffer dropped after its proc is simply forgotten.
    assert_eq!(buf.len(), 16);
    drop(buf);
}

#[test]
fn builder_helper_that_cannot_start_is_an_error() {
    if veo_tests::aveo_selected("ProcBuilder::helper") {
        return;
    }
    match Proc::builder().helper("/nonexistent/ve-helper").build() {
        Err(Error::HelperStart { helper, reason }) => {
            assert_eq!(helper, "/nonexistent/ve-helper");
            assert!(!reason.is_empty());
        }
        other => panic!("expected HelperStart, got {other:?}"),
    }
    // A program that is no helper at all: it exits at once.
    match Proc::builder()
        .helper("/bin/true")
        .start_timeout(PATIENCE)
        .build()
    {
        Err(Error::HelperStart { reason, .. }) => {
            assert!(reason.contains("before it was ready"), "{reason}")
        }
        other => panic!("expected HelperStart, got {other:?}"),
    }
}

#[test]
fn builder_ring_size_small_rings_still_carry_big_transfers() {
    let proc = Proc::builder().ring_bytes(1).build().unwrap();
    let ctx = proc.open_context().unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    let n = (1 << 20) + 5;
    let data = pattern_bytes(77, n);
    let buf = proc.alloc::<u8>(n).unwrap();
    ctx.write_async(&buf, &data).unwrap().wait().unwrap();
    let mut a = Args::new();
    a.ptr(buf.as_ptr()).u64(n as u64).u64(77);
    let bad: u64 = ctx
        .call(&lib.function("core_check_bytes").unwrap(), a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(bad, 0);
    let mut back = vec![0u8; n];
    ctx.read_async(&mut back, &buf).unwrap().wait().unwrap();
    veo_tests::assert_same(&back, &data, "async read through a small ring");
    let mut io: Vec<u8> = (0..300_000).map(|i| (i * 13 + 4) as u8).collect();
    let mut a = Args::new();
    a.stack_inout(&mut io).u64(300_000).u8(4);
    let seen: u64 = ctx
        .call(&lib.function("core_inout_flip").unwrap(), a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(seen, 300_000);
    assert!(io
        .iter()
        .enumerate()
        .all(|(i, &b)| b == !((i * 13 + 4) as u8)));
}

#[test]
fn builder_absurd_ring_size_is_an_error_not_a_panic() {
    if veo_tests::aveo_selected("ProcBuilder::ring_bytes") {
        return;
    }
    for bytes in [usize::MAX, 1 << 60] {
        let r = std::panic::catch_unwind(|| Proc::builder().ring_bytes(bytes).build());
        match r {
            Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("a ring of {bytes} bytes cannot exist"),
            Err(_) => panic!("ring_bytes({bytes}) panicked instead of failing"),
        }
    }
}

#[test]
fn contexts_open_list_close_and_state() {
    let proc = Proc::new(0).unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    let f = lib.function("core_one").unwrap();
    assert_eq!(proc.num_contexts(), 0);
    assert!(proc.contexts().is_empty());
    let a = proc.open_context().unwrap();
    let b = proc.open_context().unwrap();
    let c = proc.open_context().unwrap();
    let mut idx = vec![a.index(), b.index(), c.index()];
    idx.sort();
    idx.dedup();
    assert_eq!(idx.len(), 3, "contexts share a slot");
    assert_eq!(proc.contexts(), idx);
    assert_eq!(proc.num_contexts(), 3);
    for ctx in [&a, &b, &c] {
        assert_eq!(ctx.state(), ContextState::Running);
    }
    let b_index = b.index();
    b.close().unwrap();
    assert_eq!(proc.num_contexts(), 2);
    assert!(!proc.contexts().contains(&b_index));
    drop(c);
    assert_eq!(proc.contexts(), vec![a.index()]);
    // The remaining one still works.
    let mut args = Args::new();
    args.i64(0);
    let v: i64 = a.call(&f, args).unwrap().wait().unwrap();
    assert_eq!(v, 0x0123_4567_89ab_cdef);

    // Slots are reused: many more opens and closes than MAX_CONTEXTS, some
    // closed, some dropped.
    for i in 0..(2 * MAX_CONTEXTS) {
        let ctx = proc.open_context().unwrap();
        let mut args = Args::new();
        args.i64(i as i64);
        let v: i64 = ctx.call(&f, args).unwrap().wait().unwrap();
        assert_eq!(v, i as i64 ^ 0x0123_4567_89ab_cdef);
        if i % 2 == 0 {
            ctx.close().unwrap();
        }
    }
    assert_eq!(proc.num_contexts(), 1);
}

#[test]
fn at_most_max_contexts_at_once() {
    let proc = Proc::new(0).unwrap();
    let mut ctxs: Vec<_> = (0..MAX_CONTEXTS)
        .map(|_| proc.open_context().unwrap())
        .collect();
    assert_eq!(proc.num_contexts(), MAX_CONTEXTS);
    match proc.open_context() {
        Err(e @ Error::TooManyContexts { max }) => {
            assert_eq!(max, MAX_CONTEXTS);
            assert!(e.to_string().contains("close one"), "{e}");
        }
        other => panic!("context {} of {MAX_CONTEXTS}: {other:?}", MAX_CONTEXTS + 1),
    }
    ctxs.pop().unwrap().close().unwrap();
    if veo_tests::on_aveo(
        &proc,
        "reopening at the limit at once (libveo.so frees a closed context's slot later)",
    ) {
        return;
    }
    let again = proc.open_context().unwrap();
    again.sync().unwrap();
    ctxs.push(again);
    for c in &ctxs {
        c.sync().unwrap();
    }
}

#[test]
fn sync_returns_when_everything_queued_has_run() {
    let ve = Ve::new();
    let f = ve.f("core_slow_fill");
    let buf = ve.proc.alloc::<u64>(8).unwrap();
    let mut reqs: Vec<_> = (0..5u64)
        .map(|i| {
            let mut a = Args::new();
            a.ptr(buf.as_ptr()).u64(8).u64(i * 100).u32(5_000);
            ve.ctx.call::<()>(&f, a).unwrap()
        })
        .collect();
    ve.ctx.sync().unwrap();
    // Everything before the sync is done: each result is there at once.
    for (i, r) in reqs.iter_mut().enumerate() {
        assert_eq!(
            r.peek().unwrap(),
            Some(()),
            "request {i} not done after sync"
        );
    }
    let mut back = [0u64; 8];
    ve.proc.read(&mut back, &buf).unwrap();
    assert_eq!(back, [400, 401, 402, 403, 404, 405, 406, 407]);
}

#[test]
fn close_runs_what_was_queued_first() {
    let proc = Proc::new(0).unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    let f = lib.function("core_slow_fill").unwrap();
    let buf = proc.alloc::<u64>(4).unwrap();
    proc.write(&buf, &[0u64; 4]).unwrap();
    let ctx = proc.open_context().unwrap();
    let mut a = Args::new();
    a.ptr(buf.as_ptr()).u64(4).u64(7).u32(30_000);
    drop(ctx.call::<()>(&f, a).unwrap());
    ctx.close().unwrap();
    let mut back = [0u64; 4];
    proc.read(&mut back, &buf).unwrap();
    assert_eq!(
        back,
        [7, 8, 9, 10],
        "close returned before the queued call ran"
    );

    // A dropped context also finishes its queue (without blocking the drop).
    let ctx = proc.open_context().unwrap();
    let mut a = Args::new();
    a.ptr(buf.as_ptr()).u64(4).u64(20).u32(10_000);
    drop(ctx.call::<()>(&f, a).unwrap());
    drop(ctx);
    veo_tests::eventually("the dropped context's call", || {
        proc.read(&mut back, &buf).unwrap();
        (back == [20, 21, 22, 23]).then_some(())
    });
}

/// Clones are handles to one helper: it lives until the last one goes, and
/// `close` on any of them ends it for all.
#[test]
fn clones_share_one_helper() {
    let proc = veo_runtime::Proc::new(0).unwrap();
    let pid = proc.pid();
    let other = proc.clone();
    drop(proc);
    assert!(other.is_alive(), "a clone keeps the helper");
    let buf = other.alloc::<u8>(16).unwrap();
    other.write(&buf, &[7u8; 16]).unwrap();
    let third = other.clone();
    other.close();
    assert!(!third.is_alive());
    assert!(matches!(
        third.alloc_mem(8),
        Err(Error::Closed(Closable::Proc))
    ));
    assert_eq!(third.pid(), pid);
}
