//! Which machine a binary was built for, and the error that says so when it
//! is the wrong one.
//!
//! The emulated VE runs host code and a real VE runs VE code (ELF machine
//! 251). Handed the other side's binary, the system loader answers
//! "cannot open shared object file: No such file or directory" (glibc skips
//! an ELF file of another machine) or "Exec format error"; these checks put
//! the real reason and the fix in its place. They live here because this
//! crate is the one both sides link: the helper checks kernel libraries, the
//! runtime checks helper programs, and a VE backend checks the opposite way.
//!
//! Only the 64-byte ELF header is read (hand-written: twenty lines of fixed
//! offsets, where a full ELF parser crate would add a dependency to every
//! build for four fields).

use std::fmt;
use std::io::Read;
use std::path::Path;

/// `e_machine` of the NEC SX-Aurora Vector Engine.
pub const EM_VE: u16 = 251;

/// `e_machine` of the machine this code was compiled for.
pub const EM_HOST: u16 = if cfg!(target_arch = "x86_64") {
    62
} else if cfg!(target_arch = "aarch64") {
    183
} else if cfg!(target_arch = "powerpc64") {
    21
} else if cfg!(target_arch = "s390x") {
    22
} else if cfg!(target_arch = "riscv64") {
    243
} else {
    0
};

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A 64-bit little-endian ELF file for machine `machine` (`e_machine`).
    Elf64 {
        /// `e_machine`: [`EM_VE`], [`EM_HOST`], or another.
        machine: u16,
    },
    /// An ELF file of another class or byte order (32-bit, big-endian).
    OtherElf {
        /// `EI_CLASS`: 1 for 32-bit, 2 for 64-bit.
        class: u8,
        /// `EI_DATA`: 1 for little-endian, 2 for big-endian.
        data: u8,
    },
    /// A script (`#!`).
    Script,
    /// Anything else, including a file too short for an ELF header.
    NotElf,
}

impl Kind {
    /// Reads the header of `bytes` (the start of a file).
    pub fn of_bytes(bytes: &[u8]) -> Kind {
        if bytes.starts_with(b"#!") {
            return Kind::Script;
        }
        if bytes.len() < 20 || !bytes.starts_with(b"\x7fELF") {
            return Kind::NotElf;
        }
        let (class, data) = (bytes[4], bytes[5]);
        if class != 2 || data != 1 {
            return Kind::OtherElf { class, data };
        }
        Kind::Elf64 {
            machine: u16::from_le_bytes([bytes[18], bytes[19]]),
        }
    }

    /// Reads the header of the file at `path`.
    pub fn of_file(path: &Path) -> std::io::Result<Kind> {
        let mut head = Vec::with_capacity(64);
        std::fs::File::open(path)?.take(64).read_to_end(&mut head)?;
        Ok(Kind::of_bytes(&head))
    }
}

/// The name of an ELF machine, for messages.
pub fn machine_name(machine: u16) -> String {
    match machine {
        EM_VE => "the NEC Vector Engine".into(),
        62 => "x86_64".into(),
        183 => "aarch64".into(),
        21 => "ppc64".into(),
        22 => "s390x".into(),
        243 => "riscv64".into(),
        3 => "i386".into(),
        40 => "arm".into(),
        m => format!("ELF machine {m}"),
    }
}

/// The kind of binary being checked, for the wording of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// A kernel library (`dlopen`ed by the helper or by AVEO's `aveorun`).
    Library,
    /// The helper program (`VEORUN_BIN`, `VEO_HELPER`, `ProcBuilder::helper`).
    Helper,
}

impl fmt::Display for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Binary::Library => "kernel library",
            Binary::Helper => "helper program",
        })
    }
}

/// Where the binary must run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The emulated VE: host code.
    Emulated,
    /// A real Vector Engine, through AVEO: VE code.
    Ve,
}

/// Why the file at `path` cannot be a `binary` for `side`, in words with the
/// fix; `None` when it can, or when it cannot be read (the caller's own
/// error then stands). A name without a `/` is searched by the loader (the
/// library path, `PATH`), not read here.
///
/// A host program whose program interpreter (`PT_INTERP`, the dynamic
/// loader it names) is missing is named too: `exec` would answer "No such
/// file or directory" about a file that exists.
pub fn mismatch(path: &Path, binary: Binary, side: Side) -> Option<String> {
    if !path.as_os_str().as_encoded_bytes().contains(&b'/') {
        return None;
    }
    let kind = Kind::of_file(path).ok()?;
    let shown = path.display().to_string();
    if let Some(m) = mismatch_of(kind, &shown, binary, side) {
        return Some(m);
    }
    if (binary, side) == (Binary::Helper, Side::Emulated) {
        if let Some(interp) = interpreter(path) {
            if !interp.exists() {
                return Some(format!(
                    "{shown} names the program interpreter {} (its dynamic loader), which this host lacks; \
                     build the helper on or for this system",
                    interp.display()
                ));
            }
        }
    }
    None
}

/// The `PT_INTERP` of an ELF64 little-endian file, if it has one.
fn interpreter(path: &Path) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileExt;
    const PT_INTERP: u32 = 3;
    let f = std::fs::File::open(path).ok()?;
    let mut h = [0u8; 64];
    f.read_exact_at(&mut h, 0).ok()?;
    let phoff = u64::from_le_bytes(h[0x20..0x28].try_into().ok()?);
    let phentsize = u64::from(u16::from_le_bytes([h[0x36], h[0x37]]));
    let phnum = u16::from_le_bytes([h[0x38], h[0x39]]);
    if phentsize < 56 {
        return None;
    }
    for i in 0..u64::from(phnum) {
        let mut ph = [0u8; 56];
        f.read_exact_at(&mut ph, phoff.checked_add(i.checked_mul(phentsize)?)?)
            .ok()?;
        if u32::from_le_bytes(ph[0..4].try_into().ok()?) != PT_INTERP {
            continue;
        }
        let offset = u64::from_le_bytes(ph[8..16].try_into().ok()?);
        let size = usize::try_from(u64::from_le_bytes(ph[32..40].try_into().ok()?)).ok()?;
        if size == 0 || size > 4096 {
            return None;
        }
        let mut name = vec![0u8; size];
        f.read_exact_at(&mut name, offset).ok()?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(size);
        return Some(std::ffi::OsStr::from_bytes(&name[..end]).into());
    }
    None
}

/// [`mismatch`] for a file whose header has been read already.
pub fn mismatch_of(kind: Kind, path: &str, binary: Binary, side: Side) -> Option<String> {
    let host = machine_name(EM_HOST);
    match (side, kind) {
        (Side::Emulated, Kind::Elf64 { machine: EM_VE }) => Some(match binary {
            Binary::Library => format!(
                "{path} is a kernel library built for a real VE (NEC SX-Aurora, ELF machine {EM_VE}); \
                 the emulated VE runs {host} code. Build it for the emulator with the host compilers: \
                 with veo-build unset NCC, NCXX and NFORT (or set VEO_BUILD_TARGET=emulated), \
                 by hand use gcc/g++/gfortran -fpic -shared; or run on a VE host with the AVEO backend"
            ),
            Binary::Helper => format!(
                "{path} is a helper program built for a real VE (NEC SX-Aurora, ELF machine {EM_VE}), \
                 such as AVEO's aveorun or a mk_veorun_static helper; the emulated VE needs a {host} \
                 program: unset VEORUN_BIN and VEO_HELPER to re-execute this program, name the \
                 ve-helper binary, or run on a VE host with the AVEO backend"
            ),
        }),
        (Side::Ve, Kind::Elf64 { machine }) if machine != EM_VE => Some(format!(
            "{path} is a {binary} built for {} (ELF machine {machine}), not for the VE; \
             build it with the NEC compilers (with veo-build set NCC/NCXX/NFORT, or install them \
             in /opt/nec/ve/bin, or set VEO_BUILD_TARGET=ve), or run it on the emulated VE",
            machine_name(machine)
        )),
        (Side::Emulated, Kind::Elf64 { machine }) if machine != EM_HOST => Some(format!(
            "{path} is a {binary} built for {} (ELF machine {machine}), not for this host ({host}); \
             build it with this host's compilers",
            machine_name(machine)
        )),
        (_, Kind::OtherElf { class, data }) => Some(format!(
            "{path} is a {}-bit {}-endian ELF file; a {binary} must be 64-bit little-endian",
            if class == 1 { 32 } else { 64 },
            if data == 2 { "big" } else { "little" }
        )),
        (Side::Emulated, Kind::Script) if binary == Binary::Helper => None,
        (_, Kind::Script | Kind::NotElf) => Some(format!(
            "{path} is not an ELF file, so it cannot be a {binary}{}",
            match binary {
                Binary::Library => " (a shared object built with -shared)",
                Binary::Helper => "",
            }
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 64-byte header of an ELF64 little-endian shared object for
    /// `machine`.
    fn header(machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2; // ELFCLASS64
        h[5] = 1; // ELFDATA2LSB
        h[6] = 1; // EV_CURRENT
        h[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn kinds() {
        assert_eq!(
            Kind::of_bytes(&header(EM_VE)),
            Kind::Elf64 { machine: EM_VE }
        );
        assert_eq!(Kind::of_bytes(b"#!/bin/sh\n"), Kind::Script);
        assert_eq!(Kind::of_bytes(b"\x7fELF"), Kind::NotElf);
        assert_eq!(Kind::of_bytes(b""), Kind::NotElf);
        let mut h = header(3);
        h[4] = 1;
        assert_eq!(Kind::of_bytes(&h), Kind::OtherElf { class: 1, data: 1 });
    }

    #[test]
    fn this_program_is_a_host_binary() {
        let exe = std::env::current_exe().unwrap();
        assert_eq!(
            Kind::of_file(&exe).unwrap(),
            Kind::Elf64 { machine: EM_HOST }
        );
        assert_eq!(mismatch(&exe, Binary::Helper, Side::Emulated), None);
        let e = mismatch(&exe, Binary::Library, Side::Ve).unwrap();
        assert!(e.contains("not for the VE") && e.contains("NCC"), "{e}");
    }

    #[test]
    fn a_missing_program_interpreter_is_named() {
        // A host program: one PT_INTERP program header at 64, its string
        // at 120.
        let mut h = header(EM_HOST);
        h[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        h[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        h[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let mut ph = vec![0u8; 56];
        ph[0..4].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
        ph[8..16].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        let interp = b"/nonexistent/ld-veo-test.so.1\0";
        ph[32..40].copy_from_slice(&(interp.len() as u64).to_le_bytes()); // p_filesz
        h.extend_from_slice(&ph);
        h.extend_from_slice(interp);
        let dir = std::env::temp_dir().join(format!("veo-urpc-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("helper");
        std::fs::write(&p, &h).unwrap();
        let e = mismatch(&p, Binary::Helper, Side::Emulated).unwrap();
        assert!(
            e.contains("program interpreter /nonexistent/ld-veo-test.so.1"),
            "{e}"
        );
        // As a library the interpreter does not matter; a bare name is not
        // read from the working directory.
        assert_eq!(mismatch(&p, Binary::Library, Side::Emulated), None);
        assert_eq!(
            mismatch(Path::new("helper"), Binary::Helper, Side::Emulated),
            None
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn each_side_names_the_other() {
        let ve = Kind::of_bytes(&header(EM_VE));
        let e = mismatch_of(ve, "libk.so", Binary::Library, Side::Emulated).unwrap();
        assert!(
            e.contains("built for a real VE") && e.contains("unset NCC, NCXX and NFORT"),
            "{e}"
        );
        let e = mismatch_of(ve, "aveorun", Binary::Helper, Side::Emulated).unwrap();
        assert!(e.contains("VEORUN_BIN"), "{e}");
        assert_eq!(mismatch_of(ve, "libk.so", Binary::Library, Side::Ve), None);
        let arm = Kind::of_bytes(&header(183));
        if EM_HOST != 183 {
            let e = mismatch_of(arm, "libk.so", Binary::Library, Side::Emulated).unwrap();
            assert!(e.contains("aarch64"), "{e}");
        }
        // A script is a fine helper, never a library.
        assert_eq!(
            mismatch_of(Kind::Script, "h", Binary::Helper, Side::Emulated),
            None
        );
        assert!(mismatch_of(Kind::Script, "l", Binary::Library, Side::Emulated).is_some());
        // Unreadable: the caller's error stands.
        assert_eq!(
            mismatch(
                Path::new("/nonexistent/libk.so"),
                Binary::Library,
                Side::Emulated
            ),
            None
        );
    }
}
