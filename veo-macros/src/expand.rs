//! The expand phase: typed stubs for a checked [`KernelBlock`].
//!
//! For `fn scale(x: &mut [f64], n: i32);` in a block with
//! `library = "kernels"`, three items:
//!
//! ```text
//! // Builds the arguments; each push goes through the runtime's sealed
//! // `KernelArg` trait, spanned at the parameter's type.
//! fn __veo_args_scale<'a>(x: &'a mut [f64], n: i32) -> ::veo_runtime::Args<'a>;
//! // Async, on a context: `&mut` buffers get `'a` and stay borrowed.
//! pub fn scale<'a>(ctx: &'a ::veo_runtime::Context, x: &'a mut [f64], n: i32)
//!     -> ::veo_runtime::Result<::veo_runtime::Request<'a, ()>>;
//! // Synchronous, on the proc.
//! pub fn scale_sync(proc: &::veo_runtime::Proc, x: &mut [f64], n: i32)
//!     -> ::veo_runtime::Result<()>;
//! ```
//!
//! A kernel whose arguments all travel in registers (integers, floats,
//! `VePtr`: `fn average(a: VePtr<f64>, n: i32) -> f64;`) gets no builder:
//! its stubs pass the classes and values as two arrays (`Regs`, through the
//! runtime's `RegisterArg`), with no vectors to fill, move and drop on
//! every call ([`register_args`]).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{Lifetime, Type};
use veo_syntax::{Intent, Kernel, KernelBlock, ParamKind};

/// The whole expansion of a checked block.
pub fn expand(block: &KernelBlock) -> TokenStream {
    let (item, library) = library_expr(block);
    let kernels = block
        .kernels
        .iter()
        .map(|k| expand_kernel(block, k, &library));
    let registered = static_registrations(block);
    quote!(#item #registered #(#kernels)*)
}

/// For a `static` block, each kernel's address in the registry the helper
/// reads (so that no `-rdynamic` is needed): a reference to the C symbol,
/// which also makes a kernel that is not linked in a link error, not a
/// failure at run time.
fn static_registrations(block: &KernelBlock) -> TokenStream {
    if block.options.library.is_some() || !block.options.is_static {
        return TokenStream::new();
    }
    let rt = block.options.runtime_path();
    let items = block.kernels.iter().map(|k| {
        let symbol = k.symbol(&block.options);
        quote! {
            const _: () = {
                extern "C" {
                    #[link_name = #symbol]
                    fn __veo_static_kernel();
                }
                #[#rt::__private::linkme::distributed_slice(#rt::__private::STATIC_KERNELS)]
                #[linkme(crate = #rt::__private::linkme)]
                static __VEO_STATIC_KERNEL: #rt::__private::StaticKernel =
                    #rt::__private::StaticKernel::new(#symbol, || __veo_static_kernel as usize);
            };
        }
    });
    quote!(#(#items)*)
}

/// The item a block with a library needs (a static holding the library,
/// embedded once per block), and the `KernelLibrary` value the stubs pass
/// to `kernel(..)`.
fn library_expr(block: &KernelBlock) -> (TokenStream, TokenStream) {
    let rt = block.options.runtime_path();
    match (&block.options.library, block.options.is_static) {
        (Some(name), _) => {
            let var = format!("VEO_BUILT_{name}");
            let help = format!(
                "the VE library `{name}` is not known to this crate: build it in build.rs with \
                 `veo_build::Build::new().file(\"...\").compile(\"{name}\")`, which sets {var}"
            );
            let span = block.options.library_span.unwrap_or_else(Span::call_site);
            // One static per block, named after its first kernel (the
            // stubs' names are unique in their module already).
            let first = block
                .kernels
                .first()
                .map_or_else(|| name.clone(), |k| k.name.to_string());
            let ident = format_ident!("__VEO_LIBRARY_{}", first);
            let item = quote_spanned! {span=>
                #[doc(hidden)]
                #[allow(non_upper_case_globals, dead_code)]
                static #ident: #rt::__private::KernelLibrary = #rt::__private::KernelLibrary::Built(
                    &#rt::__private::BuiltLibrary::from_parts(::core::include!(::core::env!(#var, #help))),
                );
            };
            (item, quote!(#ident))
        }
        // `check` has made sure that one of the two is there.
        _ => (
            TokenStream::new(),
            quote!(#rt::__private::KernelLibrary::Static),
        ),
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

/// `tokens` with every token spanned at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = group.into();
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// The spans of a type's first and last tokens (a `Span` cannot be joined
/// on stable Rust, but a call spanned from one to the other covers both).
fn first_last_span(ty: &Type) -> (Span, Span) {
    let tokens: Vec<_> = quote!(#ty).into_iter().collect();
    let first = tokens.first().map_or_else(Span::call_site, |t| t.span());
    let last = tokens.last().map_or(first, |t| t.span());
    (first, last)
}

/// Most arguments a stub sends without an `Args`: beyond, the arrays on
/// its stack would cost more than they save.
const MAX_REGISTER_ARGS: usize = 32;

/// The arguments of `Regs::new` when every parameter of `kernel` travels in
/// a register (integers, floats and `VePtr`, not passed by reference as a
/// Fortran block passes scalars), at most [`MAX_REGISTER_ARGS`] of them: the
/// classes and the values, two arrays.
fn register_args(kernel: &Kernel, fortran: bool, rt: &syn::Path) -> Option<TokenStream> {
    let in_registers = |p: &veo_syntax::Param| {
        matches!(p.kind, ParamKind::Scalar(_) | ParamKind::VePtr(_))
            && !(fortran && p.fortran_by_reference())
    };
    if kernel.params.len() > MAX_REGISTER_ARGS || !kernel.params.iter().all(in_registers) {
        return None;
    }
    let classes = kernel.params.iter().map(|p| {
        let ty = &p.ty;
        quote!(<#ty as #rt::__private::RegisterArg>::CLASS)
    });
    let values = kernel.params.iter().map(|p| {
        let (name, ty) = (&p.name, &p.ty);
        quote!(<#ty as #rt::__private::RegisterArg>::bits(#name))
    });
    Some(quote!([#(#classes),*], [#(#values),*]))
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
        // The type as written: in the body its lifetime is inferred, and an
        // error message shows it as the user wrote it.
        let ty = &p.ty;
        // The call is spanned from the type's first token to its last, so
        // that the trait error of `KernelArg` underlines the type.
        let (first, last) = first_last_span(ty);
        let (ty, value) = if options.fortran && p.fortran_by_reference() {
            let amp = respan(quote!(&), first);
            (quote!(#amp #ty), quote!(&#name))
        } else if matches!(
            p.kind,
            ParamKind::Stack {
                intent: Intent::Out,
                ..
            }
        ) {
            let open = respan(quote!(#rt::Out<), first);
            let close = respan(quote!(>), last);
            (quote!(#open #ty #close), quote!(#rt::Out(#name)))
        } else {
            (quote!(#ty), quote!(#name))
        };
        let head = quote_spanned!(first=> #args.push::<);
        let tail = quote_spanned!(last=> >(#value););
        quote!(#head #ty #tail)
    });

    let ret = match &kernel.ret_type {
        Some(ty) => quote!(#ty),
        None => quote!(()),
    };
    // Spanned at the return type, so that `KernelRet` errors point there.
    let (ret_first, ret_last) = match &kernel.ret_type {
        Some(ty) => first_last_span(ty),
        None => (name.span(), name.span()),
    };
    let async_ret = {
        let open = respan(quote!(#rt::Result<#rt::Request<), ret_first);
        let close = respan(quote!(>>), ret_last);
        quote!(#open #lifetime, #ret #close)
    };
    let sync_ret = {
        let open = respan(quote!(#rt::Result<), ret_first);
        let close = respan(quote!(>), ret_last);
        quote!(#open #ret #close)
    };
    // The calls too, from their receiver to their closing parenthesis: the
    // stubs' variables keep their hygiene but take the return type's place.
    let at_ret = |name: &str| syn::Ident::new(name, Span::mixed_site().located_at(ret_first));
    let (ctx_r, proc_r) = (at_ret("ctx"), at_ret("proc"));
    // The builder's call ends the expressions; its arguments keep their own
    // spans (and hygiene: they may come from a `macro_rules!` expansion).
    let close = {
        // Lent, not moved: the runtime takes what it needs out of them
        // (moving a few hundred bytes is a `memcpy` per call).
        let builder = respan(quote!(&mut #builder), ret_last);
        let mut params =
            proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, quote!(#(#names),*));
        params.set_span(ret_last);
        quote!(#builder #params)
    };
    // One call that finds the kernel and submits (the runtime borrows the
    // function from its cache, with no reference count to touch). Spanned
    // at the return type, so that a type that is not `KernelRet` gets one
    // error per stub, there.
    // Each stub keeps the address it resolved last in a slot of its own.
    let slot = syn::Ident::new("SLOT", Span::mixed_site());
    let declared = name.to_string();
    let slot_decl = quote!(static #slot: #rt::__private::KernelSlot = #rt::__private::KernelSlot::named(#declared););
    // The glue's path too: a bound of the function it names is reported
    // at the path.
    let call_kernel = respan(quote!(#rt::__private::call_kernel), ret_first);
    let call_kernel_sync = respan(quote!(#rt::__private::call_kernel_sync), ret_first);
    let registers = register_args(kernel, options.fortran, &rt);
    let (async_body, sync_body) = if let Some(regs) = registers.clone() {
        // Every argument in a register: the stub lends the runtime two
        // arrays on its stack, with no `Args` to fill, move and drop.
        let mut regs = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, regs);
        regs.set_span(ret_last);
        let new = respan(quote!(&#rt::__private::Regs::new), ret_last);
        let call_kernel = respan(quote!(#rt::__private::call_kernel_regs), ret_first);
        let call_kernel_sync = respan(quote!(#rt::__private::call_kernel_sync_regs), ret_first);
        (
            quote_spanned! {ret_first=>
                #call_kernel::<#ret, _>(#ctx_r, &#slot, &#library, #symbol, #new #regs)
            },
            quote_spanned! {ret_first=>
                #call_kernel_sync::<#ret, _>(#proc_r, &#slot, &#library, #symbol, #new #regs)
            },
        )
    } else {
        (
            quote_spanned! {ret_first=>
                #call_kernel::<#ret>(#ctx_r, &#slot, &#library, #symbol, #close)
            },
            quote_spanned! {ret_first=>
                #call_kernel_sync::<#ret>(#proc_r, &#slot, &#library, #symbol, #close)
            },
        )
    };

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

    // The `Args` builder, for the stubs that use one.
    let builder_item = registers.is_none().then(|| {
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
        }
    });

    quote! {
        #builder_item

        #(#block_attrs)*
        #(#attrs)*
        #(#docs)*
        #separator
        #[doc = #async_doc]
        #[allow(dead_code, clippy::too_many_arguments)]
        #vis fn #name<#lifetime>(
            #ctx: &#lifetime #rt::Context,
            #(#tied),*
        ) -> #async_ret {
            #slot_decl
            #async_body
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
        ) -> #sync_ret {
            #slot_decl
            #sync_body
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
        // Every argument in a register: no `Args`, two arrays.
        assert!(!out.contains("__veo_args_average"), "{out}");
        let regs = r#"&::veo_runtime::__private::Regs::new(
            [<VePtr<f64> as ::veo_runtime::__private::RegisterArg>::CLASS,
             <i32 as ::veo_runtime::__private::RegisterArg>::CLASS],
            [<VePtr<f64> as ::veo_runtime::__private::RegisterArg>::bits(a),
             <i32 as ::veo_runtime::__private::RegisterArg>::bits(n)])"#;
        has(
            &out,
            r#"static __VEO_LIBRARY_average: ::veo_runtime::__private::KernelLibrary = ::veo_runtime::__private::KernelLibrary::Built(&::veo_runtime::__private::BuiltLibrary::from_parts(::core::include!(::core::env!("VEO_BUILT_kernels","#,
        );
        has(
            &out,
            &format!(
                r#"::veo_runtime::__private::call_kernel_regs::<f64, _>(ctx, &SLOT, &__VEO_LIBRARY_average, "average", {regs})"#
            ),
        );
        has(
            &out,
            r#"static SLOT: ::veo_runtime::__private::KernelSlot = ::veo_runtime::__private::KernelSlot::named("average");"#,
        );
        has(
            &out,
            &format!(
                r#"::veo_runtime::__private::call_kernel_sync_regs::<f64, _>(proc, &SLOT, &__VEO_LIBRARY_average, "average", {regs})"#
            ),
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
        has(&out, r#"args.push::<&mut [f64]>(x);"#);
        has(
            &out,
            r#"args.push::<::veo_runtime::Out<&mut Point>>(::veo_runtime::Out(o));"#,
        );
        has(
            &out,
            r#"::veo_runtime::__private::call_kernel::<()>(ctx, &SLOT, &::veo_runtime::__private::KernelLibrary::Static, "f", "#,
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
            r#"args.push::<VePtr<i32>>(a); args.push::<&mut [f64]>(b);"#,
        );
        has(
            &out,
            r#"crate::rt::__private::call_kernel::<()>(ctx, &SLOT, &__VEO_LIBRARY_Test9, "test9_""#,
        );
        has(&out, r#""test9_", &mut __veo_args_Test9(n, m, a, b))"#);
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
        // On each of the two stubs (no arguments: no `Args` builder).
        assert_eq!(out.matches("# [cfg (unix)]").count(), 2, "{out}");
        assert_eq!(out.matches("# [deprecated]").count(), 2, "{out}");
        // The user's `link_name` names the symbol; the only `link_name`
        // left is the static registry's reference to that symbol.
        assert_eq!(out.matches("link_name").count(), 1, "{out}");
        has(
            &out,
            r#"# [link_name = "real_name"] fn __veo_static_kernel ()"#,
        );
        has(&out, r#"pub(crate) fn Nothing<'a>"#);
        has(&out, r#"pub(crate) fn Nothing_sync"#);
        has(
            &out,
            r#"(ctx, &SLOT, &::veo_runtime::__private::KernelLibrary::Static, "real_name", &::veo_runtime::__private::Regs::new([], []))"#,
        );
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
        // No arguments: nothing to build.
        assert!(!out.contains("__veo_args_make"), "{out}");
        has(
            &out,
            r#"call_kernel_regs::<VePtr<u8>, _>(ctx, &SLOT, &::veo_runtime::__private::KernelLibrary::Static, "make", &::veo_runtime::__private::Regs::new([], []))"#,
        );
    }

    /// Past the arrays' limit, the stub builds an `Args`.
    #[test]
    fn many_register_arguments_build_an_args() {
        let params: Vec<TokenStream> = (0..=MAX_REGISTER_ARGS)
            .map(|i| {
                let name = format_ident!("a{i}");
                quote!(#name: i32)
            })
            .collect();
        let out = expand_str(
            quote!(static),
            quote!(
                extern "C" {
                    fn wide(#(#params),*);
                }
            ),
        );
        has(&out, r#"call_kernel::<()>(ctx, &SLOT"#);
        has(&out, r#"fn __veo_args_wide<'a>("#);
        assert!(!out.contains("Regs"), "{out}");
    }
}
