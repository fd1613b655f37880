//! The entry points that run both phases: on a macro's input
//! ([`parse_and_check`]) and on a whole Rust source file ([`parse_file`]).
//! The phases themselves (`parse`, `check`) know nothing of each other.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{Attribute, Item, Meta};

use crate::check::check;
use crate::model::KernelBlock;
use crate::options::Options;
use crate::parse;
use crate::report::Errors;

/// Parses and checks a `#[ve_kernel(...)]` attribute macro's input, as the
/// macro does: the errors of both phases are reported together (the check
/// runs on the kernels that parsed).
pub fn parse_and_check(attr: TokenStream, item: TokenStream) -> syn::Result<KernelBlock> {
    let (block, mut errors) = parse::parse_partial(attr, item);
    match block {
        Some(block) => {
            if block.options_ok {
                if let Err(e) = check(&block.block) {
                    errors.push(e);
                }
            }
            errors.finish(block.block)
        }
        None => Err(errors.into_error().expect("no block without an error")),
    }
}

/// Whether `attr` is `#[ve_kernel]` / `#[ve_kernel(...)]` under any path
/// (`#[veo_runtime::ve_kernel(...)]` too).
pub fn is_ve_kernel_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "ve_kernel")
}

/// Every `#[ve_kernel]` `extern` block of a Rust source file, also those
/// inside inline `mod`s, parsed and checked; errors of all blocks combined.
pub fn parse_file(source: &str) -> syn::Result<Vec<KernelBlock>> {
    let file = syn::parse_file(source)?;
    let mut blocks = Vec::new();
    let mut errors = Errors::default();
    collect(&file.items, &mut blocks, &mut errors);
    errors.finish(blocks)
}

fn collect(items: &[Item], blocks: &mut Vec<KernelBlock>, errors: &mut Errors) {
    for item in items {
        match item {
            Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect(items, blocks, errors);
                }
            }
            Item::ForeignMod(fm) => {
                let Some(attr) = fm.attrs.iter().find(|a| is_ve_kernel_attr(a)) else {
                    continue;
                };
                let options = match &attr.meta {
                    Meta::Path(_) => Ok(Options::default()),
                    Meta::List(list) => syn::parse2::<Options>(list.tokens.clone()),
                    Meta::NameValue(nv) => Err(syn::Error::new_spanned(
                        nv,
                        "write `#[ve_kernel(library = \"name\")]`",
                    )),
                };
                let options = match options {
                    Ok(o) => o,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                let mut item = fm.clone();
                item.attrs.retain(|a| !is_ve_kernel_attr(a));
                let block = parse::block_from_item(options, attr.span(), &item, errors);
                match check(&block) {
                    Ok(()) => blocks.push(block),
                    Err(e) => errors.push(e),
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kernel;
    use quote::quote;

    const SOURCE: &str = r#"
use veo_runtime::{ve_kernel, VePtr};

#[ve_kernel(library = "kernels")]
extern "C" {
    /// The mean of `n` values.
    pub fn average(a: VePtr<f64>, n: i32) -> f64;
    fn sum_on_stack(a: &[f64], n: usize) -> f64;
    fn scale(x: &mut [f64], n: usize, f: f32);
    fn fill(#[out] x: &mut [u64], n: u16) -> VePtr<u8>;
    fn by_struct(p: &Point, q: &mut Point, v: VePtr<Point>, c: core::ffi::c_char);
    fn nothing();
    fn int(int: i8, long: isize) -> u32;
}

mod inner {
    mod deeper {
        #[veo_runtime::ve_kernel(library = "f", fortran)]
        extern "C" {
            fn TEST9(a: VePtr<i32>, n: i32, m: &mut [f64], x: Real) -> Real;
        }
    }
    extern "C" {
        fn not_a_kernel_block(s: String);
    }
}

fn not_looked_into() {
    #[ve_kernel(static)]
    extern "C" { fn hidden(); }
}
"#;

    #[test]
    fn blocks_in_a_file() {
        let blocks = parse_file(SOURCE).unwrap();
        assert_eq!(blocks.len(), 2);
        let (o, ks) = (&blocks[0].options, &blocks[0].kernels);
        let protos: Vec<String> = ks.iter().map(|k| k.c_prototype(o)).collect();
        assert_eq!(
            protos,
            [
                "double average(double *a, int n);",
                "double sum_on_stack(const double *a, unsigned long n);",
                "void scale(double *x, unsigned long n, float f);",
                "uint8_t *fill(uint64_t *x, uint16_t n);",
                "void by_struct(const void *p, void *q, void *v, char c);",
                "void nothing(void);",
                "uint32_t int(int8_t int_, long long_);",
            ]
        );
        let lines: Vec<usize> = ks.iter().map(Kernel::line).collect();
        assert_eq!(lines, [7, 8, 9, 10, 11, 12, 13]);
        assert!(ks.iter().all(Kernel::is_c_checkable));

        let (o, k) = (&blocks[1].options, &blocks[1].kernels[0]);
        assert!(o.fortran);
        assert_eq!(o.library.as_deref(), Some("f"));
        assert_eq!(k.symbol(o), "test9_");
        assert_eq!(k.line(), 20);
        assert!(!k.is_c_checkable());
        assert_eq!(
            k.c_prototype(o),
            "/* Real */ test9_(int *a, int *n, double *m, /* Real */ *x);"
        );
        assert!(k.params[1].fortran_by_reference() && !k.params[0].fortran_by_reference());
    }

    #[test]
    fn errors_of_every_block_are_combined() {
        let source = r#"
            #[ve_kernel]
            extern "C" { fn a(s: String); }
            mod m {
                #[ve_kernel(library = "x", wat)]
                extern "C" { fn b(); }
                #[ve_kernel(library = "x")]
                extern "C" { fn c(x: u128); }
            }
        "#;
        let messages: Vec<String> = parse_file(source)
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].contains("`String` cannot be passed"));
        assert!(messages[1].starts_with("name the library"));
        assert!(messages[2].starts_with("unknown option `wat`"));
        assert!(messages[3].contains("wider than a VE register"));
        // The library check runs too, once the block parses.
        let e = parse_file("#[ve_kernel] extern \"C\" { fn a(); }").unwrap_err();
        assert!(e.to_string().starts_with("name the library"));
        assert_eq!(e.span().start().line, 1);
    }

    #[test]
    fn raw_identifiers_lose_their_prefix() {
        let blocks = parse_file(
            "#[ve_kernel(library = \"k\")] extern \"C\" { fn r#type(r#int: i32, r#fn: f64); }",
        )
        .unwrap();
        let (o, k) = (&blocks[0].options, &blocks[0].kernels[0]);
        assert_eq!(k.symbol(o), "type");
        assert_eq!(k.sync_name(), "type_sync");
        assert_eq!(k.c_prototype(o), "void type(int int_, double fn);");
    }

    #[test]
    fn link_name_wins() {
        let blocks = parse_file(
            "#[ve_kernel(static, fortran)] extern \"C\" { #[link_name = \"Exact\"] fn f(); fn G(); }",
        )
        .unwrap();
        let (o, ks) = (&blocks[0].options, &blocks[0].kernels);
        assert_eq!(ks[0].symbol(o), "Exact");
        assert_eq!(ks[1].symbol(o), "g_");
        assert_eq!(ks[1].sync_name(), "G_sync");
    }

    fn messages(e: syn::Error) -> Vec<String> {
        e.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn parse_and_check_reports_both_phases() {
        let item: proc_macro2::TokenStream =
            "extern \"C\" { fn a(s: String); fn b(#[out] x: &[u8]); }"
                .parse()
                .unwrap();
        let all = messages(parse_and_check(quote!(), item.clone()).unwrap_err());
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all[0].contains("`String` cannot be passed"));
        assert!(all[1].starts_with("name the library"));
        assert!(all[2].contains("`#[out]` marks a buffer"));
        // A misspelt option does not also report a missing library.
        let all = messages(parse_and_check(quote!(libary = "k"), item).unwrap_err());
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all[0].starts_with("unknown option `libary`"));
    }
}

/// The rules of the check phase, on blocks from the parse phase.
#[cfg(test)]
mod check_rules {
    use crate::parse_block;
    use quote::{format_ident, quote};

    fn check(attr: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> Vec<String> {
        let block = parse_block(attr, item).expect("parses");
        match crate::check(&block) {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn a_library_is_required() {
        let m = check(
            quote!(),
            quote!(
                extern "C" {
                    fn f();
                }
            ),
        );
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("name the library"));
        assert!(check(
            quote!(static),
            quote!(
                extern "C" {
                    fn f();
                }
            )
        )
        .is_empty());
        assert!(check(
            quote!(library = "k"),
            quote!(
                extern "C" {
                    fn f();
                }
            )
        )
        .is_empty());
    }

    #[test]
    fn at_most_256_parameters() {
        let params = |n: usize| {
            let names = (0..n).map(|i| format_ident!("a{i}"));
            quote!(extern "C" { fn many(#(#names: i32),*); })
        };
        assert!(check(quote!(static), params(256)).is_empty());
        let m = check(quote!(static), params(257));
        assert_eq!(m.len(), 1);
        assert!(m[0].contains("at most 256 parameters and `many` declares 257"));
    }

    #[test]
    fn out_needs_a_mutable_reference() {
        let m = check(
            quote!(static),
            quote!(
                extern "C" {
                    fn f(#[out] a: &[f64], #[out] b: i32, #[out] c: &mut [f64]);
                }
            ),
        );
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("not `&[f64]`"));
        assert!(m[1].contains("not `i32`"));
    }

    #[test]
    fn stub_names_are_unique() {
        let m = check(
            quote!(static),
            quote!(
                extern "C" {
                    fn f();
                    fn f_sync();
                    fn g();
                    fn g();
                }
            ),
        );
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].starts_with("`f_sync` would be generated twice (also for `f`)"));
        assert!(m[1].starts_with("`g` would be generated twice"));
    }
}
