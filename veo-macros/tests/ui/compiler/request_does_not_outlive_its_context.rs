// A request cannot outlive its context.
use veo_runtime::{Args, Function, Proc, Request};

fn run(proc: &Proc, f: &Function) -> Request<'static, u64> {
    let ctx = proc.open_context().unwrap();
    ctx.call::<u64>(f, Args::new()).unwrap() //~ E0515
}

fn main() {
    let _ = run;
}
