//! The syntax model of `#[ve_kernel]` blocks.
