//! Transfer bandwidth of veo-rs between host memory and VE memory, from
//! 1 KiB to 256 MiB: synchronous and asynchronous writes and reads, against
//! `memcpy` of the same size measured in the same run.
//!
//! ```text
//! cargo run --release -p veo-examples --bin bandwidth -- [--quick] [--json] [--plot bandwidth.svg]
//! ```
//!
//! - write / read: `Proc::write` / `Proc::read` (VEO's `veo_write_mem` /
//!   `veo_read_mem`);
//! - async write / async read: `Context::write_async` / `read_async`, one
//!   request at a time, waited for (VEO's `veo_async_write_mem` / `..._read_mem`);
//! - memcpy: between two host buffers of the same size.
//!
//! Every buffer is touched before it is timed, so that no first-touch page
//! fault is measured on either side. Figures are medians over several runs.

use veo_examples::{bench, progress};

use bench::baseline::{Direction, MemcpyBufs, PageBuf};
use bench::{json_array, json_num, json_object, median, per_iteration, Cli, Machine};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::time::Duration;
use veo_runtime::Proc;

type BoxError = Box<dyn std::error::Error>;

/// Page offsets of the host buffer: aligned with VE memory, a heap `Vec`'s
/// usual 16 (the `rep movsb` trap of glibc's `memcpy` on AMD EPYC when
/// reading), a cache line, and 16 bytes before a page (the trap when
/// writing, for a copy the other way round).
const OFFSETS: [usize; 4] = [0, 16, 64, 4080];

/// The measured operations, in table order.
const OPS: [&str; 6] = [
    "write",
    "read",
    "async write",
    "async read",
    "memcpy write",
    "memcpy read",
];
const WRITE: usize = 0;
const READ: usize = 1;
const ASYNC_WRITE: usize = 2;
const ASYNC_READ: usize = 3;
const MEMCPY_WRITE: usize = 4;
const MEMCPY_READ: usize = 5;

struct Settings {
    sizes: Vec<usize>,
    reps: usize,
    min_time: Duration,
}

impl Settings {
    fn new(cli: &Cli) -> Settings {
        if cli.check {
            // Where the targets apply (64 KiB up), in few sizes: one command.
            return Settings {
                sizes: [16, 18, 20, 22, 24, 26].map(|p| 1usize << p).to_vec(),
                reps: 5,
                min_time: Duration::from_millis(15),
            };
        }
        let (step, reps, ms) = if cli.quick { (2, 3, 10) } else { (1, 5, 30) };
        Settings {
            // 1 KiB .. 256 MiB: powers of two, or of four for a quick run.
            sizes: (10..=28).step_by(step).map(|p| 1usize << p).collect(),
            reps,
            min_time: Duration::from_millis(ms),
        }
    }
}

struct Results {
    bytes: Vec<usize>,
    offsets: Vec<usize>,
    /// GB/s, medians: `gbs[op][offset][size]`.
    gbs: Vec<Vec<Vec<f64>>>,
    reps: usize,
    machine: Machine,
}

impl Results {
    /// The worst GB/s of `op` at size index `i` over the offsets.
    fn worst(&self, op: usize, i: usize) -> f64 {
        self.gbs[op].iter().map(|v| v[i]).fold(f64::NAN, f64::min)
    }

    /// The best GB/s of `op` at size index `i` over the offsets.
    fn best(&self, op: usize, i: usize) -> f64 {
        self.gbs[op].iter().map(|v| v[i]).fold(f64::NAN, f64::max)
    }

    /// The baseline of a transfer: `memcpy` in its direction between two
    /// page-aligned buffers, glibc's fast case at every size (the table of
    /// `memcpy` by offset shows it), as one measurement rather than the
    /// largest of several noisy ones (see docs/PERFORMANCE.md).
    fn baseline(&self, op: usize, i: usize) -> f64 {
        let dir = if matches!(op, WRITE | ASYNC_WRITE) {
            MEMCPY_WRITE
        } else {
            MEMCPY_READ
        };
        let aligned = self.offsets.iter().position(|&o| o == 0).unwrap_or(0);
        self.gbs[dir][aligned][i]
    }

    /// `worst(op) / baseline(op)` at size index `i`.
    fn ratio(&self, op: usize, i: usize) -> f64 {
        self.worst(op, i) / self.baseline(op, i)
    }

    /// The worst ratio of `op` over the sizes `>= from`.
    fn worst_ratio(&self, op: usize, from: usize) -> f64 {
        (0..self.bytes.len())
            .filter(|&i| self.bytes[i] >= from)
            .map(|i| self.ratio(op, i))
            .fold(f64::NAN, f64::min)
    }
}

fn measure(s: &Settings) -> Result<Results, BoxError> {
    let max = *s.sizes.iter().max().expect("sizes");
    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    let ve = proc.alloc::<u8>(max)?;
    let src = PageBuf::new(max, |i| (i * 7 + 3) as u8);
    let mut dst = PageBuf::new(max, |_| 0);
    let mut mc = MemcpyBufs::new(max);
    // Touch the VE buffer and check the round trip once, untimed.
    proc.write(&ve, src.at(0, max))?;
    proc.read(dst.at_mut(0, max), &ve)?;
    if dst.at(0, max) != src.at(0, max) {
        return Err("read back differs from what was written".into());
    }

    let (n, no) = (s.sizes.len(), OFFSETS.len());
    let mut samples = vec![vec![vec![Vec::new(); n]; no]; OPS.len()];
    for rep in 0..s.reps {
        for (i, &size) in s.sizes.iter().enumerate() {
            progress!("run {}/{}: {} bytes", rep + 1, s.reps, size);
            let gbs = |secs: f64| size as f64 / secs / 1e9;
            for (o, &off) in OFFSETS.iter().enumerate() {
                let src = src.at(off, size);
                let dst = dst.at_mut(off, size);
                let vp = ve.as_ptr();
                let mut put = |op: usize, v: f64| samples[op][o][i].push(v);
                let t =
                    per_iteration(s.min_time, |k| (0..k).try_for_each(|_| proc.write(vp, src)))?;
                put(WRITE, gbs(t));
                let t = per_iteration(s.min_time, |k| {
                    (0..k).try_for_each(|_| proc.read(&mut *dst, vp))
                })?;
                put(READ, gbs(t));
                let t = per_iteration(s.min_time, |k| {
                    (0..k).try_for_each(|_| ctx.write_async(vp, src)?.wait())
                })?;
                put(ASYNC_WRITE, gbs(t));
                dst.fill(0);
                let t = per_iteration(s.min_time, |k| {
                    (0..k).try_for_each(|_| ctx.read_async(&mut *dst, vp)?.wait())
                })?;
                put(ASYNC_READ, gbs(t));
                if dst != src {
                    return Err(format!(
                        "{size}-byte asynchronous read at offset {off} differs from the data"
                    )
                    .into());
                }
                put(
                    MEMCPY_WRITE,
                    mc.gbs(size, off, Direction::Write, s.min_time),
                );
                put(MEMCPY_READ, mc.gbs(size, off, Direction::Read, s.min_time));
            }
        }
    }
    progress!("");
    let gbs = samples
        .iter()
        .map(|by_off| {
            by_off
                .iter()
                .map(|by_size| by_size.iter().map(|v| median(v)).collect())
                .collect()
        })
        .collect();
    Ok(Results {
        bytes: s.sizes.clone(),
        offsets: OFFSETS.to_vec(),
        gbs,
        reps: s.reps,
        machine: Machine::this(),
    })
}

fn size_name(b: usize) -> String {
    bench::svg::tick_bytes(b as f64)
}

/// The targets: name, measured, limit.
fn targets(r: &Results) -> Vec<(String, f64, f64)> {
    let mut t = Vec::new();
    for (from, limit) in [(16usize << 20, 0.8), (64 << 10, 0.5)] {
        for op in [WRITE, READ, ASYNC_WRITE, ASYNC_READ] {
            if r.bytes.iter().any(|&b| b >= from) {
                t.push((
                    format!("{} >= {}, worst / memcpy", OPS[op], size_name(from)),
                    r.worst_ratio(op, from),
                    limit,
                ));
            }
        }
    }
    t
}

fn print_tables(r: &Results) -> bool {
    println!(
        "veo-rs transfer bandwidth, GB/s (median of {} runs), host <-> emulated VE memory",
        r.reps
    );
    println!("{}", r.machine.line());
    println!();
    println!(
        "Each transfer: the worst over host-buffer page offsets {:?}; memcpy: the best and",
        r.offsets
    );
    println!("the worst over the same offsets, both directions; ratios: worst transfer / memcpy");
    println!(
        "between page-aligned buffers (offset 0: glibc's fast case) in the transfer's direction."
    );
    println!();
    println!("|   size |  write |   read | async write | async read | memcpy best | memcpy worst | write/memcpy | read/memcpy | async w/memcpy | async r/memcpy |");
    println!("|-------:|-------:|-------:|------------:|-----------:|------------:|-------------:|-------------:|------------:|---------------:|---------------:|");
    for i in 0..r.bytes.len() {
        let mc_best = r.best(MEMCPY_WRITE, i).max(r.best(MEMCPY_READ, i));
        let mc_worst = r.worst(MEMCPY_WRITE, i).min(r.worst(MEMCPY_READ, i));
        println!(
            "| {:>6} | {:>6.2} | {:>6.2} | {:>11.2} | {:>10.2} | {:>11.2} | {:>12.2} | {:>12.2} | {:>11.2} | {:>14.2} | {:>14.2} |",
            size_name(r.bytes[i]),
            r.worst(WRITE, i),
            r.worst(READ, i),
            r.worst(ASYNC_WRITE, i),
            r.worst(ASYNC_READ, i),
            mc_best,
            mc_worst,
            r.ratio(WRITE, i),
            r.ratio(READ, i),
            r.ratio(ASYNC_WRITE, i),
            r.ratio(ASYNC_READ, i),
        );
    }
    println!();
    println!(
        "glibc memcpy by host-buffer page offset (write: host -> aligned, read: aligned -> host):"
    );
    println!();
    let head: Vec<String> = r
        .offsets
        .iter()
        .flat_map(|o| [format!("w +{o}"), format!("r +{o}")])
        .collect();
    println!(
        "|   size | {} |",
        head.iter()
            .map(|h| format!("{h:>7}"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|-------:|{}", "--------:|".repeat(head.len()));
    for i in 0..r.bytes.len() {
        let cells: Vec<String> = (0..r.offsets.len())
            .flat_map(|o| [r.gbs[MEMCPY_WRITE][o][i], r.gbs[MEMCPY_READ][o][i]])
            .map(|v| format!("{v:>7.2}"))
            .collect();
        println!("| {:>6} | {} |", size_name(r.bytes[i]), cells.join(" | "));
    }
    println!();
    println!("Targets (ratios against memcpy of this run):");
    println!();
    println!("| target                                  | measured | limit  | met |");
    println!("|-----------------------------------------|----------|--------|-----|");
    let mut all = true;
    for (name, v, limit) in targets(r) {
        let ok = v >= limit;
        all &= ok;
        println!(
            "| {name:<39} | {v:>8.2} | >= {limit:<3} | {} |",
            if ok { "yes" } else { " NO" }
        );
    }
    all
}

fn json(r: &Results) -> Value {
    let bytes: Vec<f64> = r.bytes.iter().map(|b| *b as f64).collect();
    let col = |f: &dyn Fn(usize) -> f64| json_array(&(0..r.bytes.len()).map(f).collect::<Vec<_>>());
    let by_offset = r.offsets.iter().enumerate().map(|(o, off)| {
        let per_op = OPS.iter().enumerate().map(|(op, name)| {
            (
                format!("{}_gbs", name.replace(' ', "_")),
                json_array(&r.gbs[op][o]),
            )
        });
        (off.to_string(), json_object(per_op))
    });
    let offsets: Vec<f64> = r.offsets.iter().map(|o| *o as f64).collect();
    json!({
        "machine": r.machine.json(),
        "bytes": json_array(&bytes),
        "offsets": json_array(&offsets),
        "write_gbs": col(&|i| r.worst(WRITE, i)),
        "read_gbs": col(&|i| r.worst(READ, i)),
        "async_write_gbs": col(&|i| r.worst(ASYNC_WRITE, i)),
        "async_read_gbs": col(&|i| r.worst(ASYNC_READ, i)),
        "memcpy_gbs": col(&|i| r.best(MEMCPY_WRITE, i).max(r.best(MEMCPY_READ, i))),
        "memcpy_worst_gbs": col(&|i| r.worst(MEMCPY_WRITE, i).min(r.worst(MEMCPY_READ, i))),
        "by_offset": json_object(by_offset),
        "targets": json_object(targets(r).into_iter().map(|(n, v, _)| (n, json_num(v)))),
    })
}

fn plot(r: &Results) -> String {
    use bench::svg::{tick_bytes, Chart, Series};
    let n = r.bytes.len();
    let col = |op: usize| (0..n).map(|i| r.worst(op, i)).collect::<Vec<_>>();
    let mc_best: Vec<f64> = (0..n)
        .map(|i| r.best(MEMCPY_WRITE, i).max(r.best(MEMCPY_READ, i)))
        .collect();
    let mc_worst: Vec<f64> = (0..n)
        .map(|i| r.worst(MEMCPY_WRITE, i).min(r.worst(MEMCPY_READ, i)))
        .collect();
    let line = |name: &str, color: &'static str, dashed: bool, v: &[f64]| Series {
        name: name.into(),
        color,
        dashed,
        points: r
            .bytes
            .iter()
            .map(|b| *b as f64)
            .zip(v.iter().copied())
            .collect(),
    };
    Chart {
        title: "veo-rs transfer bandwidth (emulated VE)".into(),
        subtitle: format!(
            "GB/s, worst over host page offsets {:?}, median of {} runs; {}",
            r.offsets, r.reps, r.machine.cpu
        ),
        x_label: "transfer size (bytes)".into(),
        y_label: "GB/s".into(),
        x_tick: tick_bytes,
        x_tick_base: 4.0,
        linear_y: false,
        series: vec![
            line("write (sync)", "#1f77b4", false, &col(WRITE)),
            line("read (sync)", "#d62728", false, &col(READ)),
            line("async write", "#2ca02c", false, &col(ASYNC_WRITE)),
            line("async read", "#9467bd", false, &col(ASYNC_READ)),
            line("memcpy, best offset", "#555555", true, &mc_best),
            line("memcpy, worst offset", "#aaaaaa", true, &mc_worst),
        ],
    }
    .render()
}

fn main() -> ExitCode {
    let cli = Cli::parse(
        "veo-rs bandwidth: synchronous and asynchronous writes and reads of VE memory \
         from 1 KiB to 256 MiB, against memcpy measured in the same run",
    );
    bench::finish(
        &cli,
        measure(&Settings::new(&cli)),
        print_tables,
        plot,
        json,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sizes, two offsets; memcpy read is slow at offset 16 (the trap).
    fn sample() -> Results {
        let v = |a: f64, b: f64| vec![a, b];
        Results {
            bytes: vec![64 << 10, 16 << 20],
            offsets: vec![0, 16],
            gbs: vec![
                vec![v(30.0, 8.0), v(28.0, 7.0)],   // write
                vec![v(31.0, 9.0), v(1.5, 9.5)],    // read
                vec![v(20.0, 8.0), v(22.0, 6.0)],   // async write
                vec![v(21.0, 8.5), v(25.0, 8.0)],   // async read
                vec![v(40.0, 10.0), v(36.0, 12.0)], // memcpy write
                vec![v(38.0, 10.0), v(1.2, 4.0)],   // memcpy read
            ],
            reps: 3,
            machine: Machine {
                cpu: "AMD EPYC".into(),
                cpus: 2,
                kernel: "6.1".into(),
            },
        }
    }

    #[test]
    fn transfers_are_judged_at_their_worst_offset_against_the_aligned_memcpy() {
        let r = sample();
        assert_eq!(r.worst(READ, 0), 1.5);
        assert_eq!(r.baseline(READ, 0), 38.0);
        // Offset 0's memcpy, not the largest (12 at offset 16).
        assert_eq!(r.baseline(ASYNC_WRITE, 1), 10.0);
        assert_eq!(r.ratio(ASYNC_WRITE, 1), 0.6);
        assert_eq!(r.worst_ratio(READ, 64 << 10), 1.5 / 38.0);
        let t = targets(&r);
        assert_eq!(t.len(), 8);
        assert!(t
            .iter()
            .any(|(n, v, l)| n == "read >= 64K, worst / memcpy" && *v < *l));
        assert!(!print_tables(&r), "a missed target fails --check");
    }

    #[test]
    fn json_keeps_the_old_keys_and_adds_the_machine_and_the_offsets() {
        let j = json(&sample()).to_string();
        for key in [
            r#""machine":{"cpu":"AMD EPYC","cpus":2,"kernel":"6.1"}"#,
            r#""bytes":[65536,16777216]"#,
            r#""offsets":[0,16]"#,
            r#""write_gbs":[28,7]"#,
            r#""read_gbs":[1.5,9]"#,
            r#""async_write_gbs":[20,6]"#,
            r#""async_read_gbs":[21,8]"#,
            r#""memcpy_gbs":[40,12]"#,
            r#""memcpy_worst_gbs":[1.2,4]"#,
            r#""16":{"write_gbs":[28,7],"read_gbs":[1.5,9.5]"#,
            r#""read >= 16M, worst / memcpy":0.9"#,
        ] {
            assert!(j.contains(key), "{key} missing from {j}");
        }
    }
}
