//! The runtime's behaviour on the emulated VE, one module per concept: the
//! `core` suite, one test program (tests run in parallel threads).
//!
//! Every module keeps to this file's rules, so that another test program
//! can include the suite as it is (`#[path = "core/main.rs"] mod core_suite;`) or
//! any module of it (`#[path = "core/args.rs"] mod args;`): shared helpers
//! come from the `veo_tests` library (tests/src/); nothing changes
//! process-wide state another test could see (an environment variable the
//! runtime reads, a signal disposition, the working directory): what needs
//! that runs in a child process (`veo_tests::run_child`); and a child is
//! named with `veo_tests::test_path!`, never by a literal path.

mod args;
mod aveo_ve;
mod awaiting;
mod buffer;
mod concurrency;
mod hooks;
mod library;
mod locate;
mod memory;
mod order;
mod proc;
mod queue;
mod requests;
mod smoke;
mod stack;
mod support;
mod trace;
mod wrong_machine;
