// What may be shared or moved between threads, and the borrows that end
// where they should.
use veo_runtime::{Args, Context, Function, Library, Proc, Request, VeBuffer, VePtr};

fn send<T: Send>() {}
fn sync<T: Sync>() {}

#[allow(dead_code)]
fn borrows(ctx: &Context, f: &Function, buf: &VeBuffer<u64>) {
    // An asynchronous write copies its source before returning: the source
    // is free again at once.
    let mut src = [1u64; 4];
    let w = ctx.write_async(buf, &src).unwrap();
    src[0] = 2;
    w.wait().unwrap();
    // An INOUT buffer is free again once its request was waited for.
    let mut x = [0u8; 8];
    let mut args = Args::new();
    args.stack_inout(&mut x);
    ctx.call::<()>(f, args).unwrap().wait().unwrap();
    x[0] = 1;
    // Requests of one context can be waited for on scoped threads.
    let a = ctx.call::<u64>(f, Args::new()).unwrap();
    let b = ctx.call::<u64>(f, Args::new()).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || a.wait());
        s.spawn(move || b.wait());
    });
    let _ = src;
    let _ = x;
}

fn main() {
    send::<Proc>();
    sync::<Proc>();
    send::<Context>();
    sync::<Context>();
    send::<Library>();
    sync::<Library>();
    send::<Function>();
    sync::<Function>();
    send::<VeBuffer<f64>>();
    sync::<VeBuffer<f64>>();
    send::<VePtr<f64>>();
    sync::<VePtr<f64>>();
    send::<Request<'static, u64>>();
    send::<Args<'static>>();
    send::<veo_runtime::Error>();
    sync::<veo_runtime::Error>();
}
