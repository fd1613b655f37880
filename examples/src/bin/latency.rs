//! Call latency of veo-rs: AVEO's four tests, the 1-byte transfer latency,
//! the helper's idle CPU and the proc start time, with a raw shared-memory
//! ping-pong (the floor) and a Unix-socket RPC calling the same kernel
//! measured in the same run.
//!
//! ```text
//! cargo run --release -p veo-examples --bin latency -- [--quick] [--json] [--plot latency.svg]
//! cargo run --release -p veo-examples --bin latency -- --profile [trace.json]
//! ```
//!
//! `--profile` runs the four tests once with N = 1000 on a traced proc and
//! prints `Proc::profile()` instead (and writes the Chrome trace to the
//! file given, if any).
//!
//! - Test 1: submit N calls, then wait for N results;
//! - Test 2: submit one call and wait for its result, N times;
//! - Test 3: submit N calls and wait only for the last result;
//! - Test 4: N synchronous calls.
//!
//! Every figure is the median over several runs; each run of a small N
//! repeats the test until at least a few thousand calls were made.
//!
//! The four tests are also made from a C program through libveo.so
//! (`examples/c/latency_capi.c`, compiled at run time with `cc`), once per
//! run beside the Rust stubs, and reported as the ratio C / Rust. And once
//! more by the same Rust stubs on a proc of veo-runtime's AVEO backend
//! driving that libveo.so (`veo_runtime::aveo`, the backend of a VE card),
//! reported as AVEO / Rust.
//!
//! `--mixed` adds per-call percentiles (p50, p99) of two mixed loads: one
//! thread alternating 50 calls on a context with 50 synchronous calls, and
//! 8 threads each calling on a context of its own.

use veo_examples::{bench, progress};

use bench::baseline::{Floor, UdsServer};
use bench::calls::{mixed_alternating, mixed_threads, test1, test2, test3, test4, BoxError};
use bench::capi::{find_libveo, CDriver};
use bench::{json_num, json_object, median, percentile, Cli, Machine};
use serde_json::{json, Map, Value};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use veo_runtime::{BackendChoice, Context, Proc};

/// Untimed calls before each timed test.
const WARM: u64 = 200;

/// The rows of AVEO's table.
const ROWS: [u64; 11] = [1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000];

struct Settings {
    /// Runs of every measurement; the median is reported.
    reps: usize,
    /// A run of a small N repeats the test until this many calls were made.
    min_calls: u64,
    rows: Vec<u64>,
    /// Transfers per run of the 1-byte latency (AVEO: 30000).
    one_byte: u64,
    /// Proc starts to take the median of.
    starts: usize,
    /// Idle time after a burst for the helper's CPU use.
    idle: Duration,
    /// Rounds of 50 + 50 calls of the alternating load, and calls per
    /// thread of the 8-thread load (`--mixed`); none without it.
    mixed: Option<(u64, u64)>,
}

/// Threads (and contexts) of the 8-thread load.
const MIXED_THREADS: usize = 8;
/// Calls on the context, then synchronous calls, per round.
const MIXED_BURST: u64 = 50;

impl Settings {
    fn new(cli: &Cli) -> Settings {
        let quick = cli.quick;
        let mixed = cli
            .flag("--mixed")
            .then_some(if quick { (100, 2000) } else { (200, 5000) });
        if quick {
            Settings {
                reps: 3,
                min_calls: 2000,
                rows: ROWS.to_vec(),
                one_byte: 10000,
                starts: 5,
                idle: Duration::from_secs(2),
                mixed,
            }
        } else {
            Settings {
                reps: 7,
                min_calls: 20000,
                rows: ROWS.to_vec(),
                one_byte: 30000,
                starts: 11,
                idle: Duration::from_secs(2),
                mixed,
            }
        }
    }
}

struct Results {
    /// Per test, per row: µs per call.
    tests: [Vec<f64>; 4],
    rows: Vec<u64>,
    write_1b_us: f64,
    read_1b_us: f64,
    floor_rtt_us: f64,
    uds_call_us: f64,
    idle_helper_cpu_pct: f64,
    idle_helper_cpu_pct_stat: f64,
    proc_start_ms: f64,
    reps: usize,
    mixed: Option<Mixed>,
    /// Per test, per row: µs per call from C through libveo.so; `None`
    /// when no libveo.so was found beside this program.
    capi: Option<[Vec<f64>; 4]>,
    /// Per test, per row: µs per call of the Rust stubs on the AVEO
    /// backend over the same libveo.so; `None` without one.
    aveo: Option<[Vec<f64>; 4]>,
    machine: Machine,
}

/// Per-call (p50, p99) in µs of the mixed loads.
#[derive(Clone, Copy, Debug)]
struct Mixed {
    /// One thread: its calls on the context...
    alternating_context: (f64, f64),
    /// ...and its synchronous calls.
    alternating_sync: (f64, f64),
    /// Every call of the 8 threads on 8 contexts.
    threads: (f64, f64),
}

fn p50_p99(v: &[f64]) -> (f64, f64) {
    (percentile(v, 50.0), percentile(v, 99.0))
}

/// Per test, empty sample lists for every row.
fn no_samples(rows: usize) -> [Vec<Vec<f64>>; 4] {
    std::array::from_fn(|_| vec![Vec::new(); rows])
}

/// Warms up a proc: symbol lookup, first-touch of rings, caches, CPU
/// frequency.
fn warm_up(ctx: &Context, proc: &Proc) -> Result<(), BoxError> {
    test2(ctx, 20000, 1)?;
    test1(ctx, 20000, 1)?;
    test4(proc, 20000, 1)?;
    Ok(())
}

/// The four tests at `n` calls, each in its steady state: a few untimed
/// calls first, so that both sides are awake and spinning (after the
/// floor's run or another test, a worker may have gone to sleep). µs per
/// call, `rounds` rounds.
fn four_tests(ctx: &Context, proc: &Proc, n: u64, rounds: u64) -> Result<[f64; 4], BoxError> {
    test2(ctx, WARM, 1)?;
    let t1 = test1(ctx, n, rounds)? * 1e6;
    test2(ctx, WARM, 1)?;
    let t2 = test2(ctx, n, rounds)? * 1e6;
    test2(ctx, WARM, 1)?;
    let t3 = test3(ctx, n, rounds)? * 1e6;
    test4(proc, WARM, 1)?;
    let t4 = test4(proc, n, rounds)? * 1e6;
    Ok([t1, t2, t3, t4])
}

fn measure(s: &Settings, floor: &mut Floor, uds: &mut UdsServer) -> Result<Results, BoxError> {
    let driver = match find_libveo() {
        Some(lib) => Some(CDriver::build(&lib)?),
        None => {
            eprintln!(
                "latency: no libveo.so beside this program (cargo build -p veo-capi): \
                 the C and AVEO backend figures are not measured"
            );
            None
        }
    };
    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    warm_up(&ctx, &proc)?;
    // The mixed loads first, in the conditions they were measured in before
    // the C and AVEO columns: measured after those phases, in the same
    // process, the alternating load's p99 rose to 220-250 µs in most runs
    // (docs/PERFORMANCE.md, "What remains").
    let mixed = match s.mixed {
        Some((rounds, per_thread)) => {
            progress!("mixed: one thread alternating context and synchronous calls");
            mixed_alternating(&ctx, &proc, MIXED_BURST, 5)?;
            let (on_ctx, sync) = mixed_alternating(&ctx, &proc, MIXED_BURST, rounds)?;
            progress!("mixed: {MIXED_THREADS} threads on {MIXED_THREADS} contexts");
            let threads = mixed_threads(&proc, MIXED_THREADS, per_thread)?;
            Some(Mixed {
                alternating_context: p50_p99(&on_ctx),
                alternating_sync: p50_p99(&sync),
                threads: p50_p99(&threads),
            })
        }
        None => None,
    };
    // The Rust stubs again, on veo-runtime's AVEO backend driving the
    // libveo.so of the C driver (whose VE is the emulated one).
    let aveo = match &driver {
        Some(d) => {
            let p = Proc::builder()
                .backend(BackendChoice::Aveo)
                .libveo(d.libveo())
                .build()
                .map_err(|e| {
                    format!(
                        "a proc on the AVEO backend over {}: {e}",
                        d.libveo().display()
                    )
                })?;
            let c = p.open_context()?;
            warm_up(&c, &p)?;
            Some((p, c))
        }
        None => None,
    };

    let rows = s.rows.clone();
    let mut samples = no_samples(rows.len());
    let mut capi_samples = no_samples(rows.len());
    let mut aveo_samples = no_samples(rows.len());
    let (mut floor_s, mut uds_s) = (Vec::new(), Vec::new());
    for rep in 0..s.reps {
        for (ri, &n) in rows.iter().enumerate() {
            progress!("run {}/{}: N = {n}", rep + 1, s.reps);
            // The floor right beside every row: on a shared (virtual)
            // machine the cost of a cache-line transfer between the two
            // cores changes with where the host runs them.
            floor_s.push(floor.rtt_us(5000));
            let rounds = s.min_calls.div_ceil(n).max(1);
            for (t, us) in four_tests(&ctx, &proc, n, rounds)?.into_iter().enumerate() {
                samples[t][ri].push(us);
            }
            // The AVEO backend right after, at the same N.
            if let Some((p, c)) = &aveo {
                for (t, us) in four_tests(c, p, n, rounds)?.into_iter().enumerate() {
                    aveo_samples[t][ri].push(us);
                }
            }
        }
        if let Some(d) = &driver {
            progress!("run {}/{}: C through libveo.so", rep + 1, s.reps);
            for c in d.run(env!("VEO_LIB_examples"), s.min_calls, WARM, &rows)? {
                let ri = row_index_of(&rows, c.n).ok_or("the C driver measured another N")?;
                capi_samples[c.test as usize - 1][ri].push(c.us);
            }
        }
        progress!("run {}/{}: Unix-socket baseline", rep + 1, s.reps);
        uds_s.push(uds.call_us(10000)?);
    }
    let medians =
        |s: [Vec<Vec<f64>>; 4]| s.map(|t| t.iter().map(|v| median(v)).collect::<Vec<_>>());
    let tests = medians(samples);
    let capi = driver.is_some().then(|| medians(capi_samples));
    let aveo = aveo.map(|(p, c)| {
        drop(c);
        drop(p);
        medians(aveo_samples)
    });
    drop(driver);

    // 1-byte transfers, synchronous (VEO's veo_write_mem / veo_read_mem).
    let buf = proc.alloc::<u8>(1)?;
    let (mut w, mut r) = (Vec::new(), Vec::new());
    let mut byte = [0u8; 1];
    for rep in 0..s.reps {
        progress!("run {}/{}: 1-byte transfers", rep + 1, s.reps);
        let n = s.one_byte;
        let t = Instant::now();
        for i in 0..n {
            proc.write(&buf, &[i as u8])?;
        }
        w.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        let t = Instant::now();
        for _ in 0..n {
            proc.read(&mut byte, &buf)?;
        }
        r.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
        if byte[0] != (n - 1) as u8 {
            return Err("a 1-byte read returned the wrong byte".into());
        }
    }
    drop(buf);

    // The helper's CPU over an idle stretch right after a burst of calls.
    progress!("idle helper CPU ({:?})", s.idle);
    test1(&ctx, 100000, 1)?;
    let pid = proc.pid();
    let (c0, t0) = (
        bench::schedstat_cpu_seconds(pid),
        bench::stat_cpu_seconds(pid),
    );
    let start = Instant::now();
    std::thread::sleep(s.idle);
    let (c1, t1) = (
        bench::schedstat_cpu_seconds(pid),
        bench::stat_cpu_seconds(pid),
    );
    let secs = start.elapsed().as_secs_f64();
    let pct = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (b - a) / secs * 100.0,
        _ => f64::NAN,
    };
    let stat_pct = pct(t0, t1);
    let sched_pct = pct(c0, c1);
    let idle_pct = if sched_pct.is_finite() {
        sched_pct
    } else {
        stat_pct
    };
    drop(ctx);
    drop(proc);

    // Proc start plus drop.
    drop(Proc::new(0)?);
    let mut starts = Vec::new();
    for i in 0..s.starts {
        progress!("proc start {}/{}", i + 1, s.starts);
        let t = Instant::now();
        drop(Proc::new(0)?);
        starts.push(t.elapsed().as_secs_f64() * 1e3);
    }
    progress!("");

    Ok(Results {
        tests,
        rows,
        write_1b_us: median(&w),
        read_1b_us: median(&r),
        floor_rtt_us: median(&floor_s),
        uds_call_us: median(&uds_s),
        idle_helper_cpu_pct: idle_pct,
        idle_helper_cpu_pct_stat: stat_pct,
        proc_start_ms: median(&starts),
        reps: s.reps,
        mixed,
        capi,
        aveo,
        machine: Machine::this(),
    })
}

fn row_index(r: &Results, n: u64) -> Option<usize> {
    row_index_of(&r.rows, n)
}

fn row_index_of(rows: &[u64], n: u64) -> Option<usize> {
    rows.iter().position(|&x| x == n)
}

/// Per test, the worst (largest) ratio of `figures` (C, or the AVEO
/// backend) to the Rust stubs over the rows with N >= 1000; `None`
/// without figures.
fn over_rust(r: &Results, figures: Option<&[Vec<f64>; 4]>) -> Option<[f64; 4]> {
    let figures = figures?;
    Some(std::array::from_fn(|t| {
        r.rows
            .iter()
            .zip(figures[t].iter().zip(&r.tests[t]))
            .filter(|(n, _)| **n >= 1000)
            .map(|(_, (c, rust))| c / rust)
            .fold(f64::NAN, f64::max)
    }))
}

/// The worst (largest) value of a test over the rows with N >= 1000.
fn worst_from_1000(r: &Results, test: usize) -> f64 {
    r.rows
        .iter()
        .zip(&r.tests[test])
        .filter(|(n, _)| **n >= 1000)
        .map(|(_, v)| *v)
        .fold(f64::NAN, f64::max)
}

fn print_tables(r: &Results) -> bool {
    println!(
        "veo-rs call latency, µs per call (median of {} runs; kernel: int64_t noop(int64_t))",
        r.reps
    );
    println!("{}", r.machine.line());
    println!();
    println!("Test 1: submit N calls, then wait for N results");
    println!("Test 2: submit one call and wait for its result, N times");
    println!("Test 3: submit N calls and wait only for last result");
    println!("Test 4: submit N synchronous calls");
    println!();
    println!("|----------|-----------------------------------------|");
    println!("|  #calls  |   Test 1    Test 2    Test 3    Test 4  |");
    for (i, n) in r.rows.iter().enumerate() {
        println!(
            "| {n:>7}  | {:>8.3}  {:>8.3}  {:>8.3}  {:>8.3}  |",
            r.tests[0][i], r.tests[1][i], r.tests[2][i], r.tests[3][i]
        );
    }
    println!("|----------|-----------------------------------------|");
    println!();
    println!("The memory transfer latency, 1 byte, synchronous:");
    println!();
    println!("|               | veo-rs   |");
    println!("| ------------- | -------- |");
    println!("| write_mem 1 B | {:>6.3}us |", r.write_1b_us);
    println!("| read_mem 1 B  | {:>6.3}us |", r.read_1b_us);
    println!();
    println!("Baselines, same run:");
    println!();
    for (name, v) in [
        ("floor: shared-memory ping-pong round trip", r.floor_rtt_us),
        ("Unix-socket call of the same kernel", r.uds_call_us),
    ] {
        println!("| {name:<42} | {v:>8.3} µs |");
    }
    println!();
    println!(
        "Idle helper: {:.3} % of a core over 2 s after a burst (utime+stime from /proc/<pid>/stat: {:.2} %)",
        r.idle_helper_cpu_pct, r.idle_helper_cpu_pct_stat
    );
    println!("Proc start + drop: {:.2} ms (median)", r.proc_start_ms);
    println!();
    for (figures, title, name) in [
        (
            &r.capi,
            "The same tests from C through libveo.so (examples/c/latency_capi.c), µs per call, and C / Rust:",
            "C/R",
        ),
        (
            &r.aveo,
            "The same Rust stubs on the AVEO backend over that libveo.so (veo_runtime::aveo), µs per call, and AVEO / Rust:",
            "AVEO/R",
        ),
    ] {
        let Some(f) = figures else { continue };
        println!("{title}");
        println!();
        println!("|----------|-----------------------------------------|--------------------------------------|");
        let label = |t: u32| format!("{name} {t}");
        println!(
            "|  #calls  |   Test 1    Test 2    Test 3    Test 4  | {:>8} {:>8} {:>8} {:>8}  |",
            label(1), label(2), label(3), label(4)
        );
        for (i, n) in r.rows.iter().enumerate() {
            let ratio = |t: usize| f[t][i] / r.tests[t][i];
            println!(
                "| {n:>7}  | {:>8.3}  {:>8.3}  {:>8.3}  {:>8.3}  | {:>8.3} {:>8.3} {:>8.3} {:>8.3}  |",
                f[0][i], f[1][i], f[2][i], f[3][i],
                ratio(0), ratio(1), ratio(2), ratio(3)
            );
        }
        println!("|----------|-----------------------------------------|--------------------------------------|");
        println!();
    }
    if let Some(m) = &r.mixed {
        println!("Mixed loads, µs per call:");
        println!();
        println!("| load                                                   |     p50 |     p99 |");
        println!("|--------------------------------------------------------|---------|---------|");
        for (name, (p50, p99)) in [
            (
                format!("one thread: {MIXED_BURST} context calls (each waited for)..."),
                m.alternating_context,
            ),
            (
                format!("...alternating with {MIXED_BURST} synchronous calls"),
                m.alternating_sync,
            ),
            (
                format!("{MIXED_THREADS} threads on {MIXED_THREADS} contexts, submit + wait"),
                m.threads,
            ),
        ] {
            println!("| {name:<54} | {p50:>7.3} | {p99:>7.3} |");
        }
        println!();
    }

    let floor2 = 2.0 * r.floor_rtt_us;
    let test2_10k = row_index(r, 10000).map_or(f64::NAN, |i| r.tests[1][i]);
    let targets: Vec<(String, f64, String, bool)> = vec![
        (
            "Test 1, N >= 1000 (worst row), µs".into(),
            worst_from_1000(r, 0),
            "<= 0.30".into(),
            worst_from_1000(r, 0) <= 0.30,
        ),
        (
            "Test 3, N >= 1000 (worst row), µs".into(),
            worst_from_1000(r, 2),
            "<= 0.30".into(),
            worst_from_1000(r, 2) <= 0.30,
        ),
        (
            "Test 2, N >= 1000 (worst row) / floor".into(),
            worst_from_1000(r, 1) / r.floor_rtt_us,
            "<= 2".into(),
            worst_from_1000(r, 1) <= floor2,
        ),
        (
            "Test 4, N >= 1000 (worst row) / floor".into(),
            worst_from_1000(r, 3) / r.floor_rtt_us,
            "<= 2".into(),
            worst_from_1000(r, 3) <= floor2,
        ),
        (
            "write 1 B / floor".into(),
            r.write_1b_us / r.floor_rtt_us,
            "<= 2".into(),
            r.write_1b_us <= floor2,
        ),
        (
            "read 1 B / floor".into(),
            r.read_1b_us / r.floor_rtt_us,
            "<= 2".into(),
            r.read_1b_us <= floor2,
        ),
        (
            "Unix-socket call / Test 2 at N = 10000".into(),
            r.uds_call_us / test2_10k,
            ">= 10".into(),
            r.uds_call_us / test2_10k >= 10.0,
        ),
        (
            "idle helper, % of a core".into(),
            r.idle_helper_cpu_pct,
            "<= 1".into(),
            r.idle_helper_cpu_pct <= 1.0,
        ),
        (
            "proc start + drop, ms".into(),
            r.proc_start_ms,
            "<= 10".into(),
            r.proc_start_ms <= 10.0,
        ),
    ];
    let mut targets = targets;
    for (figures, name) in [(&r.capi, "C"), (&r.aveo, "AVEO")] {
        let Some(ratios) = over_rust(r, figures.as_ref()) else {
            continue;
        };
        for (t, v) in ratios.into_iter().enumerate() {
            targets.push((
                format!("{name} / Rust, Test {}, N >= 1000 (worst row)", t + 1),
                v,
                "<= 1.1".into(),
                v <= 1.1,
            ));
        }
    }
    println!("Targets (ratios against the baselines of this run):");
    println!();
    println!("| target                                     |   measured | limit   | met |");
    println!("|--------------------------------------------|------------|---------|-----|");
    let mut all = true;
    for (name, v, limit, ok) in targets {
        all &= ok;
        println!(
            "| {name:<42} | {v:>10.3} | {limit:<7} | {} |",
            if ok { "yes" } else { " NO" }
        );
    }
    all
}

fn json(r: &Results) -> Value {
    let per_test = |figures: &[f64]| {
        json_object(
            r.rows
                .iter()
                .zip(figures)
                .map(|(n, v)| (n.to_string(), json_num(*v))),
        )
    };
    let mut fields: Map<String, Value> = [
        ("test1_us", per_test(&r.tests[0])),
        ("test2_us", per_test(&r.tests[1])),
        ("test3_us", per_test(&r.tests[2])),
        ("test4_us", per_test(&r.tests[3])),
        ("write_1b_us", json_num(r.write_1b_us)),
        ("read_1b_us", json_num(r.read_1b_us)),
        ("floor_rtt_us", json_num(r.floor_rtt_us)),
        ("uds_call_us", json_num(r.uds_call_us)),
        ("idle_helper_cpu_pct", json_num(r.idle_helper_cpu_pct)),
        ("proc_start_ms", json_num(r.proc_start_ms)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(m) = &r.mixed {
        let pair = |(p50, p99): (f64, f64)| json!({ "p50": json_num(p50), "p99": json_num(p99) });
        fields.insert(
            "mixed_us".into(),
            json!({
                "alternating_context": pair(m.alternating_context),
                "alternating_sync": pair(m.alternating_sync),
                "threads8": pair(m.threads),
            }),
        );
    }
    for (figures, key) in [(&r.capi, "capi"), (&r.aveo, "aveo")] {
        let (Some(f), Some(ratios)) = (figures, over_rust(r, figures.as_ref())) else {
            continue;
        };
        for (t, figures) in f.iter().enumerate() {
            fields.insert(format!("{key}_test{}_us", t + 1), per_test(figures));
        }
        let worst = ratios
            .iter()
            .enumerate()
            .map(|(t, v)| (format!("test{}", t + 1), json_num(*v)));
        fields.insert(
            format!("{key}_over_rust_worst_from_1000"),
            json_object(worst),
        );
    }
    fields.insert("machine".into(), r.machine.json());
    Value::Object(fields)
}

fn plot(r: &Results) -> String {
    use bench::svg::{tick_number, Chart, Series};
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
    let names = [
        "Test 1: submit N, wait N",
        "Test 2: submit+wait, N times",
        "Test 3: submit N, wait last",
        "Test 4: N synchronous calls",
    ];
    let mut series: Vec<Series> = (0..4)
        .map(|t| Series {
            name: names[t].into(),
            color: colors[t],
            dashed: false,
            points: r
                .rows
                .iter()
                .zip(&r.tests[t])
                .map(|(n, v)| (*n as f64, *v))
                .collect(),
        })
        .collect();
    let (lo, hi) = (
        *r.rows.first().unwrap_or(&1) as f64,
        *r.rows.last().unwrap_or(&1) as f64,
    );
    series.push(Series {
        name: format!("floor: shm ping-pong {:.2} µs", r.floor_rtt_us),
        color: "#555555",
        dashed: true,
        points: vec![(lo, r.floor_rtt_us), (hi, r.floor_rtt_us)],
    });
    // Two orders of magnitude above the rest: a legend entry, not a line,
    // so that the y axis can be linear and the four tests stay apart.
    series.push(Series {
        name: format!("Unix-socket call: {:.1} µs", r.uds_call_us),
        color: "#ff7f0e",
        dashed: true,
        points: Vec::new(),
    });
    series.push(Series {
        name: "target Test 2, 4: 2 × floor".into(),
        color: "#bbbbbb",
        dashed: true,
        points: vec![(lo, 2.0 * r.floor_rtt_us), (hi, 2.0 * r.floor_rtt_us)],
    });
    series.push(Series {
        name: "target Test 1, 3: 0.30 µs".into(),
        color: "#8fd18f",
        dashed: true,
        points: vec![(1000.0, 0.30), (hi, 0.30)],
    });
    Chart {
        title: "veo-rs call latency (emulated VE)".into(),
        subtitle: format!(
            "µs per call of int64_t noop(int64_t), median of {} runs; baselines from the same run; {}",
            r.reps, r.machine.cpu
        ),
        x_label: "N (calls)".into(),
        y_label: "µs per call".into(),
        x_tick: tick_number,
        x_tick_base: 10.0,
        linear_y: true,
        series,
    }
    .render()
}

/// `--profile [FILE]`: the four tests once on a traced proc; its profile.
fn profile(file: Option<String>) -> Result<(), BoxError> {
    let builder = match &file {
        Some(f) => Proc::builder().trace(f),
        None => Proc::builder().profile(),
    };
    let proc = builder.build()?;
    let ctx = proc.open_context()?;
    test1(&ctx, 1000, 1)?;
    test2(&ctx, 1000, 1)?;
    test3(&ctx, 1000, 1)?;
    test4(&proc, 1000, 1)?;
    println!(
        "{:<16} {:>8} {:>12} {:>10} {:>10} {:>14}",
        "kernel", "count", "VE total ms", "mean us", "max us", "queued mean us"
    );
    for p in proc.profile() {
        println!(
            "{:<16} {:>8} {:>12.3} {:>10.3} {:>10.3} {:>14.3}",
            p.name,
            p.count,
            p.total.as_secs_f64() * 1e3,
            p.mean.as_secs_f64() * 1e6,
            p.max.as_secs_f64() * 1e6,
            p.queued.as_secs_f64() * 1e6 / p.count.max(1) as f64
        );
    }
    if let Some(f) = file {
        println!("the trace is written to {f} when the proc ends");
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--profile") {
        return match profile(args.next()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("latency --profile: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse_with(
        "veo-rs latency: AVEO's four call tests and the 1-byte transfer latency, \
         against a shared-memory ping-pong and a Unix-socket RPC measured in the same run",
        &[(
            "--mixed",
            "also per-call p50/p99 of mixed loads (context and synchronous calls; 8 contexts)",
        )],
    );
    let settings = Settings::new(&cli);
    // The baseline children are forked while this process has one thread.
    let mut floor = Floor::start();
    let mut uds = UdsServer::start(env!("VEO_LIB_examples"), "noop");
    bench::finish(
        &cli,
        measure(&settings, &mut floor, &mut uds),
        print_tables,
        plot,
        json,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(mixed: Option<Mixed>) -> Results {
        Results {
            tests: [
                vec![0.25, 0.5],
                vec![0.4, 0.45],
                vec![0.2, 0.3],
                vec![0.41, f64::NAN],
            ],
            rows: vec![1, 1000],
            write_1b_us: 0.014,
            read_1b_us: 0.015,
            floor_rtt_us: 0.24,
            uds_call_us: 40.0,
            idle_helper_cpu_pct: 0.02,
            idle_helper_cpu_pct_stat: 0.0,
            proc_start_ms: 2.5,
            reps: 7,
            mixed,
            capi: None,
            aveo: None,
            machine: Machine {
                cpu: "AMD EPYC".into(),
                cpus: 2,
                kernel: "6.1".into(),
            },
        }
    }

    #[test]
    fn json_has_exactly_the_documented_keys_and_the_machine() {
        assert_eq!(
            json(&sample(None)).to_string(),
            concat!(
                r#"{"test1_us":{"1":0.25,"1000":0.5},"test2_us":{"1":0.4,"1000":0.45},"#,
                r#""test3_us":{"1":0.2,"1000":0.3},"test4_us":{"1":0.41,"1000":null},"#,
                r#""write_1b_us":0.014,"read_1b_us":0.015,"floor_rtt_us":0.24,"#,
                r#""uds_call_us":40,"idle_helper_cpu_pct":0.02,"proc_start_ms":2.5,"#,
                r#""machine":{"cpu":"AMD EPYC","cpus":2,"kernel":"6.1"}}"#
            )
        );
    }

    #[test]
    fn json_has_the_mixed_percentiles_when_measured() {
        let j = json(&sample(Some(Mixed {
            alternating_context: (0.5, 9.0),
            alternating_sync: (0.45, 12.5),
            threads: (3.0, 80.0),
        })))
        .to_string();
        assert!(j.contains(concat!(
            r#""mixed_us":{"alternating_context":{"p50":0.5,"p99":9},"#,
            r#""alternating_sync":{"p50":0.45,"p99":12.5},"threads8":{"p50":3,"p99":80}}"#
        )));
    }

    /// The C program's and the AVEO backend's figures, each under its own
    /// keys and only when measured.
    #[test]
    fn json_has_the_c_and_aveo_figures_and_their_ratios_when_measured() {
        let figures = || {
            Some([
                vec![0.5, 0.55],
                vec![0.44, 0.5],
                vec![0.2, 0.33],
                vec![0.41, 0.5],
            ])
        };
        for (key, other) in [("capi", "aveo"), ("aveo", "capi")] {
            let mut r = sample(None);
            if key == "capi" {
                r.capi = figures();
            } else {
                r.aveo = figures();
            }
            let j = json(&r).to_string();
            let want = [
                format!(r#""proc_start_ms":2.5,"{key}_test1_us":{{"1":0.5,"1000":0.55}},"#),
                format!(r#""{key}_test2_us":{{"1":0.44,"1000":0.5}},"{key}_test3_us":{{"1":0.2,"1000":0.33}},"#),
                format!(r#""{key}_test4_us":{{"1":0.41,"1000":0.5}},"#),
                format!(r#""{key}_over_rust_worst_from_1000":{{"test1":1.1,"test2":1.111111,"#),
                r#""test3":1.1,"test4":null},"machine""#.to_string(),
            ]
            .concat();
            assert!(j.contains(&want), "{j}");
            assert!(!j.contains(&format!("{other}_")), "{j}");
        }
    }

    #[test]
    fn the_chart_keeps_the_socket_call_out_of_the_y_range() {
        let svg = plot(&sample(None));
        assert!(svg.contains("Unix-socket call: 40.0 µs"));
        // Linear from 0 to the largest plotted value (0.5 µs, the 2 x floor
        // line 0.48): the socket's 40 µs would have made it 0..40.
        assert!(
            svg.contains(">0.5</text>") || svg.contains(">0.6</text>"),
            "{svg}"
        );
        assert!(!svg.contains(">40</text>"));
    }
}
