//! Helpers shared by the fuzz targets.
//!
//! * [`CmdSpec`] and [`EvSpec`] build *valid* [`Command`] and [`Event`]
//!   values from fuzz input, normalised the same way as the proptest
//!   generators in `daemonproxy-proto/tests/properties.rs`: every value they
//!   produce must survive `encode` → `parse` unchanged.
//! * [`frame_chunked`] and [`frame_reference`] frame a byte stream through
//!   [`daemonproxy_proto::LineFramer`] in arbitrary chunks and through a trivial model.

use arbitrary::{Arbitrary, Result, Unstructured};
use daemonproxy_proto::{
    AddrKind, Command, CommandKind, Domain, EnvList, Event, ExitReason, FdInfo, FdList, Groups, Limit,
    LogFilterArg, LogLevel, Name, NotifyFields, NotifyMode, OpenFlags, PipeFlags, Resource, Rlimit,
    Rlimits, ServiceState, Signal, SockType, SocketAddr, SocketFlags, Special, StartWhen, Triggers, Umask, UserIds,
    MAX_EXEC_ARGS, MAX_INTERVAL, MAX_NAME_LEN, MAX_TIMEOUT, MAX_UNIX_PATH, NOTIFY_FDS,
};

const NAME_BYTES: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

/// Every event name (first field) of §6.
pub const EVENT_NAMES: &[&[u8]] = &[
    b"service.state",
    b"service.args",
    b"service.tags",
    b"service.fds",
    b"service.auto_up",
    b"fd.state",
    b"signal",
    b"error",
    b"warning",
    b"overflow",
    b"log.filter",
    b"info",
    b"service.env",
    b"service.cwd",
    b"service.user",
    b"service.rlimit",
    b"service.umask",
    b"service.notify",
    b"service.listen_fds",
    b"service.ready",
    b"service.rusage",
    b"orphan.exit",
];

fn bytes_without(u: &mut Unstructured<'_>, forbidden: &[u8]) -> Result<Vec<u8>> {
    let mut v = Vec::<u8>::arbitrary(u)?;
    v.retain(|b| !forbidden.contains(b));
    Ok(v)
}

fn domain(x: u8) -> Domain {
    [Domain::Unix, Domain::Inet, Domain::Inet6][usize::from(x % 3)]
}

fn sock_type(x: u8) -> SockType {
    [SockType::Stream, SockType::Dgram, SockType::Seqpacket][usize::from(x % 3)]
}

fn level(x: u8) -> LogLevel {
    LogLevel::None.step(i32::from(x % 7))
}

fn open_flags(b: [bool; 7]) -> OpenFlags {
    let [read, write, append, create, trunc, nonblock, mkdir] = b;
    // Without `write` the access is read-only and parses back with `read`.
    OpenFlags { read: read || !write, write, append, create, trunc, nonblock, mkdir }
}

/// A valid service or handle name.
#[derive(Debug, Clone)]
pub struct NameBuf(pub String);

impl<'a> Arbitrary<'a> for NameBuf {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let len = u.int_in_range(1..=MAX_NAME_LEN)?;
        let mut s = String::with_capacity(len);
        for _ in 0..len {
            s.push(char::from(*u.choose(NAME_BYTES)?));
        }
        Ok(NameBuf(s))
    }
}

impl NameBuf {
    /// The name.
    pub fn name(&self) -> Name<'_> {
        Name::from_text(&self.0).expect("generated names are valid")
    }
}

/// A valid handle name that is not one of the constant handles.
#[derive(Debug, Clone)]
pub struct HandleName(pub NameBuf);

impl<'a> Arbitrary<'a> for HandleName {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut n = NameBuf::arbitrary(u)?;
        if Special::from_name(n.0.as_bytes()).is_some() {
            n.0.push('x');
        }
        Ok(HandleName(n))
    }
}

impl HandleName {
    /// The name.
    pub fn name(&self) -> Name<'_> {
        self.0.name()
    }
}

/// Command text: no LF, no NUL (TABs allowed).
#[derive(Debug, Clone)]
pub struct Text(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Text {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        bytes_without(u, b"\n\0").map(Text)
    }
}

/// One command field: no TAB, LF or NUL.
#[derive(Debug, Clone)]
pub struct Field(pub Vec<u8>);

impl<'a> Arbitrary<'a> for Field {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        bytes_without(u, b"\t\n\0").map(Field)
    }
}

/// A unix socket path: 1..=107 bytes of a field.
#[derive(Debug, Clone)]
pub struct UnixPath(pub Vec<u8>);

impl<'a> Arbitrary<'a> for UnixPath {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut v = Field::arbitrary(u)?.0;
        v.truncate(MAX_UNIX_PATH);
        if v.is_empty() {
            v.push(b's');
        }
        Ok(UnixPath(v))
    }
}

/// `terminate.exec_args` text: at most 255 bytes.
#[derive(Debug, Clone)]
pub struct ExecArgs(pub Vec<u8>);

impl<'a> Arbitrary<'a> for ExecArgs {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut v = Text::arbitrary(u)?.0;
        v.truncate(MAX_EXEC_ARGS);
        Ok(ExecArgs(v))
    }
}

/// An unknown command name: no TAB or LF, not a known command.
#[derive(Debug, Clone)]
pub struct UnknownName(pub Vec<u8>);

impl<'a> Arbitrary<'a> for UnknownName {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut v = bytes_without(u, b"\t\n")?;
        if CommandKind::from_name(&v).is_some() {
            v.push(b'?');
        }
        Ok(UnknownName(v))
    }
}

/// Every word a trigger list may hold: empty, `always`, and each signal name
/// with and without `SIG`.
pub fn trigger_words() -> Vec<String> {
    let mut v = vec![String::new(), "always".to_owned()];
    let names = (1..=31u16).filter_map(|n| Signal::from_number(n).name()).chain(["IOT", "CLD", "POLL"]);
    for n in names {
        v.push(n.to_owned());
        v.push(format!("SIG{n}"));
    }
    v
}

/// A valid raw trigger list.
#[derive(Debug, Clone)]
pub struct TriggerList(pub Vec<u8>);

impl<'a> Arbitrary<'a> for TriggerList {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let words = trigger_words();
        let n = u.int_in_range(0..=5)?;
        let mut items = Vec::new();
        for _ in 0..n {
            items.push(u.choose(&words)?.as_bytes().to_vec());
        }
        Ok(TriggerList(items.join(&b'\t')))
    }
}

impl TriggerList {
    /// The triggers.
    pub fn triggers(&self) -> Triggers<'_> {
        Triggers::new(&self.0).expect("generated triggers are valid")
    }
}

/// A valid raw `service.fds` list.
#[derive(Debug, Clone)]
pub struct FdListBuf(pub Vec<u8>);

impl<'a> Arbitrary<'a> for FdListBuf {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let n = u.int_in_range(0..=5)?;
        let mut items = Vec::new();
        for _ in 0..n {
            items.push(match u.int_in_range(0..=3)? {
                0 => Vec::new(),
                1 => b"-".to_vec(),
                _ => NameBuf::arbitrary(u)?.0.into_bytes(),
            });
        }
        Ok(FdListBuf(items.join(&b'\t')))
    }
}

/// A valid raw `service.env` list: `VAR=VALUE` (VAR not starting with
/// `-`) and `-VAR` entries.
#[derive(Debug, Clone)]
pub struct EnvListBuf(pub Vec<u8>);

impl<'a> Arbitrary<'a> for EnvListBuf {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let n = u.int_in_range(0..=4)?;
        let mut items = Vec::new();
        for _ in 0..n {
            let var = [&b"V"[..], &bytes_without(u, b"\t\n\0=")?].concat();
            items.push(if bool::arbitrary(u)? {
                [&var[..], b"=", &bytes_without(u, b"\t\n\0")?].concat()
            } else {
                [&b"-"[..], &var].concat()
            });
        }
        Ok(EnvListBuf(items.join(&b'\t')))
    }
}

impl EnvListBuf {
    /// The list.
    pub fn env(&self) -> EnvList<'_> {
        EnvList::new(&self.0).expect("generated env is valid")
    }
}

/// A `service.cwd` path: a non-empty field.
#[derive(Debug, Clone)]
pub struct CwdPath(pub Vec<u8>);

impl<'a> Arbitrary<'a> for CwdPath {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(CwdPath([&b"/"[..], &bytes_without(u, b"\t\n\0")?].concat()))
    }
}

/// `service.user` ids with their raw supplementary groups.
#[derive(Debug, Clone)]
pub struct UserBuf {
    /// The user id (below `u32::MAX`).
    pub uid: u32,
    /// The group id (below `u32::MAX`).
    pub gid: u32,
    /// TAB-separated group ids.
    pub groups: Vec<u8>,
}

impl<'a> Arbitrary<'a> for UserBuf {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut id = || -> Result<u32> { Ok(u32::arbitrary(u)? % u32::MAX) };
        let (uid, gid) = (id()?, id()?);
        let n = u.int_in_range(0..=3)?;
        let mut groups = Vec::new();
        for _ in 0..n {
            groups.push((u32::arbitrary(u)? % u32::MAX).to_string());
        }
        Ok(UserBuf { uid, gid, groups: groups.join("\t").into_bytes() })
    }
}

impl UserBuf {
    /// The ids.
    pub fn ids(&self) -> UserIds<'_> {
        let groups = if self.groups.is_empty() { Groups::NONE } else { Groups::new(&self.groups).expect("valid") };
        UserIds { uid: self.uid, gid: self.gid, groups }
    }
}

/// A valid raw `service.rlimit` list: distinct resources, soft at most
/// hard.
#[derive(Debug, Clone)]
pub struct RlimitsBuf(pub Vec<u8>);

impl<'a> Arbitrary<'a> for RlimitsBuf {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let n = u.int_in_range(0..=4)?;
        let mut seen = Vec::new();
        let mut items = Vec::new();
        let limit = |u: &mut Unstructured<'a>| -> Result<Limit> {
            Ok(match Option::<u64>::arbitrary(u)? {
                None => Limit::Unlimited,
                Some(v) => Limit::Finite(v.min(u64::MAX - 1)),
            })
        };
        for _ in 0..n {
            let resource = *u.choose(Resource::ALL)?;
            let (a, b) = (limit(u)?, limit(u)?);
            if !seen.contains(&resource) {
                seen.push(resource);
                let mut v = Vec::new();
                Rlimit { resource, soft: a.min(b), hard: a.max(b) }.write_to(&mut v);
                items.push(v);
            }
        }
        Ok(RlimitsBuf(items.join(&b'\t')))
    }
}

impl RlimitsBuf {
    /// The limits.
    pub fn limits(&self) -> Rlimits<'_> {
        Rlimits::new(&self.0).expect("generated limits are valid")
    }
}

/// The fields of a readiness message: one or more non-empty fields.
#[derive(Debug, Clone)]
pub struct NotifyFieldsBuf(pub Vec<u8>);

impl<'a> Arbitrary<'a> for NotifyFieldsBuf {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let n = u.int_in_range(1..=4)?;
        let mut items = Vec::new();
        for _ in 0..n {
            items.push([&b"F"[..], &bytes_without(u, b"\t\n\0")?].concat());
        }
        Ok(NotifyFieldsBuf(items.join(&b'\t')))
    }
}

fn umask(m: Option<u16>) -> Option<Umask> {
    m.and_then(|m| Umask::new(m & 0o777))
}

/// `None`: off; `Some(None)`: socket; `Some(Some(n))`: a descriptor in
/// [`NOTIFY_FDS`].
fn notify_mode(m: Option<Option<u16>>) -> Option<NotifyMode> {
    let span = NOTIFY_FDS.end - NOTIFY_FDS.start;
    m.map(|fd| fd.map_or(NotifyMode::Socket, |n| NotifyMode::Fd(NOTIFY_FDS.start + u32::from(n) % span)))
}

/// An `fd.socket` inet address and its text.
#[derive(Debug, Clone)]
pub struct InetAddr {
    /// The address as written.
    pub text: String,
    /// The IPv4 address, `None` for `*`.
    pub ip: Option<[u8; 4]>,
    /// The port (0 when not written).
    pub port: u16,
}

impl<'a> Arbitrary<'a> for InetAddr {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let ip = Option::<[u8; 4]>::arbitrary(u)?;
        let port = Option::<u16>::arbitrary(u)?;
        let mut text = match ip {
            None => "*".to_owned(),
            Some([a, b, c, d]) => format!("{a}.{b}.{c}.{d}"),
        };
        if let Some(p) = port {
            text.push_str(&format!(":{p}"));
        }
        Ok(InetAddr { text, ip, port: port.unwrap_or(0) })
    }
}

/// `service.start`'s second argument.
#[derive(Arbitrary, Debug, Clone)]
pub enum When {
    /// No argument.
    Now,
    /// A timestamp (taken below 2³¹).
    At(u32),
    /// `-`.
    Cancel,
}

/// `fd.socket` arguments before normalisation.
#[derive(Arbitrary, Debug, Clone)]
pub struct SocketSpec {
    /// Domain selector.
    pub domain: u8,
    /// Type selector.
    pub ty: u8,
    /// Whether to give an address (ignored for inet6).
    pub bind: bool,
    /// The path when the domain is unix.
    pub unix: UnixPath,
    /// The address when the domain is inet.
    pub inet: InetAddr,
    /// Backlog (0 means no `listen`; only with an address).
    pub listen: u16,
    /// `mkdir`.
    pub mkdir: bool,
    /// `nonblock`.
    pub nonblock: bool,
}

/// A valid command, before it is viewed as a [`Command`].
#[derive(Arbitrary, Debug, Clone)]
#[allow(missing_docs)]
pub enum CmdSpec {
    Echo(Text),
    Statedump,
    Exit,
    ServiceArgs(NameBuf, Text),
    ServiceTags(NameBuf, Text),
    ServiceFds(NameBuf, FdListBuf),
    ServiceAutoUp(NameBuf, Option<u32>, TriggerList),
    ServiceStart(NameBuf, When),
    ServiceSignal(NameBuf, u16, bool),
    ServiceDelete(NameBuf),
    FdOpen(HandleName, [bool; 7], Field),
    FdPipe(HandleName, HandleName, bool, Option<(u8, u8)>),
    FdSocket(HandleName, SocketSpec),
    FdTake(HandleName),
    FdDelete(HandleName),
    SocketCreate(UnixPath),
    SocketDelete,
    Chdir(Field),
    LogFilter(Option<u8>),
    LogDest(NameBuf),
    ConnEventTimeout(u32, u32),
    SignalClear(u16, u64),
    Terminate(i64, Option<i64>),
    TerminateGuard(bool, i64),
    TerminateExecArgs(ExecArgs),
    ServiceEnv(NameBuf, EnvListBuf),
    ServiceCwd(NameBuf, Option<CwdPath>),
    ServiceUser(NameBuf, Option<UserBuf>),
    ServiceRlimit(NameBuf, RlimitsBuf),
    ServiceUmask(NameBuf, Option<u16>),
    ServiceNotify(NameBuf, Option<Option<u16>>),
    ServiceListenFds(NameBuf, bool),
    ConnExtended(bool),
    Reexec(Text),
    Unknown(UnknownName),
}

impl CmdSpec {
    /// The command, normalised to a valid value.
    pub fn command(&self) -> Command<'_> {
        match self {
            CmdSpec::Echo(t) => Command::Echo { text: &t.0 },
            CmdSpec::Statedump => Command::Statedump,
            CmdSpec::Exit => Command::Exit,
            CmdSpec::ServiceArgs(n, t) => Command::ServiceArgs { name: n.name(), args: &t.0 },
            CmdSpec::ServiceTags(n, t) => Command::ServiceTags { name: n.name(), tags: &t.0 },
            CmdSpec::ServiceFds(n, l) => {
                Command::ServiceFds { name: n.name(), fds: FdList::new(&l.0).expect("generated list is valid") }
            }
            CmdSpec::ServiceAutoUp(n, i, t) => Command::ServiceAutoUp {
                name: n.name(),
                interval: i.map(|i| i % MAX_INTERVAL + 1),
                triggers: t.triggers(),
            },
            CmdSpec::ServiceStart(n, w) => Command::ServiceStart {
                name: n.name(),
                when: match w {
                    When::Now => StartWhen::Now,
                    When::At(t) => StartWhen::At(t & 0x7FFF_FFFF),
                    When::Cancel => StartWhen::Cancel,
                },
            },
            CmdSpec::ServiceSignal(n, s, group) => {
                Command::ServiceSignal { name: n.name(), signal: Signal::from_number(*s), group: *group }
            }
            CmdSpec::ServiceDelete(n) => Command::ServiceDelete { name: n.name() },
            CmdSpec::FdOpen(n, f, p) => Command::FdOpen { name: n.name(), flags: open_flags(*f), path: &p.0 },
            CmdSpec::FdPipe(r, w, nonblock, socket) => {
                let read = r.name();
                let mut write = w.name();
                if read == write {
                    let other = if read.as_str() == "w" { "r" } else { "w" };
                    write = Name::from_text(other).expect("valid");
                }
                let socket = socket.map(|(d, t)| (domain(d), sock_type(t)));
                Command::FdPipe { read, write, flags: PipeFlags { nonblock: *nonblock, socket } }
            }
            CmdSpec::FdSocket(n, s) => {
                let d = domain(s.domain);
                let addr = match d {
                    _ if !s.bind => None,
                    Domain::Unix => Some(SocketAddr { text: &s.unix.0, kind: AddrKind::Unix(&s.unix.0) }),
                    Domain::Inet => Some(SocketAddr {
                        text: s.inet.text.as_bytes(),
                        kind: AddrKind::Inet { ip: s.inet.ip, port: s.inet.port },
                    }),
                    Domain::Inet6 => None,
                };
                let flags = SocketFlags {
                    domain: d,
                    ty: sock_type(s.ty),
                    bind: addr.is_some(),
                    listen: addr.and(Some(s.listen).filter(|&l| l > 0)),
                    mkdir: s.mkdir,
                    nonblock: s.nonblock,
                };
                Command::FdSocket { name: n.name(), flags, addr }
            }
            CmdSpec::FdTake(n) => Command::FdTake { name: n.name() },
            CmdSpec::FdDelete(n) => Command::FdDelete { name: n.name() },
            CmdSpec::SocketCreate(p) => Command::SocketCreate { path: &p.0 },
            CmdSpec::SocketDelete => Command::SocketDelete,
            CmdSpec::Chdir(p) => Command::Chdir { path: &p.0 },
            CmdSpec::LogFilter(a) => Command::LogFilter {
                arg: a.map(|a| match a % 9 {
                    7 => LogFilterArg::Raise,
                    8 => LogFilterArg::Lower,
                    l => LogFilterArg::Set(level(l)),
                }),
            },
            CmdSpec::LogDest(n) => Command::LogDest { name: n.name() },
            CmdSpec::ConnEventTimeout(a, b) => {
                let (a, b) = (a & MAX_TIMEOUT, b & MAX_TIMEOUT);
                Command::ConnEventTimeout { reset: a.min(b), close: a.max(b) }
            }
            CmdSpec::SignalClear(s, c) => {
                Command::SignalClear { signal: Signal::from_number(*s), count: c & i64::MAX as u64 }
            }
            CmdSpec::Terminate(code, guard) => Command::Terminate { code: *code, guard: *guard },
            CmdSpec::TerminateGuard(set, code) => {
                Command::TerminateGuard { set: *set, code: if *code == 0 { 1 } else { *code } }
            }
            CmdSpec::TerminateExecArgs(a) => Command::TerminateExecArgs { args: &a.0 },
            CmdSpec::ServiceEnv(n, e) => Command::ServiceEnv { name: n.name(), env: e.env() },
            CmdSpec::ServiceCwd(n, p) => Command::ServiceCwd { name: n.name(), path: p.as_ref().map(|p| &p.0[..]) },
            CmdSpec::ServiceUser(n, ids) => {
                Command::ServiceUser { name: n.name(), user: ids.as_ref().map(UserBuf::ids) }
            }
            CmdSpec::ServiceRlimit(n, l) => Command::ServiceRlimit { name: n.name(), limits: l.limits() },
            CmdSpec::ServiceUmask(n, m) => Command::ServiceUmask { name: n.name(), umask: umask(*m) },
            CmdSpec::ServiceNotify(n, m) => Command::ServiceNotify { name: n.name(), mode: notify_mode(*m) },
            CmdSpec::ServiceListenFds(n, on) => Command::ServiceListenFds { name: n.name(), on: *on },
            CmdSpec::ConnExtended(on) => Command::ConnExtended { on: *on },
            // Leading TABs would make the program name empty.
            CmdSpec::Reexec(a) => {
                let start = a.0.iter().position(|&b| b != b'\t').unwrap_or(a.0.len());
                Command::Reexec { args: &a.0[start..] }
            }
            CmdSpec::Unknown(n) => Command::Unknown { name: &n.0 },
        }
    }
}

/// Event text: no LF.
#[derive(Debug, Clone)]
pub struct EvText(pub Vec<u8>);

impl<'a> Arbitrary<'a> for EvText {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        bytes_without(u, b"\n").map(EvText)
    }
}

/// One event field: no TAB or LF.
#[derive(Debug, Clone)]
pub struct EvField(pub Vec<u8>);

impl<'a> Arbitrary<'a> for EvField {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        bytes_without(u, b"\t\n").map(EvField)
    }
}

/// Whether `line` would parse as something other than [`Event::Echo`]: its
/// first field is an event name, or it is the `warning: fd "X" is not yet
/// defined` form.
pub fn looks_like_event(line: &[u8]) -> bool {
    let first = line.split(|&b| b == b'\t').next().unwrap_or(b"");
    let (pre, post): (&[u8], &[u8]) = (b"warning: fd \"", b"\" is not yet defined");
    EVENT_NAMES.contains(&first)
        || (!line.contains(&b'\t') && line.starts_with(pre) && line[pre.len()..].ends_with(post))
}

/// A line that parses as [`Event::Echo`].
#[derive(Debug, Clone)]
pub struct EchoLine(pub Vec<u8>);

impl<'a> Arbitrary<'a> for EchoLine {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut v = EvText::arbitrary(u)?.0;
        if looks_like_event(&v) {
            v.insert(0, b'x');
        }
        Ok(EchoLine(v))
    }
}

/// An exit reason.
#[derive(Arbitrary, Debug, Clone)]
pub enum ReasonSpec {
    /// Exit status.
    Exit(u8),
    /// Signal 0..=31 (only those print and parse back as themselves).
    Signal(u8),
}

/// A service state.
#[derive(Arbitrary, Debug, Clone)]
#[allow(missing_docs)]
pub enum StateSpec {
    Down,
    Start(u64),
    Up(u64, u32, u64),
    Exited(u64, u32, ReasonSpec, u64, u64),
    Deleted,
}

/// What a handle is.
#[derive(Arbitrary, Debug, Clone)]
#[allow(missing_docs)]
pub enum FdInfoSpec {
    File([bool; 7], EvField),
    Pipe(bool, Option<(u8, u8)>, bool, Option<NameBuf>),
    Socket(u8, u8, bool, u16, bool, bool, EvField),
    Special(u8),
    Deleted,
}

/// A valid event, before it is viewed as an [`Event`].
#[derive(Arbitrary, Debug, Clone)]
#[allow(missing_docs)]
pub enum EvSpec {
    State(NameBuf, StateSpec),
    Args(NameBuf, EvText),
    Tags(NameBuf, EvText),
    Fds(NameBuf, EvText),
    AutoUp(NameBuf, Option<(u32, TriggerList)>),
    Fd(NameBuf, FdInfoSpec),
    Signal(u8, u64, u64),
    Error(EvText),
    NotYetDefined(EvField),
    DoesNotExist(NameBuf),
    Overflow,
    LogFilter(u8),
    Info(EvText),
    Env(NameBuf, EnvListBuf),
    Cwd(NameBuf, Option<CwdPath>),
    User(NameBuf, Option<UserBuf>),
    Rlimit(NameBuf, RlimitsBuf),
    Umask(NameBuf, Option<u16>),
    Notify(NameBuf, Option<Option<u16>>),
    ListenFds(NameBuf, bool),
    Ready(NameBuf, u64, u32),
    NotifyMessage(NameBuf, u64, u32, NotifyFieldsBuf),
    Rusage(NameBuf, [u64; 4]),
    OrphanExit(u32, u64, ReasonSpec),
    Echo(EchoLine),
}

fn event_signal(n: u8) -> Signal {
    Signal::from_number(u16::from(n % 32))
}

fn exit_reason(r: &ReasonSpec) -> ExitReason {
    match *r {
        ReasonSpec::Exit(s) => ExitReason::Exit(s),
        ReasonSpec::Signal(s) => ExitReason::Signal(event_signal(s)),
    }
}

impl EvSpec {
    /// The event, normalised to a valid value.
    pub fn event(&self) -> Event<'_> {
        match self {
            EvSpec::State(n, s) => Event::ServiceState {
                name: n.name(),
                state: match *s {
                    StateSpec::Down => ServiceState::Down,
                    StateSpec::Start(at) => ServiceState::Start { at },
                    StateSpec::Up(since, pid, uptime) => ServiceState::Up { since, pid, uptime },
                    StateSpec::Exited(at, pid, ref r, uptime, downtime) => {
                        ServiceState::Exited { at, pid, reason: exit_reason(r), uptime, downtime }
                    }
                    StateSpec::Deleted => ServiceState::Deleted,
                },
            },
            EvSpec::Args(n, t) => Event::ServiceArgs { name: n.name(), args: &t.0 },
            EvSpec::Tags(n, t) => Event::ServiceTags { name: n.name(), tags: &t.0 },
            EvSpec::Fds(n, t) => Event::ServiceFds { name: n.name(), fds: &t.0 },
            EvSpec::AutoUp(n, a) => {
                Event::ServiceAutoUp { name: n.name(), auto_up: a.as_ref().map(|(i, t)| (*i, t.triggers())) }
            }
            EvSpec::Fd(n, info) => Event::FdState {
                name: n.name(),
                info: match info {
                    FdInfoSpec::File(f, d) => FdInfo::File { flags: open_flags(*f), description: &d.0 },
                    FdInfoSpec::Pipe(nonblock, socket, read_end, peer) => {
                        let socket = socket.map(|(d, t)| (domain(d), sock_type(t)));
                        FdInfo::Pipe {
                            flags: PipeFlags { nonblock: *nonblock, socket },
                            // Both ends of a socketpair print `to`.
                            read_end: *read_end && socket.is_none(),
                            peer: peer.as_ref().map(NameBuf::name),
                        }
                    }
                    FdInfoSpec::Socket(d, t, bind, listen, mkdir, nonblock, desc) => {
                        let listen = Some(*listen).filter(|&l| l > 0);
                        let flags = SocketFlags {
                            domain: domain(*d),
                            ty: sock_type(*t),
                            bind: *bind || listen.is_some(),
                            listen,
                            mkdir: *mkdir,
                            nonblock: *nonblock,
                        };
                        FdInfo::Socket { flags, description: &desc.0 }
                    }
                    FdInfoSpec::Special(s) => FdInfo::Special(Special::ALL[usize::from(s % 4)]),
                    FdInfoSpec::Deleted => FdInfo::Deleted,
                },
            },
            EvSpec::Signal(s, at, count) => Event::Signal { signal: event_signal(*s), at: *at, count: *count },
            EvSpec::Error(t) => Event::Error { message: &t.0 },
            EvSpec::NotYetDefined(e) => Event::FdNotYetDefined { entry: &e.0 },
            EvSpec::DoesNotExist(n) => Event::FdDoesNotExist { name: n.name() },
            EvSpec::Overflow => Event::Overflow,
            EvSpec::LogFilter(l) => Event::LogFilter { level: level(*l) },
            EvSpec::Info(t) => Event::Info { text: &t.0 },
            EvSpec::Env(n, e) => Event::ServiceEnv { name: n.name(), env: e.env() },
            EvSpec::Cwd(n, p) => Event::ServiceCwd { name: n.name(), path: p.as_ref().map(|p| &p.0[..]) },
            EvSpec::User(n, ids) => Event::ServiceUser { name: n.name(), user: ids.as_ref().map(UserBuf::ids) },
            EvSpec::Rlimit(n, l) => Event::ServiceRlimit { name: n.name(), limits: l.limits() },
            EvSpec::Umask(n, m) => Event::ServiceUmask { name: n.name(), umask: umask(*m) },
            EvSpec::Notify(n, m) => Event::ServiceNotify { name: n.name(), mode: notify_mode(*m) },
            EvSpec::ListenFds(n, on) => Event::ServiceListenFds { name: n.name(), on: *on },
            EvSpec::Ready(n, at, pid) => Event::ServiceReady { name: n.name(), at: *at, pid: *pid },
            EvSpec::NotifyMessage(n, at, pid, f) => Event::ServiceNotifyMessage {
                name: n.name(),
                at: *at,
                pid: *pid,
                fields: NotifyFields::new(&f.0).expect("generated fields are valid"),
            },
            EvSpec::Rusage(n, [at, utime_us, stime_us, maxrss_kb]) => Event::ServiceRusage {
                name: n.name(),
                at: *at,
                utime_us: *utime_us,
                stime_us: *stime_us,
                maxrss_kb: *maxrss_kb,
            },
            EvSpec::OrphanExit(pid, at, r) => Event::OrphanExit { pid: *pid, at: *at, reason: exit_reason(r) },
            EvSpec::Echo(l) => Event::Echo { line: &l.0 },
        }
    }
}

#[path = "../../daemonproxy-proto/tests/support/framing.rs"]
mod framing;
pub use framing::{frame_chunked, frame_reference, Framed, OwnedFrame};
