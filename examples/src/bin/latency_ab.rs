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
use veo_examples::bench::baseline::Floor;
use veo_examples::bench::calls::{run, BoxError};
use veo_examples::bench::median;
use veo_runtime::Proc;

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
