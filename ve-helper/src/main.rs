//! The standalone helper: the same protocol as the re-executed program, for
//! debugging with gdb or valgrind (`VEORUN_BIN=/path/to/ve-helper`).

fn main() {
    ve_helper::enter_if_requested();
    eprintln!(
        "ve-helper is started by veo-runtime (set VEORUN_BIN or VEO_HELPER to its path); \
         it is not meant to be run by hand"
    );
    std::process::exit(2);
}
