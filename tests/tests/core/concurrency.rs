//! Concurrency: 4 contexts of one proc running kernels at the same time,
//! one context shared by several threads, two procs at once, and procs
//! created on threads that end. Kernels: tests/kernels/core_concurrency.c.

use std::sync::Barrier;
use veo_runtime::{Args, Error, Proc};
use veo_tests::{Ve, KERNELS, PATIENCE};

fn mix(x: u64, y: u32) -> u64 {
    let z = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(y as u64);
    z ^ (z >> 29)
}

#[test]
fn four_contexts_call_concurrently() {
    let proc = Proc::new(0).unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    let meet = lib.function("core_rendezvous").unwrap();
    let mixf = lib.function("core_mix").unwrap();
    let ctxs: Vec<_> = (0..4).map(|_| proc.open_context().unwrap()).collect();
    assert_eq!(proc.num_contexts(), 4);
    let counter = proc.alloc::<u64>(1).unwrap();
    proc.write(&counter, &[0]).unwrap();
    let scratch = proc.alloc::<u64>(4 * 1024).unwrap();
    let start = Barrier::new(4);

    std::thread::scope(|s| {
        for (t, ctx) in ctxs.iter().enumerate() {
            let (meet, mixf, counter, scratch, start) = (&meet, &mixf, &counter, &scratch, &start);
            s.spawn(move || {
                start.wait();
                // All four kernels must be running at once to return 1.
                let mut a = Args::new();
                a.ptr(counter.as_ptr())
                    .u64(4)
                    .i64(PATIENCE.as_millis() as i64);
                let met: i64 = ctx.call(meet, a).unwrap().wait().unwrap();
                assert_eq!(
                    met, 1,
                    "context {t}: the four kernels never ran at the same time"
                );

                // Then many calls and transfers each, interleaved with the others.
                let reqs: Vec<_> = (0..200u32)
                    .map(|i| {
                        let mut a = Args::new();
                        a.u64(t as u64).u32(i);
                        ctx.call::<u64>(mixf, a).unwrap()
                    })
                    .collect();
                for (i, r) in reqs.into_iter().enumerate() {
                    assert_eq!(
                        r.wait().unwrap(),
                        mix(t as u64, i as u32),
                        "context {t} call {i}"
                    );
                }
                let mine = scratch.as_ptr().add(t * 1024);
                let data: Vec<u64> = (0..1024).map(|i| mix(i, t as u32)).collect();
                ctx.write_async(mine, &data).unwrap().wait().unwrap();
                let mut back = vec![0u64; 1024];
                ctx.read_async(&mut back, mine).unwrap().wait().unwrap();
                assert_eq!(back, data, "context {t}: transfer");
            });
        }
    });
    let mut n = [0u64];
    proc.read(&mut n, &counter).unwrap();
    assert_eq!(n[0], 4);
}

#[test]
fn one_context_shared_by_threads() {
    let ve = Ve::new();
    let f = ve.f("core_mix");
    let ctx = &ve.ctx;
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let f = &f;
            s.spawn(move || {
                for i in 0..100u32 {
                    let mut a = Args::new();
                    a.u64(t).u32(i);
                    let r = ctx.call::<u64>(f, a).unwrap();
                    assert_eq!(r.wait().unwrap(), mix(t, i));
                }
            });
        }
    });
}

#[test]
fn two_procs_at_once() {
    // Started concurrently from two threads.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(Ve::new);
        let b = s.spawn(Ve::new);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.proc.pid(), b.proc.pid());
    let add = |ve: &Ve, by: i64| -> i64 {
        let mut args = Args::new();
        args.i64(by);
        ve.ctx
            .call(&ve.f("core_state_add"), args)
            .unwrap()
            .wait()
            .unwrap()
    };
    // Each proc has its own copy of the library's state.
    std::thread::scope(|s| {
        s.spawn(|| {
            for k in 1..=50 {
                assert_eq!(add(&a, 1), k);
            }
        });
        s.spawn(|| {
            for k in 1..=50 {
                assert_eq!(add(&b, 10), 10 * k);
            }
        });
    });
    // Their memory is separate too.
    let pa = a.proc.alloc::<u64>(4).unwrap();
    let pb = b.proc.alloc::<u64>(4).unwrap();
    a.proc.write(&pa, &[1, 2, 3, 4]).unwrap();
    b.proc.write(&pb, &[5, 6, 7, 8]).unwrap();
    let mut back = [0u64; 4];
    a.proc.read(&mut back, &pa).unwrap();
    assert_eq!(back, [1, 2, 3, 4]);

    // A function of one proc cannot be called on the other.
    let fa = a.f("core_state_add");
    let mut args = Args::new();
    args.i64(1);
    match b.ctx.call::<i64>(&fa, args) {
        Err(e @ Error::WrongProc { .. }) => {
            assert!(matches!(&e, Error::WrongProc { function } if function == "core_state_add"));
            assert!(e.to_string().contains("another proc"), "{e}");
        }
        other => panic!("a call with a function of another proc: {other:?}"),
    }
    assert!(matches!(
        b.proc.call_sync::<i64>(&fa, Args::new()),
        Err(Error::WrongProc { .. })
    ));

    // Ending one leaves the other running.
    drop(pa);
    drop(a);
    assert_eq!(add(&b, 1), 501);
}

#[test]
fn a_proc_outlives_the_thread_that_created_it() {
    let proc = std::thread::spawn(|| Proc::new(0).unwrap()).join().unwrap();
    // The creating thread is gone; the helper must not have gone with it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(proc.is_alive());
    let ctx = proc.open_context().unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    let mut a = Args::new();
    a.u64(3).u32(4);
    let v: u64 = ctx
        .call(&lib.function("core_mix").unwrap(), a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(v, mix(3, 4));
    // And a context opened on another thread serves this one.
    let ctx2 = std::thread::scope(|s| s.spawn(|| proc.open_context().unwrap()).join().unwrap());
    let mut a = Args::new();
    a.u64(5).u32(6);
    let v: u64 = ctx2
        .call(&lib.function("core_mix").unwrap(), a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(v, mix(5, 6));
}
