//! One of AVEO's four latency tests against the floor, for comparing two
//! builds of the runtime (docs/PERFORMANCE.md, "How the changes were
//! measured").
//!
//! ```text
//! latency_ab TEST [TRIALS]    # TEST 1..4: median µs per call and per-trial ratio to the floor
//! latency_ab TEST --count N   # N calls and nothing else (for callgrind)
//! ```
//!
//! Each trial measures the floor (3000 round trips) right before 3000 calls
//! of the test, so that a change of the machine's state shows in both; run
//! two builds alternately, several times, and compare the medians.

use std::process::ExitCode;
use std::time::Instant;
use veo_examples::bench::baseline::Floor;
use veo_examples::bench::median;
use veo_runtime::{ve_kernel, Context, Proc, Request};

#[ve_kernel(library = "examples")]
extern "C" {
    /// Returns its argument: the cheapest possible kernel.
    fn noop(x: i64) -> i64;
}

type BoxError = Box<dyn std::error::Error>;

fn check(got: i64, want: u64) -> Result<(), BoxError> {
    if got != want as i64 {
        return Err(format!("noop({want}) returned {got}").into());
    }
    Ok(())
}

/// Runs test `test` with `n` calls; µs per call.
fn run(test: u32, ctx: &Context, proc: &Proc, n: u64) -> Result<f64, BoxError> {
    let t = Instant::now();
    match test {
        1 | 3 => {
            let mut reqs: Vec<Request<'_, i64>> = Vec::with_capacity(n as usize);
            for i in 0..n {
                reqs.push(noop(ctx, i as i64)?);
            }
            if test == 1 {
                for (i, r) in reqs.drain(..).enumerate() {
                    check(r.wait()?, i as u64)?;
                }
            } else {
                let last = reqs.pop().ok_or("no calls")?;
                check(last.wait()?, n - 1)?;
            }
        }
        2 => {
            for i in 0..n {
                check(noop(ctx, i as i64)?.wait()?, i)?;
            }
        }
        4 => {
            for i in 0..n {
                check(noop_sync(proc, i as i64)?, i)?;
            }
        }
        _ => return Err(format!("no test {test}: 1, 2, 3 or 4").into()),
    }
    Ok(t.elapsed().as_secs_f64() * 1e6 / n as f64)
}

fn main() -> ExitCode {
    veo_examples::exit_code("latency_ab", real_main())
}

fn real_main() -> Result<bool, BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: latency_ab TEST [TRIALS] | latency_ab TEST --count N";
    let test: u32 = args.first().ok_or(usage)?.parse()?;
    if args.get(1).map(String::as_str) == Some("--count") {
        let n: u64 = args.get(2).ok_or(usage)?.parse()?;
        let proc = Proc::new(0)?;
        let ctx = proc.open_context()?;
        run(test, &ctx, &proc, n)?;
        return Ok(true);
    }
    let trials: usize = args.get(1).map_or(Ok(40), |s| s.parse())?;
    // Forked while this process has one thread.
    let mut floor = Floor::start();
    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    run(test, &ctx, &proc, 20000)?;
    let (mut floors, mut times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..trials {
        let f = floor.rtt_us(3000);
        // Both sides awake and spinning before the timed calls.
        run(test, &ctx, &proc, 200)?;
        let t = run(test, &ctx, &proc, 3000)?;
        floors.push(f);
        times.push(t);
        ratios.push(t / f);
    }
    println!(
        "test {test}: floor {:.3} µs, {:.3} µs per call, {:.2} x floor (medians of {trials} trials)",
        median(&floors),
        median(&times),
        median(&ratios)
    );
    Ok(true)
}
