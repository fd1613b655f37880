//! Several contexts fed from async tasks: each task streams chunks through
//! its own context (write x and y, `y = a * x + y` on the VE, read y back)
//! and awaits each step, so one task's transfers overlap the others'
//! kernels, on one thread (`futures::executor`; any executor works).
//! Checks every element against the host.
//!
//! `--idle` measures instead the CPU that the VH program and the helper use
//! while futures wait for kernels that sleep (from `/proc/PID/stat`).

use futures::future::join_all;
use std::future::IntoFuture;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use veo_runtime::{ve_kernel, Context, Proc, VePtr};

#[ve_kernel(library = "examples")]
extern "C" {
    /// `y[i] = a * x[i] + y[i]` for `n` doubles in VE memory.
    fn pipeline_axpy(y: VePtr<f64>, x: VePtr<f64>, n: i64, a: f64);
    /// Sleeps `ms` milliseconds on the VE.
    fn pipeline_sleep_ms(ms: i64) -> i64;
}

const LANES: usize = 4;
const CHUNKS: usize = 16;
const CHUNK: usize = 64 << 10;
const A: f64 = 2.5;

fn x_of(lane: usize, chunk: usize, i: usize) -> f64 {
    (lane * 1_000_003 + chunk * 10_007 + i) as f64 * 0.5
}

fn y_of(lane: usize, chunk: usize, i: usize) -> f64 {
    (lane + chunk) as f64 - i as f64 * 0.25
}

/// One task: streams `CHUNKS` chunks through `ctx`; returns the wrong
/// elements it read back.
async fn lane(proc: &Proc, ctx: &Context, lane: usize) -> veo_runtime::Result<usize> {
    let x = proc.alloc::<f64>(CHUNK)?;
    let y = proc.alloc::<f64>(CHUNK)?;
    let mut wrong = 0;
    let mut out = vec![0.0; CHUNK];
    for chunk in 0..CHUNKS {
        let xs: Vec<f64> = (0..CHUNK).map(|i| x_of(lane, chunk, i)).collect();
        let ys: Vec<f64> = (0..CHUNK).map(|i| y_of(lane, chunk, i)).collect();
        // Queued at once, in order on this context; awaited in turn, which
        // lets the other tasks queue theirs meanwhile.
        let wx = ctx.write_async(&x, &xs)?;
        let wy = ctx.write_async(&y, &ys)?;
        let call = pipeline_axpy(ctx, y.as_ptr(), x.as_ptr(), CHUNK as i64, A)?;
        let read = ctx.read_async(&mut out, &y)?;
        wx.await?;
        wy.await?;
        call.await?;
        read.await?;
        wrong += (0..CHUNK).filter(|&i| out[i] != A * xs[i] + ys[i]).count();
    }
    Ok(wrong)
}

/// User plus system CPU time of process `pid` so far (`/proc/PID/stat`).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (in parentheses, may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / hz)
}

fn idle(proc: &Proc, ctxs: &[Context]) -> veo_runtime::Result<bool> {
    let ms = 3000;
    let helper = proc.pid();
    let me = std::process::id();
    let meter = std::thread::spawn(move || {
        // Measure while every future is pending (after they are queued).
        std::thread::sleep(Duration::from_millis(500));
        let (vh0, ve0, t0) = (cpu_time(me), cpu_time(helper), Instant::now());
        std::thread::sleep(Duration::from_millis(2000));
        let (vh1, ve1, t1) = (cpu_time(me), cpu_time(helper), Instant::now());
        let span = (t1 - t0).as_secs_f64();
        (
            (vh1 - vh0).as_secs_f64() / span * 100.0,
            (ve1 - ve0).as_secs_f64() / span * 100.0,
        )
    });
    let reqs = ctxs
        .iter()
        .map(|ctx| pipeline_sleep_ms(ctx, ms).map(IntoFuture::into_future))
        .collect::<veo_runtime::Result<Vec<_>>>()?;
    let slept = futures::executor::block_on(join_all(reqs));
    let (vh, ve) = meter.join().expect("the meter thread");
    println!(
        "{} futures waiting {ms} ms for sleeping kernels: VH program {vh:.2} % CPU, helper {ve:.2} % CPU",
        ctxs.len()
    );
    Ok(slept.into_iter().all(|r| r.is_ok_and(|v| v == ms)))
}

fn main() -> ExitCode {
    veo_examples::exit_code("async_pipeline", run())
}

fn run() -> veo_runtime::Result<bool> {
    let proc = Proc::new(0)?;
    let ctxs = (0..LANES)
        .map(|_| proc.open_context())
        .collect::<veo_runtime::Result<Vec<_>>>()?;
    if std::env::args().any(|a| a == "--idle") {
        return idle(&proc, &ctxs);
    }
    let start = Instant::now();
    let lanes = ctxs.iter().enumerate().map(|(i, ctx)| lane(&proc, ctx, i));
    let results = futures::executor::block_on(join_all(lanes));
    let took = start.elapsed();
    let mut wrong = 0;
    for r in results {
        wrong += r?;
    }
    let mib = (LANES * CHUNKS * CHUNK * 8 * 3) as f64 / (1 << 20) as f64;
    println!(
        "{LANES} contexts x {CHUNKS} chunks of {CHUNK} doubles (write x, write y, axpy, read y): \
         {mib:.0} MiB moved in {:.1} ms, {wrong} wrong elements",
        took.as_secs_f64() * 1e3
    );
    Ok(wrong == 0)
}
