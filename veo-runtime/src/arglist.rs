//! Argument lists set by position (VEO's `veo_args`): owned, reusable, and
//! independent of any request once it was submitted.

use crate::args::Args;
use crate::error::{Error, Result};
use crate::intent::Intent;
use crate::ptr::VePtr;
use veo_urpc::proto::{ArgClass, MAX_ARGS};

#[derive(Clone, Debug)]
enum Slot {
    Value(ArgClass, u64),
    Stack { intent: Intent, data: Vec<u8> },
}

/// Arguments set by position, in any order, and reused across calls.
///
/// Unlike [`Args`], which borrows its OUT/INOUT buffers for the life of a
/// request, an `ArgList` owns copies of everything: a request made from it
/// (with [`RequestQueue::call`](crate::RequestQueue::call)) hands the OUT
/// and INOUT bytes back when it is collected, and the list can be changed,
/// cleared or dropped as soon as the call was submitted.
#[derive(Debug, Default)]
pub struct ArgList {
    slots: Vec<Option<Slot>>,
    /// The arguments made from `slots` for the last call, kept for the
    /// next one: a register value set anew is changed in place, anything
    /// else makes them again at the next call. A C program that sets one
    /// argument and calls, again and again, makes them once. Boxed, so
    /// that a list is small to move.
    built: Option<Box<PreparedArgs>>,
}

impl Clone for ArgList {
    fn clone(&self) -> Self {
        ArgList {
            slots: self.slots.clone(),
            built: None,
        }
    }
}

impl AsMut<ArgList> for ArgList {
    fn as_mut(&mut self) -> &mut ArgList {
        self
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty => $class:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name(&mut self, index: usize, value: $t) -> Result<()> {
            self.set_value(index, ArgClass::$class, value as u64)
        }
    )*};
}

impl ArgList {
    /// No arguments.
    pub fn new() -> Self {
        Self::default()
    }

    /// One past the highest position set.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Removes every argument (VEO's `veo_args_clear`).
    pub fn clear(&mut self) {
        self.slots.clear();
        self.built = None;
    }

    /// Sets a register value: in place when the position holds one (a
    /// program setting the same arguments call after call), also in the
    /// arguments kept from the last call (each slot is one argument).
    #[inline]
    fn set_value(&mut self, index: usize, class: ArgClass, v: u64) -> Result<()> {
        if let Some(Some(Slot::Value(c, old))) = self.slots.get_mut(index) {
            (*c, *old) = (class, v);
            if let Some(b) = &mut self.built {
                if let (Some(c), Some(old)) =
                    (b.args.classes.get_mut(index), b.args.values.get_mut(index))
                {
                    (*c, *old) = (class, v);
                }
            }
            return Ok(());
        }
        self.set(index, Slot::Value(class, v))
    }

    fn set(&mut self, index: usize, slot: Slot) -> Result<()> {
        if index >= MAX_ARGS {
            return Err(Error::TooManyArguments {
                count: index + 1,
                max: MAX_ARGS,
            });
        }
        self.built = None;
        if self.slots.len() <= index {
            self.slots.resize(index + 1, None);
        }
        self.slots[index] = Some(slot);
        Ok(())
    }

    /// The arguments of a call, made now or kept from the last call.
    #[inline]
    pub(crate) fn built(&mut self) -> Result<&mut PreparedArgs> {
        if self.built.is_none() {
            let b = Box::new(self.prepare()?);
            return Ok(self.built.insert(b));
        }
        self.built
            .as_deref_mut()
            .ok_or_else(|| Error::InvalidArgument("no arguments".into()))
    }

    setters! {
        /// Argument `index` is a C `int8_t` (sign-extended).
        set_i8: i8 => I8,
        /// Argument `index` is a C `uint8_t` (zero-extended).
        set_u8: u8 => U8,
        /// Argument `index` is a C `int16_t`.
        set_i16: i16 => I16,
        /// Argument `index` is a C `uint16_t`.
        set_u16: u16 => U16,
        /// Argument `index` is a C `int32_t`.
        set_i32: i32 => I32,
        /// Argument `index` is a C `uint32_t`.
        set_u32: u32 => U32,
        /// Argument `index` is a C `int64_t`.
        set_i64: i64 => I64,
        /// Argument `index` is a C `uint64_t`.
        set_u64: u64 => U64,
    }

    /// Argument `index` is a C `float`.
    pub fn set_f32(&mut self, index: usize, value: f32) -> Result<()> {
        self.set_value(index, ArgClass::F32, value.to_bits() as u64)
    }

    /// Argument `index` is a C `double`.
    pub fn set_f64(&mut self, index: usize, value: f64) -> Result<()> {
        self.set_value(index, ArgClass::F64, value.to_bits())
    }

    /// Argument `index` is a pointer into VE memory.
    pub fn set_ptr<T>(&mut self, index: usize, ptr: VePtr<T>) -> Result<()> {
        self.set_value(index, ArgClass::Ptr, ptr.addr())
    }

    /// Argument `index` points to a copy of `data` on the VE stack. With
    /// intent IN or INOUT the bytes are copied now; with OUT only the length
    /// counts. OUT and INOUT bytes come back when the request is collected.
    pub fn set_stack(&mut self, index: usize, intent: Intent, data: &[u8]) -> Result<()> {
        let data = match intent {
            Intent::Out => vec![0; data.len()],
            _ => data.to_vec(),
        };
        self.set(index, Slot::Stack { intent, data })
    }

    /// The arguments of one call, made now.
    pub(crate) fn prepare(&self) -> Result<PreparedArgs> {
        let (args, outs) = self.to_args()?;
        Ok(PreparedArgs { args, outs })
    }

    /// The call's arguments, and the lengths of its OUT/INOUT buffers in
    /// the order their bytes come back.
    pub(crate) fn to_args(&self) -> Result<(Args<'static>, Vec<usize>)> {
        let mut args = Args::new();
        let mut outs = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            match slot {
                None => {
                    return Err(Error::InvalidArgument(format!(
                        "argument {i} was not set, but a later one was"
                    )))
                }
                Some(Slot::Value(class, v)) => {
                    args.push_raw_value(*class, *v);
                }
                Some(Slot::Stack { intent, data }) => {
                    args.push_stack(data.len(), *intent, Some(data));
                    if *intent != Intent::In {
                        outs.push(data.len());
                    }
                }
            }
        }
        Ok((args, outs))
    }
}

/// The arguments of one call made from an [`ArgList`].
pub(crate) struct PreparedArgs {
    pub(crate) args: Args<'static>,
    /// The lengths of the OUT/INOUT buffers, in the order their bytes come
    /// back.
    pub(crate) outs: Vec<usize>,
}

impl std::fmt::Debug for PreparedArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedArgs")
            .field("args", &self.args.len())
            .field("outs", &self.outs)
            .finish()
    }
}

/// How the 64-bit result of a call made by address is read, when the
/// caller knows no Rust type for it ([`RequestQueue::call_list`]).
///
/// On x86-64 an integer or pointer result comes back in `rax` and a
/// floating-point one in `xmm0`, so the helper must know which to take.
///
/// [`RequestQueue::call_list`]: crate::RequestQueue::call_list
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResultKind {
    /// An integer, a pointer or nothing: the 64-bit register.
    #[default]
    Integer,
    /// A C `float`: its bits in the low 32 bits of the result.
    F32,
    /// A C `double`: its bits.
    F64,
}

impl ResultKind {
    pub(crate) fn class(self) -> ArgClass {
        match self {
            ResultKind::Integer => ArgClass::U64,
            ResultKind::F32 => ArgClass::F32,
            ResultKind::F64 => ArgClass::F64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_may_be_set_in_any_order_and_cleared() {
        let mut l = ArgList::new();
        l.set_i32(1, -1).unwrap();
        l.set_f32(0, 1.5).unwrap();
        l.set_stack(2, Intent::Out, &[1, 2, 3]).unwrap();
        l.set_stack(3, Intent::InOut, &[4, 5]).unwrap();
        let (a, outs) = l.to_args().unwrap();
        assert_eq!(
            a.classes[..],
            [
                ArgClass::F32,
                ArgClass::I32,
                ArgClass::Stack,
                ArgClass::Stack
            ]
        );
        assert_eq!(a.values[0], 1.5f32.to_bits() as u64);
        assert_eq!(outs, [3, 2]);
        assert_eq!(&a.image[0..3], &[0, 0, 0], "OUT bytes are not copied in");
        assert_eq!(&a.image[16..18], &[4, 5]);
        l.clear();
        assert!(l.is_empty());
        assert_eq!(l.to_args().unwrap().0.len(), 0);
    }

    #[test]
    fn arguments_kept_between_calls_follow_every_change() {
        let mut l = ArgList::new();
        l.set_i64(0, 1).unwrap();
        l.set_stack(1, Intent::In, &[9]).unwrap();
        assert_eq!(l.built().unwrap().args.values[0], 1);
        // A register value in place.
        l.set_u32(0, 7).unwrap();
        let b = l.built().unwrap();
        assert_eq!((b.args.classes[0], b.args.values[0]), (ArgClass::U32, 7));
        assert_eq!(b.args.image[0], 9);
        // A stack buffer, a new position and a clear make them again.
        l.set_stack(1, Intent::In, &[5]).unwrap();
        assert_eq!(l.built().unwrap().args.image[0], 5);
        l.set_f64(2, 0.5).unwrap();
        assert_eq!(l.built().unwrap().args.values[2], 0.5f64.to_bits());
        l.set_stack(0, Intent::Out, &[0; 3]).unwrap();
        assert_eq!(l.built().unwrap().outs, [3]);
        l.clear();
        assert_eq!(l.built().unwrap().args.len(), 0);
        l.set_u8(1, 1).unwrap();
        assert!(l.built().is_err(), "a gap is still an error");
        assert!(l.clone().built().is_err());
    }

    #[test]
    fn gaps_and_positions_past_the_limit_are_errors() {
        let mut l = ArgList::new();
        l.set_u64(2, 7).unwrap();
        assert!(matches!(l.to_args(), Err(Error::InvalidArgument(_))));
        assert!(matches!(
            l.set_u8(MAX_ARGS, 1),
            Err(Error::TooManyArguments { .. })
        ));
        l.set_u64(MAX_ARGS - 1, 1).unwrap();
    }
}
