//! Fortran: gfortran writes C prototypes of the source
//! (`-fc-prototypes -fc-prototypes-external`), and a C probe checks the
//! kernels against those; the mismatches then point at the Fortran
//! definition rather than the generated header.

use std::fs;
use std::path::Path;

use super::probe::{c_escape, Probe};
use super::report::{display_path, Mismatch};
use super::{Decl, Request};
use crate::env::Context;
use crate::error::Result;
use crate::files::{mkdir, write_if_changed};
use crate::lang::Language;
use crate::toolchain;

/// Fortran: gfortran writes the C prototypes of the source, a C unit
/// checks them.
pub(super) fn check_fortran(
    ctx: &mut Context,
    req: &Request<'_>,
    i: usize,
    decls: &[&Decl],
    dir: &Path,
) -> Result<Vec<Mismatch>> {
    let unit = &req.units[i];
    let fc = req.chain.compiler(Language::Fortran);
    let mods = dir.join(format!("fmod-{i}"));
    mkdir(&mods)?;
    let mut cmd = fc.cmd();
    cmd.args(&req.flags[&Language::Fortran])
        .args([
            "-fsyntax-only",
            "-fc-prototypes",
            "-fc-prototypes-external",
            "-J",
        ])
        .arg(&mods)
        .arg(&unit.path);
    let header_text = cmd.run_stdout()?;
    let header = dir.join(format!("fortran-{i}.h"));
    write_if_changed(&header, &header_text)?;
    let cc = toolchain::host_compiler(ctx, Language::C);
    let probe = Probe {
        tool: cc,
        cxx: false,
        flags: req.preprocessor.to_vec(),
        include: format!("#include \"{}\"", c_escape(&header.display().to_string())),
        def_file: unit.path.clone(),
        dir,
        stem: format!("f{i}"),
    };
    let source = fs::read_to_string(&unit.path).unwrap_or_default();
    let mut found = probe.run(decls)?;
    for m in &mut found {
        // The note points into the generated header: show the Fortran
        // definition and gfortran's C view of it instead.
        m.c_file = Some(display_path(&unit.path));
        m.c_line = fortran_line(&source, &m.kernel);
        m.c_decl = header_text
            .lines()
            .find(|l| {
                l.contains(&format!("{} (", m.kernel)) || l.contains(&format!("{}(", m.kernel))
            })
            .map(|l| format!("gfortran's C prototype of it: {}", l.trim()));
    }
    Ok(found)
}

/// The line of `subroutine name` / `function name` (or of
/// `bind(C, name="symbol")`) in a Fortran source.
fn fortran_line(source: &str, symbol: &str) -> Option<usize> {
    let name = symbol.strip_suffix('_').unwrap_or(symbol).to_lowercase();
    let bind = format!("name=\"{}\"", symbol.to_lowercase());
    source
        .lines()
        .position(|line| {
            let l = line.to_lowercase();
            let code = l.split('!').next().unwrap_or("");
            let words: Vec<&str> = code
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .collect();
            let defines = words
                .windows(2)
                .any(|w| (w[0] == "subroutine" || w[0] == "function") && w[1] == name);
            defines && words.first().is_none_or(|w| *w != "end")
                || code.replace(' ', "").contains(&bind)
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_definition_lines() {
        let src = "! average\nmodule m\ncontains\n  real(8) function Average(a, n)\n  end function average\n  subroutine s(x) bind(C, name=\"scale_it\")\n";
        assert_eq!(fortran_line(src, "average_"), Some(4));
        assert_eq!(fortran_line(src, "scale_it"), Some(6));
        assert_eq!(fortran_line(src, "missing_"), None);
    }
}
