//! The global symbols an ELF object defines: which source defines which
//! kernel. Read with the `object` crate (ELF only: x86_64 objects for the
//! emulated VE, VE objects for the hardware); anything it cannot read
//! yields `None` and the caller skips the question.

use std::collections::BTreeSet;

use object::{Object, ObjectSymbol};

/// The names of the global and weak symbols defined in `data` (an object
/// file or a shared library), from both its symbol table and its dynamic
/// one.
pub(crate) fn defined_symbols(data: &[u8]) -> Option<BTreeSet<String>> {
    let file = object::File::parse(data).ok()?;
    let mut names = BTreeSet::new();
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        if sym.is_definition() && sym.is_global() {
            names.insert(String::from_utf8_lossy(sym.name_bytes().ok()?).into_owned());
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_elf() {
        assert_eq!(defined_symbols(b"hello"), None);
        assert_eq!(defined_symbols(b""), None);
        // A truncated header is not a panic.
        assert_eq!(defined_symbols(b"\x7fELF\x02\x01\0\0"), None);
    }

    #[test]
    fn object_from_cc() {
        let dir = std::env::temp_dir().join(format!("veo-build-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("k.c");
        std::fs::write(
            &src,
            "static int hidden(void) { return 1; }\nint shown(void) { return hidden(); }\n\
             extern int undefined(void);\nint calls(void) { return undefined(); }\n\
             __attribute__((weak)) int weak_one(void) { return 2; }\n",
        )
        .unwrap();
        let obj = dir.join("k.o");
        let ok = std::process::Command::new("cc")
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let syms = defined_symbols(&std::fs::read(&obj).unwrap()).unwrap();
        assert_eq!(
            syms.into_iter().collect::<Vec<_>>(),
            ["calls", "shown", "weak_one"]
        );
        // A shared library: its dynamic symbol table too.
        let so = dir.join("libk.so");
        let ok = std::process::Command::new("cc")
            .args(["-shared", "-s"])
            .arg(&obj)
            .arg("-o")
            .arg(&so)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let syms = defined_symbols(&std::fs::read(&so).unwrap()).unwrap();
        assert!(
            syms.contains("shown") && syms.contains("weak_one"),
            "{syms:?}"
        );
        assert!(!syms.contains("hidden") && !syms.contains("undefined"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
