//! The shared segment: a header, then one channel (command ring + result
//! ring) per context slot.
//!
//! The segment is an anonymous `memfd` (huge pages when the system has them),
//! mode 0600, inherited by the helper as a file descriptor: it has no name in
//! `/dev/shm` or SysV IPC, so a crash leaves nothing behind.
//!
//! The views into a segment borrow it: a [`Channel<'seg>`](Channel) and its
//! [`Ring<'seg>`](Ring)s cannot outlive the [`Segment`] that unmaps the
//! memory when dropped. Owners that cannot hold a borrow (the runtime keeps
//! a channel's ends beside the proc's `Arc<Segment>`) use the owning handles
//! of [`crate::owned`].

use crate::proto::PROTOCOL_VERSION;
use crate::ring::{Ring, RingClaims, RingHeader};
use crate::wait::WakeWord;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::mm::{MapFlags, ProtFlags};
use std::io;
use std::marker::PhantomData;
use std::mem::size_of;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

/// `"VEORSURP"`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"VEORSURP");

/// A fingerprint of the shared layout, so a helper built from other sources
/// is refused even when it claims the same version.
pub const LAYOUT: u64 = (size_of::<SegmentHeader>() as u64)
    | (size_of::<ChannelHeader>() as u64) << 16
    | (size_of::<RingHeader>() as u64) << 32
    | (size_of::<WakeWord>() as u64) << 48;

const HEADER_BYTES: usize = 4096;

/// Helper states announced in [`SegmentHeader::helper_state`].
pub mod state {
    /// Not yet attached.
    pub const STARTING: u32 = 0;
    /// Attached, checked, serving.
    pub const READY: u32 = 1;
    /// Attached and refused the segment (version or layout mismatch).
    pub const REFUSED: u32 = 2;
}

/// What a dying helper leaves in [`SegmentHeader`] for the VH.
pub mod fault {
    /// Nothing happened.
    pub const NONE: u32 = 0;
    /// A kernel raised a fatal signal.
    pub const SIGNAL: u32 = 1;
    /// A kernel called `exit`.
    pub const EXIT: u32 = 2;
    /// A kernel ended its thread instead of returning: `pthread_exit`,
    /// `pthread_cancel`, or an exception thrown out of the kernel.
    pub const THREAD_EXIT: u32 = 3;
}

/// The first page of the segment.
#[repr(C)]
#[derive(Debug)]
pub struct SegmentHeader {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`PROTOCOL_VERSION`] of the VH.
    pub version: u64,
    /// [`LAYOUT`] of the VH.
    pub layout: u64,
    /// Total mapped bytes.
    pub size: u64,
    /// Number of channels (channel 0 is the proc's control channel).
    pub channels: u64,
    /// Data bytes of each ring.
    pub ring_bytes: u64,
    /// Bytes of each worker's call frame area (the VE stack for OnStack data).
    pub stack_size: u64,
    /// Random number also given to the helper in its environment.
    pub token: u64,
    /// Process id of the VH.
    pub parent_pid: u32,
    /// VE core to pin the helper to, or -1.
    pub core: i32,
    /// One of [`state`].
    pub helper_state: AtomicU32,
    /// The helper's process id.
    pub helper_pid: AtomicU32,
    /// The helper's [`PROTOCOL_VERSION`].
    pub helper_version: AtomicU64,
    /// The helper's [`LAYOUT`].
    pub helper_layout: AtomicU64,
    /// One of [`fault`]; written last, after the other fault fields.
    pub fault_kind: AtomicU32,
    /// The fatal signal.
    pub fault_signal: AtomicI32,
    /// The channel whose request faulted.
    pub fault_channel: AtomicU64,
    /// The request that faulted.
    pub fault_reqid: AtomicU64,
    /// The faulting address.
    pub fault_addr: AtomicU64,
    /// Set by the VH when the proc shuts down, so that workers exit.
    pub shutdown: AtomicU32,
    /// Where the VE memory region ([`crate::Heap`]) starts in the file.
    pub heap_offset: u64,
    /// Its size (0: there is none).
    pub heap_bytes: u64,
    /// Its VE address in the helper (0: none), written before `READY`.
    pub helper_heap_base: AtomicU64,
    /// Set by the VH before the helper starts when the proc is traced: the
    /// helper then sends [`KIND_TIMES`](crate::proto::KIND_TIMES) before
    /// each result.
    pub trace: AtomicU32,
}

/// Per-channel shared state besides the rings: the gate for VH closures.
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub struct ChannelHeader {
    /// Request id of the gate the worker is stopped at (0: none).
    pub gate_reached: AtomicU64,
    /// Wakes the VH when a gate is reached.
    pub gate_reached_wake: WakeWord,
    _pad0: [u64; 6],
    /// Request id of the last gate the VH released.
    pub gate_released: AtomicU64,
    /// Wakes the worker when its gate is released.
    pub gate_released_wake: WakeWord,
    _pad1: [u64; 6],
    /// Set by the helper when this channel's worker has stopped, so that the
    /// VH can reuse the slot; reset by the VH before it opens the slot again.
    pub worker_exited: AtomicU32,
    /// The CPU (plus one; 0: unknown) on which the channel's helper worker
    /// last waited for a command ...
    pub helper_cpu: AtomicU32,
    /// ... and a VH thread last waited for an answer: a waiter whose peer
    /// shares its CPU sleeps at once instead of spinning ([`crate::wait`]).
    pub vh_cpu: AtomicU32,
    _pad2: [u32; 13],
}

impl ChannelHeader {
    /// Resets the gate and exit words before a slot is reused.
    pub fn reset(&self) {
        self.gate_reached.store(0, Ordering::Release);
        self.gate_released.store(0, Ordering::Release);
        self.worker_exited.store(0, Ordering::Release);
    }
}

/// Sizes of a new segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentConfig {
    /// Context slots, including the control channel 0.
    pub channels: usize,
    /// Data bytes of each ring (rounded up to a power of two, at least
    /// 64 KiB, at most [`MAX_RING_BYTES`]).
    pub ring_bytes: usize,
    /// Bytes of each worker's call frame area.
    pub stack_size: u64,
    /// VE core to pin the helper to.
    pub core: Option<u32>,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig {
            channels: 65,
            ring_bytes: 1 << 20,
            stack_size: 256 << 20,
            core: None,
        }
    }
}

/// The two rings and the header of one channel, borrowing the segment for
/// `'seg`.
#[derive(Clone, Copy, Debug)]
pub struct Channel<'seg> {
    /// VH to VE.
    pub cmd: Ring<'seg>,
    /// VE to VH.
    pub res: Ring<'seg>,
    hdr: NonNull<ChannelHeader>,
    _segment: PhantomData<&'seg Segment>,
}

// SAFETY: Channel points into a mapping that lives for 'seg (it borrows the
// Segment) and only exposes atomics and rings.
unsafe impl Send for Channel<'_> {}
// SAFETY: as for Send.
unsafe impl Sync for Channel<'_> {}

impl<'seg> Channel<'seg> {
    /// The gate words.
    pub fn header(&self) -> &'seg ChannelHeader {
        // SAFETY: mapped, and initialised (zeroed), for 'seg.
        unsafe { self.hdr.as_ref() }
    }
}

/// Why a helper cannot use a segment.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The system refused.
    #[error("cannot map the shared segment: {0}")]
    Io(#[from] io::Error),
    /// Smaller than its header.
    #[error("the shared segment is {len} bytes, smaller than its {min}-byte header")]
    TooSmall {
        /// Its size.
        len: u64,
        /// The header's size.
        min: u64,
    },
    /// Not a segment of ours.
    #[error("the shared segment is not a veo-rs segment (magic {found:#x})")]
    BadMagic {
        /// What its first word holds.
        found: u64,
    },
    /// Another protocol.
    #[error("protocol mismatch: the VH speaks {vh_version:#x} (layout {vh_layout:#x}), this helper {version:#x} (layout {layout:#x})")]
    Mismatch {
        /// VH version.
        vh_version: u64,
        /// VH layout.
        vh_layout: u64,
        /// Ours.
        version: u64,
        /// Ours.
        layout: u64,
    },
    /// The header's ring size or channel count is impossible, or the
    /// channels do not fit the segment.
    #[error("the shared segment's rings are invalid ({channels} channels of {ring_bytes}-byte rings in {len} bytes): {check}")]
    BadRings {
        /// The header's ring size.
        ring_bytes: u64,
        /// The header's channel count.
        channels: u64,
        /// The segment's size.
        len: u64,
        /// The check that failed.
        check: &'static str,
    },
    /// The header's VE memory region is misaligned or out of place.
    #[error("the shared segment's VE memory region is invalid ({bytes} bytes at {offset:#x} in {len} bytes): {check}")]
    BadHeap {
        /// Where the header says it starts.
        offset: u64,
        /// Its size in the header.
        bytes: u64,
        /// The segment's size.
        len: u64,
        /// The check that failed.
        check: &'static str,
    },
}

/// A mapped segment.
#[derive(Debug)]
pub struct Segment {
    fd: OwnedFd,
    base: NonNull<u8>,
    len: usize,
    stride: usize,
    ring_bytes: usize,
    channels: usize,
    huge: bool,
    /// The VE memory region: file offset and length (0: none).
    heap_off: usize,
    heap_len: usize,
    /// Which ring ends this process holds through this mapping: the command
    /// ring's then the result ring's, channel by channel.
    claims: Box<[RingClaims]>,
}

// SAFETY: the mapping is process-wide and lives until drop; shared state in it
// is only reached through atomics and the SPSC ring protocol.
unsafe impl Send for Segment {}
// SAFETY: as for Send.
unsafe impl Sync for Segment {}

/// The largest ring [`Segment::create`] accepts.
pub const MAX_RING_BYTES: usize = 1 << 30;

fn stride_for(ring_bytes: usize) -> usize {
    (size_of::<ChannelHeader>() + 2 * (size_of::<RingHeader>() + ring_bytes)).next_multiple_of(4096)
}

/// No ring end held: two rings per channel.
fn claims_for(channels: usize) -> Box<[RingClaims]> {
    (0..2 * channels).map(|_| RingClaims::default()).collect()
}

/// VE memory regions start on this boundary in the file.
const HEAP_ALIGN: usize = 2 << 20;

impl Segment {
    /// Creates and initialises a segment for a new proc.
    pub fn create(cfg: &SegmentConfig, token: u64) -> io::Result<Segment> {
        Self::create_with_heap(cfg, token, 0)
    }

    /// [`create`](Self::create), with a VE memory region of `heap_bytes`
    /// (rounded up to 2 MiB; 0: none) after the channels. The region is
    /// sparse: it costs nothing until used. Such a segment never lives in
    /// huge pages (they would be reserved for the whole region).
    pub fn create_with_heap(
        cfg: &SegmentConfig,
        token: u64,
        heap_bytes: usize,
    ) -> io::Result<Segment> {
        // Message lengths are 32-bit: a quarter ring must fit, with room.
        if cfg.ring_bytes > MAX_RING_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a ring of {} bytes is larger than the limit of {MAX_RING_BYTES}",
                    cfg.ring_bytes
                ),
            ));
        }
        let ring_bytes = cfg.ring_bytes.next_power_of_two().max(64 << 10);
        let stride = stride_for(ring_bytes);
        let len = cfg
            .channels
            .max(1)
            .checked_mul(stride)
            .and_then(|n| n.checked_add(HEADER_BYTES))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "segment too large"))?;
        let heap_len = heap_bytes.next_multiple_of(HEAP_ALIGN);
        let (len, heap_off) = match heap_len {
            0 => (len, 0),
            _ => {
                let off = len.next_multiple_of(HEAP_ALIGN);
                let total = off.checked_add(heap_len).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "segment too large")
                })?;
                (total, off)
            }
        };
        let seg = if heap_len == 0 {
            Self::map_new(len, true).or_else(|_| Self::map_new(len, false))?
        } else {
            Self::map_new(len, false)?
        };
        let mut seg = seg;
        seg.heap_off = heap_off;
        seg.heap_len = heap_len;
        seg.stride = stride;
        seg.ring_bytes = ring_bytes;
        seg.channels = cfg.channels.max(1);
        seg.claims = claims_for(seg.channels);
        // SAFETY: the header page is mapped, writable and not yet shared.
        unsafe {
            seg.base
                .cast::<SegmentHeader>()
                .as_ptr()
                .write(SegmentHeader {
                    magic: MAGIC,
                    version: PROTOCOL_VERSION,
                    layout: LAYOUT,
                    size: seg.len as u64,
                    channels: seg.channels as u64,
                    ring_bytes: ring_bytes as u64,
                    stack_size: cfg.stack_size,
                    token,
                    parent_pid: std::process::id(),
                    core: cfg.core.map_or(-1, |c| c as i32),
                    helper_state: AtomicU32::new(state::STARTING),
                    helper_pid: AtomicU32::new(0),
                    helper_version: AtomicU64::new(0),
                    helper_layout: AtomicU64::new(0),
                    fault_kind: AtomicU32::new(fault::NONE),
                    fault_signal: AtomicI32::new(0),
                    fault_channel: AtomicU64::new(0),
                    fault_reqid: AtomicU64::new(0),
                    fault_addr: AtomicU64::new(0),
                    shutdown: AtomicU32::new(0),
                    heap_offset: seg.heap_off as u64,
                    heap_bytes: seg.heap_len as u64,
                    helper_heap_base: AtomicU64::new(0),
                    trace: AtomicU32::new(0),
                });
        }
        // Ring and channel headers start zeroed (fresh memfd pages are zero),
        // which is their empty state.
        Ok(seg)
    }

    fn map_new(len: usize, huge: bool) -> io::Result<Segment> {
        use rustix::fs::MemfdFlags;
        let (flags, len) = if huge {
            (
                MemfdFlags::CLOEXEC | MemfdFlags::HUGETLB,
                len.next_multiple_of(2 << 20),
            )
        } else {
            (MemfdFlags::CLOEXEC, len)
        };
        let fd = rustix::fs::memfd_create("veo-urpc", flags)?;
        rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(0o600))?;
        rustix::fs::ftruncate(&fd, len as u64)?;
        let base = Self::map(fd.as_fd(), len)?;
        Ok(Segment {
            fd,
            base,
            len,
            stride: 0,
            ring_bytes: 0,
            channels: 0,
            huge,
            heap_off: 0,
            heap_len: 0,
            claims: Box::default(),
        })
    }

    fn map(fd: BorrowedFd<'_>, len: usize) -> io::Result<NonNull<u8>> {
        // SAFETY: a fresh shared mapping of the file; no Rust object
        // aliases it yet. For huge pages the reservation is checked here:
        // mmap fails if the pool is too small.
        let p = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )?
        };
        Ok(NonNull::new(p.cast()).expect("mmap returned null"))
    }

    /// Maps the segment a VH handed to this helper, checking its header.
    pub fn attach(fd: OwnedFd) -> Result<Segment, AttachError> {
        let len = rustix::fs::fstat(&fd).map_err(io::Error::from)?.st_size as usize;
        if len < HEADER_BYTES {
            return Err(AttachError::TooSmall {
                len: len as u64,
                min: HEADER_BYTES as u64,
            });
        }
        let base = Self::map(fd.as_fd(), len)?;
        let mut seg = Segment {
            fd,
            base,
            len,
            stride: 0,
            ring_bytes: 0,
            channels: 0,
            huge: false,
            heap_off: 0,
            heap_len: 0,
            claims: Box::default(),
        };
        let h = seg.header();
        if h.magic != MAGIC {
            return Err(AttachError::BadMagic { found: h.magic });
        }
        if h.version != PROTOCOL_VERSION || h.layout != LAYOUT {
            return Err(AttachError::Mismatch {
                vh_version: h.version,
                vh_layout: h.layout,
                version: PROTOCOL_VERSION,
                layout: LAYOUT,
            });
        }
        let (ring_bytes, channels) = (h.ring_bytes as usize, h.channels as usize);
        let stride = stride_for(ring_bytes);
        let rings = if !ring_bytes.is_power_of_two() {
            Some("the ring size is not a power of two")
        } else if ring_bytes < 64 << 10 {
            Some("the ring size is below 64 KiB")
        } else if channels == 0 {
            Some("there are no channels")
        } else if channels
            .checked_mul(stride)
            .and_then(|b| b.checked_add(HEADER_BYTES))
            .is_none_or(|end| end > len)
        {
            Some("the channels do not fit the segment")
        } else {
            None
        };
        if let Some(check) = rings {
            return Err(AttachError::BadRings {
                ring_bytes: h.ring_bytes,
                channels: h.channels,
                len: len as u64,
                check,
            });
        }
        let (heap_off, heap_len) = (h.heap_offset as usize, h.heap_bytes as usize);
        let heap = if heap_len == 0 {
            None
        } else if heap_off % HEAP_ALIGN != 0 || heap_len % HEAP_ALIGN != 0 {
            Some("it is not aligned")
        } else if heap_off < HEADER_BYTES + channels * stride {
            Some("it overlaps the channels")
        } else if heap_off.checked_add(heap_len).is_none_or(|end| end > len) {
            Some("it ends past the segment")
        } else {
            None
        };
        if let Some(check) = heap {
            return Err(AttachError::BadHeap {
                offset: h.heap_offset,
                bytes: h.heap_bytes,
                len: len as u64,
                check,
            });
        }
        seg.stride = stride;
        seg.ring_bytes = ring_bytes;
        seg.channels = channels;
        seg.heap_off = heap_off;
        seg.heap_len = heap_len;
        seg.claims = claims_for(channels);
        Ok(seg)
    }

    /// The VE memory region, if the segment has one.
    pub fn heap(&self) -> Option<crate::Heap<'_>> {
        if self.heap_len == 0 {
            return None;
        }
        // SAFETY: the region lies inside the mapping (checked by `attach`,
        // made so by `create_with_heap`), which lives as long as `self`.
        unsafe {
            Some(crate::Heap::new(
                self.base.as_ptr().add(self.heap_off),
                self.heap_len as u64,
                self.fd.as_fd(),
                self.heap_off as u64,
            ))
        }
    }

    /// Announces, in the header, the helper's own version, for a VH to
    /// report a mismatch (used even when `attach` refused).
    pub fn announce_refusal(fd: BorrowedFd<'_>) {
        let Ok(st) = rustix::fs::fstat(fd) else {
            return;
        };
        if (st.st_size as usize) < HEADER_BYTES {
            return;
        }
        // One page of the file, unmapped below.
        let Ok(p) = Self::map(fd, HEADER_BYTES) else {
            return;
        };
        let p = p.as_ptr().cast::<std::ffi::c_void>();
        // SAFETY: the page is mapped; only the atomics (at the same offsets in
        // every version that has this field layout) are written.
        unsafe {
            let h = &*(p as *const SegmentHeader);
            h.helper_version.store(PROTOCOL_VERSION, Ordering::Release);
            h.helper_layout.store(LAYOUT, Ordering::Release);
            h.helper_state.store(state::REFUSED, Ordering::Release);
            let _ = rustix::mm::munmap(p, HEADER_BYTES);
        }
    }

    /// The header.
    pub fn header(&self) -> &SegmentHeader {
        // SAFETY: the first page is mapped for the life of self and was
        // initialised by `create` (or checked by `attach`).
        unsafe { self.base.cast::<SegmentHeader>().as_ref() }
    }

    /// The addresses `[start, end)` this process maps the segment at.
    pub fn mapped_range(&self) -> (u64, u64) {
        let start = self.base.as_ptr() as u64;
        (start, start + self.len as u64)
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Data bytes of each ring.
    pub fn ring_bytes(&self) -> usize {
        self.ring_bytes
    }

    /// Whether the segment lives in huge pages.
    pub fn huge_pages(&self) -> bool {
        self.huge
    }

    /// The file descriptor, for the helper to inherit.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Channel `index`, borrowing the segment.
    pub fn channel(&self, index: usize) -> Channel<'_> {
        assert!(index < self.channels, "channel index out of range");
        let rh = size_of::<RingHeader>();
        // SAFETY: index < channels, so the whole channel lies in the mapping,
        // which lives as long as the borrow of `self`; offsets keep 64-byte
        // alignment (stride and header sizes are multiples). Every ring on
        // these areas in this process comes from here, with their claims.
        unsafe {
            let base = self.base.as_ptr().add(HEADER_BYTES + index * self.stride);
            let cmd_hdr = base.add(size_of::<ChannelHeader>());
            let cmd_data = cmd_hdr.add(rh);
            let res_hdr = cmd_data.add(self.ring_bytes);
            let res_data = res_hdr.add(rh);
            Channel {
                cmd: Ring::from_raw(
                    NonNull::new_unchecked(cmd_hdr.cast()),
                    NonNull::new_unchecked(cmd_data),
                    self.ring_bytes as u64,
                    &self.claims[2 * index],
                ),
                res: Ring::from_raw(
                    NonNull::new_unchecked(res_hdr.cast()),
                    NonNull::new_unchecked(res_data),
                    self.ring_bytes as u64,
                    &self.claims[2 * index + 1],
                ),
                hdr: NonNull::new_unchecked(base.cast()),
                _segment: PhantomData,
            }
        }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: we own the mapping; the Channels and Rings into it borrow
        // the Segment (or, in `crate::owned`, hold it in an Arc), so none
        // is left.
        unsafe {
            let _ = rustix::mm::munmap(self.base.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_attach_sees_the_same_rings() {
        let cfg = SegmentConfig {
            channels: 3,
            ring_bytes: 64 << 10,
            ..Default::default()
        };
        let a = Segment::create(&cfg, 99).unwrap();
        let fd = rustix::io::dup(a.fd()).unwrap();
        let b = Segment::attach(fd).unwrap();
        assert_eq!(b.header().token, 99);
        assert_eq!(b.channels(), 3);
        let mut p = a.channel(2).cmd.acquire_producer().unwrap();
        assert!(p.try_write(5, 1, 3, |x| x.copy_from_slice(b"abc")));
        p.publish();
        let mut c = b.channel(2).cmd.acquire_consumer().unwrap();
        let m = c.peek().unwrap().unwrap();
        assert_eq!(&m.body[..3], b"abc");
        assert!(!b.channel(1).cmd.has_data());
        let mode = rustix::fs::fstat(a.fd()).unwrap().st_mode & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn ring_ends_are_claimed_per_ring_and_per_mapping() {
        let cfg = SegmentConfig {
            channels: 2,
            ring_bytes: 64 << 10,
            ..Default::default()
        };
        let a = Segment::create(&cfg, 1).unwrap();
        let _p = a.channel(1).cmd.acquire_producer().unwrap();
        assert!(a.channel(1).cmd.acquire_producer().is_err());
        // Other rings and channels are free...
        let _q = a.channel(1).res.acquire_producer().unwrap();
        let _r = a.channel(0).cmd.acquire_producer().unwrap();
        assert!(!a.channel(0).res.is_held());
        // ... and a second mapping is the peer's, with claims of its own.
        let b = Segment::attach(rustix::io::dup(a.fd()).unwrap()).unwrap();
        assert!(!b.channel(1).cmd.is_held());
        let _c = b.channel(1).cmd.acquire_consumer().unwrap();
    }

    #[test]
    fn foreign_memfd_is_refused() {
        let fd = rustix::fs::memfd_create("x", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, 8192).unwrap();
        assert!(matches!(
            Segment::attach(fd),
            Err(AttachError::BadMagic { found: 0 })
        ));
        let small = rustix::fs::memfd_create("x", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&small, 64).unwrap();
        assert!(matches!(
            Segment::attach(small),
            Err(AttachError::TooSmall { len: 64, .. })
        ));
    }

    #[test]
    fn an_inconsistent_header_is_refused_naming_the_check() {
        let cfg = SegmentConfig {
            channels: 2,
            ring_bytes: 64 << 10,
            ..Default::default()
        };
        let a = Segment::create(&cfg, 1).unwrap();
        // Attaches with `value` in the header field at `offset`, then
        // puts the field back.
        let attach_with = |offset: usize, value: u64| {
            let fd = rustix::io::dup(a.fd()).unwrap();
            let mut old = [0u8; 8];
            rustix::io::pread(&fd, &mut old, offset as u64).unwrap();
            rustix::io::pwrite(&fd, &value.to_ne_bytes(), offset as u64).unwrap();
            let r = Segment::attach(rustix::io::dup(&fd).unwrap());
            rustix::io::pwrite(&fd, &old, offset as u64).unwrap();
            r
        };
        let rings = std::mem::offset_of!(SegmentHeader, ring_bytes);
        let channels = std::mem::offset_of!(SegmentHeader, channels);
        match attach_with(rings, (64 << 10) + 1) {
            Err(AttachError::BadRings { check, .. }) => assert!(check.contains("power of two")),
            other => panic!("{other:?}"),
        }
        match attach_with(channels, 0) {
            Err(AttachError::BadRings { check, .. }) => assert!(check.contains("no channels")),
            other => panic!("{other:?}"),
        }
        match attach_with(channels, 1 << 40) {
            Err(e @ AttachError::BadRings { .. }) => assert!(e.to_string().contains("do not fit")),
            other => panic!("{other:?}"),
        }
        let heap = std::mem::offset_of!(SegmentHeader, heap_bytes);
        match attach_with(heap, 1 << 30) {
            Err(AttachError::BadHeap { check, .. }) => assert!(!check.is_empty()),
            other => panic!("{other:?}"),
        }
        // A VH of the protocol before (futex words not armed) is refused,
        // naming both versions.
        let version = std::mem::offset_of!(SegmentHeader, version);
        match attach_with(version, PROTOCOL_VERSION - 1) {
            Err(e @ AttachError::Mismatch { .. }) => {
                let text = e.to_string();
                assert!(text.contains("protocol mismatch"), "{text}");
                assert!(
                    text.contains(&format!("{:#x}", PROTOCOL_VERSION - 1)),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
        // The header restored, the segment attaches.
        assert!(Segment::attach(rustix::io::dup(a.fd()).unwrap()).is_ok());
    }
}
