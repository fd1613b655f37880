//! The one error type of the runtime.

use std::io;

/// Everything that can go wrong when offloading, with what to do about it.
///
/// ```
/// use veo_runtime::{Error, Proc};
///
/// # fn main() -> veo_runtime::Result<()> {
/// let proc = Proc::new(0)?;
/// match proc.load_library("/nonexistent/libkernels.so") {
///     Err(Error::LibraryNotFound { path, message }) => {
///         eprintln!("{path}: {message}"); // the loader's own words
///     }
///     other => panic!("{other:?}"),
/// }
/// // The proc still works after an error.
/// assert_eq!(proc.alloc_from(&[1u8])?.to_vec()?, [1]);
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The helper process (the emulated VE) could not be started.
    #[error("the VE helper failed to start ({helper}): {reason}")]
    HelperStart {
        /// The program that was started as the helper.
        helper: String,
        /// What went wrong.
        reason: String,
    },
    /// The backend needed is not compiled into this build of veo-runtime.
    #[error("the {backend} is not compiled in: this veo-runtime was built without its `{feature}` feature (on by default); enable it to use the {backend}")]
    NotCompiledIn {
        /// The backend: `emulated VE`.
        backend: &'static str,
        /// The cargo feature of veo-runtime that compiles it in.
        feature: &'static str,
    },
    /// The helper speaks another protocol version or layout.
    #[error("the VE helper {helper} speaks protocol {found:#x}, this runtime speaks {expected:#x}; rebuild the helper with this version of veo-runtime")]
    ProtocolMismatch {
        /// The program that was started as the helper.
        helper: String,
        /// The protocol this runtime expects.
        expected: u64,
        /// The protocol the helper announced.
        found: u64,
    },
    /// The helper process is gone; every pending and later request fails with this.
    #[error("the VE helper (pid {pid}) died: {status}")]
    HelperDied {
        /// Process id of the helper.
        pid: u32,
        /// Its exit status or signal, in words.
        status: String,
    },
    /// A kernel raised an exception (a fatal signal) while running this request.
    #[error("kernel raised {signal_name} (signal {signal}) at address {addr:#x}; the VE helper has exited")]
    KernelException {
        /// The signal number.
        signal: i32,
        /// Its name, such as `SIGSEGV`.
        signal_name: &'static str,
        /// The faulting address (`si_addr`), 0 when the signal has none.
        addr: u64,
    },
    /// The library could not be loaded.
    #[error("cannot load library {path}: {message}")]
    LibraryNotFound {
        /// The path given.
        path: String,
        /// The loader's message.
        message: String,
    },
    /// The symbol is not in the library.
    #[error("symbol {name:?} not found in {library}: {message}")]
    SymbolNotFound {
        /// The symbol looked up.
        name: String,
        /// The library searched.
        library: String,
        /// The loader's message.
        message: String,
    },
    /// A VE address that is not mapped, already freed, or a length that overflows.
    #[error("invalid VE address {addr:#x} (length {len}): {reason}")]
    InvalidAddress {
        /// The address.
        addr: u64,
        /// The length of the access.
        len: u64,
        /// Why it is invalid.
        reason: String,
    },
    /// VE memory is exhausted.
    #[error("out of VE memory allocating {size} bytes")]
    OutOfMemory {
        /// The size asked for.
        size: u64,
    },
    /// More arguments than a kernel call can take.
    #[error("too many arguments: {count} given, at most {max} are supported")]
    TooManyArguments {
        /// The number given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The stack image of a call does not fit the context's call frame area.
    #[error("stack arguments too large: {size} bytes, the call frame area holds {max}; pass a VE buffer (VePtr) instead or raise the stack size with Proc::builder().stack_size(..)")]
    StackTooLarge {
        /// Bytes of stack arguments.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A wait with a time limit ran out; the request is still pending.
    #[error("timed out after {0:?}; the request is still pending")]
    Timeout(
        /// The time limit the wait was given.
        std::time::Duration,
    ),
    /// A proc (or what hangs off it) used in a process other than the one
    /// that created it: a `fork()` child's copy, which does nothing on drop.
    #[error("this proc belongs to process {owner}, and process {current} is a fork() child of it: a proc works only in the process that created it; start a new proc here")]
    OtherProcess {
        /// The process that created the proc.
        owner: u32,
        /// The process that tried to use it.
        current: u32,
    },
    /// The proc or context was closed (or dropped) before this use.
    #[error("{0} used after it was closed")]
    Closed(
        /// Which was closed.
        Closable,
    ),
    /// A proc has [`MAX_CONTEXTS`](crate::MAX_CONTEXTS) contexts open
    /// already.
    #[error("too many contexts: a proc has at most {max} open at once; close one first")]
    TooManyContexts {
        /// The limit.
        max: usize,
    },
    /// The library of this function or symbol was unloaded
    /// ([`Library::unload`](crate::Library::unload)).
    #[error("library {path} was unloaded: load it again and look its functions up anew")]
    LibraryUnloaded {
        /// The library's path (shortened when long).
        path: String,
    },
    /// A function looked up on one proc, called on another: its address
    /// means nothing there.
    #[error("function {function} belongs to another proc: look it up in a library of this one")]
    WrongProc {
        /// The function's name (shortened when long).
        function: String,
    },
    /// A wait for a request id that its context never handed out.
    #[error("request {id} of context {context} was never submitted")]
    NotSubmitted {
        /// The context's index (0: the proc's own queue).
        context: usize,
        /// The request id.
        id: u64,
    },
    /// A name or path with a NUL byte, or another argument the VE cannot take.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The result of this request was already taken by `peek`.
    #[error("the result of this request was already taken")]
    AlreadyTaken,
    /// The helper reported an error of its own.
    #[error("VE helper error: {0}")]
    Helper(String),
    /// NEC's AVEO library (`libveo.so.1`) cannot be used, or one of its
    /// calls failed; the reason says what to check.
    #[error("{what}: {reason}")]
    Aveo {
        /// The library or the call: `veo_proc_create(0)`.
        what: String,
        /// Why, and what to check.
        reason: String,
    },
    /// The loaded AVEO library predates a function this needs.
    #[error("{function} is not supported by the AVEO library {library} (API {api}): it is part of AVEO API {since} and later; install a newer AVEO")]
    Unsupported {
        /// The C function.
        function: &'static str,
        /// The first AVEO API version that has it.
        since: u32,
        /// The path of the library loaded.
        library: String,
        /// The library's `veo_api_version()`.
        api: u32,
    },
    /// An operating system call failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The system's error.
        #[source]
        source: io::Error,
    },
}

/// What [`Error::Closed`] says was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Closable {
    /// The proc: closed with [`Proc::close`](crate::Proc::close), or
    /// dropped while something of it (a library, a context) was kept.
    Proc,
    /// The context: closed with [`Context::close`](crate::Context::close),
    /// or its proc was.
    Context,
}

impl std::fmt::Display for Closable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Closable::Proc => "proc",
            Closable::Context => "context",
        })
    }
}

/// `Result` with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `text` for an error message, quoted: whole when short, else its start
/// and its length, so that a message never echoes a huge name back whole.
pub(crate) fn shown(text: &str) -> String {
    if text.len() <= SHOWN {
        return format!("{text:?}");
    }
    format!("{:?}... ({} bytes)", head(text, SHOWN), text.len())
}

/// `text` for a field of an error (a name, a path, a loader's message): whole
/// when short, else its start, "...", and its length.
pub(crate) fn short(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    format!("{}... ({} bytes)", head(text, max), text.len())
}

const SHOWN: usize = 200;

/// How much of a name or a path the fields of an error show ([`short`]).
pub(crate) const NAME_SHOWN: usize = SHOWN;

/// How much of a loader's message the fields of an error show ([`short`]).
pub(crate) const MESSAGE_SHOWN: usize = 1024;

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn head(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Error {
    pub(crate) fn io(context: &'static str, source: impl Into<io::Error>) -> Self {
        Error::Io {
            context,
            source: source.into(),
        }
    }
}
