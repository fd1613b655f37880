// A context cannot be closed while a request borrows it.
use veo_runtime::{Args, Context, Function};

fn run(ctx: Context, f: &Function) {
    let req = ctx.call::<u64>(f, Args::new()).unwrap();
    ctx.close().unwrap(); //~ E0505
    req.wait().unwrap();
}

fn main() {
    let _ = run;
}
