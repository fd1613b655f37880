//! `#[ve_kernel]`: typed VE kernel stubs.
use proc_macro::TokenStream;

/// Declares VE kernels (placeholder until the macro lands).
#[proc_macro_attribute]
pub fn ve_kernel(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
