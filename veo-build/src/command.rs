//! Running a tool, and reporting exactly what ran when it fails.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// A program with its leading arguments, and where its name came from.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    /// The program, as given (a name searched in `PATH`, or a path).
    pub(crate) program: OsString,
    /// Arguments that come with the program (`NCC="ncc -some-flag"`).
    pub(crate) args: Vec<OsString>,
    /// What the tool is for: "the C compiler".
    pub(crate) what: String,
    /// Where the name came from: "NCC", "/opt/nec/ve/bin", "host default".
    pub(crate) origin: String,
    /// What to do when it cannot be started.
    pub(crate) hint: String,
}

impl Tool {
    /// A command line starting with this tool.
    pub(crate) fn cmd(&self) -> Cmd {
        Cmd {
            tool: self.clone(),
            args: self.args.clone(),
        }
    }

    /// The program's file name, for messages: `ncc`, `gfortran`.
    pub(crate) fn name(&self) -> String {
        Path::new(&self.program)
            .file_name()
            .unwrap_or(self.program.as_os_str())
            .to_string_lossy()
            .into_owned()
    }
}

/// One command line.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    tool: Tool,
    args: Vec<OsString>,
}

impl Cmd {
    pub(crate) fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = A>, A: AsRef<OsStr>>(&mut self, it: I) -> &mut Cmd {
        for a in it {
            self.arg(a);
        }
        self
    }

    /// Runs the command; on success returns what it printed (stdout then
    /// stderr), on failure an error with the command line and that output.
    pub(crate) fn run(&self) -> Result<String> {
        let (ok, status, output) = self.run_status()?;
        if ok {
            Ok(output)
        } else {
            Err(Error::CommandFailed {
                command: self.to_string(),
                status,
                output,
            })
        }
    }

    /// Runs the command; returns whether it succeeded, its status and its
    /// output. Only a failure to start it is an error.
    pub(crate) fn run_status(&self) -> Result<(bool, String, String)> {
        let mut c = Command::new(&self.tool.program);
        c.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = c.output().map_err(|source| self.not_found(source))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success(), status_text(&out.status), text))
    }
}

impl Cmd {
    /// Runs the command and returns its standard output alone (standard
    /// error is part of the error when it fails).
    pub(crate) fn run_stdout(&self) -> Result<String> {
        let out = Command::new(&self.tool.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| self.not_found(source))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Err(Error::CommandFailed {
            command: self.to_string(),
            status: status_text(&out.status),
            output: text,
        })
    }

    fn not_found(&self, source: std::io::Error) -> Error {
        Error::ToolNotFound {
            what: self.tool.what.clone(),
            origin: self.tool.origin.clone(),
            command: self.to_string(),
            hint: self.tool.hint.clone(),
            source,
        }
    }
}

fn status_text(status: &std::process::ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => format!("{status}"),
    }
}

impl fmt::Display for Cmd {
    /// The command as a shell would take it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote(&self.tool.program))?;
        for a in &self.args {
            write!(f, " {}", quote(a))?;
        }
        Ok(())
    }
}

/// Shell-quotes one word when it needs it, POSIX style (`'...'`, a quote
/// inside as `'\''`). The line is shown, never run through a shell.
/// Written here rather than with `shlex::try_quote`, which also quotes
/// `=` and `,` (against brace expansion) and so would wrap every
/// `-DNAME=VALUE`, `-march=ve3` and `-Wl,...` of the lines users read.
fn quote(word: &OsStr) -> String {
    let s = word.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=+,:@%^".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(p: &str) -> Tool {
        Tool {
            program: p.into(),
            args: vec![],
            what: "the C compiler".into(),
            origin: "test".into(),
            hint: "install it".into(),
        }
    }

    #[test]
    fn display_quotes_only_what_needs_it() {
        let mut c = tool("cc").cmd();
        c.args(["-O2", "-DX=a b", "it's.c"]);
        assert_eq!(c.to_string(), r"cc -O2 '-DX=a b' 'it'\''s.c'");
    }

    #[test]
    fn failure_carries_command_and_output() {
        let mut c = tool("sh").cmd();
        c.args(["-c", "echo oops >&2; exit 3"]);
        match c.run() {
            Err(Error::CommandFailed {
                command,
                status,
                output,
            }) => {
                assert_eq!(command, "sh -c 'echo oops >&2; exit 3'");
                assert_eq!(status, "exit status 3");
                assert_eq!(output, "oops\n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_program_is_tool_not_found() {
        let e = tool("/nonexistent/ncc").cmd().run().unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::ToolNotFound { .. }), "{text}");
        assert!(
            text.contains("/nonexistent/ncc") && text.contains("install it"),
            "{text}"
        );
    }
}
