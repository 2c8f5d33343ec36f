//! Property tests:
//!
//! * every valid [`Command`] and [`Event`] survives `encode` → `parse`;
//! * arbitrary bytes never make the parsers, `is_ignored` or the framer
//!   panic, and whatever parses re-encodes to a line that parses the same;
//! * the framer gives the same frames for any chunking, capacity and API as
//!   for the whole stream at once, and as a trivial reference model.
//!
//! The generators normalise values the way the types require (see
//! `valid_command` and `valid_event`); the fuzz targets in `fuzz/` build
//! the same shapes from fuzz input.

use daemonproxy_proto::{
    is_ignored, AddrKind, Command, CommandKind, Domain, EnvList, Event, ExitReason, FdInfo, FdList, Groups, Limit,
    LineFramer, LogFilterArg, LogLevel, Name, NotifyFields, NotifyMode, OpenFlags, PipeFlags, Resource, Rlimit,
    Rlimits, ServiceState, Signal, SockType, SocketAddr, SocketFlags, Special, StartWhen, Triggers, Umask, UserIds,
    MAX_EXEC_ARGS, MAX_INTERVAL, MAX_TIMEOUT, MAX_UNIX_PATH, NOTIFY_FDS,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::RngSeed;

/// `cases` cases from a fixed seed: every run checks the same inputs.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x6461_656d_6f6e),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const EVENT_NAMES: &[&str] = &[
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

// ------------------------------------------------------------ generators

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._-]{1,31}"
}

/// A handle name that is not a constant.
fn handle() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        select(&["stdin", "stdout", "stderr", "-", ".", "..", "fd_3", "control.cmdx"][..]).prop_map(str::to_owned),
    ]
    .prop_map(|s| if Special::from_name(s.as_bytes()).is_some() { s + "x" } else { s })
}

/// Bytes biased towards the protocol's separators, without `forbidden`.
fn bytes(max: usize, forbidden: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            3 => any::<u8>(),
            2 => select(&b"\t,=:-#\r\n\0 "[..]),
            3 => b'a'..=b'z',
        ],
        0..max,
    )
    .prop_map(move |mut v| {
        v.retain(|b| !forbidden.contains(b));
        v
    })
}

fn domain() -> impl Strategy<Value = Domain> {
    select(&[Domain::Unix, Domain::Inet, Domain::Inet6][..])
}

fn sock_type() -> impl Strategy<Value = SockType> {
    select(&[SockType::Stream, SockType::Dgram, SockType::Seqpacket][..])
}

fn level() -> impl Strategy<Value = LogLevel> {
    (0..7i32).prop_map(|i| LogLevel::None.step(i))
}

/// Open flags as `OpenFlags::parse` gives them: `read` unless `write`.
fn open_flags() -> impl Strategy<Value = OpenFlags> {
    any::<[bool; 7]>().prop_map(|[read, write, append, create, trunc, nonblock, mkdir]| OpenFlags {
        read: read || !write,
        write,
        append,
        create,
        trunc,
        nonblock,
        mkdir,
    })
}

fn pipe_flags() -> impl Strategy<Value = PipeFlags> {
    (any::<bool>(), proptest::option::of((domain(), sock_type())))
        .prop_map(|(nonblock, socket)| PipeFlags { nonblock, socket })
}

/// Socket flags as events show them: `listen` implies `bind`.
fn socket_flags() -> impl Strategy<Value = SocketFlags> {
    (domain(), sock_type(), any::<bool>(), proptest::option::of(1..=u16::MAX), any::<bool>(), any::<bool>()).prop_map(
        |(domain, ty, bind, listen, mkdir, nonblock)| SocketFlags {
            domain,
            ty,
            bind: bind || listen.is_some(),
            listen,
            mkdir,
            nonblock,
        },
    )
}

/// Every trigger word: `always` and each signal name with and without `SIG`.
fn trigger_words() -> Vec<String> {
    let mut v = vec!["always".to_owned()];
    let names = (1..=31u16).filter_map(|n| Signal::from_number(n).name()).chain(["IOT", "CLD", "POLL"]);
    for n in names {
        v.push(n.to_owned());
        v.push(format!("SIG{n}"));
    }
    v
}

/// A raw trigger list: words and empty fields.
fn triggers() -> impl Strategy<Value = Vec<u8>> {
    vec(prop_oneof![1 => Just(String::new()), 4 => select(trigger_words())], 0..5)
        .prop_map(|items| items.join("\t").into_bytes())
}

/// A raw `service.fds` list: names, `-` and empty entries.
fn fd_list() -> impl Strategy<Value = Vec<u8>> {
    vec(prop_oneof![1 => Just(String::new()), 1 => Just("-".to_owned()), 4 => name()], 0..5)
        .prop_map(|items| items.join("\t").into_bytes())
}

/// A raw `service.env` list: assignments (VAR not starting with `-`) and
/// removals.
fn env_list() -> impl Strategy<Value = Vec<u8>> {
    let var = || bytes(8, b"\t\n\0=").prop_map(|v| [&b"V"[..], &v].concat());
    let entry = prop_oneof![
        (var(), bytes(12, b"\t\n\0")).prop_map(|(var, value)| [&var[..], b"=", &value].concat()),
        var().prop_map(|var| [&b"-"[..], &var].concat()),
    ];
    vec(entry, 0..4).prop_map(|items| items.join(&b'\t'))
}

/// A `service.cwd` path: one non-empty field.
fn cwd_path() -> impl Strategy<Value = Vec<u8>> {
    bytes(30, b"\t\n\0").prop_map(|p| [&b"/"[..], &p].concat())
}

/// `service.user` ids: uid, gid and the raw supplementary groups.
fn user_ids() -> impl Strategy<Value = (u32, u32, Vec<u8>)> {
    let id = || prop_oneof![0..u32::MAX, Just(0), Just(u32::MAX - 1)];
    (id(), id(), vec(id(), 0..4)).prop_map(|(uid, gid, groups)| {
        let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
        (uid, gid, groups.join("\t").into_bytes())
    })
}

fn user_view((uid, gid, groups): &(u32, u32, Vec<u8>)) -> UserIds<'_> {
    let groups = if groups.is_empty() { Groups::NONE } else { Groups::new(groups).expect("valid groups") };
    UserIds { uid: *uid, gid: *gid, groups }
}

/// A raw `service.rlimit` list: distinct resources, soft never above hard.
fn rlimits() -> impl Strategy<Value = Vec<u8>> {
    let limit = || {
        prop_oneof![Just(Limit::Unlimited), (0..u64::MAX).prop_map(Limit::Finite), (0..5u64).prop_map(Limit::Finite)]
    };
    let entry = (select(Resource::ALL), limit(), limit());
    vec(entry, 0..4).prop_map(|entries| {
        let mut seen = Vec::new();
        let mut out: Vec<Vec<u8>> = Vec::new();
        for (resource, a, b) in entries {
            if !seen.contains(&resource) {
                seen.push(resource);
                let mut v = Vec::new();
                Rlimit { resource, soft: a.min(b), hard: a.max(b) }.write_to(&mut v);
                out.push(v);
            }
        }
        out.join(&b'\t')
    })
}

fn umask() -> impl Strategy<Value = Option<Umask>> {
    proptest::option::of((0..=0o777u16).prop_map(|m| Umask::new(m).expect("in range")))
}

fn notify_mode() -> impl Strategy<Value = Option<NotifyMode>> {
    proptest::option::of(prop_oneof![Just(NotifyMode::Socket), NOTIFY_FDS.prop_map(NotifyMode::Fd)])
}

/// The fields of a readiness message: one or more non-empty fields.
fn notify_fields() -> impl Strategy<Value = Vec<u8>> {
    vec(bytes(16, b"\t\n\0").prop_map(|f| [&b"F"[..], &f].concat()), 1..4).prop_map(|f| f.join(&b'\t'))
}

fn exit_reason() -> impl Strategy<Value = ExitReason> {
    prop_oneof![any::<u8>().prop_map(ExitReason::Exit), event_signal().prop_map(ExitReason::Signal)]
}

/// A signal as events print it: a named one, or 0 for `SIG-?`.
fn event_signal() -> impl Strategy<Value = Signal> {
    (0..=31u16).prop_map(Signal::from_number)
}

/// An `fd.socket` address for its domain, with its text.
#[derive(Clone, Debug)]
enum Addr {
    Unix(Vec<u8>),
    Inet(String, Option<[u8; 4]>, u16),
}

/// Domain, flags and address of a valid `fd.socket`: an address exactly
/// when `bind` (never for inet6), `listen` only with an address.
fn socket_args() -> impl Strategy<Value = (SocketFlags, Option<Addr>)> {
    let unix = bytes(MAX_UNIX_PATH, b"\t\n\0").prop_map(|mut p| {
        if p.is_empty() {
            p.push(b'/');
        }
        Addr::Unix(p)
    });
    let inet = (proptest::option::of(any::<[u8; 4]>()), proptest::option::of(any::<u16>())).prop_map(|(ip, port)| {
        let mut text = ip.map_or("*".to_owned(), |[a, b, c, d]| format!("{a}.{b}.{c}.{d}"));
        if let Some(p) = port {
            text += &format!(":{p}");
        }
        Addr::Inet(text, ip, port.unwrap_or(0))
    });
    (socket_flags(), unix, inet, any::<bool>()).prop_map(|(mut flags, unix, inet, bind)| {
        let addr = match flags.domain {
            _ if !bind => None,
            Domain::Unix => Some(unix),
            Domain::Inet => Some(inet),
            Domain::Inet6 => None,
        };
        flags.bind = addr.is_some();
        if addr.is_none() {
            flags.listen = None;
        }
        (flags, addr)
    })
}

/// Owned data of a valid command; [`Cmd::command`] views it.
#[derive(Clone, Debug)]
enum Cmd {
    Echo(Vec<u8>),
    Statedump,
    Exit,
    ServiceArgs(String, Vec<u8>),
    ServiceTags(String, Vec<u8>),
    ServiceFds(String, Vec<u8>),
    ServiceAutoUp(String, Option<u32>, Vec<u8>),
    ServiceStart(String, StartWhen),
    ServiceSignal(String, u16, bool),
    ServiceDelete(String),
    FdOpen(String, OpenFlags, Vec<u8>),
    FdPipe(String, String, PipeFlags),
    FdSocket(String, SocketFlags, Option<Addr>),
    FdTake(String),
    FdDelete(String),
    SocketCreate(Vec<u8>),
    SocketDelete,
    Chdir(Vec<u8>),
    LogFilter(Option<LogFilterArg>),
    LogDest(String),
    ConnEventTimeout(u32, u32),
    SignalClear(u16, u64),
    Terminate(i64, Option<i64>),
    TerminateGuard(bool, i64),
    TerminateExecArgs(Vec<u8>),
    ServiceEnv(String, Vec<u8>),
    ServiceCwd(String, Option<Vec<u8>>),
    ServiceUser(String, Option<(u32, u32, Vec<u8>)>),
    ServiceRlimit(String, Vec<u8>),
    ServiceUmask(String, Option<Umask>),
    ServiceNotify(String, Option<NotifyMode>),
    ServiceListenFds(String, bool),
    ConnExtended(bool),
    Reexec(Vec<u8>),
    Unknown(Vec<u8>),
}

fn nm(s: &str) -> Name<'_> {
    Name::from_text(s).expect("generated names are valid")
}

impl Cmd {
    fn command(&self) -> Command<'_> {
        match self {
            Cmd::Echo(t) => Command::Echo { text: t },
            Cmd::Statedump => Command::Statedump,
            Cmd::Exit => Command::Exit,
            Cmd::ServiceArgs(n, a) => Command::ServiceArgs { name: nm(n), args: a },
            Cmd::ServiceTags(n, t) => Command::ServiceTags { name: nm(n), tags: t },
            Cmd::ServiceFds(n, l) => Command::ServiceFds { name: nm(n), fds: FdList::new(l).expect("valid list") },
            Cmd::ServiceAutoUp(n, i, t) => Command::ServiceAutoUp {
                name: nm(n),
                interval: *i,
                triggers: Triggers::new(t).expect("valid triggers"),
            },
            Cmd::ServiceStart(n, when) => Command::ServiceStart { name: nm(n), when: *when },
            Cmd::ServiceSignal(n, s, group) => {
                Command::ServiceSignal { name: nm(n), signal: Signal::from_number(*s), group: *group }
            }
            Cmd::ServiceDelete(n) => Command::ServiceDelete { name: nm(n) },
            Cmd::FdOpen(n, flags, path) => Command::FdOpen { name: nm(n), flags: *flags, path },
            Cmd::FdPipe(r, w, flags) => Command::FdPipe { read: nm(r), write: nm(w), flags: *flags },
            Cmd::FdSocket(n, flags, addr) => Command::FdSocket {
                name: nm(n),
                flags: *flags,
                addr: addr.as_ref().map(|a| match a {
                    Addr::Unix(p) => SocketAddr { text: p, kind: AddrKind::Unix(p) },
                    Addr::Inet(text, ip, port) => {
                        SocketAddr { text: text.as_bytes(), kind: AddrKind::Inet { ip: *ip, port: *port } }
                    }
                }),
            },
            Cmd::FdTake(n) => Command::FdTake { name: nm(n) },
            Cmd::FdDelete(n) => Command::FdDelete { name: nm(n) },
            Cmd::SocketCreate(p) => Command::SocketCreate { path: p },
            Cmd::SocketDelete => Command::SocketDelete,
            Cmd::Chdir(p) => Command::Chdir { path: p },
            Cmd::LogFilter(arg) => Command::LogFilter { arg: *arg },
            Cmd::LogDest(n) => Command::LogDest { name: nm(n) },
            Cmd::ConnEventTimeout(reset, close) => Command::ConnEventTimeout { reset: *reset, close: *close },
            Cmd::SignalClear(s, count) => Command::SignalClear { signal: Signal::from_number(*s), count: *count },
            Cmd::Terminate(code, guard) => Command::Terminate { code: *code, guard: *guard },
            Cmd::TerminateGuard(set, code) => Command::TerminateGuard { set: *set, code: *code },
            Cmd::TerminateExecArgs(a) => Command::TerminateExecArgs { args: a },
            Cmd::ServiceEnv(n, e) => Command::ServiceEnv { name: nm(n), env: EnvList::new(e).expect("valid env") },
            Cmd::ServiceCwd(n, p) => Command::ServiceCwd { name: nm(n), path: p.as_deref() },
            Cmd::ServiceUser(n, u) => Command::ServiceUser { name: nm(n), user: u.as_ref().map(user_view) },
            Cmd::ServiceRlimit(n, l) => {
                Command::ServiceRlimit { name: nm(n), limits: Rlimits::new(l).expect("valid limits") }
            }
            Cmd::ServiceUmask(n, m) => Command::ServiceUmask { name: nm(n), umask: *m },
            Cmd::ServiceNotify(n, m) => Command::ServiceNotify { name: nm(n), mode: *m },
            Cmd::ServiceListenFds(n, on) => Command::ServiceListenFds { name: nm(n), on: *on },
            Cmd::ConnExtended(on) => Command::ConnExtended { on: *on },
            Cmd::Reexec(a) => Command::Reexec { args: a },
            Cmd::Unknown(n) => Command::Unknown { name: n },
        }
    }
}

/// Every command variant, with valid, normalised arguments.
fn valid_command() -> impl Strategy<Value = Cmd> {
    let text = || bytes(60, b"\n\0");
    let field = || bytes(40, b"\t\n\0");
    prop_oneof![
        text().prop_map(Cmd::Echo),
        Just(Cmd::Statedump),
        Just(Cmd::Exit),
        (name(), text()).prop_map(|(n, a)| Cmd::ServiceArgs(n, a)),
        (name(), text()).prop_map(|(n, t)| Cmd::ServiceTags(n, t)),
        (name(), fd_list()).prop_map(|(n, l)| Cmd::ServiceFds(n, l)),
        (name(), proptest::option::of(1..=MAX_INTERVAL), triggers()).prop_map(|(n, i, t)| Cmd::ServiceAutoUp(n, i, t)),
        (
            name(),
            prop_oneof![Just(StartWhen::Now), Just(StartWhen::Cancel), (0..=i32::MAX as u32).prop_map(StartWhen::At)]
        )
            .prop_map(|(n, w)| Cmd::ServiceStart(n, w)),
        (name(), any::<u16>(), any::<bool>()).prop_map(|(n, s, g)| Cmd::ServiceSignal(n, s, g)),
        name().prop_map(Cmd::ServiceDelete),
        (handle(), open_flags(), field()).prop_map(|(n, f, p)| Cmd::FdOpen(n, f, p)),
        (handle(), handle(), pipe_flags()).prop_map(|(r, w, f)| {
            // The two ends must differ.
            let w = if w == r {
                let c = if r.ends_with('w') { 'v' } else { 'w' };
                format!("{}{c}", &r[..r.len().min(30)])
            } else {
                w
            };
            Cmd::FdPipe(r, w, f)
        }),
        (handle(), socket_args()).prop_map(|(n, (f, a))| Cmd::FdSocket(n, f, a)),
        handle().prop_map(Cmd::FdTake),
        handle().prop_map(Cmd::FdDelete),
        bytes(MAX_UNIX_PATH + 1, b"\t\n\0").prop_map(|mut p| {
            p.truncate(MAX_UNIX_PATH);
            if p.is_empty() {
                p.push(b'/');
            }
            Cmd::SocketCreate(p)
        }),
        Just(Cmd::SocketDelete),
        field().prop_map(Cmd::Chdir),
        proptest::option::of(prop_oneof![
            Just(LogFilterArg::Raise),
            Just(LogFilterArg::Lower),
            level().prop_map(LogFilterArg::Set)
        ])
        .prop_map(Cmd::LogFilter),
        name().prop_map(Cmd::LogDest),
        (0..=MAX_TIMEOUT, 0..=MAX_TIMEOUT).prop_map(|(a, b)| Cmd::ConnEventTimeout(a.min(b), a.max(b))),
        (any::<u16>(), 0..=i64::MAX as u64).prop_map(|(s, c)| Cmd::SignalClear(s, c)),
        (any::<i64>(), proptest::option::of(any::<i64>())).prop_map(|(c, g)| Cmd::Terminate(c, g)),
        (any::<bool>(), any::<i64>().prop_filter("nonzero", |&c| c != 0)).prop_map(|(s, c)| Cmd::TerminateGuard(s, c)),
        bytes(MAX_EXEC_ARGS + 40, b"\n\0").prop_map(|mut a| {
            a.truncate(MAX_EXEC_ARGS);
            Cmd::TerminateExecArgs(a)
        }),
        (name(), env_list()).prop_map(|(n, e)| Cmd::ServiceEnv(n, e)),
        (name(), proptest::option::of(cwd_path())).prop_map(|(n, p)| Cmd::ServiceCwd(n, p)),
        (name(), proptest::option::of(user_ids())).prop_map(|(n, u)| Cmd::ServiceUser(n, u)),
        (name(), rlimits()).prop_map(|(n, l)| Cmd::ServiceRlimit(n, l)),
        (name(), umask()).prop_map(|(n, m)| Cmd::ServiceUmask(n, m)),
        (name(), notify_mode()).prop_map(|(n, m)| Cmd::ServiceNotify(n, m)),
        (name(), any::<bool>()).prop_map(|(n, on)| Cmd::ServiceListenFds(n, on)),
        any::<bool>().prop_map(Cmd::ConnExtended),
        // A program name first, when there are arguments at all.
        text().prop_map(|a| Cmd::Reexec(if a.first() == Some(&b'\t') { [&b"p"[..], &a].concat() } else { a })),
        bytes(20, b"\t\n").prop_map(|mut n| {
            if CommandKind::from_name(&n).is_some() {
                n.push(b'?');
            }
            Cmd::Unknown(n)
        }),
    ]
}

/// Owned data of a valid event; [`Ev::event`] views it.
#[derive(Clone, Debug)]
enum Ev {
    State(String, ServiceState),
    Args(String, Vec<u8>),
    Tags(String, Vec<u8>),
    Fds(String, Vec<u8>),
    AutoUp(String, Option<(u32, Vec<u8>)>),
    File(String, OpenFlags, Vec<u8>),
    Pipe(String, PipeFlags, bool, Option<String>),
    Socket(String, SocketFlags, Vec<u8>),
    Special(String, Special),
    Deleted(String),
    Signal(Signal, u64, u64),
    Error(Vec<u8>),
    NotYetDefined(Vec<u8>),
    DoesNotExist(String),
    Overflow,
    LogFilter(LogLevel),
    Info(Vec<u8>),
    Env(String, Vec<u8>),
    Cwd(String, Option<Vec<u8>>),
    User(String, Option<(u32, u32, Vec<u8>)>),
    Rlimit(String, Vec<u8>),
    Umask(String, Option<Umask>),
    Notify(String, Option<NotifyMode>),
    ListenFds(String, bool),
    Ready(String, u64, u32),
    NotifyMessage(String, u64, u32, Vec<u8>),
    Rusage(String, [u64; 4]),
    OrphanExit(u32, u64, ExitReason),
    Echo(Vec<u8>),
}

impl Ev {
    fn event(&self) -> Event<'_> {
        match self {
            Ev::State(n, state) => Event::ServiceState { name: nm(n), state: *state },
            Ev::Args(n, a) => Event::ServiceArgs { name: nm(n), args: a },
            Ev::Tags(n, t) => Event::ServiceTags { name: nm(n), tags: t },
            Ev::Fds(n, f) => Event::ServiceFds { name: nm(n), fds: f },
            Ev::AutoUp(n, a) => Event::ServiceAutoUp {
                name: nm(n),
                auto_up: a.as_ref().map(|(i, t)| (*i, Triggers::new(t).expect("valid triggers"))),
            },
            Ev::File(n, flags, d) => {
                Event::FdState { name: nm(n), info: FdInfo::File { flags: *flags, description: d } }
            }
            Ev::Pipe(n, flags, read_end, peer) => Event::FdState {
                name: nm(n),
                info: FdInfo::Pipe { flags: *flags, read_end: *read_end, peer: peer.as_deref().map(nm) },
            },
            Ev::Socket(n, flags, d) => {
                Event::FdState { name: nm(n), info: FdInfo::Socket { flags: *flags, description: d } }
            }
            Ev::Special(n, s) => Event::FdState { name: nm(n), info: FdInfo::Special(*s) },
            Ev::Deleted(n) => Event::FdState { name: nm(n), info: FdInfo::Deleted },
            Ev::Signal(signal, at, count) => Event::Signal { signal: *signal, at: *at, count: *count },
            Ev::Error(m) => Event::Error { message: m },
            Ev::NotYetDefined(e) => Event::FdNotYetDefined { entry: e },
            Ev::DoesNotExist(n) => Event::FdDoesNotExist { name: nm(n) },
            Ev::Overflow => Event::Overflow,
            Ev::LogFilter(level) => Event::LogFilter { level: *level },
            Ev::Info(t) => Event::Info { text: t },
            Ev::Env(n, e) => Event::ServiceEnv { name: nm(n), env: EnvList::new(e).expect("valid env") },
            Ev::Cwd(n, p) => Event::ServiceCwd { name: nm(n), path: p.as_deref() },
            Ev::User(n, u) => Event::ServiceUser { name: nm(n), user: u.as_ref().map(user_view) },
            Ev::Rlimit(n, l) => Event::ServiceRlimit { name: nm(n), limits: Rlimits::new(l).expect("valid limits") },
            Ev::Umask(n, m) => Event::ServiceUmask { name: nm(n), umask: *m },
            Ev::Notify(n, m) => Event::ServiceNotify { name: nm(n), mode: *m },
            Ev::ListenFds(n, on) => Event::ServiceListenFds { name: nm(n), on: *on },
            Ev::Ready(n, at, pid) => Event::ServiceReady { name: nm(n), at: *at, pid: *pid },
            Ev::NotifyMessage(n, at, pid, f) => Event::ServiceNotifyMessage {
                name: nm(n),
                at: *at,
                pid: *pid,
                fields: NotifyFields::new(f).expect("valid fields"),
            },
            Ev::Rusage(n, [at, utime_us, stime_us, maxrss_kb]) => Event::ServiceRusage {
                name: nm(n),
                at: *at,
                utime_us: *utime_us,
                stime_us: *stime_us,
                maxrss_kb: *maxrss_kb,
            },
            Ev::OrphanExit(pid, at, reason) => Event::OrphanExit { pid: *pid, at: *at, reason: *reason },
            Ev::Echo(l) => Event::Echo { line: l },
        }
    }
}

/// Whether `line` would be read as an event rather than an echo line.
fn looks_like_event(line: &[u8]) -> bool {
    let first = line.split(|&b| b == b'\t').next().unwrap_or(b"");
    let (pre, post): (&[u8], &[u8]) = (b"warning: fd \"", b"\" is not yet defined");
    EVENT_NAMES.iter().any(|e| e.as_bytes() == first)
        || (!line.contains(&b'\t') && line.starts_with(pre) && line[pre.len()..].ends_with(post))
}

fn service_state() -> impl Strategy<Value = ServiceState> {
    let reason = exit_reason();
    prop_oneof![
        Just(ServiceState::Down),
        Just(ServiceState::Deleted),
        any::<u64>().prop_map(|at| ServiceState::Start { at }),
        any::<(u64, u32, u64)>().prop_map(|(since, pid, uptime)| ServiceState::Up { since, pid, uptime }),
        (any::<u64>(), any::<u32>(), reason, any::<u64>(), any::<u64>())
            .prop_map(|(at, pid, reason, uptime, downtime)| ServiceState::Exited { at, pid, reason, uptime, downtime }),
    ]
}

/// Every event variant, with valid, normalised fields.
fn valid_event() -> impl Strategy<Value = Ev> {
    let text = || bytes(60, b"\n");
    let field = || bytes(40, b"\t\n");
    prop_oneof![
        (name(), service_state()).prop_map(|(n, s)| Ev::State(n, s)),
        (name(), text()).prop_map(|(n, t)| Ev::Args(n, t)),
        (name(), text()).prop_map(|(n, t)| Ev::Tags(n, t)),
        (name(), text()).prop_map(|(n, t)| Ev::Fds(n, t)),
        (name(), proptest::option::of((any::<u32>(), triggers()))).prop_map(|(n, a)| Ev::AutoUp(n, a)),
        (name(), open_flags(), field()).prop_map(|(n, f, d)| Ev::File(n, f, d)),
        // Both ends of a socketpair print `to`.
        (name(), pipe_flags(), any::<bool>(), proptest::option::of(name())).prop_map(|(n, f, r, p)| Ev::Pipe(
            n,
            f,
            r && f.socket.is_none(),
            p
        )),
        (name(), socket_flags(), field()).prop_map(|(n, f, d)| Ev::Socket(n, f, d)),
        (name(), select(&Special::ALL[..])).prop_map(|(n, s)| Ev::Special(n, s)),
        name().prop_map(Ev::Deleted),
        (event_signal(), any::<u64>(), any::<u64>()).prop_map(|(s, a, c)| Ev::Signal(s, a, c)),
        text().prop_map(Ev::Error),
        field().prop_map(Ev::NotYetDefined),
        name().prop_map(Ev::DoesNotExist),
        Just(Ev::Overflow),
        level().prop_map(Ev::LogFilter),
        text().prop_map(Ev::Info),
        (name(), env_list()).prop_map(|(n, e)| Ev::Env(n, e)),
        (name(), proptest::option::of(cwd_path())).prop_map(|(n, p)| Ev::Cwd(n, p)),
        (name(), proptest::option::of(user_ids())).prop_map(|(n, u)| Ev::User(n, u)),
        (name(), rlimits()).prop_map(|(n, l)| Ev::Rlimit(n, l)),
        (name(), umask()).prop_map(|(n, m)| Ev::Umask(n, m)),
        (name(), notify_mode()).prop_map(|(n, m)| Ev::Notify(n, m)),
        (name(), any::<bool>()).prop_map(|(n, on)| Ev::ListenFds(n, on)),
        (name(), any::<u64>(), any::<u32>()).prop_map(|(n, at, pid)| Ev::Ready(n, at, pid)),
        (name(), any::<u64>(), any::<u32>(), notify_fields())
            .prop_map(|(n, at, pid, f)| Ev::NotifyMessage(n, at, pid, f)),
        (name(), any::<[u64; 4]>()).prop_map(|(n, v)| Ev::Rusage(n, v)),
        (any::<u32>(), any::<u64>(), exit_reason()).prop_map(|(pid, at, r)| Ev::OrphanExit(pid, at, r)),
        prop_oneof![
            text(),
            (select(EVENT_NAMES), text()).prop_map(|(e, t)| [e.as_bytes(), &t].concat()),
            field().prop_map(|e| [&b"warning: fd \""[..], &e, b"\" is not yet defined"].concat()),
        ]
        .prop_map(|mut l| {
            if looks_like_event(&l) {
                l.insert(0, b'x');
            }
            Ev::Echo(l)
        }),
    ]
}

/// Words that the parsers look for, to build nearly-valid lines.
const TOKENS: &[&str] = &[
    "",
    "x",
    "foo",
    "bad name",
    "null",
    "control.cmd",
    "-",
    "+",
    "0",
    "1",
    "5",
    "-1",
    "65536",
    "2147483648",
    "TERM",
    "SIGHUP",
    "SIG-?",
    "IOT",
    "always",
    "group",
    "read",
    "write",
    "append",
    "create",
    "trunc",
    "nonblock",
    "mkdir",
    "unix",
    "inet",
    "inet6",
    "tcp",
    "udp",
    "stream",
    "dgram",
    "seqpacket",
    "bind",
    "listen",
    "listen=5",
    "listen=0",
    "*:80",
    "127.0.0.1",
    "/p",
    "fd",
    "info",
    "warn",
    "up",
    "down",
    "start",
    "deleted",
    "exit",
    "signal",
    "file",
    "pipe",
    "socket",
    "special",
    "from",
    "to",
    "?",
    "unknown",
    "/dev/null",
    "read,write",
    "write,read",
    ",",
    "on",
    "off",
    "unlimited",
    "nofile=1:2",
    "nofile=2:1",
    "core",
    "cpu=unlimited:0",
    "027",
    "0777",
    "9",
    "3",
    "1023",
    "1024",
    "4294967295",
    "18446744073709551617",
    "99999999999999999999",
    "A=1",
    "-A",
    "=",
    "READY=1",
];

/// A field made of tokens joined with commas.
fn token_field() -> impl Strategy<Value = String> {
    vec(select(TOKENS), 1..4).prop_map(|t| t.join(","))
}

/// Lines that reach deep into the parsers: a command or event name, then
/// nearly-valid fields or separator-heavy junk; or anything at all.
fn junk_line() -> impl Strategy<Value = Vec<u8>> {
    let names: Vec<&'static str> =
        CommandKind::ALL.iter().map(|k| k.name()).chain(EVENT_NAMES.iter().copied()).collect();
    prop_oneof![
        1 => vec(any::<u8>(), 0..80),
        2 => (select(names.clone()), bytes(80, b"")).prop_map(|(n, tail)| [n.as_bytes(), b"\t", &tail].concat()),
        4 => (select(names), vec(prop_oneof![3 => select(TOKENS).prop_map(str::to_owned), 1 => token_field()], 0..9))
            .prop_map(|(n, fields)| [n.to_owned()].into_iter().chain(fields).collect::<Vec<_>>().join("\t").into_bytes()),
    ]
}

// ------------------------------------------------------------ framer model

#[path = "support/framing.rs"]
mod framing;
use framing::{frame_chunked, frame_reference, OwnedFrame};

/// Streams of short lines, lines around the 1023-byte limit, long comment
/// lines, runs of LFs and raw bytes, with or without a final LF.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let line_of = |len: std::ops::RangeInclusive<usize>, first: Option<u8>| {
        (len, any::<u8>()).prop_map(move |(len, fill)| {
            let fill = if fill == b'\n' { b'x' } else { fill };
            let mut l = vec![fill; len];
            if let (Some(b), Some(slot)) = (first, l.first_mut()) {
                *slot = b;
            }
            l.push(b'\n');
            l
        })
    };
    let segment = prop_oneof![
        4 => bytes(60, b"\n").prop_map(|mut l| { l.push(b'\n'); l }),
        2 => line_of(1020..=1026, None),
        1 => line_of(1023..=1023, Some(b'e')),
        1 => line_of(1024..=1024, Some(b'e')),
        1 => line_of(1024..=3000, Some(b'#')),
        1 => line_of(1024..=5000, None),
        1 => (1..20usize).prop_map(|n| vec![b'\n'; n]),
        2 => vec(any::<u8>(), 0..200),
    ];
    (vec(segment, 0..12), bytes(1100, b"\n")).prop_map(|(segs, tail)| {
        let mut s = segs.concat();
        s.extend_from_slice(&tail);
        s
    })
}

// ------------------------------------------------------------ properties

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn every_valid_command_round_trips(cmd in valid_command()) {
        let cmd = cmd.command();
        let mut out = Vec::new();
        cmd.encode(&mut out);
        let line = out.strip_suffix(b"\n").expect("ends with LF");
        prop_assert!(!line.contains(&b'\n'), "one line: {:?}", line);
        prop_assert_eq!(Command::parse(line), Ok(cmd));
    }

    #[test]
    fn every_valid_event_round_trips(ev in valid_event()) {
        let ev = ev.event();
        let mut out = Vec::new();
        ev.encode(&mut out);
        let line = out.strip_suffix(b"\n").expect("ends with LF");
        prop_assert!(!line.contains(&b'\n'), "one line: {:?}", line);
        prop_assert_eq!(Event::parse(line), Ok(ev));
    }
}

proptest! {
    #![proptest_config(config(3000))]

    /// Whatever parses re-encodes to a line that parses to the same value
    /// and re-encodes to the same bytes; nothing panics.
    #[test]
    fn arbitrary_lines_never_panic_and_reparse(line in junk_line()) {
        let _ = is_ignored(&line);
        match Command::parse(&line) {
            Ok(cmd) => {
                let mut out = Vec::new();
                cmd.encode(&mut out);
                let canonical = out.strip_suffix(b"\n").expect("ends with LF");
                prop_assert_eq!(Command::parse(canonical), Ok(cmd));
                let mut again = Vec::new();
                Command::parse(canonical).unwrap().encode(&mut again);
                prop_assert_eq!(&again, &out);
            }
            Err(e) => {
                let mut msg = Vec::new();
                e.write_message(&mut msg);
                prop_assert!(!msg.is_empty());
            }
        }
        if let Ok(ev) = Event::parse(&line) {
            let mut out = Vec::new();
            ev.encode(&mut out);
            let encoded = out.strip_suffix(b"\n").expect("ends with LF");
            prop_assert_eq!(Event::parse(encoded), Ok(ev));
        }
        let mut f = LineFramer::with_capacity(1024);
        f.push(&line);
        while f.next_frame().is_some() {}
        let _ = f.finish();
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn framing_is_independent_of_chunking(
        stream in stream(),
        sizes in vec(prop_oneof![1..8usize, 1..200usize, 500..3000usize], 1..8),
        capacity in select(&[Some(1024), Some(1500), None][..]),
        use_spare in any::<bool>(),
    ) {
        let chunked = frame_chunked(&stream, capacity, &sizes, use_spare);
        let whole = frame_chunked(&stream, Some(stream.len() + 1), &[stream.len().max(1)], false);
        let model = frame_reference(&stream);
        prop_assert_eq!(&chunked, &whole);
        prop_assert_eq!(&chunked, &model);
    }
}

// ------------------------------------------------ small-scope exhaustive lines

/// Every line of `name` followed by up to `max` fields from `tokens`.
fn small_lines(name: &str, tokens: &[&str], max: usize) -> Vec<Vec<u8>> {
    let mut lines = vec![name.as_bytes().to_vec()];
    let mut frontier = lines.clone();
    for _ in 0..max {
        let next: Vec<Vec<u8>> =
            frontier.iter().flat_map(|l| tokens.iter().map(move |t| [&l[..], b"\t", t.as_bytes()].concat())).collect();
        lines.extend(next.iter().cloned());
        frontier = next;
    }
    lines
}

/// Every command with up to three fields from a small vocabulary: whatever
/// parses re-encodes to a canonical line that parses to the same value and
/// is a fixed point.
#[test]
fn small_command_lines_reparse() {
    let tokens = [
        "",
        "x",
        "null",
        "-",
        "+",
        "5",
        "TERM",
        "read",
        "write,read",
        ",",
        "unix",
        "listen",
        "*:80",
        "group",
        "fd",
        "/p",
        "on",
        "socket",
        "027",
        "A=1",
        "-A",
        "nofile=1:2",
        "3",
    ];
    let mut accepted = 0;
    for kind in CommandKind::ALL {
        for line in small_lines(kind.name(), &tokens, 3) {
            let Ok(cmd) = Command::parse(&line) else { continue };
            accepted += 1;
            let mut out = Vec::new();
            cmd.encode(&mut out);
            let canonical = out.strip_suffix(b"\n").unwrap();
            let again = Command::parse(canonical);
            assert_eq!(
                again,
                Ok(cmd),
                "{:?} -> {:?}",
                String::from_utf8_lossy(&line),
                String::from_utf8_lossy(canonical)
            );
            let mut out2 = Vec::new();
            again.unwrap().encode(&mut out2);
            assert_eq!(out2, out);
        }
    }
    assert!(accepted > 10_000, "{accepted}");
}

/// Every event name with up to three fields from a small vocabulary.
#[test]
fn small_event_lines_reparse() {
    let tokens = [
        "",
        "x",
        "-",
        "5",
        "up",
        "down",
        "deleted",
        "signal",
        "SIGTERM",
        "SIG-?",
        "file",
        "pipe",
        "socket",
        "special",
        "read",
        "from",
        "unix,stream",
        "?",
        "always",
        "fd \"x\" does not exist",
        "on",
        "fd",
        "3",
        "A=1",
        // Event numbers accept leading zeros (printed without), so no `027`.
        "777",
        "exit",
        "nofile=1:2",
    ];
    let mut accepted = 0;
    for name in EVENT_NAMES {
        for line in small_lines(name, &tokens, 3) {
            let Ok(ev) = Event::parse(&line) else { continue };
            accepted += 1;
            let mut out = Vec::new();
            ev.encode(&mut out);
            let encoded = out.strip_suffix(b"\n").unwrap();
            assert_eq!(Event::parse(encoded), Ok(ev), "{:?}", String::from_utf8_lossy(&line));
            assert_eq!(encoded, &line[..], "accepted event lines are canonical");
        }
    }
    assert!(accepted > 1_000, "{accepted}");
}

// ------------------------------------------------- deterministic framer cases

#[test]
fn framer_cases_against_the_model() {
    let long = |first: u8, len: usize| {
        let mut v = vec![b'z'; len];
        v[0] = first;
        v
    };
    let streams: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\n".to_vec(),
        b"\n\n\n".to_vec(),
        b"echo\ta\nech".to_vec(),
        [&long(b'a', 1023)[..], b"\n", &long(b'b', 1024), b"\nx\n"].concat(),
        [&long(b'#', 5000)[..], b"\necho\n"].concat(),
        [&long(b'c', 1024)[..]].concat(),
        [&long(b'c', 1023)[..]].concat(),
        [b"a\n", &long(b'd', 20000)[..], b"\n\n"].concat(),
    ];
    for s in &streams {
        let model = frame_reference(s);
        for capacity in [Some(1024), Some(1500), None] {
            for sizes in [&[1usize][..], &[7, 1000], &[1023], &[1024], &[1025], &[4096]] {
                for use_spare in [false, true] {
                    assert_eq!(frame_chunked(s, capacity, sizes, use_spare), model, "{capacity:?} {sizes:?}");
                }
            }
        }
    }
    // The model itself, on a known case.
    assert_eq!(
        frame_reference(&[&long(b'#', 1024)[..], b"\nok\n", &long(b'q', 1100)].concat()),
        (vec![OwnedFrame::TooLong(b'#'), OwnedFrame::Line(b"ok".to_vec())], Some(OwnedFrame::TooLong(b'q')))
    );
}
