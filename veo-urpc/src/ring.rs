//! A single-producer single-consumer ring of variable-size messages in
//! shared memory.
//!
//! Positions are monotonic byte counters; `tail` is written only by the
//! producer, `head` only by the consumer, each on its own cache line. A
//! message is a 16-byte header (`len`, `kind`, `mark`, `reqid`), a body and
//! an 8-byte [`seal`], padded to whole cache lines ([`LINE`]), and never
//! wraps: when it does not fit before the end of the data area the producer
//! writes a pad record and starts again at offset 0.
//!
//! Whole lines because a message that straddles two of them costs the
//! consumer a second cache miss, on the critical path of every round trip:
//! a call of up to four arguments and every plain result fit in one line.
//!
//! A message commits itself: its first header word (`len` in bits 0..32,
//! `kind` in 32..48, `mark` in 48..64) is stored with release ordering when
//! the message is published, and the word where the next message will start
//! is zeroed before that. The consumer therefore polls the very cache line it
//! is going to read (a zero word: nothing yet), and never needs the producer's
//! `tail`, which is kept for resuming and for [`Ring::has_data`]. The `mark`
//! is a function of the message's position ([`Ring::mark`]): a word left over
//! from an earlier lap, or garbage, is refused as corrupt. The producer never
//! writes more than `cap - 8` bytes past the consumer's published head, so
//! the zeroed word is never one the consumer has yet to read.
//! Written by hand because the layout is shared between two processes and no
//! crate offers a cross-process, futex-woken, variable-size SPSC ring.
//!
//! # Who may use a ring
//!
//! A [`Ring<'seg>`](Ring) borrows the mapping it lies in (its segment, see
//! [`Segment::channel`](crate::Segment::channel)), so that no view of it
//! outlives the mapping. Its two ends are *acquired*, once each per mapping:
//! [`Ring::acquire_producer`] and [`Ring::acquire_consumer`] hand out the
//! one [`Producer`] and the one [`Consumer`] of the ring, and refuse a second
//! while the first lives (dropping it gives the end back). The single
//! producer, single consumer protocol rests on this: two producers of one
//! ring in one process would write the same bytes at once, a data race.
//! Acquire-once rather than `unsafe` constructors because the runtime and
//! the helper take each end once per channel opening, off the call path:
//! the check is one atomic swap there, and nothing on the path of a message.
//! The claims are this process's (kept beside the mapping, not in the shared
//! memory): the peer process holds the other ends, and what it writes is
//! validated ([`Consumer::peek`]), never trusted; a second mapping of the
//! same segment in this process (a test playing the peer) is such a peer.

use crate::proto::{ProtoError, KIND_PAD};
use crate::wait::{WaitPolicy, Wake, WakeWord};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// Bytes of a message header.
pub const MSG_HEADER: usize = 16;

/// Bytes of a message trailer (its seal, see [`seal`]).
pub const MSG_TRAILER: usize = 8;

/// Messages start on, and fill, whole units of this many bytes (a cache line).
pub const LINE: usize = 64;

/// The bytes a message with a body of `body_len` bytes takes in a ring.
#[inline]
pub fn message_bytes(body_len: usize) -> u64 {
    (MSG_HEADER + body_len + MSG_TRAILER).next_multiple_of(LINE) as u64
}

/// The last word of a message of `len` bytes (header and trailer included)
/// at position `pos`. The header's length is believed only when the word it
/// points to is this seal: a length corrupted on the way would have the
/// consumer read past what was committed, and nothing else bounds it.
#[inline]
pub fn seal(pos: u64, len: u64) -> u64 {
    (pos ^ len.rotate_right(20)) ^ 0x5ea1_5ea1_5ea1_5ea1
}

/// The shared control block of one ring (256 bytes, four cache lines).
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub struct RingHeader {
    tail: AtomicU64,
    _pad0: [u64; 7],
    head: AtomicU64,
    _pad1: [u64; 7],
    /// Wakes the consumer when data arrives.
    data: WakeWord,
    _pad2: [u64; 7],
    /// Wakes the producer when space frees up.
    space: WakeWord,
    _pad3: [u64; 7],
}

/// Which ends of one ring this process holds, through one mapping: kept in
/// the process's own memory beside the mapping (see the module
/// documentation), never shared.
#[derive(Debug, Default)]
pub struct RingClaims {
    producer: AtomicBool,
    consumer: AtomicBool,
}

/// An end of a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The writing end ([`Producer`]).
    Producer,
    /// The reading end ([`Consumer`]).
    Consumer,
}

/// An end of a ring is held already in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the {} of this ring is held already", match .0 { End::Producer => "producer", End::Consumer => "consumer" })]
pub struct Taken(pub End);

impl RingClaims {
    fn flag(&self, end: End) -> &AtomicBool {
        match end {
            End::Producer => &self.producer,
            End::Consumer => &self.consumer,
        }
    }

    fn claim(&self, end: End) -> Result<(), Taken> {
        // Acquire pairs with `give_back`'s Release: the next holder sees
        // everything the last one did to the ring.
        match self.flag(end).swap(true, Ordering::Acquire) {
            false => Ok(()),
            true => Err(Taken(end)),
        }
    }

    fn give_back(&self, end: End) {
        self.flag(end).store(false, Ordering::Release);
    }
}

/// A view of one ring inside a mapped segment, borrowing the mapping for
/// `'seg`.
#[derive(Clone, Copy, Debug)]
pub struct Ring<'seg> {
    hdr: NonNull<RingHeader>,
    data: NonNull<u8>,
    cap: u64,
    /// `log2(cap)`: positions become offsets and laps by masks and shifts,
    /// not by divisions (tens of cycles each, several per message).
    shift: u32,
    claims: &'seg RingClaims,
    /// The mapping the pointers above lie in.
    _mapping: PhantomData<&'seg RingHeader>,
}

// SAFETY: a Ring only points into a shared mapping that lives for 'seg
// (from_raw's contract); all shared state is accessed through atomics, and
// the byte areas are handed out by the SPSC protocol to the one producer and
// the one consumer (acquired once each).
unsafe impl Send for Ring<'_> {}
// SAFETY: as for Send; `&Ring` only gives access to atomics.
unsafe impl Sync for Ring<'_> {}

impl<'seg> Ring<'seg> {
    /// A ring whose header is at `hdr` and whose `cap` data bytes follow at
    /// `data`, whose ends this process claims in `claims`.
    ///
    /// # Safety
    /// Both areas must be mapped, writable, suitably aligned (`hdr` to 64,
    /// `data` to 8) and stay so for `'seg`. Every ring made in this process
    /// on the same areas must be made with the same `claims` (which is what
    /// keeps to one producer and one consumer). A `data` area aligned to
    /// [`LINE`] keeps every message on whole cache lines.
    ///
    /// # Panics
    /// If `cap` is not a power of two of at least `4 * LINE` bytes.
    pub unsafe fn from_raw(
        hdr: NonNull<RingHeader>,
        data: NonNull<u8>,
        cap: u64,
        claims: &'seg RingClaims,
    ) -> Ring<'seg> {
        assert!(
            cap.is_power_of_two() && cap >= 4 * LINE as u64,
            "ring capacity {cap} is not a power of two of at least {} bytes",
            4 * LINE
        );
        Ring {
            hdr,
            data,
            cap,
            shift: cap.trailing_zeros(),
            claims,
            _mapping: PhantomData,
        }
    }

    /// The producer of this ring, resuming at its published tail; refused
    /// while another one of this process lives.
    pub fn acquire_producer(&self) -> Result<Producer<'seg>, Taken> {
        self.claims.claim(End::Producer)?;
        Ok(Producer::new(*self))
    }

    /// The consumer of this ring, resuming at its published head; refused
    /// while another one of this process lives.
    pub fn acquire_consumer(&self) -> Result<Consumer<'seg>, Taken> {
        self.claims.claim(End::Consumer)?;
        Ok(Consumer::new(*self))
    }

    /// Whether this process holds the producer or the consumer.
    pub fn is_held(&self) -> bool {
        self.claims.producer.load(Ordering::Acquire) || self.claims.consumer.load(Ordering::Acquire)
    }

    /// The data offset of position `pos`.
    #[inline]
    fn offset(&self, pos: u64) -> u64 {
        pos & (self.cap - 1)
    }

    fn hdr(&self) -> &RingHeader {
        // SAFETY: from_raw's contract: the header is mapped and outlives us.
        unsafe { self.hdr.as_ref() }
    }

    /// Data capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.cap
    }

    /// The largest message body this ring takes.
    pub fn max_body(&self) -> usize {
        (self.cap / 4) as usize - LINE
    }

    /// Whether the consumer has something to read (by the published tail
    /// and head; a consumer that publishes its head lazily asks
    /// [`committed_at`](Self::committed_at) instead).
    pub fn has_data(&self) -> bool {
        let h = self.hdr();
        h.tail.load(Ordering::Acquire) != h.head.load(Ordering::Relaxed)
    }

    /// The header word at data offset `off` (8-aligned, below `cap`).
    #[inline]
    fn word(&self, off: u64) -> &AtomicU64 {
        debug_assert!(off < self.cap && off.is_multiple_of(8));
        // SAFETY: `off` is 8-aligned and inside the data area (callers take
        // it modulo `cap` from a position on the 8-byte grid), which is
        // mapped and 8-aligned per from_raw; any bit pattern is a valid u64.
        unsafe { &*self.data.as_ptr().add(off as usize).cast::<AtomicU64>() }
    }

    /// The mark a header at position `pos` carries: the position in 8-byte
    /// words plus the lap. Words of earlier laps at the same offset differ
    /// (by a multiple of `cap / 8 + 1`, odd for the capacities used) for
    /// 65535 laps.
    #[inline]
    pub fn mark(&self, pos: u64) -> u16 {
        ((pos >> 3).wrapping_add(pos >> self.shift)) as u16
    }

    /// Whether something is committed at position `pos` (a consumer's next
    /// message): the word there is no longer zero. Waiting consumers poll
    /// this, which keeps the message's cache line travelling to them while
    /// they wait. A non-zero word may also be garbage; `peek` tells.
    #[inline]
    pub fn committed_at(&self, pos: u64) -> bool {
        self.word(self.offset(pos) & !7).load(Ordering::Relaxed) != 0
    }

    /// The published tail (a count of bytes ever written).
    pub fn tail(&self) -> u64 {
        self.hdr().tail.load(Ordering::Acquire)
    }

    /// Resets an idle ring to empty, holding both of its ends meanwhile;
    /// refused while this process holds either. (The peer must not use the
    /// ring either: the protocol above this one sees to that.)
    pub fn reset(&self) -> Result<(), Taken> {
        self.claims.claim(End::Producer)?;
        if let Err(e) = self.claims.claim(End::Consumer) {
            self.claims.give_back(End::Producer);
            return Err(e);
        }
        let h = self.hdr();
        // The first message goes at 0: nothing is committed there yet.
        self.word(0).store(0, Ordering::Release);
        h.tail.store(0, Ordering::Release);
        h.head.store(0, Ordering::Release);
        self.claims.give_back(End::Consumer);
        self.claims.give_back(End::Producer);
        Ok(())
    }

    /// Wakes everyone sleeping on this ring (a peer died or shut down).
    pub fn wake_all(&self) {
        self.hdr().data.notify_always();
        self.hdr().space.notify_always();
    }

    /// Waits until the ring has data (for a consumer) or `ready` holds.
    pub fn wait_data(
        &self,
        policy: &WaitPolicy,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
        aborted: impl FnMut() -> bool,
    ) -> Wake {
        self.hdr()
            .data
            .wait(policy, deadline, || self.has_data() || ready(), aborted)
    }

    /// Waits on this ring's data wake-up word until `ready` holds, for VH
    /// threads that share one consumer (they wait for the tail to move past
    /// what they drained, or for other news).
    pub fn wait_until(
        &self,
        policy: &WaitPolicy,
        deadline: Option<Instant>,
        ready: impl FnMut() -> bool,
        aborted: impl FnMut() -> bool,
    ) -> Wake {
        self.hdr().data.wait(policy, deadline, ready, aborted)
    }

    /// The word a consumer sleeps on when the ring is empty, for waits of
    /// its own (an adaptive spin, say).
    pub fn data_word(&self) -> &WakeWord {
        &self.hdr().data
    }

    /// Wakes the consumers sleeping on this ring's data word.
    pub fn wake_consumers(&self) {
        self.hdr().data.notify_always();
    }

    /// Waits until the producer could write a message of `total` bytes
    /// (for a producer that must do other work while it waits).
    pub fn wait_space(
        &self,
        tail: u64,
        total: u64,
        policy: &WaitPolicy,
        deadline: Option<Instant>,
        aborted: impl FnMut() -> bool,
    ) -> Wake {
        let h = self.hdr();
        h.space.wait(
            policy,
            deadline,
            || tail - h.head.load(Ordering::Acquire) + 2 * total + 8 <= self.cap,
            aborted,
        )
    }
}

/// The producing end, one per ring ([`Ring::acquire_producer`]); the VH
/// keeps it behind a mutex.
#[derive(Debug)]
pub struct Producer<'seg> {
    ring: Ring<'seg>,
    /// Written but possibly not yet published.
    tail: u64,
    /// The tail as last published (kept here: reading the shared one would
    /// pull its cache line back from the consumer).
    published: u64,
    /// The consumer's head when last read: reading the shared head only when
    /// this stale value says the ring is full keeps the head's cache line
    /// from moving to the producer on every message.
    head_cache: u64,
    /// The header word of the first message written since the last publish
    /// (at position `published`): storing it is what publishes.
    first: u64,
    /// The line-start words from `tail` up to here are zero already.
    zeroed: u64,
}

/// Bytes past the tail whose line-start words [`Producer::publish`] zeroes
/// ahead of time, so that a small next message finds the word after it
/// zeroed already (see [`Producer::try_write`]).
const ZERO_AHEAD: u64 = 4 * LINE as u64;

impl Drop for Producer<'_> {
    fn drop(&mut self) {
        self.ring.claims.give_back(End::Producer);
    }
}

impl<'seg> Producer<'seg> {
    /// The producer of `ring`, resuming at its published tail (claimed by
    /// the caller).
    fn new(ring: Ring<'seg>) -> Producer<'seg> {
        let tail = ring.tail();
        Producer {
            tail,
            published: tail,
            head_cache: ring.hdr().head.load(Ordering::Acquire),
            first: 0,
            // The word at the tail is zero: the one who left it there saw to it.
            zeroed: tail + LINE as u64,
            ring,
        }
    }

    /// The ring.
    pub fn ring(&self) -> &Ring<'seg> {
        &self.ring
    }

    /// Writes one message whose body `fill` writes, if it fits now.
    /// Returns false when the ring is too full; nothing is written then.
    ///
    /// Always inlined: the body's `fill` then compiles into the copy of a
    /// call's few fields in registers. Left to the compiler, it was outlined
    /// once the crate had more callers, and a call cost 37 instructions
    /// more (callgrind, `latency_ab 1`).
    #[inline(always)]
    pub fn try_write(
        &mut self,
        kind: u16,
        reqid: u64,
        body_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> bool {
        if !self.has_room(body_len) {
            return false;
        }
        self.put(kind, reqid, body_len, fill);
        true
    }

    /// The bytes a message of `body_len` bytes takes at the tail: its own,
    /// and a pad to the end of the data area first when it does not fit
    /// before it.
    #[inline(always)]
    fn need(&self, body_len: usize) -> u64 {
        let total = message_bytes(body_len);
        let to_end = self.ring.cap - self.ring.offset(self.tail);
        if total > to_end {
            to_end + total
        } else {
            total
        }
    }

    /// Whether a message with a body of `body_len` bytes fits now.
    ///
    /// # Panics
    /// If `body_len` is over [`Ring::max_body`].
    #[inline(always)]
    fn has_room(&mut self, body_len: usize) -> bool {
        assert!(body_len <= self.ring.max_body(), "message body too large");
        let need = self.need(body_len);
        let cap = self.ring.cap;
        // 8 more: the word after the message is zeroed (it must not be one
        // the consumer has yet to read).
        if self.tail - self.head_cache + need + 8 > cap {
            // The head only moves forward: a fresh look can only make room.
            self.head_cache = self.ring.hdr().head.load(Ordering::Acquire);
            if self.tail - self.head_cache + need + 8 > cap {
                return false;
            }
        }
        true
    }

    /// Writes the message that [`has_room`](Self::has_room) found room for.
    #[inline(always)]
    fn put(&mut self, kind: u16, reqid: u64, body_len: usize, fill: impl FnOnce(&mut [u8])) {
        let total = message_bytes(body_len);
        let to_end = self.ring.cap - self.ring.offset(self.tail);
        let need = self.need(body_len);
        // Where the next message will start reads as empty before this one
        // is published (the publishing store orders it). Usually `publish`
        // zeroed it already, after the previous message: a store here would
        // hold up this message's own, which x86 makes visible in order,
        // until the line was fetched (10 % of a round trip, measured).
        let next = self.tail + need;
        if next >= self.zeroed {
            self.ring
                .word(self.ring.offset(next))
                .store(0, Ordering::Relaxed);
            self.zeroed = next + LINE as u64;
        }
        if total > to_end {
            self.put_header(self.tail, to_end as u32, KIND_PAD);
            self.tail += to_end;
        }
        let pos = self.ring.offset(self.tail);
        // SAFETY: [pos, pos + total) is free (`has_room` checked it) and
        // inside the data area (pos + total <= cap after the pad); the
        // header word is written apart, atomically.
        unsafe {
            let p = self.ring.data.as_ptr().add(pos as usize);
            p.add(8).cast::<u64>().write(reqid);
            let body = std::slice::from_raw_parts_mut(p.add(MSG_HEADER), body_len);
            fill(body);
            p.add(total as usize - MSG_TRAILER)
                .cast::<u64>()
                .write(seal(self.tail, total));
        }
        self.put_header(self.tail, total as u32, kind);
        self.tail += total;
    }

    /// Writes the header word of the record at position `pos` (owned by the
    /// producer), or keeps it for `publish` when it is the first unpublished
    /// one: the consumer sees nothing past it until then.
    #[inline]
    fn put_header(&mut self, pos: u64, len: u32, kind: u16) {
        let word = len as u64 | (kind as u64) << 32 | (self.ring.mark(pos) as u64) << 48;
        if pos == self.published {
            self.first = word;
        } else {
            // Ordered before the consumer's view by publish's release store.
            self.ring
                .word(self.ring.offset(pos))
                .store(word, Ordering::Relaxed);
        }
    }

    /// The written (possibly unpublished) tail.
    pub fn tail(&self) -> u64 {
        self.tail
    }

    /// Whether messages were written since the last publish.
    pub fn pending(&self) -> bool {
        self.tail != self.published
    }

    /// Makes the written messages visible and wakes a sleeping consumer.
    #[inline]
    pub fn publish(&mut self) {
        let h = self.ring.hdr();
        if self.tail != self.published {
            // Commits everything written: the messages after the first one
            // have their header words stored already, before this.
            self.ring
                .word(self.ring.offset(self.published))
                .store(self.first, Ordering::Release);
        }
        h.tail.store(self.tail, Ordering::Release);
        self.published = self.tail;
        // Zero the next message's successor now, off its path. Only words
        // the consumer is done with: a word at `p` was read a lap ago once
        // the head is past `p - cap`.
        let end = (self.tail + ZERO_AHEAD).min(self.head_cache + self.ring.cap - 8);
        while self.zeroed < end {
            self.ring
                .word(self.ring.offset(self.zeroed))
                .store(0, Ordering::Relaxed);
            self.zeroed += LINE as u64;
        }
        h.data.notify();
    }

    /// Writes one message, publishing and waiting for space when the ring is
    /// full. Gives up with the wait's outcome when `aborted` says so.
    ///
    /// Inlined, as [`try_write`](Self::try_write) is, with the wait for
    /// space apart: the helper answers every call through here, and a body
    /// of two words is then two stores.
    #[inline(always)]
    pub fn write(
        &mut self,
        kind: u16,
        reqid: u64,
        body_len: usize,
        fill: impl FnOnce(&mut [u8]),
        policy: &WaitPolicy,
        aborted: impl FnMut() -> bool,
    ) -> Wake {
        if !self.has_room(body_len) {
            let wake = self.wait_room(body_len, policy, aborted);
            if wake != Wake::Ready {
                return wake;
            }
        }
        self.put(kind, reqid, body_len, fill);
        Wake::Ready
    }

    /// Publishes what was written and waits until a message of `body_len`
    /// bytes fits, or `aborted` says to give up.
    #[cold]
    #[inline(never)]
    fn wait_room(
        &mut self,
        body_len: usize,
        policy: &WaitPolicy,
        mut aborted: impl FnMut() -> bool,
    ) -> Wake {
        loop {
            // The consumer cannot make room for what it has not seen.
            self.publish();
            let total = message_bytes(body_len) * 2;
            let ring = self.ring;
            let tail = self.tail;
            let wake = ring.hdr().space.wait(
                policy,
                None,
                || tail - ring.hdr().head.load(Ordering::Acquire) + total + 8 <= ring.cap,
                &mut aborted,
            );
            if wake != Wake::Ready {
                return wake;
            }
            if self.has_room(body_len) {
                return Wake::Ready;
            }
        }
    }
}

/// One message, borrowed from the ring until the consumer advances.
#[derive(Debug)]
pub struct Msg<'a> {
    /// The message kind (see [`crate::proto`]).
    pub kind: u16,
    /// The request it belongs to.
    pub reqid: u64,
    /// The ring position just past this message: a consumer that has
    /// handled it has handled everything published before `end`.
    pub end: u64,
    /// The body (without padding).
    pub body: &'a [u8],
}

/// The consuming end, one per ring ([`Ring::acquire_consumer`]).
#[derive(Debug)]
pub struct Consumer<'seg> {
    ring: Ring<'seg>,
    head: u64,
    /// The head as last published to the producer.
    published: u64,
    /// Length of the message last returned by `peek`.
    current: u64,
}

impl Drop for Consumer<'_> {
    fn drop(&mut self) {
        self.ring.claims.give_back(End::Consumer);
    }
}

impl<'seg> Consumer<'seg> {
    /// The consumer of `ring`, resuming at its published head (claimed by
    /// the caller).
    fn new(ring: Ring<'seg>) -> Consumer<'seg> {
        let head = ring.hdr().head.load(Ordering::Acquire);
        Consumer {
            head,
            published: head,
            ring,
            current: 0,
        }
    }

    /// The ring.
    pub fn ring(&self) -> &Ring<'seg> {
        &self.ring
    }

    /// The next message, if any, validated against the ring's bounds.
    /// Body lengths are the padded lengths; protocols carry exact lengths.
    #[inline]
    pub fn peek(&mut self) -> Result<Option<Msg<'_>>, ProtoError> {
        let cap = self.ring.cap;
        loop {
            // A head off the 8-byte grid (the shared word a consumer resumes
            // from) would make every read below misaligned.
            if !self.head.is_multiple_of(8) {
                return Err(ProtoError::Corrupt("ring positions out of range"));
            }
            let pos = self.ring.offset(self.head);
            // The Acquire load orders the reads of the whole message, and of
            // every message published with it.
            let word = self.ring.word(pos).load(Ordering::Acquire);
            if word == 0 {
                return Ok(None);
            }
            let (len, kind, mark) = (word as u32 as u64, (word >> 32) as u16, (word >> 48) as u16);
            if mark != self.ring.mark(self.head) {
                return Err(ProtoError::Corrupt("header not committed at its position"));
            }
            // The producer writes at most `cap - 8` bytes past the head it
            // saw, which is at most the one published.
            let ahead = self.head.wrapping_sub(self.published);
            if ahead > cap || ahead + len + 8 > cap {
                return Err(ProtoError::Corrupt("ring positions out of range"));
            }
            if kind == KIND_PAD {
                if len != cap - pos {
                    return Err(ProtoError::Corrupt("bad pad record"));
                }
                self.head += len;
                self.publish_head();
                continue;
            }
            if len < (MSG_HEADER + MSG_TRAILER) as u64 || len % 8 != 0 || pos + len > cap {
                return Err(ProtoError::Corrupt("bad message length"));
            }
            // SAFETY: [pos, pos + len) is inside the data area and 8-aligned
            // (checked above); it is ours until we advance past it, if the
            // seal at its end says the producer wrote a message this long here.
            let (reqid, body) = unsafe {
                let p = self.ring.data.as_ptr().add(pos as usize);
                if p.add(len as usize - MSG_TRAILER).cast::<u64>().read() != seal(self.head, len) {
                    return Err(ProtoError::Corrupt("message length not sealed"));
                }
                (
                    p.add(8).cast::<u64>().read(),
                    std::slice::from_raw_parts(
                        p.add(MSG_HEADER),
                        len as usize - MSG_HEADER - MSG_TRAILER,
                    ),
                )
            };
            self.current = len;
            return Ok(Some(Msg {
                kind,
                reqid,
                body,
                end: self.head + len,
            }));
        }
    }

    /// Releases the message last returned by `peek`.
    pub fn advance(&mut self) {
        self.head += self.current;
        self.current = 0;
        self.publish_head();
    }

    /// Moves past the message last returned by `peek` without telling the
    /// producer yet, unless an eighth of the ring has been consumed since it
    /// was last told. Each publication costs a full fence and moves a cache
    /// line; call [`release`](Self::release) before waiting or returning.
    #[inline]
    pub fn advance_lazily(&mut self) {
        self.head += self.current;
        self.current = 0;
        if self.head - self.published >= self.ring.cap / 8 {
            self.publish_head();
        }
    }

    /// Publishes the consumed position, if it moved since last published.
    pub fn release(&mut self) {
        if self.head != self.published {
            self.publish_head();
        }
    }

    fn publish_head(&mut self) {
        let h = self.ring.hdr();
        h.head.store(self.head, Ordering::Release);
        self.published = self.head;
        h.space.notify();
    }

    /// The consumed position.
    pub fn head(&self) -> u64 {
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem {
        hdr: Box<RingHeader>,
        data: Vec<u64>,
    }
    fn ring(claims: &RingClaims, cap: usize) -> (Mem, Ring<'_>) {
        let mut m = Mem {
            hdr: Box::default(),
            data: vec![0u64; cap / 8],
        };
        // SAFETY: both areas live on the heap of `m`, which the tests keep
        // alive as long as the ring; every ring on them is this one.
        let r = unsafe {
            Ring::from_raw(
                NonNull::from(&mut *m.hdr),
                NonNull::new(m.data.as_mut_ptr().cast()).unwrap(),
                cap as u64,
                claims,
            )
        };
        (m, r)
    }

    #[test]
    fn each_end_is_acquired_once_at_a_time() {
        let claims = RingClaims::default();
        let (_m, r) = ring(&claims, 1024);
        let p = r.acquire_producer().unwrap();
        assert_eq!(r.acquire_producer().unwrap_err(), Taken(End::Producer));
        // A copy of the view is the same ring.
        let copy = r;
        assert!(copy.acquire_producer().is_err());
        let c = r.acquire_consumer().unwrap();
        assert_eq!(r.acquire_consumer().unwrap_err(), Taken(End::Consumer));
        assert!(r.is_held());
        // Not while either end is held.
        assert_eq!(r.reset(), Err(Taken(End::Producer)));
        drop(p);
        assert_eq!(r.reset(), Err(Taken(End::Consumer)));
        // The refused reset gave back what it took.
        let p = r.acquire_producer().unwrap();
        drop((p, c));
        assert!(!r.is_held());
        r.reset().unwrap();
        let _p = r.acquire_producer().unwrap();
        let _c = r.acquire_consumer().unwrap();
    }

    #[test]
    fn messages_cross_the_wrap_in_order() {
        let claims = RingClaims::default();
        let (_m, r) = ring(&claims, 1024);
        let mut p = r.acquire_producer().unwrap();
        let mut c = r.acquire_consumer().unwrap();
        for i in 0..1000u64 {
            let len = (i % 190) as usize;
            assert!(p.try_write(7, i, len, |b| b.fill(i as u8)));
            p.publish();
            let m = c.peek().unwrap().unwrap();
            assert_eq!((m.kind, m.reqid), (7, i));
            assert!(m.body.len() >= len && m.body[..len].iter().all(|&x| x == i as u8));
            c.advance();
        }
        assert!(c.peek().unwrap().is_none());
    }

    #[test]
    fn full_ring_refuses_until_consumed() {
        let claims = RingClaims::default();
        let (_m, r) = ring(&claims, 1024);
        let mut p = r.acquire_producer().unwrap();
        let mut c = r.acquire_consumer().unwrap();
        let mut n = 0;
        while p.try_write(1, n, 100, |_| {}) {
            n += 1;
        }
        assert!(n >= 7);
        p.publish();
        // At most two: the next one may need a pad to the end, and the word
        // after it.
        for i in 0.. {
            assert!(c.peek().unwrap().is_some());
            c.advance();
            if p.try_write(1, n, 100, |_| {}) {
                break;
            }
            assert!(i < 1, "consumed two messages and still no room");
        }
    }

    #[test]
    fn corrupt_lengths_are_errors() {
        let claims = RingClaims::default();
        let (mut m, r) = ring(&claims, 1024);
        let mut p = r.acquire_producer().unwrap();
        assert!(p.try_write(1, 1, 8, |_| {}));
        p.publish();
        m.data[0] = 3; // len 3, kind 0
        let mut c = r.acquire_consumer().unwrap();
        assert!(c.peek().is_err());
        m.data[0] = 4096 | (1 << 32);
        assert!(c.peek().is_err());
    }
}
