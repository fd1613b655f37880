//! The URPC transport between the VH runtime and the VE helper (docs/ARCHITECTURE.md, "The protocol").
//!
//! One shared segment per proc ([`segment`]), holding one *channel* per
//! context: a command ring (VH to VE) and a result ring (VE to VH), each a
//! single-producer single-consumer ring of variable-size messages
//! ([`ring`]). Both sides wait adaptively ([`wait`]): spin, then yield, then
//! sleep on a shared futex that the other side wakes only when it knows a
//! sleeper is there. The message formats are in [`proto`]; decoding them
//! never trusts the other side.
//!
//! Views into the segment borrow it ([`Channel<'seg>`](Channel),
//! [`Ring<'seg>`](Ring)), and each end of a ring is acquired once
//! ([`Ring::acquire_producer`], [`Ring::acquire_consumer`]), so that safe
//! code can neither read an unmapped segment nor run two producers on one
//! ring; [`owned`] has the handles for owners that keep the segment in an
//! `Arc`.
//!
//! This crate is an internal part of veo-rs, shared by the runtime
//! (`veo-runtime`) and its helper program (`ve-helper`), which are built
//! from the same sources: its API and its shared layout carry no stability
//! promise between releases. Programs depend on `veo-runtime`.
#![warn(missing_docs)]

pub mod copy;
pub mod heap;
pub mod owned;
pub mod proto;
pub mod pvm;
pub mod ring;
pub mod segment;
pub mod wait;

// Not the transport: what both of its sides check about binaries.
pub mod elf;

pub use heap::Heap;
pub use owned::{OwnedChannel, OwnedConsumer, OwnedProducer};
pub use proto::ProtoError;
pub use ring::{Consumer, Msg, Producer, Ring, Taken};
pub use segment::{Channel, ChannelHeader, Segment, SegmentConfig, SegmentHeader};
pub use wait::{sleep_any, SpinBudget, WaitPolicy, Wake, WakeWord};
