//! Optional languages: sources left out when no compiler of their language
//! can be started ([`Build::optional`](crate::Build::optional)).

use std::collections::BTreeSet;

use crate::builder::Unit;
use crate::env::Context;
use crate::error::{Error, Result};
use crate::lang::Language;
use crate::toolchain::{Target, Toolchain};

/// The variable that makes an optional language required again:
/// `VEO_REQUIRE_C`, `VEO_REQUIRE_CXX`, `VEO_REQUIRE_FORTRAN`.
pub fn require_env_var(lang: Language) -> &'static str {
    match lang {
        Language::C => "VEO_REQUIRE_C",
        Language::Cxx => "VEO_REQUIRE_CXX",
        Language::Fortran => "VEO_REQUIRE_FORTRAN",
    }
}

/// Whether `VEO_REQUIRE_<LANG>` asks for the language: `1`/`true`/`yes`
/// do, `0`/`false`/`no` and unset do not; anything else is an error.
fn required(ctx: &mut Context, lang: Language) -> Result<bool> {
    let var = require_env_var(lang);
    match ctx.var(var).as_deref() {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(other) => Err(Error::InvalidEnv {
            var: var.into(),
            value: other.into(),
            expected: format!(
                "`1` (a missing {lang} compiler fails the build) or `0` (its sources are left out)"
            ),
        }),
    }
}

/// Whether the compiler veo-build would use for `lang` can be started.
fn compiler_found(
    ctx: &mut Context,
    name: &str,
    lang: Language,
    target: Option<Target>,
) -> Result<bool> {
    let chain = match Toolchain::select(ctx, name, &BTreeSet::from([lang]), target) {
        Ok(chain) => chain,
        Err(Error::ToolNotFound { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut cmd = chain.compiler(lang).cmd();
    cmd.arg("--version");
    match cmd.run_status() {
        Ok(_) => Ok(true),
        Err(Error::ToolNotFound { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes from `units` the sources of each optional language whose
/// compiler cannot be started (unless `VEO_REQUIRE_<LANG>` is set);
/// returns the languages left out.
pub(crate) fn leave_out(
    ctx: &mut Context,
    name: &str,
    optional: &[Language],
    target: Option<Target>,
    units: &mut Vec<Unit>,
) -> Result<Vec<Language>> {
    let mut left_out = Vec::new();
    let present: BTreeSet<Language> = units.iter().map(|u| u.lang).collect();
    for &lang in optional.iter().collect::<BTreeSet<_>>() {
        // A library of this language alone is not left out: its build
        // fails with the compiler's "not found" error, which says what to do.
        let alone = units.iter().all(|u| u.lang == lang);
        if !present.contains(&lang) || alone || required(ctx, lang)? {
            continue;
        }
        if compiler_found(ctx, name, lang, target)? {
            continue;
        }
        let files: Vec<String> = units
            .iter()
            .filter(|u| u.lang == lang)
            .map(|u| u.path.display().to_string())
            .collect();
        ctx.log(&format!(
            "veo-build: no {lang} compiler found; library `{name}` is built without {}",
            files.join(", ")
        ));
        units.retain(|u| u.lang != lang);
        left_out.push(lang);
    }
    if !left_out.is_empty() {
        watch_path(ctx);
    }
    Ok(left_out)
}

/// Has Cargo run the build script again when `PATH` changes or a file
/// changes in one of its directories: a compiler installed after a build
/// that left its language out (`apt install gfortran`) is then found by
/// the next build, as the warning of a build script that left it out
/// promises, rather than only after `cargo clean`.
fn watch_path(ctx: &mut Context) {
    let Some(path) = ctx.var("PATH") else {
        return;
    };
    for dir in std::env::split_paths(&path) {
        if dir.is_absolute() && dir.is_dir() {
            ctx.rerun_if_changed(&dir);
        }
    }
}
