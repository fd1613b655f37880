//! `#[ve_kernel]`: typed VE kernel stubs, checked at compile time.
//!
//! Use it through `veo_runtime::ve_kernel`. The macro is thin: it parses and
//! checks the block with [`veo_syntax`] (shared with `veo-build`) and
//! expands it in its `expand` module.
//!
//! ```text
//! use veo_runtime::{ve_kernel, VePtr};
//!
//! #[ve_kernel(library = "kernels")] // the name given to veo-build
//! extern "C" {
//!     /// The mean of `n` doubles in VE memory.
//!     pub fn average(a: VePtr<f64>, n: i32) -> f64;
//!     fn scale(x: &mut [f64], n: usize, f: f64);     // on the VE stack, INOUT
//!     fn fill(#[out] x: &mut [f64], n: usize);       // on the VE stack, OUT
//! }
//!
//! let avg = average(&ctx, a.as_ptr(), n)?.wait()?; // async, on a context
//! let avg = average_sync(&proc, a.as_ptr(), n)?;   // synchronous, on the proc
//! ```
//!
//! Options: `library = "name"` (the library's veo-build name; the stubs
//! embed the library veo-build built, through the `VEO_BUILT_<name>`
//! variable it sets, and find it at run time as `veo_runtime::BuiltLibrary`
//! says),
//! `static` (kernels linked into the helper), `fortran` (lower-case symbol
//! with a trailing `_`, scalars passed by reference), `crate = path` (where
//! the runtime is, `::veo_runtime` by default).
//!
//! Every parameter is pushed through the runtime's sealed `KernelArg` trait
//! and the result decoded through `KernelRet`, so a type alias is checked
//! like the type it names; forms that can never work (`String`, `Vec`,
//! tuples, arrays by value, generics, ...) are rejected by the macro itself
//! with a message that says what to write instead.

#![warn(missing_docs)]

mod expand;

use proc_macro::TokenStream;

/// Turns an `extern "C"` block of VE kernel declarations into typed stubs:
/// for each `fn k(...) -> R;`, `k(&ctx, ...) -> Result<Request<R>>` (async,
/// on a context) and `k_sync(&proc, ...) -> Result<R>` (on the proc).
///
/// See the crate documentation and `veo_runtime`'s for the type table.
#[proc_macro_attribute]
pub fn ve_kernel(attr: TokenStream, item: TokenStream) -> TokenStream {
    veo_syntax::parse_and_check(attr.into(), item.into())
        .map_or_else(|e| e.to_compile_error(), |block| expand::expand(&block))
        .into()
}
