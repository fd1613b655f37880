// `close` consumes the context: no call can follow it.
use veo_runtime::{Args, Context, Function};

fn run(ctx: Context, f: &Function) {
    ctx.close().unwrap();
    ctx.call::<u64>(f, Args::new()).unwrap().wait().unwrap(); //~ E0382
}

fn main() {
    let _ = run;
}
