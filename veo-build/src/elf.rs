//! The global symbols an ELF object defines: which source defines which
//! kernel. ELF64 little-endian only (x86_64 and the VE); anything else
//! yields `None` and the caller skips the question.

use std::collections::BTreeSet;

const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;

/// The names of the global and weak symbols defined in `data` (an object
/// file or a shared library).
pub(crate) fn defined_symbols(data: &[u8]) -> Option<BTreeSet<String>> {
    if data.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let shoff = usize::try_from(u64_at(data, 0x28)?).ok()?;
    let shentsize = usize::from(u16_at(data, 0x3a)?);
    let shnum = usize::from(u16_at(data, 0x3c)?);
    let section = |i: usize| -> Option<(u32, usize, usize, u32, usize)> {
        let h = shoff.checked_add(i.checked_mul(shentsize)?)?;
        Some((
            u32_at(data, h + 4)?,
            usize::try_from(u64_at(data, h + 0x18)?).ok()?,
            usize::try_from(u64_at(data, h + 0x20)?).ok()?,
            u32_at(data, h + 0x28)?,
            usize::try_from(u64_at(data, h + 0x38)?).ok()?,
        ))
    };
    let mut names = BTreeSet::new();
    for i in 0..shnum {
        let (ty, off, size, link, entsize) = section(i)?;
        if (ty != SHT_SYMTAB && ty != SHT_DYNSYM) || entsize < 24 {
            continue;
        }
        let (_, str_off, str_size, _, _) = section(usize::try_from(link).ok()?)?;
        let strtab = data.get(str_off..str_off.checked_add(str_size)?)?;
        let syms = data.get(off..off.checked_add(size)?)?;
        for sym in syms.chunks_exact(entsize) {
            let bind = sym[4] >> 4;
            let shndx = u16::from_le_bytes([sym[6], sym[7]]);
            if shndx == 0 || (bind != STB_GLOBAL && bind != STB_WEAK) {
                continue;
            }
            let name_off = usize::try_from(u32::from_le_bytes(sym[..4].try_into().ok()?)).ok()?;
            let rest = strtab.get(name_off..)?;
            let end = rest.iter().position(|&b| b == 0)?;
            names.insert(String::from_utf8_lossy(&rest[..end]).into_owned());
        }
    }
    Some(names)
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(at..at + 8)?.try_into().ok()?))
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
             extern int undefined(void);\nint calls(void) { return undefined(); }\n",
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
            ["calls".to_string(), "shown".to_string()]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
