//! Owning handles: a channel and ring ends that keep their segment mapped,
//! for owners that cannot hold a borrow of it.
//!
//! The views of [`crate::segment`] and [`crate::ring`] borrow the
//! [`Segment`]. The runtime keeps a channel, its command producer and its
//! result consumer in shared state that lives as long as any context on the
//! channel (behind `Arc`s, beside the proc's `Arc<Segment>`): these handles
//! hold a clone of that `Arc`, so the mapping outlives them, and lend their
//! views for no longer than a borrow of the handle. They cost nothing on the
//! path of a message: the methods forward to the borrowed ones.
//!
//! A handle never hands out a view with a lifetime of its own making (the
//! `'static` inside is never seen outside this module): a `&mut` of the
//! inner producer would let a caller swap in one of a shorter-lived
//! segment, so the mutating methods are forwarded one by one instead.

use crate::proto::ProtoError;
use crate::ring::{Consumer, Msg, Producer, Ring, Taken};
use crate::segment::{Channel, Segment};
use crate::wait::{WaitPolicy, Wake};
use std::sync::Arc;

/// Channel `index` of a segment kept mapped by an `Arc`.
#[derive(Debug)]
pub struct OwnedChannel {
    /// Borrows `seg`, declared after it is dropped.
    chan: Channel<'static>,
    seg: Arc<Segment>,
}

impl OwnedChannel {
    /// Channel `index` of `seg`.
    ///
    /// # Panics
    /// If `seg` has no channel `index`.
    pub fn new(seg: Arc<Segment>, index: usize) -> OwnedChannel {
        let chan = seg.channel(index);
        // SAFETY: only the lifetime changes. The channel points into the
        // mapping and the claims of `*seg`, which the Arc kept here keeps
        // alive (and in place) as long as this handle; the 'static view is
        // only lent out shortened to a borrow of the handle.
        let chan = unsafe { std::mem::transmute::<Channel<'_>, Channel<'static>>(chan) };
        OwnedChannel { chan, seg }
    }

    /// The channel, borrowed from this handle.
    #[inline]
    pub fn get(&self) -> Channel<'_> {
        self.chan
    }

    /// The segment.
    pub fn segment(&self) -> &Arc<Segment> {
        &self.seg
    }

    /// The command ring's producer (the VH's end), owning.
    pub fn cmd_producer(&self) -> Result<OwnedProducer, Taken> {
        let inner = self.chan.cmd.acquire_producer()?;
        Ok(OwnedProducer {
            inner,
            _seg: self.seg.clone(),
        })
    }

    /// The result ring's consumer (the VH's end), owning.
    pub fn res_consumer(&self) -> Result<OwnedConsumer, Taken> {
        let inner = self.chan.res.acquire_consumer()?;
        Ok(OwnedConsumer {
            inner,
            _seg: self.seg.clone(),
        })
    }
}

/// A [`Producer`] that keeps its segment mapped ([`OwnedChannel::cmd_producer`]).
#[derive(Debug)]
pub struct OwnedProducer {
    /// Borrows `_seg`: declared first, dropped first (giving its end back).
    inner: Producer<'static>,
    _seg: Arc<Segment>,
}

impl OwnedProducer {
    /// The ring, borrowed from this handle.
    #[inline]
    pub fn ring(&self) -> &Ring<'_> {
        self.inner.ring()
    }

    /// [`Producer::try_write`] (inlined as it is: one per call on the
    /// VH's path).
    #[inline(always)]
    pub fn try_write(
        &mut self,
        kind: u16,
        reqid: u64,
        body_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> bool {
        self.inner.try_write(kind, reqid, body_len, fill)
    }

    /// [`Producer::tail`].
    #[inline]
    pub fn tail(&self) -> u64 {
        self.inner.tail()
    }

    /// [`Producer::pending`].
    #[inline]
    pub fn pending(&self) -> bool {
        self.inner.pending()
    }

    /// [`Producer::publish`].
    #[inline]
    pub fn publish(&mut self) {
        self.inner.publish()
    }

    /// [`Producer::write`].
    #[inline]
    pub fn write(
        &mut self,
        kind: u16,
        reqid: u64,
        body_len: usize,
        fill: impl FnOnce(&mut [u8]),
        policy: &WaitPolicy,
        aborted: impl FnMut() -> bool,
    ) -> Wake {
        self.inner
            .write(kind, reqid, body_len, fill, policy, aborted)
    }
}

/// A [`Consumer`] that keeps its segment mapped ([`OwnedChannel::res_consumer`]).
#[derive(Debug)]
pub struct OwnedConsumer {
    /// Borrows `_seg`: declared first, dropped first (giving its end back).
    inner: Consumer<'static>,
    _seg: Arc<Segment>,
}

impl OwnedConsumer {
    /// The ring, borrowed from this handle.
    #[inline]
    pub fn ring(&self) -> &Ring<'_> {
        self.inner.ring()
    }

    /// [`Consumer::peek`].
    #[inline]
    pub fn peek(&mut self) -> Result<Option<Msg<'_>>, ProtoError> {
        self.inner.peek()
    }

    /// [`Consumer::advance`].
    #[inline]
    pub fn advance(&mut self) {
        self.inner.advance()
    }

    /// [`Consumer::advance_lazily`].
    #[inline]
    pub fn advance_lazily(&mut self) {
        self.inner.advance_lazily()
    }

    /// [`Consumer::release`].
    #[inline]
    pub fn release(&mut self) {
        self.inner.release()
    }

    /// [`Consumer::head`].
    #[inline]
    pub fn head(&self) -> u64 {
        self.inner.head()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SegmentConfig;

    #[test]
    fn handles_keep_the_segment_and_their_ends() {
        let cfg = SegmentConfig {
            channels: 2,
            ring_bytes: 64 << 10,
            ..Default::default()
        };
        let seg = Arc::new(Segment::create(&cfg, 7).unwrap());
        let chan = OwnedChannel::new(seg.clone(), 1);
        let mut p = chan.cmd_producer().unwrap();
        assert!(chan.cmd_producer().is_err());
        assert!(seg.channel(1).cmd.acquire_producer().is_err());
        let mut c = chan.get().cmd.acquire_consumer().unwrap();
        // The handles outlive the caller's Arc.
        drop(seg);
        assert!(p.try_write(3, 9, 2, |b| b[..2].copy_from_slice(b"hi")));
        p.publish();
        let m = c.peek().unwrap().unwrap();
        assert_eq!((m.kind, m.reqid, &m.body[..2]), (3, 9, &b"hi"[..]));
        c.advance();
        drop(c);
        // Dropping a handle gives its end back.
        drop(p);
        let _again = chan.cmd_producer().unwrap();
        let mut r = chan.res_consumer().unwrap();
        assert!(r.peek().unwrap().is_none());
        assert_eq!(r.ring().capacity(), 64 << 10);
    }
}
