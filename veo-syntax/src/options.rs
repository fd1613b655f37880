//! The options of `#[ve_kernel(...)]`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::{LitStr, Token};

/// The options of one `#[ve_kernel(...)]` attribute.
///
/// `library = "name"` (the library's `veo-build` name), `static` (kernels
/// linked into the helper), `fortran` (lower-case symbols with a trailing
/// underscore, scalars passed by reference), `crate = path` (where the
/// runtime is; `::veo_runtime` by default).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `library = "name"`.
    pub library: Option<String>,
    /// `static`.
    pub is_static: bool,
    /// `fortran`.
    pub fortran: bool,
    /// `crate = path`.
    pub krate: Option<syn::Path>,
    /// Where `library = "name"` names the library (its string literal).
    pub library_span: Option<Span>,
}

const EXPECTED: &str =
    "expected `library = \"name\"`, `static`, `fortran` or `crate = path`, separated by commas";

/// Whether a library name can become part of an environment variable name
/// (`VEO_LIB_<name>`, set by `veo-build`).
fn valid_library_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Parse for Options {
    /// Parses the tokens inside `#[ve_kernel(...)]`. Every error found is
    /// reported, combined into one.
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut options = Options::default();
        let mut errors: Vec<syn::Error> = Vec::new();
        let mut static_span: Option<Span> = None;
        let mut fortran_span: Option<Span> = None;
        let mut crate_span: Option<Span> = None;
        let duplicate = |span: Span, name: &str, errors: &mut Vec<syn::Error>| {
            errors.push(syn::Error::new(
                span,
                format!("`{name}` is given twice: remove this one"),
            ));
        };
        while !input.is_empty() {
            if input.peek(Token![static]) {
                let token: Token![static] = input.parse()?;
                if static_span.is_some() {
                    duplicate(token.span, "static", &mut errors);
                }
                static_span = Some(token.span);
            } else if input.peek(Token![crate]) {
                let token: Token![crate] = input.parse()?;
                if !input.peek(Token![=]) {
                    return Err(syn::Error::new(
                        token.span,
                        "write `crate = path`, e.g. `crate = ::veo_runtime`",
                    ));
                }
                input.parse::<Token![=]>()?;
                let path = input.call(syn::Path::parse_mod_style)?;
                if crate_span.is_some() {
                    duplicate(token.span, "crate", &mut errors);
                }
                crate_span = Some(token.span);
                options.krate = Some(path);
            } else if input.peek(syn::Ident) {
                let ident: syn::Ident = input.parse()?;
                match ident.to_string().as_str() {
                    "library" => {
                        if !input.peek(Token![=]) {
                            return Err(syn::Error::new(
                                ident.span(),
                                "write `library = \"name\"` with the name given to \
                                 `veo_build::Build::compile`",
                            ));
                        }
                        input.parse::<Token![=]>()?;
                        if !input.peek(LitStr) {
                            return Err(input.error(
                                "write the library name as a string: `library = \"kernels\"`",
                            ));
                        }
                        let lit: LitStr = input.parse()?;
                        if options.library.is_some() {
                            duplicate(ident.span(), "library", &mut errors);
                        } else if !valid_library_name(&lit.value()) {
                            errors.push(syn::Error::new(
                                lit.span(),
                                "a library name is made of ASCII letters, digits, `_` and `-`: \
                                 the name given to `veo_build::Build::compile`, without `lib` \
                                 or `.so`",
                            ));
                        }
                        if options.library.is_none() {
                            options.library = Some(lit.value());
                            options.library_span = Some(lit.span());
                        }
                    }
                    "fortran" => {
                        if input.peek(Token![=]) {
                            return Err(syn::Error::new(
                                ident.span(),
                                "`fortran` takes no value: write `fortran` alone",
                            ));
                        }
                        if fortran_span.is_some() {
                            duplicate(ident.span(), "fortran", &mut errors);
                        }
                        fortran_span = Some(ident.span());
                    }
                    other => {
                        return Err(syn::Error::new(
                            ident.span(),
                            format!("unknown option `{other}`: {EXPECTED}"),
                        ))
                    }
                }
            } else {
                return Err(input.error(EXPECTED));
            }
            if input.is_empty() {
                break;
            }
            if !input.peek(Token![,]) {
                return Err(input.error("expected `,` between options"));
            }
            input.parse::<Token![,]>()?;
        }
        options.is_static = static_span.is_some();
        options.fortran = fortran_span.is_some();
        if let (Some(span), Some(_)) = (static_span, &options.library) {
            errors.push(syn::Error::new(
                span,
                "`static` kernels are linked into the helper and `library = ...` names a \
                 shared library: keep one of the two",
            ));
        }
        match errors.into_iter().reduce(|mut a, b| {
            a.combine(b);
            a
        }) {
            Some(e) => Err(e),
            None => Ok(options),
        }
    }
}

impl Options {
    /// The runtime's path: `crate = path`, or `::veo_runtime`.
    pub fn runtime_path(&self) -> syn::Path {
        self.krate
            .clone()
            .unwrap_or_else(|| syn::parse_quote!(::veo_runtime))
    }

    /// The environment variable `veo-build` sets to the library's path
    /// (`VEO_LIB_<name>`), if the block names a library.
    pub fn library_env_var(&self) -> Option<String> {
        self.library.as_ref().map(|name| format!("VEO_LIB_{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> syn::Result<Options> {
        syn::parse_str(src)
    }

    #[test]
    fn every_option() {
        let o = parse("library = \"kernels\", fortran, crate = crate::rt").unwrap();
        assert_eq!(o.library.as_deref(), Some("kernels"));
        assert!(o.fortran && !o.is_static);
        assert_eq!(o.library_env_var().as_deref(), Some("VEO_LIB_kernels"));
        let path = o.runtime_path();
        assert_eq!(quote::quote!(#path).to_string(), "crate :: rt");
        let o = parse("static,").unwrap();
        assert!(o.is_static && o.library.is_none());
        let path = o.runtime_path();
        assert_eq!(quote::quote!(#path).to_string(), ":: veo_runtime");
        assert!(parse("").unwrap().library.is_none());
    }

    #[test]
    fn errors_say_what_to_write() {
        let e = |s| parse(s).unwrap_err().to_string();
        assert!(e("libary = \"x\"").starts_with("unknown option `libary`: expected `library"));
        assert!(e("library").contains("write `library = \"name\"`"));
        assert!(e("library = kernels").contains("as a string"));
        assert!(e("library = \"lib kernels.so\"").contains("ASCII letters"));
        assert!(e("fortran = true").contains("takes no value"));
        assert!(e("crate").contains("crate = path"));
        assert!(e("static library = \"x\"").contains("expected `,`"));
        assert!(e("static, library = \"x\"").contains("keep one of the two"));
        assert!(e("42").starts_with("expected `library"));
    }

    #[test]
    fn duplicates_are_all_reported() {
        let err = parse("static, static, fortran, fortran").unwrap_err();
        let messages: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(
            messages,
            [
                "`static` is given twice: remove this one",
                "`fortran` is given twice: remove this one"
            ]
        );
        assert!(parse("library = \"a\", library = \"b\"")
            .unwrap_err()
            .to_string()
            .contains("`library` is given twice"));
        assert!(parse("crate = a, crate = b")
            .unwrap_err()
            .to_string()
            .contains("`crate` is given twice"));
    }
}
