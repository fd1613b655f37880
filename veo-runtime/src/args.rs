//! Call arguments: register values with their class, and the stack image with intents.

use crate::error::{Error, Result};
use crate::intent::Intent;
use crate::ptr::VePtr;
use smallvec::SmallVec;
use veo_urpc::proto::{self, ArgClass, StackArg};

/// The most arguments a kernel call takes (VEO's limit).
pub const MAX_ARGS: usize = 256;
const _: () = assert!(MAX_ARGS == proto::MAX_ARGS, "the transport's limit differs");

/// The arguments of one kernel call, built at run time.
///
/// This is the dynamic counterpart of the stubs `#[ve_kernel]` generates
/// (VEO's `veo_args`): every integer width, `f32`, `f64`, VE pointers, and
/// buffers placed on the VE stack with an [`Intent`]. `IN` data is copied
/// here, at once; `OUT`/`INOUT` buffers stay borrowed for `'a`, until the
/// request that carries them has been waited for.
///
/// ```no_run
/// use veo_runtime::{Args, Out, Proc};
///
/// # fn main() -> veo_runtime::Result<()> {
/// let proc = Proc::new(0)?;
/// let ctx = proc.open_context()?;
/// // void fill(double *x, int n): x on the VE stack, copied back (OUT).
/// let fill = proc.load_library("./libkernels.so")?.function("fill")?;
/// let mut x = [0.0f64; 4];
/// let mut args = Args::new();
/// args.push(Out(&mut x[..])).i32(4);
/// ctx.call::<()>(&fill, args)?.wait()?;
/// // Args borrows `x` until the request is waited for; then it holds the result.
/// println!("{x:?}");
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct Args<'a> {
    pub(crate) classes: SmallVec<[ArgClass; INLINE_ARGS]>,
    pub(crate) values: SmallVec<[u64; INLINE_ARGS]>,
    pub(crate) stack: Vec<StackArg>,
    pub(crate) image: Vec<u8>,
    /// Host buffers that receive OUT/INOUT bytes, in `stack` order.
    pub(crate) outs: Vec<(usize, &'a mut [u8])>,
    /// Set when more than [`MAX_ARGS`] were pushed; reported when the call is made.
    pub(crate) overflow: usize,
}

/// Arguments kept inside [`Args`] itself: a call with up to this many
/// register arguments allocates nothing.
///
/// `SmallVec` rather than a hand-written inline vector, measured
/// (callgrind, `latency_ab 1` and `2 --count N`, N = 11000 minus
/// N = 1000, over 10000): building and encoding a stub's call took 206 and
/// 209 VH instructions instead of 213 and 216; the whole call within the
/// spread of the waits.
const INLINE_ARGS: usize = 8;

macro_rules! scalar_setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty => $class:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&mut self, value: $t) -> &mut Self {
            self.push_raw(ArgClass::$class, value as u64)
        }
    )*};
}

impl<'a> Args<'a> {
    /// No arguments yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many arguments have been pushed.
    pub fn len(&self) -> usize {
        self.classes.len() + self.overflow
    }

    /// Whether no argument has been pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every argument, keeping the memory already allocated, so
    /// that the list can be filled again for another call without
    /// allocating (VEO's `veo_args_clear`). Buffers borrowed for OUT or
    /// INOUT are released.
    ///
    /// [`Context::call_with`](crate::Context::call_with) and
    /// [`Proc::call_sync_with`](crate::Proc::call_sync_with) take the list
    /// by reference and leave it cleared like this.
    ///
    /// ```no_run
    /// use veo_runtime::{Args, Proc};
    ///
    /// # fn main() -> veo_runtime::Result<()> {
    /// let proc = Proc::new(0)?;
    /// let ctx = proc.open_context()?;
    /// // long add(long a, long b)
    /// let add = proc.load_library("./libkernels.so")?.function("add")?;
    /// let mut args = Args::new();
    /// for i in 0..10i64 {
    ///     args.i64(i).i64(1);
    ///     let sum: i64 = ctx.call_with(&add, &mut args)?.wait()?;
    ///     assert_eq!(sum, i + 1);
    ///     assert!(args.is_empty(), "ready for the next call");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn clear(&mut self) {
        self.classes.clear();
        self.values.clear();
        self.stack.clear();
        self.image.clear();
        self.outs.clear();
        self.overflow = 0;
    }

    /// The list emptied like [`clear`](Self::clear), its memory kept, for
    /// buffers borrowed anew: a list that carried OUT or INOUT buffers keeps
    /// them borrowed for as long as it lives, so that they cannot be read
    /// while it is kept; this one borrows nothing.
    ///
    /// ```no_run
    /// use veo_runtime::{Args, Out, Proc};
    ///
    /// # fn main() -> veo_runtime::Result<()> {
    /// let proc = Proc::new(0)?;
    /// // void fill(double *x, int n)
    /// let fill = proc.load_library("./libkernels.so")?.function("fill")?;
    /// let mut x = [0.0f64; 4];
    /// let mut args = Args::new();
    /// args.push(Out(&mut x[..])).i32(4);
    /// proc.call_sync_with::<()>(&fill, &mut args)?;
    /// let mut args = args.recycle(); // `x` is no longer borrowed
    /// println!("{x:?}");
    /// args.push(Out(&mut x[..2])).i32(2);
    /// proc.call_sync_with::<()>(&fill, &mut args)?;
    /// # Ok(()) }
    /// ```
    pub fn recycle<'b>(self) -> Args<'b> {
        let Args {
            mut classes,
            mut values,
            mut stack,
            mut image,
            ..
        } = self;
        classes.clear();
        values.clear();
        stack.clear();
        image.clear();
        Args {
            classes,
            values,
            stack,
            image,
            // A call takes the OUT buffers' list with it: nothing to keep.
            outs: Vec::new(),
            overflow: 0,
        }
    }

    /// Pushes any value a kernel can take (see [`KernelArg`]).
    pub fn push<A: KernelArg<'a>>(&mut self, arg: A) -> &mut Self {
        arg.push_to(self);
        self
    }

    /// Pushes a register value of `class` (for [`ArgList`](crate::ArgList)).
    pub(crate) fn push_raw_value(&mut self, class: ArgClass, value: u64) -> &mut Self {
        self.push_raw(class, value)
    }

    fn push_raw(&mut self, class: ArgClass, value: u64) -> &mut Self {
        if self.classes.len() >= MAX_ARGS {
            self.overflow += 1;
        } else {
            self.classes.push(class);
            self.values.push(value);
        }
        self
    }

    scalar_setters! {
        /// A C `int8_t` / `signed char`.
        i8: i8 => I8,
        /// A C `uint8_t` / `unsigned char`.
        u8: u8 => U8,
        /// A C `int16_t` / `short`.
        i16: i16 => I16,
        /// A C `uint16_t` / `unsigned short`.
        u16: u16 => U16,
        /// A C `int32_t` / `int`.
        i32: i32 => I32,
        /// A C `uint32_t` / `unsigned int`.
        u32: u32 => U32,
        /// A C `int64_t` / `long`.
        i64: i64 => I64,
        /// A C `uint64_t` / `unsigned long`.
        u64: u64 => U64,
    }

    /// A C `float`.
    pub fn f32(&mut self, value: f32) -> &mut Self {
        self.push_raw(ArgClass::F32, value.to_bits() as u64)
    }

    /// A C `double`.
    pub fn f64(&mut self, value: f64) -> &mut Self {
        self.push_raw(ArgClass::F64, value.to_bits())
    }

    /// A pointer into VE memory.
    pub fn ptr<T>(&mut self, ptr: VePtr<T>) -> &mut Self {
        self.push_raw(ArgClass::Ptr, ptr.addr())
    }

    /// A buffer copied onto the VE stack; the kernel gets a pointer to it
    /// (py-veo's `OnStack(buf, inout=VEO_INTENT_IN)`).
    pub fn stack_in(&mut self, data: &[u8]) -> &mut Self {
        self.push_stack(data.len(), Intent::In, Some(data))
    }

    /// A buffer copied onto the VE stack and back into `data` when the
    /// request completes (`VEO_INTENT_INOUT`).
    pub fn stack_inout(&mut self, data: &'a mut [u8]) -> &mut Self {
        let index = self.stack.len();
        self.push_stack(data.len(), Intent::InOut, Some(data));
        self.outs.push((index, data));
        self
    }

    /// Room on the VE stack whose contents are copied into `data` when the
    /// request completes (`VEO_INTENT_OUT`).
    pub fn stack_out(&mut self, data: &'a mut [u8]) -> &mut Self {
        let index = self.stack.len();
        self.push_stack(data.len(), Intent::Out, None);
        self.outs.push((index, data));
        self
    }

    pub(crate) fn push_stack(
        &mut self,
        len: usize,
        intent: Intent,
        data: Option<&[u8]>,
    ) -> &mut Self {
        if self.classes.len() >= MAX_ARGS {
            self.overflow += 1;
            return self;
        }
        // Each buffer starts 16-byte aligned, as a C compiler would align a
        // stack temporary of any scalar type.
        let offset = self.image.len().next_multiple_of(16);
        self.image.resize(offset, 0);
        match data {
            Some(bytes) if intent != Intent::Out => veo_urpc::copy::extend(&mut self.image, bytes),
            _ => self.image.resize(offset + len, 0),
        }
        let index = self.stack.len() as u64;
        self.stack.push(StackArg {
            offset: offset as u64,
            len: len as u64,
            intent: intent.wire(),
        });
        self.push_raw(ArgClass::Stack, index)
    }

    /// The OUT and INOUT buffers, in stack order, for the request that
    /// carries them (none made for a call without any: the usual case).
    #[inline]
    pub(crate) fn take_outs(&mut self) -> Vec<&'a mut [u8]> {
        if self.outs.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut self.outs)
            .into_iter()
            .map(|(_, b)| b)
            .collect()
    }

    /// Checks the limits a call must respect.
    pub(crate) fn check(&self, stack_max: usize) -> Result<()> {
        if self.overflow > 0 {
            return Err(Error::TooManyArguments {
                count: self.len(),
                max: MAX_ARGS,
            });
        }
        if self.image.len() > stack_max {
            return Err(Error::StackTooLarge {
                size: self.image.len(),
                max: stack_max,
            });
        }
        Ok(())
    }
}

impl std::fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("classes", &self.classes)
            .field("values", &self.values)
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that can be passed to a VE kernel (docs/ARCHITECTURE.md, "The type table").
///
/// Sealed: the set of types is the type table of `#[ve_kernel]`. Integers and
/// floats go in registers, [`VePtr`] is a VE address, `&T`/`&[T]` of a
/// [`bytemuck::Pod`] type go on the VE stack with intent IN, `&mut T`/`&mut [T]`
/// with intent INOUT, and [`Out`] with intent OUT.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be passed to a VE kernel",
    label = "not a VE kernel argument",
    note = "a VE kernel takes integers, f32, f64, VePtr<T>, or &T / &[T] / &mut T / &mut [T] of a bytemuck::Pod type (on the VE stack)",
    note = "for strings pass `s.as_bytes()` with a NUL byte (`&[u8]`); for Vec<T> pass `&v[..]` or copy it to a VeBuffer"
)]
pub trait KernelArg<'a>: sealed::Sealed {
    /// Appends `self` to `args`.
    fn push_to(self, args: &mut Args<'a>);
}

macro_rules! scalar_args {
    ($($t:ty => $method:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl<'a> KernelArg<'a> for $t {
            fn push_to(self, args: &mut Args<'a>) {
                args.$method(self as _);
            }
        }
    )*};
}
scalar_args!(i8 => i8, u8 => u8, i16 => i16, u16 => u16, i32 => i32, u32 => u32,
    i64 => i64, u64 => u64, f32 => f32, f64 => f64);

// `isize`/`usize` are C's `long`/`unsigned long` on both the VH and the VE.
impl sealed::Sealed for isize {}
impl<'a> KernelArg<'a> for isize {
    fn push_to(self, args: &mut Args<'a>) {
        args.i64(self as i64);
    }
}
impl sealed::Sealed for usize {}
impl<'a> KernelArg<'a> for usize {
    fn push_to(self, args: &mut Args<'a>) {
        args.u64(self as u64);
    }
}

impl<T> sealed::Sealed for VePtr<T> {}
impl<'a, T> KernelArg<'a> for VePtr<T> {
    fn push_to(self, args: &mut Args<'a>) {
        args.ptr(self);
    }
}

impl<T: bytemuck::Pod> sealed::Sealed for &T {}
impl<'a, T: bytemuck::Pod> KernelArg<'a> for &T {
    fn push_to(self, args: &mut Args<'a>) {
        args.stack_in(bytemuck::bytes_of(self));
    }
}
impl<T: bytemuck::Pod> sealed::Sealed for &[T] {}
impl<'a, T: bytemuck::Pod> KernelArg<'a> for &[T] {
    fn push_to(self, args: &mut Args<'a>) {
        args.stack_in(bytemuck::cast_slice(self));
    }
}
impl<T: bytemuck::Pod> sealed::Sealed for &mut T {}
impl<'a, T: bytemuck::Pod> KernelArg<'a> for &'a mut T {
    fn push_to(self, args: &mut Args<'a>) {
        args.stack_inout(bytemuck::bytes_of_mut(self));
    }
}
impl<T: bytemuck::Pod> sealed::Sealed for &mut [T] {}
impl<'a, T: bytemuck::Pod> KernelArg<'a> for &'a mut [T] {
    fn push_to(self, args: &mut Args<'a>) {
        args.stack_inout(bytemuck::cast_slice_mut(self));
    }
}

/// A kernel argument that travels in a register: an integer, `f32`, `f64`
/// or a [`VePtr`]. A `#[ve_kernel]` stub whose every argument is one sends
/// its call from a [`Regs`] on its own stack, without building an [`Args`]
/// (no vectors to fill, move and drop: a fifth of a call's VH instructions).
/// The class and bits are those [`Args::push`] records for the same value.
#[doc(hidden)]
pub trait RegisterArg: sealed::Sealed {
    /// The argument's class.
    const CLASS: ArgClass;
    /// The 64-bit register value (signed integers sign-extended).
    fn bits(self) -> u64;
}

macro_rules! register_args {
    ($($t:ty => $class:ident, |$v:ident| $bits:expr);* $(;)?) => {$(
        impl RegisterArg for $t {
            const CLASS: ArgClass = ArgClass::$class;
            #[inline(always)]
            fn bits(self) -> u64 {
                let $v = self;
                $bits
            }
        }
    )*};
}
register_args! {
    i8 => I8, |v| v as u64;
    u8 => U8, |v| v as u64;
    i16 => I16, |v| v as u64;
    u16 => U16, |v| v as u64;
    i32 => I32, |v| v as u64;
    u32 => U32, |v| v as u64;
    i64 => I64, |v| v as u64;
    u64 => U64, |v| v;
    isize => I64, |v| v as i64 as u64;
    usize => U64, |v| v as u64;
    f32 => F32, |v| v.to_bits() as u64;
    f64 => F64, |v| v.to_bits();
}
impl<T> RegisterArg for VePtr<T> {
    const CLASS: ArgClass = ArgClass::Ptr;
    #[inline(always)]
    fn bits(self) -> u64 {
        self.addr()
    }
}

/// The arguments of a call that has only register arguments, built by a
/// `#[ve_kernel]` stub on its stack (see [`RegisterArg`]).
#[doc(hidden)]
pub struct Regs<const N: usize> {
    pub(crate) classes: [ArgClass; N],
    pub(crate) values: [u64; N],
}

impl<const N: usize> Regs<N> {
    /// The arguments `values`, of the classes `classes`.
    #[inline(always)]
    pub fn new(classes: [ArgClass; N], values: [u64; N]) -> Self {
        const { assert!(N <= MAX_ARGS, "more arguments than a kernel call takes") };
        Regs { classes, values }
    }

    /// The same arguments as an [`Args`] (what the tests compare).
    #[cfg(test)]
    pub(crate) fn to_args<'a>(&self) -> Args<'a> {
        let mut args = Args::new();
        for (c, v) in self.classes.iter().zip(&self.values) {
            args.push_raw(*c, *v);
        }
        args
    }
}

/// A buffer passed with intent OUT: room on the VE stack, copied back into
/// the host buffer when the request completes. `#[out]` in `#[ve_kernel]`.
pub struct Out<T>(pub T);

impl<T: bytemuck::Pod> sealed::Sealed for Out<&mut T> {}
impl<'a, T: bytemuck::Pod> KernelArg<'a> for Out<&'a mut T> {
    fn push_to(self, args: &mut Args<'a>) {
        args.stack_out(bytemuck::bytes_of_mut(self.0));
    }
}
impl<T: bytemuck::Pod> sealed::Sealed for Out<&mut [T]> {}
impl<'a, T: bytemuck::Pod> KernelArg<'a> for Out<&'a mut [T]> {
    fn push_to(self, args: &mut Args<'a>) {
        args.stack_out(bytemuck::cast_slice_mut(self.0));
    }
}

/// A Rust type a VE kernel can return: the 64-bit result, decoded.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a VE kernel",
    label = "not a VE kernel return type",
    note = "a VE kernel returns (), an integer, f32, f64 or VePtr<T>; return larger data through an OUT argument (#[out] &mut T) or a VE buffer"
)]
pub trait KernelRet: ret_sealed::Sealed + Sized {
    /// How the helper must read the C return value.
    const CLASS: ArgClass;
    /// Decodes the raw 64-bit result.
    fn decode(raw: u64) -> Self;
}

mod ret_sealed {
    pub trait Sealed {}
}

impl ret_sealed::Sealed for () {}
impl KernelRet for () {
    const CLASS: ArgClass = ArgClass::Void;
    fn decode(_: u64) -> Self {}
}

macro_rules! int_rets {
    ($($t:ty => $class:ident),*) => {$(
        impl ret_sealed::Sealed for $t {}
        impl KernelRet for $t {
            const CLASS: ArgClass = ArgClass::$class;
            fn decode(raw: u64) -> Self {
                raw as $t
            }
        }
    )*};
}
int_rets!(i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32, u32 => U32,
    i64 => I64, u64 => U64, isize => I64, usize => U64);

impl ret_sealed::Sealed for f32 {}
impl KernelRet for f32 {
    const CLASS: ArgClass = ArgClass::F32;
    fn decode(raw: u64) -> Self {
        f32::from_bits(raw as u32)
    }
}
impl ret_sealed::Sealed for f64 {}
impl KernelRet for f64 {
    const CLASS: ArgClass = ArgClass::F64;
    fn decode(raw: u64) -> Self {
        f64::from_bits(raw)
    }
}
impl<T> ret_sealed::Sealed for VePtr<T> {}
impl<T> KernelRet for VePtr<T> {
    const CLASS: ArgClass = ArgClass::Ptr;
    fn decode(raw: u64) -> Self {
        VePtr::new(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_class_and_bits() {
        let mut a = Args::new();
        a.push(-1i8)
            .push(u8::MAX)
            .push(-2i16)
            .push(3.5f32)
            .push(-0.25f64);
        a.push(VePtr::<f64>::new(0x1000))
            .push(usize::MAX)
            .push(-7isize);
        assert_eq!(
            a.classes[..],
            [
                ArgClass::I8,
                ArgClass::U8,
                ArgClass::I16,
                ArgClass::F32,
                ArgClass::F64,
                ArgClass::Ptr,
                ArgClass::U64,
                ArgClass::I64
            ]
        );
        // Signed values travel sign-extended; the helper reads the low bytes.
        assert_eq!(a.values[0], u64::MAX);
        assert_eq!(a.values[1], 255);
        assert_eq!(a.values[3], 3.5f32.to_bits() as u64);
        assert_eq!(a.values[4], (-0.25f64).to_bits());
        assert_eq!(a.values[5], 0x1000);
        assert_eq!(a.values[7], -7i64 as u64);
    }

    /// A stub without vectors sends what `push` would have recorded.
    #[test]
    fn register_args_carry_the_class_and_bits_of_push() {
        fn same<A: RegisterArg + KernelArg<'static> + Copy>(v: A) {
            let mut a = Args::new();
            a.push(v);
            assert_eq!((A::CLASS, v.bits()), (a.classes[0], a.values[0]));
            let regs = Regs::new([A::CLASS], [v.bits()]).to_args();
            assert_eq!(
                (&regs.classes[..], &regs.values[..]),
                (&a.classes[..], &a.values[..])
            );
        }
        same(-1i8);
        same(u8::MAX);
        same(-2i16);
        same(u16::MAX);
        same(-3i32);
        same(u32::MAX);
        same(i64::MIN);
        same(u64::MAX);
        same(-7isize);
        same(usize::MAX);
        same(3.5f32);
        same(-0.25f64);
        same(VePtr::<f64>::new(0x1000));
    }

    #[test]
    fn stack_buffers_are_aligned_and_out_is_not_copied_in() {
        let mut inout = [1u8, 2, 3];
        let mut out = [9u8; 5];
        let mut a = Args::new();
        a.stack_in(&[7u8; 3])
            .stack_inout(&mut inout)
            .stack_out(&mut out);
        assert_eq!(a.stack.len(), 3);
        assert_eq!(
            a.stack.iter().map(|s| s.offset).collect::<Vec<_>>(),
            [0, 16, 32]
        );
        assert_eq!(&a.image[0..3], &[7, 7, 7]);
        assert_eq!(&a.image[16..19], &[1, 2, 3]);
        assert_eq!(&a.image[32..37], &[0; 5], "OUT bytes are not copied in");
        assert_eq!(a.values[..], [0, 1, 2], "stack arguments carry their index");
        assert_eq!(a.outs.len(), 2);
    }

    #[test]
    fn limits_are_reported_at_call_time() {
        let mut a = Args::new();
        for i in 0..MAX_ARGS {
            a.push(i as i32);
        }
        assert!(a.check(1 << 20).is_ok());
        a.push(1i32);
        assert_eq!(a.len(), MAX_ARGS + 1);
        assert!(matches!(
            a.check(1 << 20),
            Err(Error::TooManyArguments {
                count: 257,
                max: 256
            })
        ));
        let mut b = Args::new();
        b.stack_in(&[0u8; 100]);
        assert!(matches!(
            b.check(64),
            Err(Error::StackTooLarge { size: 100, max: 64 })
        ));
    }

    #[test]
    fn clear_empties_the_list_and_keeps_its_memory() {
        let mut out = [0u8; 4];
        let mut a = Args::new();
        for i in 0..20u64 {
            a.u64(i); // beyond the inline room
        }
        a.stack_in(&[1u8; 100]).stack_out(&mut out);
        let image = a.image.capacity();
        a.clear();
        assert!(a.is_empty());
        assert!(a.stack.is_empty() && a.image.is_empty() && a.outs.is_empty());
        assert!(
            a.image.capacity() >= image,
            "the stack image's memory is kept"
        );
        // Inline again, then past the inline room a second time.
        a.i32(-1).f64(0.5);
        assert_eq!(a.classes[..], [ArgClass::I32, ArgClass::F64]);
        assert_eq!(a.values[..], [u64::MAX, 0.5f64.to_bits()]);
        for i in 0..10u64 {
            a.u64(100 + i);
        }
        assert_eq!(a.len(), 12);
        assert_eq!(a.values[0], u64::MAX);
        assert_eq!(a.values[11], 109);
        assert_eq!(a.classes[11], ArgClass::U64);
    }

    #[test]
    fn ret_decoding_narrows_and_reinterprets() {
        assert_eq!(<i8 as KernelRet>::decode(0xffff_ff80), -128);
        assert_eq!(<u16 as KernelRet>::decode(0x1_0005), 5);
        assert_eq!(<f32 as KernelRet>::decode(1.5f32.to_bits() as u64), 1.5);
        assert_eq!(<f64 as KernelRet>::decode(2.5f64.to_bits()), 2.5);
        assert_eq!(<VePtr<u8> as KernelRet>::decode(42).addr(), 42);
    }
}
