//! The scalar types a kernel declaration may name, and their C types.

/// A scalar type the macro recognises by its name.
///
/// The `C*` variants are the `core::ffi` / `std::os::raw` / `libc` aliases
/// (`c_int`, `c_long`, ...), which let a declaration name the exact C type.
#[allow(missing_docs)] // each variant is named after its Rust type
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Isize,
    Usize,
    F32,
    F64,
    CChar,
    CSChar,
    CUChar,
    CShort,
    CUShort,
    CInt,
    CUInt,
    CLong,
    CULong,
    CLongLong,
    CULongLong,
    CFloat,
    CDouble,
}

impl Scalar {
    /// Every scalar, in table order.
    pub const ALL: [Scalar; 25] = [
        Scalar::I8,
        Scalar::U8,
        Scalar::I16,
        Scalar::U16,
        Scalar::I32,
        Scalar::U32,
        Scalar::I64,
        Scalar::U64,
        Scalar::Isize,
        Scalar::Usize,
        Scalar::F32,
        Scalar::F64,
        Scalar::CChar,
        Scalar::CSChar,
        Scalar::CUChar,
        Scalar::CShort,
        Scalar::CUShort,
        Scalar::CInt,
        Scalar::CUInt,
        Scalar::CLong,
        Scalar::CULong,
        Scalar::CLongLong,
        Scalar::CULongLong,
        Scalar::CFloat,
        Scalar::CDouble,
    ];

    /// The Rust spelling (the last path segment for the C aliases).
    pub fn rust_name(self) -> &'static str {
        self.names().0
    }

    /// The C type a kernel declares for this scalar.
    ///
    /// | Rust | C |
    /// |---|---|
    /// | `i8` | `int8_t` (`signed char`) |
    /// | `u8`, `u16`, `u32`, `u64` | `uint8_t`, `uint16_t`, `uint32_t`, `uint64_t` |
    /// | `i16` | `int16_t` (`short`) |
    /// | `i32` | `int` |
    /// | `i64` | `int64_t` (`long` on LP64) |
    /// | `isize`, `usize` | `long`, `unsigned long` |
    /// | `f32`, `f64` | `float`, `double` |
    /// | `c_char` ... `c_double` | `char` ... `double`, exactly as named |
    pub fn c_name(self) -> &'static str {
        self.names().1
    }

    /// Whether this is `f32`/`f64`/`c_float`/`c_double`.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            Scalar::F32 | Scalar::F64 | Scalar::CFloat | Scalar::CDouble
        )
    }

    fn names(self) -> (&'static str, &'static str) {
        match self {
            Scalar::I8 => ("i8", "int8_t"),
            Scalar::U8 => ("u8", "uint8_t"),
            Scalar::I16 => ("i16", "int16_t"),
            Scalar::U16 => ("u16", "uint16_t"),
            Scalar::I32 => ("i32", "int"),
            Scalar::U32 => ("u32", "uint32_t"),
            Scalar::I64 => ("i64", "int64_t"),
            Scalar::U64 => ("u64", "uint64_t"),
            Scalar::Isize => ("isize", "long"),
            Scalar::Usize => ("usize", "unsigned long"),
            Scalar::F32 => ("f32", "float"),
            Scalar::F64 => ("f64", "double"),
            Scalar::CChar => ("c_char", "char"),
            Scalar::CSChar => ("c_schar", "signed char"),
            Scalar::CUChar => ("c_uchar", "unsigned char"),
            Scalar::CShort => ("c_short", "short"),
            Scalar::CUShort => ("c_ushort", "unsigned short"),
            Scalar::CInt => ("c_int", "int"),
            Scalar::CUInt => ("c_uint", "unsigned int"),
            Scalar::CLong => ("c_long", "long"),
            Scalar::CULong => ("c_ulong", "unsigned long"),
            Scalar::CLongLong => ("c_longlong", "long long"),
            Scalar::CULongLong => ("c_ulonglong", "unsigned long long"),
            Scalar::CFloat => ("c_float", "float"),
            Scalar::CDouble => ("c_double", "double"),
        }
    }

    /// The scalar a path names, if any: a primitive (`f64`, alone) or a C
    /// alias (`c_int`, `core::ffi::c_int`, `libc::c_int`, ...).
    pub fn from_path(path: &syn::Path) -> Option<Scalar> {
        let last = path.segments.last()?;
        if !last.arguments.is_none() {
            return None;
        }
        let name = last.ident.to_string();
        let found = Scalar::ALL
            .into_iter()
            .find(|s| s.rust_name() == name.as_str())?;
        let primitive = !found.rust_name().starts_with("c_");
        if primitive && (path.segments.len() != 1 || path.leading_colon.is_some()) {
            // `foo::f64` is somebody's type, not the primitive.
            return None;
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_names() {
        assert_eq!(Scalar::I32.c_name(), "int");
        assert_eq!(Scalar::U64.c_name(), "uint64_t");
        assert_eq!(Scalar::Usize.c_name(), "unsigned long");
        assert_eq!(Scalar::CChar.c_name(), "char");
        assert!(Scalar::CDouble.is_float() && !Scalar::I8.is_float());
    }

    #[test]
    fn paths_that_name_scalars() {
        let s = |src: &str| Scalar::from_path(&syn::parse_str(src).unwrap());
        assert_eq!(s("f64"), Some(Scalar::F64));
        assert_eq!(s("libc::c_long"), Some(Scalar::CLong));
        assert_eq!(s("units::f64"), None, "somebody's own type");
        assert_eq!(s("::f64"), None);
        assert_eq!(s("Vec<f64>"), None);
        assert_eq!(s("c_int<T>"), None);
        for scalar in Scalar::ALL {
            assert_eq!(s(scalar.rust_name()), Some(scalar));
        }
    }
}
