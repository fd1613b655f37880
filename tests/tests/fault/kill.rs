//! The helper killed with SIGKILL (docs/RELIABILITY.md, "A helper killed
//! with work queued fails every waiter") while 1000 requests are queued on
//! several contexts: every pending wait returns an error and none hangs (a
//! guard aborts the test process if one did).

use super::util::{self, guard};
use std::time::Duration;
use veo_runtime::{Args, Error, Proc};

const CONTEXTS: usize = 4;
const REQUESTS: usize = 1000;

#[test]
fn sigkill_with_1000_requests_queued() {
    let _g = guard("waits after SIGKILL", Duration::from_secs(120));
    let proc = Proc::new(0).unwrap();
    let pid = proc.pid();
    let lib = util::kernels(&proc);
    let wait_flag = lib.function("fault_wait_flag").unwrap();
    let mix = lib.function("fault_mix").unwrap();
    // The first request of every context blocks in a kernel until a flag in
    // VE memory is set (never), so all the others stay queued behind it.
    let flag = proc.alloc::<i64>(1).unwrap();
    proc.write(&flag, &[0]).unwrap();
    let contexts: Vec<_> = (0..CONTEXTS)
        .map(|_| proc.open_context().unwrap())
        .collect();

    let results: Vec<Vec<String>> = std::thread::scope(|s| {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let waiters: Vec<_> = contexts
            .iter()
            .enumerate()
            .map(|(c, ctx)| {
                let ready_tx = ready_tx.clone();
                let (wait_flag, mix, flag) = (&wait_flag, &mix, &flag);
                s.spawn(move || {
                    let mut args = Args::new();
                    args.ptr(flag.as_ptr());
                    let mut reqs = vec![ctx.call::<u64>(wait_flag, args).unwrap()];
                    for i in 1..REQUESTS / CONTEXTS {
                        let mut args = Args::new();
                        args.u64((c * REQUESTS + i) as u64);
                        reqs.push(ctx.call::<u64>(mix, args).unwrap());
                    }
                    ready_tx.send(()).unwrap();
                    // Wait in reverse order: the thread that drains results
                    // is never the one whose request is first in the queue.
                    reqs.into_iter()
                        .rev()
                        .map(|r| match r.wait() {
                            Ok(v) => panic!("a queued request completed with {v} after SIGKILL"),
                            Err(e) => e,
                        })
                        .map(|e| {
                            assert!(
                                matches!(&e, Error::HelperDied { pid: p, .. } if *p == pid),
                                "{e:?}"
                            );
                            e.to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for _ in 0..CONTEXTS {
            ready_rx.recv().unwrap();
        }
        // All 1000 requests are queued (the waiting threads may already be
        // asleep in `wait`); now kill the helper.
        // SAFETY: kill has no memory effects; the pid is our unreaped child.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
        waiters.into_iter().map(|t| t.join().unwrap()).collect()
    });

    let total: usize = results.iter().map(Vec::len).sum();
    assert_eq!(total, REQUESTS);
    for msg in results.iter().flatten() {
        assert!(msg.contains("SIGKILL"), "{msg}");
    }
    // Later calls fail at once, on every context.
    for ctx in &contexts {
        let e = ctx.call::<u64>(&mix, Args::new()).unwrap_err();
        assert!(matches!(e, Error::HelperDied { .. }), "{e:?}");
    }
}

#[test]
fn sigkill_while_threads_submit_and_wait() {
    // Threads keep submitting and waiting while the helper dies: every call
    // ends (Ok before the kill, an error after), none hangs, and after the
    // first error no call succeeds.
    let _g = guard("submitters after SIGKILL", Duration::from_secs(120));
    let proc = Proc::new(0).unwrap();
    let pid = proc.pid();
    let mix = util::kernel(&proc, "fault_mix");
    let contexts: Vec<_> = (0..CONTEXTS)
        .map(|_| proc.open_context().unwrap())
        .collect();
    std::thread::scope(|s| {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let ctx = &contexts[t % CONTEXTS];
                let mix = &mix;
                let started_tx = started_tx.clone();
                s.spawn(move || {
                    let mut failed = false;
                    for i in 0u64.. {
                        let mut args = Args::new();
                        args.u64(i);
                        let r = ctx.call::<u64>(mix, args).and_then(|r| r.wait());
                        if i == 10 {
                            started_tx.send(()).unwrap();
                        }
                        match r {
                            Ok(v) => {
                                assert!(!failed, "a call succeeded after one failed");
                                assert_eq!(v, util::mix(i));
                            }
                            Err(Error::HelperDied { .. }) => {
                                failed = true;
                                if i > 10 {
                                    return i;
                                }
                            }
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                    unreachable!()
                })
            })
            .collect();
        for _ in 0..8 {
            started_rx.recv().unwrap();
        }
        // SAFETY: as above.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
        for w in workers {
            assert!(w.join().unwrap() > 10);
        }
    });
    assert!(!proc.is_alive());
}
