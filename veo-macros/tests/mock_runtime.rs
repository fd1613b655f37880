//! The generated stubs, compiled and run against a stand-in runtime (with
//! `crate = path`): which symbol they look up, what they push and in which
//! order, and how results and OUT/INOUT data come back. The real runtime is
//! exercised by the UI tests and by the veo-tests package.

#![allow(clippy::disallowed_names)]

/// A stand-in for `veo_runtime` with the same shape: it records every call.
mod rt {
    use std::cell::RefCell;
    use std::marker::PhantomData;

    #[derive(Debug, PartialEq)]
    pub struct Error;
    pub type Result<T> = std::result::Result<T, Error>;

    /// The glue only generated code names, in the same place as in the
    /// real runtime: the stubs reach nothing else of it.
    pub mod __private {
        use super::{Args, Context, Function, KernelRet, Proc, Request, Result};

        // The real registry of static kernels: the stubs' `static` blocks
        // register their kernels' addresses there.
        pub use veo_runtime::__private::{linkme, StaticKernel, STATIC_KERNELS};

        #[derive(Debug)]
        pub enum KernelLibrary {
            #[allow(dead_code)]
            Path(&'static str),
            Static,
        }

        /// Where a stub keeps its kernel's address.
        pub struct KernelSlot;
        impl KernelSlot {
            pub const fn named(_name: &'static str) -> KernelSlot {
                KernelSlot
            }
        }

        fn kernel(library: &KernelLibrary, symbol: &str) -> Function {
            Function(format!("{library:?}/{symbol}"))
        }

        pub fn call_kernel<'a, R: KernelRet>(
            ctx: &'a Context,
            _slot: &KernelSlot,
            library: &KernelLibrary,
            symbol: &str,
            args: &mut Args<'a>,
        ) -> Result<Request<'a, R>> {
            ctx.call(&kernel(library, symbol), std::mem::take(args))
        }

        pub fn call_kernel_sync<R: KernelRet>(
            proc: &Proc,
            _slot: &KernelSlot,
            library: &KernelLibrary,
            symbol: &str,
            args: &mut Args<'_>,
        ) -> Result<R> {
            proc.call_sync(&kernel(library, symbol), std::mem::take(args))
        }

        /// A register argument: its class, and its value as the log shows it.
        pub trait RegisterArg {
            const CLASS: &'static str;
            fn bits(self) -> String;
        }
        macro_rules! registers {
            ($($t:ty),*) => {$(
                impl RegisterArg for $t {
                    const CLASS: &'static str = stringify!($t);
                    fn bits(self) -> String {
                        self.to_string()
                    }
                }
            )*};
        }
        registers!(i8, u8, i16, u16, i32, u32, i64, u64, isize, usize, f32, f64);
        impl<T> RegisterArg for super::VePtr<T> {
            const CLASS: &'static str = "ptr";
            fn bits(self) -> String {
                format!("{:#x}", self.0)
            }
        }

        /// A stub's register arguments, logged as `push` logs them: the
        /// two paths of a stub record the same thing.
        pub struct Regs<const N: usize>(Vec<String>);
        impl<const N: usize> Regs<N> {
            pub fn new(classes: [&'static str; N], values: [String; N]) -> Self {
                Regs(
                    classes
                        .iter()
                        .zip(values)
                        .map(|(c, v)| format!("{c} {v}"))
                        .collect(),
                )
            }
            fn args<'a>(&self) -> Args<'a> {
                Args {
                    log: self.0.clone(),
                    ..Args::new()
                }
            }
        }

        pub fn call_kernel_regs<'a, R: KernelRet, const N: usize>(
            ctx: &'a Context,
            _slot: &KernelSlot,
            library: &KernelLibrary,
            symbol: &str,
            regs: &Regs<N>,
        ) -> Result<Request<'a, R>> {
            ctx.call(&kernel(library, symbol), regs.args())
        }

        pub fn call_kernel_sync_regs<R: KernelRet, const N: usize>(
            proc: &Proc,
            _slot: &KernelSlot,
            library: &KernelLibrary,
            symbol: &str,
            regs: &Regs<N>,
        ) -> Result<R> {
            proc.call_sync(&kernel(library, symbol), regs.args())
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct VePtr<T>(pub u64, PhantomData<fn() -> T>);
    impl<T> VePtr<T> {
        pub fn new(addr: u64) -> Self {
            VePtr(addr, PhantomData)
        }
    }

    pub struct Out<T>(pub T);

    /// What one call pushed, e.g. `["i32 7", "in 16", "out 8"]`.
    #[derive(Default)]
    pub struct Args<'a> {
        pub log: Vec<String>,
        outs: Vec<&'a mut [u8]>,
    }
    impl<'a> Args<'a> {
        pub fn new() -> Self {
            Args {
                log: Vec::new(),
                outs: Vec::new(),
            }
        }
        pub fn push<A: KernelArg<'a>>(&mut self, arg: A) -> &mut Self {
            arg.push_to(self);
            self
        }
    }

    pub trait KernelArg<'a> {
        fn push_to(self, args: &mut Args<'a>);
    }
    macro_rules! scalars {
        ($($t:ty),*) => {$(
            impl<'a> KernelArg<'a> for $t {
                fn push_to(self, args: &mut Args<'a>) {
                    args.log.push(format!("{} {}", stringify!($t), self));
                }
            }
        )*};
    }
    scalars!(i8, u8, i16, u16, i32, u32, i64, u64, isize, usize, f32, f64);
    impl<'a, T> KernelArg<'a> for VePtr<T> {
        fn push_to(self, args: &mut Args<'a>) {
            args.log.push(format!("ptr {:#x}", self.0));
        }
    }
    impl<'a, T: bytemuck::Pod> KernelArg<'a> for &T {
        fn push_to(self, args: &mut Args<'a>) {
            args.log.push(format!("in {:?}", bytemuck::bytes_of(self)));
        }
    }
    impl<'a, T: bytemuck::Pod> KernelArg<'a> for &[T] {
        fn push_to(self, args: &mut Args<'a>) {
            args.log
                .push(format!("in {:?}", bytemuck::cast_slice::<T, u8>(self)));
        }
    }
    impl<'a, T: bytemuck::Pod> KernelArg<'a> for &'a mut [T] {
        fn push_to(self, args: &mut Args<'a>) {
            let bytes = bytemuck::cast_slice_mut::<T, u8>(self);
            args.log.push(format!("inout {}", bytes.len()));
            args.outs.push(bytes);
        }
    }
    impl<'a, T: bytemuck::Pod> KernelArg<'a> for &'a mut T {
        fn push_to(self, args: &mut Args<'a>) {
            let bytes = bytemuck::bytes_of_mut(self);
            args.log.push(format!("inout {}", bytes.len()));
            args.outs.push(bytes);
        }
    }
    impl<'a, T: bytemuck::Pod> KernelArg<'a> for Out<&'a mut [T]> {
        fn push_to(self, args: &mut Args<'a>) {
            let bytes = bytemuck::cast_slice_mut::<T, u8>(self.0);
            args.log.push(format!("out {}", bytes.len()));
            args.outs.push(bytes);
        }
    }

    pub trait KernelRet {
        fn decode(raw: u64) -> Self;
    }
    impl KernelRet for () {
        fn decode(_: u64) {}
    }
    impl KernelRet for i32 {
        fn decode(raw: u64) -> Self {
            raw as i32
        }
    }
    impl KernelRet for f64 {
        fn decode(raw: u64) -> Self {
            raw as f64
        }
    }
    impl<T> KernelRet for VePtr<T> {
        fn decode(raw: u64) -> Self {
            VePtr::new(raw)
        }
    }

    #[derive(Debug)]
    pub struct Function(String);

    /// The kernel every call runs: fills each OUT/INOUT buffer with 0xee
    /// and returns the number of arguments.
    fn run(args: Args<'_>) -> u64 {
        for out in args.outs {
            out.fill(0xee);
        }
        args.log.len() as u64
    }

    #[derive(Default)]
    pub struct Context {
        pub calls: RefCell<Vec<(String, Vec<String>)>>,
    }
    impl Context {
        pub fn call<'a, R: KernelRet>(
            &'a self,
            function: &Function,
            args: Args<'a>,
        ) -> Result<Request<'a, R>> {
            self.calls
                .borrow_mut()
                .push((function.0.clone(), args.log.clone()));
            Ok(Request {
                args,
                _ret: PhantomData,
            })
        }
    }

    /// Data lands in the host buffers only in `wait`, as in the runtime.
    pub struct Request<'a, R> {
        args: Args<'a>,
        _ret: PhantomData<R>,
    }
    impl<R: KernelRet> Request<'_, R> {
        pub fn wait(self) -> Result<R> {
            Ok(R::decode(run(self.args)))
        }
    }

    #[derive(Default)]
    pub struct Proc {
        pub calls: RefCell<Vec<(String, Vec<String>)>>,
    }
    impl Proc {
        pub fn call_sync<R: KernelRet>(&self, function: &Function, args: Args<'_>) -> Result<R> {
            self.calls
                .borrow_mut()
                .push((function.0.clone(), args.log.clone()));
            Ok(R::decode(run(args)))
        }
    }
}

use rt::{Context, Proc, VePtr};

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Pair {
    a: i32,
    b: i32,
}

type Count = u16;

/// Definitions of the kernels the `static` blocks below declare: each block
/// registers its kernels' addresses, so they must link. They are never
/// called (the stand-in runtime records the calls instead).
mod definitions {
    #[no_mangle]
    extern "C" fn average() {}
    #[no_mangle]
    extern "C" fn every_scalar() {}
    #[no_mangle]
    extern "C" fn buffers() {}
    #[no_mangle]
    extern "C" fn shadows() {}
    #[no_mangle]
    extern "C" fn test9_() {}
    #[no_mangle]
    extern "C" fn from_macro() {}
}

#[veo_macros::ve_kernel(static, crate = crate::rt)]
extern "C" {
    /// The mean.
    fn average(a: VePtr<f64>, n: i32) -> f64;
    fn every_scalar(
        a: i8,
        b: u8,
        c: i16,
        d: u16,
        e: i32,
        f: u32,
        g: i64,
        h: u64,
        i: isize,
        j: usize,
        k: f32,
        l: f64,
        m: Count,
    ) -> i32;
    fn buffers(x: &[u8], pair: &Pair, y: &mut [i16], #[out] z: &mut [u8]) -> VePtr<u8>;
    /// Parameters named like the stubs' own variables.
    fn shadows(ctx: i32, proc: i32, args: i32, function: i32);
}

#[veo_macros::ve_kernel(static, fortran, crate = crate::rt)]
extern "C" {
    #[allow(non_snake_case)] // Fortran style; the symbol is `test9_` either way
    fn Test9(n: i32, m: Count, a: VePtr<i32>, b: &mut [f64]);
}

fn calls(log: &std::cell::RefCell<Vec<(String, Vec<String>)>>) -> Vec<(String, Vec<String>)> {
    log.borrow().clone()
}

#[test]
fn async_stub_submits_and_decodes() {
    let ctx = Context::default();
    let request = average(&ctx, VePtr::new(0x1000), 7).unwrap();
    assert_eq!(
        calls(&ctx.calls),
        [(
            "Static/average".to_string(),
            vec!["ptr 0x1000".to_string(), "i32 7".to_string()]
        )]
    );
    assert_eq!(request.wait().unwrap(), 2.0);
}

#[test]
fn sync_stub_calls_on_the_proc() {
    let proc = Proc::default();
    let n = every_scalar_sync(&proc, -1, 2, -3, 4, -5, 6, -7, 8, -9, 10, 1.5, 2.5, 13).unwrap();
    assert_eq!(n, 13);
    let (symbol, log) = calls(&proc.calls).pop().unwrap();
    assert_eq!(symbol, "Static/every_scalar");
    assert_eq!(
        log,
        [
            "i8 -1", "u8 2", "i16 -3", "u16 4", "i32 -5", "u32 6", "i64 -7", "u64 8", "isize -9",
            "usize 10", "f32 1.5", "f64 2.5", "u16 13"
        ]
    );
}

#[test]
fn buffers_come_back_only_through_the_request() {
    let ctx = Context::default();
    let mut y = [1i16, 2];
    let mut z = [0u8; 3];
    let request = buffers(&ctx, b"hi\0", &Pair { a: 1, b: 2 }, &mut y, &mut z).unwrap();
    let (_, log) = calls(&ctx.calls).pop().unwrap();
    assert_eq!(
        log,
        [
            "in [104, 105, 0]",
            "in [1, 0, 0, 0, 2, 0, 0, 0]",
            "inout 4",
            "out 3"
        ]
    );
    assert_eq!(request.wait().unwrap(), VePtr::new(4));
    assert_eq!(y, [-4370, -4370]); // 0xeeee
    assert_eq!(z, [0xee; 3]);

    // A forgotten request never writes into the buffers.
    let mut y = [1i16, 2];
    let mut z = [0u8; 3];
    std::mem::forget(buffers(&ctx, b"", &Pair { a: 0, b: 0 }, &mut y, &mut z).unwrap());
    assert_eq!((y, z), ([1, 2], [0; 3]));
}

#[test]
fn stub_variables_do_not_clash_with_parameters() {
    let ctx = Context::default();
    shadows(&ctx, 1, 2, 3, 4).unwrap().wait().unwrap();
    let proc = Proc::default();
    shadows_sync(&proc, 5, 6, 7, 8).unwrap();
    assert_eq!(
        calls(&proc.calls)[0].1,
        ["i32 5", "i32 6", "i32 7", "i32 8"]
    );
}

#[test]
fn fortran_passes_scalars_by_reference() {
    let proc = Proc::default();
    let mut b = [0.0f64; 2];
    Test9_sync(&proc, 3, 4, VePtr::new(0x20), &mut b).unwrap();
    let (symbol, log) = calls(&proc.calls).pop().unwrap();
    assert_eq!(symbol, "Static/test9_");
    assert_eq!(
        log,
        ["in [3, 0, 0, 0]", "in [4, 0]", "ptr 0x20", "inout 16"]
    );
    assert!(b.iter().all(|v| v.to_bits() == 0xeeee_eeee_eeee_eeee));
}

// Declarations written by a `macro_rules!` macro: the parameters' names come
// from its invocation and the types from its definition, two hygiene contexts.
macro_rules! declare {
    ($($p:ident)*) => {
        #[veo_macros::ve_kernel(static, crate = crate::rt)]
        extern "C" {
            fn from_macro($($p: i32),*) -> i32;
        }
    };
}
declare!(x y z);

#[test]
fn declarations_from_macro_rules() {
    let proc = Proc::default();
    assert_eq!(from_macro_sync(&proc, 1, 2, 3).unwrap(), 3);
    assert_eq!(calls(&proc.calls)[0].1, ["i32 1", "i32 2", "i32 3"]);
}
