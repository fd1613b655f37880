//! Binaries built for another machine are refused by name: a kernel
//! library or a helper program built for a real VE (ELF machine 251),
//! given to the emulated VE, gets an error that says so and how to build
//! for the emulator, never the loader's "No such file or directory" for a
//! file that exists; a file that is not ELF, or 32-bit, gets a clear
//! message too. The VE files are fabricated: a real ELF header with
//! `e_machine` 251 (what ncc writes), padded like a small object.

use std::path::{Path, PathBuf};
use veo_runtime::{Error, Proc};
use veo_tests::{is_child, run_child, test_path, write_program, KERNELS};

fn dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("core_wrong_machine");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An ELF64 little-endian file of type `e_type` for `machine`, 4 KiB long.
fn elf_file(name: &str, class: u8, e_type: u16, machine: u16) -> PathBuf {
    let mut h = vec![0u8; 4096];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = class; // 2: ELFCLASS64, 1: ELFCLASS32
    h[5] = 1; // ELFDATA2LSB
    h[6] = 1; // EV_CURRENT
    h[16..18].copy_from_slice(&e_type.to_le_bytes());
    h[18..20].copy_from_slice(&machine.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    let p = dir().join(name);
    write_program(&p, h);
    p
}

const ET_EXEC: u16 = 2;

/// `e_machine` of this host.
fn host_machine() -> u16 {
    veo_urpc::elf::EM_HOST
}
const ET_DYN: u16 = 3;
const EM_VE: u16 = 251;

fn load_error(proc: &Proc, path: &Path) -> String {
    match proc.load_library(path.to_str().unwrap()) {
        Err(e @ Error::LibraryNotFound { .. }) => e.to_string(),
        Err(e) => panic!("expected LibraryNotFound, got {e:?}"),
        Ok(_) => panic!("{} loaded", path.display()),
    }
}

#[test]
fn a_ve_library_is_refused_by_name() {
    let proc = Proc::new(0).unwrap();
    let lib = elf_file("libkernels_ve.so", 2, ET_DYN, EM_VE);
    let e = load_error(&proc, &lib);
    assert!(
        e.contains("built for a real VE")
            && e.contains("ELF machine 251")
            && e.contains("unset NCC, NCXX and NFORT")
            && e.contains("VEO_BUILD_TARGET=emulated"),
        "{e}"
    );
    assert!(!e.contains("No such file or directory"), "{e}");
    assert!(e.contains("libkernels_ve.so"), "{e}");

    // The proc is unharmed: the real kernels still load.
    proc.load_library(KERNELS).unwrap();
}

#[test]
fn not_elf_and_32_bit_libraries_are_named() {
    let proc = Proc::new(0).unwrap();
    let text = dir().join("libtext.so");
    std::fs::write(&text, "not a library\n").unwrap();
    let e = load_error(&proc, &text);
    assert!(e.contains("is not an ELF file"), "{e}");

    let lib32 = elf_file("lib32.so", 1, ET_DYN, 3);
    let e = load_error(&proc, &lib32);
    assert!(e.contains("32-bit little-endian ELF file"), "{e}");

    // A missing file keeps the loader's words.
    let e = load_error(&proc, &dir().join("libmissing.so"));
    assert!(e.contains("No such file or directory"), "{e}");
}

fn start_error(build: impl FnOnce() -> veo_runtime::Result<Proc>) -> (String, String) {
    match build() {
        Err(Error::HelperStart { helper, reason }) => (helper, reason),
        Err(e) => panic!("expected HelperStart, got {e:?}"),
        Ok(_) => panic!("the helper started"),
    }
}

/// Set in the child of the test below, which starts its proc with
/// `VEORUN_BIN` in its environment: every `Proc::new` of a process reads
/// it, so it is never set in this one, whose tests run in threads.
const VEORUN_CHILD: &str = "VEO_TESTS_VEORUN_CHILD";

#[test]
fn a_ve_helper_program_named_by_veorun_bin_is_refused_by_name() {
    if veo_tests::aveo_selected("the helper program named by VEORUN_BIN") {
        return;
    }
    if is_child(VEORUN_CHILD) {
        let r = start_error(|| Proc::new(0));
        assert!(r.1.contains("built for a real VE"), "{}", r.1);
        return;
    }
    let veorun = elf_file("aveorun_ve3_env", 2, ET_EXEC, EM_VE);
    let (status, out, err) = run_child(
        &test_path!(a_ve_helper_program_named_by_veorun_bin_is_refused_by_name),
        VEORUN_CHILD,
        &[("VEORUN_BIN", veorun.to_str().unwrap())],
    );
    assert!(
        status.success() && out.contains("1 passed"),
        "{status}\n{out}\n{err}"
    );
}

#[test]
fn a_ve_helper_program_is_refused_by_name() {
    if veo_tests::aveo_selected("the helper program (ProcBuilder::helper, VEORUN_BIN)") {
        return;
    }
    let veorun = elf_file("aveorun_ve3", 2, ET_EXEC, EM_VE);
    let (helper, reason) = start_error(|| Proc::builder().helper(&veorun).build());
    assert_eq!(helper, veorun.display().to_string());
    assert!(
        reason.contains("built for a real VE")
            && reason.contains("unset VEORUN_BIN and VEO_HELPER"),
        "{reason}"
    );

    // An executable that is neither ELF nor a script.
    let junk = dir().join("junk-helper");
    write_program(&junk, [0u8; 64]);
    let (_, reason) = start_error(|| Proc::builder().helper(&junk).build());
    assert!(reason.contains("is not an ELF file"), "{reason}");

    // A host program whose dynamic loader is missing: exec would say
    // "No such file or directory" about a file that exists.
    let mut h = std::fs::read(elf_file("helper-musl", 2, ET_EXEC, host_machine())).unwrap();
    h[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    h[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    h[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    h[64..68].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
    h[72..80].copy_from_slice(&256u64.to_le_bytes()); // p_offset
    let interp = b"/nonexistent/ld-musl-veo.so.1\0";
    h[96..104].copy_from_slice(&(interp.len() as u64).to_le_bytes()); // p_filesz
    h[256..256 + interp.len()].copy_from_slice(interp);
    let musl = dir().join("helper-musl");
    write_program(&musl, h);
    let (_, reason) = start_error(|| Proc::builder().helper(&musl).build());
    assert!(
        reason.contains("program interpreter /nonexistent/ld-musl-veo.so.1"),
        "{reason}"
    );
    assert!(!reason.contains("No such file or directory"), "{reason}");

    // A 32-bit program.
    let old32 = elf_file("helper32", 1, ET_EXEC, 3);
    let (_, reason) = start_error(|| Proc::builder().helper(&old32).build());
    assert!(reason.contains("32-bit little-endian ELF file"), "{reason}");
}
