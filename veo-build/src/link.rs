//! The link steps: the shared library, the static archive and the
//! directives that link it into the crate's programs, and the file that
//! embeds the library in them.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::artifact::STATIC_LIB;
use crate::builder::{Build, Unit};
use crate::command::Cmd;
use crate::env::Context;
use crate::error::{Error, Result};
use crate::files::write_if_changed;
use crate::lang::Language;
use crate::toolchain::{self, Target, Toolchain};

impl Build {
    pub(crate) fn link_shared(
        &self,
        ctx: &mut Context,
        chain: &Toolchain,
        name: &str,
        out_dir: &Path,
        units: &[Unit],
        objects: &[PathBuf],
    ) -> Result<PathBuf> {
        let has = |l: Language| units.iter().any(|u| u.lang == l);
        // The driver of the "largest" runtime links: Fortran, then C++, then C.
        let driver = if has(Language::Fortran) {
            Language::Fortran
        } else if has(Language::Cxx) {
            Language::Cxx
        } else {
            Language::C
        };
        let path = out_dir.join(format!("lib{name}.so"));
        // Link to a temporary name and rename: a process that has the old
        // library mapped keeps a consistent file.
        static LINKS: AtomicUsize = AtomicUsize::new(0);
        let tmp = out_dir.join(format!(
            ".lib{name}.so.{}-{}.tmp",
            std::process::id(),
            LINKS.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cmd = chain.compiler(driver).cmd();
        cmd.args(["-shared", "-fpic", "-pthread"]);
        if self.openmp {
            cmd.arg("-fopenmp");
        }
        cmd.args(&chain.ve.link);
        cmd.arg("-o").arg(&tmp).args(objects);
        cmd.args(&chain.ve.libs);
        for lib in &self.link_libs {
            cmd.arg(format!("-l{lib}"));
        }
        cmd.args(&self.link_args);
        if driver == Language::Fortran && has(Language::Cxx) {
            cmd.arg(match chain.target {
                Target::Ve => "-cxxlib",
                Target::Emulated => "-lstdc++",
            });
        }
        run_logged(ctx, &cmd)?;
        fs::rename(&tmp, &path).map_err(|e| Error::io("cannot rename the library to", &path, e))?;
        Ok(path)
    }

    pub(crate) fn archive(
        &self,
        ctx: &mut Context,
        name: &str,
        out_dir: &Path,
        objects: &[PathBuf],
    ) -> Result<PathBuf> {
        let path = out_dir.join(format!("lib{name}.a"));
        if path.exists() {
            fs::remove_file(&path)
                .map_err(|e| Error::io("cannot remove the old archive", &path, e))?;
        }
        let mut cmd = toolchain::archiver(ctx).cmd();
        cmd.arg("crs").arg(&path).args(objects);
        run_logged(ctx, &cmd)?;
        Ok(path)
    }

    /// The directives that link a static archive, whole, into the crate's
    /// programs and export its symbols dynamically.
    pub(crate) fn emit_static(
        &self,
        ctx: &mut Context,
        units: &[Unit],
        out_dir: &Path,
        name: &str,
    ) {
        ctx.emit(format!("rustc-link-search=native={}", out_dir.display()));
        ctx.emit(format!("rustc-link-lib=static:+whole-archive={name}"));
        // Cargo links the archive above only into the package's library
        // crate; a binary, test or example that does not use it still
        // finds the kernels its own `#[ve_kernel(static)]` blocks name in
        // this plain archive (from which the linker takes only what is
        // still undefined, so nothing is linked twice).
        ctx.emit(format!(
            "rustc-link-arg={}",
            out_dir.join(format!("lib{name}.a")).display()
        ));
        ctx.emit("rustc-link-arg=-Wl,--export-dynamic".into());
        for lib in &self.link_libs {
            ctx.emit(format!("rustc-link-lib={lib}"));
        }
        let has = |l: Language| units.iter().any(|u| u.lang == l);
        if has(Language::Cxx) {
            ctx.emit("rustc-link-lib=stdc++".into());
        }
        if has(Language::Fortran) {
            ctx.emit("rustc-link-lib=gfortran".into());
        }
        if self.openmp {
            ctx.emit("rustc-link-lib=gomp".into());
        }
    }
}

/// Writes the Rust expression `#[ve_kernel(library = "<name>")]` reads
/// through `include!(env!("VEO_BUILT_<name>"))`: the library's name, the
/// path it was built at (or `static`) and its bytes, embedded in the
/// program so that it runs wherever it is copied (see
/// `veo_runtime::BuiltLibrary`).
pub(crate) fn write_built(
    name: &str,
    path: &Path,
    is_static: bool,
    work: &Path,
) -> Result<PathBuf> {
    let text = if is_static {
        format!("({name:?}, {STATIC_LIB:?}, b\"\" as &[u8])\n")
    } else {
        let path = path.to_str().ok_or_else(|| {
            Error::io(
                "a library path must be UTF-8 to embed",
                path,
                std::io::ErrorKind::InvalidInput.into(),
            )
        })?;
        format!("({name:?}, {path:?}, include_bytes!({path:?}) as &[u8])\n")
    };
    let file = work.join("built.rs");
    write_if_changed(&file, &text)?;
    Ok(file)
}

/// Runs a command, logging it in a build script.
pub(crate) fn run_logged(ctx: &mut Context, cmd: &Cmd) -> Result<()> {
    ctx.log(&format!("running: {cmd}"));
    let out = cmd.run()?;
    if !out.trim().is_empty() {
        ctx.log(&out);
    }
    Ok(())
}
