//! The library's error type, and how a run ends.

use std::fmt;
use std::io;

/// What went wrong, broadly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Another [`crate::Reactor`] exists in this process. Signal handling
    /// and child reaping (`waitpid(-1)`) are process-wide, so two reactors
    /// would steal each other's signals and children; drop the first one
    /// before creating another.
    ReactorExists,
    /// Setting the daemon up failed (descriptors, epoll, signal handlers,
    /// the handle pool).
    Setup,
    /// A front-end could not be added (a config file that cannot be
    /// opened, stdin that is not available, a control socket that cannot
    /// be created).
    FrontEnd,
    /// A descriptor given by the embedding program could not be
    /// registered or deregistered.
    Registration,
}

/// An error of the library's API.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    status: i32,
    message: String,
    source: Option<io::Error>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, status: i32, message: impl Into<String>) -> Error {
        Error { kind, status, message: message.into(), source: None }
    }

    pub(crate) fn io(kind: ErrorKind, status: i32, message: impl Into<String>, source: io::Error) -> Error {
        Error { kind, status, message: message.into(), source: Some(source) }
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The exit status the original daemon uses for this failure (2: the
    /// handle pool is too small, 3: an unusable environment, 4: epoll, 5:
    /// signal handling), for a program that exits because of it.
    pub fn exit_status(&self) -> i32 {
        self.status
    }

    /// The message, as the daemon logs it (`fatal: MESSAGE`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Why the daemon stops, as decided by a command or an event. The library
/// never exits the process: the program that runs it decides what to do
/// (the `daemonproxy` binary runs exec-on-exit, honours the terminate
/// guard and exits).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Normal termination: `terminate CODE`, or the end of the interactive
    /// session (code 0). The process exit status is the low 8 bits of
    /// `code`; exec-on-exit sees `code` unreduced.
    Exit {
        /// The code given to `terminate`.
        code: i64,
    },
    /// A fatal condition (a fatal signal, a broken event loop): the exit
    /// status and the message logged as `fatal: MESSAGE`.
    Fatal {
        /// Exit status.
        status: i32,
        /// What happened.
        message: String,
    },
}

impl Outcome {
    /// The process exit status for this outcome.
    pub fn exit_status(&self) -> i32 {
        match self {
            Outcome::Exit { code } => (code & 0xff) as i32,
            Outcome::Fatal { status, .. } => *status,
        }
    }

    /// The value exec-on-exit passes as `DAEMONPROXY_EXITCODE`.
    pub fn exit_code(&self) -> i64 {
        match self {
            Outcome::Exit { code } => *code,
            Outcome::Fatal { status, .. } => i64::from(*status),
        }
    }

    /// The message exec-on-exit passes as `DAEMONPROXY_ERROR`.
    pub fn message(&self) -> &str {
        match self {
            Outcome::Exit { .. } => "terminated normally",
            Outcome::Fatal { message, .. } => message,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exit { code } => write!(f, "terminated normally with code {code}"),
            Outcome::Fatal { status, message } => write!(f, "{message} (exit status {status})"),
        }
    }
}

impl std::error::Error for Outcome {}
