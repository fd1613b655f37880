//! Builds the VE-side AVEO libraries (csrc/aveo_ve.c) that the helper
//! embeds and loads before any kernel library: `libaveoVE.so`
//! (`veo_prev_req_result`) and `libveohmem.so` (the HMEM address
//! functions), two parts of one source, under the sonames a kernel linked
//! with `-laveoVE` or `-lveohmem` names.
//!
//! `cc` finds the C compiler (honouring `CC`, `CFLAGS` and the target);
//! it builds static archives only, so its compiler is called here to link
//! the shared libraries.

use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "csrc/aveo_ve.c";
/// Each library and the macro that selects its part of the source.
const LIBRARIES: [(&str, &str); 2] = [
    ("libaveoVE.so", "VEO_RS_AVEOVE"),
    ("libveohmem.so", "VEO_RS_VEOHMEM"),
];

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // With cc's metadata on, only `rerun-if-env-changed` lines for the
    // variables it reads (CC, CFLAGS...) are printed: linking directives
    // come from `compile`, which is not called.
    let compiler = cc::Build::new().pic(true).opt_level(2).get_compiler();
    for (lib, part) in LIBRARIES {
        let path = out.join(lib);
        let mut cmd: Command = compiler.to_command();
        cmd.args([
            "-shared",
            "-fvisibility=hidden",
            "-std=c11",
            "-Wall",
            "-Werror",
        ])
        .arg(format!("-D{part}"))
        .arg(format!("-Wl,-soname,{lib}"))
        .arg("-o")
        .arg(&path)
        .arg(SOURCE);
        match cmd.output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                eprintln!(
                    "error: building {lib} failed: {cmd:?}\n{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("error: cannot run the C compiler for {lib}: {cmd:?}: {e}");
                std::process::exit(1);
            }
        }
    }
}
