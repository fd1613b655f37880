//! Proc init hooks (py-veo's `set_proc_init_hook`): code that runs for every
//! new proc, such as registering the kernels of a library.

use crate::error::Result;
use crate::proc::Proc;
use std::sync::{Arc, Mutex};

type Hook = Arc<dyn Fn(&Proc) -> Result<()> + Send + Sync>;

static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Registers `hook` to run at the end of every later [`Proc`] creation, in
/// registration order. An error from a hook fails the creation.
pub fn set_proc_init_hook(hook: impl Fn(&Proc) -> Result<()> + Send + Sync + 'static) {
    HOOKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::new(hook));
}

pub(crate) fn run(proc: &Proc) -> Result<()> {
    let hooks: Vec<Hook> = HOOKS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for hook in hooks {
        hook(proc)?;
    }
    Ok(())
}
