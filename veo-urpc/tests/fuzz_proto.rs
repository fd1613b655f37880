//! Fuzzing of everything that decodes bytes from the other process
//! (docs/RELIABILITY.md, "Malformed messages give errors, never crashes or
//! hangs"), with proptest standing in for cargo-fuzz (which needs
//! a nightly toolchain): the helper's command decoding (`decode_call`,
//! `decode_words`, the command ring's `Consumer::peek`) and the runtime's
//! answer decoding (`decode_result`, the result ring's `Consumer::peek`).
//!
//! Property: whatever the bytes, decoding returns a value that satisfies
//! every invariant its users rely on, or an error; never a panic, an
//! out-of-bounds access or an endless loop.
//!
//! Inputs are random bytes, valid messages, and mutations (byte changes,
//! truncation, extension) of both the generated messages and the committed
//! seed corpus in `tests/fuzz_corpus/`. Cases per property: `VEO_FUZZ_CASES`
//! (default 4096); docs/RELIABILITY.md records the longer runs. A failure is
//! saved by proptest in `tests/fuzz_proto.regressions` (commit it: it is
//! replayed first on every later run).

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use std::ptr::NonNull;
use veo_urpc::proto::{self, ArgClass, Intent, StackArg, MAX_ARGS};
use veo_urpc::ring::{seal, RingClaims, RingHeader, MSG_HEADER, MSG_TRAILER};
use veo_urpc::Ring;

fn config() -> Config {
    let cases = std::env::var("VEO_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

type Seeds = &'static [Vec<u8>];

/// The seeds of one corpus file (read once).
fn corpus(name: &'static str) -> Seeds {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<&'static str, Seeds>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(name)
        .or_insert_with(|| Box::leak(read_corpus(name).into_boxed_slice()))
}

fn read_corpus(name: &str) -> Vec<Vec<u8>> {
    let path = format!(
        "{}/tests/fuzz_corpus/{name}.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let seeds: Vec<Vec<u8>> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect();
    assert!(!seeds.is_empty(), "{path} has no seeds");
    seeds
}

/// A change to apply to an input.
#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Xor(usize, u8),
    /// Overwrite 8 bytes with an interesting word.
    Word(usize, u64),
    Truncate(usize),
    Extend(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let word = prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(1 << 63),
        Just(u32::MAX as u64),
        Just(256),
        Just(257),
        any::<u64>(),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 1u8..).prop_map(|(i, b)| Mutation::Xor(i, b)),
        (any::<usize>(), word).prop_map(|(i, w)| Mutation::Word(i, w)),
        any::<usize>().prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 1..32).prop_map(Mutation::Extend),
    ]
}

fn mutate(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        match m {
            Mutation::Set(i, v) if !b.is_empty() => {
                let n = b.len();
                b[i % n] = *v;
            }
            Mutation::Xor(i, v) if !b.is_empty() => {
                let n = b.len();
                b[i % n] ^= *v;
            }
            Mutation::Word(i, w) if b.len() >= 8 => {
                let at = (i % (b.len() / 8)) * 8;
                b[at..at + 8].copy_from_slice(&w.to_le_bytes());
            }
            Mutation::Truncate(i) => {
                let n = b.len() + 1;
                b.truncate(i % n);
            }
            Mutation::Extend(tail) => b.extend_from_slice(tail),
            _ => {}
        }
    }
    b
}

/// Random bytes of random length below `max`, expanded from a seed
/// (much cheaper than a vector of `any::<u8>()`, at the price of shrinking).
fn noise(max: usize) -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), 0..max).prop_map(|(mut x, n)| {
        (0..n)
            .map(|_| {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    })
}

fn class() -> impl Strategy<Value = ArgClass> {
    (1u8..=12).prop_map(|c| ArgClass::from_u8(c).unwrap())
}

/// A valid call: classes, values (stack indices in range), buffers inside
/// the image.
fn valid_call() -> impl Strategy<Value = proto::Call> {
    (
        any::<u64>(),
        (0u8..=11).prop_map(|c| ArgClass::from_u8(c).unwrap()),
        proptest::collection::vec(class(), 0..=MAX_ARGS),
    )
        .prop_flat_map(|(func, ret, classes)| {
            let n = classes.len();
            let nstack = classes.iter().filter(|c| **c == ArgClass::Stack).count();
            (
                Just((func, ret, classes)),
                proptest::collection::vec(any::<u64>(), n),
                proptest::collection::vec((0u64..64, 0u8..3), nstack),
            )
        })
        .prop_map(|((func, ret, classes), mut values, bufs)| {
            let mut stack = Vec::new();
            let mut image_len = 0u64;
            for (len, intent) in bufs {
                let offset = image_len.next_multiple_of(16);
                stack.push(StackArg {
                    offset,
                    len,
                    intent: Intent::from_u8(intent).unwrap(),
                });
                image_len = offset + len;
            }
            let mut k = 0;
            for (c, v) in classes.iter().zip(values.iter_mut()) {
                if *c == ArgClass::Stack {
                    *v = k;
                    k += 1;
                }
            }
            proto::Call {
                func,
                ret,
                classes,
                values,
                stack,
                image_len,
            }
        })
}

fn encode(c: &proto::Call) -> Vec<u8> {
    let mut b = vec![0u8; proto::call_body_len(c.classes.len(), c.stack.len())];
    proto::encode_call(
        &mut b,
        c.func,
        c.ret,
        &c.classes,
        &c.values,
        &c.stack,
        c.image_len,
    );
    b
}

/// Decodes `body` and checks everything the helper relies on when it
/// executes a decoded call.
fn check_call(body: &[u8], stack_max: u64) {
    let Ok(c) = proto::decode_call(body, stack_max) else {
        return;
    };
    assert!(c.classes.len() <= MAX_ARGS);
    assert_eq!(c.classes.len(), c.values.len());
    assert!(c.stack.len() <= c.classes.len());
    assert_ne!(c.ret, ArgClass::Stack);
    assert!(c.image_len <= stack_max);
    for (class, v) in c.classes.iter().zip(&c.values) {
        assert_ne!(*class, ArgClass::Void);
        if *class == ArgClass::Stack {
            assert!(
                (*v as usize) < c.stack.len(),
                "stack index {v} out of range"
            );
        }
    }
    for s in &c.stack {
        let end = s.offset.checked_add(s.len).expect("offset + len overflows");
        assert!(end <= c.image_len, "buffer past the image");
    }
    // What decodes is canonical: encoding it again gives a call that decodes
    // to the same thing.
    let again = proto::decode_call(&encode(&c), stack_max).expect("re-encoded call");
    assert_eq!(again, c);
}

fn check_result(body: &[u8]) {
    let Ok(r) = proto::decode_result(body) else {
        return;
    };
    let word = u64::from_le_bytes(body[..8].try_into().unwrap());
    assert_eq!(r.status as u32, word as u32);
    assert_eq!(r.text.len() as u64, word >> 32);
    assert!(proto::RESULT_FIXED + r.text.len() <= body.len());
    assert_eq!(r.text, &body[16..16 + r.text.len()]);
}

fn check_words(body: &[u8]) {
    fn one<const N: usize>(body: &[u8]) {
        match proto::decode_words::<N>(body) {
            Ok((w, rest)) => {
                assert!(body.len() >= 8 * N);
                assert_eq!(rest, &body[8 * N..]);
                for (i, v) in w.iter().enumerate() {
                    assert_eq!(
                        *v,
                        u64::from_le_bytes(body[8 * i..8 * i + 8].try_into().unwrap())
                    );
                }
            }
            Err(_) => assert!(body.len() < 8 * N),
        }
    }
    one::<1>(body);
    one::<2>(body);
    one::<3>(body);
}

/// A ring over memory owned by the test.
struct TestRing {
    hdr: Box<RingHeader>,
    data: Vec<u64>,
}

impl TestRing {
    fn new(cap: usize) -> TestRing {
        TestRing {
            hdr: Box::default(),
            data: vec![0; cap / 8],
        }
    }
    /// The ring, whose ends `claims` (one per `TestRing`) keeps.
    fn ring<'c>(&mut self, claims: &'c RingClaims) -> Ring<'c> {
        let cap = (self.data.len() * 8) as u64;
        // SAFETY: both areas live on the heap of self, which outlives every
        // use of the ring in these tests (each declares its claims after its
        // TestRing, so the ring's lifetime ends first); alignment and size
        // follow from the types.
        unsafe {
            Ring::from_raw(
                NonNull::from(&mut *self.hdr),
                NonNull::new(self.data.as_mut_ptr().cast()).unwrap(),
                cap,
                claims,
            )
        }
    }
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: u64 has no padding; any byte pattern is a valid u64.
        unsafe {
            std::slice::from_raw_parts_mut(self.data.as_mut_ptr().cast(), self.data.len() * 8)
        }
    }
    /// Sets the shared positions, as a broken or hostile peer could.
    fn set_positions(&mut self, tail: u64, head: u64) {
        // The header is `repr(C)`: tail at byte 0, head at byte 64, both
        // atomics for which any bit pattern is valid.
        let p = (&mut *self.hdr as *mut RingHeader).cast::<u8>();
        // SAFETY: inside the header, 8-aligned, no reference to it alive.
        unsafe {
            p.cast::<u64>().write(tail);
            p.add(64).cast::<u64>().write(head);
        }
    }
}

/// The mark a header committed at position `pos` carries (the ring's
/// rule, restated independently of `Ring::mark`).
fn mark_at(pos: u64, cap: u64) -> u16 {
    ((pos / 8).wrapping_add(pos / cap)) as u16
}

/// Sets the marks (and seals) along the chain of records starting at
/// `head`, as a producer committing them would, so that the consumer reads what they say
/// (mutated lengths and all) instead of stopping at the first header. Stops
/// at a zero word, at a length off the grid, or after a ring's worth.
fn stamp(bytes: &mut [u8], head: u64) {
    let cap = bytes.len() as u64;
    if !head.is_multiple_of(8) {
        return;
    }
    let mut pos = head;
    while pos.wrapping_sub(head) < cap {
        let off = (pos % cap) as usize;
        let mut w = u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
        let len = w as u32 as u64;
        if w == 0 || len == 0 || !len.is_multiple_of(8) {
            return;
        }
        w = (w & !(0xffff << 48)) | (mark_at(pos, cap) as u64) << 48;
        bytes[off..off + 8].copy_from_slice(&w.to_le_bytes());
        let end = off + len as usize;
        if (w >> 32) as u16 != proto::KIND_PAD && len >= 24 && end as u64 <= cap {
            bytes[end - 8..end].copy_from_slice(&seal(pos, len).to_le_bytes());
        }
        pos = pos.wrapping_add(len);
    }
}

/// Reads everything a consumer will hand out of `ring`: every message lies
/// in the data area, carries the mark of its own position and the seal of
/// its length (it was committed there, this long, not left over or made up), ends within `published` bytes of the
/// start when the producer's published tail is known, and the loop ends
/// (each step consumes at least 16 bytes; a mark repeats only after 65536
/// laps).
fn drain_all(ring: Ring, data: std::ops::Range<usize>, published: Option<u64>) -> usize {
    let cap = ring.capacity() as usize;
    let mut c = ring.acquire_consumer().unwrap();
    let start_head = c.head();
    let mut n = 0;
    for _ in 0..cap / MSG_HEADER + 2 {
        match c.peek() {
            Ok(Some(m)) => {
                let start = m.body.as_ptr() as usize;
                assert!(start >= data.start + MSG_HEADER && start + m.body.len() <= data.end);
                assert_eq!(m.body.len() % 8, 0);
                let body_len = m.body.len();
                // SAFETY: the header lies in the data area (checked above).
                let word = unsafe { (start as *const u64).sub(2).read() };
                assert_eq!(
                    (word >> 48) as u16,
                    mark_at(c.head(), cap as u64),
                    "a message not committed at its position"
                );
                assert_eq!(word as u32 as usize, body_len + MSG_HEADER + MSG_TRAILER);
                // SAFETY: the trailer follows the body inside the data area
                // (the message length was checked against it above).
                let last = unsafe { ((start + body_len) as *const u64).read() };
                assert_eq!(
                    last,
                    seal(c.head(), word as u32 as u64),
                    "an unsealed message"
                );
                assert!(start + body_len + MSG_TRAILER <= data.end);
                n += 1;
                c.advance();
                if let Some(published) = published {
                    let consumed = c.head().wrapping_sub(start_head);
                    assert!(
                        consumed <= published,
                        "read {consumed} bytes of {published} published"
                    );
                }
            }
            Ok(None) | Err(_) => {
                if let Some(published) = published {
                    let consumed = c.head().wrapping_sub(start_head);
                    assert!(consumed <= published, "skipped past the published tail");
                }
                return n;
            }
        }
    }
    panic!("the consumer never stopped handing out messages");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decode_call_on_random_bytes(
        body in prop_oneof![proptest::collection::vec(any::<u8>(), 0..100), noise(2600)],
        stack_max in prop_oneof![Just(u64::MAX), Just(0u64), any::<u64>(), 0u64..4096],
    ) {
        check_call(&body, stack_max);
    }

    #[test]
    fn valid_calls_round_trip_and_mutations_are_checked(
        call in valid_call(),
        muts in proptest::collection::vec(mutation(), 0..6),
        stack_max in prop_oneof![Just(u64::MAX), 0u64..8192],
    ) {
        let body = encode(&call);
        if call.image_len <= stack_max {
            prop_assert_eq!(proto::decode_call(&body, stack_max).unwrap(), call);
        } else {
            prop_assert!(proto::decode_call(&body, stack_max).is_err());
        }
        check_call(&mutate(body, &muts), stack_max);
    }

    #[test]
    fn call_corpus_mutations(
        seed in any::<prop::sample::Index>(),
        muts in proptest::collection::vec(mutation(), 0..8),
        stack_max in prop_oneof![Just(u64::MAX), 0u64..8192],
    ) {
        let seeds = corpus("call");
        check_call(&mutate(seed.get(seeds).clone(), &muts), stack_max);
    }

    #[test]
    fn decode_result_on_random_and_mutated_bytes(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        seed in any::<prop::sample::Index>(),
        muts in proptest::collection::vec(mutation(), 0..8),
    ) {
        check_result(&body);
        let seeds = corpus("result");
        check_result(&mutate(seed.get(seeds).clone(), &muts));
    }

    #[test]
    fn valid_results_round_trip(
        status in 0u32..=5,
        value in any::<u64>(),
        text in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let status = proto::Status::from_u32(status).unwrap();
        let mut b = vec![0u8; proto::RESULT_FIXED + text.len()];
        proto::encode_result(&mut b, status, value, &text);
        let r = proto::decode_result(&b).unwrap();
        prop_assert_eq!((r.status, r.value, r.text), (status, value, &text[..]));
    }

    #[test]
    fn decode_words_on_random_and_mutated_bytes(
        body in proptest::collection::vec(any::<u8>(), 0..40),
        seed in any::<prop::sample::Index>(),
        muts in proptest::collection::vec(mutation(), 0..4),
    ) {
        check_words(&body);
        let seeds = corpus("words");
        check_words(&mutate(seed.get(seeds).clone(), &muts));
    }

    #[test]
    fn peek_on_garbage_rings(
        garbage in noise(4096),
        seed in any::<prop::sample::Index>(),
        use_seed in any::<bool>(),
        stamped in any::<bool>(),
        muts in proptest::collection::vec(mutation(), 0..4),
        tail in prop_oneof![Just(None), any::<u64>().prop_map(Some), (0u64..8192).prop_map(Some)],
        head in prop_oneof![Just(0u64), (0u64..1024).prop_map(|h| h * 8), any::<u64>().prop_map(|h| h & !7), any::<u64>()],
    ) {
        const CAP: usize = 4096;
        let mut t = TestRing::new(CAP);
        let input = if use_seed {
            mutate(seed.get(corpus("ring")).clone(), &muts)
        } else {
            garbage
        };
        let n = input.len().min(CAP);
        // The bytes start at the consumer's position (when it is in range).
        let pos = (head % CAP as u64) as usize;
        let bytes = t.bytes();
        for (i, b) in input[..n].iter().enumerate() {
            bytes[(pos + i) % CAP] = *b;
        }
        if use_seed || stamped {
            stamp(t.bytes(), head);
        }
        // The shared tail no longer bounds the consumer (the headers commit
        // themselves); a hostile one must not matter either.
        let published = tail.unwrap_or(head.wrapping_add(n as u64));
        t.set_positions(published, head);
        let range = t.data.as_ptr() as usize..t.data.as_ptr() as usize + CAP;
        let claims = RingClaims::default();
        drain_all(t.ring(&claims), range, None);
    }

    #[test]
    fn corrupted_rings_of_valid_messages(
        sizes in proptest::collection::vec(0usize..600, 1..40),
        consumed in 0usize..40,
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        // Real traffic (wrapping, pad records) first, then corruption of the
        // bytes the consumer has not read yet.
        const CAP: usize = 4096;
        let mut t = TestRing::new(CAP);
        let claims = RingClaims::default();
        let ring = t.ring(&claims);
        let mut p = ring.acquire_producer().unwrap();
        let mut c = ring.acquire_consumer().unwrap();
        for (i, len) in sizes.iter().enumerate() {
            if !p.try_write(proto::KIND_RESULT, i as u64, *len, |b| b.fill(i as u8)) {
                p.publish();
                while let Ok(Some(_)) = c.peek() {
                    c.advance();
                }
                prop_assert!(p.try_write(proto::KIND_RESULT, i as u64, *len, |b| b.fill(i as u8)));
            }
            if i == consumed {
                p.publish();
                while let Ok(Some(_)) = c.peek() {
                    c.advance();
                }
            }
        }
        p.publish();
        let head = c.head();
        let snapshot = t.bytes().to_vec();
        let corrupted = mutate(snapshot, &muts);
        let n = corrupted.len().min(CAP);
        t.bytes()[..n].copy_from_slice(&corrupted[..n]);
        let range = t.data.as_ptr() as usize..t.data.as_ptr() as usize + CAP;
        t.set_positions(p.tail(), head);
        // The ring's one consumer is the one below.
        drop(c);
        drain_all(ring, range, Some(p.tail() - head));
    }

    #[test]
    fn ring_keeps_every_message_in_order(
        ops in proptest::collection::vec(prop_oneof![(0usize..900).prop_map(Some), Just(None)], 1..120),
    ) {
        // A model check of the ring itself: what the consumer gets is exactly
        // what the producer wrote, in order, across wraps and pads.
        const CAP: usize = 4096;
        let mut t = TestRing::new(CAP);
        let claims = RingClaims::default();
        let ring = t.ring(&claims);
        let mut p = ring.acquire_producer().unwrap();
        let mut c = ring.acquire_consumer().unwrap();
        let mut model = std::collections::VecDeque::new();
        let mut next = 0u64;
        for op in ops {
            match op {
                Some(len) => {
                    let tag = next as u8;
                    if p.try_write(7, next, len, |b| b.fill(tag)) {
                        model.push_back((next, len));
                        next += 1;
                    }
                    p.publish();
                }
                None => match c.peek().unwrap() {
                    Some(m) => {
                        let (id, len) = model.pop_front().expect("a message nobody wrote");
                        prop_assert_eq!((m.kind, m.reqid), (7, id));
                        prop_assert!(m.body.len() >= len);
                        prop_assert!(m.body[..len].iter().all(|&b| b == id as u8));
                        c.advance();
                    }
                    None => prop_assert!(model.is_empty()),
                },
            }
        }
        while let Some(m) = c.peek().unwrap() {
            let (id, _) = model.pop_front().expect("a message nobody wrote");
            prop_assert_eq!(m.reqid, id);
            c.advance();
        }
        prop_assert!(model.is_empty());
    }
}

#[test]
fn every_corpus_seed_is_handled() {
    // The seeds themselves, unmutated, with the limits that matter.
    for body in corpus("call") {
        for stack_max in [0, 8, 64, 1 << 20, u64::MAX] {
            check_call(body, stack_max);
        }
    }
    for body in corpus("result") {
        check_result(body);
    }
    for body in corpus("words") {
        check_words(body);
    }
    for body in corpus("ring") {
        for extra in [0u64, 8, 16, 4096, u64::MAX - 7] {
            let mut t = TestRing::new(4096);
            t.bytes()[..body.len()].copy_from_slice(body);
            stamp(t.bytes(), 0);
            t.set_positions((body.len() as u64).wrapping_add(extra), 0);
            let range = t.data.as_ptr() as usize..t.data.as_ptr() as usize + 4096;
            let claims = RingClaims::default();
            drain_all(t.ring(&claims), range, None);
        }
    }
    // The valid seeds decode.
    let calls = corpus("call");
    assert!(proto::decode_call(&calls[0], 0).is_ok());
    assert!(proto::decode_call(&calls[1], 1 << 20).is_ok());
    assert_eq!(proto::decode_call(&calls[2], 0).unwrap().classes.len(), 256);
    assert!(proto::decode_call(&calls[3], 0).is_err(), "257 arguments");
    assert!(proto::decode_result(&corpus("result")[0]).is_ok());
}

#[test]
fn a_head_off_the_grid_is_an_error() {
    // A well-formed message, but at a position off the 8-byte grid: reading
    // it would be misaligned reads (undefined behaviour), so it is refused.
    for head in [1u64, 4, 12, 4092, u64::MAX - 3] {
        let mut t = TestRing::new(4096);
        let pos = (head % 4096) as usize;
        let mut msg = Vec::new();
        msg.extend_from_slice(&16u32.to_le_bytes());
        msg.extend_from_slice(&proto::KIND_RESULT.to_le_bytes());
        msg.extend_from_slice(&[0, 0]);
        msg.extend_from_slice(&7u64.to_le_bytes());
        for (i, b) in msg.iter().enumerate() {
            t.bytes()[(pos + i) % 4096] = *b;
        }
        t.set_positions(head.wrapping_add(16), head);
        let claims = RingClaims::default();
        let mut c = t.ring(&claims).acquire_consumer().unwrap();
        let r = c.peek().map(|m| m.map(|m| (m.kind, m.reqid)));
        assert!(r.is_err(), "head {head}: {r:?}");
    }
}
