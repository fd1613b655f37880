//! The compile-time behaviour of `#[ve_kernel]`, against the real runtime.
//!
//! - `tests/pass/*.rs` must build (and run: they only type-check calls).
//! - `tests/ui/*.rs`, one per rule and named after it, must fail with
//!   exactly the `.stderr` beside them. These are the macro's own messages
//!   (spanned at the offending token), whose text does not depend on the
//!   compiler's release. Regenerate them with `TRYBUILD=overwrite` and read
//!   every one: the message must say what to write, at the offending token.
//! - `tests/ui/compiler/*.rs` are the rules the compiler enforces for us:
//!   the borrow checker (a pending request borrows its context and its
//!   buffers, a VH closure is `Send + 'static`), the runtime's sealed
//!   traits (with their `#[diagnostic::on_unimplemented]` messages) and
//!   privacy (one public path per item, the stubs' glue
//!   hidden). The compiler's own wording around them changes between
//!   releases, so instead of a `.stderr` each case marks the line of every
//!   expected error with `//~ TEXT`: an error must start on that line with
//!   `TEXT` in its code, message, labels or notes (not in the quoted source,
//!   which holds the mark itself), and no error may start elsewhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn ui() {
    // What veo-build's build script sets for a library named "kernels": a
    // file with the library's name, path and bytes. The cases only compile
    // calls, so the library need not exist.
    let built = Path::new(env!("CARGO_TARGET_TMPDIR")).join("veo-built-kernels.rs");
    std::fs::write(
        &built,
        "(\"kernels\", \"/nonexistent/libkernels.so\", b\"\" as &[u8])\n",
    )
    .unwrap();
    std::env::set_var("VEO_BUILT_kernels", &built);
    {
        let t = trybuild::TestCases::new();
        t.pass("tests/pass/*.rs");
        t.compile_fail("tests/ui/*.rs");
        // Runs when dropped: before the compiler's cases, which share its
        // target directory.
    }
    compiler_cases();
}

/// One `//~` expectation: the 1-based line and the text.
type Expected = Vec<(usize, String)>;

/// The `//~ TEXT` marks of a case, by line.
fn expectations(source: &str) -> Expected {
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        for mark in line.split("//~").skip(1) {
            out.push((i + 1, mark.trim().to_string()));
        }
    }
    out
}

/// An error the compiler reported: its first line, what it says (code,
/// message, labels, notes: every line of it but the quoted source), and
/// the whole rendering for failure messages.
#[derive(Debug)]
struct Reported {
    line: usize,
    says: String,
    rendered: String,
}

/// The code, message, span labels and child messages of a diagnostic.
fn says(message: &serde_json::Value) -> String {
    let mut out = format!(
        "[{}] {}\n",
        message["code"]["code"].as_str().unwrap_or_default(),
        message["message"].as_str().unwrap_or_default()
    );
    for span in message["spans"].as_array().into_iter().flatten() {
        if let Some(label) = span["label"].as_str() {
            out += label;
            out += "\n";
        }
    }
    for child in message["children"].as_array().into_iter().flatten() {
        out += &says(child);
    }
    out
}

/// Builds every case of `tests/ui/compiler/` as a binary of one scratch
/// package (errors of one do not stop the others) and checks its errors
/// against its marks.
fn compiler_cases() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("the workspace root");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(manifest_dir.join("tests/ui/compiler"))
        .expect("tests/ui/compiler")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in tests/ui/compiler");

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("tests");
    let project = target.join("veo-macros-compiler-ui");
    std::fs::create_dir_all(&project).expect("the scratch package's directory");
    let mut manifest = format!(
        "[package]\nname = \"veo-macros-compiler-ui\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[dependencies]\nveo-runtime = {{ path = {:?} }}\n\
         bytemuck = {{ version = \"1\", features = [\"derive\"] }}\n\n[workspace]\n",
        workspace.join("veo-runtime")
    );
    for case in &cases {
        let stem = case.file_stem().unwrap().to_string_lossy();
        manifest += &format!("\n[[bin]]\nname = \"{stem}\"\npath = {case:?}\n");
    }
    std::fs::write(project.join("Cargo.toml"), manifest).expect("the scratch manifest");
    // The workspace's versions of every dependency, as trybuild does.
    let _ = std::fs::copy(workspace.join("Cargo.lock"), project.join("Cargo.lock"));

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["check", "--bins", "--keep-going", "--quiet"])
        .arg("--message-format=json")
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target.join("trybuild"))
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);

    let mut reported: BTreeMap<PathBuf, Vec<Reported>> = BTreeMap::new();
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-message" || v["message"]["level"] != "error" {
            continue;
        }
        let src = PathBuf::from(v["target"]["src_path"].as_str().unwrap_or_default());
        let message = &v["message"];
        let primary = message["spans"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["is_primary"] == true));
        let rendered = message["rendered"].as_str().unwrap_or_default().to_string();
        let Some(primary) = primary else {
            // "aborting due to N previous errors" and the like.
            continue;
        };
        let line = primary["line_start"].as_u64().unwrap_or(0) as usize;
        reported.entry(src).or_default().push(Reported {
            line,
            says: says(message),
            rendered,
        });
    }

    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy();
        let source = std::fs::read_to_string(case).expect("the case");
        let expected = expectations(&source);
        let got = reported.remove(case).unwrap_or_default();
        if expected.is_empty() {
            failures.push(format!("{name}: no `//~` marks"));
        }
        for (line, text) in &expected {
            if !got.iter().any(|r| r.line == *line && r.says.contains(text)) {
                failures.push(format!("{name}:{line}: no error containing `{text}`"));
            }
        }
        for r in &got {
            if !expected.iter().any(|(line, _)| *line == r.line) {
                failures.push(format!(
                    "{name}:{}: an error on an unmarked line:\n{}",
                    r.line, r.rendered
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\ncargo's stderr:\n{}",
        failures.join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn marks_are_read_from_every_line() {
    let e = expectations("fn a(); //~ E0277\nfn b();\nx //~ one //~ two\n");
    assert_eq!(
        e,
        vec![
            (1, "E0277".to_string()),
            (3, "one".to_string()),
            (3, "two".to_string())
        ]
    );
}
