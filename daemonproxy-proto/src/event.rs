//! Events (protocol.md §4): the lines daemonproxy sends to its controllers.
//!
//! [`Event::encode`] writes the exact bytes of the protocol into a caller's
//! buffer; [`Event::parse`] reads them back for controller authors. Lines
//! whose first field is not an event name are [`Event::Echo`] (the replies
//! to `echo`, which can be anything).

use crate::command::{on_off, on_off_word, Special, Triggers};
use crate::fields::{parse_u64, push_u64, split_name, Fields};
use crate::flags::{Domain, OpenFlags, PipeFlags, SockType, SocketFlags};
use crate::{EnvList, LogLevel, Name, NotifyFields, NotifyMode, Rlimits, Signal, Umask, UserIds};
use core::fmt;

/// Bytes of the command line quoted in an error event (protocol.md §2.3).
pub const ERROR_QUOTE_LEN: usize = 30;
/// Longest message in an error event, in bytes (protocol.md §2.3).
pub const ERROR_MESSAGE_MAX: usize = 63;

/// Every event name (first field), those of protocol.md §4 first.
const NAMES: &[&str] = &[
    "service.state",
    "service.args",
    "service.tags",
    "service.fds",
    "service.auto_up",
    "fd.state",
    "signal",
    "error",
    "warning",
    "overflow",
    "log.filter",
    "info",
    "service.env",
    "service.cwd",
    "service.user",
    "service.rlimit",
    "service.umask",
    "service.notify",
    "service.listen_fds",
    "service.ready",
    "service.rusage",
    "orphan.exit",
];

/// How a service's process ended.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ExitReason {
    /// `exit` with this status.
    Exit(u8),
    /// `signal` with this signal (printed `SIG-?` without a name, which
    /// parses back as signal 0).
    Signal(Signal),
}

/// The state part of a `service.state` event (protocol.md §4.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ServiceState {
    /// `down` without exit information: never started, or start cancelled.
    Down,
    /// `start`: a start is scheduled at this second.
    Start {
        /// The scheduled second (CLOCK_MONOTONIC).
        at: u64,
    },
    /// `up`: the process is running.
    Up {
        /// The second it was forked.
        since: u64,
        /// Its process id.
        pid: u32,
        /// Whole seconds since the fork (0 in the live event).
        uptime: u64,
    },
    /// `down` after the process ended.
    Exited {
        /// The second it was reaped.
        at: u64,
        /// The process id it had.
        pid: u32,
        /// Exit status or signal.
        reason: ExitReason,
        /// Whole seconds from fork to reap.
        uptime: u64,
        /// Whole seconds since the reap (0 in the live event).
        downtime: u64,
    },
    /// `deleted`: the service record is gone.
    Deleted,
}

/// What a named handle is, as `fd.state` reports it (protocol.md §4.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FdInfo<'a> {
    /// `file`: opened by `fd.open` (description = path), or inherited or
    /// taken (description `unknown`).
    File {
        /// Access and open flags.
        flags: OpenFlags,
        /// Path or `unknown`.
        description: &'a [u8],
    },
    /// `pipe`: one end of `fd.pipe`.
    Pipe {
        /// Pipe or socketpair flags.
        flags: PipeFlags,
        /// The read end of a plain pipe (`from`); socketpair ends are `to`.
        read_end: bool,
        /// The other end's name, `None` once it was deleted (`?`).
        peer: Option<Name<'a>>,
    },
    /// `socket`: made by `fd.socket` (description = address as given), or
    /// inherited or taken (description `unknown`).
    Socket {
        /// Socket flags.
        flags: SocketFlags,
        /// Address, empty, or `unknown`.
        description: &'a [u8],
    },
    /// `special`: one of the constant handles.
    Special(Special),
    /// `deleted`: the handle is gone.
    Deleted,
}

/// One event line.
///
/// The process settings (`service.env`, `.cwd`, `.user`, `.rlimit`,
/// `.umask`, `.notify`, `.listen_fds`) are echoed like `service.tags`:
/// `service.X\tNAME\t` and the value as stored, nothing after that TAB
/// when the setting is cleared. Their line is exactly the canonical line
/// of the command that set them ([`crate::Command::setting_event`]).
///
/// ```
/// use daemonproxy_proto::{Event, Name, ServiceState};
/// let ev = Event::ServiceState { name: Name::from_text("web").unwrap(), state: ServiceState::Start { at: 695 } };
/// let mut out = Vec::new();
/// ev.encode(&mut out);
/// assert_eq!(out, b"service.state\tweb\tstart\t695\t-\t-\t-\t-\t-\n");
/// assert_eq!(Event::parse(&out[..out.len() - 1]), Ok(ev));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event<'a> {
    /// `service.state NAME STATE TS PID REASON VALUE UPTIME DOWNTIME`.
    ServiceState {
        /// The service.
        name: Name<'a>,
        /// Its state.
        state: ServiceState,
    },
    /// `service.args NAME ARGS`.
    ServiceArgs {
        /// The service.
        name: Name<'a>,
        /// The stored arguments.
        args: &'a [u8],
    },
    /// `service.tags NAME TAGS`.
    ServiceTags {
        /// The service.
        name: Name<'a>,
        /// The stored tags.
        tags: &'a [u8],
    },
    /// `service.fds NAME HANDLES` (`null\tnull\tnull` when unset).
    ServiceFds {
        /// The service.
        name: Name<'a>,
        /// The stored list.
        fds: &'a [u8],
    },
    /// `service.auto_up NAME INTERVAL TRIGGERS` or `service.auto_up NAME -`.
    ServiceAutoUp {
        /// The service.
        name: Name<'a>,
        /// Interval and triggers; `None` (printed `-`) when there are none.
        auto_up: Option<(u32, Triggers<'a>)>,
    },
    /// `fd.state NAME TYPE FLAGS DESCRIPTION` or `fd.state NAME deleted`.
    FdState {
        /// The handle.
        name: Name<'a>,
        /// What it is.
        info: FdInfo<'a>,
    },
    /// `signal SIGNAME TS COUNT`.
    Signal {
        /// The signal.
        signal: Signal,
        /// Second of the last reception.
        at: u64,
        /// Receptions not yet cleared.
        count: u64,
    },
    /// `error MESSAGE`: everything after `error\t`.
    Error {
        /// The message (for command failures it ends in
        /// `, for command "..."`).
        message: &'a [u8],
    },
    /// `warning: fd "ENTRY" is not yet defined` (colon and space, protocol.md §4.5).
    FdNotYetDefined {
        /// The `service.fds` entry.
        entry: &'a [u8],
    },
    /// `warning\tfd "NAME" does not exist` (TAB, protocol.md §4.5).
    FdDoesNotExist {
        /// The `log.dest` name.
        name: Name<'a>,
    },
    /// `overflow`: events were lost; resync with `statedump`.
    Overflow,
    /// `log.filter LEVEL`.
    LogFilter {
        /// The current filter.
        level: LogLevel,
    },
    /// `info TEXT`: the interactive banner.
    Info {
        /// Everything after `info\t`.
        text: &'a [u8],
    },
    /// `service.env NAME [ENTRY...]`.
    ServiceEnv {
        /// The service.
        name: Name<'a>,
        /// The stored entries (empty: cleared).
        env: EnvList<'a>,
    },
    /// `service.cwd NAME [PATH]`.
    ServiceCwd {
        /// The service.
        name: Name<'a>,
        /// The directory (never empty, no TAB or NUL); `None` when cleared.
        path: Option<&'a [u8]>,
    },
    /// `service.user NAME [UID GID [GID]...]`.
    ServiceUser {
        /// The service.
        name: Name<'a>,
        /// The ids; `None` when cleared.
        user: Option<UserIds<'a>>,
    },
    /// `service.rlimit NAME [RESOURCE=SOFT:HARD]...`.
    ServiceRlimit {
        /// The service.
        name: Name<'a>,
        /// The stored limits (empty: cleared).
        limits: Rlimits<'a>,
    },
    /// `service.umask NAME [MODE]`, MODE as three octal digits.
    ServiceUmask {
        /// The service.
        name: Name<'a>,
        /// The mode; `None` when cleared.
        umask: Option<Umask>,
    },
    /// `service.notify NAME [fd N | socket]`: the readiness setting.
    ServiceNotify {
        /// The service.
        name: Name<'a>,
        /// The mode; `None` when off.
        mode: Option<NotifyMode>,
    },
    /// `service.listen_fds NAME on|off`.
    ServiceListenFds {
        /// The service.
        name: Name<'a>,
        /// On or off.
        on: bool,
    },
    /// `service.ready NAME TS PID`: the process reported readiness.
    ServiceReady {
        /// The service.
        name: Name<'a>,
        /// The second it did.
        at: u64,
        /// Its process id.
        pid: u32,
    },
    /// `service.notify NAME TS PID FIELD...`: a readiness-protocol message
    /// (told apart from the setting by the number after NAME).
    ServiceNotifyMessage {
        /// The service.
        name: Name<'a>,
        /// The second it arrived.
        at: u64,
        /// The sender's process id.
        pid: u32,
        /// The message's fields, as sent.
        fields: NotifyFields<'a>,
    },
    /// `service.rusage NAME TS UTIME_US STIME_US MAXRSS_KB`: resources used
    /// by the process that just went down (extended connections only).
    ServiceRusage {
        /// The service.
        name: Name<'a>,
        /// The second it was reaped.
        at: u64,
        /// User CPU time, microseconds.
        utime_us: u64,
        /// System CPU time, microseconds.
        stime_us: u64,
        /// Peak resident set size, KiB.
        maxrss_kb: u64,
    },
    /// `orphan.exit PID TS exit|signal VALUE`: a process that is not a
    /// service was reaped (extended connections only).
    OrphanExit {
        /// Its process id.
        pid: u32,
        /// The second it was reaped.
        at: u64,
        /// Exit status or signal.
        reason: ExitReason,
    },
    /// Any other line, such as an `echo` reply.
    Echo {
        /// The whole line.
        line: &'a [u8],
    },
}

/// A line that starts with an event name but does not have its form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct InvalidEvent {
    /// The event name of the line.
    pub event: &'static str,
}

impl fmt::Display for InvalidEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {} event", self.event)
    }
}

impl std::error::Error for InvalidEvent {}

fn push_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'\t');
    out.extend_from_slice(bytes);
}

fn push_num(out: &mut Vec<u8>, v: u64) {
    out.push(b'\t');
    push_u64(out, v);
}

/// Appends `\texit\tSTATUS` or `\tsignal\tSIGNAME`.
fn push_reason(out: &mut Vec<u8>, reason: ExitReason) {
    match reason {
        ExitReason::Exit(status) => {
            out.extend_from_slice(b"\texit");
            push_num(out, u64::from(status));
        }
        ExitReason::Signal(sig) => {
            out.extend_from_slice(b"\tsignal\t");
            sig.write_to(out);
        }
    }
}

impl<'a> Event<'a> {
    /// Appends the event's line, LF included.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Event::ServiceState { name, state } => {
                out.extend_from_slice(b"service.state");
                push_field(out, name.as_bytes());
                match state {
                    ServiceState::Down => out.extend_from_slice(b"\tdown\t-\t-\t-\t-\t-\t-"),
                    ServiceState::Deleted => out.extend_from_slice(b"\tdeleted\t-\t-\t-\t-\t-\t-"),
                    ServiceState::Start { at } => {
                        out.extend_from_slice(b"\tstart");
                        push_num(out, at);
                        out.extend_from_slice(b"\t-\t-\t-\t-\t-");
                    }
                    ServiceState::Up { since, pid, uptime } => {
                        out.extend_from_slice(b"\tup");
                        push_num(out, since);
                        push_num(out, u64::from(pid));
                        out.extend_from_slice(b"\t-\t-");
                        push_num(out, uptime);
                        out.extend_from_slice(b"\t-");
                    }
                    ServiceState::Exited { at, pid, reason, uptime, downtime } => {
                        out.extend_from_slice(b"\tdown");
                        push_num(out, at);
                        push_num(out, u64::from(pid));
                        push_reason(out, reason);
                        push_num(out, uptime);
                        push_num(out, downtime);
                    }
                }
            }
            Event::ServiceArgs { name, args } => {
                out.extend_from_slice(b"service.args");
                push_field(out, name.as_bytes());
                push_field(out, args);
            }
            Event::ServiceTags { name, tags } => {
                out.extend_from_slice(b"service.tags");
                push_field(out, name.as_bytes());
                push_field(out, tags);
            }
            Event::ServiceFds { name, fds } => {
                out.extend_from_slice(b"service.fds");
                push_field(out, name.as_bytes());
                push_field(out, fds);
            }
            Event::ServiceAutoUp { name, auto_up } => {
                out.extend_from_slice(b"service.auto_up");
                push_field(out, name.as_bytes());
                match auto_up {
                    None => out.extend_from_slice(b"\t-"),
                    Some((interval, triggers)) => {
                        push_num(out, u64::from(interval));
                        push_field(out, triggers.raw());
                    }
                }
            }
            Event::FdState { name, info } => {
                out.extend_from_slice(b"fd.state");
                push_field(out, name.as_bytes());
                match info {
                    FdInfo::Deleted => out.extend_from_slice(b"\tdeleted"),
                    FdInfo::File { flags, description } => {
                        out.extend_from_slice(b"\tfile\t");
                        flags.write_to(out);
                        push_field(out, description);
                    }
                    FdInfo::Pipe { flags, read_end, peer } => {
                        out.extend_from_slice(b"\tpipe\t");
                        flags.write_to(read_end, out);
                        push_field(out, peer.map_or(&b"?"[..], |p| p.as_bytes()));
                    }
                    FdInfo::Socket { flags, description } => {
                        out.extend_from_slice(b"\tsocket\t");
                        flags.write_to(out);
                        push_field(out, description);
                    }
                    FdInfo::Special(s) => {
                        out.extend_from_slice(b"\tspecial");
                        push_field(out, s.flags().as_bytes());
                        push_field(out, s.description().as_bytes());
                    }
                }
            }
            Event::Signal { signal, at, count } => {
                out.extend_from_slice(b"signal\t");
                signal.write_to(out);
                push_num(out, at);
                push_num(out, count);
            }
            Event::Error { message } => {
                out.extend_from_slice(b"error");
                push_field(out, message);
            }
            Event::FdNotYetDefined { entry } => {
                out.extend_from_slice(b"warning: fd \"");
                out.extend_from_slice(entry);
                out.extend_from_slice(b"\" is not yet defined");
            }
            Event::FdDoesNotExist { name } => {
                out.extend_from_slice(b"warning\tfd \"");
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\" does not exist");
            }
            Event::Overflow => out.extend_from_slice(b"overflow"),
            Event::LogFilter { level } => {
                out.extend_from_slice(b"log.filter");
                push_field(out, level.name().as_bytes());
            }
            Event::Info { text } => {
                out.extend_from_slice(b"info");
                push_field(out, text);
            }
            Event::ServiceEnv { name, env } => setting(out, "service.env", name, env.raw()),
            Event::ServiceCwd { name, path } => setting(out, "service.cwd", name, path.unwrap_or(b"")),
            Event::ServiceRlimit { name, limits } => setting(out, "service.rlimit", name, limits.raw()),
            Event::ServiceUser { name, user } => {
                setting(out, "service.user", name, b"");
                if let Some(ids) = user {
                    ids.write_to(out);
                }
            }
            Event::ServiceUmask { name, umask } => {
                setting(out, "service.umask", name, b"");
                if let Some(m) = umask {
                    m.write_to(out);
                }
            }
            Event::ServiceNotify { name, mode } => {
                setting(out, "service.notify", name, b"");
                if let Some(m) = mode {
                    m.write_to(out);
                }
            }
            Event::ServiceListenFds { name, on } => setting(out, "service.listen_fds", name, on_off_word(on)),
            Event::ServiceReady { name, at, pid } => {
                out.extend_from_slice(b"service.ready");
                push_field(out, name.as_bytes());
                push_num(out, at);
                push_num(out, u64::from(pid));
            }
            Event::ServiceNotifyMessage { name, at, pid, fields } => {
                out.extend_from_slice(b"service.notify");
                push_field(out, name.as_bytes());
                push_num(out, at);
                push_num(out, u64::from(pid));
                push_field(out, fields.raw());
            }
            Event::ServiceRusage { name, at, utime_us, stime_us, maxrss_kb } => {
                out.extend_from_slice(b"service.rusage");
                push_field(out, name.as_bytes());
                for v in [at, utime_us, stime_us, maxrss_kb] {
                    push_num(out, v);
                }
            }
            Event::OrphanExit { pid, at, reason } => {
                out.extend_from_slice(b"orphan.exit");
                push_num(out, u64::from(pid));
                push_num(out, at);
                push_reason(out, reason);
            }
            Event::Echo { line } => out.extend_from_slice(line),
        }
        out.push(b'\n');
    }

    /// Parses one event line (without its LF).
    pub fn parse(line: &'a [u8]) -> Result<Event<'a>, InvalidEvent> {
        let (first, mut f) = split_name(line);
        let Some(&event) = NAMES.iter().find(|n| n.as_bytes() == first) else {
            if let Some(entry) =
                first.strip_prefix(b"warning: fd \"").and_then(|r| r.strip_suffix(b"\" is not yet defined"))
            {
                if !f.has_more() {
                    return Ok(Event::FdNotYetDefined { entry });
                }
            }
            return Ok(Event::Echo { line });
        };
        parse_known(first, &mut f).ok_or(InvalidEvent { event })
    }
}

/// Appends `EVENT\tNAME\tVALUE`: a setting's echo.
fn setting(out: &mut Vec<u8>, event: &str, name: Name<'_>, value: &[u8]) {
    out.extend_from_slice(event.as_bytes());
    push_field(out, name.as_bytes());
    push_field(out, value);
}

/// A name field.
fn name<'a>(f: &mut Fields<'a>) -> Option<Name<'a>> {
    Name::new(f.next_field()?)
}

/// A `-` field.
fn dash(f: &mut Fields<'_>) -> Option<()> {
    (f.next_field()? == b"-").then_some(())
}

fn num(f: &mut Fields<'_>) -> Option<u64> {
    parse_u64(f.next_field()?)
}

fn pid(f: &mut Fields<'_>) -> Option<u32> {
    u32::try_from(num(f)?).ok()
}

/// `exit STATUS` or `signal SIGNAME`.
fn reason(f: &mut Fields<'_>) -> Option<ExitReason> {
    Some(match (f.next_field()?, f.next_field()?) {
        (b"exit", v) => ExitReason::Exit(u8::try_from(parse_u64(v)?).ok()?),
        (b"signal", v) => ExitReason::Signal(Signal::parse_event_name(v)?),
        _ => return None,
    })
}

/// The value of a setting's echo: everything after `NAME\t` (which must
/// be there), `None` for the cleared form.
fn setting_value<'a>(f: &mut Fields<'a>) -> Option<Option<&'a [u8]>> {
    let value = f.rest()?;
    *f = Fields::new(None);
    Some((!value.is_empty()).then_some(value))
}

/// The process-setting and readiness events after the service name.
fn parse_service_extension<'a>(first: &[u8], name: Name<'a>, f: &mut Fields<'a>) -> Option<Event<'a>> {
    Some(match first {
        b"service.env" => Event::ServiceEnv { name, env: EnvList::new(setting_value(f)?.unwrap_or(b"")).ok()? },
        b"service.rlimit" => {
            Event::ServiceRlimit { name, limits: Rlimits::new(setting_value(f)?.unwrap_or(b"")).ok()? }
        }
        b"service.cwd" => {
            let path = setting_value(f)?;
            if path.is_some_and(|p| p.contains(&b'\t') || p.contains(&0)) {
                return None;
            }
            Event::ServiceCwd { name, path }
        }
        b"service.user" => {
            let user = match setting_value(f)? {
                None => None,
                Some(ids) => Some(UserIds::parse(ids).ok()?),
            };
            Event::ServiceUser { name, user }
        }
        b"service.umask" => {
            let umask = match setting_value(f)? {
                None => None,
                Some(mode) if mode.len() == 3 => Some(Umask::parse(mode)?),
                Some(_) => return None,
            };
            Event::ServiceUmask { name, umask }
        }
        b"service.notify" => {
            let message = f.rest()?.split(|&b| b == b'\t').next().is_some_and(|ts| parse_u64(ts).is_some());
            if message {
                let (at, pid) = (num(f)?, pid(f)?);
                let fields = NotifyFields::new(f.rest()?)?;
                *f = Fields::new(None);
                Event::ServiceNotifyMessage { name, at, pid, fields }
            } else {
                Event::ServiceNotify { name, mode: NotifyMode::parse_fields(f).ok()? }
            }
        }
        b"service.listen_fds" => Event::ServiceListenFds { name, on: on_off(f).ok()? },
        b"service.ready" => Event::ServiceReady { name, at: num(f)?, pid: pid(f)? },
        b"service.rusage" => {
            Event::ServiceRusage { name, at: num(f)?, utime_us: num(f)?, stime_us: num(f)?, maxrss_kb: num(f)? }
        }
        _ => return None,
    })
}

fn parse_known<'a>(first: &[u8], f: &mut Fields<'a>) -> Option<Event<'a>> {
    let ev = match first {
        b"service.state" => {
            let name = name(f)?;
            let state = match f.next_field()? {
                b"start" => {
                    let at = num(f)?;
                    for _ in 0..5 {
                        dash(f)?;
                    }
                    ServiceState::Start { at }
                }
                b"up" => {
                    let (since, pid) = (num(f)?, pid(f)?);
                    dash(f)?;
                    dash(f)?;
                    let uptime = num(f)?;
                    dash(f)?;
                    ServiceState::Up { since, pid, uptime }
                }
                state @ (b"down" | b"deleted") if f.rest() == Some(b"-\t-\t-\t-\t-\t-") => {
                    *f = Fields::new(None);
                    if state == b"down" {
                        ServiceState::Down
                    } else {
                        ServiceState::Deleted
                    }
                }
                b"down" => {
                    let (at, pid) = (num(f)?, pid(f)?);
                    let reason = reason(f)?;
                    ServiceState::Exited { at, pid, reason, uptime: num(f)?, downtime: num(f)? }
                }
                _ => return None,
            };
            Event::ServiceState { name, state }
        }
        b"service.args" | b"service.tags" | b"service.fds" => {
            let name = name(f)?;
            let text = f.rest()?;
            *f = Fields::new(None);
            match first {
                b"service.args" => Event::ServiceArgs { name, args: text },
                b"service.tags" => Event::ServiceTags { name, tags: text },
                _ => Event::ServiceFds { name, fds: text },
            }
        }
        b"service.auto_up" => {
            let name = name(f)?;
            let auto_up = match f.next_field()? {
                b"-" => None,
                interval => {
                    let interval = u32::try_from(parse_u64(interval)?).ok()?;
                    let triggers = Triggers::new(f.rest()?)?;
                    *f = Fields::new(None);
                    Some((interval, triggers))
                }
            };
            Event::ServiceAutoUp { name, auto_up }
        }
        b"fd.state" => {
            let name = name(f)?;
            let info = match f.next_field()? {
                b"deleted" => FdInfo::Deleted,
                kind => {
                    let (flags, description) = (f.next_field()?, f.next_field()?);
                    parse_fd_info(kind, flags, description)?
                }
            };
            Event::FdState { name, info }
        }
        b"signal" => {
            let signal = Signal::parse_event_name(f.next_field()?)?;
            Event::Signal { signal, at: num(f)?, count: num(f)? }
        }
        b"error" | b"info" => {
            let text = f.rest()?;
            *f = Fields::new(None);
            if first == b"error" {
                Event::Error { message: text }
            } else {
                Event::Info { text }
            }
        }
        b"warning" => {
            let name = f.next_field()?.strip_prefix(b"fd \"")?.strip_suffix(b"\" does not exist")?;
            Event::FdDoesNotExist { name: Name::new(name)? }
        }
        b"overflow" => Event::Overflow,
        b"log.filter" => Event::LogFilter { level: LogLevel::from_name(f.next_field()?)? },
        b"orphan.exit" => Event::OrphanExit { pid: pid(f)?, at: num(f)?, reason: reason(f)? },
        _ => {
            let name = name(f)?;
            parse_service_extension(first, name, f)?
        }
    };
    (!f.has_more()).then_some(ev)
}

/// Splits a comma-separated flag field.
fn flag_items(flags: &[u8]) -> impl Iterator<Item = &[u8]> {
    flags.split(|&b| b == b',')
}

fn parse_fd_info<'a>(kind: &[u8], flags: &'a [u8], description: &'a [u8]) -> Option<FdInfo<'a>> {
    Some(match kind {
        b"file" => {
            let parsed = OpenFlags::parse(flags).ok()?;
            let info = FdInfo::File { flags: parsed, description };
            canonical(info, flags)?
        }
        b"pipe" => {
            let mut items: Vec<&[u8]> = flag_items(flags).collect();
            let dir = items.pop()?;
            let read_end = match dir {
                b"from" => true,
                b"to" => false,
                _ => return None,
            };
            let mut pf = PipeFlags::default();
            let mut rest = &items[..];
            if let [d, t, tail @ ..] = rest {
                if let (Some(d), Some(t)) = (domain(d), sock_type(t)) {
                    pf.socket = Some((d, t));
                    rest = tail;
                }
            }
            match rest {
                [] => {}
                [b"nonblock"] => pf.nonblock = true,
                _ => return None,
            }
            let peer = match description {
                b"?" => None,
                p => Some(Name::new(p)?),
            };
            canonical(FdInfo::Pipe { flags: pf, read_end, peer }, flags)?
        }
        b"socket" => {
            let parsed = SocketFlags::parse(flags).ok()?;
            canonical(FdInfo::Socket { flags: parsed, description }, flags)?
        }
        b"special" => {
            let s = Special::ALL
                .into_iter()
                .find(|s| s.flags().as_bytes() == flags && s.description().as_bytes() == description)?;
            FdInfo::Special(s)
        }
        _ => return None,
    })
}

/// Accepts `info` only if it prints its flags exactly as `flags`, so that
/// parsing is strict and round trips are exact.
fn canonical<'a>(info: FdInfo<'a>, flags: &[u8]) -> Option<FdInfo<'a>> {
    let mut v = Vec::with_capacity(flags.len());
    match info {
        FdInfo::File { flags: f, .. } => f.write_to(&mut v),
        FdInfo::Pipe { flags: f, read_end, .. } => f.write_to(read_end, &mut v),
        FdInfo::Socket { flags: f, .. } => f.write_to(&mut v),
        FdInfo::Special(_) | FdInfo::Deleted => return Some(info),
    }
    (v == flags).then_some(info)
}

fn domain(item: &[u8]) -> Option<Domain> {
    [Domain::Unix, Domain::Inet, Domain::Inet6].into_iter().find(|d| d.name().as_bytes() == item)
}

fn sock_type(item: &[u8]) -> Option<SockType> {
    [SockType::Stream, SockType::Dgram, SockType::Seqpacket].into_iter().find(|t| t.name().as_bytes() == item)
}

/// Appends the error event for a failed command (protocol.md §2.3):
/// `error\tMESSAGE, for command "LINE"`, with MESSAGE cut at 63 bytes and
/// the first 30 bytes of LINE, followed by `...` inside the quotes when LINE
/// has 30 bytes or more (`for command "service.args\tnnnnnnnnnnnnnnnn!..."`).
///
/// ```
/// let mut out = Vec::new();
/// daemonproxy_proto::encode_command_error(&mut out, b"No such service", b"service.delete\tnosuch");
/// assert_eq!(out, b"error\tNo such service, for command \"service.delete\tnosuch\"\n");
/// ```
pub fn encode_command_error(out: &mut Vec<u8>, message: &[u8], line: &[u8]) {
    out.extend_from_slice(b"error\t");
    out.extend_from_slice(&message[..message.len().min(ERROR_MESSAGE_MAX)]);
    out.extend_from_slice(b", for command \"");
    out.extend_from_slice(&line[..line.len().min(ERROR_QUOTE_LEN)]);
    if line.len() >= ERROR_QUOTE_LEN {
        out.extend_from_slice(b"...");
    }
    out.extend_from_slice(b"\"\n");
}

/// Appends `error\tUnknown command: NAME` (protocol.md §2.1).
pub fn encode_unknown_command(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(b"error\tUnknown command: ");
    out.extend_from_slice(name);
    out.push(b'\n');
}
