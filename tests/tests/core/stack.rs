//! OnStack buffers: each intent (IN is copied in only, OUT is copied out
//! only, INOUT both ways), several in one call, Pod structs, big buffers,
//! the stack size limit, and `mem::forget` on a request with an OUT buffer.
//! Kernels: tests/kernels/core_stack.c.

use veo_runtime::{Args, Error, Out, Proc};
use veo_tests::{Ve, KERNELS};

#[test]
fn intent_in_is_copied_in_and_never_back() {
    let ve = Ve::new();
    let f = ve.f("core_in_sum");
    let data: Vec<i64> = (1..=100).map(|i| i * 1_000_000_007).collect();
    let mut a = Args::new();
    a.push(&data[..]).u64(data.len() as u64);
    let sum: i64 = ve.ctx.call(&f, a).unwrap().wait().unwrap();
    assert_eq!(sum, data.iter().sum::<i64>(), "the kernel saw the IN data");
    // The kernel overwrote its copy with -1; the host buffer is untouched
    // (and a second call sees the original data again).
    assert!(data.iter().all(|&x| x > 0));
    let mut a = Args::new();
    a.stack_in(bytemuck::cast_slice(&data))
        .u64(data.len() as u64);
    assert_eq!(ve.proc.call_sync::<i64>(&f, a).unwrap(), sum);
    // An empty IN buffer.
    let mut a = Args::new();
    a.push(&[] as &[i64]).u64(0);
    assert_eq!(ve.ctx.call::<i64>(&f, a).unwrap().wait().unwrap(), 0);
}

#[test]
fn intent_out_is_not_copied_in_but_copied_back() {
    let ve = Ve::new();
    let f = ve.f("core_out_fill");
    for n in [0usize, 1, 3, 16, 17, 4096, 100_001] {
        let mut buf = vec![0xa5u8; n];
        let mut a = Args::new();
        a.stack_out(&mut buf).u64(n as u64).u8(0xa5);
        let seen: u64 = ve.ctx.call(&f, a).unwrap().wait().unwrap();
        assert_eq!(seen, 0, "{n} bytes: OUT data must not be copied in");
        let want: Vec<u8> = (0..n).map(|i| (i * 7 + 3) as u8).collect();
        veo_tests::assert_same(&buf, &want, "OUT data copied back");
    }
    // Out<&mut T> and Out<&mut [T]> through the generic push.
    let mut words = [u32::MAX; 5];
    let mut a = Args::new();
    a.push(Out(&mut words[..])).u64(20).u8(0xff);
    assert_eq!(ve.ctx.call::<u64>(&f, a).unwrap().wait().unwrap(), 0);
    let bytes: &[u8] = bytemuck::cast_slice(&words);
    assert!(bytes
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i * 7 + 3) as u8));
}

#[test]
fn intent_inout_is_copied_both_ways() {
    let ve = Ve::new();
    let f = ve.f("core_inout_flip");
    for n in [0usize, 1, 2, 15, 16, 33, 65_537] {
        let orig: Vec<u8> = (0..n).map(|i| (i * 13 + 9) as u8).collect();
        let mut buf = orig.clone();
        let mut a = Args::new();
        a.stack_inout(&mut buf).u64(n as u64).u8(9);
        let seen: u64 = ve.ctx.call(&f, a).unwrap().wait().unwrap();
        assert_eq!(seen, n as u64, "{n} bytes: INOUT data must be copied in");
        let want: Vec<u8> = orig.iter().map(|b| !b).collect();
        veo_tests::assert_same(&buf, &want, "INOUT data copied back");
    }
    // &mut [T] through the generic push is INOUT too.
    let mut words: Vec<u64> = (0..1000u64).map(|i| i ^ 77).collect();
    let mut a = Args::new();
    a.push(&mut words[..]).u64(1000).u64(77);
    let bad: u64 = ve
        .ctx
        .call(&ve.f("core_big_inout"), a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(bad, 0);
    assert!(words
        .iter()
        .enumerate()
        .all(|(i, &w)| w == !(i as u64 ^ 77)));
}

#[test]
fn every_intent_in_one_call_with_registers_between() {
    let ve = Ve::new();
    let f = ve.f("core_intents");
    // Odd sizes, so that the 16-byte alignment of each buffer is tested.
    let input: Vec<u8> = (1..=19).collect();
    let mut out = vec![0x77u8; 23];
    let mut inout: Vec<u8> = (0..5).map(|i| 100 + i).collect();
    let mut a = Args::new();
    a.stack_in(&input)
        .u64(input.len() as u64)
        .i32(-7)
        .stack_out(&mut out)
        .u64(23)
        .f64(0.5)
        .stack_inout(&mut inout)
        .u64(5);
    let bad: i32 = ve.ctx.call(&f, a).unwrap().wait().unwrap();
    assert_eq!(bad, 0, "failure mask from the kernel (see core_stack.c)");
    let want_out: Vec<u8> = (0..23)
        .map(|i| if i < 19 { (i as u8 + 1) * 2 } else { 0xee })
        .collect();
    assert_eq!(out, want_out);
    assert_eq!(inout, vec![101, 102, 103, 104, 105]);
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Pair {
    a: i32,
    b: i32,
    scale: f64,
}

#[test]
fn pod_structs_in_and_out() {
    let ve = Ve::new();
    let p = Pair {
        a: 3,
        b: 4,
        scale: 1.5,
    };
    let mut a = Args::new();
    a.push(&p);
    let v: f64 = ve
        .ctx
        .call(&ve.f("core_pair_in"), a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(v, 10.5);

    let mut q = Pair {
        a: -1,
        b: -1,
        scale: -1.0,
    };
    let mut a = Args::new();
    a.push(Out(&mut q)).i32(11).i32(22);
    let () = ve
        .ctx
        .call(&ve.f("core_pair_out"), a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(
        q,
        Pair {
            a: 22,
            b: 11,
            scale: 0.25
        }
    );
}

#[test]
fn big_inout_buffer_crosses_many_ring_pieces() {
    let ve = Ve::new();
    let f = ve.f("core_big_inout");
    let n = (6 << 20) / 8 + 3; // 6 MiB and a bit: several rings' worth
    let seed = 0x1234_5678_9abc_def0u64;
    let mut words: Vec<u64> = (0..n as u64).map(|i| i ^ seed).collect();
    let mut a = Args::new();
    a.push(&mut words[..]).u64(n as u64).u64(seed);
    let bad: u64 = ve.ctx.call(&f, a).unwrap().wait().unwrap();
    assert_eq!(bad, 0, "words that arrived wrong");
    let wrong = words
        .iter()
        .enumerate()
        .position(|(i, &w)| w != !(i as u64 ^ seed));
    assert_eq!(wrong, None, "first word that came back wrong");
}

#[test]
fn stack_size_limits_the_stack_image() {
    let proc = Proc::builder().stack_size(4096).build().unwrap();
    let ctx = proc.open_context().unwrap();
    let lib = proc.load_library(KERNELS).unwrap();
    let f = lib.function("core_inout_flip").unwrap();

    // Exactly the limit works.
    let mut buf: Vec<u8> = (0..4096).map(|i| (i * 13 + 1) as u8).collect();
    let mut a = Args::new();
    a.stack_inout(&mut buf).u64(4096).u8(1);
    assert_eq!(ctx.call::<u64>(&f, a).unwrap().wait().unwrap(), 4096);

    // One byte more is refused before anything is sent.
    let mut big = vec![0u8; 4097];
    let mut a = Args::new();
    a.stack_inout(&mut big).u64(4097).u8(1);
    match ctx.call::<u64>(&f, a) {
        Err(Error::StackTooLarge { size, max }) => assert_eq!((size, max), (4097, 4096)),
        other => panic!("expected StackTooLarge, got {other:?}"),
    }
    // Buffers count with their alignment padding: 2049 + 2033 bytes would
    // fit, but the second starts at offset 2064 and ends at 4097.
    let small = vec![0u8; 2049];
    let mut a = Args::new();
    a.stack_in(&small).stack_in(&small[..2033]);
    match proc.call_sync::<u64>(&f, a) {
        Err(Error::StackTooLarge { size, max }) => assert_eq!((size, max), (4097, 4096)),
        other => panic!("expected StackTooLarge, got {other:?}"),
    }
    // The context still works.
    let mut a = Args::new();
    a.stack_inout(&mut buf[..10]).u64(10).u8(1);
    let _: u64 = ctx.call(&f, a).unwrap().wait().unwrap();
}

#[test]
fn forgotten_request_never_writes_its_out_buffer() {
    let ve = Ve::new();
    let f = ve.f("core_out_late");
    let mut buf = vec![0x11u8; 256];
    {
        let mut a = Args::new();
        a.stack_out(&mut buf).u64(256).u32(30_000);
        let req = ve.ctx.call::<()>(&f, a).unwrap();
        std::mem::forget(req);
    }
    // The borrow has ended with the forgotten request: the buffer is ours.
    buf.fill(0x22);
    // A dropped (not waited for) request with an OUT buffer, too.
    let mut other = vec![0x33u8; 64];
    {
        let mut a = Args::new();
        a.stack_out(&mut other).u64(64).u32(0);
        drop(ve.ctx.call::<()>(&f, a).unwrap());
    }
    // Everything queued has run, and later requests drain the results.
    ve.ctx.sync().unwrap();
    let mut a = Args::new();
    let mut third = vec![0u8; 8];
    a.stack_out(&mut third).u64(8).u32(0);
    ve.ctx.call::<()>(&f, a).unwrap().wait().unwrap();
    assert_eq!(third, vec![0x5a; 8], "a waited-for OUT buffer is written");
    assert!(
        buf.iter().all(|&b| b == 0x22),
        "the forgotten request wrote into its OUT buffer"
    );
    assert!(
        other.iter().all(|&b| b == 0x33),
        "the dropped request wrote into its OUT buffer"
    );
    // Freed and reused memory is not written either.
    drop(buf);
    let fresh = vec![0x44u8; 256];
    let mut a = Args::new();
    let mut scratch = [0u8; 1];
    a.stack_out(&mut scratch).u64(1).u32(0);
    ve.ctx.call::<()>(&f, a).unwrap().wait().unwrap();
    assert!(fresh.iter().all(|&b| b == 0x44));
}
