//! Why a command line was rejected.
//!
//! [`ParseError`] is a small `Copy` enum whose `Display` texts are the
//! protocol's error messages (protocol.md §3). [`CommandError`] adds what the daemon
//! needs to reproduce the original's order of checks and partial effects:
//! the command kind, the offending item for `unknown flag "X"`-style
//! messages, and the service name and interval validated before the error.

use crate::{CommandKind, Name};
use core::fmt;

/// A syntax error in a command's arguments; `Display` gives the protocol's
/// message text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum ParseError {
    /// `Expected service name`: the name is absent or empty.
    ExpectedServiceName,
    /// `Invalid service name`: the name breaks the rules of protocol.md §3.1.
    InvalidServiceName,
    /// `Expected file descriptor name`: the handle name is absent or empty.
    ExpectedFdName,
    /// `Invalid file descriptor name`: the handle name breaks the rules.
    InvalidFdName,
    /// `File descriptor cannot be altered`: a constant handle was named.
    FdCannotBeAltered,
    /// `Expected integer`: not an optional `-` followed by digits.
    ExpectedInteger,
    /// `Expected signal argument`: the signal is absent or empty.
    ExpectedSignal,
    /// `Invalid signal number`: digits with garbage, or 65536 and above.
    InvalidSignalNumber,
    /// `Invalid signal argument`: an unknown signal name.
    InvalidSignal,
    /// `missing argument`: a required plain argument is absent.
    MissingArgument,
    /// `invalid fd name`: a `service.fds` entry breaks the name rules.
    InvalidFdList,
    /// `invalid interval`: an `auto_up` interval outside 1..=2147483647.
    InvalidInterval,
    /// `unable to set auto_up triggers`: a trigger is not `always` or a
    /// signal name.
    InvalidTriggers,
    /// `invalid timestamp`: not an integer below 2³¹ (or in the past).
    InvalidTimestamp,
    /// `unknown option "X"`: a `service.signal` flag other than `group`.
    UnknownOption,
    /// `missing flags argument`.
    MissingFlags,
    /// `missing path argument`.
    MissingPath,
    /// `unexpected argument after path`.
    UnexpectedArgAfterPath,
    /// `unknown flag "X"`.
    UnknownFlag,
    /// `invalid listen queue length`: `listen=N` outside 1..=65535.
    InvalidListenQueue,
    /// `invalid address`.
    InvalidAddress,
    /// `expected address argument`: `bind` or `listen` without an address.
    ExpectedAddress,
    /// `unexpected argument after address`.
    UnexpectedArgAfterAddress,
    /// `read and write names must differ`: `fd.pipe` with one name twice.
    SamePipeNames,
    /// `Invalid options`: `socket.create` options other than empty or `-`.
    InvalidOptions,
    /// `Failed to create control socket`: an empty path or one of 108
    /// bytes or more.
    ControlSocketPath,
    /// `Invalid loglevel argument`.
    InvalidLogLevel,
    /// `Unknown logging type`: `log.dest` with other than `fd`.
    UnknownLoggingType,
    /// `invalid timeout (must be 0..7FFFFFFF)`.
    InvalidTimeout,
    /// `reset timeout is greater than close timeout`.
    ResetAfterClose,
    /// `expected + or -`.
    ExpectedPlusMinus,
    /// `code cannot be 0`.
    ZeroGuardCode,
    /// `exec arguments exceed buffer size (255)`.
    ExecArgsTooLong,
    /// `command contains a NUL byte`: NUL is not allowed in commands.
    NulByte,
    /// `unexpected argument "X"`: a field after the last argument of a
    /// command that does not ignore extra arguments.
    UnexpectedArgument,
    /// `invalid env entry "X"`: a `service.env` entry that is neither
    /// `VAR=VALUE` nor `-VAR` with a non-empty VAR.
    InvalidEnvEntry,
    /// `invalid uid "X"`: not a decimal number below 4294967295.
    InvalidUid,
    /// `invalid gid "X"`: not a decimal number below 4294967295.
    InvalidGid,
    /// `missing gid argument`: `service.user` with a uid alone.
    MissingGid,
    /// `unknown rlimit resource "X"`.
    UnknownRlimitResource,
    /// `invalid rlimit "X"`: an entry that is not `RESOURCE=SOFT:HARD`
    /// with SOFT and HARD a number or `unlimited`.
    InvalidRlimit,
    /// `rlimit soft above hard for X`: the soft limit exceeds the hard one.
    RlimitSoftAboveHard,
    /// `duplicate rlimit resource "X"`: one resource twice in a command.
    DuplicateRlimit,
    /// `invalid umask "X"`: not octal digits, or above 0777.
    InvalidUmask,
    /// `unknown notify mode "X"`: a `service.notify` mode other than `fd`
    /// or `socket`.
    UnknownNotifyMode,
    /// `invalid notify fd "X"`: not a decimal number from 3 to 1023.
    InvalidNotifyFd,
    /// `expected on or off`.
    ExpectedOnOff,
}

impl ParseError {
    /// The message text, without any quoted item.
    pub fn message(self) -> &'static str {
        use ParseError::*;
        match self {
            ExpectedServiceName => "Expected service name",
            InvalidServiceName => "Invalid service name",
            ExpectedFdName => "Expected file descriptor name",
            InvalidFdName => "Invalid file descriptor name",
            FdCannotBeAltered => "File descriptor cannot be altered",
            ExpectedInteger => "Expected integer",
            ExpectedSignal => "Expected signal argument",
            InvalidSignalNumber => "Invalid signal number",
            InvalidSignal => "Invalid signal argument",
            MissingArgument => "missing argument",
            InvalidFdList => "invalid fd name",
            InvalidInterval => "invalid interval",
            InvalidTriggers => "unable to set auto_up triggers",
            InvalidTimestamp => "invalid timestamp",
            UnknownOption => "unknown option",
            MissingFlags => "missing flags argument",
            MissingPath => "missing path argument",
            UnexpectedArgAfterPath => "unexpected argument after path",
            UnknownFlag => "unknown flag",
            InvalidListenQueue => "invalid listen queue length",
            InvalidAddress => "invalid address",
            ExpectedAddress => "expected address argument",
            UnexpectedArgAfterAddress => "unexpected argument after address",
            SamePipeNames => "read and write names must differ",
            InvalidOptions => "Invalid options",
            ControlSocketPath => "Failed to create control socket",
            InvalidLogLevel => "Invalid loglevel argument",
            UnknownLoggingType => "Unknown logging type",
            InvalidTimeout => "invalid timeout (must be 0..7FFFFFFF)",
            ResetAfterClose => "reset timeout is greater than close timeout",
            ExpectedPlusMinus => "expected + or -",
            ZeroGuardCode => "code cannot be 0",
            ExecArgsTooLong => "exec arguments exceed buffer size (255)",
            NulByte => "command contains a NUL byte",
            UnexpectedArgument => "unexpected argument",
            InvalidEnvEntry => "invalid env entry",
            InvalidUid => "invalid uid",
            InvalidGid => "invalid gid",
            MissingGid => "missing gid argument",
            UnknownRlimitResource => "unknown rlimit resource",
            InvalidRlimit => "invalid rlimit",
            RlimitSoftAboveHard => "rlimit soft above hard for",
            DuplicateRlimit => "duplicate rlimit resource",
            InvalidUmask => "invalid umask",
            UnknownNotifyMode => "unknown notify mode",
            InvalidNotifyFd => "invalid notify fd",
            ExpectedOnOff => "expected on or off",
        }
    }

    /// Whether the message quotes the offending item (`unknown flag "X"`).
    pub fn quotes_item(self) -> bool {
        use ParseError::*;
        matches!(
            self,
            UnknownFlag
                | UnknownOption
                | UnexpectedArgument
                | InvalidEnvEntry
                | InvalidUid
                | InvalidGid
                | UnknownRlimitResource
                | InvalidRlimit
                | DuplicateRlimit
                | InvalidUmask
                | UnknownNotifyMode
                | InvalidNotifyFd
        )
    }

    /// Whether the full message shows the offending item: quoted (see
    /// [`ParseError::quotes_item`]) or as a last word
    /// (`rlimit soft above hard for nofile`).
    pub fn shows_item(self) -> bool {
        self.quotes_item() || self == ParseError::RlimitSoftAboveHard
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ParseError {}

/// A command line that names a known command but whose arguments are wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CommandError<'a> {
    /// Which command it was.
    pub kind: CommandKind,
    /// What was wrong.
    pub error: ParseError,
    /// The offending item for the errors whose message shows it
    /// ([`ParseError::shows_item`]: a flag, an option, an env entry, an id,
    /// an rlimit entry or resource, a mode, an extra argument), and the
    /// `listen=N` flag for [`ParseError::InvalidListenQueue`] (not shown);
    /// empty otherwise.
    pub item: &'a [u8],
    /// For `service.*` commands: the service name, when it was valid. The
    /// daemon checks the service's existence (or auto-creates it) before
    /// reporting later argument errors, as the original does.
    pub service: Option<Name<'a>>,
    /// For `service.auto_up`: a valid interval parsed before the error; the
    /// original stores it even though the command fails.
    pub interval: Option<u32>,
}

impl<'a> CommandError<'a> {
    pub(crate) fn new(kind: CommandKind, error: ParseError) -> Self {
        CommandError { kind, error, item: b"", service: None, interval: None }
    }

    /// Appends the full message (`unknown flag "bogus"` etc.) to `out`.
    pub fn write_message(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.error.message().as_bytes());
        if self.error.quotes_item() {
            out.extend_from_slice(b" \"");
            out.extend_from_slice(self.item);
            out.push(b'"');
        } else if self.error.shows_item() {
            out.push(b' ');
            out.extend_from_slice(self.item);
        }
    }
}

impl fmt::Display for CommandError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::new();
        self.write_message(&mut v);
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

impl std::error::Error for CommandError<'_> {}
