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

use bench::baseline::MemcpyBufs;
use bench::{json_array, json_object, median, per_iteration, Cli};
use std::process::ExitCode;
use std::time::Duration;
use veo_runtime::Proc;

type BoxError = Box<dyn std::error::Error>;

struct Settings {
    sizes: Vec<usize>,
    reps: usize,
    min_time: Duration,
}

impl Settings {
    fn new(quick: bool) -> Settings {
        let (step, reps, ms) = if quick { (2, 3, 15) } else { (1, 5, 60) };
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
    write: Vec<f64>,
    read: Vec<f64>,
    async_write: Vec<f64>,
    async_read: Vec<f64>,
    memcpy: Vec<f64>,
    reps: usize,
}

fn measure(s: &Settings) -> Result<Results, BoxError> {
    let max = *s.sizes.iter().max().expect("sizes");
    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;
    let ve = proc.alloc::<u8>(max)?;
    let src: Vec<u8> = (0..max).map(|i| (i * 7 + 3) as u8).collect();
    let mut dst = vec![0u8; max];
    let mut mc = MemcpyBufs::new(max);
    // Touch the VE buffer and check the round trip once, untimed.
    proc.write(&ve, &src)?;
    proc.read(&mut dst, &ve)?;
    if dst != src {
        return Err("read back differs from what was written".into());
    }

    let n = s.sizes.len();
    let mut samples = vec![[const { Vec::new() }; 5]; n];
    for rep in 0..s.reps {
        for (i, &size) in s.sizes.iter().enumerate() {
            progress!("run {}/{}: {} bytes", rep + 1, s.reps, size);
            let gbs = |secs: f64| size as f64 / secs / 1e9;
            let (src, dst) = (&src[..size], &mut dst[..size]);
            let vp = ve.as_ptr();
            let t = per_iteration(s.min_time, |k| (0..k).try_for_each(|_| proc.write(vp, src)))?;
            samples[i][0].push(gbs(t));
            let t = per_iteration(s.min_time, |k| {
                (0..k).try_for_each(|_| proc.read(&mut *dst, vp))
            })?;
            samples[i][1].push(gbs(t));
            let t = per_iteration(s.min_time, |k| {
                (0..k).try_for_each(|_| ctx.write_async(vp, src)?.wait())
            })?;
            samples[i][2].push(gbs(t));
            let t = per_iteration(s.min_time, |k| {
                (0..k).try_for_each(|_| ctx.read_async(&mut *dst, vp)?.wait())
            })?;
            samples[i][3].push(gbs(t));
            samples[i][4].push(mc.gbs(size, s.min_time));
            if dst != src {
                return Err(format!("{size}-byte asynchronous read differs from the data").into());
            }
        }
    }
    progress!("");
    let col = |k: usize| samples.iter().map(|s| median(&s[k])).collect::<Vec<_>>();
    Ok(Results {
        bytes: s.sizes.clone(),
        write: col(0),
        read: col(1),
        async_write: col(2),
        async_read: col(3),
        memcpy: col(4),
        reps: s.reps,
    })
}

fn size_name(b: usize) -> String {
    bench::svg::tick_bytes(b as f64)
}

/// The worst ratio against memcpy over sizes >= `from`.
fn worst_ratio(r: &Results, v: &[f64], from: usize) -> f64 {
    r.bytes
        .iter()
        .zip(v.iter().zip(&r.memcpy))
        .filter(|(b, _)| **b >= from)
        .map(|(_, (x, m))| x / m)
        .fold(f64::NAN, f64::min)
}

fn print_tables(r: &Results) {
    println!(
        "veo-rs transfer bandwidth, GB/s (median of {} runs), host <-> emulated VE memory",
        r.reps
    );
    println!();
    println!("|   size |  write |   read | async write | async read | memcpy | write/memcpy | read/memcpy |");
    println!("|-------:|-------:|-------:|------------:|-----------:|-------:|-------------:|------------:|");
    for i in 0..r.bytes.len() {
        println!(
            "| {:>6} | {:>6.2} | {:>6.2} | {:>11.2} | {:>10.2} | {:>6.2} | {:>12.2} | {:>11.2} |",
            size_name(r.bytes[i]),
            r.write[i],
            r.read[i],
            r.async_write[i],
            r.async_read[i],
            r.memcpy[i],
            r.write[i] / r.memcpy[i],
            r.read[i] / r.memcpy[i],
        );
    }
    println!();
    let targets = [
        (
            "write >= 16M, worst / memcpy",
            worst_ratio(r, &r.write, 16 << 20),
            0.8,
        ),
        (
            "read >= 16M, worst / memcpy",
            worst_ratio(r, &r.read, 16 << 20),
            0.8,
        ),
        (
            "write >= 64K, worst / memcpy",
            worst_ratio(r, &r.write, 64 << 10),
            0.5,
        ),
        (
            "read >= 64K, worst / memcpy",
            worst_ratio(r, &r.read, 64 << 10),
            0.5,
        ),
    ];
    println!("Targets (ratios against memcpy of this run):");
    println!();
    println!("| target                        | measured | limit  | met |");
    println!("|-------------------------------|----------|--------|-----|");
    for (name, v, limit) in targets {
        println!(
            "| {name:<29} | {v:>8.2} | >= {limit:<3} | {} |",
            if v >= limit { "yes" } else { " NO" }
        );
    }
}

fn json(r: &Results) -> String {
    let bytes: Vec<f64> = r.bytes.iter().map(|b| *b as f64).collect();
    json_object(&[
        ("bytes".into(), json_array(&bytes)),
        ("write_gbs".into(), json_array(&r.write)),
        ("read_gbs".into(), json_array(&r.read)),
        ("async_write_gbs".into(), json_array(&r.async_write)),
        ("async_read_gbs".into(), json_array(&r.async_read)),
        ("memcpy_gbs".into(), json_array(&r.memcpy)),
    ])
}

fn plot(r: &Results) -> String {
    use bench::svg::{tick_bytes, Chart, Series};
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
            "GB/s between host and VE memory, median of {} runs; memcpy from the same run",
            r.reps
        ),
        x_label: "transfer size (bytes)".into(),
        y_label: "GB/s".into(),
        x_tick: tick_bytes,
        x_tick_base: 4.0,
        series: vec![
            line("write (sync)", "#1f77b4", false, &r.write),
            line("read (sync)", "#d62728", false, &r.read),
            line("async write", "#2ca02c", false, &r.async_write),
            line("async read", "#9467bd", false, &r.async_read),
            line("memcpy (host)", "#555555", true, &r.memcpy),
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
        measure(&Settings::new(cli.quick)),
        print_tables,
        plot,
        json,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_exactly_the_keys_issue_5_names() {
        let r = Results {
            bytes: vec![1024, 1 << 28],
            write: vec![38.5, 10.25],
            read: vec![39.0, 11.0],
            async_write: vec![1.0, 4.5],
            async_read: vec![0.9, 3.75],
            memcpy: vec![66.0, 10.5],
            reps: 5,
        };
        assert_eq!(
            json(&r),
            concat!(
                r#"{"bytes":[1024,268435456],"write_gbs":[38.5,10.25],"read_gbs":[39,11],"#,
                r#""async_write_gbs":[1,4.5],"async_read_gbs":[0.9,3.75],"memcpy_gbs":[66,10.5]}"#
            )
        );
    }
}
