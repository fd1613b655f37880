//! Compile flags from the environment, as the `cc` crate reads them:
//! `CFLAGS` for C, `CXXFLAGS` for C++, `FFLAGS` for Fortran, and their
//! target-specific forms.

use crate::env::{cargo_var, Context};
use crate::lang::Language;
use crate::toolchain::Target;

/// The variable of `lang`: `CFLAGS`, `CXXFLAGS` or `FFLAGS`; for the NEC
/// compilers `VE_CFLAGS`, `VE_CXXFLAGS`, `VE_FFLAGS` (the host's flags,
/// such as `-march=native`, mean nothing to ncc).
pub(crate) fn base_var(lang: Language, target: Target) -> String {
    let base = match lang {
        Language::C => "CFLAGS",
        Language::Cxx => "CXXFLAGS",
        Language::Fortran => "FFLAGS",
    };
    match target {
        Target::Emulated => base.to_string(),
        Target::Ve => format!("VE_{base}"),
    }
}

/// The flags of `lang` from the environment, split on whitespace: the first
/// set of `<VAR>_<target>`, `<VAR>_<target with _>`, `TARGET_<VAR>` (or
/// `HOST_<VAR>` when Cargo's `TARGET` is its `HOST`, as `cc` does) and
/// `<VAR>`, where `<target>` is Cargo's `TARGET`. Every variable looked at
/// is declared with `rerun-if-env-changed`.
pub(crate) fn env_flags(ctx: &mut Context, lang: Language, target: Target) -> Vec<String> {
    let var = base_var(lang, target);
    let mut names = Vec::new();
    if let Some(t) = cargo_var("TARGET") {
        names.push(format!("{var}_{t}"));
        names.push(format!("{var}_{}", t.replace('-', "_")));
        let kind = if cargo_var("HOST").as_deref() == Some(t.as_str()) {
            "HOST"
        } else {
            "TARGET"
        };
        names.push(format!("{kind}_{var}"));
    }
    names.push(var);
    for name in names {
        if let Some(value) = ctx.var(&name) {
            return value.split_whitespace().map(str::to_string).collect();
        }
    }
    Vec::new()
}
