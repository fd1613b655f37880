//! The types a kernel declaration may use, and how each one reaches C.
//!
//! This is the syntactic half of the type table (docs/ARCHITECTURE.md). It recognises the
//! spellings it can see (`f64`, `VePtr<T>`, `&mut [T]`, `c_int`, ...) and
//! rejects the forms that can never work (`String`, tuples, arrays by value,
//! raw pointers, ...) with a message that says what to write instead. A type
//! it cannot judge by its spelling (a type alias, a `Pod` struct) is kept as
//! [`ParamKind::Opaque`] or a pointee of `None`: the runtime's sealed traits
//! `KernelArg` and `KernelRet` check it when the stub is compiled.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{GenericArgument, PathArguments, Type};

use crate::ctype::{CBase, CType};
use crate::scalar::Scalar;

/// How a kernel parameter travels to the VE (docs/ARCHITECTURE.md, "The type
/// table").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// An integer or float, in a register.
    Scalar(Scalar),
    /// `VePtr<T>`: a VE address, in a register. The pointee is `Some` when
    /// `T` is a scalar (or an array of scalars).
    VePtr(Option<Scalar>),
    /// `&T`, `&[T]`, `&mut T`, `&mut [T]`: a buffer on the VE stack. The
    /// element is `Some` when `T` is a scalar (or an array of scalars);
    /// `None` is a `Pod` struct, checked by the runtime's `KernelArg`.
    Stack {
        /// IN for `&`, INOUT for `&mut`, OUT for `#[out] &mut`.
        intent: Intent,
        /// Whether this is a slice (`[T]`) rather than one value.
        slice: bool,
        /// The element's scalar type, when it has one.
        elem: Option<Scalar>,
    },
    /// A type known only by name (an alias, most likely): checked by the
    /// runtime's `KernelArg` trait when the stub is compiled.
    Opaque,
}

/// The intent of a buffer on the VE stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Intent {
    /// Copied to the VE when the call is submitted (`&T`, `&[T]`).
    In,
    /// Copied to the VE and back (`&mut T`, `&mut [T]`).
    InOut,
    /// Copied back only (`#[out] &mut T`, `#[out] &mut [T]`).
    Out,
}

/// A kernel's return type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetType {
    /// No return type, or `()`: C `void`.
    Unit,
    /// An integer or a float.
    Scalar(Scalar),
    /// `VePtr<T>`: a pointer into VE memory (pointee as in [`ParamKind::VePtr`]).
    VePtr(Option<Scalar>),
    /// A type known only by name: checked by the runtime's `KernelRet` trait.
    Opaque(Box<Type>),
}

impl RetType {
    /// The C return type: `void`, the scalar's C type, `T *` or `void *`;
    /// an opaque type is spelled as in Rust inside a comment, see
    /// [`Kernel::is_c_checkable`](crate::Kernel::is_c_checkable).
    pub fn c_type(&self) -> CType {
        match self {
            RetType::Unit => CType::Value(CBase::Void),
            RetType::Scalar(s) => CType::Value(CBase::Scalar(*s)),
            RetType::VePtr(elem) => CType::pointer_to(*elem, false),
            RetType::Opaque(ty) => CType::Value(opaque(ty)),
        }
    }
}

/// The C model of a type known only by its Rust name.
pub(crate) fn opaque(ty: &Type) -> CBase {
    CBase::Opaque(type_text(ty))
}

/// A type as a person writes it: `&mut [f64]` rather than `& mut [f64]`.
///
/// The spacing of `ToTokens` tidied by hand: `prettyplease` formats whole
/// items only, and would be one more crate for every user's build of the
/// macro to print a type in a message.
pub fn type_text(ty: &Type) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (from, to) in [
        ("& ", "&"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        (":: ", "::"),
        (" ::", "::"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
        ("* ", "*"),
    ] {
        text = text.replace(from, to);
    }
    text
}

/// Which position a type is in: the messages differ.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    Param,
    Return,
}

/// Strips `(T)` and invisible groups.
fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => peel(&p.elem),
        Type::Group(g) => peel(&g.elem),
        other => other,
    }
}

/// The scalar element of `T`, `[T; N]`, `[[T; N]; M]`: what a C pointer to
/// it points at.
fn elem_scalar(ty: &Type) -> Option<Scalar> {
    match peel(ty) {
        Type::Path(p) if p.qself.is_none() => Scalar::from_path(&p.path),
        Type::Array(a) => elem_scalar(&a.elem),
        _ => None,
    }
}

/// `VePtr<T>` / `path::VePtr<T>` / `VePtr`: `Some(pointee)`.
fn ve_ptr(ty: &Type) -> Option<Result<Option<Scalar>, syn::Error>> {
    let Type::Path(p) = peel(ty) else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "VePtr" {
        return None;
    }
    Some(match &last.arguments {
        PathArguments::None => Ok(None),
        PathArguments::AngleBracketed(args) => {
            let mut types = args.args.iter().filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            });
            match (types.next(), types.next(), args.args.len()) {
                (Some(t), None, 1) => Ok(elem_scalar(t)),
                _ => Err(syn::Error::new_spanned(
                    args,
                    "`VePtr` takes one type: write `VePtr<T>` with `T` the type the VE memory holds",
                )),
            }
        }
        PathArguments::Parenthesized(a) => Err(syn::Error::new_spanned(
            a,
            "write `VePtr<T>` with `T` the type the VE memory holds",
        )),
    })
}

/// Reports the first explicit lifetime in `ty`: the macro chooses lifetimes.
fn check_lifetimes(ty: &Type) -> syn::Result<()> {
    fn walk(tokens: TokenStream) -> Option<proc_macro2::Span> {
        let mut iter = tokens.into_iter().peekable();
        while let Some(tt) = iter.next() {
            match tt {
                proc_macro2::TokenTree::Punct(p) if p.as_char() == '\'' => {
                    let span = iter.peek().map_or(p.span(), |next| {
                        p.span().join(next.span()).unwrap_or(p.span())
                    });
                    return Some(span);
                }
                proc_macro2::TokenTree::Group(g) => {
                    if let Some(span) = walk(g.stream()) {
                        return Some(span);
                    }
                }
                _ => {}
            }
        }
        None
    }
    match walk(ty.to_token_stream()) {
        Some(span) => Err(syn::Error::new(
            span,
            "remove this lifetime: the stubs choose them (IN data is copied when the call is \
             submitted; OUT and INOUT buffers stay borrowed until the request completes)",
        )),
        None => Ok(()),
    }
}

/// The message for a type named by a path that can never cross to the VE,
/// by its last segment's name.
fn banned_path(name: &str, pos: Position) -> Option<String> {
    banned_path_as(name, name, pos)
}

/// [`banned_path`], naming the type as `shown` in the message.
fn banned_path_as(name: &str, shown: &str, pos: Position) -> Option<String> {
    let ret = pos == Position::Return;
    Some(match name {
        "String" | "str" | "CString" | "CStr" | "OsString" | "OsStr" => {
            if ret {
                format!(
                    "a VE kernel cannot return `{shown}`: return a `VePtr<u8>` (C `char *`) \
                     and read the bytes with `proc.read`"
                )
            } else {
                format!(
                    "`{shown}` cannot be passed to a VE kernel: pass its bytes on the VE stack \
                     as `&[u8]` (C `const uint8_t *`), with a NUL byte at the end if C reads it \
                     as a string"
                )
            }
        }
        "Vec" | "Box" => {
            if ret {
                format!(
                    "a VE kernel cannot return `{name}`: write into an `#[out] &mut [T]` \
                     parameter, or return a `VePtr<T>` to VE memory"
                )
            } else {
                format!(
                    "`{name}` cannot be passed to a VE kernel: pass `&[T]` (copied to the VE \
                     stack, intent IN), `&mut [T]` (INOUT) or `#[out] &mut [T]` (OUT), or copy \
                     it into VE memory and pass a `VePtr<T>`"
                )
            }
        }
        "Option" => "a VE kernel has no `Option`: pass `VePtr<T>` and `VePtr::null()` for a \
                     null VE pointer"
            .into(),
        "Result" if ret => "the stubs already return `veo_runtime::Result<_>`: declare the \
                            kernel's C return type (an integer, a float or `VePtr<T>`)"
            .into(),
        "bool" => "`bool` is not in the VE kernel type table: use `u8` (C `_Bool`/`bool`, 0 \
                   or 1) or `i32` (C `int`)"
            .into(),
        "char" => "a Rust `char` is a 32-bit Unicode scalar value, not C's `char`: use `u8`, \
                   `i8` or `c_char` for a C `char`, or `u32`"
            .into(),
        "i128" | "u128" if ret => format!(
            "`{name}` is wider than a VE register: a kernel returns integers of at most 64 \
             bits (write a wider result through an `#[out] &mut {name}` parameter)"
        ),
        "i128" | "u128" => format!(
            "`{name}` is wider than a VE register: a kernel takes integers of at most 64 bits \
             (split it into two `u64`s, or pass it by reference as `&{name}`)"
        ),
        _ => return None,
    })
}

/// Classifies a parameter type; `out` is whether `#[out]` was given.
pub(crate) fn classify_param(ty: &Type) -> syn::Result<ParamKind> {
    check_lifetimes(ty)?;
    let inner = peel(ty);
    if let Some(ptr) = ve_ptr(inner) {
        return ptr.map(ParamKind::VePtr);
    }
    match inner {
        Type::Path(p) => {
            if p.qself.is_none() {
                if let Some(s) = Scalar::from_path(&p.path) {
                    return Ok(ParamKind::Scalar(s));
                }
                let last = p.path.segments.last().expect("a path has a segment");
                if let Some(msg) = banned_path(&last.ident.to_string(), Position::Param) {
                    return Err(syn::Error::new_spanned(ty, msg));
                }
            }
            Ok(ParamKind::Opaque)
        }
        Type::Reference(r) => {
            let intent = if r.mutability.is_some() {
                Intent::InOut
            } else {
                Intent::In
            };
            let target = peel(&r.elem);
            match target {
                Type::Slice(s) => {
                    reject_in_buffer(&s.elem)?;
                    Ok(ParamKind::Stack {
                        intent,
                        slice: true,
                        elem: elem_scalar(&s.elem),
                    })
                }
                other => {
                    reject_in_buffer(other)?;
                    if let Type::Path(p) = other {
                        if let Some(last) = p.path.segments.last() {
                            let name = last.ident.to_string();
                            if matches!(name.as_str(), "String" | "str" | "Vec" | "CStr") {
                                let msg = if name == "Vec" {
                                    "pass the slice instead: `&[T]` (IN) or `&mut [T]` (INOUT); \
                                     call the stub with `&v[..]` or `&mut v[..]`"
                                        .to_string()
                                } else {
                                    banned_path_as(&name, &type_text(ty), Position::Param)
                                        .expect("banned above")
                                };
                                return Err(syn::Error::new_spanned(ty, msg));
                            }
                        }
                    }
                    Ok(ParamKind::Stack {
                        intent,
                        slice: false,
                        elem: elem_scalar(other),
                    })
                }
            }
        }
        Type::Tuple(t) if t.elems.is_empty() => Err(syn::Error::new_spanned(
            ty,
            "`()` carries no data: remove this parameter",
        )),
        Type::Tuple(_) => Err(syn::Error::new_spanned(
            ty,
            "tuples cannot be passed to a VE kernel: pass each field as its own parameter, or a \
             `#[repr(C)]` `bytemuck::Pod` struct by reference (`&T`)",
        )),
        Type::Array(_) => Err(syn::Error::new_spanned(
            ty,
            "arrays cannot be passed by value (C has no array parameters): pass `&[T; N]` or \
             `&[T]` (copied to the VE stack, C `const T *`), or `&mut [T]` to get the data back",
        )),
        Type::Slice(_) => Err(syn::Error::new_spanned(
            ty,
            "a slice is passed by reference: write `&[T]` (IN) or `&mut [T]` (INOUT)",
        )),
        other => Err(common_rejection(other, Position::Param)),
    }
}

/// Inside `&` / `&mut`: things that cannot be the pointee either.
fn reject_in_buffer(ty: &Type) -> syn::Result<()> {
    match peel(ty) {
        Type::Reference(_) | Type::Ptr(_) => Err(syn::Error::new_spanned(
            ty,
            "a buffer on the VE stack holds plain data: a pointer inside it means nothing on \
             the VE; pass `VePtr<T>` for VE memory",
        )),
        Type::Path(p) if p.qself.is_none() => {
            if let Some(last) = p.path.segments.last() {
                let name = last.ident.to_string();
                if matches!(name.as_str(), "bool" | "char") {
                    return Err(syn::Error::new_spanned(
                        ty,
                        banned_path(&name, Position::Param).expect("listed"),
                    ));
                }
            }
            Ok(())
        }
        Type::ImplTrait(_)
        | Type::TraitObject(_)
        | Type::Infer(_)
        | Type::Macro(_)
        | Type::BareFn(_)
        | Type::Never(_) => Err(common_rejection(peel(ty), Position::Param)),
        _ => Ok(()),
    }
}

/// Messages shared by parameters and return types.
fn common_rejection(ty: &Type, pos: Position) -> syn::Error {
    let msg = match ty {
        Type::Ptr(_) => "host pointers mean nothing on the VE: use `VePtr<T>` for VE memory, \
                         or `&T` / `&[T]` to copy host data onto the VE stack"
            .to_string(),
        Type::BareFn(_) => "a host function pointer cannot be called on the VE: pass a \
                            `VePtr<u8>` to a VE function if the kernel needs one"
            .to_string(),
        Type::ImplTrait(_) => "`impl Trait` is not allowed in a kernel declaration: name the \
                               concrete C-compatible type"
            .to_string(),
        Type::TraitObject(_) => "trait objects cannot cross to the VE: name the concrete \
                                 C-compatible type"
            .to_string(),
        Type::Infer(_) => "write the type out: the macro needs it to marshal the value".into(),
        Type::Never(_) => "a kernel returns to its caller: leave the return type out for C \
                           `void`"
            .into(),
        Type::Macro(_) => "write the type out: a macro in type position cannot be checked; a \
                           type alias can"
            .into(),
        _ if pos == Position::Return => "unsupported return type: a VE kernel returns `()`, an \
                                         integer, `f32`, `f64` or `VePtr<T>`"
            .into(),
        _ => "unsupported parameter type: a VE kernel takes integers, `f32`, `f64`, \
              `VePtr<T>`, or `&T` / `&[T]` / `&mut T` / `&mut [T]` of plain data"
            .into(),
    };
    syn::Error::new_spanned(ty, msg)
}

/// Classifies a return type.
pub(crate) fn classify_ret(ty: &Type) -> syn::Result<RetType> {
    let inner = peel(ty);
    if !matches!(inner, Type::Reference(_)) {
        check_lifetimes(ty)?;
    }
    if let Some(ptr) = ve_ptr(inner) {
        return ptr.map(RetType::VePtr);
    }
    match inner {
        Type::Tuple(t) if t.elems.is_empty() => Ok(RetType::Unit),
        Type::Path(p) => {
            if p.qself.is_none() {
                if let Some(s) = Scalar::from_path(&p.path) {
                    return Ok(RetType::Scalar(s));
                }
                let last = p.path.segments.last().expect("a path has a segment");
                if let Some(msg) = banned_path(&last.ident.to_string(), Position::Return) {
                    return Err(syn::Error::new_spanned(ty, msg));
                }
            }
            Ok(RetType::Opaque(Box::new(ty.clone())))
        }
        Type::Reference(_) => Err(syn::Error::new_spanned(
            ty,
            "a VE kernel cannot return a reference to host memory: return `VePtr<T>` (VE \
             memory), or write through an `#[out] &mut T` parameter",
        )),
        Type::Tuple(_) => Err(syn::Error::new_spanned(
            ty,
            "a VE kernel returns one value: return several through `#[out] &mut T` parameters, \
             or one `#[out] &mut S` with `S` a `bytemuck::Pod` struct",
        )),
        Type::Array(_) | Type::Slice(_) => Err(syn::Error::new_spanned(
            ty,
            "a VE kernel cannot return an array: write it into an `#[out] &mut [T]` parameter",
        )),
        other => Err(common_rejection(other, Position::Return)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(src: &str) -> syn::Result<ParamKind> {
        classify_param(&syn::parse_str(src).unwrap())
    }
    fn ret(src: &str) -> syn::Result<RetType> {
        classify_ret(&syn::parse_str(src).unwrap())
    }
    fn err(r: syn::Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn scalars_by_name() {
        for s in Scalar::ALL {
            assert_eq!(param(s.rust_name()).unwrap(), ParamKind::Scalar(s));
            assert_eq!(ret(s.rust_name()).unwrap(), RetType::Scalar(s));
        }
        assert_eq!(
            param("core::ffi::c_int").unwrap(),
            ParamKind::Scalar(Scalar::CInt)
        );
        assert_eq!(
            param("std::os::raw::c_ulong").unwrap(),
            ParamKind::Scalar(Scalar::CULong)
        );
        // A primitive's name under a path is somebody's own type.
        assert_eq!(param("units::f64").unwrap(), ParamKind::Opaque);
        assert_eq!(param("(f32)").unwrap(), ParamKind::Scalar(Scalar::F32));
    }

    #[test]
    fn pointers_and_buffers() {
        assert_eq!(
            param("VePtr<f64>").unwrap(),
            ParamKind::VePtr(Some(Scalar::F64))
        );
        assert_eq!(
            param("veo_runtime::VePtr<Point>").unwrap(),
            ParamKind::VePtr(None)
        );
        assert_eq!(param("VePtr").unwrap(), ParamKind::VePtr(None));
        assert_eq!(
            param("&[f64]").unwrap(),
            ParamKind::Stack {
                intent: Intent::In,
                slice: true,
                elem: Some(Scalar::F64)
            }
        );
        assert_eq!(
            param("&mut [[i32; 3]; 3]").unwrap(),
            ParamKind::Stack {
                intent: Intent::InOut,
                slice: false,
                elem: Some(Scalar::I32)
            }
        );
        assert_eq!(
            param("&Point").unwrap(),
            ParamKind::Stack {
                intent: Intent::In,
                slice: false,
                elem: None
            }
        );
        assert_eq!(param("Real").unwrap(), ParamKind::Opaque);
        assert_eq!(ret("VePtr<u8>").unwrap(), RetType::VePtr(Some(Scalar::U8)));
        assert_eq!(ret("()").unwrap(), RetType::Unit);
        assert!(matches!(ret("Real").unwrap(), RetType::Opaque(_)));
    }

    #[test]
    fn rejections_say_what_to_write() {
        assert!(err(param("String")).contains("as `&[u8]`"));
        assert!(err(param("&str")).starts_with("`&str` cannot be passed"));
        assert!(err(ret("&'static str")).contains("cannot return a reference"));
        assert!(err(ret("u128")).contains("`#[out] &mut u128`"));
        assert!(err(param("Vec<f64>")).contains("pass `&[T]`"));
        assert!(err(param("&Vec<f64>")).contains("`&v[..]`"));
        assert!(err(param("(i32, i32)")).contains("each field as its own parameter"));
        assert!(err(param("[f64; 4]")).contains("pass `&[T; N]`"));
        assert!(err(param("[f64]")).contains("write `&[T]`"));
        assert!(err(param("*const f64")).contains("use `VePtr<T>`"));
        assert!(err(param("impl Copy")).contains("concrete"));
        assert!(err(param("bool")).contains("use `u8`"));
        assert!(err(param("&[bool]")).contains("use `u8`"));
        assert!(err(param("char")).contains("c_char"));
        assert!(err(param("u128")).contains("64 bits"));
        assert!(err(param("&'static [f64]")).contains("remove this lifetime"));
        assert!(err(param("VePtr<f64, u8>")).contains("takes one type"));
        assert!(err(param("&&f64")).contains("pointer inside it"));
        assert!(err(param("fn(i32)")).contains("function pointer"));
        assert!(err(param("Option<VePtr<f64>>")).contains("VePtr::null()"));
        assert!(err(ret("String")).contains("return a `VePtr<u8>`"));
        assert!(err(ret("&f64")).contains("cannot return a reference"));
        assert!(err(ret("(f64, f64)")).contains("returns one value"));
        assert!(err(ret("[f64; 2]")).contains("`#[out] &mut [T]`"));
        assert!(err(ret("!")).contains("leave the return type out"));
        assert!(err(ret("Vec<u8>")).contains("cannot return `Vec`"));
        assert!(err(ret("Result<f64, ()>")).contains("already return"));
    }

    #[test]
    fn c_spelling_of_returns() {
        let c = |s: &str| ret(s).unwrap().c_type();
        assert_eq!(c("()"), CType::Value(CBase::Void));
        assert_eq!(
            c("VePtr<u8>"),
            CType::pointer(CBase::Scalar(Scalar::U8), false)
        );
        assert_eq!(c("VePtr<u8>").to_string(), "uint8_t *");
        assert_eq!(c("VePtr<Point>").to_string(), "void *");
        assert_eq!(c("Real").to_string(), "/* Real */");
        let text = |s: &str| type_text(&syn::parse_str(s).unwrap());
        assert_eq!(text("& mut [f64]"), "&mut [f64]");
        assert_eq!(text("&[[u8 ; 4]]"), "&[[u8; 4]]");
        assert_eq!(
            text("Option < :: a :: B < T , U > >"),
            "Option<::a::B<T, U>>"
        );
    }
}
