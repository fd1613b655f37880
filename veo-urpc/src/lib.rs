//! The URPC transport between the VH runtime and the VE helper (docs/ARCHITECTURE.md, "The protocol").
//!
//! One shared segment per proc ([`segment`]), holding one *channel* per
//! context: a command ring (VH to VE) and a result ring (VE to VH), each a
//! single-producer single-consumer ring of variable-size messages
//! ([`ring`]). Both sides wait adaptively ([`wait`]): spin, then yield, then
//! sleep on a shared futex that the other side wakes only when it knows a
//! sleeper is there. The message formats are in [`proto`]; decoding them
//! never trusts the other side.
#![warn(missing_docs)]

pub mod copy;
pub mod heap;
pub mod proto;
pub mod pvm;
pub mod ring;
pub mod segment;
pub mod wait;

// Not the transport: what both of its sides check about binaries.
pub mod elf;

pub use heap::Heap;
pub use proto::ProtoError;
pub use ring::{Consumer, Msg, Producer, Ring};
pub use segment::{Channel, ChannelHeader, Segment, SegmentConfig, SegmentHeader};
pub use wait::{sleep_any, SpinBudget, WaitPolicy, Wake, WakeWord};
