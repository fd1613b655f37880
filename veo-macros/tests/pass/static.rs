// `static`: kernels linked into the helper; no library name.
use veo_runtime::{ve_kernel, Context, Proc, Result};

#[ve_kernel(static)]
extern "C" {
    fn builtin_add(a: i32, b: i32) -> i32;
}

/// The kernel, linked into the program: a `static` block's kernels must be.
mod kernel {
    #[no_mangle]
    pub extern "C" fn builtin_add(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<i32> {
    builtin_add(ctx, 1, 2)?.wait()?;
    builtin_add_sync(proc, 1, 2)
}

fn main() {}
