// A request borrows its context: it may go to a scoped thread, but not to a
// detached one that could outlive the context.
use veo_runtime::{Args, Context, Function};

fn run(ctx: &Context, f: &Function) {
    let req = ctx.call::<u64>(f, Args::new()).unwrap();
    std::thread::spawn(move || req.wait().unwrap()); //~ E0521
}

fn main() {
    let _ = run;
}
