//! Soak (docs/RELIABILITY.md, "Soak: no growth per call or per transfer"). 1,000,000 calls, then 10,000 transfers of 1 MiB
//! (half synchronous, half queued on a context; half writes, half reads).
//! The resident memory (VmRSS) of the VH and of the helper must grow by less
//! than 10 % between the end of the first tenth and the end of the last
//! tenth of each phase: nothing leaks per call or per transfer.
//!
//! Its own test program (one test, two phases in sequence), so that no
//! other test's allocations move the VH's RSS while it is sampled. The
//! figures are printed (run with `--nocapture`) and recorded in
//! docs/RELIABILITY.md.

#[path = "fault/util.rs"]
#[allow(dead_code)] // the soak uses a few of the fault suite's helpers
mod util;

use std::time::{Duration, Instant};
use util::guard;
use veo_runtime::{Args, Proc};

const CALLS: u64 = 1_000_000;
const TRANSFERS: u64 = 10_000;
const MIB: usize = 1 << 20;

/// `VmRSS` of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// RSS of (VH, helper) in KiB.
fn sample(proc: &Proc) -> (u64, u64) {
    (rss_kib(std::process::id()), rss_kib(proc.pid()))
}

fn check_growth(phase: &str, first: (u64, u64), last: (u64, u64)) {
    for (who, a, b) in [("VH", first.0, last.0), ("helper", first.1, last.1)] {
        let growth = (b as f64 - a as f64) / a as f64 * 100.0;
        eprintln!("{phase}: {who} RSS {a} KiB after the first tenth, {b} KiB after the last ({growth:+.1} %)");
        assert!(
            b * 10 < a * 11,
            "{phase}: {who} RSS grew from {a} KiB to {b} KiB (10 % allowed)"
        );
    }
}

#[test]
fn soak_calls_and_transfers() {
    let _g = guard("soak", Duration::from_secs(600));
    let proc = Proc::new(0).unwrap();
    let lib = util::kernels(&proc);
    let inc = lib.function("fault_inc").unwrap();
    let sum = lib.function("fault_sum_bytes").unwrap();

    // Phase 1: calls, submitted in windows of 100 on two contexts from two
    // threads, plus a synchronous call on the proc every 1000.
    let start = Instant::now();
    let contexts = [proc.open_context().unwrap(), proc.open_context().unwrap()];
    let mut samples = Vec::new();
    let tenth = CALLS / 10;
    for part in 0..10 {
        std::thread::scope(|s| {
            for (t, ctx) in contexts.iter().enumerate() {
                let (inc, proc) = (&inc, &proc);
                s.spawn(move || {
                    let base = part * tenth + t as u64 * tenth / 2;
                    let mut i = 0;
                    while i < tenth / 2 {
                        let reqs: Vec<_> = (i..i + 100)
                            .map(|k| {
                                let mut a = Args::new();
                                a.u64(base + k);
                                ctx.call::<u64>(inc, a).unwrap()
                            })
                            .collect();
                        for (k, r) in (i..).zip(reqs) {
                            assert_eq!(r.wait().unwrap(), base + k + 1);
                        }
                        i += 100;
                        if i % 1000 == 0 {
                            let mut a = Args::new();
                            a.u64(i);
                            assert_eq!(proc.call_sync::<u64>(inc, a).unwrap(), i + 1);
                        }
                    }
                });
            }
        });
        samples.push(sample(&proc));
    }
    eprintln!(
        "soak: {CALLS} calls (+{} sync) in {:?}",
        CALLS / 1000,
        start.elapsed()
    );
    check_growth("calls", samples[0], samples[9]);

    // Phase 2: transfers of 1 MiB, verified by reading back and by a kernel
    // checksum now and then.
    let start = Instant::now();
    let ve = proc.alloc::<u8>(MIB).unwrap();
    let ctx = &contexts[0];
    let mut src = vec![0u8; MIB];
    let mut dst = vec![0u8; MIB];
    // The helper's first touch of the buffer is not a leak: a kernel reads
    // it once before the first sample (asynchronous transfers on an idle
    // context are made by the VH alone: the helper need not touch the
    // buffer before the first checksum below).
    let mut a = Args::new();
    a.ptr(ve.as_ptr()).u64(MIB as u64);
    ctx.call::<u64>(&sum, a).unwrap().wait().unwrap();
    let mut samples = Vec::new();
    let tenth = TRANSFERS / 10;
    for n in 0..TRANSFERS {
        // Each pair is a write then a read of the same bytes.
        if n % 2 == 0 {
            src.iter_mut()
                .enumerate()
                .step_by(4096)
                .for_each(|(j, b)| *b = (n as usize + j / 4096) as u8);
            if n % 4 == 0 {
                proc.write(&ve, &src).unwrap();
            } else {
                ctx.write_async(&ve, &src).unwrap().wait().unwrap();
            }
        } else {
            if n % 4 == 1 {
                proc.read(&mut dst, &ve).unwrap();
            } else {
                ctx.read_async(&mut dst, &ve).unwrap().wait().unwrap();
            }
            assert!(
                dst == src,
                "transfer {n}: the bytes read differ from the bytes written"
            );
            if n % 1001 == 0 {
                let mut a = Args::new();
                a.ptr(ve.as_ptr()).u64(MIB as u64);
                let want = src
                    .iter()
                    .fold(0u64, |s, &x| s.wrapping_mul(31).wrapping_add(x as u64));
                assert_eq!(ctx.call::<u64>(&sum, a).unwrap().wait().unwrap(), want);
            }
        }
        if (n + 1) % tenth == 0 {
            samples.push(sample(&proc));
        }
    }
    eprintln!(
        "soak: {TRANSFERS} transfers of 1 MiB in {:?}",
        start.elapsed()
    );
    check_growth("transfers", samples[0], samples[9]);
}
