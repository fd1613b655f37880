//! AVEO's return conventions turned into the runtime's [`Error`]: NULL
//! handles, negative codes, `VEO_REQUEST_ID_INVALID` and the command states
//! of `veo_call_wait_result`, each with what the user can check.
//!
//! The functions that take a handle are `unsafe`: the handle must come from
//! the same [`LibVeo`] and still be alive, as in C.

use super::sys::{
    veo_proc_handle, LibVeo, VEO_COMMAND_ERROR, VEO_COMMAND_EXCEPTION, VEO_COMMAND_OK,
    VEO_COMMAND_UNFINISHED, VEO_REQUEST_ID_INVALID, VEO_SYMNAME_LEN_MAX,
};
use crate::error::{short, shown, Error, Result, NAME_SHOWN};
use std::ffi::{c_int, CString};
use std::path::Path;
use std::ptr::NonNull;
use veo_urpc::elf::{self, Binary, Side};

/// What to check when libveo could not create a VE process on `node`: it
/// returns NULL for a missing node, too few huge pages for its transfer
/// buffers, and a node another job holds.
pub fn proc_create_hint(node: i32) -> String {
    format!(
        "libveo could not create a VE process on VE node {node} (its own reason, if any, is on standard output). Check: \
         that node {node} exists and VEOS serves it (/dev/veslot{node}, `systemctl status ve-os-launcher@{node}`); \
         the huge pages of libveo's transfer buffers (`sysctl vm.nr_hugepages`: each context takes 16 pages of 2 MiB, \
         raise it as root with `sysctl -w vm.nr_hugepages=N`); \
         and whether another job holds the node (`/opt/nec/ve/bin/ps -e` on the node, or ask the batch system for the whole VE)"
    )
}

/// `veo_proc_create(node)`: a VE process running AVEO's default helper
/// (`aveorun`, or `$VEORUN_BIN`).
pub fn proc_create(lib: &LibVeo, node: i32) -> Result<NonNull<veo_proc_handle>> {
    let f = lib.veo_proc_create()?;
    // SAFETY: `struct veo_proc_handle *veo_proc_create(int)` takes any node
    // number and returns NULL on failure.
    let p = unsafe { f(node) };
    NonNull::new(p).ok_or_else(|| Error::Aveo {
        what: format!("veo_proc_create({node})"),
        reason: proc_create_hint(node),
    })
}

/// `veo_proc_create_static(node, helper)`: a VE process running `helper`, a
/// VE program with the kernels linked in (`mk_veorun_static`). A program
/// for the other `side` (a host program for a VE; a VE program for
/// veo-rs's own libveo.so, whose helper is a host program) is refused by
/// name before libveo sees it.
pub fn proc_create_static(
    lib: &LibVeo,
    node: i32,
    helper: &Path,
    side: Side,
) -> Result<NonNull<veo_proc_handle>> {
    let f = lib.veo_proc_create_static()?;
    let what = || format!("veo_proc_create_static({node}, {})", helper.display());
    if let Some(reason) = elf::mismatch(helper, Binary::Helper, side) {
        return Err(Error::Aveo {
            what: what(),
            reason,
        });
    }
    let c = path_cstring(helper)?;
    // SAFETY: the path is NUL-terminated and outlives the call; libveo
    // only reads it (the `char *` is AVEO's spelling of `const char *`).
    let p = unsafe { f(node, c.as_ptr().cast_mut()) };
    NonNull::new(p).ok_or_else(|| Error::Aveo {
        what: what(),
        reason: proc_create_hint(node),
    })
}

/// A return code where 0 is success.
#[inline]
pub fn check(function: &'static str, rc: c_int) -> Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(failed(function, rc))
    }
}

#[cold]
#[inline(never)]
fn failed(function: &'static str, rc: c_int) -> Error {
    Error::Aveo {
        what: function.into(),
        reason: format!("failed with {rc} (libveo's message, if any, is on standard output)"),
    }
}

/// The code of `veo_alloc_mem`: 0, -1 (the VE's allocator failed), -2
/// (internal error).
pub fn alloc_status(rc: c_int, size: usize) -> Result<()> {
    match rc {
        0 => Ok(()),
        -1 => Err(Error::OutOfMemory { size: size as u64 }),
        _ => check("veo_alloc_mem", rc),
    }
}

/// The error of an allocation of `bytes` that libveo's `size_t` cannot
/// hold: an invalid argument, which no memory could satisfy.
pub fn size_error(bytes: u64) -> Error {
    Error::InvalidArgument(format!(
        "an allocation of {bytes} bytes does not fit this host's size_t"
    ))
}

/// `veo_alloc_mem(proc, &addr, size)`.
///
/// # Safety
/// `proc` is a live handle of `lib`.
pub unsafe fn alloc_mem(lib: &LibVeo, proc: NonNull<veo_proc_handle>, size: usize) -> Result<u64> {
    let f = lib.veo_alloc_mem()?;
    let mut addr = 0u64;
    // SAFETY: `proc` is live (the caller's promise); `addr` is a valid
    // `uint64_t *` for the call.
    let rc = unsafe { f(proc.as_ptr(), &mut addr, size) };
    alloc_status(rc, size).map(|()| addr)
}

/// The id an asynchronous submitter returned: `VEO_REQUEST_ID_INVALID` means
/// libveo refused the request.
#[inline]
pub fn request_id(function: &'static str, id: u64) -> Result<u64> {
    if id == VEO_REQUEST_ID_INVALID {
        Err(refused(function))
    } else {
        Ok(id)
    }
}

#[cold]
fn refused(function: &'static str) -> Error {
    Error::Aveo {
        what: function.into(),
        reason: "libveo refused the request (VEO_REQUEST_ID_INVALID): the context is closed, its VE process has exited, or the function address is 0".into(),
    }
}

/// What `veo_call_wait_result`/`veo_call_peek_result` returned, with the
/// result word: the value, `None` while unfinished, or the error.
pub fn command(function: &'static str, state: c_int, result: u64) -> Result<Option<u64>> {
    match state {
        VEO_COMMAND_OK => Ok(Some(result)),
        VEO_COMMAND_UNFINISHED => Ok(None),
        VEO_COMMAND_EXCEPTION => {
            // The result word is the signal that ended the VE process.
            let signal = i32::try_from(result).unwrap_or(0);
            Err(Error::KernelException {
                signal,
                signal_name: crate::life::signal_name(signal),
                addr: 0,
            })
        }
        VEO_COMMAND_ERROR => Err(Error::Aveo {
            what: function.into(),
            reason: "the request failed (VEO_COMMAND_ERROR): it is unknown, its result was taken already, or the VE process exited before it ran".into(),
        }),
        other => Err(Error::Aveo {
            what: function.into(),
            reason: format!("internal error in libveo (returned {other})"),
        }),
    }
}

/// The handle `veo_load_library` returned for `path`: 0 is a failure, whose
/// reason is told when visible (a library built for the other `side`, a
/// name too long for libveo).
pub fn library_handle(path: &str, handle: u64, side: Side) -> Result<u64> {
    if handle != 0 {
        return Ok(handle);
    }
    let message = if path.len() > VEO_SYMNAME_LEN_MAX {
        format!("the path is longer than libveo's limit of {VEO_SYMNAME_LEN_MAX} bytes")
    } else if let Some(m) = elf::mismatch(Path::new(path), Binary::Library, side) {
        m
    } else if path.contains('/') && !Path::new(path).exists() {
        // (A bare name is searched on the VE's library path, not here.)
        "No such file or directory".into()
    } else {
        "veo_load_library returned 0 (the VE loader's message, if any, is on standard output)"
            .into()
    };
    Err(Error::LibraryNotFound {
        path: short(path, NAME_SHOWN),
        message,
    })
}

/// `veo_load_library(proc, path)`.
///
/// # Safety
/// `proc` is a live handle of `lib`.
pub unsafe fn load_library(
    lib: &LibVeo,
    proc: NonNull<veo_proc_handle>,
    path: &str,
) -> Result<u64> {
    let f = lib.veo_load_library()?;
    let c = CString::new(path).map_err(|_| {
        Error::InvalidArgument(format!("library path {} contains a NUL byte", shown(path)))
    })?;
    // SAFETY: `proc` is live (the caller's promise); the path is
    // NUL-terminated and outlives the call.
    let handle = unsafe { f(proc.as_ptr(), c.as_ptr()) };
    library_handle(path, handle, Side::Ve)
}

/// The address `veo_get_sym` returned for `name`: 0 is "not found".
pub fn symbol_address(name: &str, library: &str, addr: u64) -> Result<u64> {
    if addr != 0 {
        Ok(addr)
    } else {
        Err(Error::SymbolNotFound {
            name: short(name, NAME_SHOWN),
            library: short(library, NAME_SHOWN),
            message: "veo_get_sym returned 0".into(),
        })
    }
}

fn path_cstring(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| {
        Error::InvalidArgument(format!(
            "path {} contains a NUL byte",
            shown(&p.display().to_string())
        ))
    })
}
