// The destination of an asynchronous read is written inside the request's
// wait: reading it before then is refused.
use veo_runtime::{Context, VePtr};

fn run(ctx: &Context, src: VePtr<u64>) -> u64 {
    let mut dst = [0u64; 4];
    let req = ctx.read_async(&mut dst, src).unwrap();
    let early = dst[0]; //~ E0503
    req.wait().unwrap();
    early
}

fn main() {
    let _ = run;
}
