//! veo-build outside a build script: C kernels compiled into a library,
//! their Rust declarations checked against the C definitions, and the same
//! check stopping a declaration that disagrees.
//!
//! `cargo run -p veo-build --example build_kernels`
//!
//! The kernels are `examples/kernels/stats.c`, their declarations
//! `examples/kernels/stats.rs`. In a crate of your own the same builder runs
//! in `build.rs` (see the crate documentation), where it finds the
//! declarations in the package's sources without being told. With the NEC
//! compilers installed (`NCC`, or `/opt/nec/ve/bin`) the library is built
//! for a real VE; otherwise with `cc` for the emulated VE, and this example
//! then also calls a kernel through `dlopen`.

use std::path::Path;

use veo_build::{Build, Error, Problem, Target};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kernels = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kernels");
    let decls = kernels.join("stats.rs");
    let out = std::env::temp_dir().join(format!("veo-build-example-{}", std::process::id()));
    let result = run(&kernels, &decls, &out);
    let _ = std::fs::remove_dir_all(&out);
    result
}

fn run(kernels: &Path, decls: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    // 1. Build the library and check the declarations against it.
    let lib = Build::new()
        .out_dir(out)
        .file(kernels.join("stats.c"))
        .bindings(decls)
        .try_compile("stats")?;
    println!("built library `{}`: {}", lib.name(), lib.path().display());
    println!("  {}", lib.summary());
    println!("  handed to a crate as `{}`", lib.env_var());

    // What was checked: every declaration of the library, as veo-syntax
    // reads it, with the C prototype it stands for.
    let source = std::fs::read_to_string(decls)?;
    let blocks = veo_syntax::parse_file(&source)?;
    println!("signature check of {}:", decls.display());
    for block in &blocks {
        for k in &block.kernels {
            let symbol = k.symbol(&block.options);
            let skipped = lib
                .unchecked()
                .iter()
                .any(|u| u.starts_with(&format!("`{symbol}`")));
            let verdict = if skipped { "not checked" } else { "agrees" };
            println!("  {verdict:<11} {}", k.c_prototype(&block.options));
        }
    }
    for why in lib.unchecked() {
        println!("  unchecked: {why}");
    }

    // 2. On the emulated VE the library is host code: call a kernel.
    if lib.target() == Target::Emulated {
        let values = [1.0, 2.0, 6.0, 7.0];
        // SAFETY: the library was just built from stats.c, whose `average`
        // has exactly this C type (the check above says so); `values` holds
        // the 4 doubles the call reads.
        let avg = unsafe {
            let library = libloading::Library::new(lib.path())?;
            let average: libloading::Symbol<unsafe extern "C" fn(*const f64, i32) -> f64> =
                library.get(b"average")?;
            average(values.as_ptr(), values.len() as i32)
        };
        println!("average of {values:?} by the kernel: {avg}");
        if avg != 4.0 {
            return Err(format!("the kernel returned {avg}, expected 4").into());
        }
    }

    // 3. A declaration that disagrees: `f32` where the C kernel reads
    //    doubles. The build stops and names both sides.
    let wrong = out.join("wrong.rs");
    std::fs::write(
        &wrong,
        source.replace(
            "pub fn average(a: &[f64], n: i32) -> f64;",
            "pub fn average(a: &[f32], n: i32) -> f64;",
        ),
    )?;
    let err = Build::new()
        .out_dir(out.join("wrong"))
        .file(kernels.join("stats.c"))
        .bindings(&wrong)
        .try_compile("stats")
        .err()
        .ok_or("the wrong declaration was accepted")?;
    match &err {
        Error::Mismatch { mismatches }
            if mismatches.len() == 1
                && mismatches[0].kernel == "average"
                && mismatches[0].problem == Problem::Signature =>
        {
            println!("\nwith `a: &[f32]` instead, the build fails:\n{err}");
            Ok(())
        }
        other => Err(format!("expected one mismatch of `average`, got: {other}").into()),
    }
}

#[cfg(test)]
mod tests {
    /// The example, end to end (its own checks fail it if a step does
    /// not do what it prints).
    #[test]
    fn the_example_runs() {
        super::main().unwrap();
    }
}
