//! Commands (protocol.md §3): the lines a controller sends to daemonproxy.
//!
//! [`Command::parse`] validates every argument that can be checked without
//! the daemon's state and borrows from the line; [`Command::encode`] writes
//! the canonical line back. Checks that need state (does the service
//! exist? is the timestamp in the past?) are the daemon's, which is why a
//! [`CommandError`] carries the service name validated before the error.

use crate::addr::SocketAddr;
use crate::fields::{list_items, parse_int, push_i64, push_u64, split_name, Fields};
use crate::flags::{OpenFlags, PipeFlags, SocketFlags};
use crate::{CommandError, EnvList, Event, LogLevel, Name, NotifyMode, ParseError, Rlimits, Signal, Umask, UserIds};

/// Longest `terminate.exec_args` / `--exit-exec` argument string, in bytes.
pub const MAX_EXEC_ARGS: usize = 255;

/// Largest `conn.event_timeout` value, in seconds.
pub const MAX_TIMEOUT: u32 = 0x7FFF_FFFF;

/// Largest `service.auto_up` interval, in seconds.
pub const MAX_INTERVAL: u32 = 0x7FFF_FFFF;

macro_rules! kinds {
    ($($variant:ident => $name:literal,)*) => {
        /// The name of a known command, without its arguments.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        pub enum CommandKind {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl CommandKind {
            /// Every command: those of protocol.md §3 in its order, then
            /// the extensions (process settings, readiness,
            /// `conn.extended`, `reexec`).
            pub const ALL: &'static [CommandKind] = &[$(CommandKind::$variant,)*];

            /// The command's name on the wire.
            pub fn name(self) -> &'static str {
                match self {
                    $(CommandKind::$variant => $name,)*
                }
            }

            /// Looks up an exact, case-sensitive command name.
            pub fn from_name(name: &[u8]) -> Option<CommandKind> {
                match name {
                    $(n if n == $name.as_bytes() => Some(CommandKind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

kinds! {
    Echo => "echo",
    Statedump => "statedump",
    Exit => "exit",
    ServiceArgs => "service.args",
    ServiceTags => "service.tags",
    ServiceFds => "service.fds",
    ServiceAutoUp => "service.auto_up",
    ServiceStart => "service.start",
    ServiceSignal => "service.signal",
    ServiceDelete => "service.delete",
    FdOpen => "fd.open",
    FdPipe => "fd.pipe",
    FdSocket => "fd.socket",
    FdTake => "fd.take",
    FdDelete => "fd.delete",
    SocketCreate => "socket.create",
    SocketDelete => "socket.delete",
    Chdir => "chdir",
    LogFilter => "log.filter",
    LogDest => "log.dest",
    ConnEventTimeout => "conn.event_timeout",
    SignalClear => "signal.clear",
    Terminate => "terminate",
    TerminateGuard => "terminate.guard",
    TerminateExecArgs => "terminate.exec_args",
    ServiceEnv => "service.env",
    ServiceCwd => "service.cwd",
    ServiceUser => "service.user",
    ServiceRlimit => "service.rlimit",
    ServiceUmask => "service.umask",
    ServiceNotify => "service.notify",
    ServiceListenFds => "service.listen_fds",
    ConnExtended => "conn.extended",
    Reexec => "reexec",
}

impl CommandKind {
    /// Whether the command creates its service when it does not exist,
    /// before checking its other arguments: the commands that set a
    /// service setting (`service.args`, `.tags`, `.fds`, `.auto_up`, and
    /// likewise `.env`, `.cwd`, `.user`, `.rlimit`, `.umask`, `.notify`,
    /// `.listen_fds`), so that a controller can configure a service in any
    /// order before its first start.
    pub fn auto_creates_service(self) -> bool {
        use CommandKind::*;
        matches!(
            self,
            ServiceArgs
                | ServiceTags
                | ServiceFds
                | ServiceAutoUp
                | ServiceEnv
                | ServiceCwd
                | ServiceUser
                | ServiceRlimit
                | ServiceUmask
                | ServiceNotify
                | ServiceListenFds
        )
    }

    /// The command whose name is closest to `name` (at most two edits
    /// away), for "did you mean ...?" after an unknown command.
    ///
    /// ```
    /// use daemonproxy_proto::CommandKind;
    /// assert_eq!(CommandKind::closest(b"servce.args"), Some(CommandKind::ServiceArgs));
    /// assert_eq!(CommandKind::closest(b"statedumb"), Some(CommandKind::Statedump));
    /// assert_eq!(CommandKind::closest(b"frobnicate"), None);
    /// ```
    pub fn closest(name: &[u8]) -> Option<CommandKind> {
        if name.len() > 64 {
            return None;
        }
        CommandKind::ALL
            .iter()
            .map(|&k| (edit_distance(name, k.name().as_bytes()), k))
            .filter(|&(d, _)| d <= 2)
            .min_by_key(|&(d, _)| d)
            .map(|(_, k)| k)
    }
}

/// Levenshtein distance between two short byte strings (`b` at most 63
/// bytes: command names).
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut row = [0usize; 64];
    let b = &b[..b.len().min(63)];
    for (j, r) in row.iter_mut().enumerate().take(b.len() + 1) {
        *r = j;
    }
    for (i, &x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// The four constant handles, which cannot be replaced or deleted (protocol.md §1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Special {
    /// `null`: /dev/null, read/write.
    Null,
    /// `control.cmd`: the service writes commands.
    ControlCmd,
    /// `control.event`: the service reads events.
    ControlEvent,
    /// `control.socket`: both directions.
    ControlSocket,
}

impl Special {
    /// All constant handles, in name order.
    pub const ALL: [Special; 4] = [Special::ControlCmd, Special::ControlEvent, Special::ControlSocket, Special::Null];

    /// The handle's name.
    pub fn name(self) -> &'static str {
        match self {
            Special::Null => "null",
            Special::ControlCmd => "control.cmd",
            Special::ControlEvent => "control.event",
            Special::ControlSocket => "control.socket",
        }
    }

    /// The constant handle with this name, if any.
    pub fn from_name(name: &[u8]) -> Option<Special> {
        Special::ALL.into_iter().find(|s| s.name().as_bytes() == name)
    }

    /// Its `fd.state` flags.
    pub fn flags(self) -> &'static str {
        match self {
            Special::Null | Special::ControlSocket => "read,write",
            Special::ControlCmd => "write",
            Special::ControlEvent => "read",
        }
    }

    /// Its `fd.state` description.
    pub fn description(self) -> &'static str {
        match self {
            Special::Null => "/dev/null",
            Special::ControlCmd => "daemonproxy command pipe",
            Special::ControlEvent => "daemonproxy event stream",
            Special::ControlSocket => "daemonproxy control socket",
        }
    }
}

/// A `service.fds` list, as stored: the raw TAB-separated entries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FdList<'a>(&'a [u8]);

/// One entry of a [`FdList`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FdEntry<'a> {
    /// `-` or an empty entry: the descriptor stays closed.
    Closed,
    /// The handle of this name.
    Handle(Name<'a>),
}

impl<'a> FdList<'a> {
    /// The default list, `null\tnull\tnull`.
    pub const DEFAULT: FdList<'static> = FdList(b"null\tnull\tnull");

    /// Checks a raw list: every entry is a valid name or empty.
    pub fn new(raw: &'a [u8]) -> Option<FdList<'a>> {
        let l = FdList(raw);
        l.raw_entries().all(crate::name::is_name_or_empty).then_some(l)
    }

    /// The list as stored and printed.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// Whether this is the default `null\tnull\tnull`.
    pub fn is_default(&self) -> bool {
        self.0 == FdList::DEFAULT.0
    }

    /// The raw entries (none for an empty list).
    pub fn raw_entries(&self) -> impl Iterator<Item = &'a [u8]> {
        list_items(self.0)
    }

    /// The entries: entry i becomes descriptor i of the service. An empty
    /// entry counts as closed (the original skipped it, shifting the rest).
    pub fn entries(&self) -> impl Iterator<Item = FdEntry<'a>> {
        self.raw_entries().map(|e| match e {
            b"-" => FdEntry::Closed,
            e => Name::new(e).map_or(FdEntry::Closed, FdEntry::Handle),
        })
    }
}

/// An `auto_up` trigger.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Trigger {
    /// `always`: restart whenever the service exits.
    Always,
    /// Start when this signal arrives, and restart while its count is
    /// nonzero.
    Signal(Signal),
}

/// A `service.auto_up` trigger list, as stored: the raw text after the
/// interval.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Triggers<'a>(&'a [u8]);

impl<'a> Triggers<'a> {
    /// No triggers.
    pub const NONE: Triggers<'static> = Triggers(b"");

    /// Checks a raw list: every non-empty field is `always` or a signal
    /// name (numbers are not accepted).
    pub fn new(raw: &'a [u8]) -> Option<Triggers<'a>> {
        raw.split(|&b| b == b'\t')
            .filter(|f| !f.is_empty())
            .all(|f| f == b"always" || Signal::from_name(f).is_some())
            .then_some(Triggers(raw))
    }

    /// The list as stored and printed.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// Whether the stored text is empty (auto-up disabled).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The triggers; empty fields are skipped.
    pub fn iter(&self) -> impl Iterator<Item = Trigger> + 'a {
        self.0.split(|&b| b == b'\t').filter_map(|f| match f {
            b"" => None,
            b"always" => Some(Trigger::Always),
            f => Signal::from_name(f).map(Trigger::Signal),
        })
    }
}

/// When `service.start` should start the service.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum StartWhen {
    /// No second argument: now.
    Now,
    /// At this second of CLOCK_MONOTONIC (below 2³¹; the daemon rejects
    /// seconds that are not in the future).
    At(u32),
    /// `-`: cancel a pending start.
    Cancel,
}

/// The argument of `log.filter`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LogFilterArg {
    /// `+`: suppress one more level.
    Raise,
    /// `-`: show one more level.
    Lower,
    /// A level name.
    Set(LogLevel),
}

/// A parsed command line. Borrowed fields are slices of the line.
///
/// ```
/// use daemonproxy_proto::{Command, StartWhen};
/// let cmd = Command::parse(b"service.start\tweb").unwrap();
/// assert!(matches!(cmd, Command::ServiceStart { when: StartWhen::Now, .. }));
/// let mut line = Vec::new();
/// cmd.encode(&mut line);
/// assert_eq!(line, b"service.start\tweb\n");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Command<'a> {
    /// `echo [ANY...]`: send the text back (nothing when empty).
    Echo {
        /// Everything after the first TAB, verbatim.
        text: &'a [u8],
    },
    /// `statedump`: re-emit the whole state to the issuer.
    Statedump,
    /// `exit`: close the issuing controller.
    Exit,
    /// `service.args NAME [ARG...]`: set the argument list.
    ServiceArgs {
        /// The service.
        name: Name<'a>,
        /// The TAB-separated arguments, verbatim (empty clears).
        args: &'a [u8],
    },
    /// `service.tags NAME [TAG...]`: set free-form tags.
    ServiceTags {
        /// The service.
        name: Name<'a>,
        /// The TAB-separated tags, verbatim (empty clears).
        tags: &'a [u8],
    },
    /// `service.fds NAME [HANDLE...]`: set the descriptor list.
    ServiceFds {
        /// The service.
        name: Name<'a>,
        /// The list (empty: no descriptors at all).
        fds: FdList<'a>,
    },
    /// `service.auto_up NAME INTERVAL [TRIGGER...]`.
    ServiceAutoUp {
        /// The service.
        name: Name<'a>,
        /// The restart interval in seconds, `None` for `-` (keep).
        interval: Option<u32>,
        /// The triggers (empty disables).
        triggers: Triggers<'a>,
    },
    /// `service.start NAME [TIMESTAMP | -]`.
    ServiceStart {
        /// The service.
        name: Name<'a>,
        /// Now, later, or cancel.
        when: StartWhen,
    },
    /// `service.signal NAME SIGNAL [group]`.
    ServiceSignal {
        /// The service.
        name: Name<'a>,
        /// The signal.
        signal: Signal,
        /// Signal the process group (`killpg`).
        group: bool,
    },
    /// `service.delete NAME`.
    ServiceDelete {
        /// The service.
        name: Name<'a>,
    },
    /// `fd.open NAME FLAGS PATH`.
    FdOpen {
        /// The handle (never a constant).
        name: Name<'a>,
        /// Open flags.
        flags: OpenFlags,
        /// The path, verbatim.
        path: &'a [u8],
    },
    /// `fd.pipe READ_NAME WRITE_NAME [FLAGS]`.
    FdPipe {
        /// The read end (never a constant).
        read: Name<'a>,
        /// The write end (never a constant, never equal to `read`).
        write: Name<'a>,
        /// Pipe or socketpair flags.
        flags: PipeFlags,
    },
    /// `fd.socket NAME FLAGS [ADDRESS]`.
    FdSocket {
        /// The handle (never a constant).
        name: Name<'a>,
        /// Socket flags (`bind` is set when an address is given).
        flags: SocketFlags,
        /// The address to bind to.
        addr: Option<SocketAddr<'a>>,
    },
    /// `fd.take NAME`: store a descriptor received with SCM_RIGHTS.
    FdTake {
        /// The handle (never a constant).
        name: Name<'a>,
    },
    /// `fd.delete NAME`.
    FdDelete {
        /// The handle (never a constant).
        name: Name<'a>,
    },
    /// `socket.create OPTIONS PATH`: (re)create the control socket.
    SocketCreate {
        /// The socket path (1..=107 bytes).
        path: &'a [u8],
    },
    /// `socket.delete`: close and unlink the control socket.
    SocketDelete,
    /// `chdir PATH`.
    Chdir {
        /// The directory, verbatim (may be empty, which fails).
        path: &'a [u8],
    },
    /// `log.filter [LEVEL | + | -]`.
    LogFilter {
        /// `None` queries the current filter.
        arg: Option<LogFilterArg>,
    },
    /// `log.dest fd NAME`.
    LogDest {
        /// The handle to log to (constants allowed).
        name: Name<'a>,
    },
    /// `conn.event_timeout RESET CLOSE`.
    ConnEventTimeout {
        /// Seconds blocked before the reset action.
        reset: u32,
        /// Seconds blocked before the connection is closed.
        close: u32,
    },
    /// `signal.clear SIGNAL COUNT`.
    SignalClear {
        /// The signal.
        signal: Signal,
        /// How many receptions to clear (negative counts are rejected).
        count: u64,
    },
    /// `terminate EXITCODE [GUARDCODE]`.
    Terminate {
        /// The exit status (taken mod 256 at exit).
        code: i64,
        /// The guard code, when given as an integer.
        guard: Option<i64>,
    },
    /// `terminate.guard + CODE` / `terminate.guard - CODE`.
    TerminateGuard {
        /// `+` sets, `-` clears.
        set: bool,
        /// The guard code (never 0).
        code: i64,
    },
    /// `terminate.exec_args [ARG...]`.
    TerminateExecArgs {
        /// The TAB-separated arguments (at most 255 bytes; empty disables).
        args: &'a [u8],
    },
    /// `service.env NAME [VAR=VALUE | -VAR]...`: changes to the inherited
    /// environment.
    ServiceEnv {
        /// The service.
        name: Name<'a>,
        /// The entries (empty clears).
        env: EnvList<'a>,
    },
    /// `service.cwd NAME [PATH]`: the child's working directory.
    ServiceCwd {
        /// The service.
        name: Name<'a>,
        /// The directory, verbatim and never empty; `None` clears (the
        /// child inherits the daemon's).
        path: Option<&'a [u8]>,
    },
    /// `service.user NAME [UID GID [GID]...]`: the child's credentials.
    ServiceUser {
        /// The service.
        name: Name<'a>,
        /// The ids; `None` clears (the child keeps the daemon's).
        user: Option<UserIds<'a>>,
    },
    /// `service.rlimit NAME [RESOURCE=SOFT:HARD]...`: the child's limits.
    ServiceRlimit {
        /// The service.
        name: Name<'a>,
        /// The limits (empty clears).
        limits: Rlimits<'a>,
    },
    /// `service.umask NAME [MODE]`: the child's umask.
    ServiceUmask {
        /// The service.
        name: Name<'a>,
        /// The mode; `None` clears (the child inherits the daemon's).
        umask: Option<Umask>,
    },
    /// `service.notify NAME [fd N | socket]`: how the service reports
    /// readiness.
    ServiceNotify {
        /// The service.
        name: Name<'a>,
        /// The mode; `None` turns readiness reporting off.
        mode: Option<NotifyMode>,
    },
    /// `service.listen_fds NAME on|off`: systemd socket activation.
    ServiceListenFds {
        /// The service.
        name: Name<'a>,
        /// Whether the child gets `LISTEN_FDS`, `LISTEN_PID` and
        /// `LISTEN_FDNAMES`.
        on: bool,
    },
    /// `conn.extended on|off`: the issuing connection's extended events
    /// (`service.rusage`, `orphan.exit`).
    ConnExtended {
        /// On or off.
        on: bool,
    },
    /// `reexec [PATH [ARG...]]`: re-execute the daemon in place.
    Reexec {
        /// The TAB-separated program and arguments, verbatim; empty for the
        /// running binary with its original arguments.
        args: &'a [u8],
    },
    /// Any other first field: answered with `error\tUnknown command: NAME`.
    Unknown {
        /// The first field, exactly as received.
        name: &'a [u8],
    },
}

/// Parses a service name argument.
fn service_name<'a>(kind: CommandKind, f: &mut Fields<'a>) -> Result<Name<'a>, CommandError<'a>> {
    match f.next_field() {
        None | Some(b"") => Err(CommandError::new(kind, ParseError::ExpectedServiceName)),
        Some(b) => Name::new(b).ok_or(CommandError::new(kind, ParseError::InvalidServiceName)),
    }
}

/// Parses a handle name argument; `mutable` refuses the constant handles.
fn fd_name<'a>(kind: CommandKind, f: &mut Fields<'a>, mutable: bool) -> Result<Name<'a>, CommandError<'a>> {
    let e = |error| CommandError::new(kind, error);
    let name = match f.next_field() {
        None | Some(b"") => return Err(e(ParseError::ExpectedFdName)),
        Some(b) => Name::new(b).ok_or(e(ParseError::InvalidFdName))?,
    };
    if mutable && Special::from_name(name.as_bytes()).is_some() {
        return Err(e(ParseError::FdCannotBeAltered));
    }
    Ok(name)
}

fn int(field: Option<&[u8]>) -> Result<i64, ParseError> {
    field.and_then(parse_int).ok_or(ParseError::ExpectedInteger)
}

/// Reads `on` or `off`, the last field of its line.
pub(crate) fn on_off<'a>(f: &mut Fields<'a>) -> Result<bool, (ParseError, &'a [u8])> {
    let on = match f.next_field() {
        Some(b"on") => true,
        Some(b"off") => false,
        _ => return Err((ParseError::ExpectedOnOff, b"")),
    };
    no_more(f)?;
    Ok(on)
}

/// Refuses a field after a command's last argument.
fn no_more<'a>(f: &mut Fields<'a>) -> Result<(), (ParseError, &'a [u8])> {
    match f.next_field() {
        None => Ok(()),
        Some(extra) => Err((ParseError::UnexpectedArgument, extra)),
    }
}

fn timeout(v: i64) -> Result<u32, ParseError> {
    u32::try_from(v).ok().filter(|&v| v <= MAX_TIMEOUT).ok_or(ParseError::InvalidTimeout)
}

/// The word for a switch.
pub(crate) fn on_off_word(on: bool) -> &'static [u8] {
    if on {
        b"on"
    } else {
        b"off"
    }
}

impl<'a> Command<'a> {
    /// Parses one line (without its LF).
    ///
    /// Comment and blank lines (see [`crate::is_ignored`]) should be
    /// filtered out first; here they are simply unknown commands. A line
    /// that names a known command and contains a NUL byte is rejected.
    pub fn parse(line: &'a [u8]) -> Result<Command<'a>, CommandError<'a>> {
        let (name, mut f) = split_name(line);
        let Some(kind) = CommandKind::from_name(name) else {
            return Ok(Command::Unknown { name });
        };
        if line.contains(&0) {
            return Err(CommandError::new(kind, ParseError::NulByte));
        }
        let e = |error| CommandError::new(kind, error);
        let rest_or_empty = |f: &Fields<'a>| f.rest().unwrap_or(b"");
        Ok(match kind {
            CommandKind::Echo => Command::Echo { text: rest_or_empty(&f) },
            CommandKind::Statedump => Command::Statedump,
            CommandKind::Exit => Command::Exit,
            CommandKind::SocketDelete => Command::SocketDelete,
            CommandKind::ServiceArgs => {
                let name = service_name(kind, &mut f)?;
                Command::ServiceArgs { name, args: rest_or_empty(&f) }
            }
            CommandKind::ServiceTags => {
                let name = service_name(kind, &mut f)?;
                Command::ServiceTags { name, tags: rest_or_empty(&f) }
            }
            CommandKind::ServiceFds => {
                let name = service_name(kind, &mut f)?;
                let fds = FdList::new(rest_or_empty(&f))
                    .ok_or(CommandError { service: Some(name), ..e(ParseError::InvalidFdList) })?;
                Command::ServiceFds { name, fds }
            }
            CommandKind::ServiceAutoUp => {
                let name = service_name(kind, &mut f)?;
                let with = |error, interval| CommandError { service: Some(name), interval, ..e(error) };
                let interval = match f.next_field() {
                    Some(b"-") => None,
                    field => {
                        let v = int(field).map_err(|err| with(err, None))?;
                        let ok = u32::try_from(v).ok().filter(|v| (1..=MAX_INTERVAL).contains(v));
                        Some(ok.ok_or(with(ParseError::InvalidInterval, None))?)
                    }
                };
                let triggers = Triggers::new(rest_or_empty(&f)).ok_or(with(ParseError::InvalidTriggers, interval))?;
                Command::ServiceAutoUp { name, interval, triggers }
            }
            CommandKind::ServiceStart => {
                let name = service_name(kind, &mut f)?;
                let when = match f.next_field() {
                    None => StartWhen::Now,
                    Some(b"-") => StartWhen::Cancel,
                    Some(ts) => StartWhen::At(
                        parse_int(ts)
                            .and_then(|v| u32::try_from(v).ok())
                            .filter(|&v| v <= i32::MAX as u32)
                            .ok_or(CommandError { service: Some(name), ..e(ParseError::InvalidTimestamp) })?,
                    ),
                };
                Command::ServiceStart { name, when }
            }
            CommandKind::ServiceSignal => {
                let name = service_name(kind, &mut f)?;
                let with = |error| CommandError { service: Some(name), ..e(error) };
                let signal = Signal::parse_arg(f.next_field()).map_err(with)?;
                let group = match f.next_field() {
                    None => false,
                    Some(flags) => {
                        for item in flags.split(|&b| b == b',') {
                            if item != b"group" {
                                return Err(CommandError { item, ..with(ParseError::UnknownOption) });
                            }
                        }
                        true
                    }
                };
                Command::ServiceSignal { name, signal, group }
            }
            CommandKind::ServiceDelete => Command::ServiceDelete { name: service_name(kind, &mut f)? },
            CommandKind::FdOpen => {
                let name = fd_name(kind, &mut f, true)?;
                let flags = f.next_field().ok_or(e(ParseError::MissingFlags))?;
                let path = f.next_field().ok_or(e(ParseError::MissingPath))?;
                if f.has_more() {
                    return Err(e(ParseError::UnexpectedArgAfterPath));
                }
                let flags =
                    OpenFlags::parse(flags).map_err(|item| CommandError { item, ..e(ParseError::UnknownFlag) })?;
                Command::FdOpen { name, flags, path }
            }
            CommandKind::FdPipe => {
                let read = fd_name(kind, &mut f, true)?;
                let write = fd_name(kind, &mut f, true)?;
                if read == write {
                    return Err(e(ParseError::SamePipeNames));
                }
                let flags = PipeFlags::parse(f.next_field().unwrap_or(b""))
                    .map_err(|item| CommandError { item, ..e(ParseError::UnknownFlag) })?;
                Command::FdPipe { read, write, flags }
            }
            CommandKind::FdSocket => {
                let name = fd_name(kind, &mut f, true)?;
                let flags = f.next_field().ok_or(e(ParseError::MissingFlags))?;
                let mut flags = SocketFlags::parse(flags).map_err(|(error, item)| CommandError { item, ..e(error) })?;
                let addr = match f.next_field() {
                    Some(text) => Some(SocketAddr::parse(flags.domain, text).map_err(e)?),
                    None if flags.bind => return Err(e(ParseError::ExpectedAddress)),
                    None => None,
                };
                if f.has_more() {
                    return Err(e(ParseError::UnexpectedArgAfterAddress));
                }
                flags.bind |= addr.is_some();
                Command::FdSocket { name, flags, addr }
            }
            CommandKind::FdTake => Command::FdTake { name: fd_name(kind, &mut f, true)? },
            CommandKind::FdDelete => Command::FdDelete { name: fd_name(kind, &mut f, true)? },
            CommandKind::SocketCreate => {
                let options = f.next_field().ok_or(e(ParseError::MissingArgument))?;
                let path = f.next_field().ok_or(e(ParseError::MissingArgument))?;
                if !matches!(options, b"" | b"-") {
                    return Err(e(ParseError::InvalidOptions));
                }
                if path.is_empty() || path.len() > crate::addr::MAX_UNIX_PATH {
                    return Err(e(ParseError::ControlSocketPath));
                }
                Command::SocketCreate { path }
            }
            CommandKind::Chdir => {
                let path = f.next_field().ok_or(e(ParseError::MissingPath))?;
                if f.has_more() {
                    return Err(e(ParseError::UnexpectedArgAfterPath));
                }
                Command::Chdir { path }
            }
            CommandKind::LogFilter => Command::LogFilter {
                arg: match f.next_field() {
                    None => None,
                    Some(b"+") => Some(LogFilterArg::Raise),
                    Some(b"-") => Some(LogFilterArg::Lower),
                    Some(l) => Some(LogFilterArg::Set(LogLevel::from_name(l).ok_or(e(ParseError::InvalidLogLevel))?)),
                },
            },
            CommandKind::LogDest => {
                match f.next_field() {
                    None => return Err(e(ParseError::MissingArgument)),
                    Some(b"fd") => {}
                    Some(_) => return Err(e(ParseError::UnknownLoggingType)),
                }
                Command::LogDest { name: fd_name(kind, &mut f, false)? }
            }
            CommandKind::ConnEventTimeout => {
                let reset = int(f.next_field()).map_err(e)?;
                let close = int(f.next_field()).map_err(e)?;
                let (reset, close) = (timeout(reset).map_err(e)?, timeout(close).map_err(e)?);
                if reset > close {
                    return Err(e(ParseError::ResetAfterClose));
                }
                Command::ConnEventTimeout { reset, close }
            }
            CommandKind::SignalClear => {
                let signal = Signal::parse_arg(f.next_field()).map_err(e)?;
                let count = int(f.next_field()).and_then(|c| u64::try_from(c).map_err(|_| ParseError::ExpectedInteger));
                Command::SignalClear { signal, count: count.map_err(e)? }
            }
            CommandKind::Terminate => {
                let code = int(f.next_field()).map_err(e)?;
                Command::Terminate { code, guard: f.next_field().and_then(parse_int) }
            }
            CommandKind::TerminateGuard => {
                let set = match f.next_field() {
                    Some(b"+") => true,
                    Some(b"-") => false,
                    _ => return Err(e(ParseError::ExpectedPlusMinus)),
                };
                let code = int(f.next_field()).map_err(e)?;
                if code == 0 {
                    return Err(e(ParseError::ZeroGuardCode));
                }
                Command::TerminateGuard { set, code }
            }
            CommandKind::TerminateExecArgs => {
                let args = rest_or_empty(&f);
                if args.len() > MAX_EXEC_ARGS {
                    return Err(e(ParseError::ExecArgsTooLong));
                }
                Command::TerminateExecArgs { args }
            }
            CommandKind::ServiceEnv
            | CommandKind::ServiceCwd
            | CommandKind::ServiceUser
            | CommandKind::ServiceRlimit
            | CommandKind::ServiceUmask
            | CommandKind::ServiceNotify
            | CommandKind::ServiceListenFds => {
                let name = service_name(kind, &mut f)?;
                Command::parse_setting(kind, name, &mut f).map_err(|(error, item)| CommandError {
                    item,
                    service: Some(name),
                    ..e(error)
                })?
            }
            CommandKind::ConnExtended => {
                Command::ConnExtended { on: on_off(&mut f).map_err(|(error, item)| CommandError { item, ..e(error) })? }
            }
            CommandKind::Reexec => {
                let args = rest_or_empty(&f);
                if args.first() == Some(&b'\t') {
                    return Err(e(ParseError::MissingPath));
                }
                Command::Reexec { args }
            }
        })
    }

    /// The arguments after the service name of a process-setting command
    /// (`kind` is one of the seven that [`Command::setting_event`] echoes
    /// besides `service.args`, `.tags` and `.fds`).
    fn parse_setting(
        kind: CommandKind,
        name: Name<'a>,
        f: &mut Fields<'a>,
    ) -> Result<Command<'a>, (ParseError, &'a [u8])> {
        Ok(match kind {
            CommandKind::ServiceEnv => {
                let env = EnvList::new(f.rest().unwrap_or(b"")).map_err(|bad| (ParseError::InvalidEnvEntry, bad))?;
                Command::ServiceEnv { name, env }
            }
            CommandKind::ServiceCwd => {
                let path = f.next_field();
                if f.has_more() {
                    return Err((ParseError::UnexpectedArgAfterPath, b""));
                }
                Command::ServiceCwd { name, path: path.filter(|p| !p.is_empty()) }
            }
            CommandKind::ServiceUser => {
                let ids = f.rest().filter(|r| !r.is_empty());
                Command::ServiceUser { name, user: ids.map(UserIds::parse).transpose()? }
            }
            CommandKind::ServiceRlimit => {
                Command::ServiceRlimit { name, limits: Rlimits::new(f.rest().unwrap_or(b""))? }
            }
            CommandKind::ServiceUmask => {
                let umask = match f.next_field() {
                    None => None,
                    Some(b"") if !f.has_more() => None,
                    Some(mode) => Some(Umask::parse(mode).ok_or((ParseError::InvalidUmask, mode))?),
                };
                no_more(f)?;
                Command::ServiceUmask { name, umask }
            }
            CommandKind::ServiceNotify => {
                let mode = NotifyMode::parse_fields(f)?;
                no_more(f)?;
                Command::ServiceNotify { name, mode }
            }
            _ => Command::ServiceListenFds { name, on: on_off(f)? },
        })
    }

    /// The command's kind, `None` for [`Command::Unknown`].
    pub fn kind(&self) -> Option<CommandKind> {
        Some(match self {
            Command::Echo { .. } => CommandKind::Echo,
            Command::Statedump => CommandKind::Statedump,
            Command::Exit => CommandKind::Exit,
            Command::ServiceArgs { .. } => CommandKind::ServiceArgs,
            Command::ServiceTags { .. } => CommandKind::ServiceTags,
            Command::ServiceFds { .. } => CommandKind::ServiceFds,
            Command::ServiceAutoUp { .. } => CommandKind::ServiceAutoUp,
            Command::ServiceStart { .. } => CommandKind::ServiceStart,
            Command::ServiceSignal { .. } => CommandKind::ServiceSignal,
            Command::ServiceDelete { .. } => CommandKind::ServiceDelete,
            Command::FdOpen { .. } => CommandKind::FdOpen,
            Command::FdPipe { .. } => CommandKind::FdPipe,
            Command::FdSocket { .. } => CommandKind::FdSocket,
            Command::FdTake { .. } => CommandKind::FdTake,
            Command::FdDelete { .. } => CommandKind::FdDelete,
            Command::SocketCreate { .. } => CommandKind::SocketCreate,
            Command::SocketDelete => CommandKind::SocketDelete,
            Command::Chdir { .. } => CommandKind::Chdir,
            Command::LogFilter { .. } => CommandKind::LogFilter,
            Command::LogDest { .. } => CommandKind::LogDest,
            Command::ConnEventTimeout { .. } => CommandKind::ConnEventTimeout,
            Command::SignalClear { .. } => CommandKind::SignalClear,
            Command::Terminate { .. } => CommandKind::Terminate,
            Command::TerminateGuard { .. } => CommandKind::TerminateGuard,
            Command::TerminateExecArgs { .. } => CommandKind::TerminateExecArgs,
            Command::ServiceEnv { .. } => CommandKind::ServiceEnv,
            Command::ServiceCwd { .. } => CommandKind::ServiceCwd,
            Command::ServiceUser { .. } => CommandKind::ServiceUser,
            Command::ServiceRlimit { .. } => CommandKind::ServiceRlimit,
            Command::ServiceUmask { .. } => CommandKind::ServiceUmask,
            Command::ServiceNotify { .. } => CommandKind::ServiceNotify,
            Command::ServiceListenFds { .. } => CommandKind::ServiceListenFds,
            Command::ConnExtended { .. } => CommandKind::ConnExtended,
            Command::Reexec { .. } => CommandKind::Reexec,
            Command::Unknown { .. } => return None,
        })
    }

    /// The event that reports the setting this command stores, for the
    /// commands whose event repeats their arguments: `service.args`,
    /// `.tags`, `.fds` and the process settings `.env`, `.cwd`, `.user`,
    /// `.rlimit`, `.umask`, `.notify`, `.listen_fds`. The daemon
    /// broadcasts it once the command succeeded, and it is also the
    /// command's canonical line.
    ///
    /// ```
    /// use daemonproxy_proto::{Command, Event};
    /// let cmd = Command::parse(b"service.umask\tweb\t27").unwrap();
    /// let mut line = Vec::new();
    /// cmd.setting_event().unwrap().encode(&mut line);
    /// assert_eq!(line, b"service.umask\tweb\t027\n");
    /// assert!(Command::Statedump.setting_event().is_none());
    /// ```
    pub fn setting_event(&self) -> Option<Event<'a>> {
        Some(match *self {
            Command::ServiceArgs { name, args } => Event::ServiceArgs { name, args },
            Command::ServiceTags { name, tags } => Event::ServiceTags { name, tags },
            Command::ServiceFds { name, fds } => Event::ServiceFds { name, fds: fds.raw() },
            Command::ServiceEnv { name, env } => Event::ServiceEnv { name, env },
            Command::ServiceCwd { name, path } => Event::ServiceCwd { name, path },
            Command::ServiceUser { name, user } => Event::ServiceUser { name, user },
            Command::ServiceRlimit { name, limits } => Event::ServiceRlimit { name, limits },
            Command::ServiceUmask { name, umask } => Event::ServiceUmask { name, umask },
            Command::ServiceNotify { name, mode } => Event::ServiceNotify { name, mode },
            Command::ServiceListenFds { name, on } => Event::ServiceListenFds { name, on },
            _ => return None,
        })
    }

    /// Appends the canonical line for this command, LF included.
    ///
    /// [`Command::parse`] of the result (without the LF) gives back an
    /// equal value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(ev) = self.setting_event() {
            return ev.encode(out);
        }
        match (self, self.kind()) {
            (Command::Unknown { name }, _) => out.extend_from_slice(name),
            (_, kind) => out.extend_from_slice(kind.map_or("", CommandKind::name).as_bytes()),
        }
        let field = |out: &mut Vec<u8>, bytes: &[u8]| {
            out.push(b'\t');
            out.extend_from_slice(bytes);
        };
        match *self {
            Command::Statedump | Command::Exit | Command::SocketDelete | Command::Unknown { .. } => {}
            Command::Echo { text } | Command::TerminateExecArgs { args: text } | Command::Reexec { args: text } => {
                if !text.is_empty() {
                    field(out, text);
                }
            }
            Command::ServiceAutoUp { name, interval, triggers } => {
                field(out, name.as_bytes());
                out.push(b'\t');
                match interval {
                    Some(i) => push_u64(out, u64::from(i)),
                    None => out.push(b'-'),
                }
                if !triggers.is_empty() {
                    field(out, triggers.raw());
                }
            }
            Command::ServiceStart { name, when } => {
                field(out, name.as_bytes());
                match when {
                    StartWhen::Now => {}
                    StartWhen::Cancel => field(out, b"-"),
                    StartWhen::At(ts) => {
                        out.push(b'\t');
                        push_u64(out, u64::from(ts));
                    }
                }
            }
            Command::ServiceSignal { name, signal, group } => {
                field(out, name.as_bytes());
                out.push(b'\t');
                push_u64(out, u64::from(signal.number()));
                if group {
                    field(out, b"group");
                }
            }
            Command::ServiceDelete { name } | Command::FdTake { name } | Command::FdDelete { name } => {
                field(out, name.as_bytes())
            }
            Command::FdOpen { name, flags, path } => {
                field(out, name.as_bytes());
                out.push(b'\t');
                flags.write_to(out);
                field(out, path);
            }
            Command::FdPipe { read, write, flags } => {
                field(out, read.as_bytes());
                field(out, write.as_bytes());
                let mut items: [&str; 3] = [""; 3];
                let mut n = 0;
                if let Some((d, t)) = flags.socket {
                    items[0] = d.name();
                    items[1] = t.name();
                    n = 2;
                }
                if flags.nonblock {
                    items[n] = "nonblock";
                    n += 1;
                }
                for (i, item) in items[..n].iter().enumerate() {
                    out.push(if i == 0 { b'\t' } else { b',' });
                    out.extend_from_slice(item.as_bytes());
                }
            }
            Command::FdSocket { name, flags, addr } => {
                field(out, name.as_bytes());
                out.push(b'\t');
                flags.write_to(out);
                if let Some(a) = addr {
                    field(out, a.text);
                }
            }
            Command::SocketCreate { path } => {
                field(out, b"-");
                field(out, path);
            }
            Command::Chdir { path } => field(out, path),
            Command::LogFilter { arg } => match arg {
                None => {}
                Some(LogFilterArg::Raise) => field(out, b"+"),
                Some(LogFilterArg::Lower) => field(out, b"-"),
                Some(LogFilterArg::Set(l)) => field(out, l.name().as_bytes()),
            },
            Command::LogDest { name } => {
                field(out, b"fd");
                field(out, name.as_bytes());
            }
            Command::ConnEventTimeout { reset, close } => {
                out.push(b'\t');
                push_u64(out, u64::from(reset));
                out.push(b'\t');
                push_u64(out, u64::from(close));
            }
            Command::SignalClear { signal, count } => {
                out.push(b'\t');
                push_u64(out, u64::from(signal.number()));
                out.push(b'\t');
                push_u64(out, count);
            }
            Command::Terminate { code, guard } => {
                out.push(b'\t');
                push_i64(out, code);
                if let Some(g) = guard {
                    out.push(b'\t');
                    push_i64(out, g);
                }
            }
            Command::TerminateGuard { set, code } => {
                field(out, if set { b"+" } else { b"-" });
                out.push(b'\t');
                push_i64(out, code);
            }
            Command::ConnExtended { on } => field(out, on_off_word(on)),
            // Written by their `setting_event` above.
            Command::ServiceArgs { .. }
            | Command::ServiceTags { .. }
            | Command::ServiceFds { .. }
            | Command::ServiceEnv { .. }
            | Command::ServiceCwd { .. }
            | Command::ServiceUser { .. }
            | Command::ServiceRlimit { .. }
            | Command::ServiceUmask { .. }
            | Command::ServiceNotify { .. }
            | Command::ServiceListenFds { .. } => {}
        }
        out.push(b'\n');
    }
}
