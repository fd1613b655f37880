//! The slot table: which of channels 1 to `MAX_CONTEXTS` carry an open
//! context, and the open contexts' channels.

use super::channel::ChannelVh;
use super::request::What;
use super::EmulatedProc;
use crate::error::{Error, Result};
use crate::proc::MAX_CONTEXTS;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use veo_urpc::proto;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Free,
    Open,
    /// Dropped without `close`: reusable once its worker reports it stopped.
    Closing,
}

/// The state of every slot (index 0, the control channel, is never taken),
/// and the contexts' channels.
pub(crate) struct Slots {
    table: Mutex<Vec<Slot>>,
    /// The contexts' channels, for an unload's pass over their locks.
    channels: Mutex<Vec<Weak<ChannelVh>>>,
}

impl Slots {
    pub(crate) fn new() -> Slots {
        Slots {
            table: Mutex::new(vec![Slot::Free; MAX_CONTEXTS + 1]),
            channels: Mutex::new(Vec::new()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of open contexts.
    pub(crate) fn open_count(&self) -> usize {
        self.table().iter().filter(|s| **s == Slot::Open).count()
    }

    /// The slot numbers of the open contexts.
    pub(crate) fn open(&self) -> Vec<usize> {
        let slots = self.table();
        (1..slots.len())
            .filter(|&i| slots[i] == Slot::Open)
            .collect()
    }

    /// Slot `idx` becomes `to`.
    pub(crate) fn release(&self, idx: usize, to: Slot) {
        self.table()[idx] = to;
    }

    /// The open contexts' channels.
    pub(crate) fn channels(&self) -> Vec<Arc<ChannelVh>> {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|c| c.upgrade())
            .collect()
    }
}

impl EmulatedProc {
    /// Takes a free slot, starts its worker in the helper and returns its
    /// channel.
    pub(crate) fn open_channel(&self) -> Result<Arc<ChannelVh>> {
        self.life.check()?;
        let idx = self.take_slot()?;
        let ch = self.seg.channel(idx);
        // Not refused: `take_slot` chose a slot whose rings' ends nobody
        // here holds, and only this function takes them, for an open slot.
        let reset = ch.cmd.reset().and_then(|()| ch.res.reset());
        if let Err(e) = reset {
            self.slots.release(idx, Slot::Free);
            return Err(Error::InvalidArgument(format!(
                "channel {idx} is still in use: {e}"
            )));
        }
        ch.header().reset();
        let opened = ChannelVh::new(idx, &self.seg, self.life.clone()).and_then(|ch| {
            self.control_op(proto::KIND_OPEN, &[idx as u64], &[], What::Other)?;
            Ok(ch)
        });
        let ch = match opened {
            Ok(ch) => Arc::new(ch),
            Err(e) => {
                self.slots.release(idx, Slot::Free);
                return Err(e);
            }
        };
        {
            let mut channels = self
                .slots
                .channels
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            channels.retain(|c| c.strong_count() > 0);
            channels.push(Arc::downgrade(&ch));
        }
        Ok(ch)
    }

    fn take_slot(&self) -> Result<usize> {
        let mut slots = self.slots.table();
        let mut reap = Vec::new();
        let mut found = None;
        for i in 1..slots.len() {
            let ch = self.seg.channel(i);
            let exited = ch.header().worker_exited.load(Ordering::Acquire) != 0;
            if slots[i] == Slot::Closing && exited {
                reap.push(i);
                slots[i] = Slot::Free;
            }
            // A slot is released just before its context drops its channel
            // (whose rings' ends another thread may briefly hold still, for
            // an unload): a free slot whose rings are held is skipped, so
            // that `open_channel` never meets a held end.
            let held = ch.cmd.is_held() || ch.res.is_held();
            if found.is_none() && slots[i] == Slot::Free && !held {
                found = Some(i);
            }
        }
        let idx = found.ok_or(Error::TooManyContexts { max: MAX_CONTEXTS })?;
        slots[idx] = Slot::Open;
        drop(slots);
        for i in reap {
            // Reap the worker threads of contexts that were dropped unclosed.
            let _ = self.control_op(proto::KIND_JOIN, &[i as u64], &[], What::Other);
        }
        Ok(idx)
    }
}
