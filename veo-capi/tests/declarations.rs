//! The headers in `include/` declare exactly what libveo.so exports: the
//! same function names (`nm -D`), and the same parameter and return types
//! as the `extern "C"` definitions in `src/` (both sides reduced to the C
//! ABI types they stand for).

use std::collections::BTreeMap;
use std::path::Path;

/// The headers that declare functions (`veo_time.h` and
/// `veo_veshm_defs.h` hold only inline functions and enums).
const HEADERS: [&str; 6] = [
    "ve_offload.h",
    "veo_hmem.h",
    "veo_veshm.h",
    "veo_vhveshm.h",
    "veo_vedma.h",
    "veo_rs.h",
];

/// A signature as ABI types: return type, then parameters.
type Sig = (String, Vec<String>);

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Splits at commas outside parentheses and angle brackets.
fn split_top(s: &str) -> Vec<String> {
    let (mut depth, mut cur, mut out) = (0i32, String::new(), Vec::new());
    for c in s.chars() {
        match c {
            '(' | '<' => depth += 1,
            // The `>` of a Rust `->` closes nothing.
            '>' if cur.ends_with('-') => {}
            ')' | '>' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// A C scalar or struct name as the type it is in the ABI.
fn c_base(t: &str) -> String {
    let t = t.trim();
    if let Some(e) = t.strip_prefix("enum ") {
        let _ = e;
        return "i32".into();
    }
    let t = t.strip_prefix("struct ").unwrap_or(t).trim();
    match t {
        "int" | "int32_t" | "pid_t" | "key_t" => "i32",
        "unsigned int" | "uint32_t" => "u32",
        "int8_t" | "char" => "i8",
        "uint8_t" => "u8",
        "int16_t" => "i16",
        "uint16_t" => "u16",
        "int64_t" | "long" | "long long" => "i64",
        "uint64_t" => "u64",
        "size_t" => "usize",
        "float" => "f32",
        "double" => "f64",
        "void" => "c_void",
        other => other,
    }
    .to_string()
}

/// A C type (without a parameter name) as its ABI type.
fn c_type(t: &str) -> String {
    let t = t.trim();
    if t.contains("(*") {
        return "fn".into();
    }
    let stars = t.matches('*').count();
    let base = t.trim_end_matches(['*', ' ']);
    let inner = base.replace('*', " ");
    let is_const = inner.split_whitespace().next() == Some("const");
    let name = inner
        .split_whitespace()
        .filter(|w| *w != "const")
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = c_base(&name);
    if out == "c_void" && stars == 0 {
        return "()".into();
    }
    for i in 0..stars {
        // `const` binds to the pointee of the innermost pointer.
        let q = if i == 0 && is_const {
            "*const "
        } else {
            "*mut "
        };
        out = format!("{q}{out}");
    }
    out
}

/// Drops the parameter name from a C parameter.
fn c_param(p: &str) -> String {
    let p = p.trim();
    if p.contains("(*") || p == "void" || p == "..." {
        return p.to_string();
    }
    let words: Vec<&str> = p.split_whitespace().collect();
    let last = words.last().copied().unwrap_or("");
    let name = last.trim_start_matches('*');
    let is_type_word = matches!(
        name,
        "int" | "char" | "long" | "void" | "double" | "float" | "size_t" | "pid_t" | "key_t"
    ) || name.ends_with("_t")
        || words.len() == 1;
    if is_type_word {
        p.to_string()
    } else {
        let stars = &last[..last.len() - name.len()];
        format!("{} {stars}", words[..words.len() - 1].join(" "))
    }
}

fn header_sigs() -> BTreeMap<String, Sig> {
    let mut sigs = BTreeMap::new();
    for h in HEADERS {
        let text = std::fs::read_to_string(crate_dir().join("include").join(h)).unwrap();
        // Comments and preprocessor lines out; inline functions are not exports.
        let mut code = String::new();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("/*") {
            code.push_str(&rest[..i]);
            rest = &rest[rest[i..].find("*/").map_or(rest.len(), |j| i + j + 2)..];
        }
        code.push_str(rest);
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join(" ");
        for stmt in code.split(';') {
            // What follows the last brace: `extern "C" {` and enum or
            // struct bodies are not declarations.
            let stmt = stmt.rsplit(['{', '}']).next().unwrap_or("").trim();
            if !stmt.contains('(') {
                continue;
            }
            let open = stmt.find('(').unwrap();
            let head = &stmt[..open];
            let name_at = head
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let name = head[name_at..].to_string();
            let ret = c_type(&head[..name_at]);
            let params = &stmt[open + 1..stmt.rfind(')').unwrap()];
            let params: Vec<String> = split_top(params)
                .iter()
                .filter(|p| p.as_str() != "void")
                .map(|p| c_type(&c_param(p)))
                .collect();
            sigs.insert(name, (ret, params));
        }
    }
    sigs
}

/// A Rust FFI type as its ABI type.
fn rust_type(t: &str) -> String {
    let t = t.trim();
    if t.starts_with("Option<") || t.contains("fn(") || t == "CHook" {
        return "fn".into();
    }
    if let Some(p) = t.strip_prefix("*mut ") {
        return format!("*mut {}", rust_type(p));
    }
    if let Some(p) = t.strip_prefix("*const ") {
        return format!("*const {}", rust_type(p));
    }
    let t = t.rsplit("::").next().unwrap();
    match t {
        "c_int" | "pid_t" | "key_t" => "i32",
        "c_char" => "i8",
        other => other,
    }
    .to_string()
}

fn rust_sigs() -> BTreeMap<String, Sig> {
    let mut sigs = BTreeMap::new();
    for e in std::fs::read_dir(crate_dir().join("src")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("#[no_mangle]") {
            rest = &rest[i + 12..];
            let f = rest.find("fn ").unwrap();
            let open = rest[f..].find('(').unwrap() + f;
            let name = rest[f + 3..open].trim().to_string();
            // The parameter list ends at the parenthesis that closes it.
            let mut depth = 0;
            let mut close = open;
            for (j, c) in rest[open..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            close = open + j;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let params: Vec<String> = split_top(&rest[open + 1..close])
                .iter()
                .map(|p| rust_type(p.split_once(':').unwrap().1))
                .collect();
            let after = &rest[close + 1..rest[close..].find('{').unwrap() + close];
            let ret = after
                .trim()
                .strip_prefix("->")
                .map_or("()".into(), rust_type);
            sigs.insert(name, (ret, params));
        }
    }
    sigs
}

#[test]
fn every_declared_function_is_defined_with_the_same_abi_types() {
    let h = header_sigs();
    let r = rust_sigs();
    assert!(h.len() > 80, "the header parser found only {}", h.len());
    assert_eq!(
        h.keys().collect::<Vec<_>>(),
        r.keys().collect::<Vec<_>>(),
        "declared and defined functions differ"
    );
    let mut bad = Vec::new();
    for (name, sig) in &h {
        if r[name] != *sig {
            bad.push(format!("{name}: header {sig:?}, Rust {:?}", r[name]));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn the_library_exports_exactly_the_declared_functions() {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.parent().unwrap().join("libveo.so");
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("nm runs");
    assert!(out.status.success());
    let exported: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (_, kind, name) = (w.next()?, w.next()?, w.next()?);
            (kind == "T" && name.starts_with("veo_")).then(|| name.to_string())
        })
        .collect();
    let mut exported = exported;
    exported.sort();
    let declared: Vec<String> = header_sigs().into_keys().collect();
    assert_eq!(exported, declared);
    // Its soname is AVEO's.
    let d = std::process::Command::new("readelf")
        .arg("-d")
        .arg(&lib)
        .output()
        .expect("readelf runs");
    assert!(String::from_utf8_lossy(&d.stdout).contains("Library soname: [libveo.so.1]"));
}

#[test]
fn the_abi_reduction_sees_types_and_constness() {
    assert_eq!(c_type(&c_param("const char *symname")), "*const i8");
    assert_eq!(
        c_type(&c_param("struct veo_proc_handle *proc")),
        "*mut veo_proc_handle"
    );
    assert_eq!(c_type(&c_param("void **addr")), "*mut *mut c_void");
    assert_eq!(c_type(&c_param("const size_t size")), "usize");
    assert_eq!(c_type(&c_param("void (*hook)(void *, ...)")), "fn");
    assert_eq!(rust_type("*const c_char"), "*const i8");
    assert_ne!(c_type("char *"), rust_type("*const c_char"));
}
