//! The tests' own helpers (tests/src/): polling until a deadline and the
//! names of re-run tests.

use std::time::Duration;
use veo_tests::{poll_for, poll_until, test_path};

#[test]
fn polling_goes_on_until_ready_and_gives_the_value() {
    let mut tries = 0;
    let v = poll_for(Duration::from_secs(60), || {
        tries += 1;
        (tries == 100).then_some(tries)
    });
    assert_eq!(v, Some(100));
}

#[test]
fn polling_gives_up_after_the_limit_naming_what_did_not_happen() {
    assert_eq!(poll_for(Duration::ZERO, || None::<()>), None);
    let r = std::panic::catch_unwind(|| poll_until("x", Duration::ZERO, || None::<()>));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert_eq!(msg, "x did not happen within 0ns");
}

#[test]
fn a_test_path_leaves_the_crate_name_out() {
    assert_eq!(test_path("fault", "t"), "t");
    assert_eq!(test_path("fault::fork", "t"), "fork::t");
    assert_eq!(test_path("contract::core::proc", "t"), "core::proc::t");
    let here = veo_tests::test_path!(a_test_path_leaves_the_crate_name_out);
    assert!(
        here.ends_with("support::a_test_path_leaves_the_crate_name_out"),
        "{here}"
    );
}
