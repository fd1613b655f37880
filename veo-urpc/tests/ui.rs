//! What the compiler refuses about the transport's views and ring ends:
//! each case of `tests/ui/`, named after its rule, is a misuse that must not
//! compile (a view of a segment outliving it, a ring end made or copied
//! rather than acquired). The second producer of a ring is refused at run
//! time instead (`Ring::acquire_producer`, tested in `src/ring.rs`).
//!
//! The errors are the borrow checker's and privacy's, whose wording changes
//! between compiler releases; so, as in `veo-macros/tests/ui.rs`, a case
//! marks the line of every expected error with `//~ CODE`: an error must
//! start on that line with `CODE` in its code, message, labels or notes,
//! and no error may start elsewhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `//~ TEXT` marks of a case: 1-based line, text.
fn expectations(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in source.lines().enumerate() {
        for mark in line.split("//~").skip(1) {
            out.push((i + 1, mark.trim().to_string()));
        }
    }
    out
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

#[test]
fn misuses_do_not_compile() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("the workspace root");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(manifest_dir.join("tests/ui"))
        .expect("tests/ui")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in tests/ui");

    // Every case a binary of one scratch package: errors of one do not
    // stop the others.
    let project = Path::new(env!("CARGO_TARGET_TMPDIR")).join("veo-urpc-ui");
    std::fs::create_dir_all(&project).expect("the scratch package's directory");
    let mut manifest = format!(
        "[package]\nname = \"veo-urpc-ui\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[dependencies]\nveo-urpc = {{ path = {:?} }}\n\n[workspace]\n",
        manifest_dir
    );
    for case in &cases {
        let stem = case.file_stem().unwrap().to_string_lossy();
        manifest += &format!("\n[[bin]]\nname = \"{stem}\"\npath = {case:?}\n");
    }
    std::fs::write(project.join("Cargo.toml"), manifest).expect("the scratch manifest");
    // The workspace's versions of every dependency.
    let _ = std::fs::copy(workspace.join("Cargo.lock"), project.join("Cargo.lock"));

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["check", "--bins", "--keep-going", "--quiet"])
        .arg("--message-format=json")
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", project.join("target"))
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);

    // Errors by case: line, what they say, and the rendering.
    let mut reported: BTreeMap<PathBuf, Vec<(usize, String, String)>> = BTreeMap::new();
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-message" || v["message"]["level"] != "error" {
            continue;
        }
        let message = &v["message"];
        let Some(primary) = message["spans"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["is_primary"] == true))
        else {
            // "aborting due to N previous errors" and the like.
            continue;
        };
        let src = PathBuf::from(v["target"]["src_path"].as_str().unwrap_or_default());
        reported.entry(src).or_default().push((
            primary["line_start"].as_u64().unwrap_or(0) as usize,
            says(message),
            message["rendered"].as_str().unwrap_or_default().to_string(),
        ));
    }

    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy();
        let expected = expectations(&std::fs::read_to_string(case).expect("the case"));
        let got = reported.remove(case).unwrap_or_default();
        if expected.is_empty() {
            failures.push(format!("{name}: no `//~` marks"));
        }
        for (line, text) in &expected {
            if !got
                .iter()
                .any(|(l, says, _)| l == line && says.contains(text))
            {
                failures.push(format!("{name}:{line}: no error containing `{text}`"));
            }
        }
        for (line, _, rendered) in &got {
            if !expected.iter().any(|(l, _)| l == line) {
                failures.push(format!(
                    "{name}:{line}: an error on an unmarked line:\n{rendered}"
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
    let e = expectations("fn a(); //~ E0505\nfn b();\nx //~ one //~ two\n");
    assert_eq!(
        e,
        vec![
            (1, "E0505".to_string()),
            (3, "one".to_string()),
            (3, "two".to_string())
        ]
    );
}
