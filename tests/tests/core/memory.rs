//! VE memory: transfers of 0 bytes, 1 byte, unaligned sizes at unaligned
//! addresses and 64 MiB (sync and async, content verified on both sides),
//! VE-side memcpy, alloc/free sync and async, owned buffers freed on drop,
//! bad addresses as errors, and memory a kernel allocated itself.
//! Kernels: tests/kernels/core_memory.c.

use veo_runtime::{Args, Error, VePtr};
use veo_tests::{assert_same, pattern_bytes, pattern_words, Ve};

/// Runs a kernel that returns 0 when the pattern is there (else 1 + the
/// first bad index): `core_check_words` / `core_check_bytes`.
fn ve_check<T>(ve: &Ve, kernel: &str, ptr: VePtr<T>, n: usize, seed: u64) -> u64 {
    let mut a = Args::new();
    a.ptr(ptr).u64(n as u64).u64(seed);
    ve.ctx.call(&ve.f(kernel), a).unwrap().wait().unwrap()
}

/// Has a kernel write the pattern: `core_fill_words` / `core_fill_bytes`.
fn ve_fill<T>(ve: &Ve, kernel: &str, ptr: VePtr<T>, n: usize, seed: u64) {
    let mut a = Args::new();
    a.ptr(ptr).u64(n as u64).u64(seed);
    ve.ctx.call::<()>(&ve.f(kernel), a).unwrap().wait().unwrap()
}

#[test]
fn zero_byte_transfers() {
    let ve = Ve::new();
    let buf = ve.proc.alloc::<u8>(16).unwrap();
    let orig = pattern_bytes(1, 16);
    ve.proc.write(&buf, &orig).unwrap();

    ve.proc.write(&buf, &[]).unwrap();
    ve.proc.read(&mut [], &buf).unwrap();
    ve.ctx.write_async(&buf, &[]).unwrap().wait().unwrap();
    let mut empty: [u8; 0] = [];
    ve.ctx.read_async(&mut empty, &buf).unwrap().wait().unwrap();
    ve.proc
        .memcpy(buf.as_ptr(), buf.as_ptr().add(8), 0)
        .unwrap();
    ve.ctx
        .memcpy_async(buf.as_ptr().add(8), buf.as_ptr(), 0)
        .unwrap()
        .wait()
        .unwrap();

    let mut back = [0u8; 16];
    ve.proc.read(&mut back, &buf).unwrap();
    assert_eq!(back.to_vec(), orig, "a 0-byte transfer changed memory");

    // An empty VE buffer.
    let none = ve.proc.alloc::<u64>(0).unwrap();
    assert!(none.is_empty());
    ve.proc.write(&none, &[]).unwrap();
}

#[test]
fn one_byte_transfers() {
    let ve = Ve::new();
    let buf = ve.proc.alloc::<u8>(16).unwrap();
    ve_fill(&ve, "core_fill_bytes", buf.as_ptr(), 16, 2);
    let mut want = pattern_bytes(2, 16);

    // Sync write of one byte in the middle: the kernel sees it, the
    // neighbours are untouched.
    ve.proc.write(buf.as_ptr().add(7), &[0xc3]).unwrap();
    want[7] = 0xc3;
    let mut a = Args::new();
    a.ptr(buf.as_ptr().add(7));
    let seen: u8 = ve
        .ctx
        .call(&ve.f("core_peek_u8"), a)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(seen, 0xc3);
    // Async write of one byte.
    ve.ctx
        .write_async(buf.as_ptr().add(9), &[0x3c])
        .unwrap()
        .wait()
        .unwrap();
    want[9] = 0x3c;
    let mut back = [0u8; 16];
    ve.proc.read(&mut back, &buf).unwrap();
    assert_eq!(back.to_vec(), want);

    // One-byte reads, sync and async, of bytes the kernel wrote.
    for i in [0usize, 5, 15] {
        let mut one = [0u8; 1];
        ve.proc.read(&mut one, buf.as_ptr().add(i)).unwrap();
        assert_eq!(one[0], want[i], "sync read of byte {i}");
        let mut one = [0u8; 1];
        ve.ctx
            .read_async(&mut one, buf.as_ptr().add(i))
            .unwrap()
            .wait()
            .unwrap();
        assert_eq!(one[0], want[i], "async read of byte {i}");
    }
}

#[test]
fn unaligned_sizes_at_unaligned_addresses() {
    let ve = Ve::new();
    let sizes = [3usize, 7, 4095, 4097, 65_537, 262_145, 1_048_583];
    let max = *sizes.iter().max().unwrap();
    let buf = ve.proc.alloc::<u8>(max + 16).unwrap();
    for (k, &n) in sizes.iter().enumerate() {
        for off in [1usize, 3, 13] {
            let at = buf.as_ptr().add(off);
            let seed = (k * 100 + off) as u64;
            // Sync write, checked by a kernel.
            let data = pattern_bytes(seed, n);
            ve.proc.write(at, &data).unwrap();
            assert_eq!(
                ve_check(&ve, "core_check_bytes", at, n, seed),
                0,
                "sync write of {n} at +{off}"
            );
            // Sync read of what a kernel wrote.
            ve_fill(&ve, "core_fill_bytes", at, n, seed + 1);
            let mut back = vec![0u8; n];
            ve.proc.read(&mut back, at).unwrap();
            assert_same(
                &back,
                &pattern_bytes(seed + 1, n),
                &format!("sync read of {n} at +{off}"),
            );

            // The same asynchronously, queued behind each other.
            let data = pattern_bytes(seed + 2, n);
            let w = ve.ctx.write_async(at, &data).unwrap();
            assert_eq!(
                ve_check(&ve, "core_check_bytes", at, n, seed + 2),
                0,
                "async write of {n} at +{off}"
            );
            w.wait().unwrap();
            ve_fill(&ve, "core_fill_bytes", at, n, seed + 3);
            let mut back = vec![0u8; n];
            ve.ctx.read_async(&mut back, at).unwrap().wait().unwrap();
            assert_same(
                &back,
                &pattern_bytes(seed + 3, n),
                &format!("async read of {n} at +{off}"),
            );
        }
    }
}

const BIG: usize = 64 << 20;
const BIG_WORDS: usize = BIG / 8;

#[test]
fn sixty_four_mib_sync_and_memcpy() {
    let ve = Ve::new();
    let a = ve.proc.alloc::<u64>(BIG_WORDS).unwrap();
    let b = ve.proc.alloc::<u64>(BIG_WORDS).unwrap();
    assert_eq!(a.size_bytes(), BIG);
    let data = pattern_words(10, BIG_WORDS);
    ve.proc.write(&a, &data).unwrap();
    drop(data);
    assert_eq!(
        ve_check(&ve, "core_check_words", a.as_ptr(), BIG_WORDS, 10),
        0
    );

    ve_fill(&ve, "core_fill_words", a.as_ptr(), BIG_WORDS, 11);
    let want = pattern_words(11, BIG_WORDS);
    let mut back = vec![0u64; BIG_WORDS];
    ve.proc.read(&mut back, &a).unwrap();
    assert_same(&back, &want, "64 MiB sync read");

    // VE-side copy, synchronous on the proc.
    ve.proc.memcpy(b.as_ptr(), a.as_ptr(), BIG_WORDS).unwrap();
    assert_eq!(
        ve_check(&ve, "core_check_words", b.as_ptr(), BIG_WORDS, 11),
        0
    );
    back.fill(0);
    ve.proc.read(&mut back, &b).unwrap();
    assert_same(&back, &want, "64 MiB after memcpy");
}

#[test]
fn sixty_four_mib_async_and_memcpy() {
    let ve = Ve::new();
    let a = ve.proc.alloc::<u64>(BIG_WORDS).unwrap();
    let b = ve.proc.alloc::<u64>(BIG_WORDS).unwrap();
    let data = pattern_words(20, BIG_WORDS);
    let w = ve.ctx.write_async(&a, &data).unwrap();
    // The source was copied before write_async returned: clobber it.
    drop(data);
    w.wait().unwrap();
    assert_eq!(
        ve_check(&ve, "core_check_words", a.as_ptr(), BIG_WORDS, 20),
        0
    );

    ve_fill(&ve, "core_fill_words", a.as_ptr(), BIG_WORDS, 21);
    let mut back = vec![0u64; BIG_WORDS];
    ve.ctx.read_async(&mut back, &a).unwrap().wait().unwrap();
    let want = pattern_words(21, BIG_WORDS);
    assert_same(&back, &want, "64 MiB async read");

    // VE-side copy on the context, at unaligned byte offsets.
    let c = ve
        .ctx
        .memcpy_async(b.as_ptr(), a.as_ptr(), BIG_WORDS)
        .unwrap();
    c.wait().unwrap();
    assert_eq!(
        ve_check(&ve, "core_check_words", b.as_ptr(), BIG_WORDS, 21),
        0
    );
    let n = 1_000_003;
    ve.ctx
        .memcpy_async(
            b.as_ptr().cast::<u8>().add(5),
            a.as_ptr().cast::<u8>().add(1),
            n,
        )
        .unwrap()
        .wait()
        .unwrap();
    let mut bytes = vec![0u8; n + 10];
    ve.proc.read(&mut bytes, b.as_ptr().cast::<u8>()).unwrap();
    let src: &[u8] = bytemuck::cast_slice(&want);
    assert_same(&bytes[5..5 + n], &src[1..1 + n], "unaligned memcpy");
    assert_same(&bytes[..5], &src[..5], "bytes before an unaligned memcpy");
    assert_same(
        &bytes[5 + n..],
        &src[5 + n..n + 10],
        "bytes after an unaligned memcpy",
    );
}

#[test]
fn alloc_and_free_sync_and_async() {
    let ve = Ve::new();
    // Sync.
    let p = ve.proc.alloc_mem(1000).unwrap();
    let q = ve.proc.alloc_mem(1000).unwrap();
    assert!(!p.is_null() && !q.is_null());
    assert!(
        p.addr() + 1000 <= q.addr() || q.addr() + 1000 <= p.addr(),
        "overlap"
    );
    ve.proc.write(p, &pattern_bytes(30, 1000)).unwrap();
    ve.proc.write(q, &pattern_bytes(31, 1000)).unwrap();
    assert_eq!(ve_check(&ve, "core_check_bytes", p, 1000, 30), 0);
    assert_eq!(ve_check(&ve, "core_check_bytes", q, 1000, 31), 0);
    ve.proc.free_mem(p).unwrap();
    assert!(
        matches!(ve.proc.free_mem(p), Err(Error::InvalidAddress { .. })),
        "double free must be an error"
    );
    ve.proc.free_mem(q).unwrap();

    // Async, queued in order on the context.
    let r: VePtr<u8> = ve.ctx.alloc_async(4096).unwrap().wait().unwrap();
    assert!(!r.is_null());
    ve.ctx
        .write_async(r, &pattern_bytes(32, 4096))
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(ve_check(&ve, "core_check_bytes", r, 4096, 32), 0);
    ve.ctx.free_async(r).unwrap().wait().unwrap();
    let again = ve.ctx.free_async(r).unwrap().wait();
    assert!(
        matches!(again, Err(Error::InvalidAddress { addr, .. }) if addr == r.addr()),
        "async double free: {again:?}"
    );

    // Freeing what was never allocated, and impossible sizes.
    assert!(matches!(
        ve.proc.free_mem(VePtr::<u8>::new(0x1234_5678)),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ve.proc.alloc_mem(u64::MAX),
        Err(Error::OutOfMemory { .. })
    ));
    assert!(matches!(
        ve.ctx.alloc_async(1 << 62).unwrap().wait(),
        Err(Error::OutOfMemory { .. })
    ));
    // A byte size that overflows is no size at all.
    for len in [usize::MAX / 4, usize::MAX] {
        match ve.proc.alloc::<u64>(len) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains("overflows"), "{m}"),
            other => panic!("alloc::<u64>({len}): {other:?}"),
        }
    }
    // The helper still serves.
    assert!(ve.proc.is_alive());
    let s = ve.proc.alloc::<u8>(8).unwrap();
    ve.proc.write(&s, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
}

#[test]
fn buffers_are_freed_on_drop() {
    let ve = Ve::new();
    let buf = ve.proc.alloc::<u32>(10).unwrap();
    assert_eq!((buf.len(), buf.size_bytes()), (10, 40));
    let addr = buf.as_ptr();
    ve.proc.write(&buf, &[7u32; 10]).unwrap();
    drop(buf);
    match ve.proc.free_mem(addr) {
        Err(Error::InvalidAddress { addr: a, .. }) => assert_eq!(a, addr.addr()),
        other => panic!("the buffer was not freed on drop: free_mem gave {other:?}"),
    }

    // into_raw gives up ownership: the memory stays allocated.
    let buf = ve.proc.alloc::<u32>(10).unwrap();
    let raw = buf.into_raw();
    ve.proc.write(raw, &[9u32; 10]).unwrap();
    ve.proc.free_mem(raw).unwrap();

    // A buffer's length is checked before anything is sent.
    let buf = ve.proc.alloc::<u16>(4).unwrap();
    assert!(matches!(
        ve.proc.write(&buf, &[0u16; 5]),
        Err(Error::InvalidAddress { .. })
    ));
    let mut five = [0u16; 5];
    assert!(matches!(
        ve.proc.read(&mut five, &buf),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ve.ctx.read_async(&mut five, &buf),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ve.ctx.write_async(&buf, &[0u16; 5]),
        Err(Error::InvalidAddress { .. })
    ));
    ve.proc.write(&buf, &[1, 2, 3, 4]).unwrap();
}

#[test]
fn bad_addresses_are_errors_and_the_helper_survives() {
    let ve = Ve::new();
    let bad = VePtr::<u8>::new(64);
    let mut back = [0u8; 8];
    assert!(matches!(
        ve.proc.read(&mut back, bad),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ve.proc.write(bad, &[1u8; 8]),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ve.ctx.read_async(&mut back, bad).unwrap().wait(),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ve.ctx.write_async(bad, &[1u8; 8]).unwrap().wait(),
        Err(Error::InvalidAddress { .. })
    ));
    let good = ve.proc.alloc::<u8>(8).unwrap();
    assert!(matches!(
        ve.proc.memcpy(good.as_ptr(), bad, 8),
        Err(Error::InvalidAddress { .. })
    ));
    assert!(matches!(
        ve.ctx.memcpy_async(bad, good.as_ptr(), 8).unwrap().wait(),
        Err(Error::InvalidAddress { .. })
    ));
    // Address + length wrapping around.
    let top = VePtr::<u8>::new(u64::MAX - 3);
    assert!(ve.proc.read(&mut back, top).is_err());
    // Still alive and serving, on the proc and on the context.
    assert!(ve.proc.is_alive());
    ve.proc.write(&good, &[5u8; 8]).unwrap();
    let mut a = Args::new();
    a.ptr(good.as_ptr().add(3));
    assert_eq!(
        ve.ctx
            .call::<u8>(&ve.f("core_peek_u8"), a)
            .unwrap()
            .wait()
            .unwrap(),
        5
    );
}

#[test]
fn memory_a_kernel_allocated_is_readable() {
    let ve = Ve::new();
    let p: VePtr<u8> = ve
        .ctx
        .call(&ve.f("core_malloc_string"), Args::new())
        .unwrap()
        .wait()
        .unwrap();
    assert!(!p.is_null());
    let mut s = [0u8; 23];
    ve.proc.read(&mut s, p).unwrap();
    assert_eq!(&s, b"hello from the VE heap\0");
    let mut t = [0u8; 23];
    ve.ctx.read_async(&mut t, p).unwrap().wait().unwrap();
    assert_eq!(s, t);
    let mut a = Args::new();
    a.ptr(p);
    ve.ctx
        .call::<()>(&ve.f("core_free"), a)
        .unwrap()
        .wait()
        .unwrap();
}
