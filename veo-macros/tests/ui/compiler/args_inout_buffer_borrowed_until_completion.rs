// An INOUT stack buffer stays borrowed by its request until the request is
// waited for: the program cannot touch it in between.
use veo_runtime::{Args, Context, Function};

fn run(ctx: &Context, f: &Function) {
    let mut x = [0u8; 8];
    let mut args = Args::new();
    args.stack_inout(&mut x);
    let req = ctx.call::<()>(f, args).unwrap();
    x.fill(1); //~ E0499
    req.wait().unwrap();
}

fn main() {
    let _ = run;
}
