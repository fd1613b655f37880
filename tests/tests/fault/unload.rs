//! Unloading a library while calls into it run or are queued: the close
//! waits for them (they finish with their own results and the proc lives
//! on), and a call submitted after the unload fails without running.

use super::util::{assert_answers, guard};
use std::time::Duration;
use veo_runtime::{Args, Error, Proc};

#[test]
fn unload_under_running_and_queued_calls_waits_for_them() {
    let _g = guard("unload in flight", Duration::from_secs(120));
    let proc = Proc::new(0).unwrap();
    let lib = proc.load_library(veo_tests::RELOAD_KERNELS).unwrap();
    let wait = lib.function("core_reload_wait").unwrap();
    let only = lib.function("core_reload_only_here").unwrap();
    let bump = lib.function("core_reload_bump").unwrap();
    assert_eq!(proc.call_sync::<i64>(&bump, Args::new()).unwrap(), 1);
    let flag = proc.alloc::<i64>(1).unwrap();
    proc.write(&flag, &[0]).unwrap();

    let running = proc.open_context().unwrap();
    let queued = proc.open_context().unwrap();
    let mut a = Args::new();
    a.ptr(flag.as_ptr());
    let r1 = running.call::<i64>(&wait, a).unwrap();
    // Queued behind the running call on its context, and on another context
    // behind a second waiting call.
    let mut a = Args::new();
    a.i64(5);
    let r2 = running.call::<i64>(&only, a).unwrap();
    let mut a = Args::new();
    a.ptr(flag.as_ptr());
    let r3 = queued.call::<i64>(&wait, a).unwrap();
    let mut a = Args::new();
    a.i64(6);
    let r4 = queued.call::<i64>(&only, a).unwrap();

    lib.unload()
        .expect("an unload under pending calls is accepted");
    assert!(!lib.is_loaded());

    // After the unload, calls into the library fail and never run.
    let mut a = Args::new();
    a.i64(7);
    let Err(err) = running.call::<i64>(&only, a) else {
        panic!("a call after the unload was accepted");
    };
    assert!(matches!(err, Error::LibraryUnloaded { .. }), "{err}");
    assert!(err.to_string().contains("unloaded"), "{err}");
    let mut a = Args::new();
    a.i64(7);
    let err = proc.call_sync::<i64>(&only, a).unwrap_err();
    assert!(err.to_string().contains("unloaded"), "{err}");
    let err = lib.function("core_reload_only_here").unwrap_err();
    assert!(err.to_string().contains("unloaded"), "{err}");

    // Release the running calls: every pending call finishes normally.
    proc.write(&flag, &[41]).unwrap();
    assert_eq!(r1.wait().unwrap(), 42);
    assert_eq!(r2.wait().unwrap(), 5042);
    assert_eq!(r3.wait().unwrap(), 42);
    assert_eq!(r4.wait().unwrap(), 6042);
    assert!(proc.is_alive());
    assert_answers(&proc);

    // The close did happen once they were done: a reload is a fresh copy.
    let again = proc.load_library(veo_tests::RELOAD_KERNELS).unwrap();
    let bump = again.function("core_reload_bump").unwrap();
    assert_eq!(proc.call_sync::<i64>(&bump, Args::new()).unwrap(), 1);
    let loads = again.function("core_reload_loads").unwrap();
    assert_eq!(proc.call_sync::<i64>(&loads, Args::new()).unwrap(), 1);
}

#[test]
fn unload_with_nothing_pending_closes_at_once() {
    let _g = guard("unload idle", Duration::from_secs(120));
    let proc = Proc::new(0).unwrap();
    // A context left open and idle does not hold the close back.
    let ctx = proc.open_context().unwrap();
    let lib = proc.load_library(veo_tests::RELOAD_KERNELS).unwrap();
    let bump = lib.function("core_reload_bump").unwrap();
    assert_eq!(
        ctx.call::<i64>(&bump, Args::new()).unwrap().wait().unwrap(),
        1
    );
    assert_eq!(
        ctx.call::<i64>(&bump, Args::new()).unwrap().wait().unwrap(),
        2
    );
    lib.unload().unwrap();
    let again = proc.load_library(veo_tests::RELOAD_KERNELS).unwrap();
    let bump = again.function("core_reload_bump").unwrap();
    assert_eq!(
        ctx.call::<i64>(&bump, Args::new()).unwrap().wait().unwrap(),
        1
    );
}

#[test]
fn unloads_racing_with_calls_from_other_threads_never_crash() {
    let _g = guard("unload races", Duration::from_secs(300));
    let proc = Proc::new(0).unwrap();
    let contexts: Vec<_> = (0..3).map(|_| proc.open_context().unwrap()).collect();
    for round in 0..40 {
        let lib = proc.load_library(veo_tests::RELOAD_KERNELS).unwrap();
        let only = lib.function("core_reload_only_here").unwrap();
        let (ok, refused) = std::thread::scope(|s| {
            let workers: Vec<_> = contexts
                .iter()
                .enumerate()
                .map(|(i, ctx)| {
                    let only = only.clone();
                    let proc = &proc;
                    s.spawn(move || {
                        let (mut ok, mut refused) = (0u64, 0u64);
                        for n in 0..2000i64 {
                            let mut a = Args::new();
                            a.i64(n);
                            // Alternate queued and synchronous calls.
                            let r = if (n + i as i64) % 2 == 0 {
                                ctx.call::<i64>(&only, a).and_then(|r| r.wait())
                            } else {
                                proc.call_sync::<i64>(&only, a)
                            };
                            match r {
                                Ok(v) => {
                                    assert_eq!(v, n * 1000 + 42);
                                    ok += 1;
                                }
                                Err(e) => {
                                    assert!(e.to_string().contains("unloaded"), "{e}");
                                    refused += 1;
                                    break;
                                }
                            }
                        }
                        (ok, refused)
                    })
                })
                .collect();
            std::thread::yield_now();
            lib.unload().unwrap();
            workers
                .into_iter()
                .map(|w| w.join().unwrap())
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        });
        assert!(
            proc.is_alive(),
            "round {round}: {ok} calls, {refused} refused"
        );
    }
    assert_answers(&proc);
}
