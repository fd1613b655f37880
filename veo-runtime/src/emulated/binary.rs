//! Helper programs built for another machine are refused by name, before
//! they are started: a VE program (AVEO's `aveorun`, a `mk_veorun_static`
//! helper) given to the emulated VE would otherwise fail with "Exec format
//! error", or start under a VE host's binfmt handler and never answer; a
//! host program whose dynamic loader is missing would fail with "No such
//! file or directory".

use crate::error::{Error, Result};
use std::path::Path;
use veo_urpc::elf::{self, Binary, Side};

/// Refuses a helper program the emulated VE cannot run, naming what it is
/// and what to do. A path that cannot be read is left to the start itself.
pub(crate) fn check_helper(path: &Path) -> Result<()> {
    match elf::mismatch(path, Binary::Helper, Side::Emulated) {
        None => Ok(()),
        Some(reason) => Err(Error::HelperStart {
            helper: path.display().to_string(),
            reason,
        }),
    }
}
