//! The check phase: rules about a block as a whole, after parsing.

use std::collections::HashMap;

use crate::model::KernelBlock;
use crate::report::Errors;
use crate::types::{Intent, ParamKind};

/// The most parameters a kernel may take (VEO's and the runtime's limit).
pub const MAX_PARAMS: usize = 256;

/// Checks a parsed block: a library is named (or `static` given), no kernel
/// takes more than [`MAX_PARAMS`] parameters, `#[out]` marks only `&mut`
/// buffers, and no two generated stubs share a name. Every problem is
/// reported, combined into one error.
pub fn check(block: &KernelBlock) -> syn::Result<()> {
    let mut errors = Errors::default();
    let options = &block.options;
    if options.library.is_none() && !options.is_static {
        errors.push(syn::Error::new(
            block.span,
            "name the library that holds these kernels, as given to veo-build \
             (`veo_build::Build::new().file(..).compile(\"kernels\")`): \
             `#[ve_kernel(library = \"kernels\")]`, or `#[ve_kernel(static)]` for kernels \
             linked into the helper",
        ));
    }
    // Stub name -> the kernel that generates it.
    let mut names: HashMap<String, &syn::Ident> = HashMap::new();
    for kernel in &block.kernels {
        if let Some(extra) = kernel.params.get(MAX_PARAMS) {
            errors.push(syn::Error::new(
                extra.name.span(),
                format!(
                    "a VE kernel takes at most {MAX_PARAMS} parameters and `{}` declares {}: \
                     pass the rest in a buffer (`&[T]` or a `VePtr<T>`)",
                    kernel.name,
                    kernel.params.len()
                ),
            ));
        }
        for param in &kernel.params {
            let Some(attr) = &param.out_attr else {
                continue;
            };
            let is_out = matches!(
                param.kind,
                ParamKind::Stack {
                    intent: Intent::Out,
                    ..
                }
            );
            if !is_out {
                errors.push(syn::Error::new_spanned(
                    attr,
                    format!(
                        "`#[out]` marks a buffer the kernel fills in: the parameter must be \
                         `&mut T` or `&mut [T]`, not `{}`",
                        crate::types::type_text(&param.ty)
                    ),
                ));
            }
        }
        let stubs = [kernel.name.to_string(), kernel.sync_name().to_string()];
        if let Some((key, first)) = stubs
            .iter()
            .find_map(|key| names.get(key).map(|first| (key, first)))
        {
            errors.push(syn::Error::new(
                kernel.name.span(),
                format!(
                    "`{key}` would be generated twice (also for `{first}`): every kernel `k` \
                     gets the stubs `k` and `k_sync`; rename this one and keep the C symbol \
                     with `#[link_name = \"...\"]`"
                ),
            ));
        } else {
            for key in stubs {
                names.insert(key, &kernel.name);
            }
        }
    }
    errors.finish(())
}
