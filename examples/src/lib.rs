//! What the example programs share.

use std::process::ExitCode;

pub mod bench;

/// The exit status of an example: success only when every check passed;
/// an error or a failed check is reported on stderr under the example's name.
pub fn exit_code<E: std::fmt::Display>(example: &str, outcome: Result<bool, E>) -> ExitCode {
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("{example}: a check failed");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{example}: {e}");
            ExitCode::FAILURE
        }
    }
}
