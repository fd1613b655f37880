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

/// µs since `t`.
fn us_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6
}

/// One thread alternating `burst` calls on `ctx` (each submitted and
/// waited for) with `burst` synchronous calls, `rounds` times: the µs of
/// every context call and of every synchronous call. The case that a
/// costly way to fall asleep slows down (each side's wait then sleeps).
pub fn mixed_alternating(
    ctx: &Context,
    proc: &Proc,
    burst: u64,
    rounds: u64,
) -> Result<(Vec<f64>, Vec<f64>), BoxError> {
    let (mut on_ctx, mut sync) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        for i in 0..burst {
            let x = (r * burst + i) as i64;
            let t = Instant::now();
            let got = noop(ctx, x)?.wait()?;
            on_ctx.push(us_since(t));
            check(got, x as u64)?;
        }
        for i in 0..burst {
            let x = (r * burst + i) as i64;
            let t = Instant::now();
            let got = noop_sync(proc, x)?;
            sync.push(us_since(t));
            check(got, x as u64)?;
        }
    }
    Ok((on_ctx, sync))
}

/// `threads` threads, each on a context of its own, each making `n` calls
/// (submitted and waited for, one at a time): the µs of every call.
pub fn mixed_threads(proc: &Proc, threads: usize, n: u64) -> Result<Vec<f64>, BoxError> {
    let ctxs = (0..threads)
        .map(|_| proc.open_context())
        .collect::<Result<Vec<_>, _>>()?;
    let per_thread = std::thread::scope(|s| {
        let handles: Vec<_> = ctxs
            .iter()
            .map(|ctx| {
                s.spawn(move || -> Result<Vec<f64>, String> {
                    let mut v = Vec::with_capacity(n as usize);
                    for i in 0..n {
                        let t = Instant::now();
                        let got = noop(ctx, i as i64).and_then(|r| r.wait());
                        v.push(us_since(t));
                        check(got.map_err(|e| e.to_string())?, i).map_err(|e| e.to_string())?;
                    }
                    Ok(v)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect::<Result<Vec<_>, String>>()
    })?;
    Ok(per_thread.concat())
}
