//! The C types a Rust declaration allows its definition to have: every
//! combination of ABI-identical spellings of its parameters and result,
//! read from veo-syntax's C type model ([`CType`]).

use veo_syntax::{CBase, CType, Intent, Kernel, Options, ParamKind, Scalar};

/// Most alternative C types tried for one kernel (see [`variants`]).
pub(super) const MAX_VARIANTS: usize = 256;

/// The C types of the kernel's definition the Rust declaration allows: a
/// function pointer type per combination of ABI-identical spellings
/// (`const` or not on pointers the kernel may only read, `long` or
/// `long long` for 64-bit integers, `char` or `signed char`), capped at
/// [`MAX_VARIANTS`] (beyond, `const` alone varies, then nothing).
pub(super) fn variants(k: &Kernel, o: &Options) -> Vec<String> {
    // (C type, whether the kernel may declare it `const`)
    let types: Vec<(CType, bool)> = std::iter::once((k.ret.c_type(), true))
        .chain(k.params.iter().map(|p| {
            let read_only = !matches!(
                p.kind,
                ParamKind::Stack {
                    intent: Intent::InOut | Intent::Out,
                    ..
                }
            );
            (p.c_type(o), read_only)
        }))
        .collect();
    let slots = |spell: bool, konst: bool| -> Vec<Vec<String>> {
        types
            .iter()
            .map(|(t, read_only)| slot(t, *read_only && konst, spell))
            .collect()
    };
    let count = |s: &[Vec<String>]| {
        s.iter()
            .map(Vec::len)
            .try_fold(1usize, |a, n| a.checked_mul(n))
            .unwrap_or(usize::MAX)
    };
    let mut chosen = slots(true, true);
    if count(&chosen) > MAX_VARIANTS {
        chosen = slots(false, true);
    }
    if count(&chosen) > MAX_VARIANTS {
        chosen = slots(false, false);
    }
    let Some((ret, params)) = chosen.split_first() else {
        return Vec::new(); // never: the result is the first slot
    };
    let mut lists: Vec<Vec<&str>> = vec![Vec::new()];
    for p in params {
        lists = lists
            .into_iter()
            .flat_map(|prefix| {
                p.iter().map(move |t| {
                    let mut v = prefix.clone();
                    v.push(t.as_str());
                    v
                })
            })
            .collect();
    }
    let mut out = Vec::new();
    for r in ret {
        for ps in &lists {
            let list = if ps.is_empty() {
                "void".to_string()
            } else {
                ps.join(", ")
            };
            out.push(format!("{r} (*)({list})"));
        }
    }
    out
}

/// The spellings of one C type, the model's own first: `const` optional on
/// a pointer the kernel may only read (`vary_const`), and ABI-identical
/// types when `spell`.
fn slot(ty: &CType, vary_const: bool, spell: bool) -> Vec<String> {
    match ty {
        CType::Value(base) if spell => spellings(base),
        CType::Value(base) => vec![base.to_string()],
        CType::Pointer { pointee, is_const } => {
            let pointees = if spell {
                pointee_spellings(pointee)
            } else {
                vec![pointee.to_string()]
            };
            let mut out = Vec::new();
            for b in pointees {
                let (plain, constant) = (format!("{b} *"), format!("const {b} *"));
                match (vary_const, *is_const) {
                    (false, true) => out.push(constant),
                    (false, false) => out.push(plain),
                    (true, true) => out.extend([constant, plain]),
                    (true, false) => out.extend([plain, constant]),
                }
            }
            out
        }
    }
}

/// Distinct C types with the same size and signedness as `base` on LP64
/// (x86_64 and the VE), `base` first.
fn spellings(base: &CBase) -> Vec<String> {
    let mut v = vec![base.to_string()];
    let CBase::Scalar(s) = base else {
        return v;
    };
    let other = match s {
        Scalar::I8 | Scalar::CSChar => "char",
        Scalar::CChar => "signed char",
        Scalar::I64 | Scalar::Isize | Scalar::CLong => "long long",
        Scalar::CLongLong => "long",
        Scalar::U64 | Scalar::Usize | Scalar::CULong => "unsigned long long",
        Scalar::CULongLong => "unsigned long",
        _ => return v,
    };
    v.push(other.into());
    v
}

/// The pointees a pointer to `base` may have in C with the same meaning:
/// [`spellings`], `char` for any byte (strings are `char *`), and `void`,
/// which commits to no type.
fn pointee_spellings(base: &CBase) -> Vec<String> {
    let mut v = spellings(base);
    if matches!(base, CBase::Scalar(Scalar::U8 | Scalar::CUChar)) {
        v.push("char".into());
    }
    if *base != CBase::Void {
        v.push("void".into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(src: &str) -> (Kernel, Options) {
        let mut blocks = veo_syntax::parse_file(src).unwrap();
        let b = blocks.remove(0);
        (b.kernels.into_iter().next().unwrap(), b.options)
    }

    #[test]
    fn variants_allow_const_only_where_the_kernel_may_only_read() {
        let (k, o) = kernel(
            "#[ve_kernel(library = \"k\")] extern \"C\" { fn f(a: &[f64], b: &mut [f64], c: VePtr<f32>) -> i32; }",
        );
        let v = variants(&k, &o);
        assert_eq!(v[0], "int (*)(const double *, double *, float *)");
        // const or not, double or void for `a`; double or void for `b`;
        // const or not, float or void for `c`.
        assert_eq!(v.len(), 4 * 2 * 4, "{v:?}");
        assert!(v.contains(&"int (*)(void *, void *, const void *)".to_string()));
        assert!(v.contains(&"int (*)(double *, double *, const float *)".to_string()));
        assert!(!v.iter().any(|t| t.contains(", const double *, ")));
    }

    #[test]
    fn variants_of_64_bit_integers_and_void() {
        let (k, o) = kernel("#[ve_kernel(library = \"k\")] extern \"C\" { fn g(n: i64); fn h(); }");
        assert_eq!(
            variants(&k, &o),
            ["void (*)(int64_t)", "void (*)(long long)"]
        );
        let blocks =
            veo_syntax::parse_file("#[ve_kernel(library = \"k\")] extern \"C\" { fn h(); }")
                .unwrap();
        assert_eq!(variants(&blocks[0].kernels[0], &o), ["void (*)(void)"]);
    }

    #[test]
    fn variants_are_capped() {
        let params: Vec<String> = (0..12).map(|i| format!("p{i}: &[i64]")).collect();
        let (k, o) = kernel(&format!(
            "#[ve_kernel(library = \"k\")] extern \"C\" {{ fn many({}); }}",
            params.join(", ")
        ));
        let v = variants(&k, &o);
        assert_eq!(v.len(), 1, "12 params: exact types only");
        assert!(v[0].starts_with("void (*)(const int64_t *, "), "{}", v[0]);
    }

    #[test]
    fn the_abi_identical_spellings_of_each_scalar() {
        let s = |s: Scalar| spellings(&CBase::Scalar(s));
        assert_eq!(s(Scalar::I8), ["int8_t", "char"]);
        assert_eq!(s(Scalar::CSChar), ["signed char", "char"]);
        assert_eq!(s(Scalar::CChar), ["char", "signed char"]);
        assert_eq!(s(Scalar::Isize), ["long", "long long"]);
        assert_eq!(s(Scalar::CLongLong), ["long long", "long"]);
        assert_eq!(s(Scalar::U64), ["uint64_t", "unsigned long long"]);
        assert_eq!(
            s(Scalar::CULongLong),
            ["unsigned long long", "unsigned long"]
        );
        assert_eq!(s(Scalar::I32), ["int"]);
        assert_eq!(s(Scalar::F64), ["double"]);
        assert_eq!(spellings(&CBase::Void), ["void"]);
        let p = |s: Scalar| pointee_spellings(&CBase::Scalar(s));
        assert_eq!(p(Scalar::U8), ["uint8_t", "char", "void"]);
        assert_eq!(p(Scalar::CUChar), ["unsigned char", "char", "void"]);
        assert_eq!(p(Scalar::I8), ["int8_t", "char", "void"]);
        assert_eq!(pointee_spellings(&CBase::Void), ["void"]);
    }

    #[test]
    fn fortran_scalars_by_reference_may_be_const() {
        let (k, o) = kernel(
            "#[ve_kernel(library = \"f\", fortran)] extern \"C\" { fn s(n: i32, x: &mut [f64]); }",
        );
        assert_eq!(
            variants(&k, &o),
            [
                "void (*)(int *, double *)",
                "void (*)(int *, void *)",
                "void (*)(const int *, double *)",
                "void (*)(const int *, void *)",
                "void (*)(void *, double *)",
                "void (*)(void *, void *)",
                "void (*)(const void *, double *)",
                "void (*)(const void *, void *)",
            ]
        );
    }
}
