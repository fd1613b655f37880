//! The emulated VE: a helper process that plays the VE, driven over the
//! shared-memory transport of `veo-urpc`.
//!
//! The modules go in one direction, each using only those listed before it
//! (and the crate's argument, error and library types):
//!
//! 1. the transport's VH end: `channel.rs` (one channel's rings, with
//!    `crate::life`, the helper's liveness, and `crate::future`'s waiting
//!    thread), `request.rs` ([`EmulatedRequest`](request::EmulatedRequest),
//!    a request id on a channel, whose answer bytes land in the borrowed
//!    buffers inside `wait`/`peek` only) and `call.rs` (a call's messages);
//! 2. the proc core: this file's [`EmulatedProc`] (the segment, the control
//!    channel, and the state of each part below) and `control.rs`, the
//!    control RPC (synchronous commands on channel 0: allocations, copies
//!    inside VE memory, calls without a context);
//! 3. the parts: `launch.rs` (starting the helper, with `entry.rs`,
//!    `binary.rs` and `omp.rs`; waiting until it serves; its monitor and
//!    shutdown), `slots.rs` (the table of context slots), `transfer.rs`
//!    (synchronous reads and writes: the shared VE memory region,
//!    cross-memory attach, the control channel), `registry.rs` (loading
//!    libraries into the helper, their symbols, the kernels of
//!    `#[ve_kernel]` stubs; the bookkeeping is `crate::registry`);
//! 4. `context.rs`: [`EmulatedContext`](context::EmulatedContext), a
//!    context on a channel of its own.
//!
//! `crate::backend` dispatches the public types to these.

pub(crate) mod binary;
pub(crate) mod call;
pub(crate) mod channel;
pub(crate) mod context;
pub(crate) mod control;
#[cfg(feature = "emulator")]
pub(crate) mod entry;
pub(crate) mod launch;
pub(crate) mod omp;
pub(crate) mod registry;
pub(crate) mod request;
pub(crate) mod slots;
pub(crate) mod transfer;

use crate::life::Life;
use channel::ChannelVh;
use std::sync::Arc;
use veo_urpc::Segment;

/// One emulated VE process: its helper, the segment both share, and the
/// state of each part (see the module documentation).
pub(crate) struct EmulatedProc {
    /// Unique in this program: a [`Function`](crate::Function) or a stub's
    /// slot is checked against it.
    pub id: u64,
    pub node: u32,
    /// The helper program's path.
    pub helper: String,
    /// Channel 0: the proc's own queue.
    pub control: ChannelVh,
    pub life: Arc<Life>,
    pub seg: Arc<Segment>,
    /// Bytes of each context's call frame area: the limit of a call's stack image.
    pub stack_size: u64,
    pub(crate) launch: launch::Launch,
    pub(crate) slots: slots::Slots,
    pub(crate) transfer: transfer::Transfers,
    pub(crate) registry: crate::registry::Registry,
}
