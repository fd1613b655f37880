//! Calling a kernel whose signature is known only at run time, with libffi.

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

/// Reusable buffers, so that a call allocates nothing once warmed up.
#[derive(Default)]
pub(crate) struct Caller {
    types: Vec<*mut ffi_type>,
    slots: Vec<u64>,
    ptrs: Vec<*mut libc::c_void>,
}

impl Caller {
    /// Calls `call.func` with its arguments; stack arguments point into
    /// `frame`. Returns the raw 64-bit result, widened as C would.
    ///
    /// # Safety
    /// `call.func` must be a function with exactly the described signature
    /// (the VH's declaration vouches for it) and `frame` must hold the image.
    pub(crate) unsafe fn invoke(&mut self, call: &Call, frame: *mut u8) -> Result<u64, String> {
        let n = call.classes.len();
        self.types.clear();
        self.slots.clear();
        self.ptrs.clear();
        for (class, value) in call.classes.iter().zip(&call.values) {
            self.types.push(ffi_type_of(*class));
            let v = match class {
                // SAFETY: decode_call checked the buffer lies in the image.
                ArgClass::Stack => unsafe {
                    frame.add(call.stack[*value as usize].offset as usize) as u64
                },
                // Little-endian: the low bytes of the slot are the narrow value.
                _ => *value,
            };
            self.slots.push(v);
        }
        for slot in self.slots.iter_mut() {
            self.ptrs.push((slot as *mut u64).cast());
        }
        // SAFETY: a zeroed cif is a valid "unprepared" value for ffi_prep_cif.
        let mut cif: ffi_cif = unsafe { std::mem::zeroed() };
        // SAFETY: types has n valid ffi_type pointers that outlive the call.
        unsafe {
            libffi::low::prep_cif(
                &mut cif,
                ffi_abi_FFI_DEFAULT_ABI,
                n,
                ffi_type_of(call.ret),
                self.types.as_mut_ptr(),
            )
        }
        .map_err(|e| format!("libffi cannot describe this call: {e:?}"))?;
        // libffi writes a full register (ffi_arg, 8 bytes) for any integer
        // return, widened by its type; floats use the low bytes.
        let mut ret = 0u64;
        // SAFETY: the function and signature are the caller's contract;
        // every argument pointer points at an 8-byte slot alive for the call.
        unsafe {
            libffi::raw::ffi_call(
                &mut cif,
                Some(std::mem::transmute::<usize, unsafe extern "C" fn()>(
                    call.func as usize,
                )),
                (&mut ret as *mut u64).cast(),
                self.ptrs.as_mut_ptr(),
            );
        }
        Ok(ret)
    }
}
