//! What goes wrong, and what the runtime does about it (docs/RELIABILITY.md):
//! the `fault` suite, one test program (tests run in parallel threads).
//!
//! A test that must be alone in its process (it forks, exits, sets the
//! environment the runtime reads, or is killed) plays that part in a child
//! re-run of itself (`veo_tests::run_child`); a guard (`util::guard`)
//! aborts the program if a test hangs. The soak test, which measures the
//! whole process's memory, is a program of its own (tests/tests/soak.rs).

mod address;
mod concurrency;
mod drop;
mod endings;
mod fork;
mod fuzz_drain;
mod hang;
mod kernel;
mod kill;
mod misuse;
mod names;
mod output;
mod security;
mod start;
mod unload;
mod util;
mod vh_kill;
