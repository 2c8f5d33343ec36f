//! A small blocking controller client: commands out, events in, `echo`
//! synchronisation and `statedump` snapshots, over any [`Read`] + [`Write`]
//! pair.
//!
//! This is the only part of the crate that does I/O, and only through the
//! two values it is given. See [`Client`] for the design.

use crate::fields::list_items;
use crate::{
    Command, EnvEntry, EnvList, Event, FdInfo, FdList, Frame, InvalidEvent, LineFramer, NotifyMode, OpenFlags,
    PipeFlags, Rlimit, ServiceState, Signal, SocketFlags, Special, Trigger, Umask, UserIds, DEFAULT_CAPACITY,
    MAX_EVENT_LINE, MAX_LINE,
};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};

/// Token N of [`Client::sync`] and [`Client::statedump`] (counting from 0
/// for each client) is `--client-sync-N--` (see `push_token`).
const TOKEN_PREFIX: &[u8] = b"--client-sync-";
const TOKEN_SUFFIX: &[u8] = b"--";

/// How often [`Client::statedump`] starts over after an `overflow`.
const DUMP_ATTEMPTS: usize = 8;

/// One event line received from the daemon, without its LF.
///
/// Parse it with [`OwnedEvent::event`]; the parsed [`Event`] borrows from
/// this value, not from the [`Client`], so the client stays free to send.
///
/// ```
/// use daemonproxy_proto::{Event, OwnedEvent, ServiceState};
/// let ev = OwnedEvent::new(&b"service.state\tweb\tstart\t695\t-\t-\t-\t-\t-"[..]);
/// match ev.event() {
///     Ok(Event::ServiceState { name, state }) => {
///         assert_eq!(name.as_str(), "web");
///         assert_eq!(state, ServiceState::Start { at: 695 });
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct OwnedEvent {
    line: Vec<u8>,
}

impl OwnedEvent {
    /// Wraps a line; one trailing LF, if present, is removed.
    ///
    /// ```
    /// use daemonproxy_proto::OwnedEvent;
    /// assert_eq!(OwnedEvent::new(&b"overflow\n"[..]).line(), b"overflow");
    /// ```
    pub fn new(line: impl Into<Vec<u8>>) -> OwnedEvent {
        let mut line = line.into();
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        OwnedEvent { line }
    }

    /// Parses the line ([`Event::parse`]). Lines that are not events, such
    /// as `echo` replies, are [`Event::Echo`].
    ///
    /// ```
    /// use daemonproxy_proto::{Event, OwnedEvent};
    /// assert_eq!(OwnedEvent::new(&b"overflow"[..]).event(), Ok(Event::Overflow));
    /// assert!(OwnedEvent::new(&b"service.state\tweb\tbogus"[..]).event().is_err());
    /// ```
    pub fn event(&self) -> Result<Event<'_>, InvalidEvent> {
        Event::parse(&self.line)
    }

    /// The raw line, without its LF.
    ///
    /// ```
    /// use daemonproxy_proto::OwnedEvent;
    /// assert_eq!(OwnedEvent::new(&b"--done--"[..]).line(), b"--done--");
    /// ```
    pub fn line(&self) -> &[u8] {
        &self.line
    }

    /// The raw line, without its LF, by value.
    ///
    /// ```
    /// use daemonproxy_proto::OwnedEvent;
    /// assert_eq!(OwnedEvent::new(b"log.filter\tdebug".to_vec()).into_line(), b"log.filter\tdebug");
    /// ```
    pub fn into_line(self) -> Vec<u8> {
        self.line
    }
}

impl fmt::Debug for OwnedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedEvent").field(&String::from_utf8_lossy(&self.line)).finish()
    }
}

impl fmt::Display for OwnedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.line))
    }
}

/// A service's `service.auto_up` setting (protocol.md §3.3, §4.2).
///
/// ```
/// use daemonproxy_proto::{AutoUp, Signal, Trigger};
/// let a = AutoUp { interval: 5, triggers: vec![Trigger::Always, Trigger::Signal(Signal::HUP)] };
/// assert!(a.triggers.contains(&Trigger::Always));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct AutoUp {
    /// Minimum run time in seconds before an immediate restart (0 if never
    /// set).
    pub interval: u32,
    /// The triggers, in the order given (never empty: an empty list is
    /// reported as no auto-up at all).
    pub triggers: Vec<Trigger>,
}

/// A service's `service.user` setting, owned.
///
/// ```
/// use daemonproxy_proto::{Credentials, UserIds};
/// let ids = UserIds::parse(b"65534\t65534\t10\t20").unwrap();
/// assert_eq!(Credentials::from_ids(&ids), Credentials { uid: 65534, gid: 65534, groups: vec![10, 20] });
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Credentials {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// The supplementary groups, in the order given.
    pub groups: Vec<u32>,
}

impl Credentials {
    /// The owned form of the ids of a `service.user` event.
    pub fn from_ids(ids: &UserIds<'_>) -> Credentials {
        Credentials { uid: ids.uid, gid: ids.gid, groups: ids.groups.iter().collect() }
    }
}

/// A `service.ready` report: the process with this pid became ready.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Readiness {
    /// The second it reported readiness.
    pub at: u64,
    /// Its process id.
    pub pid: u32,
}

/// What the daemon reports about one service: the lines a `statedump`
/// gives for it (the original's five, then one per process setting that
/// is set and `service.ready` for a process that reported readiness), kept
/// current by later events.
///
/// The list settings are kept as the daemon stores and prints them
/// (TAB-separated, lossless, ready to be sent back in a command); the
/// methods split them.
///
/// ```
/// use daemonproxy_proto::{ServiceInfo, ServiceState};
/// let s = ServiceInfo::default();
/// assert_eq!(s.state, ServiceState::Down);
/// assert_eq!(s.fds, b"null\tnull\tnull");
/// assert_eq!(s.argv().count(), 0);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ServiceInfo {
    /// The state, with pid, times and exit reason ([`ServiceState::Deleted`]
    /// never appears: deleted services leave the snapshot).
    pub state: ServiceState,
    /// `service.args`: TAB-separated, as stored (empty: none).
    pub args: Vec<u8>,
    /// `service.tags`: TAB-separated, as stored.
    pub tags: Vec<u8>,
    /// `service.fds`: TAB-separated handle names, `null\tnull\tnull` by
    /// default, empty for no descriptors at all.
    pub fds: Vec<u8>,
    /// `service.auto_up`, `None` when there are no triggers.
    pub auto_up: Option<AutoUp>,
    /// `service.env`: TAB-separated entries, as stored (empty: none).
    pub env: Vec<u8>,
    /// `service.cwd`, `None` when not set.
    pub cwd: Option<Vec<u8>>,
    /// `service.user`, `None` when not set.
    pub user: Option<Credentials>,
    /// `service.rlimit`, in the order given (empty: inherited limits).
    pub rlimits: Vec<Rlimit>,
    /// `service.umask`, `None` when not set.
    pub umask: Option<Umask>,
    /// `service.notify`, `None` when off.
    pub notify: Option<NotifyMode>,
    /// `service.listen_fds`.
    pub listen_fds: bool,
    /// The running process's `service.ready` report; cleared by every
    /// state change except the `up` line of that same process.
    pub ready: Option<Readiness>,
}

impl Default for ServiceInfo {
    /// A service as created implicitly (protocol.md §3.1): `down`, no args,
    /// no tags, default descriptors, no auto-up, no process settings.
    fn default() -> Self {
        ServiceInfo {
            state: ServiceState::Down,
            args: Vec::new(),
            tags: Vec::new(),
            fds: FdList::DEFAULT.raw().to_vec(),
            auto_up: None,
            env: Vec::new(),
            cwd: None,
            user: None,
            rlimits: Vec::new(),
            umask: None,
            notify: None,
            listen_fds: false,
            ready: None,
        }
    }
}

impl ServiceInfo {
    /// The argument list: program first, then its arguments.
    ///
    /// ```
    /// use daemonproxy_proto::ServiceInfo;
    /// let s = ServiceInfo { args: b"sleep\t30".to_vec(), ..ServiceInfo::default() };
    /// assert_eq!(s.argv().collect::<Vec<_>>(), [&b"sleep"[..], b"30"]);
    /// ```
    pub fn argv(&self) -> impl Iterator<Item = &[u8]> {
        list_items(&self.args)
    }

    /// The tags, one field each.
    ///
    /// ```
    /// use daemonproxy_proto::ServiceInfo;
    /// let s = ServiceInfo { tags: b"web\tprod".to_vec(), ..ServiceInfo::default() };
    /// assert_eq!(s.tag_list().collect::<Vec<_>>(), [&b"web"[..], b"prod"]);
    /// ```
    pub fn tag_list(&self) -> impl Iterator<Item = &[u8]> {
        list_items(&self.tags)
    }

    /// The descriptor list as the proto type, `None` if the stored text is
    /// not a valid list (the daemon never stores one).
    ///
    /// ```
    /// use daemonproxy_proto::{FdEntry, ServiceInfo};
    /// let s = ServiceInfo { fds: b"null\t-\tstderr".to_vec(), ..ServiceInfo::default() };
    /// let entries: Vec<_> = s.fd_list().unwrap().entries().collect();
    /// assert_eq!(entries[1], FdEntry::Closed);
    /// ```
    pub fn fd_list(&self) -> Option<FdList<'_>> {
        FdList::new(&self.fds)
    }

    /// The `service.env` entries, none if the stored text is not a valid
    /// list (the daemon never stores one).
    ///
    /// ```
    /// use daemonproxy_proto::{EnvEntry, ServiceInfo};
    /// let s = ServiceInfo { env: b"LANG=C\t-TZ".to_vec(), ..ServiceInfo::default() };
    /// let entries: Vec<_> = s.env_entries().collect();
    /// assert_eq!(entries, [EnvEntry::Set { var: b"LANG", value: b"C" }, EnvEntry::Remove { var: b"TZ" }]);
    /// ```
    pub fn env_entries(&self) -> impl Iterator<Item = EnvEntry<'_>> {
        EnvList::new(&self.env).unwrap_or(EnvList::NONE).iter()
    }

    /// The pid of the running process (`up` state only).
    ///
    /// ```
    /// use daemonproxy_proto::{ServiceInfo, ServiceState};
    /// let s = ServiceInfo { state: ServiceState::Up { since: 10, pid: 42, uptime: 0 }, ..ServiceInfo::default() };
    /// assert_eq!(s.pid(), Some(42));
    /// assert_eq!(ServiceInfo::default().pid(), None);
    /// ```
    pub fn pid(&self) -> Option<u32> {
        match self.state {
            ServiceState::Up { pid, .. } => Some(pid),
            _ => None,
        }
    }
}

/// What a named handle is (protocol.md §4.3), owned.
///
/// ```
/// use daemonproxy_proto::{Event, HandleInfo};
/// let Ok(Event::FdState { info, .. }) = Event::parse(b"fd.state\tlog.r\tpipe\tfrom\tlog.w") else { panic!() };
/// match HandleInfo::from_fd_info(&info) {
///     Some(HandleInfo::Pipe { read_end, peer, .. }) => {
///         assert!(read_end);
///         assert_eq!(peer.as_deref(), Some("log.w"));
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum HandleInfo {
    /// `file`: opened by `fd.open` (description = the path), or inherited
    /// or taken (description `unknown`).
    File {
        /// Access and open flags.
        flags: OpenFlags,
        /// The path, or `unknown`.
        description: Vec<u8>,
    },
    /// `pipe`: one end of `fd.pipe`.
    Pipe {
        /// Pipe or socketpair flags.
        flags: PipeFlags,
        /// The read end of a plain pipe (`from`).
        read_end: bool,
        /// The other end's name, `None` once it was deleted or replaced
        /// (`?`).
        peer: Option<String>,
    },
    /// `socket`: made by `fd.socket` (description = the address as given),
    /// or inherited or taken (description `unknown`).
    Socket {
        /// Socket flags.
        flags: SocketFlags,
        /// The address, empty, or `unknown`.
        description: Vec<u8>,
    },
    /// `special`: one of the constant handles.
    Special(Special),
}

impl HandleInfo {
    /// The owned form of an `fd.state` payload; `None` for `deleted`.
    ///
    /// ```
    /// use daemonproxy_proto::{FdInfo, HandleInfo, Special};
    /// assert_eq!(HandleInfo::from_fd_info(&FdInfo::Special(Special::Null)), Some(HandleInfo::Special(Special::Null)));
    /// assert_eq!(HandleInfo::from_fd_info(&FdInfo::Deleted), None);
    /// ```
    pub fn from_fd_info(info: &FdInfo<'_>) -> Option<HandleInfo> {
        Some(match *info {
            FdInfo::File { flags, description } => HandleInfo::File { flags, description: description.to_vec() },
            FdInfo::Pipe { flags, read_end, peer } => {
                HandleInfo::Pipe { flags, read_end, peer: peer.map(|p| p.as_str().to_owned()) }
            }
            FdInfo::Socket { flags, description } => HandleInfo::Socket { flags, description: description.to_vec() },
            FdInfo::Special(s) => HandleInfo::Special(s),
            FdInfo::Deleted => return None,
        })
    }

    /// The `fd.state` type field: `file`, `pipe`, `socket` or `special`.
    ///
    /// ```
    /// use daemonproxy_proto::{HandleInfo, Special};
    /// assert_eq!(HandleInfo::Special(Special::ControlCmd).kind(), "special");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            HandleInfo::File { .. } => "file",
            HandleInfo::Pipe { .. } => "pipe",
            HandleInfo::Socket { .. } => "socket",
            HandleInfo::Special(_) => "special",
        }
    }
}

/// A signal with a nonzero pending count (protocol.md §4.4, §6).
///
/// ```
/// use daemonproxy_proto::{Signal, SignalInfo};
/// let s = SignalInfo { signal: Signal::HUP, at: 846, count: 1 };
/// assert_eq!(s.signal.to_string(), "SIGHUP");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SignalInfo {
    /// The signal.
    pub signal: Signal,
    /// Second of the last reception (CLOCK_MONOTONIC).
    pub at: u64,
    /// Receptions not yet cleared (never 0 in a snapshot).
    pub count: u64,
}

/// The daemon's state as a controller sees it: services, handles and
/// pending signals, built by [`Client::statedump`] or kept current by
/// feeding every event to [`Snapshot::apply`].
///
/// ```
/// use daemonproxy_proto::{Event, ServiceState, Snapshot};
/// let mut snap = Snapshot::default();
/// for line in [&b"service.args\tweb\tsleep\t30"[..], b"service.state\tweb\tup\t695\t14268\t-\t-\t0\t-"] {
///     assert!(snap.apply(&Event::parse(line).unwrap()));
/// }
/// assert_eq!(snap.services["web"].pid(), Some(14268));
/// assert_eq!(snap.services["web"].args, b"sleep\t30");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Snapshot {
    /// Services by name (byte order, as `statedump` lists them).
    pub services: BTreeMap<String, ServiceInfo>,
    /// Named handles by name, the constant ones included.
    pub handles: BTreeMap<String, HandleInfo>,
    /// Signals with a nonzero count, oldest reception first.
    pub signals: Vec<SignalInfo>,
    /// Lines received while the snapshot was taken that are not state
    /// (errors, warnings, `echo` replies, malformed lines), in order.
    pub other: Vec<OwnedEvent>,
    /// Lines longer than [`MAX_EVENT_LINE`] that were discarded while the
    /// snapshot was taken (their information is missing).
    pub discarded: u64,
}

impl Snapshot {
    /// Applies one event; returns whether it describes state (service,
    /// handle or signal). Apply every event in the order received.
    ///
    /// Deleted services and handles are removed; a pipe end whose peer was
    /// deleted or replaced gets `peer: None`, as the daemon reports it;
    /// a signal reported with its new count moves to the end (newest); a
    /// `service.ready` belongs to the running process, so any state change
    /// other than the `up` line of that process forgets it. Readiness
    /// messages, `service.rusage` and `orphan.exit` are not state.
    ///
    /// ```
    /// use daemonproxy_proto::{Event, HandleInfo, Snapshot};
    /// let mut snap = Snapshot::default();
    /// for line in [&b"fd.state\tr\tpipe\tfrom\tw"[..], b"fd.state\tw\tpipe\tto\tr", b"fd.state\tw\tdeleted"] {
    ///     snap.apply(&Event::parse(line).unwrap());
    /// }
    /// assert!(matches!(&snap.handles["r"], HandleInfo::Pipe { peer: None, .. }));
    /// assert!(!snap.handles.contains_key("w"));
    /// assert!(!snap.apply(&Event::parse(b"--token--").unwrap()));
    /// ```
    pub fn apply(&mut self, event: &Event<'_>) -> bool {
        match *event {
            Event::ServiceState { name, state: ServiceState::Deleted } => {
                self.services.remove(name.as_str());
            }
            Event::ServiceState { name, state } => {
                let s = self.service_mut(name.as_str());
                s.state = state;
                let same_process = matches!((state, s.ready), (ServiceState::Up { pid, .. }, Some(r)) if r.pid == pid);
                if !same_process {
                    s.ready = None;
                }
            }
            Event::ServiceArgs { name, args } => set(&mut self.service_mut(name.as_str()).args, args),
            Event::ServiceTags { name, tags } => set(&mut self.service_mut(name.as_str()).tags, tags),
            Event::ServiceFds { name, fds } => set(&mut self.service_mut(name.as_str()).fds, fds),
            Event::ServiceAutoUp { name, auto_up } => {
                self.service_mut(name.as_str()).auto_up =
                    auto_up.map(|(interval, triggers)| AutoUp { interval, triggers: triggers.iter().collect() });
            }
            Event::ServiceEnv { name, env } => set(&mut self.service_mut(name.as_str()).env, env.raw()),
            Event::ServiceCwd { name, path } => self.service_mut(name.as_str()).cwd = path.map(<[u8]>::to_vec),
            Event::ServiceUser { name, user } => {
                self.service_mut(name.as_str()).user = user.as_ref().map(Credentials::from_ids);
            }
            Event::ServiceRlimit { name, limits } => {
                self.service_mut(name.as_str()).rlimits = limits.iter().collect();
            }
            Event::ServiceUmask { name, umask } => self.service_mut(name.as_str()).umask = umask,
            Event::ServiceNotify { name, mode } => self.service_mut(name.as_str()).notify = mode,
            Event::ServiceListenFds { name, on } => self.service_mut(name.as_str()).listen_fds = on,
            Event::ServiceReady { name, at, pid } => {
                self.service_mut(name.as_str()).ready = Some(Readiness { at, pid });
            }
            Event::FdState { name, info } => {
                let name = name.as_str();
                match HandleInfo::from_fd_info(&info) {
                    None => {
                        if self.handles.remove(name).is_some() {
                            self.orphan_peers_of(name, None);
                        }
                    }
                    Some(new) => {
                        let keep = match &new {
                            HandleInfo::Pipe { peer, .. } => peer.clone(),
                            _ => None,
                        };
                        let replaced = match self.handles.get_mut(name) {
                            Some(old) if *old == new => false,
                            Some(old) => {
                                *old = new;
                                true
                            }
                            None => {
                                self.handles.insert(name.to_owned(), new);
                                false
                            }
                        };
                        if replaced {
                            self.orphan_peers_of(name, keep.as_deref());
                        }
                    }
                }
            }
            Event::Signal { signal, at, count } => {
                self.signals.retain(|s| s.signal != signal);
                if count > 0 {
                    self.signals.push(SignalInfo { signal, at, count });
                }
            }
            _ => return false,
        }
        true
    }

    /// The pending count of `signal`, 0 when it has none.
    ///
    /// ```
    /// use daemonproxy_proto::{Event, Signal, Snapshot};
    /// let mut snap = Snapshot::default();
    /// snap.apply(&Event::parse(b"signal\tSIGTERM\t900\t2").unwrap());
    /// assert_eq!(snap.signal_count(Signal::TERM), 2);
    /// assert_eq!(snap.signal_count(Signal::HUP), 0);
    /// ```
    pub fn signal_count(&self, signal: Signal) -> u64 {
        self.signals.iter().find(|s| s.signal == signal).map_or(0, |s| s.count)
    }

    fn service_mut(&mut self, name: &str) -> &mut ServiceInfo {
        if !self.services.contains_key(name) {
            self.services.insert(name.to_owned(), ServiceInfo::default());
        }
        self.services.get_mut(name).unwrap_or_else(|| unreachable!("inserted above"))
    }

    /// The handle `name` was deleted or replaced: pipe ends that named it
    /// as their peer now report `?`, except `keep` (the new peer).
    fn orphan_peers_of(&mut self, name: &str, keep: Option<&str>) {
        for (other, info) in self.handles.iter_mut() {
            if Some(other.as_str()) == keep {
                continue;
            }
            if let HandleInfo::Pipe { peer, .. } = info {
                if peer.as_deref() == Some(name) {
                    *peer = None;
                }
            }
        }
    }
}

fn set(field: &mut Vec<u8>, value: &[u8]) {
    field.clear();
    field.extend_from_slice(value);
}

/// A point in the conversation: the `echo` token sent by
/// [`Client::send_sync`], which [`Client::next_before`] waits for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SyncMark(u64);

/// What [`Client::read_raw`] got.
enum Got {
    /// A line (in the caller's buffer).
    Line,
    /// One of this client's pending sync tokens.
    Token(u64),
    /// End of input.
    Eof,
}

/// A blocking controller connection: commands out through `W`, events in
/// through `R`, read with the protocol's [`LineFramer`] (lines longer than
/// [`MAX_EVENT_LINE`] are discarded, so memory stays bounded). `R` and `W`
/// are the stdin/stdout of a controller service ([`Client::stdio`]), both
/// halves of a `UnixStream` connected to the control socket
/// (`stream.try_clone()`), or in-memory buffers in tests.
///
/// Events borrow from the line they were parsed from, so the client hands
/// out each line as an [`OwnedEvent`] (one `Vec<u8>`, without its LF) and
/// [`OwnedEvent::event`] parses it on demand without copying. An owned line
/// does not borrow the client, so a controller can send commands while it
/// still holds the event that caused them; [`Client::read_event`] reuses
/// one `OwnedEvent` to read without allocating. A [`Snapshot`] keeps the
/// daemon's state: take one with [`Client::statedump`], then feed it every
/// event with [`Snapshot::apply`].
///
/// [`Client::sync`] and [`Client::statedump`] send `echo` tokens of the
/// form `--client-sync-N--` (N counting from 0 for each client). The
/// client recognises its own tokens and never returns them as events,
/// also when one arrives late (after an `overflow`).
///
/// Reading blocks until a complete line is there. A read error, such as
/// `WouldBlock` or `TimedOut` from a socket with a read timeout, is
/// returned to the caller and leaves the client intact: a partial line
/// stays buffered, and [`Client::read_event`], [`Client::next_event`] and
/// [`Client::next_before`] go on where they stopped when called again
/// (a caller can bound its waits this way, without threads). Read events
/// regularly: the daemon stops executing commands of a controller whose
/// events are not read (protocol.md §4.6), so writing many commands without reading
/// can block both sides until the daemon drops events (`overflow`).
///
/// A controller service (descriptors `control.event control.cmd ...`):
///
/// ```no_run
/// use daemonproxy_proto::{Client, Command, Event, Name, StartWhen};
///
/// let mut client = Client::stdio();
/// let web = Name::from_text("web").unwrap();
/// client.send(&Command::ServiceArgs { name: web, args: b"sleep\t30" })?;
/// client.send(&Command::ServiceStart { name: web, when: StartWhen::Now })?;
/// while let Some(ev) = client.next_event()? {
///     if let Ok(Event::ServiceState { name, state }) = ev.event() {
///         eprintln!("{name} is now {state:?}");
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// A control-socket client:
///
/// ```no_run
/// use daemonproxy_proto::Client;
/// use std::os::unix::net::UnixStream;
///
/// let stream = UnixStream::connect("/run/daemonproxy.sock")?;
/// let mut client = Client::new(stream.try_clone()?, stream);
/// let snapshot = client.statedump()?;
/// for (name, service) in &snapshot.services {
///     println!("{name}: {:?}", service.state);
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Client<R, W> {
    reader: R,
    writer: W,
    framer: LineFramer,
    /// LFs in the framer not yet taken out as frames: while nonzero,
    /// [`LineFramer::next_frame`] has a frame to give.
    ready: usize,
    eof: bool,
    /// Encoding buffer for outgoing lines (reused).
    out: Vec<u8>,
    /// The next token number; `oldest_token..next_token` are pending.
    next_token: u64,
    oldest_token: u64,
    /// Events were lost (`overflow`, or a discarded long line).
    lost: bool,
    /// Long lines discarded so far.
    discarded: u64,
}

impl<R, W> fmt::Debug for Client<R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("buffered", &self.framer.pending())
            .field("eof", &self.eof)
            .field("pending_tokens", &(self.next_token - self.oldest_token))
            .field("lost", &self.lost)
            .finish_non_exhaustive()
    }
}

impl Client<io::StdinLock<'static>, io::Stdout> {
    /// A client on this process's stdin (events) and stdout (commands):
    /// the usual controller service with descriptors
    /// `control.event control.cmd stderr`.
    ///
    /// ```no_run
    /// let mut client = daemonproxy_proto::Client::stdio();
    /// let snapshot = client.statedump()?;
    /// eprintln!("{} services", snapshot.services.len());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stdio() -> Self {
        Client::new(io::stdin().lock(), io::stdout())
    }
}

impl<R: Read, W: Write> Client<R, W> {
    /// A client reading events from `reader` and writing commands to
    /// `writer`.
    ///
    /// ```
    /// use daemonproxy_proto::{Client, Event};
    /// use std::io::Cursor;
    ///
    /// let mut client = Client::new(Cursor::new(&b"log.filter\tdebug\n"[..]), Vec::new());
    /// let ev = client.next_event()?.unwrap();
    /// assert!(matches!(ev.event(), Ok(Event::LogFilter { .. })));
    /// assert!(client.next_event()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(reader: R, writer: W) -> Self {
        Client {
            reader,
            writer,
            framer: LineFramer::with_limit(DEFAULT_CAPACITY, MAX_EVENT_LINE),
            ready: 0,
            eof: false,
            out: Vec::with_capacity(MAX_LINE + 1),
            next_token: 0,
            oldest_token: 0,
            lost: false,
            discarded: 0,
        }
    }

    /// Sends one command (encoded, written and flushed).
    ///
    /// Fails with `InvalidInput`, sending nothing, when the line would be
    /// longer than [`MAX_LINE`] (the daemon would reject it as `line too
    /// long`) or a field contains an LF.
    ///
    /// ```
    /// use daemonproxy_proto::{Client, Command, Name, StartWhen};
    /// use std::io;
    ///
    /// let mut client = Client::new(io::empty(), Vec::new());
    /// let web = Name::from_text("web").unwrap();
    /// client.send(&Command::ServiceStart { name: web, when: StartWhen::At(900) })?;
    /// let (_, written) = client.into_parts();
    /// assert_eq!(written, b"service.start\tweb\t900\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&mut self, cmd: &Command<'_>) -> io::Result<()> {
        self.out.clear();
        cmd.encode(&mut self.out);
        self.write_out(1)
    }

    /// Sends one raw command line; `line` is given without its LF, which
    /// is appended. Same checks as [`Client::send`].
    ///
    /// ```
    /// use daemonproxy_proto::Client;
    /// use std::io;
    ///
    /// let mut client = Client::new(io::empty(), Vec::new());
    /// client.send_line(b"service.signal\tweb\tSIGTERM")?;
    /// assert!(client.send_line(b"echo\ta\nexit").is_err());
    /// assert_eq!(client.into_parts().1, b"service.signal\tweb\tSIGTERM\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.clear();
        self.out.extend_from_slice(line);
        self.out.push(b'\n');
        self.write_out(1)
    }

    /// The next event, or `None` at end of input (the daemon closed the
    /// connection). Allocates one `Vec` per event; see
    /// [`Client::read_event`] to reuse one.
    ///
    /// `overflow` is returned like any event (and also noted for
    /// [`Client::take_lost`]); lines longer than [`MAX_EVENT_LINE`] are
    /// discarded and only noted for [`Client::take_lost`]. This client's
    /// own sync tokens are never returned.
    ///
    /// ```
    /// use daemonproxy_proto::{Client, Event, ServiceState};
    /// use std::io::Cursor;
    ///
    /// let input = b"service.state\tweb\tdown\t699\t14268\texit\t0\t4\t0\n".to_vec();
    /// let mut client = Client::new(Cursor::new(input), Vec::new());
    /// while let Some(ev) = client.next_event()? {
    ///     if let Ok(Event::ServiceState { state: ServiceState::Exited { uptime, .. }, .. }) = ev.event() {
    ///         assert_eq!(uptime, 4);
    ///     }
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn next_event(&mut self) -> io::Result<Option<OwnedEvent>> {
        let mut ev = OwnedEvent::default();
        Ok(self.read_event(&mut ev)?.then_some(ev))
    }

    /// Reads the next event into `into`, reusing its buffer; returns
    /// `false` at end of input. Otherwise as [`Client::next_event`].
    ///
    /// ```
    /// use daemonproxy_proto::{Client, OwnedEvent};
    /// use std::io::Cursor;
    ///
    /// let mut client = Client::new(Cursor::new(&b"a\nb\n"[..]), Vec::new());
    /// let mut ev = OwnedEvent::default();
    /// let mut lines = Vec::new();
    /// while client.read_event(&mut ev)? {
    ///     lines.push(ev.line().to_vec());
    /// }
    /// assert_eq!(lines, [b"a", b"b"]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_event(&mut self, into: &mut OwnedEvent) -> io::Result<bool> {
        loop {
            match self.read_raw(&mut into.line)? {
                Got::Line => return Ok(true),
                Got::Token(_) => {}
                Got::Eof => return Ok(false),
            }
        }
    }

    /// Sends `echo` with a fresh token and returns every event received
    /// before the token came back: when it returns, the daemon has
    /// executed every command sent before.
    ///
    /// If `overflow` arrives first (the token may have been dropped with
    /// other events), it is returned among the events, noted for
    /// [`Client::take_lost`], and another token is sent, so this never
    /// waits for a dropped token. End of input is `UnexpectedEof`.
    ///
    /// A read error (such as the timeout of a socket's read timeout) drops
    /// the events collected so far; to wait in steps, use
    /// [`Client::send_sync`] and [`Client::next_before`], which `sync` is
    /// made of.
    ///
    /// ```
    /// use daemonproxy_proto::{Client, Command, Event};
    /// use std::io::Cursor;
    ///
    /// // What the daemon would answer to `log.filter` followed by the token.
    /// let input = Cursor::new(&b"log.filter\tdebug\n--client-sync-0--\n"[..]);
    /// let mut client = Client::new(input, Vec::new());
    /// client.send(&Command::LogFilter { arg: None })?;
    /// let events = client.sync()?;
    /// assert_eq!(events.len(), 1);
    /// assert!(matches!(events[0].event(), Ok(Event::LogFilter { .. })));
    /// assert_eq!(client.into_parts().1, b"log.filter\necho\t--client-sync-0--\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn sync(&mut self) -> io::Result<Vec<OwnedEvent>> {
        let mark = self.send_sync()?;
        let mut events = Vec::new();
        while let Some(ev) = self.next_before(mark)? {
            events.push(ev);
        }
        Ok(events)
    }

    /// Sends `echo` with a fresh token and returns the mark that
    /// [`Client::next_before`] waits for: the point after every command
    /// sent so far.
    ///
    /// ```
    /// use daemonproxy_proto::Client;
    /// use std::io;
    ///
    /// let mut client = Client::new(io::empty(), Vec::new());
    /// client.send_line(b"statedump")?;
    /// let _mark = client.send_sync()?;
    /// assert_eq!(client.into_parts().1, b"statedump\necho\t--client-sync-0--\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_sync(&mut self) -> io::Result<SyncMark> {
        self.out.clear();
        let n = self.push_token();
        self.write_out(1)?;
        Ok(SyncMark(n))
    }

    /// The next event received before `mark`'s token, or `None` once the
    /// token came back (then the daemon has executed every command sent
    /// before [`Client::send_sync`] returned `mark`; later calls with the
    /// same mark return `None` at once).
    ///
    /// `overflow` is returned like any event and makes the client send
    /// another token, which also ends the wait for `mark`: the first token
    /// may have been dropped. End of input before the token is
    /// `UnexpectedEof`.
    ///
    /// Any other read error, such as `WouldBlock` or `TimedOut` from a
    /// socket with a read timeout, leaves the client as it was (a partial
    /// line stays buffered): call again to go on waiting. That is how a
    /// caller bounds a wait without threads.
    ///
    /// ```
    /// use daemonproxy_proto::{Client, Event};
    /// use std::io::Cursor;
    ///
    /// let input = Cursor::new(&b"service.state\tweb\tstart\t695\t-\t-\t-\t-\t-\n--client-sync-0--\nlater\n"[..]);
    /// let mut client = Client::new(input, Vec::new());
    /// client.send_line(b"service.start\tweb")?;
    /// let mark = client.send_sync()?;
    /// let ev = client.next_before(mark)?.unwrap();
    /// assert!(matches!(ev.event(), Ok(Event::ServiceState { .. })));
    /// assert!(client.next_before(mark)?.is_none());
    /// assert!(client.next_before(mark)?.is_none());
    /// assert_eq!(client.next_event()?.unwrap().line(), b"later");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn next_before(&mut self, mark: SyncMark) -> io::Result<Option<OwnedEvent>> {
        let mut ev = OwnedEvent::default();
        loop {
            if self.oldest_token > mark.0 {
                return Ok(None);
            }
            match self.read_raw(&mut ev.line)? {
                Got::Token(_) => {}
                Got::Line => {
                    if ev.line == b"overflow" {
                        self.out.clear();
                        self.push_token();
                        self.write_out(1)?;
                    }
                    return Ok(Some(ev));
                }
                Got::Eof => return Err(unexpected_eof()),
            }
        }
    }

    /// Sends `statedump` and a sync token and builds a [`Snapshot`] from
    /// every event received until the token comes back, in order, so that
    /// events interleaved with the dump (a service going down meanwhile)
    /// leave the snapshot as the daemon's state at the token.
    ///
    /// Events that are not state go to [`Snapshot::other`]. If the dump is
    /// cut by `overflow`, it is requested again (up to 8 times, then an
    /// error); a successful dump clears [`Client::take_lost`].
    ///
    /// ```
    /// use daemonproxy_proto::{Client, ServiceState, Signal};
    /// use std::io::Cursor;
    ///
    /// let dump = b"fd.state\tnull\tspecial\tread,write\t/dev/null\n\
    ///     service.state\tfoo\tdown\t699\t14268\tsignal\tSIGTERM\t4\t12\n\
    ///     service.tags\tfoo\t\n\
    ///     service.args\tfoo\tsleep\t30\n\
    ///     service.fds\tfoo\tnull\tnull\tnull\n\
    ///     service.auto_up\tfoo\t-\n\
    ///     signal\tSIGHUP\t846\t1\n\
    ///     --client-sync-0--\n";
    /// let mut client = Client::new(Cursor::new(&dump[..]), Vec::new());
    /// let snap = client.statedump()?;
    /// assert_eq!(snap.services["foo"].args, b"sleep\t30");
    /// assert!(matches!(snap.services["foo"].state, ServiceState::Exited { pid: 14268, .. }));
    /// assert_eq!(snap.signal_count(Signal::HUP), 1);
    /// assert_eq!(client.into_parts().1, b"statedump\necho\t--client-sync-0--\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn statedump(&mut self) -> io::Result<Snapshot> {
        let discarded_before = self.discarded;
        let mut other = Vec::new();
        'attempt: for _ in 0..DUMP_ATTEMPTS {
            let mut snap = Snapshot::default();
            self.out.clear();
            Command::Statedump.encode(&mut self.out);
            let first = self.push_token();
            self.write_out(2)?;
            loop {
                let mut ev = OwnedEvent::default();
                match self.read_raw(&mut ev.line)? {
                    Got::Token(n) if n >= first => {
                        snap.other = other;
                        snap.discarded = self.discarded - discarded_before;
                        self.lost = false;
                        return Ok(snap);
                    }
                    Got::Token(_) => {}
                    Got::Eof => return Err(unexpected_eof()),
                    Got::Line => {
                        let state = match ev.event() {
                            Ok(Event::Overflow) => continue 'attempt,
                            Ok(e) => snap.apply(&e),
                            Err(_) => false,
                        };
                        if !state {
                            other.push(ev);
                        }
                    }
                }
            }
        }
        Err(io::Error::other(format!("statedump cut by overflow {DUMP_ATTEMPTS} times")))
    }

    /// Whether events were lost since the last call (or the last
    /// successful [`Client::statedump`]): an `overflow` line arrived or a
    /// line longer than [`MAX_EVENT_LINE`] was discarded. Resynchronise with
    /// [`Client::statedump`] when it returns `true`.
    ///
    /// ```
    /// use daemonproxy_proto::Client;
    /// use std::io::Cursor;
    ///
    /// let mut client = Client::new(Cursor::new(&b"overflow\n"[..]), Vec::new());
    /// assert!(!client.take_lost());
    /// client.next_event()?;
    /// assert!(client.take_lost());
    /// assert!(!client.take_lost());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_lost(&mut self) -> bool {
        std::mem::take(&mut self.lost)
    }

    /// The reader and writer back. Bytes already read but not yet returned
    /// as events are dropped.
    ///
    /// ```
    /// use daemonproxy_proto::Client;
    /// use std::io;
    ///
    /// let mut client = Client::new(io::empty(), Vec::new());
    /// client.send_line(b"statedump")?;
    /// let (_reader, writer) = client.into_parts();
    /// assert_eq!(writer, b"statedump\n");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_parts(self) -> (R, W) {
        (self.reader, self.writer)
    }

    /// Appends `echo\tTOKEN\n` to the output buffer; returns the token's
    /// number.
    fn push_token(&mut self) -> u64 {
        let n = self.next_token;
        self.next_token += 1;
        let text = format!("--client-sync-{n}--");
        Command::Echo { text: text.as_bytes() }.encode(&mut self.out);
        n
    }

    /// Checks and writes the output buffer, which must hold exactly
    /// `lines` complete lines of at most [`MAX_LINE`] bytes each.
    fn write_out(&mut self, lines: usize) -> io::Result<()> {
        let lfs = self.out.iter().filter(|&&b| b == b'\n').count();
        if lfs != lines || self.out.last() != Some(&b'\n') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a command line must not contain an LF"));
        }
        if self.out.split(|&b| b == b'\n').any(|l| l.len() > MAX_LINE) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "command line longer than 1023 bytes"));
        }
        self.writer.write_all(&self.out)?;
        self.writer.flush()
    }

    /// The next line into `buf`, or one of this client's pending tokens.
    fn read_raw(&mut self, buf: &mut Vec<u8>) -> io::Result<Got> {
        loop {
            while self.ready == 0 {
                if !self.fill()? {
                    return Ok(Got::Eof);
                }
            }
            self.ready -= 1;
            match self.framer.next_frame() {
                Some(Frame::Line(line)) => {
                    if let Some(n) = token_number(line) {
                        if (self.oldest_token..self.next_token).contains(&n) {
                            self.oldest_token = n + 1;
                            return Ok(Got::Token(n));
                        }
                    }
                    if line == b"overflow" {
                        self.lost = true;
                    }
                    set(buf, line);
                    return Ok(Got::Line);
                }
                Some(Frame::TooLong { .. }) => {
                    self.lost = true;
                    self.discarded += 1;
                }
                None => self.ready = 0, // cannot happen: every LF makes a frame
            }
        }
    }

    /// Reads more input; `false` at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.framer.is_full() {
            // A full buffer without an LF: let the framer discard the
            // start of the overlong line (it reports it at its LF).
            let _ = self.framer.next_frame();
        }
        let spare = self.framer.spare();
        loop {
            match self.reader.read(spare) {
                Ok(0) => {
                    // The daemon writes whole lines; a partial one is dropped.
                    self.eof = true;
                    let _ = self.framer.finish();
                    return Ok(false);
                }
                Ok(n) => {
                    self.ready += spare[..n].iter().filter(|&&b| b == b'\n').count();
                    self.framer.commit(n);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The number of a `--client-sync-N--` line.
fn token_number(line: &[u8]) -> Option<u64> {
    let digits = line.strip_prefix(TOKEN_PREFIX)?.strip_suffix(TOKEN_SUFFIX)?;
    let canonical = digits.len() == 1 || digits.first() != Some(&b'0');
    if digits.is_empty() || digits.len() > 19 || !canonical || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

fn unexpected_eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the daemon closed the connection before the sync token came back")
}
