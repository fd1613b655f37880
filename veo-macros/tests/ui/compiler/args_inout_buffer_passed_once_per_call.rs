// One buffer cannot be two INOUT arguments of the same call.
use veo_runtime::{Args, Context, Function};

fn run(ctx: &Context, f: &Function) {
    let mut x = [0u8; 8];
    let mut args = Args::new();
    args.stack_inout(&mut x).stack_inout(&mut x); //~ E0499
    ctx.call::<()>(f, args).unwrap().wait().unwrap();
}

fn main() {
    let _ = run;
}
