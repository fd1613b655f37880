//! Malformed answers, the VH side (docs/RELIABILITY.md, "Malformed messages
//! give errors, never crashes or hangs"): the runtime's decoding of answers, end to
//! end. The test maps the proc's shared segment itself (through the helper's
//! descriptor in /proc) and writes malformed answers into a context's result
//! ring, as a broken or hostile helper would, while the real helper is held
//! inside a kernel. Whatever the bytes, the requests waiting on that context
//! end with a result or an error, never a crash or a hang, and a proc that
//! was sent garbage it cannot parse is declared dead ("protocol error") with
//! its helper killed.
//!
//! Cases come from a seeded generator (splitmix64), so every run checks the
//! same inputs; `VEO_FUZZ_CASES` and `VEO_FUZZ_SEED` run other ones.

use super::util::{self, guard};
use std::time::Duration;
use veo_runtime::{Args, Error, Function, Proc, VeBuffer};
use veo_urpc::proto::{self, Status};
use veo_urpc::{Producer, Segment};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Up to `max - 1` random bytes.
    fn some_bytes(&mut self, max: u64) -> Vec<u8> {
        let n = self.below(max) as usize;
        self.bytes(n)
    }
}

/// One message of a malformed answer.
fn garbage_message(rng: &mut Rng, p: &mut Producer<'_>) {
    // Request ids: the two pending requests, one never submitted, zero,
    // anything.
    let reqid = match rng.below(6) {
        0 | 1 => 1,
        2 | 3 => 2,
        4 => [0, 3, u64::MAX][rng.below(3) as usize],
        _ => rng.next(),
    };
    let mut body: Vec<u8> = match rng.below(10) {
        // A well-formed or nearly well-formed RESULT.
        0..=3 => {
            let text = rng.some_bytes(40);
            let mut b = vec![0u8; proto::RESULT_FIXED + text.len()];
            let status = [
                Status::Ok,
                Status::Invalid,
                Status::InvalidAddress,
                Status::Symbol,
            ][rng.below(4) as usize];
            proto::encode_result(&mut b, status, rng.next(), &text);
            match rng.below(4) {
                0 => b[0] = rng.next() as u8,                        // bad status
                1 => b[4..8].copy_from_slice(&rng.bytes(4)),         // bad text length
                2 => b.truncate(rng.below(b.len() as u64) as usize), // truncated
                _ => {}
            }
            b
        }
        // An RDATA piece with odd offsets and lengths.
        4..=7 => {
            let n = rng.below(80) as usize;
            let offset = match rng.below(6) {
                0 | 1 => 0,
                2 => rng.below(128),
                3 => 1 << 40,
                4 => u64::MAX - rng.below(64),
                _ => rng.next(),
            };
            let len = match rng.below(4) {
                0 | 1 => n as u64,
                2 => n as u64 + 1 + rng.below(100),
                _ => rng.next(),
            };
            let mut b = vec![0u8; 16 + n];
            proto::encode_words(&mut b, &[offset, len]);
            b[16..].copy_from_slice(&rng.bytes(n));
            if rng.below(8) == 0 {
                b.truncate(rng.below(16) as usize);
            }
            b
        }
        // Anything.
        _ => rng.some_bytes(200),
    };
    let kind = match rng.below(10) {
        0..=3 => proto::KIND_RESULT,
        4..=7 => proto::KIND_RDATA,
        _ => rng.next() as u16,
    };
    if body.len() > 4000 {
        body.truncate(4000);
    }
    if kind == proto::KIND_RDATA && body.len() > 16 {
        // Answer bytes are never zero, so that a destination that still
        // holds a zero after an `Ok` was not fully answered.
        for b in &mut body[16..] {
            *b = (*b).max(1);
        }
    }
    assert!(p.try_write(kind, reqid, body.len(), |b| b.copy_from_slice(&body)));
}

/// A well-formed answer to `reqid` with `data` (after the garbage, so that a
/// request the garbage did not settle still ends).
fn sentinel(p: &mut Producer<'_>, reqid: u64, data: &[u8]) {
    let mut b = vec![0u8; 16 + data.len()];
    proto::encode_words(&mut b, &[0, data.len() as u64]);
    b[16..].copy_from_slice(data);
    if !data.is_empty() {
        assert!(p.try_write(proto::KIND_RDATA, reqid, b.len(), |x| x.copy_from_slice(&b)));
    }
    let mut r = vec![0u8; proto::RESULT_FIXED];
    proto::encode_result(&mut r, Status::Ok, 77, &[]);
    assert!(p.try_write(proto::KIND_RESULT, reqid, r.len(), |x| x
        .copy_from_slice(&r)));
}

struct Victim {
    proc: Proc,
    seg: Segment,
    wait_flag: Function,
    flag: VeBuffer<i64>,
    src: VeBuffer<u8>,
}

impl Victim {
    fn new() -> Victim {
        let proc = Proc::builder().ring_bytes(64 << 10).build().unwrap();
        let seg = util::attach_segment(&proc);
        let wait_flag = util::kernel(&proc, "fault_wait_flag");
        let flag = proc.alloc::<i64>(1).unwrap();
        proc.write(&flag, &[0]).unwrap();
        let src = proc.alloc::<u8>(64).unwrap();
        proc.write(&src, &[5u8; 64]).unwrap();
        Victim {
            proc,
            seg,
            wait_flag,
            flag,
            src,
        }
    }
}

/// What a request may legitimately end with after garbage answers.
#[track_caller]
fn acceptable<T: std::fmt::Debug>(r: &Result<T, Error>) {
    match r {
        Ok(_)
        | Err(Error::Helper(_))
        | Err(Error::InvalidAddress { .. })
        | Err(Error::OutOfMemory { .. })
        | Err(Error::LibraryNotFound { .. })
        | Err(Error::SymbolNotFound { .. }) => {}
        Err(Error::HelperDied { status, .. }) => {
            assert!(status.contains("protocol error"), "{status}")
        }
        Err(e) => panic!("unexpected outcome {e:?}"),
    }
}

#[test]
fn garbage_answers_never_crash_or_hang() {
    let cases: u64 = std::env::var("VEO_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let seed: u64 = std::env::var("VEO_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_0006);
    let _g = guard("garbage answers", Duration::from_secs(60 + cases / 10));
    let mut rng = Rng(seed);
    let mut victim = Victim::new();
    let mut used = 0;
    let (mut killed, mut procs) = (0, 1);
    for case in 0..cases {
        // Every case takes a context slot for good (its worker stays in the
        // kernel): start over before they run out.
        if !victim.proc.is_alive() || used == veo_runtime::MAX_CONTEXTS - 1 {
            victim = Victim::new();
            used = 0;
            procs += 1;
        }
        used += 1;
        let v = &victim;
        let ctx = v.proc.open_context().unwrap();
        // Request 1 holds the worker inside a kernel (the flag is never
        // set); request 2, a read of 64 bytes, waits behind it. Neither is
        // ever answered by the helper.
        let mut args = Args::new();
        args.ptr(v.flag.as_ptr());
        let r1 = ctx.call::<i64>(&v.wait_flag, args).unwrap();
        let mut dst = [0u8; 64];
        let r2 = ctx.read_async(&mut dst, &v.src).unwrap();
        assert_eq!((r1.id(), r2.id()), (1, 2));

        let mut p = v.seg.channel(ctx.index()).res.acquire_producer().unwrap();
        for _ in 0..1 + rng.below(3) {
            garbage_message(&mut rng, &mut p);
        }
        sentinel(&mut p, 2, &[9u8; 64]);
        sentinel(&mut p, 1, &[]);
        p.publish();

        let mut r2 = r2;
        let res2 = r2.wait_timeout(Duration::from_secs(20));
        assert!(
            !matches!(res2, Err(Error::Timeout(_))),
            "case {case}: request 2 hangs"
        );
        acceptable(&res2);
        let mut r1 = r1;
        let res1 = r1.wait_timeout(Duration::from_secs(20));
        assert!(
            !matches!(res1, Err(Error::Timeout(_))),
            "case {case}: request 1 hangs"
        );
        acceptable(&res1);
        drop((r1, r2));
        if res2.is_ok() {
            // Ok means the whole destination came from the answer (its
            // bytes are never zero; the destination started all zero).
            assert!(
                dst.iter().all(|&b| b != 0),
                "case {case}: a short answer passed as complete: {dst:?}"
            );
        }
        drop(ctx);
        if !v.proc.is_alive() {
            killed += 1;
            // Dead for good, at once, and the helper was killed.
            match v.proc.alloc_mem(8) {
                Err(Error::HelperDied { status, .. }) => {
                    assert!(status.contains("protocol error"), "{status}")
                }
                other => panic!("case {case}: {other:?}"),
            }
            assert!(
                util::wait_gone(v.proc.pid(), Duration::from_secs(10)).is_some(),
                "case {case}: the helper of a proc declared dead still runs"
            );
        }
    }
    eprintln!("{cases} cases (seed {seed:#x}): {killed} procs declared dead, {procs} procs used");
}
