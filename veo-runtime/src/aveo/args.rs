//! [`Args`] as AVEO's `struct veo_args`: each register argument through the
//! `veo_args_set_*` of its C type (an `f32` through `veo_args_set_float`,
//! which puts it in the upper half of the VE's 64-bit slot), each OnStack
//! buffer through `veo_args_set_stack` with its intent.
//!
//! Soundness: libveo copies IN data when the call is submitted, but writes
//! OUT and INOUT data back into the buffer it was given whenever the result
//! arrives, even if nobody waits for it. So it is never given the borrowed
//! Rust buffers: [`StackBuffers`] owns a copy of every stack buffer, the
//! request keeps it until libveo has delivered the result (and leaks it if
//! the request is forgotten), and only the request's own wait or peek
//! copies the result into the borrowed buffers ([`StackBuffers::copy_out`]).

use super::result::check;
use super::sys::{veo_args, LibVeo, VEO_INTENT_IN, VEO_INTENT_INOUT, VEO_INTENT_OUT};
use crate::args::Args;
use crate::error::{Error, Result};
use std::ffi::c_int;
use std::ptr::NonNull;
use veo_urpc::proto::{ArgClass, Intent};

/// A `struct veo_args`, freed on drop. libveo copies it when a call is
/// submitted, so it may be dropped right after the submit.
pub struct VeoArgs<'l> {
    lib: &'l LibVeo,
    raw: NonNull<veo_args>,
}

impl VeoArgs<'_> {
    /// The pointer to hand to `veo_call_async` or `veo_call_sync`.
    pub fn as_ptr(&self) -> *mut veo_args {
        self.raw.as_ptr()
    }
}

impl Drop for VeoArgs<'_> {
    fn drop(&mut self) {
        if let Ok(free) = self.lib.veo_args_free() {
            // SAFETY: `raw` came from this library's `veo_args_alloc` and is
            // freed once, here.
            unsafe { free(self.raw.as_ptr()) };
        }
    }
}

impl std::fmt::Debug for VeoArgs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VeoArgs").field(&self.raw).finish()
    }
}

/// The memory libveo reads OnStack arguments from and writes their results
/// into: one owned buffer per stack argument, in [`Args`] order.
#[derive(Debug, Default)]
pub struct StackBuffers {
    bufs: Vec<(Intent, Box<[u8]>)>,
}

impl StackBuffers {
    /// Copies the OUT and INOUT buffers into the borrowed buffers of `args`
    /// (the [`Args`] the call was built from). Call it only once libveo has
    /// delivered the request's result.
    pub fn copy_out(&self, args: &mut Args<'_>) {
        for (index, dst) in args.outs.iter_mut() {
            if let Some((intent, src)) = self.bufs.get(*index) {
                if *intent != Intent::In && src.len() == dst.len() {
                    dst.copy_from_slice(src);
                }
            }
        }
    }

    /// [`copy_out`](Self::copy_out) into the OUT and INOUT buffers taken
    /// out of the [`Args`], in their order (that of `Args::outs`).
    pub(crate) fn copy_out_to(&self, outs: &mut [&mut [u8]]) {
        let results = self.bufs.iter().filter(|(intent, _)| *intent != Intent::In);
        for ((_, src), dst) in results.zip(outs.iter_mut()) {
            if src.len() == dst.len() {
                dst.copy_from_slice(src);
            }
        }
    }

    /// How many stack buffers there are.
    pub fn len(&self) -> usize {
        self.bufs.len()
    }

    /// Whether the call has no stack argument.
    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }
}

/// AVEO's number for an intent (ours are numbered differently).
pub fn intent_code(intent: Intent) -> c_int {
    match intent {
        Intent::In => VEO_INTENT_IN,
        Intent::InOut => VEO_INTENT_INOUT,
        Intent::Out => VEO_INTENT_OUT,
    }
}

/// Builds the `veo_args` of a call from `args`, and the owned buffers its
/// stack arguments point into. `stack_max` is the limit of the stack image
/// (AVEO takes about 63 MB).
pub fn marshal<'l>(
    lib: &'l LibVeo,
    args: &Args<'_>,
    stack_max: usize,
) -> Result<(VeoArgs<'l>, StackBuffers)> {
    args.check(stack_max)?;
    let veo = VeoArgs {
        lib,
        raw: alloc(lib)?,
    };
    let stack = set_all(lib, veo.as_ptr(), args)?;
    Ok((veo, stack))
}

/// A new `veo_args`.
fn alloc(lib: &LibVeo) -> Result<NonNull<veo_args>> {
    let alloc = lib.veo_args_alloc()?;
    // SAFETY: `struct veo_args *veo_args_alloc(void)`; NULL on failure.
    NonNull::new(unsafe { alloc() }).ok_or_else(|| Error::Aveo {
        what: "veo_args_alloc".into(),
        reason: "returned NULL (out of host memory)".into(),
    })
}

/// A `veo_args` a proc keeps between calls, so that a call neither
/// allocates nor frees one (`veo_args_alloc` and `veo_args_free` are a
/// good part of a call's cost), and a call with the same register
/// arguments as the last one sets them anew in place.
///
/// libveo copies a list when a call is submitted (the premise of
/// [`marshal`], whose list is freed right after the submit), so a kept
/// list may be changed for the next call as soon as the submit returned.
pub(crate) struct ArgsCache {
    lib: std::sync::Arc<LibVeo>,
    kept: parking_lot::Mutex<Option<Kept>>,
}

/// The kept list, and what it holds.
struct Kept {
    raw: NonNull<veo_args>,
    /// The list holds register values at positions `0..values` and nothing
    /// else; `None`: anything else (stack buffers, a failed setter), so it
    /// is cleared before its next use.
    values: Option<usize>,
}

// SAFETY: a `veo_args` is a heap object of libveo with no tie to a thread;
// the kept one is used by one thread at a time (the mutex hands it out).
unsafe impl Send for Kept {}

impl ArgsCache {
    pub(crate) fn new(lib: std::sync::Arc<LibVeo>) -> ArgsCache {
        ArgsCache {
            lib,
            kept: parking_lot::Mutex::new(None),
        }
    }

    /// The `veo_args` of a call with `args` ([`marshal`] with the kept
    /// list when no other thread has it, else with a new one), and the
    /// owned buffers its stack arguments point into.
    #[inline]
    pub(crate) fn marshal(
        &self,
        args: &Args<'_>,
        stack_max: usize,
    ) -> Result<(KeptArgs<'_>, StackBuffers)> {
        args.check(stack_max)?;
        let lib = &*self.lib;
        let values_only = args.stack.is_empty();
        let taken = self.kept.try_lock().and_then(|mut k| k.take());
        let raw = match taken {
            // The same register positions as the last call: set anew in place.
            Some(k) if values_only && k.values == Some(args.len()) => k.raw,
            Some(k) => match lib.veo_args_clear() {
                Ok(clear) => {
                    // SAFETY: `k.raw` is a live list of this library, used
                    // by this thread alone.
                    unsafe { clear(k.raw.as_ptr()) };
                    k.raw
                }
                // A library without it: a new list, as before the cache.
                Err(_) => {
                    self.free(k.raw);
                    alloc(lib)?
                }
            },
            None => alloc(lib)?,
        };
        let mut veo = KeptArgs {
            cache: self,
            raw,
            values: None,
        };
        let stack = set_all(lib, raw.as_ptr(), args)?;
        if values_only {
            veo.values = Some(args.len());
        }
        Ok((veo, stack))
    }

    /// Frees a list.
    fn free(&self, raw: NonNull<veo_args>) {
        if let Ok(free) = self.lib.veo_args_free() {
            // SAFETY: `raw` came from this library's `veo_args_alloc`, is
            // no longer kept anywhere, and is freed once, here.
            unsafe { free(raw.as_ptr()) };
        }
    }

    /// Keeps `k` for the next call, or frees it when a list is kept already.
    fn put(&self, k: Kept) {
        if let Some(mut kept) = self.kept.try_lock() {
            if kept.is_none() {
                *kept = Some(k);
                return;
            }
        }
        self.free(k.raw);
    }
}

impl Drop for ArgsCache {
    fn drop(&mut self) {
        if let Some(k) = self.kept.get_mut().take() {
            self.free(k.raw);
        }
    }
}

impl std::fmt::Debug for ArgsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgsCache").finish_non_exhaustive()
    }
}

/// A list of an [`ArgsCache`], given back to it on drop.
pub(crate) struct KeptArgs<'c> {
    cache: &'c ArgsCache,
    raw: NonNull<veo_args>,
    values: Option<usize>,
}

impl KeptArgs<'_> {
    /// The pointer to hand to `veo_call_async` or `veo_call_sync`.
    pub(crate) fn as_ptr(&self) -> *mut veo_args {
        self.raw.as_ptr()
    }
}

impl Drop for KeptArgs<'_> {
    fn drop(&mut self) {
        self.cache.put(Kept {
            raw: self.raw,
            values: self.values,
        });
    }
}

/// Sets every argument of `args` in the list `a` (positions from 0), and
/// makes the owned buffers its stack arguments point into.
fn set_all(lib: &LibVeo, a: *mut veo_args, args: &Args<'_>) -> Result<StackBuffers> {
    let mut stack = StackBuffers::default();
    for (n, (&class, &value)) in args.classes.iter().zip(args.values.iter()).enumerate() {
        let n = c_int::try_from(n).map_err(|_| Error::TooManyArguments {
            count: args.len(),
            max: c_int::MAX as usize,
        })?;
        // SAFETY: for every call below, `a` is a live list of this library
        // that only this thread uses; each setter has the C type its table
        // entry declares; the stack buffer outlives the list's use in the
        // call (owned by `stack`, whose boxes never move).
        let (name, rc) = unsafe {
            match class {
                ArgClass::I8 => ("veo_args_set_i8", lib.veo_args_set_i8()?(a, n, value as i8)),
                ArgClass::U8 => ("veo_args_set_u8", lib.veo_args_set_u8()?(a, n, value as u8)),
                ArgClass::I16 => (
                    "veo_args_set_i16",
                    lib.veo_args_set_i16()?(a, n, value as i16),
                ),
                ArgClass::U16 => (
                    "veo_args_set_u16",
                    lib.veo_args_set_u16()?(a, n, value as u16),
                ),
                ArgClass::I32 => (
                    "veo_args_set_i32",
                    lib.veo_args_set_i32()?(a, n, value as i32),
                ),
                ArgClass::U32 => (
                    "veo_args_set_u32",
                    lib.veo_args_set_u32()?(a, n, value as u32),
                ),
                ArgClass::I64 => (
                    "veo_args_set_i64",
                    lib.veo_args_set_i64()?(a, n, value as i64),
                ),
                ArgClass::U64 | ArgClass::Ptr | ArgClass::Void => {
                    ("veo_args_set_u64", lib.veo_args_set_u64()?(a, n, value))
                }
                ArgClass::F32 => (
                    "veo_args_set_float",
                    lib.veo_args_set_float()?(a, n, f32::from_bits(value as u32)),
                ),
                ArgClass::F64 => (
                    "veo_args_set_double",
                    lib.veo_args_set_double()?(a, n, f64::from_bits(value)),
                ),
                ArgClass::Stack => {
                    let Some(s) = usize::try_from(value).ok().and_then(|i| args.stack.get(i))
                    else {
                        return Err(Error::InvalidArgument(format!(
                            "argument {n}: stack index {value} out of range"
                        )));
                    };
                    let (off, len) = (s.offset as usize, s.len as usize);
                    let mut buf: Box<[u8]> = match args.image.get(off..off + len) {
                        Some(bytes) => bytes.into(),
                        None => vec![0u8; len].into(),
                    };
                    let ptr = buf.as_mut_ptr().cast();
                    stack.bufs.push((s.intent, buf));
                    (
                        "veo_args_set_stack",
                        lib.veo_args_set_stack()?(a, intent_code(s.intent), n, ptr, len),
                    )
                }
            }
        };
        check(name, rc)?;
    }
    Ok(stack)
}
