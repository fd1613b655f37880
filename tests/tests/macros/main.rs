//! Typed stubs of `#[ve_kernel]` blocks against real C and Fortran kernels:
//! the `macros` suite, one test program (tests run in parallel threads).
//!
//! Another test program can include the suite as it is
//! (`#[path = "macros/main.rs"] mod macros;`) or any module of it: shared
//! helpers come from the `veo_tests` library (tests/src/), and nothing here
//! changes process-wide state.

#[cfg(not(veo_no_fortran))]
mod fortran;
mod many;
mod types;
