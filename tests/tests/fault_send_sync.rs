//! Concurrency, the compile-time half (docs/RELIABILITY.md): `Send`/`Sync`
//! and borrows, checked at
//! compile time. `tests/ui_send/fail_*.rs` must fail to compile with exactly
//! the `.stderr` beside them (a pending request's buffers cannot be touched,
//! a context cannot be closed or dropped under its requests, VH closures must
//! be `Send + 'static`); `tests/ui_send/pass_*.rs` must compile and run.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite` and read each.

#[test]
fn send_sync_and_borrows() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui_send/pass_*.rs");
    t.compile_fail("tests/ui_send/fail_*.rs");
}
