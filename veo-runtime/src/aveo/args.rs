//! [`Args`] as AVEO's `struct veo_args`: each register argument through the
//! `veo_args_set_*` of its C type (an `f32` through `veo_args_set_float`,
//! which puts it in the upper half of the VE's 64-bit slot), each OnStack
//! buffer through `veo_args_set_stack` with its intent.
//!
//! Soundness: libveo reads IN data when the call is sent, but writes
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
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;
use veo_urpc::proto::{ArgClass, Intent};

/// A `struct veo_args`, freed on drop: after a synchronous call returned,
/// or after an asynchronous call was collected (NEC's libveo reads the
/// list until then; veo-rs's own copies it at submit: `docs/C-API.md`).
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

/// The `veo_args` lists a proc keeps between calls, so that a call neither
/// allocates nor frees one (`veo_args_alloc` and `veo_args_free` are a
/// good part of a call's cost), and a call with the same register
/// positions as the list's last one sets anew only the values that
/// changed.
///
/// When a list may be changed again depends on the library.
/// veo-rs's own `libveo.so` (the one with the `veo_rs_emulated_ve`
/// marker) copies a list at submit: lists "may be cleared, reused or freed
/// right after a submit" (`docs/C-API.md`), so a list goes back to the
/// cache as soon as the submit returned. NEC's AVEO keeps a reference to
/// the list in the queued command, reads it when the command is sent (which
/// may be later, when the queue is full) and again when the result arrives
/// (to copy OUT stack arguments back): there an asynchronous call's list is
/// lent to its request ([`LentArgs`], in the request's staging) and comes
/// back to the cache only when the request is collected; a synchronous
/// call's list comes back when the call returned.
pub(crate) struct ArgsCache {
    lib: Arc<LibVeo>,
    /// Whether the library copies a list at submit.
    copies: bool,
    /// A free list (null: none), taken and given back with one atomic
    /// operation each: the one a thread making call after call uses.
    slot: AtomicPtr<List>,
    /// More free lists (those lent to requests come back here while the
    /// slot is full), at most [`POOL_MAX`]. Boxed as the slot's are: a
    /// list moves between the two, and into requests, as one pointer.
    #[allow(clippy::vec_box)]
    pool: parking_lot::Mutex<Vec<Box<List>>>,
}

/// How many free lists a cache's pool keeps (more are freed).
const POOL_MAX: usize = 64;

/// How many leading positions of a kept list remember what they hold.
const MEMO: usize = 8;

/// A `veo_args` of a cache, what it holds, and the library that frees it on
/// drop.
pub(crate) struct List {
    raw: NonNull<veo_args>,
    lib: Arc<LibVeo>,
    /// The list holds register values at positions `0..values` and nothing
    /// else; `None`: anything else (stack buffers, a failed setter), so it
    /// is cleared before its next use.
    values: Option<usize>,
    /// Positions `0..known` (`known <= values`) hold these classes and bits.
    known: usize,
    classes: [ArgClass; MEMO],
    bits: [u64; MEMO],
}

// SAFETY: a `veo_args` is a heap object of libveo with no tie to a thread;
// a `List` is owned by one call or request at a time (or kept by its
// cache), and only its owner sets or frees it.
unsafe impl Send for List {}
// SAFETY: a shared `List` gives no access to the list.
unsafe impl Sync for List {}

impl List {
    /// The list's contents are unknown (being set, or a setter failed):
    /// it is cleared before its next use.
    #[inline]
    fn forget(&mut self) {
        self.values = None;
        self.known = 0;
    }

    /// The list holds the register values `classes` and `bits` at
    /// positions `0..n` and nothing else.
    #[inline]
    fn holds(&mut self, classes: &[ArgClass], bits: &[u64]) {
        let n = classes.len();
        self.values = Some(n);
        if n <= MEMO {
            self.classes[..n].copy_from_slice(classes);
            self.bits[..n].copy_from_slice(&bits[..n]);
            self.known = n;
        }
    }
}

impl Drop for List {
    fn drop(&mut self) {
        free_list(&self.lib, self.raw);
    }
}

/// A list that NEC's libveo may still read (that of a queued call not
/// collected yet): freed when dropped, given back to its cache when the
/// call was collected ([`ArgsCache::give_back`]).
pub(crate) struct LentArgs(Box<List>);

impl ArgsCache {
    pub(crate) fn new(lib: Arc<LibVeo>) -> ArgsCache {
        ArgsCache {
            copies: lib.emulated().is_some(),
            lib,
            slot: AtomicPtr::new(std::ptr::null_mut()),
            pool: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// A free list: the slot's, else one of the pool, else a new one.
    #[inline]
    fn take(&self) -> Result<Box<List>> {
        let p = self.slot.swap(std::ptr::null_mut(), Ordering::Acquire);
        if p.is_null() {
            return self.take_slow();
        }
        // SAFETY: a non-null slot holds a box `put` leaked into it; the swap
        // took it out, so this thread alone owns it.
        Ok(unsafe { Box::from_raw(p) })
    }

    #[cold]
    #[inline(never)]
    fn take_slow(&self) -> Result<Box<List>> {
        if let Some(k) = self.pool.try_lock().and_then(|mut p| p.pop()) {
            return Ok(k);
        }
        let raw = alloc(&self.lib)?;
        Ok(Box::new(List {
            raw,
            lib: self.lib.clone(),
            values: Some(0),
            known: 0,
            classes: [ArgClass::U64; MEMO],
            bits: [0; MEMO],
        }))
    }

    /// Gives `k` back: into the slot when empty, else into the pool, else
    /// (the pool full or busy) frees it.
    #[inline]
    fn put(&self, k: Box<List>) {
        let p = Box::into_raw(k);
        match self.slot.compare_exchange(
            std::ptr::null_mut(),
            p,
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            Ok(_) => {}
            // SAFETY: the slot did not take `p`: the box is still ours.
            Err(_) => self.put_slow(unsafe { Box::from_raw(p) }),
        }
    }

    #[cold]
    #[inline(never)]
    fn put_slow(&self, k: Box<List>) {
        if let Some(mut pool) = self.pool.try_lock() {
            if pool.len() < POOL_MAX {
                pool.push(k);
            }
        }
    }

    /// The list of a collected call: libveo reads it no more.
    #[inline]
    pub(crate) fn give_back(&self, lent: LentArgs) {
        self.put(lent.0);
    }

    /// Empties `k` for a call that does not set positions `0..n` of
    /// register values over what it holds (`veo_args_clear`, or a new list
    /// from a library without it).
    fn clear(&self, k: &mut List) -> Result<()> {
        match self.lib.veo_args_clear() {
            // SAFETY: `k.raw` is a live list of this library, used by this
            // thread alone.
            Ok(clear) => unsafe { clear(k.raw.as_ptr()) },
            Err(_) => {
                let raw = alloc(&self.lib)?;
                free_list(&self.lib, std::mem::replace(&mut k.raw, raw));
            }
        }
        k.values = Some(0);
        k.known = 0;
        Ok(())
    }

    /// The `veo_args` of a call with `args` ([`marshal`] with a kept list),
    /// and the owned buffers its stack arguments point into.
    #[inline]
    pub(crate) fn marshal(
        &self,
        args: &Args<'_>,
        stack_max: usize,
    ) -> Result<(KeptArgs<'_>, StackBuffers)> {
        args.check(stack_max)?;
        let values_only = args.stack.is_empty();
        let mut k = KeptArgs {
            cache: self,
            list: Some(self.take()?),
        };
        let list = k.list_mut();
        // Nothing set yet, or register values at no more positions than
        // this call sets: set anew in place.
        let fits = match list.values {
            Some(0) => true,
            Some(m) => values_only && m <= args.len(),
            None => false,
        };
        if !fits {
            self.clear(list)?;
        }
        list.forget();
        let stack = set_all(&self.lib, list.raw.as_ptr(), args)?;
        if values_only {
            list.holds(&args.classes, &args.values);
        }
        Ok((k, stack))
    }

    /// The `veo_args` of a call with the register arguments `classes` and
    /// `bits`: a kept list that held register values at the same
    /// positions has only those set anew that changed since.
    #[inline(always)]
    pub(crate) fn registers<const N: usize>(
        &self,
        classes: &[ArgClass; N],
        bits: &[u64; N],
    ) -> Result<KeptArgs<'_>> {
        let mut k = KeptArgs {
            cache: self,
            list: Some(self.take()?),
        };
        let list = k.list_mut();
        if N <= MEMO && list.values == Some(N) && list.known == N {
            for n in 0..N {
                if list.classes[n] != classes[n] || list.bits[n] != bits[n] {
                    if let Err(e) =
                        set_register(&self.lib, list.raw.as_ptr(), n, classes[n], bits[n])
                    {
                        list.forget();
                        return Err(e);
                    }
                    list.classes[n] = classes[n];
                    list.bits[n] = bits[n];
                }
            }
            return Ok(k);
        }
        self.set_registers(list, classes, bits)?;
        Ok(k)
    }

    /// [`registers`](Self::registers) into a list that held other
    /// positions: cleared (when it held more or other things), every
    /// position set.
    #[cold]
    #[inline(never)]
    fn set_registers(&self, list: &mut List, classes: &[ArgClass], bits: &[u64]) -> Result<()> {
        let n = classes.len();
        if list.values.is_none_or(|v| v > n) {
            self.clear(list)?;
        }
        list.forget();
        for (i, (&class, &value)) in classes.iter().zip(bits).enumerate() {
            set_register(&self.lib, list.raw.as_ptr(), i, class, value)?;
        }
        list.holds(classes, bits);
        Ok(())
    }
}

/// Frees a list of `lib`.
fn free_list(lib: &LibVeo, raw: NonNull<veo_args>) {
    if let Ok(free) = lib.veo_args_free() {
        // SAFETY: `raw` came from this library's `veo_args_alloc`, is no
        // longer kept anywhere, and is freed once, here.
        unsafe { free(raw.as_ptr()) };
    }
}

impl Drop for ArgsCache {
    fn drop(&mut self) {
        let p = std::mem::replace(self.slot.get_mut(), std::ptr::null_mut());
        if !p.is_null() {
            // SAFETY: the slot's box, taken out of it: ours alone.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

impl std::fmt::Debug for ArgsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgsCache")
            .field("copies", &self.copies)
            .finish_non_exhaustive()
    }
}

/// A list of an [`ArgsCache`] for one call, given back to it on drop.
pub(crate) struct KeptArgs<'c> {
    cache: &'c ArgsCache,
    /// `None` only once lent (`after_submit`).
    list: Option<Box<List>>,
}

impl KeptArgs<'_> {
    #[inline]
    fn list_mut(&mut self) -> &mut List {
        match &mut self.list {
            Some(k) => k,
            None => unreachable!("a list is lent only by `after_submit`, which takes it"),
        }
    }

    /// The pointer to hand to `veo_call_async` or `veo_call_sync`.
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut veo_args {
        match &self.list {
            Some(k) => k.raw.as_ptr(),
            None => std::ptr::null_mut(),
        }
    }

    /// After an asynchronous submit libveo accepted: nothing when the
    /// library copied the list (it goes back to the cache), else the list,
    /// lent to the request until it is collected.
    #[inline]
    pub(crate) fn after_submit(mut self) -> Option<LentArgs> {
        if self.cache.copies {
            return None;
        }
        self.list.take().map(LentArgs)
    }
}

impl Drop for KeptArgs<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(k) = self.list.take() {
            self.cache.put(k);
        }
    }
}

/// Sets register argument `n` of the list `a`: the setter of `class`
/// (inlined: in a stub, `class` is a constant, and the match goes).
#[inline(always)]
fn set_register(
    lib: &LibVeo,
    a: *mut veo_args,
    n: usize,
    class: ArgClass,
    value: u64,
) -> Result<()> {
    // `n < MAX_ARGS` (256): `Regs` and `Args` hold no more.
    let n = n as c_int;
    // SAFETY: for every call below, `a` is a live list of this library
    // that only this thread uses; each setter has the C type its table
    // entry declares.
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
                return Err(Error::InvalidArgument(format!(
                    "argument {n}: a stack buffer among register arguments"
                )))
            }
        }
    };
    check(name, rc)
}

/// Sets every argument of `args` in the list `a` (positions from 0), and
/// makes the owned buffers its stack arguments point into.
fn set_all(lib: &LibVeo, a: *mut veo_args, args: &Args<'_>) -> Result<StackBuffers> {
    let mut stack = StackBuffers::default();
    for (n, (&class, &value)) in args.classes.iter().zip(args.values.iter()).enumerate() {
        if class != ArgClass::Stack {
            set_register(lib, a, n, class, value)?;
            continue;
        }
        let Some(s) = usize::try_from(value).ok().and_then(|i| args.stack.get(i)) else {
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
        let f = lib.veo_args_set_stack()?;
        // SAFETY: `a` is a live list of this library that only this thread
        // uses; the buffer outlives the list's use in the call (owned by
        // `stack`, whose boxes never move).
        let rc = unsafe { f(a, intent_code(s.intent), n as c_int, ptr, len) };
        check("veo_args_set_stack", rc)?;
    }
    Ok(stack)
}
