//! Names and paths of any length, through every operation that sends one,
//! for the smallest and the default ring: an error (never a panic), the
//! proc unharmed, and no error message that echoes a huge name back whole.

use super::util::{assert_answers, guard, kernels};
use std::time::Duration;
use veo_runtime::{Args, Proc};

/// The longest error message a huge name may produce.
const MAX_MESSAGE: usize = 8 << 10;

fn check(what: &str, len: usize, r: Result<impl std::fmt::Debug, veo_runtime::Error>) {
    let err = match r {
        Ok(v) => panic!("{what} of a {len}-byte name succeeded: {v:?}"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        text.len() < MAX_MESSAGE,
        "{what} of a {len}-byte name: a {}-byte message",
        text.len()
    );
    let debug = format!("{err:?}");
    assert!(
        debug.len() < MAX_MESSAGE,
        "{what} of a {len}-byte name: a {}-byte debug form",
        debug.len()
    );
}

fn every_operation(proc: &Proc, len: usize) {
    let name = "k".repeat(len);
    let path = format!("/tmp/{}", "p".repeat(len));
    let lib = kernels(proc);
    let ctx = proc.open_context().unwrap();
    check("load_library", len, proc.load_library(&path));
    check("symbol", len, lib.symbol(&name));
    check("function", len, lib.function(&name));
    check("get_function", len, proc.get_function(&name));
    check(
        "static symbol",
        len,
        proc.static_library().unwrap().symbol(&name),
    );
    check(
        "call_sync_by_name",
        len,
        proc.call_sync_by_name::<i64>(&name, Args::new()),
    );
    check(
        "call_by_name",
        len,
        ctx.call_by_name::<i64>(&name, Args::new()).map(|_| ()),
    );
    assert!(proc.is_alive());
    assert_answers(proc);
}

#[test]
fn names_of_any_length_are_errors_never_panics() {
    let _g = guard("long names", Duration::from_secs(300));
    let small = Proc::builder().ring_bytes(64 << 10).build().unwrap();
    let default = Proc::new(0).unwrap();
    for len in [
        5_000,
        20_000,
        200_000,
        256 << 10,
        (256 << 10) + 1,
        1 << 20,
        3 << 20,
    ] {
        every_operation(&small, len);
        every_operation(&default, len);
    }
}
