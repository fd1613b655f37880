//! Bad VE addresses (docs/RELIABILITY.md, "Bad VE addresses are errors,
//! never crashes"). Reads, writes, copies and frees of
//! unmapped, read-only or already-freed VE memory, and lengths that
//! overflow, synchronous and queued on a context: each is an error, and the
//! helper still answers afterwards.

use super::util::{self, assert_answers, guard};
use std::time::Duration;
use veo_runtime::{Error, Proc, VePtr};

/// Never mapped in any Linux process (below `vm.mmap_min_addr`).
const UNMAPPED: u64 = 0x1000;
/// Larger than glibc's largest mmap threshold (32 MiB): such an allocation
/// is its own mapping, and freeing it unmaps it.
const BIG: u64 = 64 << 20;

/// The mappings of a process: (start, end).
fn mappings(pid: u32) -> Vec<(u64, u64)> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap()
        .lines()
        .map(|l| {
            let range = l.split_whitespace().next().unwrap();
            let (a, b) = range.split_once('-').unwrap();
            (
                u64::from_str_radix(a, 16).unwrap(),
                u64::from_str_radix(b, 16).unwrap(),
            )
        })
        .collect()
}

/// VE memory of our own whose mapping is followed by unmapped memory: two
/// big allocations, the upper one freed, so that the lower one ends at a
/// hole (whichever way the allocator places them).
struct Edge {
    keep: Vec<VePtr<u8>>,
    /// The end of the mapping holding our memory; nothing is mapped there.
    end: u64,
}

impl Edge {
    fn new(proc: &Proc) -> Edge {
        let mut keep = Vec::new();
        for _ in 0..8 {
            let a = proc.alloc_mem(BIG).unwrap();
            let b = proc.alloc_mem(BIG).unwrap();
            let (lower, upper) = if a.addr() < b.addr() { (a, b) } else { (b, a) };
            proc.free_mem(upper).unwrap();
            keep.push(lower);
            let maps = mappings(proc.pid());
            let (_, end) = *maps
                .iter()
                .find(|(a, b)| (*a..*b).contains(&lower.addr()))
                .expect("the allocation is mapped");
            // Our allocation reaches to within a page of the mapping's end.
            if end - (lower.addr() + BIG) < 2 * 4096 && !maps.iter().any(|(a, _)| *a == end) {
                return Edge { keep, end };
            }
        }
        panic!(
            "no allocation followed by a hole: {:x?}",
            mappings(proc.pid())
        );
    }

    fn free(self, proc: &Proc) {
        for p in self.keep {
            proc.free_mem(p).unwrap();
        }
    }
}

#[track_caller]
fn invalid<T: std::fmt::Debug>(r: Result<T, Error>, addr: u64) {
    match r {
        Err(Error::InvalidAddress { addr: a, .. }) if a == addr => {}
        other => panic!("expected InvalidAddress at {addr:#x}, got {other:?}"),
    }
}

#[test]
fn sync_transfers_of_bad_addresses_are_errors() {
    let _g = guard("bad addresses", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let mut buf = [0u64; 4];

    invalid(proc.read(&mut buf, VePtr::<u64>::new(UNMAPPED)), UNMAPPED);
    invalid(proc.read(&mut buf, VePtr::<u64>::new(0)), 0);
    invalid(proc.write(VePtr::<u64>::new(UNMAPPED), &buf), UNMAPPED);
    // The kernel's code is mapped but read-only.
    let code = util::kernel(&proc, "add_i64").addr();
    invalid(proc.write(VePtr::<u64>::new(code), &buf), code);
    // A kernel-space address.
    let high = 0xffff_8000_0000_0000;
    invalid(proc.read(&mut buf, VePtr::<u64>::new(high)), high);

    // Partly valid: the tail of the transfer runs into unmapped memory.
    let edge = Edge::new(&proc);
    let start = VePtr::<u8>::new(edge.end - 4096);
    let mut big = vec![0u8; 3 * 4096];
    assert!(matches!(
        proc.read(&mut big, start),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        proc.write(start, &big),
        Err(Error::InvalidAddress { .. })
    ));
    edge.free(&proc);

    let p = proc.alloc_mem(BIG).unwrap();
    proc.write(p.cast::<u64>(), &buf).unwrap();
    proc.free_mem(p).unwrap();
    // Freed and returned to the system: every access is an error.
    invalid(proc.read(&mut buf, p.cast::<u64>()), p.addr());
    invalid(proc.write(p.cast::<u64>(), &buf), p.addr());
    assert_answers(&proc);
}

#[test]
fn memcpy_and_free_of_bad_addresses_are_errors() {
    let _g = guard("bad addresses", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let good = proc.alloc::<u64>(4).unwrap();
    proc.write(&good, &[1, 2, 3, 4]).unwrap();
    let g = good.as_ptr();

    // Copies from and to unmapped memory.
    let bad = VePtr::<u64>::new(UNMAPPED);
    assert!(matches!(
        proc.memcpy(g, bad, 4),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        proc.memcpy(bad, g, 4),
        Err(Error::InvalidAddress { .. })
    ));
    // The good buffer is unharmed.
    let mut back = [0u64; 4];
    proc.read(&mut back, &good).unwrap();
    assert_eq!(back, [1, 2, 3, 4]);

    // Frees of memory this proc did not allocate, of an interior pointer,
    // and twice.
    invalid(proc.free_mem(VePtr::<u8>::new(UNMAPPED)), UNMAPPED);
    invalid(proc.free_mem(VePtr::<u8>::new(g.addr() + 8)), g.addr() + 8);
    let p = proc.alloc_mem(64).unwrap();
    proc.free_mem(p).unwrap();
    invalid(proc.free_mem(p), p.addr());
    // Memory a kernel-side malloc owns is not ours to free either.
    let code = util::kernel(&proc, "add_i64").addr();
    invalid(proc.free_mem(VePtr::<u8>::new(code)), code);

    // A copy out of memory that was freed and unmapped.
    let big = proc.alloc_mem(BIG).unwrap();
    proc.free_mem(big).unwrap();
    assert!(matches!(
        proc.memcpy(g, big.cast::<u64>(), 4),
        Err(Error::InvalidAddress { .. })
    ));
    drop(good);
    assert_answers(&proc);
}

#[test]
fn overflowing_lengths_are_errors() {
    let _g = guard("overflowing lengths", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let mut buf = [0u8; 16];
    let near_end = u64::MAX - 7;
    invalid(proc.read(&mut buf, VePtr::<u8>::new(near_end)), near_end);
    invalid(proc.write(VePtr::<u8>::new(near_end), &buf), near_end);

    let good = proc.alloc::<u64>(4).unwrap();
    // A copy whose destination range wraps around the address space.
    assert!(matches!(
        proc.memcpy(VePtr::<u64>::new(u64::MAX - 8), good.as_ptr(), 4),
        Err(Error::InvalidAddress { .. })
    ));
    // An element count whose byte length overflows.
    assert!(matches!(
        proc.memcpy(good.as_ptr(), good.as_ptr(), usize::MAX),
        Err(Error::InvalidAddress { .. })
    ));
    // More elements than the buffer holds.
    invalid(proc.write(&good, &[0u64; 5]), good.as_ptr().addr());
    invalid(proc.read(&mut [0u64; 5], &good), good.as_ptr().addr());
    // Sizes no memory can satisfy.
    assert!(matches!(
        proc.alloc_mem(u64::MAX),
        Err(Error::OutOfMemory { .. })
    ));
    assert!(matches!(
        proc.alloc::<u64>(usize::MAX),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        proc.alloc_mem(1 << 62),
        Err(Error::OutOfMemory { .. })
    ));
    assert_answers(&proc);
}

#[test]
fn queued_transfers_of_bad_addresses_are_errors() {
    let _g = guard("queued bad addresses", Duration::from_secs(60));
    let proc = Proc::new(0).unwrap();
    let ctx = proc.open_context().unwrap();
    let bad = VePtr::<u64>::new(UNMAPPED);
    let mut buf = [7u64; 4];

    invalid(ctx.read_async(&mut buf, bad).unwrap().wait(), UNMAPPED);
    assert_eq!(buf, [7; 4], "a failed read leaves the destination alone");
    invalid(ctx.write_async(bad, &buf).unwrap().wait(), UNMAPPED);
    let code = util::kernel(&proc, "add_i64").addr();
    invalid(
        ctx.write_async(VePtr::<u64>::new(code), &buf)
            .unwrap()
            .wait(),
        code,
    );
    let good = proc.alloc::<u64>(4).unwrap();
    assert!(matches!(
        ctx.memcpy_async(good.as_ptr(), bad, 4).unwrap().wait(),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ctx.memcpy_async(bad, good.as_ptr(), 4).unwrap().wait(),
        Err(Error::InvalidAddress { .. })
    ));
    invalid(ctx.free_async(bad).unwrap().wait(), UNMAPPED);
    let p = ctx.alloc_async(64).unwrap().wait().unwrap();
    ctx.free_async(p).unwrap().wait().unwrap();
    invalid(ctx.free_async(p).unwrap().wait(), p.addr());

    // A big write whose tail runs off the end of a mapping, sent in many
    // pieces: one error for the whole request, after all its pieces, and the
    // queue goes on in order.
    let edge = Edge::new(&proc);
    let data = vec![1u8; 3 << 20];
    let start = VePtr::<u8>::new(edge.end - (1 << 20));
    let w = ctx.write_async(start, &data).unwrap();
    let mut args = veo_runtime::Args::new();
    args.u64(9);
    let inc = util::kernel(&proc, "fault_inc");
    let after = ctx.call::<u64>(&inc, args).unwrap();
    assert!(matches!(w.wait(), Err(Error::InvalidAddress { .. })));
    assert_eq!(after.wait().unwrap(), 10);
    let mut sink = vec![0u8; 3 << 20];
    assert!(matches!(
        ctx.read_async(&mut sink, start).unwrap().wait(),
        Err(Error::InvalidAddress { .. })
    ));
    edge.free(&proc);
    let big = proc.alloc_mem(BIG).unwrap();
    proc.free_mem(big).unwrap();
    invalid(
        ctx.read_async(&mut buf, big.cast::<u64>()).unwrap().wait(),
        big.addr(),
    );

    // Overflowing lengths, refused before anything is queued.
    let near_end = VePtr::<u8>::new(u64::MAX - 7);
    invalid(
        ctx.read_async(&mut [0u8; 16], near_end).map(drop),
        near_end.addr(),
    );
    invalid(
        ctx.write_async(near_end, &[0u8; 16]).map(drop),
        near_end.addr(),
    );
    assert!(matches!(
        ctx.memcpy_async(good.as_ptr(), good.as_ptr(), usize::MAX),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ctx.memcpy_async(VePtr::<u64>::new(u64::MAX - 8), good.as_ptr(), 4)
            .unwrap()
            .wait(),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ctx.alloc_async(u64::MAX).unwrap().wait(),
        Err(Error::OutOfMemory { .. })
    ));

    // The context still works, in order, after all of that.
    let f = util::kernel(&proc, "fault_inc");
    let mut args = veo_runtime::Args::new();
    args.u64(1);
    assert_eq!(ctx.call::<u64>(&f, args).unwrap().wait().unwrap(), 2);
    ctx.write_async(&good, &[5, 6, 7, 8])
        .unwrap()
        .wait()
        .unwrap();
    let mut back = [0u64; 4];
    ctx.read_async(&mut back, &good).unwrap().wait().unwrap();
    assert_eq!(back, [5, 6, 7, 8]);
    assert_answers(&proc);
}
