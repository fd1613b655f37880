//! Instructions per call, counted by callgrind, for `callcount`: a program
//! making N calls of one of AVEO's tests and nothing else is run under
//! `valgrind --tool=callgrind --trace-children=yes` at two N; the difference
//! of the two totals over the difference of the N is the cost of a call,
//! without the proc's start and end. The VH's process and the helper's are
//! counted apart (callgrind writes one profile per process).
//!
//! The budgets checked are the per-call targets of the Rust stubs and the
//! instructions the C and AVEO layers add ([`budgets`]; docs/PERFORMANCE.md,
//! "Seventh round").

use super::calls::BoxError;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The two N each program is counted at.
pub const N: [u64; 2] = [1000, 11000];

/// The three ways of making the calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// The `#[ve_kernel]` stubs on the emulated VE (`latency_ab`).
    Rust,
    /// The C driver through libveo.so (`examples/c/latency_capi.c`).
    C,
    /// The Rust stubs on the AVEO backend over that libveo.so.
    Aveo,
}

impl Program {
    /// All three, in the table's order.
    pub const ALL: [Program; 3] = [Program::Rust, Program::C, Program::Aveo];

    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            Program::Rust => "Rust stubs",
            Program::C => "C program",
            Program::Aveo => "AVEO backend",
        }
    }
}

/// What one run under callgrind counted: the VH process's instructions
/// and its helper's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    /// The process that made the calls.
    pub vh: u64,
    /// Every other process it started (the helper).
    pub helper: u64,
}

/// Instructions per call, the VH's and the helper's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerCall {
    pub vh: f64,
    pub helper: f64,
}

impl PerCall {
    /// The cost of a call from runs at `N[0]` and `N[1]` calls.
    pub fn between(low: Totals, high: Totals) -> PerCall {
        let calls = (N[1] - N[0]) as f64;
        PerCall {
            vh: (high.vh as f64 - low.vh as f64) / calls,
            helper: (high.helper as f64 - low.helper as f64) / calls,
        }
    }
}

/// One profile's process and total: `(is the VH, instructions)`. The VH
/// is the process whose command line has `--count` (helpers are started
/// without it); the total is the `totals:` line (or `summary:`, which
/// older callgrinds write alone). `None` for a text that is not a
/// callgrind profile.
pub fn parse_profile(text: &str) -> Option<(bool, u64)> {
    let mut vh = None;
    let mut total = None;
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("cmd:") {
            vh = Some(cmd.split_whitespace().any(|w| w == "--count"));
        } else if let Some(t) = line
            .strip_prefix("totals:")
            .or_else(|| line.strip_prefix("summary:"))
        {
            // Ir is the first (here the only) event.
            total = t.split_whitespace().next()?.parse().ok();
        }
    }
    Some((vh?, total?))
}

/// Sums the profiles of one run: exactly one VH process, any number of
/// helpers.
pub fn totals(profiles: &[(bool, u64)]) -> Result<Totals, String> {
    let vh: Vec<u64> = profiles.iter().filter(|p| p.0).map(|p| p.1).collect();
    if vh.len() != 1 {
        return Err(format!(
            "{} profiles of the process making the calls, where one was expected",
            vh.len()
        ));
    }
    Ok(Totals {
        vh: vh[0],
        helper: profiles.iter().filter(|p| !p.0).map(|p| p.1).sum(),
    })
}

/// A command to count: the program, its arguments before N, and its
/// environment.
pub struct Counted {
    pub exe: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, OsString)>,
}

/// Runs `what` with `n` appended under callgrind, its profiles written to
/// `dir` (which should be empty of earlier ones), and sums them.
pub fn run(what: &Counted, n: u64, dir: &Path) -> Result<Totals, BoxError> {
    let prefix = format!("n{n}.");
    let out = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg("--trace-children=yes")
        .arg(format!(
            "--callgrind-out-file={}",
            dir.join(format!("{prefix}%p")).display()
        ))
        .arg(&what.exe)
        .args(&what.args)
        .arg(n.to_string())
        .envs(what.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run valgrind ({e}); install it (apt install valgrind)"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        return Err(format!(
            "valgrind {} ... {n} failed ({}):\n{}",
            what.exe.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
        .into());
    }
    let mut profiles = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_ours = path
            .file_name()
            .and_then(|f| f.to_str())
            .is_some_and(|f| f.starts_with(&prefix));
        if is_ours {
            let text = std::fs::read_to_string(&path)?;
            profiles.push(
                parse_profile(&text)
                    .ok_or_else(|| format!("{} is not a callgrind profile", path.display()))?,
            );
        }
    }
    Ok(totals(&profiles)?)
}

/// The command line of `callcount`: whether to check, and the tests (1 to
/// 4, all four when none is named).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<(bool, Vec<usize>), String> {
    let mut check = false;
    let mut tests = Vec::new();
    for a in args {
        match a.as_str() {
            "--check" => check = true,
            "1" | "2" | "3" | "4" => tests.push(a.parse().unwrap_or(1)),
            _ => {
                return Err(format!(
                    "unknown argument {a:?}; usage: callcount [--check] [TEST...] (TEST 1 to 4)"
                ))
            }
        }
    }
    if tests.is_empty() {
        tests = vec![1, 2, 3, 4];
    }
    Ok((check, tests))
}

/// One budget: its name, the figure measured and its limit (at most).
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub name: String,
    pub measured: f64,
    pub limit: f64,
}

impl Budget {
    /// Whether the figure is within the limit.
    pub fn met(&self) -> bool {
        self.measured <= self.limit
    }
}

/// The budgets for what was counted (`counts[program][test - 1]`, `None`
/// where not counted): the Rust stubs' instructions per call in Tests 1
/// and 2 (VH 600 and 700, helper 350 and 450); the C layer's own VH
/// instructions (the C program's less the stubs', the same runtime under
/// both) at most [`C_LAYER`]; the AVEO backend's own (its count less the C
/// program's, whose functions it calls) at most [`AVEO_LAYER`].
pub fn budgets(counts: &[[Option<PerCall>; 4]; 3]) -> Vec<Budget> {
    let mut b = Vec::new();
    let [rust, c, aveo] = counts;
    for (t, vh, helper) in [(1, 600.0, 350.0), (2, 700.0, 450.0)] {
        if let Some(r) = rust[t - 1] {
            b.push(Budget {
                name: format!("Rust stubs, Test {t}, VH"),
                measured: r.vh,
                limit: vh,
            });
            b.push(Budget {
                name: format!("Rust stubs, Test {t}, helper"),
                measured: r.helper,
                limit: helper,
            });
        }
    }
    for (upper, lower, name, limits) in [
        (c, rust, "C layer (C - Rust)", C_LAYER),
        (aveo, c, "AVEO layer (AVEO - C)", AVEO_LAYER),
    ] {
        for t in 0..4 {
            if let (Some(u), Some(l)) = (upper[t], lower[t]) {
                b.push(Budget {
                    name: format!("{name}, Test {}, VH", t + 1),
                    measured: u.vh - l.vh,
                    limit: limits[t],
                });
            }
        }
    }
    b
}

/// The C layer's budget per test: 235-557 instructions when it was set.
pub const C_LAYER: [f64; 4] = [600.0; 4];

/// The AVEO backend's own budget per test: 120-338 instructions in Tests
/// 1, 2 and 4 when it was set; 852 in Test 3, whose dropped requests the
/// backend collects with a `veo_call_peek_result` each (libveo keeps every
/// result until it is collected).
pub const AVEO_LAYER: [f64; 4] = [400.0, 400.0, 900.0, 400.0];

#[cfg(test)]
mod tests {
    use super::*;

    const VH: &str = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npid: 12872\n\
        cmd:  /tmp/x/latency_capi /k/libexamples.so --count 1 1000\npart: 1\n\
        events: Ir\nsummary: 5000\n\nfn=main\n1 5000\n\ntotals: 5000\n";
    const HELPER: &str = "# callgrind format\nversion: 1\npid: 12874\ncmd:  /tmp/x/latency_capi\n\
        events: Ir\nsummary: 700\ntotals: 700\n";

    #[test]
    fn a_profile_says_whether_it_made_the_calls_and_its_total() {
        assert_eq!(parse_profile(VH), Some((true, 5000)));
        assert_eq!(parse_profile(HELPER), Some((false, 700)));
        assert_eq!(
            parse_profile("cmd: a --count 1 5\nsummary: 42\n"),
            Some((true, 42))
        );
        assert_eq!(parse_profile("not a profile"), None);
        assert_eq!(parse_profile("cmd: a\ntotals: many\n"), None);
    }

    #[test]
    fn a_run_needs_exactly_one_process_making_the_calls() {
        assert_eq!(
            totals(&[(false, 7), (true, 100), (false, 3)]),
            Ok(Totals {
                vh: 100,
                helper: 10
            })
        );
        assert!(totals(&[(false, 7)]).is_err());
        assert!(totals(&[(true, 1), (true, 2)]).is_err());
    }

    #[test]
    fn the_command_line_names_tests_1_to_4_and_refuses_anything_else() {
        let args = |v: &[&str]| parse_args(v.iter().map(|s| s.to_string()));
        assert_eq!(args(&[]), Ok((false, vec![1, 2, 3, 4])));
        assert_eq!(args(&["--check", "2", "1"]), Ok((true, vec![2, 1])));
        for bad in [&["5"][..], &["0"], &["--quick"], &["1", "x"]] {
            let e = args(bad).unwrap_err();
            assert!(e.contains("usage: callcount"), "{e}");
        }
    }

    #[test]
    fn without_valgrind_the_run_says_so() {
        let empty = std::env::temp_dir().join(format!("veo-no-valgrind-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let what = Counted {
            exe: "true".into(),
            args: Vec::new(),
            // The child's PATH is where the program is looked up.
            env: vec![("PATH", empty.clone().into())],
        };
        let e = run(&what, 1, &empty).unwrap_err().to_string();
        assert!(e.contains("cannot run valgrind"), "{e}");
        std::fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn the_cost_of_a_call_is_the_difference_over_the_calls() {
        let low = Totals {
            vh: 1_000_000,
            helper: 400_000,
        };
        let high = Totals {
            vh: 6_730_000,
            helper: 3_180_000,
        };
        let p = PerCall::between(low, high);
        assert_eq!((p.vh, p.helper), (573.0, 278.0));
    }

    #[test]
    fn budgets_cover_what_was_counted_and_judge_it() {
        let p = |vh, helper| Some(PerCall { vh, helper });
        let counts = [
            [p(573.0, 278.0), p(565.0, 460.0), None, p(525.0, 402.0)],
            [p(1121.0, 386.0), None, None, p(1200.0, 486.0)],
            [p(1465.0, 380.0), None, None, None],
        ];
        let b = budgets(&counts);
        let names: Vec<&str> = b.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Rust stubs, Test 1, VH",
                "Rust stubs, Test 1, helper",
                "Rust stubs, Test 2, VH",
                "Rust stubs, Test 2, helper",
                "C layer (C - Rust), Test 1, VH",
                "C layer (C - Rust), Test 4, VH",
                "AVEO layer (AVEO - C), Test 1, VH",
            ]
        );
        assert_eq!(b[4].measured, 548.0);
        assert_eq!(b[6].measured, 344.0);
        let missed: Vec<&str> = b
            .iter()
            .filter(|b| !b.met())
            .map(|b| b.name.as_str())
            .collect();
        // The helper's 460 is over 450; 1200 - 525 is over 600.
        assert_eq!(
            missed,
            [
                "Rust stubs, Test 2, helper",
                "C layer (C - Rust), Test 4, VH"
            ]
        );
    }
}
