//! Cross-memory attach: copies between this process and another one (or
//! itself) with `process_vm_readv`/`process_vm_writev`, which report an
//! unmapped address as an error instead of faulting.
//!
//! Both sides of the transport use it: the VH runtime to reach the
//! helper's memory directly (`veo-runtime/src/emulated/transfer.rs`), the
//! helper to copy between addresses a kernel may have got wrong
//! (`ve-helper/src/memory.rs`). The system calls are `libc`'s: rustix has
//! no wrapper for them.

use std::fmt;

/// Why a cross-memory copy failed.
#[derive(Debug)]
pub enum PvmError {
    /// The system does not allow cross-memory attach here (`EPERM`,
    /// `EACCES`: a ptrace policy; `ENOSYS`: a kernel without it): the
    /// caller needs another way.
    Unsupported(std::io::Error),
    /// An address is not mapped (or another error of the copy itself), in
    /// words.
    BadAddress(String),
}

impl fmt::Display for PvmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PvmError::Unsupported(e) => write!(f, "cross-memory attach is not allowed: {e}"),
            PvmError::BadAddress(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for PvmError {}

/// Which way bytes move, from this process's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the other process into `local` (`process_vm_readv`).
    Read,
    /// From `local` into the other process (`process_vm_writev`).
    Write,
}

/// Copies `len` bytes between `local` in this process and `remote` in
/// process `pid`, in the given direction, to the end: a partial transfer
/// continues where it stopped, an interrupted one is retried, and an
/// unmapped address on either side is [`PvmError::BadAddress`] (bytes
/// before it may have been copied).
///
/// # Safety
///
/// For [`Direction::Read`], `[local, local + len)` must be memory of this
/// process that may be written (no Rust reference may cover it while it
/// is); for [`Direction::Write`] it is only read. An unmapped `local`
/// address is reported by the kernel, but a mapped one the caller does not
/// own would be overwritten.
pub unsafe fn copy(
    pid: u32,
    direction: Direction,
    local: *mut u8,
    remote: u64,
    len: usize,
) -> Result<(), PvmError> {
    let mut done = 0usize;
    while done < len {
        let l = libc::iovec {
            iov_base: (local as usize).wrapping_add(done) as *mut libc::c_void,
            iov_len: len - done,
        };
        let r = libc::iovec {
            iov_base: remote.wrapping_add(done as u64) as usize as *mut libc::c_void,
            iov_len: len - done,
        };
        match transfer(pid, direction, &[l], &[r]) {
            Ok(0) => return Err(PvmError::BadAddress("not mapped".into())),
            Ok(n) => done += n,
            Err(e) => return Err(classify(e)),
        }
    }
    Ok(())
}

/// Reads `dst.len()` bytes at `remote` in process `pid` into `dst` (see
/// [`copy`]).
pub fn read(pid: u32, dst: &mut [u8], remote: u64) -> Result<(), PvmError> {
    // SAFETY: `dst` is a buffer we borrow mutably for the whole copy.
    unsafe { copy(pid, Direction::Read, dst.as_mut_ptr(), remote, dst.len()) }
}

/// Writes `src` to `remote` in process `pid` (see [`copy`]).
pub fn write(pid: u32, remote: u64, src: &[u8]) -> Result<(), PvmError> {
    // SAFETY: for a write the kernel only reads through the local pointer,
    // and `src` is a live buffer of that length.
    unsafe {
        copy(
            pid,
            Direction::Write,
            src.as_ptr().cast_mut(),
            remote,
            src.len(),
        )
    }
}

/// One `process_vm_readv` of several ranges, retried when a signal
/// interrupts it: how many bytes were copied (the kernel stops at the first
/// unmapped remote range).
///
/// # Safety
///
/// Every `local` range must be memory of this process that may be written
/// (no Rust reference covering it while it is).
pub unsafe fn read_vectored(
    pid: u32,
    local: &[libc::iovec],
    remote: &[libc::iovec],
) -> Result<usize, PvmError> {
    transfer(pid, Direction::Read, local, remote).map_err(classify)
}

/// The system call, retried on `EINTR`.
fn transfer(
    pid: u32,
    direction: Direction,
    local: &[libc::iovec],
    remote: &[libc::iovec],
) -> std::io::Result<usize> {
    // The kernel takes at most IOV_MAX (1024) ranges per side; more is EINVAL.
    let (nl, nr) = (local.len() as libc::c_ulong, remote.len() as libc::c_ulong);
    loop {
        // SAFETY: both iovec arrays are live slices of the given lengths.
        // The remote ranges are checked by the kernel against the other
        // process's mappings; the local ones are the callers' (see `copy`
        // and `read_vectored`), and unmapped ones are EFAULT, not a fault.
        let n = unsafe {
            match direction {
                Direction::Read => libc::process_vm_readv(
                    pid as libc::pid_t,
                    local.as_ptr(),
                    nl,
                    remote.as_ptr(),
                    nr,
                    0,
                ),
                Direction::Write => libc::process_vm_writev(
                    pid as libc::pid_t,
                    local.as_ptr(),
                    nl,
                    remote.as_ptr(),
                    nr,
                    0,
                ),
            }
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn classify(e: std::io::Error) -> PvmError {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES | libc::ENOSYS) => PvmError::Unsupported(e),
        _ => PvmError::BadAddress(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_this_process() {
        let me = std::process::id();
        let src: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut dst = vec![0u8; src.len()];
        read(me, &mut dst, src.as_ptr() as u64).unwrap();
        assert_eq!(dst, src);
        let mut target = vec![0u8; 100];
        write(me, target.as_mut_ptr() as u64, &src[..100]).unwrap();
        assert_eq!(target[..], src[..100]);
    }

    #[test]
    fn an_unmapped_remote_address_is_bad_address() {
        let me = std::process::id();
        let mut dst = [0u8; 16];
        // The first page is never mapped.
        assert!(matches!(
            read(me, &mut dst, 8),
            Err(PvmError::BadAddress(_))
        ));
        assert!(matches!(write(me, 8, &dst), Err(PvmError::BadAddress(_))));
    }

    #[test]
    fn a_copy_running_into_an_unmapped_page_stops_there() {
        let page = rustix::param::page_size();
        // Two pages, the second unmapped: a read across the boundary copies
        // the first page's tail, then fails.
        // SAFETY: a fresh private anonymous mapping, ours alone.
        let base = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                2 * page,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE,
            )
        }
        .unwrap();
        // SAFETY: the second page of our own mapping, which nothing uses.
        unsafe { rustix::mm::munmap(base.cast::<u8>().add(page).cast(), page) }.unwrap();
        // SAFETY: the first page is ours and mapped.
        unsafe { std::ptr::write_bytes(base.cast::<u8>(), 0xab, page) };
        let mut dst = vec![0u8; 64];
        let start = base as u64 + page as u64 - 32;
        assert!(matches!(
            read(std::process::id(), &mut dst, start),
            Err(PvmError::BadAddress(_))
        ));
        assert_eq!(dst[..32], [0xab; 32], "the mapped part was copied");
        // SAFETY: the first page of our mapping, unused from here on.
        unsafe { rustix::mm::munmap(base, page) }.unwrap();
    }

    #[test]
    fn read_vectored_stops_at_the_first_unmapped_range() {
        let src = [7u8; 4];
        let mut sink = [0u8; 2];
        let local = [libc::iovec {
            iov_base: sink.as_mut_ptr().cast(),
            iov_len: 2,
        }];
        let remote = [
            libc::iovec {
                iov_base: src.as_ptr() as *mut libc::c_void,
                iov_len: 1,
            },
            libc::iovec {
                iov_base: 8 as *mut libc::c_void,
                iov_len: 1,
            },
        ];
        // SAFETY: `sink` is ours, not borrowed elsewhere.
        let n = unsafe { read_vectored(std::process::id(), &local, &remote) }.unwrap();
        assert_eq!(n, 1);
        assert_eq!(sink[0], 7);
    }
}
