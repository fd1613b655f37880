// An OUT buffer must outlive the request that fills it.
use veo_runtime::{Args, Context, Function, Out};

fn run(ctx: &Context, f: &Function) {
    let req;
    {
        let mut out = [0u32; 4];
        let mut args = Args::new();
        args.push(Out(&mut out[..])); //~ E0597
        req = ctx.call::<()>(f, args).unwrap();
    }
    req.wait().unwrap();
}

fn main() {
    let _ = run;
}
