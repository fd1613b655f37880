//! Compile VE kernels (C, C++, Fortran) at `cargo build` time, in the style
//! of the `cc` and `cxx-build` crates, and hand their path to the crate.
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     veo_build::Build::new()
//!         .files_in("kernels") // every .c .cpp .f90 ... of the folder
//!         .compile("kernels"); // $OUT_DIR/libkernels.so
//! }
//! ```
//!
//! The crate finds the library as `env!("VEO_LIB_kernels")` (an absolute
//! path), which is what `#[ve_kernel(library = "kernels")]` reads.

#![warn(missing_docs)]

mod builder;
mod command;
mod depfile;
mod env;
mod error;
mod lang;
mod toolchain;

pub use builder::{lib_env_var, Artifact, Build, STATIC_LIB};
pub use error::{Error, Result};
pub use lang::Language;
pub use toolchain::{Target, DEFAULT_NEC_ROOT};
