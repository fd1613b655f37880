//! The parse phase: from `syn` items to the syntax model.
//!
//! Every problem found is collected; the result is one `syn::Error` with
//! all of them combined, each spanned at the offending token.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ForeignItem, ItemForeignMod, Meta, Pat, ReturnType};

use crate::model::{Kernel, KernelBlock, Param};
use crate::options::Options;
use crate::report::Errors;
use crate::types::{classify_param, classify_ret, Intent, ParamKind};

/// Parses the arguments and the item of a `#[ve_kernel(...)]` attribute
/// macro into a block (the parse phase; [`check`](crate::check) follows).
pub fn parse_block(attr: TokenStream, item: TokenStream) -> syn::Result<KernelBlock> {
    let (block, errors) = parse_partial(attr, item);
    match block {
        Some(block) => errors.finish(block.block),
        None => Err(errors.into_error().expect("no block without an error")),
    }
}

/// A block with the kernels that parsed, beside the errors of the others.
pub(crate) struct Partial {
    pub(crate) block: KernelBlock,
    /// Whether the options parsed (if not, the check would report a
    /// missing library that is only misspelt).
    pub(crate) options_ok: bool,
}

pub(crate) fn parse_partial(attr: TokenStream, item: TokenStream) -> (Option<Partial>, Errors) {
    let mut errors = Errors::default();
    let (options, options_ok) = match syn::parse2::<Options>(attr) {
        Ok(o) => (o, true),
        Err(e) => {
            errors.push(e);
            (Options::default(), false)
        }
    };
    let item: ItemForeignMod = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(e) => {
            if syn::parse2::<syn::Item>(item.clone()).is_err() {
                // Not even an item: syn's own message is the precise one.
                errors.push(e);
            } else {
                let span = item
                    .into_iter()
                    .next()
                    .map_or(Span::call_site(), |t| t.span());
                errors.push(syn::Error::new(
                    span,
                    "#[ve_kernel] goes on an `extern \"C\" { ... }` block of kernel declarations, \
                     e.g. `extern \"C\" { fn average(a: VePtr<f64>, n: i32) -> f64; }`",
                ));
            }
            return (None, errors);
        }
    };
    let block = block_from_item(options, Span::call_site(), &item, &mut errors);
    (Some(Partial { block, options_ok }), errors)
}

/// Lint-level and conditional attributes, allowed on blocks and kernels.
fn is_passthrough(attr: &Attribute) -> bool {
    [
        "cfg", "cfg_attr", "allow", "warn", "deny", "forbid", "expect",
    ]
    .iter()
    .any(|name| attr.path().is_ident(name))
}

/// Builds a block from an `extern` item whose `#[ve_kernel]` attribute has
/// already been taken off (its options are `options`): the kernels that
/// parse, and the errors of the rest pushed onto `errors`.
pub(crate) fn block_from_item(
    options: Options,
    span: Span,
    item: &ItemForeignMod,
    errors: &mut Errors,
) -> KernelBlock {
    if let Some(name) = &item.abi.name {
        if name.value() != "C" {
            errors.push(syn::Error::new(
                name.span(),
                format!(
                    "VE kernels use the C calling convention: write `extern \"C\"`, not `extern \"{}\"`",
                    name.value()
                ),
            ));
        }
    }
    let mut attrs = Vec::new();
    for attr in &item.attrs {
        if matches!(attr.style, syn::AttrStyle::Inner(_)) {
            errors.push(syn::Error::new_spanned(
                attr,
                "put this attribute outside the block, before `extern \"C\"`",
            ));
        } else if attr.path().is_ident("doc") {
            // The block's own docs document nothing that is generated.
        } else if attr.path().is_ident("link") {
            errors.push(syn::Error::new_spanned(
                attr,
                "veo-build names the library: remove `#[link]` and write \
                 `#[ve_kernel(library = \"name\")]`",
            ));
        } else if is_passthrough(attr) {
            attrs.push(attr.clone());
        } else {
            errors.push(syn::Error::new_spanned(
                attr,
                "unsupported attribute on a #[ve_kernel] block: only `#[cfg]`, `#[cfg_attr]` \
                 and lint levels (`#[allow]`, ...) are carried over to the stubs",
            ));
        }
    }
    let mut kernels = Vec::new();
    for foreign in &item.items {
        match kernel_from_item(foreign) {
            Ok(k) => kernels.push(k),
            Err(e) => errors.push(e),
        }
    }
    KernelBlock {
        options,
        kernels,
        attrs,
        span,
    }
}

fn kernel_from_item(item: &ForeignItem) -> syn::Result<Kernel> {
    let f = match item {
        ForeignItem::Fn(f) => f,
        ForeignItem::Verbatim(tokens) => return Err(verbatim_error(tokens)),
        ForeignItem::Static(s) => {
            return Err(syn::Error::new(
                s.static_token.span,
                "a #[ve_kernel] block declares kernel functions only: to reach a VE global, \
                 look its address up at run time and pass a `VePtr<T>`",
            ))
        }
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "a #[ve_kernel] block declares kernel functions only: \
                 `fn name(params) -> T;`",
            ))
        }
    };
    let mut errors = Errors::default();
    let sig = &f.sig;
    let mut carried = Vec::new();
    let mut link_name = None;
    for attr in &f.attrs {
        if attr.path().is_ident("link_name") {
            match &attr.meta {
                Meta::NameValue(nv) => match &nv.value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => link_name = Some(s.clone()),
                    other => errors.push(syn::Error::new_spanned(
                        other,
                        "write the C symbol as a string: `#[link_name = \"symbol\"]`",
                    )),
                },
                _ => errors.push(syn::Error::new_spanned(
                    attr,
                    "write `#[link_name = \"symbol\"]`",
                )),
            }
        } else if is_passthrough(attr)
            || ["doc", "deprecated", "must_use"]
                .iter()
                .any(|n| attr.path().is_ident(n))
        {
            carried.push(attr.clone());
        } else {
            errors.push(syn::Error::new_spanned(
                attr,
                "unsupported attribute on a kernel: only doc comments, `#[cfg]`, `#[cfg_attr]`, \
                 lint levels, `#[deprecated]`, `#[must_use]` and `#[link_name = \"symbol\"]` \
                 are allowed",
            ));
        }
    }
    if let Some(t) = &sig.constness {
        errors.push(syn::Error::new(
            t.span,
            "remove `const`: a kernel runs on the VE",
        ));
    }
    if let Some(t) = &sig.asyncness {
        errors.push(syn::Error::new(
            t.span,
            format!(
                "remove `async`: the stub `{0}` already returns a `Request` to wait on, and \
                 `{0}_sync` blocks until the kernel returns",
                sig.ident
            ),
        ));
    }
    if let Some(t) = &sig.unsafety {
        errors.push(syn::Error::new(
            t.span,
            "remove `unsafe`: the stubs are safe to call (a kernel touches only VE memory and \
             the buffers passed to it)",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "remove this ABI: the block's `extern \"C\"` applies to every kernel",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "a VE kernel is a C function and cannot be generic: declare one kernel per type \
             (e.g. `sum_f32`, `sum_f64`)",
        ));
    }
    if let Some(w) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            w,
            "a VE kernel is a C function and takes no `where` clause: remove it",
        ));
    }
    let mut params = Vec::new();
    for input in &sig.inputs {
        match param_from_arg(input) {
            Ok(p) => params.push(p),
            Err(e) => errors.push(e),
        }
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            v.dots,
            "variadic kernels are not supported: declare every parameter (at most 256)",
        ));
    }
    let (ret, ret_type) = match &sig.output {
        ReturnType::Default => (crate::types::RetType::Unit, None),
        ReturnType::Type(_, ty) => match classify_ret(ty) {
            Ok(r) => (r, Some(ty.clone())),
            Err(e) => {
                errors.push(e);
                (crate::types::RetType::Unit, None)
            }
        },
    };
    errors.finish(Kernel {
        name: sig.ident.clone(),
        params,
        ret,
        ret_type,
        attrs: carried,
        vis: f.vis.clone(),
        fn_token: sig.fn_token,
        link_name,
    })
}

/// Items `syn` keeps as tokens: functions with a body, `safe fn`, ...
fn verbatim_error(tokens: &TokenStream) -> syn::Error {
    if let Ok(item) = syn::parse2::<syn::ItemFn>(tokens.clone()) {
        return syn::Error::new(
            item.block.brace_token.span.join(),
            "a kernel has no Rust body: end the declaration with `;`, the code is in the C or \
             Fortran source",
        );
    }
    let mut iter = tokens.clone().into_iter();
    while let Some(tt) = iter.next() {
        match &tt {
            proc_macro2::TokenTree::Ident(i) if i == "safe" => {
                return syn::Error::new(
                    i.span(),
                    "remove `safe`: the stubs are safe functions already",
                )
            }
            proc_macro2::TokenTree::Punct(p) if p.as_char() == '#' => {
                iter.next(); // the attribute's brackets
            }
            _ => break,
        }
    }
    syn::Error::new_spanned(
        tokens,
        "a #[ve_kernel] block declares kernel functions only: `fn name(params) -> T;`",
    )
}

fn param_from_arg(arg: &FnArg) -> syn::Result<Param> {
    let pt = match arg {
        FnArg::Receiver(r) => {
            return Err(syn::Error::new_spanned(
                r,
                "a kernel is a free C function: remove `self` and pass what the kernel needs \
                 as parameters",
            ))
        }
        FnArg::Typed(pt) => pt,
    };
    let mut errors = Errors::default();
    let mut out_attr = None;
    for attr in &pt.attrs {
        if attr.path().is_ident("out") {
            if !matches!(attr.meta, Meta::Path(_)) {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "`#[out]` takes no arguments: write `#[out]`",
                ));
            } else if out_attr.is_some() {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "`#[out]` is given twice: remove this one",
                ));
            } else {
                out_attr = Some(attr.clone());
            }
        } else {
            errors.push(syn::Error::new_spanned(
                attr,
                "only `#[out]` is allowed on a kernel parameter (OUT intent for a `&mut` buffer)",
            ));
        }
    }
    let name = match &*pt.pat {
        Pat::Ident(pi) if pi.by_ref.is_none() && pi.mutability.is_none() && pi.subpat.is_none() => {
            Some(pi.ident.clone())
        }
        Pat::Ident(pi) if pi.subpat.is_none() => {
            let span = match (&pi.by_ref, &pi.mutability) {
                (Some(r), _) => r.span,
                (None, Some(m)) => m.span,
                _ => pi.span(),
            };
            errors.push(syn::Error::new(
                span,
                format!("write the parameter's name alone: `{}: ...`", pi.ident),
            ));
            None
        }
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                "name this parameter with a plain identifier (the stubs take it under that name)",
            ));
            None
        }
    };
    let kind = match classify_param(&pt.ty) {
        Ok(ParamKind::Stack {
            intent: Intent::InOut,
            slice,
            elem,
        }) if out_attr.is_some() => ParamKind::Stack {
            intent: Intent::Out,
            slice,
            elem,
        },
        Ok(kind) => kind,
        Err(e) => {
            errors.push(e);
            ParamKind::Opaque
        }
    };
    match name {
        Some(name) => errors.finish(Param {
            name,
            ty: (*pt.ty).clone(),
            kind,
            out_attr,
        }),
        None => Err(errors.into_error().expect("an error was pushed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::Scalar;
    use crate::types::RetType;
    use quote::quote;

    fn messages(e: syn::Error) -> Vec<String> {
        e.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_block_with_every_form() {
        let block = parse_block(
            quote!(library = "kernels"),
            quote! {
                #[allow(clippy::too_many_arguments)]
                extern "C" {
                    /// The mean.
                    pub fn average(a: VePtr<f64>, n: i32) -> f64;
                    fn fill(#[out] x: &mut [f64], y: &mut Point, s: &[u8]);
                    #[link_name = "other"]
                    pub(crate) fn renamed(r: Real) -> Real;
                }
            },
        )
        .unwrap();
        assert_eq!(block.options.library.as_deref(), Some("kernels"));
        assert_eq!(block.attrs.len(), 1);
        let [average, fill, renamed] = &block.kernels[..] else {
            panic!("three kernels")
        };
        assert_eq!(average.name, "average");
        assert_eq!(average.attrs.len(), 1);
        assert!(matches!(average.vis, syn::Visibility::Public(_)));
        assert_eq!(average.ret, RetType::Scalar(Scalar::F64));
        assert_eq!(average.params[0].kind, ParamKind::VePtr(Some(Scalar::F64)));
        assert_eq!(fill.ret, RetType::Unit);
        assert!(fill.ret_type.is_none());
        assert_eq!(
            fill.params[0].kind,
            ParamKind::Stack {
                intent: Intent::Out,
                slice: true,
                elem: Some(Scalar::F64)
            }
        );
        assert!(fill.params[0].out_attr.is_some());
        assert_eq!(
            fill.params[1].kind,
            ParamKind::Stack {
                intent: Intent::InOut,
                slice: false,
                elem: None
            }
        );
        assert_eq!(renamed.link_name.as_ref().unwrap().value(), "other");
        assert!(matches!(renamed.ret, RetType::Opaque(_)));
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let err = parse_block(
            quote!(library = "k", bogus),
            quote! {
                extern "C" {
                    async fn a<T>(x: String, y: Vec<u8>, ...) -> (i32, i32);
                    unsafe fn b(self, (p, q): (i32, i32), mut m: i32);
                    static X: i32;
                    fn c() {}
                    #[inline] fn d(#[inout] x: i32, #[out(x)] y: &mut i32);
                }
            },
        )
        .unwrap_err();
        let all = messages(err);
        let expect = [
            "unknown option `bogus`",
            "remove `async`",
            "cannot be generic",
            "`String` cannot be passed",
            "`Vec` cannot be passed",
            "variadic kernels",
            "returns one value",
            "remove `unsafe`",
            "remove `self`",
            "plain identifier",
            "tuples cannot be passed",
            "write the parameter's name alone: `m: ...`",
            "kernel functions only",
            "has no Rust body",
            "unsupported attribute on a kernel",
            "only `#[out]` is allowed",
            "`#[out]` takes no arguments",
        ];
        assert_eq!(all.len(), expect.len(), "{all:#?}");
        for (got, want) in all.iter().zip(expect) {
            assert!(got.contains(want), "{got:?} should contain {want:?}");
        }
    }

    #[test]
    fn block_level_errors() {
        // Sources as strings: rustfmt would rewrite them inside `quote!`.
        let e = |item: &str| {
            let item: TokenStream = item.parse().unwrap();
            messages(parse_block(quote!(static), item).unwrap_err())
        };
        let cases = [
            ("fn f() {}", "goes on an `extern \"C\""),
            ("struct S;", "goes on an `extern \"C\""),
            ("extern \"system\" {}", "not `extern \"system\"`"),
            ("#[link(name = \"k\")] extern \"C\" {}", "remove `#[link]`"),
            (
                "#[repr(C)] extern \"C\" {}",
                "unsupported attribute on a #[ve_kernel] block",
            ),
            ("extern \"C\" { #![allow(unused)] }", "outside the block"),
            ("extern \"C\" { extern \"C\" fn f(); }", "remove this ABI"),
            ("extern \"C\" { safe fn f(); }", "remove `safe`"),
            (
                "extern \"C\" { fn f() where i32: Copy; }",
                "no `where` clause",
            ),
            ("extern \"C\" { type T; }", "kernel functions only"),
            ("extern \"C\" { fn f(x: i32) }", "expected `;`"),
        ];
        for (item, want) in cases {
            let got = e(item);
            assert!(got.len() == 1 && got[0].contains(want), "{item}: {got:?}");
        }
        // `extern` alone is C, and so is `unsafe extern "C"`.
        for item in ["extern { fn f(); }", "unsafe extern \"C\" { fn f(); }"] {
            assert!(parse_block(quote!(static), item.parse().unwrap()).is_ok());
        }
    }
}
