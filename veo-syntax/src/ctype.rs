//! The C type model: what a kernel's parameter or return type is in C, as
//! a type rather than text.
//!
//! The prototypes ([`Kernel::c_prototype`](crate::Kernel::c_prototype)) are
//! its spelling, and veo-build's signature check reads the model itself to
//! list the ABI-identical spellings a C definition may use (`const` or not
//! on a pointee, `long` or `long long`, ...), without taking text apart.

use std::fmt;

use crate::scalar::Scalar;

/// A C type that is not a pointer: a kernel's result, a by-value
/// parameter, or what a pointer points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CBase {
    /// `void`: no result, or the pointee of an untyped pointer or of a
    /// pointer to a `Pod` struct (C names the struct; Rust's prototype
    /// commits to no type).
    Void,
    /// The C type of a scalar ([`Scalar::c_name`]).
    Scalar(Scalar),
    /// A type known only by its Rust name (an alias, most likely), as
    /// written in Rust: spelled as a C comment, so a prototype with it is
    /// not valid C (see [`Kernel::is_c_checkable`](crate::Kernel::is_c_checkable)).
    Opaque(String),
}

impl fmt::Display for CBase {
    /// `void`, `double`, `unsigned long`, or `/* Real */`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CBase::Void => f.write_str("void"),
            CBase::Scalar(s) => f.write_str(s.c_name()),
            // `*/` inside would end the comment early.
            CBase::Opaque(rust) => write!(f, "/* {} */", rust.replace("*/", "* /")),
        }
    }
}

/// The C type of one kernel parameter or result.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    /// A value: `double`, `int`, `void` (a result only).
    Value(CBase),
    /// A pointer, one level deep (the only depth a kernel declaration
    /// produces): `double *`, `const double *`, `void *`.
    Pointer {
        /// What it points at.
        pointee: CBase,
        /// Whether the pointee is `const`: the Rust declaration only
        /// lends the data (`&T`, `&[T]`: intent IN).
        is_const: bool,
    },
}

impl CType {
    /// A pointer to `pointee`.
    pub fn pointer(pointee: CBase, is_const: bool) -> CType {
        CType::Pointer { pointee, is_const }
    }

    /// A pointer to `elem`'s C type, or `void *` for `None` (a struct or
    /// untyped memory).
    pub(crate) fn pointer_to(elem: Option<Scalar>, is_const: bool) -> CType {
        CType::pointer(elem.map_or(CBase::Void, CBase::Scalar), is_const)
    }

    /// Whether this is a pointer.
    pub fn is_pointer(&self) -> bool {
        matches!(self, CType::Pointer { .. })
    }

    /// The type without its pointer, if any: the value's type, or the
    /// pointee.
    pub fn base(&self) -> &CBase {
        match self {
            CType::Value(base) | CType::Pointer { pointee: base, .. } => base,
        }
    }
}

impl fmt::Display for CType {
    /// As in a prototype: `double`, `const double *`, `/* Real */ *`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CType::Value(base) => write!(f, "{base}"),
            CType::Pointer {
                pointee,
                is_const: true,
            } => write!(f, "const {pointee} *"),
            CType::Pointer {
                pointee,
                is_const: false,
            } => write!(f, "{pointee} *"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling() {
        let f64 = CBase::Scalar(Scalar::F64);
        assert_eq!(CType::Value(f64.clone()).to_string(), "double");
        assert_eq!(
            CType::pointer(f64.clone(), true).to_string(),
            "const double *"
        );
        assert_eq!(CType::pointer(f64.clone(), false).to_string(), "double *");
        assert_eq!(CType::pointer_to(None, true).to_string(), "const void *");
        assert_eq!(CType::Value(CBase::Void).to_string(), "void");
        let alias = CBase::Opaque("Real".into());
        assert_eq!(CType::pointer(alias, false).to_string(), "/* Real */ *");
        assert_eq!(
            CBase::Opaque("A</*x*/>".into()).to_string(),
            "/* A</*x* /> */"
        );
        assert!(CType::pointer(f64.clone(), false).is_pointer());
        assert!(!CType::Value(f64.clone()).is_pointer());
        assert_eq!(CType::pointer(f64.clone(), true).base(), &f64);
    }
}
