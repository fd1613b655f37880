//! The syntax model: blocks, kernels, parameters, and their C spelling.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{Attribute, Ident, LitStr, Token, Type, Visibility};

use crate::ctype::{CBase, CType};
use crate::options::Options;
use crate::types::{opaque, Intent, ParamKind, RetType};

/// One `#[ve_kernel(...)] extern "C" { ... }` block.
#[derive(Clone, Debug)]
pub struct KernelBlock {
    /// The options of its `#[ve_kernel(...)]` attribute.
    pub options: Options,
    /// The kernels it declares, in order.
    pub kernels: Vec<Kernel>,
    /// The block's other outer attributes (`#[cfg]`, lint levels), carried
    /// over to every generated item.
    pub attrs: Vec<Attribute>,
    /// The span of the `#[ve_kernel]` attribute (or of the block when the
    /// attribute is not at hand), for errors about the block as a whole.
    pub span: Span,
}

/// One kernel declaration, `fn average(a: VePtr<f64>, n: i32) -> f64;`.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The kernel's Rust name: the async stub's name, and its C symbol
    /// unless `#[link_name]` or `fortran` says otherwise.
    pub name: Ident,
    /// The parameters, in order.
    pub params: Vec<Param>,
    /// How the result comes back.
    pub ret: RetType,
    /// The return type as written (`None` when left out).
    pub ret_type: Option<Box<Type>>,
    /// Attributes carried over to the stubs: doc comments, `#[cfg]`,
    /// `#[cfg_attr]`, lint levels, `#[deprecated]`, `#[must_use]`.
    pub attrs: Vec<Attribute>,
    /// The declaration's visibility, given to both stubs.
    pub vis: Visibility,
    /// The `fn` token (its span is the kernel's location).
    pub fn_token: Token![fn],
    /// `#[link_name = "symbol"]`: the C symbol, taken as written.
    pub link_name: Option<LitStr>,
}

/// One kernel parameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name: a plain identifier.
    pub name: Ident,
    /// Its type as written.
    pub ty: Type,
    /// How it travels.
    pub kind: ParamKind,
    /// The `#[out]` attribute, if it was written.
    pub out_attr: Option<Attribute>,
}

/// C keywords a Rust parameter name may collide with; such names get a
/// trailing `_` in prototypes.
const C_KEYWORDS: &[&str] = &[
    "auto", "case", "char", "default", "double", "float", "goto", "int", "long", "register",
    "restrict", "short", "signed", "sizeof", "switch", "typedef", "union", "unsigned", "void",
    "volatile", "inline", "bool", "_Bool", "extern", "const", "static", "struct", "enum",
];

impl Param {
    /// The C type of this parameter, as the kernel declares it
    /// (see [`Kernel::c_prototype`]).
    pub fn c_type(&self, options: &Options) -> CType {
        let by_ref = options.fortran;
        match &self.kind {
            ParamKind::Scalar(s) if by_ref => CType::pointer(CBase::Scalar(*s), false),
            ParamKind::Scalar(s) => CType::Value(CBase::Scalar(*s)),
            ParamKind::VePtr(elem) => CType::pointer_to(*elem, false),
            ParamKind::Stack { intent, elem, .. } => {
                CType::pointer_to(*elem, *intent == Intent::In)
            }
            ParamKind::Opaque if by_ref => CType::pointer(opaque(&self.ty), false),
            ParamKind::Opaque => CType::Value(opaque(&self.ty)),
        }
    }

    /// The parameter's name in C: the Rust name, with `_` appended if it
    /// is a C keyword.
    pub fn c_name(&self) -> String {
        let name = self.name.unraw().to_string();
        if C_KEYWORDS.contains(&name.as_str()) {
            format!("{name}_")
        } else {
            name
        }
    }

    /// Whether a `fortran` block passes this parameter by reference on the
    /// VE stack (scalars and types known only by name) rather than as is.
    pub fn fortran_by_reference(&self) -> bool {
        matches!(self.kind, ParamKind::Scalar(_) | ParamKind::Opaque)
    }
}

impl Kernel {
    /// The C symbol: `#[link_name]` if given, else the name, lower-cased
    /// with a trailing `_` in a `fortran` block (gfortran's and nfort's
    /// convention).
    pub fn symbol(&self, options: &Options) -> String {
        if let Some(name) = &self.link_name {
            return name.value();
        }
        let name = self.name.unraw().to_string();
        if options.fortran {
            format!("{}_", name.to_lowercase())
        } else {
            name
        }
    }

    /// The 1-based line of the kernel's `fn` token in the parsed source.
    ///
    /// Meaningful for sources given to [`parse_file`](crate::parse_file);
    /// inside a procedural macro the compiler may not report locations.
    pub fn line(&self) -> usize {
        self.fn_token.span.start().line
    }

    /// The name of the synchronous stub: `<name>_sync`.
    pub fn sync_name(&self) -> Ident {
        let name = self.name.unraw();
        Ident::new(&format!("{name}_sync"), self.name.span())
    }

    /// Whether every type in the signature has a known C spelling, so that
    /// [`c_prototype`](Self::c_prototype) is valid C. A type known only by
    /// name (an alias, most likely) is spelled in a comment instead.
    /// `Pod` structs behind references are fine: they are `void *`.
    pub fn is_c_checkable(&self) -> bool {
        !matches!(self.ret, RetType::Opaque(_))
            && self
                .params
                .iter()
                .all(|p| !matches!(p.kind, ParamKind::Opaque))
    }

    /// The C prototype the kernel must have, e.g.
    /// `double average(double *a, int n);`.
    ///
    /// | Rust | C |
    /// |---|---|
    /// | `i8`, `i16`, `i32`, `i64` | `int8_t`, `int16_t`, `int`, `int64_t` |
    /// | `u8`, `u16`, `u32`, `u64` | `uint8_t`, `uint16_t`, `uint32_t`, `uint64_t` |
    /// | `isize`, `usize` | `long`, `unsigned long` |
    /// | `f32`, `f64` | `float`, `double` |
    /// | `c_char`, `c_int`, ... (`core::ffi`, `std::os::raw`, `libc`) | `char`, `int`, ... |
    /// | `VePtr<T>`, `T` a scalar (or array of scalars) | `T *` |
    /// | `VePtr<S>`, `VePtr` | `void *` |
    /// | `&T`, `&[T]`, `&[T; N]` | `const T *` (`const void *` for a `Pod` struct) |
    /// | `&mut T`, `&mut [T]`, `#[out] &mut ...` | `T *` (`void *` for a `Pod` struct) |
    /// | no return type, `()` | `void` |
    ///
    /// With `fortran`, the symbol is the Fortran one and every scalar
    /// parameter becomes a pointer (`int *n`). Types from `<stdint.h>` are
    /// used, so include it before the prototypes. A type the macro knows
    /// only by name is written as a C comment (see
    /// [`is_c_checkable`](Self::is_c_checkable)).
    pub fn c_prototype(&self, options: &Options) -> String {
        let params = if self.params.is_empty() {
            "void".to_string()
        } else {
            self.params
                .iter()
                .map(|p| {
                    let ty = p.c_type(options);
                    let sep = if ty.is_pointer() { "" } else { " " };
                    format!("{ty}{sep}{}", p.c_name())
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ret = self.ret.c_type();
        let sep = if ret.is_pointer() { "" } else { " " };
        format!("{ret}{sep}{}({params});", self.symbol(options))
    }
}
