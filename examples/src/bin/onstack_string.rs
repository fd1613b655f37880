//! py-veo's "string on the stack" example with `#[ve_kernel]`: a string
//! goes to the VE on the stack (`&[u8]`, intent IN); the kernel mallocs a
//! copy in VE memory and returns its address (`VePtr<u8>`); the VH reads the
//! copy back through that pointer and compares.
//!
//! `cargo run -p veo-examples --bin onstack_string`

use std::process::ExitCode;
use veo_runtime::{ve_kernel, Proc, VePtr};

#[ve_kernel(library = "examples")]
extern "C" {
    /// `strdup` on the VE: the copy lives in VE memory until `macro_free`.
    fn macro_copy_string(s: &[u8]) -> VePtr<u8>;
    fn macro_free(p: VePtr<u8>);
}

fn main() -> ExitCode {
    veo_examples::exit_code("onstack_string", run())
}

fn run() -> veo_runtime::Result<bool> {
    let proc = Proc::new(0)?;
    let ctx = proc.open_context()?;

    let text = b"Hello from the VH!\0";
    let copy = macro_copy_string(&ctx, text)?.wait()?;
    println!(
        "the kernel copied {} bytes to VE address {copy:?}",
        text.len()
    );
    if copy.is_null() {
        println!("WRONG: the VE's malloc returned NULL");
        return Ok(false);
    }

    let mut back = vec![0u8; text.len()];
    proc.read(&mut back, copy)?;
    macro_free_sync(&proc, copy)?;
    let ok = back == text;
    println!(
        "read back {:?}: {}",
        String::from_utf8_lossy(&back[..back.len() - 1]),
        if ok { "ok" } else { "WRONG" }
    );
    Ok(ok)
}
