// Every scalar row of the type table, as parameters and as results.
use veo_runtime::{ve_kernel, Context, Proc, Result};

#[ve_kernel(library = "kernels")]
extern "C" {
    fn ints(a: i8, b: u8, c: i16, d: u16, e: i32, f: u32, g: i64, h: u64, i: isize, j: usize);
    fn floats(x: f32, y: f64) -> f64;
    fn ret_i8() -> i8;
    fn ret_u8() -> u8;
    fn ret_i16() -> i16;
    fn ret_u16() -> u16;
    fn ret_i32() -> i32;
    fn ret_u32() -> u32;
    fn ret_i64() -> i64;
    fn ret_u64() -> u64;
    fn ret_isize() -> isize;
    fn ret_usize() -> usize;
    fn ret_f32() -> f32;
    fn ret_unit() -> ();
}

#[allow(dead_code)]
fn calls(ctx: &Context, proc: &Proc) -> Result<()> {
    let () = ints(ctx, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5)?.wait()?;
    let () = ints_sync(proc, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5)?;
    let _: f64 = floats(ctx, 1.5, 2.5)?.wait()?;
    let _: f64 = floats_sync(proc, 1.5, 2.5)?;
    let _: i8 = ret_i8(ctx)?.wait()?;
    let _: u8 = ret_u8_sync(proc)?;
    let _: i16 = ret_i16(ctx)?.wait()?;
    let _: u16 = ret_u16_sync(proc)?;
    let _: i32 = ret_i32(ctx)?.wait()?;
    let _: u32 = ret_u32_sync(proc)?;
    let _: i64 = ret_i64(ctx)?.wait()?;
    let _: u64 = ret_u64_sync(proc)?;
    let _: isize = ret_isize(ctx)?.wait()?;
    let _: usize = ret_usize_sync(proc)?;
    let _: f32 = ret_f32(ctx)?.wait()?;
    let () = ret_unit_sync(proc)?;
    Ok(())
}

fn main() {}
