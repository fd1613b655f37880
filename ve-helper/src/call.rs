//! Calling a kernel whose signature is known only at run time, with libffi.
//!
//! Two things keep a call cheap: prepared call interfaces (`ffi_cif`) are
//! cached by signature, since a program calls the same few kernels again
//! and again; and on x86_64, a kernel whose arguments are all in the integer
//! class (integers, pointers, stack buffers; at most six) and whose result
//! is not floating point is called directly through a function pointer,
//! which is exactly what the System V ABI makes of such a call.

use libffi::low::{ffi_abi_FFI_DEFAULT_ABI, ffi_cif, ffi_type, types};
use std::ptr::addr_of_mut;
use veo_urpc::proto::{ArgClass, Call};

fn ffi_type_of(class: ArgClass) -> *mut ffi_type {
    // Addresses of libffi's static type descriptors, which libffi only reads.
    {
        match class {
            ArgClass::Void => addr_of_mut!(types::void),
            ArgClass::I8 => addr_of_mut!(types::sint8),
            ArgClass::U8 => addr_of_mut!(types::uint8),
            ArgClass::I16 => addr_of_mut!(types::sint16),
            ArgClass::U16 => addr_of_mut!(types::uint16),
            ArgClass::I32 => addr_of_mut!(types::sint32),
            ArgClass::U32 => addr_of_mut!(types::uint32),
            ArgClass::I64 => addr_of_mut!(types::sint64),
            ArgClass::U64 => addr_of_mut!(types::uint64),
            ArgClass::F32 => addr_of_mut!(types::float),
            ArgClass::F64 => addr_of_mut!(types::double),
            ArgClass::Ptr | ArgClass::Stack => addr_of_mut!(types::pointer),
        }
    }
}

/// A prepared call interface for one signature.
struct Prepared {
    ret: ArgClass,
    classes: Vec<ArgClass>,
    /// The argument types the cif points to (boxed: they must not move).
    _types: Box<[*mut ffi_type]>,
    cif: Box<ffi_cif>,
}

/// Signatures whose cif is kept.
const CIF_CACHE: usize = 16;

/// Reusable buffers and prepared signatures, so that a call allocates
/// nothing once warmed up.
#[derive(Default)]
pub(crate) struct Caller {
    /// Most recently used first.
    prepared: Vec<Prepared>,
    slots: Vec<u64>,
    ptrs: Vec<*mut libc::c_void>,
}

extern "C-unwind" {
    /// libffi's `ffi_call`, declared so that a kernel that unwinds instead
    /// of returning (`pthread_exit`, an exception) unwinds through it to
    /// the worker's guard (`fault::Unwinding`) rather than aborting here.
    #[link_name = "ffi_call"]
    fn ffi_call_unwinding(
        cif: *mut ffi_cif,
        func: Option<unsafe extern "C" fn()>,
        rvalue: *mut libc::c_void,
        avalue: *mut *mut libc::c_void,
    );
}

impl Caller {
    /// Calls `call.func` with its arguments; stack arguments point into
    /// `frame`. Returns the raw 64-bit result, widened as C would.
    ///
    /// # Safety
    /// `call.func` must be a function with exactly the described signature
    /// (the VH's declaration vouches for it) and `frame` must hold the image.
    pub(crate) unsafe fn invoke(&mut self, call: &Call, frame: *mut u8) -> Result<u64, String> {
        self.slots.clear();
        for (class, value) in call.classes.iter().zip(&call.values) {
            let v = match class {
                // SAFETY: decode_call checked the buffer lies in the image.
                ArgClass::Stack => unsafe {
                    frame.add(call.stack[*value as usize].offset as usize) as u64
                },
                // Little-endian: the low bytes of the slot are the narrow
                // value; widened for the direct path's registers.
                _ => class.widen(*value),
            };
            self.slots.push(v);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(r) = direct(call, &self.slots) {
            return Ok(r);
        }
        self.ptrs.clear();
        for slot in self.slots.iter_mut() {
            self.ptrs.push((slot as *mut u64).cast());
        }
        let cif = self.prepare(call)?;
        // libffi writes a full register (ffi_arg, 8 bytes) for any integer
        // return, widened by its type; floats use the low bytes.
        let mut ret = 0u64;
        // SAFETY: the function and signature are the caller's contract; the
        // cif was prepared for exactly these classes; every argument pointer
        // points at an 8-byte slot alive for the call.
        unsafe {
            ffi_call_unwinding(
                cif,
                Some(std::mem::transmute::<usize, unsafe extern "C" fn()>(
                    call.func as usize,
                )),
                (&mut ret as *mut u64).cast(),
                self.ptrs.as_mut_ptr(),
            );
        }
        Ok(ret)
    }

    /// The prepared cif of `call`'s signature, from the cache or made now.
    fn prepare(&mut self, call: &Call) -> Result<*mut ffi_cif, String> {
        let hit = self
            .prepared
            .iter()
            .position(|p| p.ret == call.ret && p.classes == call.classes);
        match hit {
            Some(0) => {}
            Some(i) => {
                let p = self.prepared.remove(i);
                self.prepared.insert(0, p);
            }
            None => {
                let mut types: Box<[*mut ffi_type]> =
                    call.classes.iter().map(|c| ffi_type_of(*c)).collect();
                // SAFETY: a zeroed cif is a valid "unprepared" value for ffi_prep_cif.
                let mut cif: Box<ffi_cif> = Box::new(unsafe { std::mem::zeroed() });
                // SAFETY: `types` holds one valid ffi_type pointer per
                // argument and lives, unmoved (boxed), as long as the cif.
                unsafe {
                    libffi::low::prep_cif(
                        &mut *cif,
                        ffi_abi_FFI_DEFAULT_ABI,
                        types.len(),
                        ffi_type_of(call.ret),
                        types.as_mut_ptr(),
                    )
                }
                .map_err(|e| format!("libffi cannot describe this call: {e:?}"))?;
                self.prepared.truncate(CIF_CACHE - 1);
                self.prepared.insert(
                    0,
                    Prepared {
                        ret: call.ret,
                        classes: call.classes.clone(),
                        _types: types,
                        cif,
                    },
                );
            }
        }
        Ok(&mut *self.prepared[0].cif)
    }
}

/// Calls a kernel whose arguments all travel in general-purpose registers
/// and whose result is an integer, a pointer or nothing; `None` for any
/// other signature (libffi handles those).
#[cfg(target_arch = "x86_64")]
fn direct(call: &Call, a: &[u64]) -> Option<u64> {
    use ArgClass::*;
    if a.len() > 6
        || matches!(call.ret, F32 | F64)
        || call.classes.iter().any(|c| matches!(c, F32 | F64))
    {
        return None;
    }
    // SAFETY: as for `direct_call`; the classes were checked above.
    unsafe { direct_call(call.func, call.ret, a) }
}

/// Calls a [`RegisterCall`], decoded straight from its message.
///
/// # Safety
/// As for [`Caller::invoke`]: `call.func` has the described signature.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn invoke_registers(call: &veo_urpc::proto::RegisterCall) -> u64 {
    // SAFETY: the caller's contract; a RegisterCall has at most six
    // integer-class arguments and no float result.
    unsafe { direct_call(call.func, call.ret, &call.args[..call.nargs]) }.unwrap_or(0)
}

/// The machine-level call of `direct`: at most six integer-class
/// arguments, already widened, and a result that is no float.
///
/// # Safety
/// `func` has that signature.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn direct_call(func: u64, ret: ArgClass, a: &[u64]) -> Option<u64> {
    use ArgClass::*;
    type F0 = unsafe extern "C-unwind" fn() -> u64;
    type F1 = unsafe extern "C-unwind" fn(u64) -> u64;
    type F2 = unsafe extern "C-unwind" fn(u64, u64) -> u64;
    type F3 = unsafe extern "C-unwind" fn(u64, u64, u64) -> u64;
    type F4 = unsafe extern "C-unwind" fn(u64, u64, u64, u64) -> u64;
    type F5 = unsafe extern "C-unwind" fn(u64, u64, u64, u64, u64) -> u64;
    type F6 = unsafe extern "C-unwind" fn(u64, u64, u64, u64, u64, u64) -> u64;
    let f = func as usize;
    // SAFETY: our caller vouches that `func` has the described signature.
    // By Rust's rules alone a call through a pointer of another signature
    // (`fn(u64, ..) -> u64` for, say, `int f(short, char *)`) is undefined;
    // this relies on one platform guarantee beyond them, the System V AMD64
    // psABI's classification of arguments and results ("Parameter Passing"):
    // up to six arguments of the INTEGER class travel in rdi, rsi, rdx, rcx,
    // r8, r9 whatever their width, the callee reading only the low bits of
    // its type (each was widened to 64 bits by `invoke` or
    // `decode_register_call`), and an INTEGER-class result comes back in
    // rax with its bits above the type's width unspecified (fixed by
    // `widen` below); for a void function rax is ignored. Floats (the SSE
    // class) never come here. That is the same machine-level call libffi
    // would make.
    let raw = unsafe {
        match *a {
            [] => std::mem::transmute::<usize, F0>(f)(),
            [a0] => std::mem::transmute::<usize, F1>(f)(a0),
            [a0, a1] => std::mem::transmute::<usize, F2>(f)(a0, a1),
            [a0, a1, a2] => std::mem::transmute::<usize, F3>(f)(a0, a1, a2),
            [a0, a1, a2, a3] => std::mem::transmute::<usize, F4>(f)(a0, a1, a2, a3),
            [a0, a1, a2, a3, a4] => std::mem::transmute::<usize, F5>(f)(a0, a1, a2, a3, a4),
            [a0, a1, a2, a3, a4, a5] => std::mem::transmute::<usize, F6>(f)(a0, a1, a2, a3, a4, a5),
            _ => return None,
        }
    };
    Some(match ret {
        Void => 0,
        ret => ret.widen(raw),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" fn add3(a: i8, b: u16, c: i64) -> i32 {
        a as i32 + b as i32 + c as i32
    }
    extern "C" fn neg8(a: i8) -> i8 {
        a.wrapping_neg()
    }
    extern "C" fn mix(a: f64, b: i32) -> f64 {
        a * b as f64
    }

    fn call(func: usize, ret: ArgClass, args: &[(ArgClass, u64)]) -> Call {
        Call {
            func: func as u64,
            ret,
            classes: args.iter().map(|a| a.0).collect(),
            values: args.iter().map(|a| a.1).collect(),
            stack: Vec::new(),
            image_len: 0,
        }
    }

    #[test]
    fn direct_and_libffi_calls_agree() {
        let mut c = Caller::default();
        let mut frame = [0u8; 16];
        let f = frame.as_mut_ptr();
        let k = call(
            add3 as *const () as usize,
            ArgClass::I32,
            &[
                (ArgClass::I8, -5i64 as u64),
                (ArgClass::U16, 0xffff),
                (ArgClass::I64, 10),
            ],
        );
        // SAFETY: add3 has exactly this signature.
        let r = unsafe { c.invoke(&k, f) }.unwrap();
        assert_eq!(r as i64, -5 + 0xffff + 10);
        // A narrow negative result comes back sign-extended, as from libffi.
        let k = call(
            neg8 as *const () as usize,
            ArgClass::I8,
            &[(ArgClass::I8, 5)],
        );
        // SAFETY: neg8 has exactly this signature.
        let r = unsafe { c.invoke(&k, f) }.unwrap();
        assert_eq!(r, -5i64 as u64);
        // Floats go through libffi, with a cached cif the second time.
        let k = call(
            mix as *const () as usize,
            ArgClass::F64,
            &[(ArgClass::F64, 1.5f64.to_bits()), (ArgClass::I32, 4)],
        );
        for _ in 0..2 {
            // SAFETY: mix has exactly this signature.
            let r = unsafe { c.invoke(&k, f) }.unwrap();
            assert_eq!(f64::from_bits(r), 6.0);
        }
        assert_eq!(c.prepared.len(), 1);
    }
}
