// The Rust declarations of the kernels in stats.c, as a crate using them
// would write them (with `veo-runtime` as a dependency). The
// `build_kernels` example does not compile this file: veo-build reads it
// (`Build::bindings`) and checks every declaration against stats.c.

use veo_runtime::ve_kernel;

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[ve_kernel(library = "stats")]
extern "C" {
    /// The mean of `n` values (copied onto the VE stack: intent IN).
    pub fn average(a: &[f64], n: i32) -> f64;
    /// Multiplies `n` values by `f` in place (intent INOUT).
    pub fn scale(x: &mut [f64], n: usize, f: f64);
    /// How many of `n` values exceed `limit`.
    pub fn count_above(a: &[f64], n: i64, limit: f64) -> i64;
    /// Moves a point (a `Pod` struct: `void *` to the check, which
    /// therefore lists it as unchecked).
    pub fn shift(p: &mut Point, dx: f64, dy: f64);
}
