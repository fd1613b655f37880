//! The expand phase: typed stubs for a checked [`KernelBlock`].
//!
//! For `fn average(a: VePtr<f64>, n: i32) -> f64;` in a block with
//! `library = "kernels"`, three items:
//!
//! ```text
//! // Builds the arguments; each push goes through the runtime's sealed
//! // `KernelArg` trait, spanned at the parameter's type.
//! fn __veo_args_average<'a>(a: VePtr<f64>, n: i32) -> ::veo_runtime::Args<'a>;
//! // Async, on a context: `&mut` buffers get `'a` and stay borrowed.
//! pub fn average<'a>(ctx: &'a ::veo_runtime::Context, a: VePtr<f64>, n: i32)
//!     -> ::veo_runtime::Result<::veo_runtime::Request<'a, f64>>;
//! // Synchronous, on the proc.
//! pub fn average_sync(proc: &::veo_runtime::Proc, a: VePtr<f64>, n: i32)
//!     -> ::veo_runtime::Result<f64>;
//! ```

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Lifetime, Type};
use veo_syntax::{Intent, Kernel, KernelBlock, ParamKind};

/// The whole expansion of a checked block.
pub fn expand(block: &KernelBlock) -> TokenStream {
    let library = library_expr(block);
    let kernels = block
        .kernels
        .iter()
        .map(|k| expand_kernel(block, k, &library));
    quote!(#(#kernels)*)
}

/// The `KernelLibrary` value the stubs pass to `kernel(..)`.
fn library_expr(block: &KernelBlock) -> TokenStream {
    let rt = block.options.runtime_path();
    match (&block.options.library, block.options.is_static) {
        (Some(name), _) => {
            let var = format!("VEO_LIB_{name}");
            let help = format!(
                "the VE library `{name}` is not known to this crate: build it in build.rs with \
                 `veo_build::Build::new().file(\"...\").compile(\"{name}\")`, which sets {var}"
            );
            let span = block.options.library_span.unwrap_or_else(Span::call_site);
            quote_spanned!(span=> #rt::KernelLibrary::Path(::core::env!(#var, #help)))
        }
        // `check` has made sure that one of the two is there.
        _ => quote!(#rt::KernelLibrary::Static),
    }
}

/// `&mut T` with the lifetime `'a`; every other type as written.
fn with_lifetime(ty: &Type, lifetime: &Lifetime) -> Type {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => {
            let mut r = r.clone();
            r.lifetime = Some(lifetime.clone());
            Type::Reference(r)
        }
        Type::Paren(p) => with_lifetime(&p.elem, lifetime),
        Type::Group(g) => with_lifetime(&g.elem, lifetime),
        other => other.clone(),
    }
}

fn expand_kernel(block: &KernelBlock, kernel: &Kernel, library: &TokenStream) -> TokenStream {
    let options = &block.options;
    let rt = options.runtime_path();
    let lifetime = Lifetime::new("'a", Span::call_site());
    // Names the stubs introduce: hygienic, so that a parameter called `ctx`,
    // `proc` or `args` does not clash with them.
    let ctx = syn::Ident::new("ctx", Span::mixed_site());
    let proc = syn::Ident::new("proc", Span::mixed_site());
    let args = syn::Ident::new("args", Span::mixed_site());
    let function = syn::Ident::new("function", Span::mixed_site());

    let name = &kernel.name;
    let sync_name = kernel.sync_name();
    let builder = format_ident!("__veo_args_{}", name.to_string().trim_start_matches("r#"));
    let symbol = kernel.symbol(options);
    let vis = &kernel.vis;
    let block_attrs = &block.attrs;
    let (docs, attrs): (Vec<_>, Vec<_>) =
        kernel.attrs.iter().partition(|a| a.path().is_ident("doc"));

    let names: Vec<_> = kernel.params.iter().map(|p| &p.name).collect();
    // The async stub and the builder: `&mut` buffers live for `'a`.
    let tied: Vec<TokenStream> = kernel
        .params
        .iter()
        .map(|p| {
            let (name, ty) = (&p.name, with_lifetime(&p.ty, &lifetime));
            quote!(#name: #ty)
        })
        .collect();
    // The sync stub: lifetimes elided.
    let free: Vec<TokenStream> = kernel
        .params
        .iter()
        .map(|p| {
            let (name, ty) = (&p.name, &p.ty);
            quote!(#name: #ty)
        })
        .collect();
    let pushes = kernel.params.iter().map(|p| {
        let name = &p.name;
        let ty = with_lifetime(&p.ty, &lifetime);
        // The trait check is reported at the parameter's type.
        let span = p.ty.span();
        if options.fortran && p.fortran_by_reference() {
            quote_spanned!(span=> #args.push::<&#ty>(&#name);)
        } else if matches!(
            p.kind,
            ParamKind::Stack {
                intent: Intent::Out,
                ..
            }
        ) {
            quote_spanned!(span=> #args.push::<#rt::Out<#ty>>(#rt::Out(#name));)
        } else {
            quote_spanned!(span=> #args.push::<#ty>(#name);)
        }
    });

    let (ret, ret_span) = match &kernel.ret_type {
        Some(ty) => (quote!(#ty), ty.span()),
        None => (quote!(()), name.span()),
    };
    let call = quote_spanned!(ret_span=> #ctx.call::<#ret>);
    let call_sync = quote_spanned!(ret_span=> #proc.call_sync::<#ret>);

    let library_doc = match &options.library {
        Some(l) => format!("library `{l}`"),
        None => "linked into the helper".to_string(),
    };
    let borrows = if kernel.params.iter().any(|p| {
        matches!(
            p.kind,
            ParamKind::Stack {
                intent: Intent::InOut | Intent::Out,
                ..
            }
        )
    }) {
        " The `&mut` buffers stay borrowed until the request completes; their new contents \
         land in them inside the request's `wait` or `peek`."
    } else {
        ""
    };
    let async_doc = format!(
        " Submits the VE kernel `{symbol}` ({library_doc}) to `ctx`'s queue and returns the \
         request that yields its result. Data passed by `&` reference is copied now.{borrows}"
    );
    let sync_doc = format!(
        " Calls the VE kernel `{symbol}` ({library_doc}) on `proc` and waits for its result \
         (the synchronous form of [`{name}`])."
    );
    let separator = if docs.is_empty() {
        quote!()
    } else {
        quote!(#[doc = ""])
    };

    quote! {
        #(#block_attrs)*
        #(#attrs)*
        #[doc(hidden)]
        #[inline]
        #[allow(non_snake_case, unused_mut, dead_code, clippy::too_many_arguments)]
        fn #builder<#lifetime>(#(#tied),*) -> #rt::Args<#lifetime> {
            let mut #args = #rt::Args::new();
            #(#pushes)*
            #args
        }

        #(#block_attrs)*
        #(#attrs)*
        #(#docs)*
        #separator
        #[doc = #async_doc]
        #[allow(dead_code, clippy::too_many_arguments)]
        #vis fn #name<#lifetime>(
            #ctx: &#lifetime #rt::Context,
            #(#tied),*
        ) -> #rt::Result<#rt::Request<#lifetime, #ret>> {
            let #function = #ctx.kernel(&#library, #symbol)?;
            #call(&#function, #builder(#(#names),*))
        }

        #(#block_attrs)*
        #(#attrs)*
        #(#docs)*
        #separator
        #[doc = #sync_doc]
        #[allow(dead_code, clippy::too_many_arguments)]
        #vis fn #sync_name(
            #proc: &#rt::Proc,
            #(#free),*
        ) -> #rt::Result<#ret> {
            let #function = #proc.kernel(&#library, #symbol)?;
            #call_sync(&#function, #builder(#(#names),*))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses, checks and expands; the expansion as one normalised string.
    fn expand_str(attr: TokenStream, item: TokenStream) -> String {
        let block = veo_syntax::parse_block(attr, item).expect("parses");
        veo_syntax::check(&block).expect("checks");
        let tokens = expand(&block);
        // It is valid Rust.
        syn::parse2::<syn::File>(tokens.clone()).expect("the expansion parses as items");
        tokens.to_string()
    }

    /// Whether `needle`'s tokens appear in the expansion (spacing ignored).
    fn has(haystack: &str, needle: &str) {
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        assert!(
            squash(haystack).contains(&squash(needle)),
            "expansion lacks `{needle}`:\n{haystack}"
        );
    }

    #[test]
    fn stubs_of_average() {
        let out = expand_str(
            quote!(library = "kernels"),
            quote! {
                extern "C" {
                    /// The mean.
                    pub fn average(a: VePtr<f64>, n: i32) -> f64;
                }
            },
        );
        has(
            &out,
            r#"pub fn average<'a>(ctx: &'a ::veo_runtime::Context, a: VePtr<f64>, n: i32)
                -> ::veo_runtime::Result<::veo_runtime::Request<'a, f64>>"#,
        );
        has(
            &out,
            r#"pub fn average_sync(proc: &::veo_runtime::Proc, a: VePtr<f64>, n: i32)
                -> ::veo_runtime::Result<f64>"#,
        );
        has(
            &out,
            r#"fn __veo_args_average<'a>(a: VePtr<f64>, n: i32) -> ::veo_runtime::Args<'a>"#,
        );
        has(&out, r#"args.push::<VePtr<f64>>(a); args.push::<i32>(n);"#);
        has(
            &out,
            r#"let function = ctx.kernel(&::veo_runtime::KernelLibrary::Path(::core::env!("VEO_LIB_kernels","#,
        );
        has(
            &out,
            r#", "average")?; ctx.call::<f64>(&function, __veo_args_average(a, n))"#,
        );
        has(
            &out,
            r#"proc.call_sync::<f64>(&function, __veo_args_average(a, n))"#,
        );
        has(
            &out,
            r#"#[doc = r" The mean."] #[doc = ""] #[doc = " Submits the VE kernel `average` (library `kernels`)"#,
        );
    }

    #[test]
    fn buffers_and_intents() {
        let out = expand_str(
            quote!(static),
            quote! {
                extern "C" {
                    fn f(a: &[f64], x: &mut [f64], #[out] o: &mut Point, p: &Point);
                }
            },
        );
        // IN keeps a free lifetime; INOUT and OUT are tied to the request.
        has(
            &out,
            r#"fn f<'a>(ctx: &'a ::veo_runtime::Context, a: &[f64], x: &'a mut [f64], o: &'a mut Point, p: &Point)
                -> ::veo_runtime::Result<::veo_runtime::Request<'a, ()>>"#,
        );
        has(
            &out,
            r#"fn f_sync(proc: &::veo_runtime::Proc, a: &[f64], x: &mut [f64], o: &mut Point, p: &Point)
                -> ::veo_runtime::Result<()>"#,
        );
        has(&out, r#"args.push::<&[f64]>(a);"#);
        has(&out, r#"args.push::<&'a mut [f64]>(x);"#);
        has(
            &out,
            r#"args.push::<::veo_runtime::Out<&'a mut Point>>(::veo_runtime::Out(o));"#,
        );
        has(
            &out,
            r#"ctx.kernel(&::veo_runtime::KernelLibrary::Static, "f")"#,
        );
        has(&out, r#"stay borrowed until the request completes"#);
    }

    #[test]
    fn fortran_passes_scalars_by_reference() {
        let out = expand_str(
            quote!(library = "f", fortran, crate = crate::rt),
            quote! {
                extern "C" {
                    fn Test9(n: i32, m: Real, a: VePtr<i32>, b: &mut [f64]);
                }
            },
        );
        has(&out, r#"args.push::<&i32>(&n); args.push::<&Real>(&m);"#);
        has(
            &out,
            r#"args.push::<VePtr<i32>>(a); args.push::<&'a mut [f64]>(b);"#,
        );
        has(&out, r#"ctx.kernel(&crate::rt::KernelLibrary::Path("#);
        has(&out, r#""test9_")?"#);
        has(
            &out,
            r#"fn Test9<'a>(ctx: &'a crate::rt::Context, n: i32, m: Real,"#,
        );
    }

    #[test]
    fn attributes_are_carried_over() {
        let out = expand_str(
            quote!(static),
            quote! {
                #[cfg(unix)]
                extern "C" {
                    #[allow(non_snake_case)]
                    #[deprecated]
                    #[link_name = "real_name"]
                    pub(crate) fn Nothing();
                }
            },
        );
        // On each of the three items.
        assert_eq!(out.matches("# [cfg (unix)]").count(), 3, "{out}");
        assert_eq!(out.matches("# [deprecated]").count(), 3, "{out}");
        assert!(!out.contains("link_name"));
        has(&out, r#"pub(crate) fn Nothing<'a>"#);
        has(&out, r#"pub(crate) fn Nothing_sync"#);
        has(&out, r#", "real_name")?"#);
        // No user docs: no empty separator line.
        assert!(!out.contains("# [doc = \"\"]"), "{out}");
    }

    #[test]
    fn no_parameters_and_pointer_results() {
        let out = expand_str(
            quote!(static),
            quote!(
                extern "C" {
                    fn make() -> VePtr<u8>;
                }
            ),
        );
        has(
            &out,
            r#"fn make<'a>(ctx: &'a ::veo_runtime::Context,) -> ::veo_runtime::Result<::veo_runtime::Request<'a, VePtr<u8>>>"#,
        );
        has(
            &out,
            r#"fn __veo_args_make<'a>() -> ::veo_runtime::Args<'a> { let mut args = ::veo_runtime::Args::new(); args }"#,
        );
    }
}
