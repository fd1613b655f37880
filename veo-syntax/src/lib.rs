//! The syntax model of `#[ve_kernel]` blocks, shared by `veo-macros` (which
//! turns them into typed stubs) and `veo-build` (which checks them against
//! the kernels' C sources).
//!
//! Two phases, as in the macro:
//!
//! 1. **parse** ([`parse_block`], or [`parse_file`] for a whole Rust source
//!    file): builds a [`KernelBlock`] of [`Kernel`]s, classifying every
//!    parameter and return type by its spelling (see [`ParamKind`]);
//! 2. **check** ([`check`]): rules about the block as a whole.
//!
//! Both report through one error collector (`report`), so neither imports
//! the other; the entry points that run both live in `entry`. The C side
//! of a declaration is a typed model ([`CType`]): the prototypes are its
//! spelling, and veo-build's signature check reads the model itself.
//!
//! [`parse_and_check`] runs both on a macro's input, as `#[ve_kernel]` does,
//! and reports the errors of both phases together.
//!
//! Errors are `syn::Error`s spanned at the offending token, with a message
//! saying what to write instead; all the errors found are combined into one.
//!
//! ```
//! let blocks = veo_syntax::parse_file(r#"
//!     #[ve_kernel(library = "kernels")]
//!     extern "C" {
//!         fn average(a: VePtr<f64>, n: i32) -> f64;
//!     }
//! "#).unwrap();
//! let (options, kernel) = (&blocks[0].options, &blocks[0].kernels[0]);
//! assert_eq!(kernel.symbol(options), "average");
//! assert_eq!(kernel.line(), 4);
//! assert_eq!(kernel.c_prototype(options), "double average(double *a, int n);");
//! ```
//!
//! From a clone of the repository, `cargo run -p veo-syntax --example
//! c_header -- FILE.rs` prints the C prototypes of the `#[ve_kernel]`
//! declarations of a Rust file as a header (or the errors `#[ve_kernel]`
//! would report, at their lines); without a file, of a sample.

#![warn(missing_docs)]

mod check;
mod ctype;
mod entry;
mod model;
mod options;
mod parse;
mod report;
mod scalar;
mod types;

pub use check::{check, MAX_PARAMS};
pub use ctype::{CBase, CType};
pub use entry::{is_ve_kernel_attr, parse_and_check, parse_file};
pub use model::{Kernel, KernelBlock, Param};
pub use options::Options;
pub use parse::parse_block;
pub use scalar::Scalar;
pub use types::{type_text, Intent, ParamKind, RetType};
