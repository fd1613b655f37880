//! Instructions per call of AVEO's four call tests, counted by callgrind
//! (valgrind), for the three ways this repository makes them: the Rust
//! stubs (`latency_ab TEST --count N`), the C program through libveo.so
//! (`examples/c/latency_capi.c`, `--count`) and the Rust stubs on the AVEO
//! backend over that libveo.so. Unlike a timing, the count does not depend
//! on how busy the machine is.
//!
//! ```text
//! callcount [--check] [TEST...]    # TEST 1..4, all four by default
//! ```
//!
//! Each program runs under callgrind at N = 1000 and 11000 calls; the
//! difference over 10000 is printed per call, the VH's and the helper's
//! (bench/count.rs). `--check` exits with a failure status when a budget is
//! missed: the stubs' Test 1 and 2 targets, and the instructions the C and
//! AVEO layers add to the layer below (docs/PERFORMANCE.md, "Seventh
//! round").
//! Needs `latency_ab` and libveo.so beside this program
//! (`cargo build --release -p veo-examples`) and `valgrind` and `cc` on
//! PATH; without libveo.so only the stubs are counted. Some 5 minutes for
//! all four tests.

use std::ffi::OsString;
use std::process::ExitCode;
use veo_examples::bench::calls::BoxError;
use veo_examples::bench::capi::{find_libveo, CDriver};
use veo_examples::bench::count::{self, budgets, Counted, PerCall, Program};

fn main() -> ExitCode {
    veo_examples::exit_code("callcount", real_main())
}

fn real_main() -> Result<bool, BoxError> {
    let (check, tests) = count::parse_args(std::env::args().skip(1))?;
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or("this program's directory is unknown")?;
    let latency_ab = dir.join("latency_ab");
    if !latency_ab.exists() {
        return Err(format!(
            "no {} (cargo build --release -p veo-examples --bin latency_ab)",
            latency_ab.display()
        )
        .into());
    }
    let driver = match find_libveo() {
        Some(lib) => Some(CDriver::build(&lib)?),
        None => {
            eprintln!("callcount: no libveo.so beside this program: the Rust stubs only");
            None
        }
    };
    let work = std::env::temp_dir().join(format!("veo-callcount-{}", std::process::id()));
    let result = count_all(&tests, &latency_ab, driver.as_ref(), &work);
    let _ = std::fs::remove_dir_all(&work);
    let counts = result?;

    println!(
        "Instructions per call (callgrind, N = 11000 less N = 1000, over 10000), VH / helper:"
    );
    println!();
    println!("| program      | Test 1      | Test 2      | Test 3      | Test 4      |");
    println!("|--------------|-------------|-------------|-------------|-------------|");
    for (p, row) in Program::ALL.iter().zip(&counts) {
        if row.iter().all(Option::is_none) {
            continue;
        }
        let cells: Vec<String> = row
            .iter()
            .map(|c| c.map_or("-".into(), |c| format!("{:.0} / {:.0}", c.vh, c.helper)))
            .collect();
        println!(
            "| {:<12} | {:<11} | {:<11} | {:<11} | {:<11} |",
            p.name(),
            cells[0],
            cells[1],
            cells[2],
            cells[3]
        );
    }
    println!();
    println!("Budgets:");
    println!();
    println!("| budget                                   | measured | limit  | met |");
    println!("|------------------------------------------|----------|--------|-----|");
    let mut all = true;
    for b in budgets(&counts) {
        all &= b.met();
        println!(
            "| {:<40} | {:>8.0} | <= {:<3} | {} |",
            b.name,
            b.measured,
            b.limit,
            if b.met() { "yes" } else { " NO" }
        );
    }
    Ok(all || !check)
}

/// Counts `tests` of each program (`counts[program][test - 1]`).
fn count_all(
    tests: &[usize],
    latency_ab: &std::path::Path,
    driver: Option<&CDriver>,
    work: &std::path::Path,
) -> Result<[[Option<PerCall>; 4]; 3], BoxError> {
    let mut counts = [[None; 4]; 3];
    for (pi, program) in Program::ALL.into_iter().enumerate() {
        for &t in tests {
            let what = match (program, driver) {
                (Program::Rust, _) => Counted {
                    exe: latency_ab.into(),
                    args: vec![t.to_string().into(), "--count".into()],
                    env: Vec::new(),
                },
                (Program::C, Some(d)) => Counted {
                    exe: d.exe().into(),
                    args: vec![
                        env!("VEO_LIB_examples").into(),
                        "--count".into(),
                        t.to_string().into(),
                    ],
                    env: Vec::new(),
                },
                (Program::Aveo, Some(d)) => Counted {
                    exe: latency_ab.into(),
                    args: vec![t.to_string().into(), "--count".into()],
                    env: vec![
                        ("VEO_BACKEND", OsString::from("aveo")),
                        ("VEO_LIBVEO", d.libveo().into()),
                    ],
                },
                (_, None) => continue,
            };
            let mut at = [count::Totals::default(); 2];
            for (i, n) in count::N.into_iter().enumerate() {
                eprintln!("callcount: {}, Test {t}, N = {n}", program.name());
                let _ = std::fs::remove_dir_all(work);
                std::fs::create_dir_all(work)?;
                at[i] = count::run(&what, n, work)?;
            }
            counts[pi][t - 1] = Some(PerCall::between(at[0], at[1]));
        }
    }
    Ok(counts)
}
