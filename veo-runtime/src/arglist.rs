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
#[derive(Clone, Debug, Default)]
pub struct ArgList {
    slots: Vec<Option<Slot>>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty => $class:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&mut self, index: usize, value: $t) -> Result<()> {
            self.set(index, Slot::Value(ArgClass::$class, value as u64))
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
    }

    fn set(&mut self, index: usize, slot: Slot) -> Result<()> {
        if index >= MAX_ARGS {
            return Err(Error::TooManyArguments {
                count: index + 1,
                max: MAX_ARGS,
            });
        }
        if self.slots.len() <= index {
            self.slots.resize(index + 1, None);
        }
        self.slots[index] = Some(slot);
        Ok(())
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
        self.set(index, Slot::Value(ArgClass::F32, value.to_bits() as u64))
    }

    /// Argument `index` is a C `double`.
    pub fn set_f64(&mut self, index: usize, value: f64) -> Result<()> {
        self.set(index, Slot::Value(ArgClass::F64, value.to_bits()))
    }

    /// Argument `index` is a pointer into VE memory.
    pub fn set_ptr<T>(&mut self, index: usize, ptr: VePtr<T>) -> Result<()> {
        self.set(index, Slot::Value(ArgClass::Ptr, ptr.addr()))
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
            a.classes,
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
