// A VH function runs on another thread: it must be Send.
use std::rc::Rc;
use veo_runtime::Context;

fn run(ctx: &Context) {
    let shared = Rc::new(5u64);
    let req = ctx.call_vh(move || *shared).unwrap(); //~ E0277
    req.wait().unwrap();
}

fn main() {
    let _ = run;
}
