use veo_runtime::{Args, Proc};
use veo_tests::KERNELS;

#[test]
fn average_through_a_ve_buffer() {
    let proc = Proc::new(0).unwrap();
    let ctx = proc.open_context().unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    let f = lib.function("average").unwrap();
    let host: Vec<f64> = (0..1000).map(|i| i as f64).collect();
    let a = proc.alloc::<f64>(host.len()).unwrap();
    proc.write(&a, &host).unwrap();
    let mut args = Args::new();
    args.ptr(a.as_ptr()).i32(host.len() as i32);
    let avg: f64 = ctx.call(&f, args).unwrap().wait().unwrap();
    assert_eq!(avg, 499.5);
    let mut args = Args::new();
    args.push(&host[..]).i32(host.len() as i32);
    let avg: f64 = proc.call_sync(&f, args).unwrap();
    assert_eq!(avg, 499.5);
}
