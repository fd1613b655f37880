//! Error reporting to C: one line on stderr naming the function and the
//! cause, `errno`, and the last line of defence against panics.

use std::fmt::Display;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Prints `[veo] ERROR: func(): cause` on stderr, on one line.
pub(crate) fn report(func: &str, cause: impl Display) {
    let cause = cause.to_string().replace('\n', " ");
    eprintln!("[veo] ERROR: {func}(): {cause}");
}

/// Prints `[veo] WARNING: func(): cause` on stderr, on one line.
pub(crate) fn warn(func: &str, cause: impl Display) {
    let cause = cause.to_string().replace('\n', " ");
    eprintln!("[veo] WARNING: {func}(): {cause}");
}

/// Sets the C `errno`.
pub(crate) fn set_errno(value: i32) {
    // SAFETY: __errno_location returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() = value };
}

/// Reports, sets `errno` and returns `value`.
pub(crate) fn fail<R>(func: &str, errno: i32, cause: impl Display, value: R) -> R {
    report(func, cause);
    set_errno(errno);
    value
}

/// Runs `body`; a panic (a bug) is reported and gives `value` instead of
/// unwinding into C. Inlined into each C function: it is on every call.
#[inline(always)]
pub(crate) fn guard<R>(func: &str, value: R, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(_) => fail(
            func,
            libc::EFAULT,
            "internal error (a panic was caught)",
            value,
        ),
    }
}

/// The `errno` for a runtime error.
pub(crate) fn errno_of(e: &veo_runtime::Error) -> i32 {
    use veo_runtime::Error as E;
    match e {
        E::OutOfMemory { .. } => libc::ENOMEM,
        E::LibraryNotFound { .. } | E::SymbolNotFound { .. } | E::LibraryUnloaded { .. } => {
            libc::ENOENT
        }
        E::InvalidAddress { .. } => libc::EFAULT,
        E::HelperDied { .. } | E::KernelException { .. } | E::Closed(_) => libc::ESRCH,
        E::TooManyArguments { .. } | E::StackTooLarge { .. } => libc::E2BIG,
        // As for the handles of a kind when there are too many (`handles.rs`).
        E::TooManyContexts { .. } => libc::EMFILE,
        // A function of another proc, a request never submitted, bad input.
        _ => libc::EINVAL,
    }
}
