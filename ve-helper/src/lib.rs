//! The emulated VE helper.
