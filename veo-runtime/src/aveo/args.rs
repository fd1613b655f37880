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
    let alloc = lib.veo_args_alloc()?;
    // SAFETY: `struct veo_args *veo_args_alloc(void)`; NULL on failure.
    let raw = NonNull::new(unsafe { alloc() }).ok_or_else(|| Error::Aveo {
        what: "veo_args_alloc".into(),
        reason: "returned NULL (out of host memory)".into(),
    })?;
    let veo = VeoArgs { lib, raw };
    let mut stack = StackBuffers::default();
    for (n, (&class, &value)) in args.classes.iter().zip(args.values.iter()).enumerate() {
        let n = c_int::try_from(n).map_err(|_| Error::TooManyArguments {
            count: args.len(),
            max: c_int::MAX as usize,
        })?;
        let a = veo.as_ptr();
        // SAFETY: for every call below, `a` is the live list allocated above;
        // each setter has the C type its table entry declares; the stack
        // buffer outlives the list and the call (owned by `stack`, whose
        // boxes never move).
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
    Ok((veo, stack))
}
