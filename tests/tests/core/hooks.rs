//! Proc init hooks (py-veo's `set_proc_init_hook`): they run for every new
//! proc, in registration order, before `Proc::new` returns, and an error
//! from one fails the creation.
//!
//! Hooks are global to the test program, whose tests run in parallel
//! threads, so each hook acts only for procs created on a thread that asked
//! for it (a thread-local gate): the other tests of the program run them as
//! no-ops and never see their effects.

use std::cell::{Cell, RefCell};
use veo_runtime::{set_proc_init_hook, Args, Error, Proc};
use veo_tests::KERNELS;

thread_local! {
    static LOG: RefCell<Option<Vec<&'static str>>> = const { RefCell::new(None) };
    static REFUSE: Cell<bool> = const { Cell::new(false) };
}

fn log(what: &'static str) -> bool {
    LOG.with(|l| match l.borrow_mut().as_mut() {
        Some(v) => {
            v.push(what);
            true
        }
        None => false,
    })
}

#[test]
fn hooks_run_for_every_new_proc_in_order() {
    // The first loads the kernels; the second checks it ran first.
    set_proc_init_hook(|proc| {
        if log("load") {
            proc.load_library(KERNELS)?;
        }
        Ok(())
    });
    set_proc_init_hook(|proc| {
        if log("check") {
            assert_eq!(proc.libraries().len(), 1, "the first hook ran before");
        }
        Ok(())
    });
    LOG.with(|l| *l.borrow_mut() = Some(Vec::new()));
    let p1 = Proc::new(0).unwrap();
    let p2 = std::thread::scope(|s| {
        // Another thread's procs run the hooks too (silently here).
        s.spawn(|| Proc::new(0).unwrap()).join().unwrap()
    });
    let p3 = Proc::new(0).unwrap();
    let seen = LOG.with(|l| l.borrow_mut().take().unwrap());
    assert_eq!(seen, vec!["load", "check", "load", "check"]);

    // The hook's library is there with no load by the program.
    for p in [&p1, &p3] {
        assert_eq!(p.libraries().len(), 1);
        let mut a = Args::new();
        a.i64(2);
        let v: i64 = p.call_sync_by_name("core_one", a).unwrap();
        assert_eq!(v, 2 ^ 0x0123_4567_89ab_cdef);
    }
    assert!(
        p2.libraries().is_empty(),
        "the gate of this test kept it out"
    );
}

#[test]
fn a_failing_hook_fails_proc_creation() {
    set_proc_init_hook(|_| {
        if REFUSE.with(|r| r.get()) {
            return Err(Error::InvalidArgument("refused by the test hook".into()));
        }
        Ok(())
    });
    REFUSE.with(|r| r.set(true));
    match Proc::new(0) {
        Err(Error::InvalidArgument(m)) => assert_eq!(m, "refused by the test hook"),
        other => panic!("expected the hook's error, got {other:?}"),
    }
    REFUSE.with(|r| r.set(false));
    let p = Proc::new(0).unwrap();
    assert!(p.is_alive());
}
