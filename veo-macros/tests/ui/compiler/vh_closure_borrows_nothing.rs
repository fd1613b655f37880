// A VH function may run after the caller's frame is gone (the request can be
// dropped unwaited): it cannot borrow locals.
use veo_runtime::Context;

fn run(ctx: &Context) {
    let local = 5u64;
    let req = ctx.call_vh(|| local + 1).unwrap(); //~ E0373
    req.wait().unwrap();
}

fn main() {
    let _ = run;
}
