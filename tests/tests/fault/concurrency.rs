//! Concurrency (docs/RELIABILITY.md, "Concurrency: every call gets exactly
//! its own result"). 8 VH threads × 10,000 calls sharing one
//! context; the same spread over 4 contexts, and over 2 procs. The kernel
//! returns a bijective function of its argument and counts its runs: every
//! call gets exactly its own result (none swapped), and the kernel ran
//! exactly once per call (none lost, none duplicated).

use super::util::{self, guard, mix};
use std::time::Duration;
use veo_runtime::{Args, Context, Function, Proc, Request};

const THREADS: u64 = 8;
const CALLS: u64 = 10_000;

/// One thread's work: `CALLS` calls of `fault_mix` with arguments unique to
/// the thread, in windows of several requests waited for in an order that
/// depends on the thread (in order, reversed, interleaved), so that results
/// arrive for requests whose waiter is another thread.
fn hammer(t: u64, ctx: &Context, f: &Function) {
    let window = [1usize, 7, 64, 33][t as usize % 4];
    let mut i = 0;
    while i < CALLS {
        let n = (window as u64).min(CALLS - i);
        let mut reqs: Vec<(u64, Request<'_, u64>)> = (i..i + n)
            .map(|k| {
                let arg = t << 32 | k;
                let mut args = Args::new();
                args.u64(arg);
                (arg, ctx.call::<u64>(f, args).unwrap())
            })
            .collect();
        match t % 3 {
            0 => {}
            1 => reqs.reverse(),
            _ => {
                let (even, odd): (Vec<_>, Vec<_>) =
                    reqs.into_iter().enumerate().partition(|(j, _)| j % 2 == 0);
                reqs = odd.into_iter().chain(even).map(|(_, r)| r).collect();
            }
        }
        for (arg, req) in reqs {
            let got = req.wait().unwrap();
            assert_eq!(
                got,
                mix(arg),
                "thread {t}: call with {arg:#x} got another's result"
            );
        }
        i += n;
    }
}

fn count(proc: &Proc) -> u64 {
    let f = util::kernel(proc, "fault_mix_count");
    proc.call_sync::<u64>(&f, Args::new()).unwrap()
}

#[test]
fn eight_threads_share_one_context() {
    let _g = guard("8 threads, 1 context", Duration::from_secs(300));
    let proc = Proc::new(0).unwrap();
    let f = util::kernel(&proc, "fault_mix");
    let ctx = proc.open_context().unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (ctx, f) = (&ctx, &f);
            s.spawn(move || hammer(t, ctx, f));
        }
    });
    assert_eq!(count(&proc), THREADS * CALLS);
}

#[test]
fn eight_threads_over_four_contexts() {
    let _g = guard("8 threads, 4 contexts", Duration::from_secs(300));
    let proc = Proc::new(0).unwrap();
    let f = util::kernel(&proc, "fault_mix");
    let contexts: Vec<Context> = (0..4).map(|_| proc.open_context().unwrap()).collect();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (ctx, f) = (&contexts[t as usize % 4], &f);
            s.spawn(move || hammer(t, ctx, f));
        }
    });
    assert_eq!(count(&proc), THREADS * CALLS);
}

#[test]
fn eight_threads_over_two_procs() {
    let _g = guard("8 threads, 2 procs", Duration::from_secs(300));
    let procs = [Proc::new(0).unwrap(), Proc::new(0).unwrap()];
    let fs: Vec<Function> = procs.iter().map(|p| util::kernel(p, "fault_mix")).collect();
    let contexts: Vec<Context> = procs.iter().map(|p| p.open_context().unwrap()).collect();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (ctx, f) = (&contexts[t as usize % 2], &fs[t as usize % 2]);
            s.spawn(move || hammer(t, ctx, f));
        }
    });
    for p in &procs {
        assert_eq!(count(p), THREADS * CALLS / 2);
    }
}

#[test]
fn threads_mix_calls_transfers_and_sync_calls_on_one_context() {
    // Calls, writes, reads and context syncs from several threads at once on
    // one context, plus synchronous calls on the proc's own queue: every
    // read sees the value its own thread wrote before it (same queue order).
    let _g = guard("mixed traffic", Duration::from_secs(300));
    let proc = Proc::new(0).unwrap();
    let f = util::kernel(&proc, "fault_mix");
    let ctx = proc.open_context().unwrap();
    let bufs: Vec<_> = (0..4).map(|_| proc.alloc::<u64>(512).unwrap()).collect();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (ctx, f, buf, proc) = (&ctx, &f, &bufs[t as usize], &proc);
            s.spawn(move || {
                for k in 0..500u64 {
                    let data: Vec<u64> = (0..512).map(|j| t << 48 | k << 16 | j).collect();
                    let w = ctx.write_async(buf, &data).unwrap();
                    let mut back = vec![0u64; 512];
                    let r = ctx.read_async(&mut back, buf).unwrap();
                    let mut args = Args::new();
                    args.u64(k);
                    let c = ctx.call::<u64>(f, args).unwrap();
                    w.wait().unwrap();
                    r.wait().unwrap();
                    assert_eq!(back, data);
                    assert_eq!(c.wait().unwrap(), mix(k));
                    if k % 50 == 0 {
                        ctx.sync().unwrap();
                        let mut args = Args::new();
                        args.u64(k + 1);
                        assert_eq!(proc.call_sync::<u64>(f, args).unwrap(), mix(k + 1));
                    }
                }
            });
        }
    });
}
