//! A call's messages on a channel: the `CALL` with its register values,
//! then the stack image as `DATA`, written with the channel's producer
//! locked (by a context, and by the control RPC for calls without one).

use super::channel::{ChannelVh, Submit};
use crate::args::{Args, Regs};
use crate::error::Result;
use crate::library::Loaded;
use veo_urpc::proto::{self, ArgClass};

/// Queues a call's messages: the CALL, then its stack image as DATA.
///
/// `args` by reference: they are a few hundred bytes, and every move on
/// the way to here was a `memcpy` on the path of every call.
///
/// `loaded` is the flag of the function's library: checked again with the
/// channel locked, so that an unload, which takes every channel's lock once
/// after clearing it, knows every call into the library is in a ring.
pub(crate) fn submit_call<'a>(
    ch: &ChannelVh,
    addr: u64,
    loaded: Option<&Loaded>,
    ret: ArgClass,
    args: &mut Args<'a>,
    stack_max: u64,
) -> Result<(u64, Vec<&'a mut [u8]>)> {
    args.check(stack_max.min(usize::MAX as u64) as usize)?;
    let mut s = ch.submit()?;
    check_loaded(loaded)?;
    let reqid = s.next_reqid();
    write_call(&mut s, reqid, addr, ret, args)?;
    drop(s);
    let outs = args.take_outs();
    Ok((reqid, outs))
}

/// Queues a call whose arguments all travel in registers (a stub's
/// [`Regs`]): one CALL message, encoded straight from the stub's arrays.
#[inline(always)]
pub(crate) fn submit_regs<const N: usize>(
    ch: &ChannelVh,
    addr: u64,
    ret: ArgClass,
    regs: &Regs<N>,
) -> Result<u64> {
    let mut s = ch.submit()?;
    let reqid = s.next_reqid();
    s.trace_call(reqid, addr);
    s.message(proto::KIND_CALL, reqid, proto::call_body_len(N, 0), |b| {
        proto::encode_register_call(b, addr, ret, &regs.classes, &regs.values)
    })?;
    Ok(reqid)
}

/// Queues a call of a list whose arguments all travel in registers, their
/// count known only at run time (an [`ArgList`](crate::ArgList)'s, as
/// AVEO's C API makes them): one CALL message, as [`submit_regs`], without
/// the checks and the OUT buffers of [`submit_call`] that such a list
/// cannot need. `None` when `args` has more than that: the caller takes
/// [`submit_call`].
#[inline(always)]
pub(crate) fn submit_register_list(
    ch: &ChannelVh,
    addr: u64,
    ret: ArgClass,
    args: &Args<'_>,
) -> Option<Result<u64>> {
    if !(args.stack.is_empty() && args.image.is_empty() && args.overflow == 0) {
        return None;
    }
    let (classes, values) = (&args.classes[..], &args.values[..]);
    Some((|| {
        let mut s = ch.submit()?;
        let reqid = s.next_reqid();
        s.trace_call(reqid, addr);
        s.message(
            proto::KIND_CALL,
            reqid,
            proto::call_body_len(classes.len(), 0),
            |b| proto::encode_call(b, addr, ret, classes, values, &[], 0),
        )?;
        Ok(reqid)
    })())
}

/// [`Error::LibraryUnloaded`](crate::Error::LibraryUnloaded) if the
/// library of a call was unloaded.
#[inline]
pub(crate) fn check_loaded(loaded: Option<&Loaded>) -> Result<()> {
    match loaded {
        Some(l) => l.check(),
        None => Ok(()),
    }
}

#[inline(always)]
pub(crate) fn write_call(
    s: &mut Submit<'_>,
    reqid: u64,
    addr: u64,
    ret: ArgClass,
    args: &Args<'_>,
) -> Result<()> {
    let n = proto::call_body_len(args.classes.len(), args.stack.len());
    s.trace_call(reqid, addr);
    s.message(proto::KIND_CALL, reqid, n, |b| {
        proto::encode_call(
            b,
            addr,
            ret,
            &args.classes,
            &args.values,
            &args.stack,
            args.image.len() as u64,
        )
    })?;
    if !args.image.is_empty() {
        s.data(reqid, 0, &args.image)?;
    }
    Ok(())
}
