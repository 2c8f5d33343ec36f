//! A simulated world for the [`Supervisor`]: pretend descriptors, files
//! and processes on a virtual clock.
//!
//! [`Sim`] is a driver like the reactor, but every action it executes is
//! make-believe: opening a file hands out a new descriptor number, a spawn
//! hands out a new pid, a kill is recorded. Tests (and controller authors
//! who want to try their policy without processes) drive it with
//! commands, exits, signals and the passage of time, and look at the
//! events, the log and the pretend world. Failures are injected per path,
//! per program or for the next forks.
//!
//! ```
//! use daemonproxy_core::sim::Sim;
//! use daemonproxy_core::proto::ExitReason;
//!
//! let mut sim = Sim::new();
//! let me = sim.attach();
//! sim.send(me, "service.args\tw\ttrue\nservice.start\tw\n");
//! sim.advance_secs(0);
//! let pid = sim.pid_of("w").unwrap();
//! sim.advance_secs(4);
//! sim.exit(pid, ExitReason::Exit(0));
//! let events = sim.events(me);
//! assert_eq!(events.last().unwrap(), &format!("service.state\tw\tdown\t1004\t{pid}\texit\t0\t4\t0"));
//! ```

use crate::error::Outcome;
use crate::ids::{ConnId, FdId};
use crate::options::Options;
use crate::proto::{ExitReason, Name, NotifyMode, Signal};
use crate::supervisor::{
    Action, ActionResult, ChildStep, ConnKind, Errno, FdKind, FdSource, ProcessSettings, Step, Supervisor, Written,
};
use crate::time::Time;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What a pretend descriptor is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimFd {
    /// A standard descriptor of the pretend process (0, 1, 2).
    Std(u32),
    /// /dev/null.
    Null,
    /// A file opened at this path.
    File(Vec<u8>),
    /// One end of a pipe or socket pair (`true`: the read end).
    Pipe(bool),
    /// A socket, bound to this address if any.
    Socket(Option<Vec<u8>>),
    /// The control socket at this path.
    Listener(Vec<u8>),
    /// Received from a connection (`fd.take` material).
    Received,
}

/// A pretend child process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimProcess {
    /// Its TAB-separated argument list (empty for an aborting stand-in).
    pub argv: Vec<u8>,
    /// Its environment changes, as a `service.env` line's entries.
    pub env: Vec<u8>,
    /// Its working directory, if set.
    pub cwd: Option<Vec<u8>>,
    /// Its user and group ids, if set.
    pub user: Option<(u32, u32)>,
    /// Its limits, as a `service.rlimit` line's entries.
    pub rlimits: Vec<u8>,
    /// Its umask, if set.
    pub umask: Option<u16>,
    /// How it reports readiness, if it does.
    pub notify: Option<NotifyMode>,
    /// Whether it gets `LISTEN_PID`.
    pub listen_pid: bool,
    /// Its descriptors 0..N: the pretend descriptor each got, `None` for
    /// closed slots and for its control connection.
    pub fds: Vec<Option<u32>>,
    /// Its control connection, if its descriptor list asked for one.
    pub control: Option<ConnId>,
}

impl SimProcess {
    fn empty() -> SimProcess {
        SimProcess {
            argv: Vec::new(),
            env: Vec::new(),
            cwd: None,
            user: None,
            rlimits: Vec::new(),
            umask: None,
            notify: None,
            listen_pid: false,
            fds: Vec::new(),
            control: None,
        }
    }

    fn with_settings(p: &ProcessSettings<'_>) -> SimProcess {
        SimProcess {
            env: p.env.raw().to_vec(),
            cwd: p.cwd.map(<[u8]>::to_vec),
            user: p.user.map(|u| (u.uid, u.gid)),
            rlimits: p.rlimits.raw().to_vec(),
            umask: p.umask.map(|m| m.bits()),
            ..SimProcess::empty()
        }
    }
}

/// The simulated world. See the module documentation.
#[derive(Debug)]
pub struct Sim {
    sup: Supervisor,
    now: Time,
    next_fd: u32,
    next_pid: i32,
    fds: BTreeMap<u32, SimFd>,
    live: BTreeMap<i32, SimProcess>,
    kills: Vec<(i32, Signal, bool)>,
    cwd: Vec<u8>,
    log: Vec<u8>,
    /// Output written to connections the sim serves (not in-process).
    written: HashMap<ConnId, Vec<u8>>,
    /// Connections whose writes would block.
    blocked: Vec<ConnId>,
    fail_paths: HashMap<Vec<u8>, (Option<Step>, Errno)>,
    stale_sockets: Vec<Vec<u8>>,
    live_sockets: Vec<(Vec<u8>, Option<i32>)>,
    fail_programs: HashMap<Vec<u8>, (ChildStep, Errno)>,
    fail_fork: Option<Errno>,
    fail_pipe: Option<Errno>,
    fail_kill: Option<Errno>,
    log_fd: Option<FdId>,
    exec_on_exit: Vec<u8>,
    outcome: Option<Outcome>,
    /// What the supervisor did that a driver would not expect.
    violations: Vec<String>,
    /// The arguments of every re-execution.
    reexecs: Vec<Vec<u8>>,
    fail_reexec: Option<Errno>,
    opts: Options,
}

impl Default for Sim {
    fn default() -> Self {
        Sim::new()
    }
}

impl Sim {
    /// A world at time 1000 s with the default options.
    pub fn new() -> Sim {
        Sim::with_options(Options::new())
    }

    /// A world at time 1000 s: the constant handles, `stdin`, `stdout`
    /// and `stderr` (descriptors 0..2; the log writes to 2).
    pub fn with_options(opts: Options) -> Sim {
        let mut fds = BTreeMap::new();
        fds.insert(3, SimFd::Null);
        let sup = match Supervisor::new(&opts, FdId::new(3)) {
            Ok(s) => s,
            // Only a handle pool smaller than the constant handles fails:
            // such a world cannot exist, start over without the pool.
            Err(_) => Supervisor::new(&Options { fd_pool: None, ..opts.clone() }, FdId::new(3))
                .unwrap_or_else(|_| unreachable!("no pool, no failure")),
        };
        let mut sim = Sim {
            sup,
            now: Time::from_secs(1000),
            next_fd: 4,
            next_pid: 1000,
            fds,
            live: BTreeMap::new(),
            kills: Vec::new(),
            cwd: b"/".to_vec(),
            log: Vec::new(),
            written: HashMap::new(),
            blocked: Vec::new(),
            fail_paths: HashMap::new(),
            stale_sockets: Vec::new(),
            live_sockets: Vec::new(),
            fail_programs: HashMap::new(),
            fail_fork: None,
            fail_pipe: None,
            fail_kill: None,
            log_fd: None,
            exec_on_exit: Vec::new(),
            outcome: None,
            violations: Vec::new(),
            reexecs: Vec::new(),
            fail_reexec: None,
            opts: opts.clone(),
        };
        let file = FdKind::File { read: true, write: true, append: false, nonblock: false };
        for (n, name) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
            sim.fds.insert(n, SimFd::Std(n));
            let name = Name::from_text(name).unwrap_or_else(|| unreachable!());
            let _ = sim.sup.add_handle(name, FdId::new(n), file);
        }
        sim.settle();
        sim
    }

    // ----- the world ---------------------------------------------------------

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The supervisor.
    pub fn supervisor(&self) -> &Supervisor {
        &self.sup
    }

    /// The supervisor, to feed it inputs directly (call
    /// [`Sim::settle`] afterwards).
    pub fn supervisor_mut(&mut self) -> &mut Supervisor {
        &mut self.sup
    }

    /// The pretend descriptors that are open, by number.
    pub fn open_fds(&self) -> &BTreeMap<u32, SimFd> {
        &self.fds
    }

    /// The pretend processes alive, by pid.
    pub fn processes(&self) -> &BTreeMap<i32, SimProcess> {
        &self.live
    }

    /// The pid of the running service `name`.
    pub fn pid_of(&self, name: &str) -> Option<i32> {
        self.sup.running().find(|(n, _)| *n == name).map(|(_, p)| p)
    }

    /// Every kill sent: (pid, signal, to the group).
    pub fn kills(&self) -> &[(i32, Signal, bool)] {
        &self.kills
    }

    /// The process's pretend working directory.
    pub fn cwd(&self) -> &[u8] {
        &self.cwd
    }

    /// Where the log writes (the pretend descriptor).
    pub fn log_destination(&self) -> Option<u32> {
        self.log_fd.map(FdId::get)
    }

    /// The armed exec-on-exit program.
    pub fn armed_exec_on_exit(&self) -> &[u8] {
        &self.exec_on_exit
    }

    /// What the supervisor did that a driver would not expect (writing the
    /// log to a descriptor it did not announce, or to a closed one); empty
    /// when all is well.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// The arguments of every `reexec` executed (empty: the default).
    pub fn reexecs(&self) -> &[Vec<u8>] {
        &self.reexecs
    }

    /// A pretend re-execution: the supervisor's state is written and read
    /// back into a new supervisor, as a new image of the daemon would. Every
    /// connection goes on (with the same id); a state that cannot be read
    /// back is recorded as a violation.
    fn reexec_in_place(&mut self) {
        let mut state = Vec::new();
        self.sup.save_state(|_, _| true, &mut state);
        match Supervisor::restore(&self.opts, &state) {
            Ok((sup, _)) => {
                self.sup = sup;
                self.sup.reexec_done(self.now);
            }
            Err(e) => self.violations.push(format!("state not read back: {e}")),
        }
    }

    /// The outcome decided, if any (taken).
    pub fn outcome(&mut self) -> Option<Outcome> {
        self.outcome.take()
    }

    /// Opening, binding or changing to `path` fails with `errno`. (An
    /// empty path always fails with `ENOENT`, as it does for the system.)
    pub fn fail_path(&mut self, path: &str, errno: i32) {
        self.fail_paths.insert(path.as_bytes().to_vec(), (None, Errno(errno)));
    }

    /// Like [`Sim::fail_path`], but the action on `path` fails at `step`:
    /// [`Step::Setsockopt`] or [`Step::Listen`] for `fd.socket`, or
    /// [`Step::Unlink`] for a file that is not a socket in the way of the
    /// control socket.
    pub fn fail_path_at(&mut self, path: &str, step: Step, errno: i32) {
        self.fail_paths.insert(path.as_bytes().to_vec(), (Some(step), Errno(errno)));
    }

    /// A running daemon (with pid `pid`, if known) listens at `path`: a
    /// control socket created there is refused.
    pub fn live_socket(&mut self, path: &str, pid: Option<i32>) {
        self.live_sockets.push((path.as_bytes().to_vec(), pid));
    }

    /// A socket file left by an earlier daemon lies at `path`: the next
    /// control socket created there removes it first (and says so).
    pub fn stale_socket(&mut self, path: &str) {
        self.stale_sockets.push(path.as_bytes().to_vec());
    }

    /// Executing `program` (`argv[0]`) fails with `errno`.
    pub fn fail_exec(&mut self, program: &str, errno: i32) {
        self.fail_child(program, ChildStep::Exec, errno);
    }

    /// Starting `program` (`argv[0]`) fails at `step` of the child's
    /// set-up with `errno`.
    pub fn fail_child(&mut self, program: &str, step: ChildStep, errno: i32) {
        self.fail_programs.insert(program.as_bytes().to_vec(), (step, Errno(errno)));
    }

    /// Creating processes fails with `errno` until cleared.
    pub fn fail_fork(&mut self, errno: Option<i32>) {
        self.fail_fork = errno.map(Errno);
    }

    /// Creating pipes and socket pairs fails with `errno` until cleared:
    /// `fd.pipe`, and the start of a service with a `control.*` handle
    /// (its connection is a socket pair).
    pub fn fail_pipes(&mut self, errno: Option<i32>) {
        self.fail_pipe = errno.map(Errno);
    }

    /// Re-executing the daemon (`reexec`) fails with `errno` until cleared.
    pub fn fail_reexec(&mut self, errno: Option<i32>) {
        self.fail_reexec = errno.map(Errno);
    }

    /// Sending signals fails with `errno` until cleared.
    pub fn fail_kills(&mut self, errno: Option<i32>) {
        self.fail_kill = errno.map(Errno);
    }

    // ----- connections ---------------------------------------------------------

    /// Attaches an in-process controller.
    pub fn attach(&mut self) -> ConnId {
        let id = self.sup.open_connection(ConnKind::InProcess, self.now);
        self.settle();
        id
    }

    /// Connects a controller of `kind` whose output the sim receives (a
    /// control-socket client, a config file...).
    pub fn connect(&mut self, kind: ConnKind) -> ConnId {
        let id = self.sup.open_connection(kind, self.now);
        self.written.entry(id).or_default();
        self.settle();
        id
    }

    /// A client connects to the control socket: admitted as a
    /// [`ConnKind::Socket`] connection whose output the sim receives, or
    /// refused (`None`) beyond the connection limit.
    pub fn accept(&mut self) -> Option<ConnId> {
        let id = self.sup.accept_connection(self.now);
        if let Some(id) = id {
            self.written.entry(id).or_default();
        }
        self.settle();
        id
    }

    /// Sends text to a connection; returns how many bytes it took.
    pub fn send(&mut self, conn: ConnId, text: &str) -> usize {
        self.send_bytes(conn, text.as_bytes())
    }

    /// Sends bytes to a connection; returns how many it took.
    pub fn send_bytes(&mut self, conn: ConnId, bytes: &[u8]) -> usize {
        let n = self.sup.push_input(conn, bytes, self.now);
        self.settle();
        n
    }

    /// A descriptor arrives with the connection's next input.
    pub fn send_fd(&mut self, conn: ConnId, what: FdKind) -> u32 {
        let n = self.new_fd(SimFd::Received);
        self.sup.handle_received_fd(conn, FdId::new(n), Ok(what));
        self.settle();
        n
    }

    /// The connection's input ends.
    pub fn end_input(&mut self, conn: ConnId) {
        self.sup.handle_input_end(conn, self.now);
        self.settle();
    }

    /// The events a connection received since the last call, as lines.
    pub fn events(&mut self, conn: ConnId) -> Vec<String> {
        let mut out = self.written.get_mut(&conn).map(std::mem::take).unwrap_or_default();
        if self.sup.connection_kind(conn) == Some(ConnKind::InProcess) {
            self.sup.take_output(conn, &mut out, self.now);
            self.settle();
        }
        lines(&out)
    }

    /// Writes to the connection would block until [`Sim::unblock`].
    pub fn block(&mut self, conn: ConnId) {
        self.blocked.push(conn);
    }

    /// Writes to the connection work again.
    pub fn unblock(&mut self, conn: ConnId) {
        self.blocked.retain(|&c| c != conn);
        self.sup.handle_writable(conn, self.now);
        self.settle();
    }

    /// The log lines written since the last call (to the descriptor of
    /// [`Sim::log_destination`]: the sim panics if the supervisor writes
    /// the log anywhere else, or to a descriptor it closed).
    pub fn log(&mut self) -> Vec<String> {
        lines(&std::mem::take(&mut self.log))
    }

    // ----- processes, signals, time -----------------------------------------------

    /// Process `pid` exits (one round of the loop: its `down`, then the
    /// timers, which decide its restart).
    pub fn exit(&mut self, pid: i32, how: ExitReason) {
        self.reap(pid, how);
        self.sup.handle_timeout(self.now);
        self.settle();
    }

    /// Process `pid` is reaped, and nothing else happens yet: the first
    /// half of a round of the loop. Input of the same round goes next (the
    /// commands a service wrote on its control connection before it
    /// exited, §2.1), then `advance(Duration::ZERO)` ends the round with
    /// the timers, which decide the restart. [`Sim::exit`] is both halves
    /// without input in between.
    pub fn reap(&mut self, pid: i32, how: ExitReason) {
        self.live.remove(&pid);
        self.sup.handle_exit(pid, how, None, self.now);
        self.settle();
    }

    /// Process `pid` exits having used `usage` (one round of the loop).
    pub fn exit_with_usage(&mut self, pid: i32, how: ExitReason, usage: crate::supervisor::Usage) {
        self.live.remove(&pid);
        self.sup.handle_exit(pid, how, Some(usage), self.now);
        self.settle();
        self.sup.handle_timeout(self.now);
        self.settle();
    }

    /// A signal reaches the daemon (one round of the loop).
    pub fn signal(&mut self, sig: Signal) {
        self.sup.handle_signal(sig, self.now);
        self.settle();
        self.sup.handle_timeout(self.now);
        self.settle();
    }

    /// Time passes: every timer due until then fires, in order, each at
    /// its own time.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        let mut spins = 0;
        loop {
            self.sup.handle_timeout(self.now);
            self.settle();
            match self.sup.poll_timeout() {
                // Due again at once (a restart to decide, a quick log
                // retry, starts beyond one pass's share): another round at
                // the same time, a bounded number of them.
                Some(t) if t <= self.now && spins < 10_000 => spins += 1,
                Some(t) if t > self.now && t <= until => {
                    self.now = t;
                    spins = 0;
                }
                _ if self.now < until => {
                    self.now = until;
                    spins = 0;
                }
                _ => break,
            }
        }
    }

    /// [`Sim::advance`] by whole seconds.
    pub fn advance_secs(&mut self, secs: u64) {
        self.advance(Duration::from_secs(secs));
    }

    /// Executes the supervisor's actions and moves its output until
    /// nothing is left (the drain order of [`Supervisor`]).
    pub fn settle(&mut self) {
        loop {
            let mut progress = false;
            while self.execute_next() {
                progress = true;
            }
            while let Some((conn, bytes)) = self.sup.poll_transmit() {
                progress = true;
                let written = if self.blocked.contains(&conn) {
                    Written::WouldBlock
                } else {
                    self.written.entry(conn).or_default().extend_from_slice(bytes);
                    Written::Bytes(bytes.len())
                };
                self.sup.handle_written(conn, written, self.now);
            }
            while let Some((fd, bytes)) = self.sup.poll_log() {
                progress = true;
                // The log must write where it last said it would, to a
                // descriptor that is still open.
                if self.log_fd != Some(fd) {
                    self.violations.push(format!("log written to {fd}, which it did not announce"));
                } else if !self.fds.contains_key(&fd.get()) {
                    self.violations.push(format!("log written to closed descriptor {fd}"));
                }
                let n = bytes.len();
                self.log.extend_from_slice(bytes);
                self.sup.handle_log_written(Some(n), self.now);
            }
            if let Some(o) = self.sup.poll_outcome() {
                self.outcome.get_or_insert(o);
            }
            if !progress {
                return;
            }
        }
    }

    fn new_fd(&mut self, what: SimFd) -> u32 {
        let n = self.next_fd;
        self.next_fd += 1;
        self.fds.insert(n, what);
        n
    }

    /// How an action on `path` fails, if it does; `step` is where it
    /// fails unless told otherwise.
    fn path_failure(&self, path: &[u8], step: Step) -> Option<ActionResult> {
        let (at, errno) = match self.fail_paths.get(path) {
            Some(&f) => f,
            None if path.is_empty() => (None, Errno(libc::ENOENT)),
            None => return None,
        };
        Some(ActionResult::Failed { step: at.unwrap_or(step), errno })
    }

    fn execute_next(&mut self) -> bool {
        let Some(action) = self.sup.poll_action() else { return false };
        let owned = OwnedAction::from(action);
        let result = self.execute(owned);
        if let Some((req, r)) = result {
            self.sup.handle_result(req, r, self.now);
        }
        true
    }

    fn execute(&mut self, a: OwnedAction) -> Option<(crate::ids::RequestId, ActionResult)> {
        let failed = |step, errno| ActionResult::Failed { step, errno };
        Some(match a {
            OwnedAction::Open { req, path } => match self.path_failure(&path, Step::Open) {
                Some(f) => (req, f),
                None => (req, ActionResult::Fd(FdId::new(self.new_fd(SimFd::File(path))))),
            },
            OwnedAction::Pipe { req, socket } => match self.fail_pipe {
                Some(e) => (req, failed(if socket { Step::Socketpair } else { Step::Pipe }, e)),
                None => {
                    let r = self.new_fd(SimFd::Pipe(true));
                    let w = self.new_fd(SimFd::Pipe(false));
                    (req, ActionResult::Pair(FdId::new(r), FdId::new(w)))
                }
            },
            OwnedAction::Socket { req, addr } => match addr.as_deref().and_then(|a| self.path_failure(a, Step::Bind)) {
                Some(f) => (req, f),
                None => (req, ActionResult::Fd(FdId::new(self.new_fd(SimFd::Socket(addr))))),
            },
            OwnedAction::Listen { req, path } => {
                let live = self.live_sockets.iter().find(|(p, _)| *p == path).map(|&(_, pid)| pid);
                match (self.path_failure(&path, Step::Bind), live) {
                    (Some(f), _) => (req, f),
                    (None, Some(pid)) => (req, ActionResult::InUse { pid }),
                    (None, None) => {
                        let stale = self.stale_sockets.iter().position(|p| *p == path);
                        let replaced = stale.map(|i| self.stale_sockets.remove(i)).is_some();
                        (req, ActionResult::Listener { fd: FdId::new(self.new_fd(SimFd::Listener(path))), replaced })
                    }
                }
            }
            OwnedAction::Unlisten { req, fd } => {
                self.fds.remove(&fd.get());
                (req, ActionResult::Done)
            }
            OwnedAction::Chdir { req, path } => match self.path_failure(&path, Step::Chdir) {
                Some(f) => (req, f),
                None => {
                    self.cwd = path;
                    (req, ActionResult::Done)
                }
            },
            OwnedAction::Kill { req, pid, signal, group } => {
                if let Some(e) = self.fail_kill {
                    (req, failed(Step::Kill, e))
                } else if self.live.contains_key(&pid) {
                    self.kills.push((pid, signal, group));
                    (req, ActionResult::Done)
                } else {
                    (req, failed(Step::Kill, Errno(3)))
                }
            }
            OwnedAction::Spawn { req, argv, fds, control, process } => {
                // A control connection's socket pair is made before the fork.
                let failure = match (control, self.fail_pipe, self.fail_fork) {
                    (Some(_), Some(e), _) => Some(failed(Step::Socketpair, e)),
                    (_, _, Some(e)) => Some(failed(Step::Fork, e)),
                    _ => None,
                };
                if let Some(f) = failure {
                    if let Some(c) = control {
                        self.written.remove(&c);
                    }
                    return Some((req, f));
                }
                let pid = self.next_pid;
                self.next_pid += 1;
                let prog = argv.split(|&b| b == b'\t').next().unwrap_or(b"").to_vec();
                let plan = fds
                    .iter()
                    .map(|s| match s {
                        FdSource::Fd(fd) => Some(fd.get()),
                        _ => None,
                    })
                    .collect();
                if let Some(c) = control {
                    self.written.entry(c).or_default();
                }
                self.live.insert(pid, SimProcess { argv, fds: plan, control, ..*process });
                match self.fail_programs.get(&prog) {
                    Some(&(step, errno)) => (req, ActionResult::ChildFailed { pid, step, errno }),
                    None => (req, ActionResult::Spawned { pid }),
                }
            }
            OwnedAction::SpawnAborting { req } => match self.fail_fork {
                Some(e) => (req, failed(Step::Fork, e)),
                None => {
                    let pid = self.next_pid;
                    self.next_pid += 1;
                    self.live.insert(pid, SimProcess::empty());
                    (req, ActionResult::Spawned { pid })
                }
            },
            OwnedAction::Reexec { req, args } => {
                // A pretend re-execution: the state is written and read back
                // into a new supervisor, as a new image would.
                self.reexecs.push(args);
                if let Some(e) = self.fail_reexec {
                    return Some((req, failed(Step::Exec, e)));
                }
                self.reexec_in_place();
                return None;
            }
            OwnedAction::Close { fd } => {
                self.fds.remove(&fd.get());
                return None;
            }
            OwnedAction::CloseConnection { conn } => {
                self.blocked.retain(|&c| c != conn);
                return None;
            }
            OwnedAction::LogDestination { fd } => {
                self.log_fd = fd;
                return None;
            }
            OwnedAction::ExecOnExit { args } => {
                self.exec_on_exit = args;
                return None;
            }
        })
    }
}

/// An action copied out of the supervisor, so the sim can change itself
/// while executing it.
enum OwnedAction {
    Open {
        req: crate::ids::RequestId,
        path: Vec<u8>,
    },
    Pipe {
        req: crate::ids::RequestId,
        socket: bool,
    },
    Socket {
        req: crate::ids::RequestId,
        addr: Option<Vec<u8>>,
    },
    Listen {
        req: crate::ids::RequestId,
        path: Vec<u8>,
    },
    Unlisten {
        req: crate::ids::RequestId,
        fd: FdId,
    },
    Chdir {
        req: crate::ids::RequestId,
        path: Vec<u8>,
    },
    Kill {
        req: crate::ids::RequestId,
        pid: i32,
        signal: Signal,
        group: bool,
    },
    Spawn {
        req: crate::ids::RequestId,
        argv: Vec<u8>,
        fds: Vec<FdSource>,
        control: Option<ConnId>,
        process: Box<SimProcess>,
    },
    SpawnAborting {
        req: crate::ids::RequestId,
    },
    Reexec {
        req: crate::ids::RequestId,
        args: Vec<u8>,
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
        args: Vec<u8>,
    },
}

impl From<Action<'_>> for OwnedAction {
    fn from(a: Action<'_>) -> OwnedAction {
        match a {
            Action::Open { req, path, .. } => OwnedAction::Open { req, path: path.to_vec() },
            Action::Pipe { req, flags } => OwnedAction::Pipe { req, socket: flags.socket.is_some() },
            Action::Socket { req, addr, .. } => OwnedAction::Socket { req, addr: addr.map(|a| a.text.to_vec()) },
            Action::Listen { req, path } => OwnedAction::Listen { req, path: path.to_vec() },
            Action::Unlisten { req, fd, .. } => OwnedAction::Unlisten { req, fd },
            Action::Chdir { req, path } => OwnedAction::Chdir { req, path: path.to_vec() },
            Action::Kill { req, pid, signal, group } => OwnedAction::Kill { req, pid, signal, group },
            Action::Spawn(s) => OwnedAction::Spawn {
                req: s.req,
                argv: s.argv.to_vec(),
                fds: s.fds.to_vec(),
                control: s.control.map(|c| c.conn),
                process: Box::new(SimProcess {
                    notify: s.notify,
                    listen_pid: s.listen_pid,
                    ..SimProcess::with_settings(&s.process)
                }),
            },
            Action::SpawnAborting { req } => OwnedAction::SpawnAborting { req },
            Action::Reexec { req, args } => OwnedAction::Reexec { req, args: args.to_vec() },
            Action::Close { fd } => OwnedAction::Close { fd },
            Action::CloseConnection { conn } => OwnedAction::CloseConnection { conn },
            Action::LogDestination { fd } => OwnedAction::LogDestination { fd },
            Action::ExecOnExit { args } => OwnedAction::ExecOnExit { args: args.to_vec() },
        }
    }
}

/// Splits output into lines (without their LF), lossily as text.
fn lines(bytes: &[u8]) -> Vec<String> {
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| String::from_utf8_lossy(l).into_owned()).collect()
}
