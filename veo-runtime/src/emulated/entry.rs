//! Zero-configuration helper start: the runtime re-executes the current
//! program with the helper variable set, and this constructor turns that
//! child into the helper before `main` runs.

/// Runs before `main` in every program that links veo-runtime.
///
/// Placed in `.init_array` by hand rather than with the `ctor` crate: it is
/// one static, and keeping it in this module lets `Proc` reference it so the
/// linker can never drop it.
#[used]
#[link_section = ".init_array"]
static HELPER_ENTRY: extern "C" fn() = helper_entry;

extern "C" fn helper_entry() {
    ve_helper::enter_if_requested();
}

/// Keeps the constructor linked into every program that starts a proc.
pub(crate) fn ensure_linked() {
    std::hint::black_box(&HELPER_ENTRY);
}
