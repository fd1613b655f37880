//! AVEO's four call-latency tests, on the cheapest kernel there is: what
//! `latency` tabulates and `latency_ab` compares between builds.

use std::time::Instant;
use veo_runtime::{ve_kernel, Context, Proc, Request};

#[ve_kernel(library = "examples")]
extern "C" {
    /// Returns its argument: the cheapest possible kernel.
    fn noop(x: i64) -> i64;
}

/// The benchmarks' error type.
pub type BoxError = Box<dyn std::error::Error>;

fn check(got: i64, want: u64) -> Result<(), BoxError> {
    if got != want as i64 {
        return Err(format!("noop({want}) returned {got}").into());
    }
    Ok(())
}

/// Seconds per call of `rounds` runs of `round`, which makes `n` calls.
fn timed(
    n: u64,
    rounds: u64,
    mut round: impl FnMut() -> Result<(), BoxError>,
) -> Result<f64, BoxError> {
    let t = Instant::now();
    for _ in 0..rounds {
        round()?;
    }
    Ok(t.elapsed().as_secs_f64() / (n * rounds) as f64)
}

/// Queues `noop(0)` .. `noop(n - 1)` into `reqs`.
fn submit<'a>(ctx: &'a Context, n: u64, reqs: &mut Vec<Request<'a, i64>>) -> Result<(), BoxError> {
    for i in 0..n {
        reqs.push(noop(ctx, i as i64)?);
    }
    Ok(())
}

/// Test 1: submit N calls, then wait for the N results. Seconds per call.
pub fn test1(ctx: &Context, n: u64, rounds: u64) -> Result<f64, BoxError> {
    let mut reqs = Vec::with_capacity(n as usize);
    timed(n, rounds, || {
        submit(ctx, n, &mut reqs)?;
        for (i, r) in reqs.drain(..).enumerate() {
            check(r.wait()?, i as u64)?;
        }
        Ok(())
    })
}

/// Test 2: submit one call and wait for it, N times.
pub fn test2(ctx: &Context, n: u64, rounds: u64) -> Result<f64, BoxError> {
    timed(n, rounds, || {
        for i in 0..n {
            check(noop(ctx, i as i64)?.wait()?, i)?;
        }
        Ok(())
    })
}

/// Test 3: submit N calls and wait only for the last; the other requests
/// are dropped (their results discarded) inside the timed region.
pub fn test3(ctx: &Context, n: u64, rounds: u64) -> Result<f64, BoxError> {
    let mut reqs = Vec::with_capacity(n as usize);
    timed(n, rounds, || {
        submit(ctx, n, &mut reqs)?;
        let last = reqs.pop().ok_or("no calls")?;
        check(last.wait()?, n - 1)?;
        reqs.clear();
        Ok(())
    })
}

/// Test 4: N synchronous calls.
pub fn test4(proc: &Proc, n: u64, rounds: u64) -> Result<f64, BoxError> {
    timed(n, rounds, || {
        for i in 0..n {
            check(noop_sync(proc, i as i64)?, i)?;
        }
        Ok(())
    })
}

/// Test `test` (1 to 4) with `n` calls, once: µs per call.
pub fn run(test: u32, ctx: &Context, proc: &Proc, n: u64) -> Result<f64, BoxError> {
    let seconds = match test {
        1 => test1(ctx, n, 1)?,
        2 => test2(ctx, n, 1)?,
        3 => test3(ctx, n, 1)?,
        4 => test4(proc, n, 1)?,
        _ => return Err(format!("no test {test}: 1, 2, 3 or 4").into()),
    };
    Ok(seconds * 1e6)
}
