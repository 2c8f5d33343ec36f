//! The actions waiting for the driver, and the commands waiting for their
//! results.
//!
//! An action is recorded when it is decided, with copies of its paths and
//! arguments in a shared arena, so what the driver executes is exactly
//! what was decided even if the state changes before it polls. The arena
//! is cleared whenever the queue runs empty, so a steady state reuses its
//! memory. A command whose outcome depends on an action leaves a
//! [`Pending`] continuation, found again by the action's request id.

use super::action::{Action, ControlLink, FdSource, ProcessSettings, Spawn};
use super::registry::NameBuf;
use crate::ids::{ConnId, FdId, RequestId, ServiceId};
use daemonproxy_proto::{
    EnvList, NotifyMode, OpenFlags, PipeFlags, Rlimits, Signal, SocketAddr, SocketFlags, Umask, UserIds,
};
use std::collections::VecDeque;
use std::ops::Range;

/// Bytes of a command line kept to report its failure: the error event
/// quotes 30, the log 90 (protocol.md §2.3).
pub const QUOTE_LEN: usize = 90;

/// The start of a command line, for reporting its failure later.
#[derive(Clone, Copy, Debug)]
pub struct Quote {
    bytes: [u8; QUOTE_LEN],
    len: u8,
    /// The whole line was `QUOTE_LEN` bytes or longer.
    pub long: bool,
}

impl Quote {
    /// Keeps the start of `line`.
    pub fn of(line: &[u8]) -> Quote {
        let n = line.len().min(QUOTE_LEN);
        let mut bytes = [0; QUOTE_LEN];
        bytes[..n].copy_from_slice(&line[..n]);
        Quote { bytes, len: n as u8, long: line.len() >= QUOTE_LEN }
    }

    /// The kept bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Who issued a command that waits: the connection and its line.
#[derive(Clone, Copy, Debug)]
pub struct Issuer {
    /// The connection.
    pub conn: ConnId,
    /// The connection still exists (replies go nowhere once it ended).
    pub alive: bool,
    /// The command line.
    pub quote: Quote,
}

impl Issuer {
    /// Connection `conn` issued `line`.
    pub fn new(conn: ConnId, line: &[u8]) -> Issuer {
        Issuer { conn, alive: true, quote: Quote::of(line) }
    }

    /// The connection, if it still exists.
    pub fn live(&self) -> Option<ConnId> {
        self.alive.then_some(self.conn)
    }
}

/// What to do when a result arrives.
#[derive(Debug)]
pub enum Pending {
    /// `fd.open NAME`: store the handle with this description.
    Open { issuer: Issuer, name: NameBuf, flags: OpenFlags, description: Vec<u8> },
    /// `fd.pipe READ WRITE`.
    Pipe { issuer: Issuer, read: NameBuf, write: NameBuf, flags: PipeFlags },
    /// `fd.socket NAME`.
    Socket { issuer: Issuer, name: NameBuf, flags: SocketFlags, description: Vec<u8> },
    /// `socket.create` (or the driver's own request, without an issuer).
    Listen { issuer: Option<Issuer>, path: Vec<u8> },
    /// Removal of the control socket: log it.
    Unlisten { path: Vec<u8> },
    /// `chdir`.
    Chdir { issuer: Issuer },
    /// `service.signal NAME`.
    Kill { issuer: Issuer, name: NameBuf, pid: i32, group: bool },
    /// A start of service `key`, with its control connection if any.
    Spawn { key: ServiceId, conn: Option<ConnId> },
    /// `reexec` (or its signal, without an issuer): answered only if it
    /// failed.
    Reexec { issuer: Option<Issuer> },
}

impl Pending {
    /// The issuing connection ended: its replies go nowhere.
    fn forget(&mut self, conn: ConnId) {
        let issuer = match self {
            Pending::Open { issuer, .. }
            | Pending::Pipe { issuer, .. }
            | Pending::Socket { issuer, .. }
            | Pending::Chdir { issuer }
            | Pending::Kill { issuer, .. } => Some(issuer),
            Pending::Listen { issuer, .. } | Pending::Reexec { issuer } => issuer.as_mut(),
            Pending::Unlisten { .. } | Pending::Spawn { .. } => None,
        };
        if let Some(i) = issuer {
            if i.conn == conn {
                i.alive = false;
            }
        }
    }
}

/// A child's process settings as recorded (texts in the arena).
#[derive(Clone, Debug)]
struct ProcessRanges {
    env: Range<usize>,
    cwd: Option<Range<usize>>,
    user: Option<Range<usize>>,
    rlimits: Range<usize>,
    umask: Option<Umask>,
}

/// An action as recorded (variable parts in the arena).
#[derive(Clone, Debug)]
enum Item {
    Open {
        req: RequestId,
        path: Range<usize>,
        flags: OpenFlags,
    },
    Pipe {
        req: RequestId,
        flags: PipeFlags,
    },
    Socket {
        req: RequestId,
        flags: SocketFlags,
        addr: Option<Range<usize>>,
    },
    Listen {
        req: RequestId,
        path: Range<usize>,
    },
    Unlisten {
        req: RequestId,
        fd: FdId,
        path: Range<usize>,
    },
    Chdir {
        req: RequestId,
        path: Range<usize>,
    },
    Kill {
        req: RequestId,
        pid: i32,
        signal: Signal,
        group: bool,
    },
    Spawn {
        req: RequestId,
        argv: Range<usize>,
        fds: Range<usize>,
        control: Option<ControlLink>,
        batch: bool,
        log_to: Option<FdId>,
        process: ProcessRanges,
        notify: Option<NotifyMode>,
        listen_pid: bool,
    },
    SpawnAborting {
        req: RequestId,
    },
    Reexec {
        req: RequestId,
        args: Range<usize>,
    },
    Close {
        fd: FdId,
    },
    CloseConnection {
        conn: ConnId,
    },
    LogDestination {
        fd: Option<FdId>,
    },
    ExecOnExit {
        args: Range<usize>,
    },
}

/// A start just queued, to complete with its other parts.
pub struct SpawnItem<'a>(&'a mut Queue);

impl SpawnItem<'_> {
    /// Its control connection, whether more starts follow, and where a
    /// failed exec is logged.
    pub fn with(self, control: Option<ControlLink>, batch: bool, log_to: Option<FdId>) -> Self {
        if let Some(Item::Spawn { control: c, batch: b, log_to: l, .. }) = self.0.items.back_mut() {
            (*c, *b, *l) = (control, batch, log_to);
        }
        self
    }

    /// How it reports readiness, and whether it gets `LISTEN_PID`.
    pub fn readiness(self, notify: Option<NotifyMode>, listen_pid: bool) {
        if let Some(Item::Spawn { notify: n, listen_pid: l, .. }) = self.0.items.back_mut() {
            (*n, *l) = (notify, listen_pid);
        }
    }
}

/// The queue of actions and the table of pending continuations.
#[derive(Debug, Default)]
pub struct Queue {
    items: VecDeque<Item>,
    bytes: Vec<u8>,
    plans: Vec<FdSource>,
    pending: VecDeque<(RequestId, Pending)>,
    next: u64,
}

impl Queue {
    /// A queue with room for `n` pending starts (pool mode: no allocation
    /// for a batch of that size).
    pub fn with_capacity(n: usize) -> Queue {
        Queue {
            items: VecDeque::with_capacity(n),
            bytes: Vec::new(),
            plans: Vec::new(),
            pending: VecDeque::with_capacity(n),
            next: 1,
        }
    }

    fn store(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        start..self.bytes.len()
    }

    /// A fresh request id, remembered with its continuation.
    fn request(&mut self, then: Pending) -> RequestId {
        let req = RequestId(self.next);
        self.next += 1;
        self.pending.push_back((req, then));
        req
    }

    /// Takes the continuation of `req` (results usually come in order).
    pub fn complete(&mut self, req: RequestId) -> Option<Pending> {
        let i = self.pending.iter().position(|(r, _)| *r == req)?;
        self.pending.remove(i).map(|(_, p)| p)
    }

    /// A connection ended: continuations keep their effects but lose their
    /// replies.
    pub fn forget(&mut self, conn: ConnId) {
        for (_, p) in &mut self.pending {
            p.forget(conn);
        }
    }

    /// `fd.open`.
    pub fn open(&mut self, path: &[u8], flags: OpenFlags, then: Pending) {
        let path = self.store(path);
        let req = self.request(then);
        self.items.push_back(Item::Open { req, path, flags });
    }

    /// `fd.pipe`.
    pub fn pipe(&mut self, flags: PipeFlags, then: Pending) {
        let req = self.request(then);
        self.items.push_back(Item::Pipe { req, flags });
    }

    /// `fd.socket`.
    pub fn socket(&mut self, flags: SocketFlags, addr: Option<&[u8]>, then: Pending) {
        let addr = addr.map(|a| self.store(a));
        let req = self.request(then);
        self.items.push_back(Item::Socket { req, flags, addr });
    }

    /// The control socket.
    pub fn listen(&mut self, path: &[u8], then: Pending) {
        let path = self.store(path);
        let req = self.request(then);
        self.items.push_back(Item::Listen { req, path });
    }

    /// Removal of the control socket.
    pub fn unlisten(&mut self, fd: FdId, path: &[u8]) {
        let range = self.store(path);
        let req = self.request(Pending::Unlisten { path: path.to_vec() });
        self.items.push_back(Item::Unlisten { req, fd, path: range });
    }

    /// `chdir`.
    pub fn chdir(&mut self, path: &[u8], then: Pending) {
        let path = self.store(path);
        let req = self.request(then);
        self.items.push_back(Item::Chdir { req, path });
    }

    /// `service.signal`.
    pub fn kill(&mut self, pid: i32, signal: Signal, group: bool, then: Pending) {
        let req = self.request(then);
        self.items.push_back(Item::Kill { req, pid, signal, group });
    }

    /// A start (`log_to`, `batch`, `process`: see [`Spawn`]); complete it
    /// with [`SpawnItem::with`].
    pub fn spawn(
        &mut self,
        argv: &[u8],
        fds: &[FdSource],
        process: &ProcessSettings<'_>,
        then: Pending,
    ) -> SpawnItem<'_> {
        let argv = self.store(argv);
        let start = self.plans.len();
        self.plans.extend_from_slice(fds);
        let fds = start..self.plans.len();
        let process = ProcessRanges {
            env: self.store(process.env.raw()),
            cwd: process.cwd.map(|c| self.store(c)),
            user: process.user.map(|u| {
                let start = self.bytes.len();
                u.write_to(&mut self.bytes);
                start..self.bytes.len()
            }),
            rlimits: self.store(process.rlimits.raw()),
            umask: process.umask,
        };
        let req = self.request(then);
        let item = Item::Spawn {
            req,
            argv,
            fds,
            control: None,
            batch: false,
            log_to: None,
            process,
            notify: None,
            listen_pid: false,
        };
        self.items.push_back(item);
        SpawnItem(self)
    }

    /// A start that aborts at once.
    pub fn spawn_aborting(&mut self, then: Pending) {
        let req = self.request(then);
        self.items.push_back(Item::SpawnAborting { req });
    }

    /// `reexec`.
    pub fn reexec(&mut self, args: &[u8], then: Pending) {
        let args = self.store(args);
        let req = self.request(then);
        self.items.push_back(Item::Reexec { req, args });
    }

    /// Closing a descriptor.
    pub fn close(&mut self, fd: FdId) {
        self.items.push_back(Item::Close { fd });
    }

    /// The end of a connection.
    pub fn close_connection(&mut self, conn: ConnId) {
        self.items.push_back(Item::CloseConnection { conn });
    }

    /// A new log destination.
    pub fn log_destination(&mut self, fd: Option<FdId>) {
        self.items.push_back(Item::LogDestination { fd });
    }

    /// A new exec-on-exit program.
    pub fn exec_on_exit(&mut self, args: &[u8]) {
        let args = self.store(args);
        self.items.push_back(Item::ExecOnExit { args });
    }

    /// The next action, in the order decided.
    pub fn poll(&mut self) -> Option<Action<'_>> {
        let Some(item) = self.items.pop_front() else {
            self.bytes.clear();
            self.plans.clear();
            return None;
        };
        let b = |r: &Range<usize>| &self.bytes[r.clone()];
        Some(match item {
            Item::Open { req, path, flags } => Action::Open { req, path: b(&path), flags },
            Item::Pipe { req, flags } => Action::Pipe { req, flags },
            Item::Socket { req, flags, addr } => Action::Socket {
                req,
                flags,
                // Stored addresses were parsed from the same text before.
                addr: addr.and_then(|a| SocketAddr::parse(flags.domain, b(&a)).ok()),
            },
            Item::Listen { req, path } => Action::Listen { req, path: b(&path) },
            Item::Unlisten { req, fd, path } => Action::Unlisten { req, fd, path: b(&path) },
            Item::Chdir { req, path } => Action::Chdir { req, path: b(&path) },
            Item::Kill { req, pid, signal, group } => Action::Kill { req, pid, signal, group },
            Item::Spawn { req, argv, fds, control, batch, log_to, process, notify, listen_pid } => {
                Action::Spawn(Spawn {
                    req,
                    argv: b(&argv),
                    fds: &self.plans[fds],
                    control,
                    batch,
                    log_to,
                    // Stored settings were validated when they were set.
                    process: ProcessSettings {
                        env: EnvList::new(b(&process.env)).unwrap_or(EnvList::NONE),
                        cwd: process.cwd.map(|r| b(&r)),
                        user: process.user.and_then(|r| UserIds::parse(b(&r)).ok()),
                        rlimits: Rlimits::new(b(&process.rlimits)).unwrap_or(Rlimits::NONE),
                        umask: process.umask,
                    },
                    notify,
                    listen_pid,
                })
            }
            Item::SpawnAborting { req } => Action::SpawnAborting { req },
            Item::Reexec { req, args } => Action::Reexec { req, args: b(&args) },
            Item::Close { fd } => Action::Close { fd },
            Item::CloseConnection { conn } => Action::CloseConnection { conn },
            Item::LogDestination { fd } => Action::LogDestination { fd },
            Item::ExecOnExit { args } => Action::ExecOnExit { args: b(&args) },
        })
    }
}
