//! Shared pieces of the `latency` and `bandwidth` benchmarks: the command
//! line, statistics, the JSON line, CPU accounting, the baselines of
//! [`baseline`] and the call tests of [`calls`].

pub mod baseline;
pub mod calls;
pub mod capi;
pub mod count;
pub mod svg;

use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What the command line asked for.
#[derive(Debug, Default)]
pub struct Cli {
    /// A short run.
    pub quick: bool,
    /// Print the JSON object as the last line.
    pub json: bool,
    /// Write a chart here.
    pub plot: Option<String>,
    /// Exit with a failure status when a target is missed.
    pub check: bool,
    /// The program's own flags that were given (see [`Cli::parse_with`]).
    pub flags: Vec<&'static str>,
}

impl Cli {
    /// Parses `std::env::args`, or exits with a usage message.
    pub fn parse(about: &str) -> Cli {
        Cli::parse_with(about, &[])
    }

    /// As [`parse`](Cli::parse), with the program's own flags (name, help).
    pub fn parse_with(about: &str, extra: &[(&'static str, &'static str)]) -> Cli {
        let mut cli = Cli::default();
        let mut args = std::env::args().skip(1);
        let usage = |code: i32| -> ! {
            let me = std::env::args().next().unwrap_or_default();
            let own: String = extra.iter().map(|(f, _)| format!(" [{f}]")).collect();
            eprintln!("{about}\n\nusage: {me} [--quick] [--json] [--plot FILE.svg] [--check]{own}");
            eprintln!("  --quick          a short run (fewer sizes, repetitions and calls)");
            eprintln!("  --json           print one JSON object with the results as the last line");
            eprintln!("  --plot FILE.svg  write a chart of the results");
            eprintln!("  --check          exit with a failure status when a target is missed");
            for (f, help) in extra {
                eprintln!("  {f:<16} {help}");
            }
            std::process::exit(code)
        };
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => cli.quick = true,
                "--json" => cli.json = true,
                "--check" => cli.check = true,
                "--plot" => match args.next() {
                    Some(f) => cli.plot = Some(f),
                    None => usage(2),
                },
                "-h" | "--help" => usage(0),
                _ => match extra.iter().find(|(f, _)| *f == a) {
                    Some((f, _)) => cli.flags.push(f),
                    None => {
                        eprintln!("unknown argument {a:?}");
                        usage(2)
                    }
                },
            }
        }
        cli
    }

    /// Whether the program's own flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.contains(&name)
    }
}

/// The machine a benchmark ran on, for its table and its JSON: figures
/// from two machines differ by more than most changes.
#[derive(Debug, Clone)]
pub struct Machine {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu: String,
    /// Online CPUs.
    pub cpus: usize,
    /// The kernel release.
    pub kernel: String,
}

impl Machine {
    /// This machine.
    pub fn this() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        // SAFETY: sysconf has no preconditions.
        let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine { cpu, cpus, kernel }
    }

    /// One line for the table's heading.
    pub fn line(&self) -> String {
        format!(
            "Machine: {}, {} CPUs online, Linux {}",
            self.cpu, self.cpus, self.kernel
        )
    }

    /// `{"cpu":..,"cpus":..,"kernel":..}`.
    pub fn json(&self) -> Value {
        json!({ "cpu": self.cpu, "cpus": self.cpus, "kernel": self.kernel })
    }
}

/// The median of `v` (the mean of the two middle values for an even count).
pub fn median(v: &[f64]) -> f64 {
    assert!(!v.is_empty(), "median of nothing");
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// The `p`-th percentile of `v` (0 to 100; nearest rank), `NaN` for none.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
    s[rank.clamp(1, s.len()) - 1]
}

/// Seconds that `f` took.
pub fn time<E>(f: impl FnOnce() -> Result<(), E>) -> Result<f64, E> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Runs `f(iterations)` with as many iterations as fill `min_time` (doubling
/// from one) and returns seconds per iteration of the last, long enough run.
pub fn per_iteration<E>(
    min_time: Duration,
    mut f: impl FnMut(u64) -> Result<(), E>,
) -> Result<f64, E> {
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        f(iters)?;
        let took = t.elapsed();
        if took >= min_time || iters >= 1 << 30 {
            return Ok(took.as_secs_f64() / iters as f64);
        }
        // Aim a little past the minimum so the next run is the last.
        let want = min_time.as_secs_f64() * 1.2 / took.as_secs_f64().max(1e-9);
        iters = (iters as f64 * want.clamp(2.0, 100.0)).ceil() as u64;
    }
}

/// A number for the JSON line: rounded to six decimals (the figures carry
/// no more), an integer when nothing is left after the point, `null` when
/// it is not finite (a test that did not run).
pub fn json_num(x: f64) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    let r = (x * 1e6).round() / 1e6;
    if r.fract() == 0.0 && r.abs() < 1e15 {
        Value::from(r as i64)
    } else {
        Value::from(r)
    }
}

/// A JSON object of `pairs`, in their order.
pub fn json_object(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect())
}

/// A JSON array of numbers ([`json_num`]).
pub fn json_array(values: &[f64]) -> Value {
    values.iter().map(|v| json_num(*v)).collect()
}

/// CPU time a process has used, in seconds, from `/proc/<pid>/stat`
/// (utime + stime: tick resolution, every thread, living or dead).
pub fn stat_cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / hz)
}

/// CPU time the living threads of a process have used, in seconds, from
/// `/proc/<pid>/task/*/schedstat` (nanosecond resolution), if the kernel
/// keeps scheduler statistics.
pub fn schedstat_cpu_seconds(pid: u32) -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}

/// Number of threads of this process.
pub fn own_threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Writes `svg` to `path`, telling the user.
pub fn write_plot(path: &str, svg: &str) {
    match std::fs::write(path, svg) {
        Ok(()) => eprintln!("chart written to {path}"),
        Err(e) => eprintln!("cannot write the chart to {path}: {e}"),
    }
}

/// Prints the tables, then writes the chart and the JSON line the command
/// line asked for; an error ends the program with a failure status, and so
/// does a missed target under `--check` (`tables` says whether all were met).
pub fn finish<R, E: std::fmt::Display>(
    cli: &Cli,
    outcome: Result<R, E>,
    tables: impl FnOnce(&R) -> bool,
    chart: impl FnOnce(&R) -> String,
    json: impl FnOnce(&R) -> Value,
) -> std::process::ExitCode {
    let r = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let met = tables(&r);
    if let Some(path) = &cli.plot {
        write_plot(path, &chart(&r));
    }
    if cli.json {
        println!("{}", json(&r));
    }
    if cli.check && !met {
        eprintln!("--check: a target was missed (see the table of targets)");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

/// Prints progress on stderr, so that stdout keeps tables and JSON: on a
/// terminal one line rewritten in place, elsewhere (a log, a CI job) one
/// line each. An empty message clears the terminal's line.
#[macro_export]
macro_rules! progress {
    ($($t:tt)*) => {{
        use std::io::{IsTerminal as _, Write as _};
        let msg = format!($($t)*);
        let mut err = std::io::stderr().lock();
        if err.is_terminal() {
            let _ = write!(err, "\r\x1b[2K{msg}");
        } else if !msg.is_empty() {
            let _ = writeln!(err, "{msg}");
        }
        let _ = err.flush();
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn json_numbers_keep_six_decimals_and_drop_a_bare_point() {
        let text = |x: f64| json_num(x).to_string();
        assert_eq!(text(40.0), "40");
        assert_eq!(text(0.014), "0.014");
        assert_eq!(text(10.0 / 9.0), "1.111111");
        assert_eq!(text(65536.0), "65536");
        assert_eq!(text(-2.5), "-2.5");
        assert_eq!(text(1e-9), "0");
        assert_eq!(text(f64::NAN), "null");
        assert_eq!(text(f64::INFINITY), "null");
        assert_eq!(json_array(&[1.5, 2.0]).to_string(), "[1.5,2]");
        let o = json_object([("b".to_string(), json_num(1.0)), ("a".into(), Value::Null)]);
        assert_eq!(
            o.to_string(),
            r#"{"b":1,"a":null}"#,
            "keys in the order given"
        );
    }

    #[test]
    fn the_machine_is_escaped() {
        let m = Machine {
            cpu: "AMD \"EPYC\"\\\n".into(),
            cpus: 2,
            kernel: "6.1".into(),
        };
        assert_eq!(
            m.json().to_string(),
            r#"{"cpu":"AMD \"EPYC\"\\\n","cpus":2,"kernel":"6.1"}"#
        );
    }

    #[test]
    fn the_machine_is_described() {
        let m = Machine::this();
        assert!(m.cpus >= 1);
        assert!(!m.cpu.is_empty());
        assert!(m.line().contains(&m.kernel));
        assert!(m.json().to_string().starts_with("{\"cpu\":\""));
    }
}
