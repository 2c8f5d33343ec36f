//! The supervisor: all of daemonproxy's state and every decision.
//!
//! It is fed lines from controllers, reaped exits, caught signals and the
//! passage of time, and it answers with events queued on controllers and
//! with the system calls the commands ask for (opening files, spawning and
//! signalling services). The reactor (`reactor.rs`) owns the event loop and
//! tells the supervisor what happened; everything the protocol specifies
//! happens here.

use crate::client::{self, Client, Dump, Io, Kind};
use crate::handle::{self, Handle, HeldFd};
use crate::log::{Log, Lossy};
use crate::processes::{exec_status, FdSource, OsProcesses, Processes, SpawnError, Spawned, WaitStatus};
use crate::registry::{NameBuf, Registry};
use crate::service::{Exited, Service, Setting, State};
use crate::sys::{self, fd::FdDescription};
use crate::time::{secs, Time, SEC};
use crate::{log, Options};
use daemonproxy_proto::{
    encode_command_error, encode_unknown_command, is_ignored, AddrKind, Command, CommandError, CommandKind, Domain,
    Event, ExitReason, FdEntry, FdInfo, FdList, Frame, LogFilterArg, LogLevel, Name, PipeFlags, ServiceState, Signal,
    SockType, SocketAddr, SocketFlags, Special, StartWhen,
};
use slab::Slab;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// Signals that are recorded and reported (§10.1).
pub const RECORDED_SIGNALS: [Signal; 6] =
    [Signal::INT, Signal::HUP, Signal::TERM, Signal::USR1, Signal::USR2, Signal::QUIT];

/// How often pending exec statuses are looked at while there are any.
const EXEC_CHECK: Time = SEC / 100;

/// Delay before retrying a start whose fork step failed (§9.6).
const RETRY_DELAY: Time = 3 * SEC;

/// Bytes of a command quoted in the log (§3.10).
const LOG_QUOTE_LEN: usize = 90;

/// A signal's pending count and the time of its last reception.
#[derive(Clone, Copy, Debug)]
struct SignalRecord {
    signal: Signal,
    count: u64,
    last: Time,
}

/// Why the daemon should stop, as decided by a command or an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Normal termination (`terminate`, end of the interactive session),
    /// with this exit status.
    Exit(i32),
    /// A fatal condition (§14.1): status and message.
    Fatal(i32, String),
}

/// Changes the reactor must apply to its registrations.
#[derive(Debug)]
pub(crate) enum IoChange {
    /// A controller was added.
    Added(usize),
    /// The control socket was created, replaced or removed.
    Listener,
}

/// All state. See the module documentation.
pub struct Supervisor {
    pub(crate) services: Registry<Service>,
    pub(crate) handles: Registry<Handle>,
    pub(crate) clients: Slab<Client>,
    /// Controllers that ended, for the reactor to deregister and drop.
    pub(crate) dead: Vec<Client>,
    pub(crate) io_changes: Vec<IoChange>,
    pids: HashMap<i32, usize>,
    /// Status pipes of children whose exec has not reported yet: (pid, pipe).
    execs: Vec<(i32, OwnedFd)>,
    /// When to look at pending exec statuses again (their pipes are not
    /// polled: most execs finish within milliseconds).
    exec_check_at: Option<Time>,
    /// Services reaped whose restart is still to be decided: (key, pid).
    restarts: Vec<(usize, i32)>,
    signals: [SignalRecord; 6],
    /// The log.
    pub log: Log,
    procs: Box<dyn Processes>,
    guard: Option<i64>,
    exec_args: Vec<u8>,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) listener: Option<(OwnedFd, Vec<u8>)>,
    service_obj: Option<usize>,
    fd_obj: Option<usize>,
    /// Services in the `start` state.
    starts: usize,
    /// A controller must run again at once (it entered the overflow state
    /// with commands waiting, §3.9): the loop must not sleep.
    pub(crate) run_again: bool,
    null_fd: RawFd,
    scratch: Vec<u8>,
    msg: Vec<u8>,
    line: Vec<u8>,
    /// Reused lists, so that the steady state does not allocate.
    keys: Vec<usize>,
    plan: Vec<FdSource>,
    slots: Vec<usize>,
}

/// A command failed; its message is in `Supervisor::msg`.
struct Failed;

type Res = Result<(), Failed>;

impl Supervisor {
    /// A supervisor with the constant handles, `null` on `null_fd`, and the
    /// standard and inherited handles given (name, descriptor, what it is).
    pub(crate) fn new(
        opts: &Options,
        null: OwnedFd,
        handles: Vec<(NameBuf, HeldFd, FdDescription)>,
        procs: Box<dyn Processes>,
    ) -> Result<Supervisor, Outcome> {
        let fd_limit = opts.fd_pool.map(|(n, _)| n);
        let mut hs = Registry::new(fd_limit);
        let null_fd = null.as_raw_fd();
        let mut null = Some(null);
        for s in Special::ALL {
            let fd = if s == Special::Null { null.take().map(HeldFd::Owned) } else { None };
            let h = Handle { fd, kind: handle::Kind::Special(s), description: Vec::new() };
            let name = NameBuf::new(Name::from_text(s.name()).unwrap_or_else(|| unreachable!()));
            hs.insert(name, h).map_err(|_| fatal_fd_pool())?;
        }
        for (name, fd, what) in handles {
            hs.insert(name, Handle::introspected(fd, what)).map_err(|_| fatal_fd_pool())?;
        }
        let stderr = NameBuf::new(Name::from_text("stderr").unwrap_or_else(|| unreachable!()));
        let mut log = Log::new(opts.log_filter, 2, Some(stderr));
        if hs.by_name(b"stderr").and_then(Handle::raw_fd) != Some(2) {
            log.detach(2);
        }
        Ok(Supervisor {
            services: Registry::new(opts.service_pool.map(|(n, _)| n)),
            handles: hs,
            clients: Slab::new(),
            dead: Vec::new(),
            io_changes: Vec::new(),
            execs: Vec::new(),
            restarts: Vec::new(),
            exec_check_at: None,
            pids: HashMap::with_capacity(opts.service_pool.map_or(0, |(n, _)| n)),
            signals: RECORDED_SIGNALS.map(|signal| SignalRecord { signal, count: 0, last: 0 }),
            log,
            procs,
            guard: opts.exit_guard.filter(|&g| g != 0),
            exec_args: opts.exec_args.clone(),
            outcome: None,
            listener: None,
            service_obj: opts.service_pool.map(|(_, m)| m),
            fd_obj: opts.fd_pool.map(|(_, m)| m),
            starts: 0,
            run_again: false,
            null_fd,
            scratch: Vec::with_capacity(2048),
            msg: Vec::with_capacity(256),
            line: Vec::with_capacity(daemonproxy_proto::MAX_LINE + 1),
            keys: Vec::new(),
            plan: Vec::new(),
            slots: Vec::new(),
        })
    }

    /// A supervisor without a reactor, for tests and simulations: the
    /// constant handles only, its log discarded, children from `procs`.
    /// Drive it with [`Supervisor::attach`], [`Supervisor::send`],
    /// [`Supervisor::handle_exit`], [`Supervisor::handle_signal`] and
    /// [`Supervisor::start_due`], passing the time explicitly.
    pub fn simulated(opts: &Options, procs: Box<dyn Processes>) -> io::Result<Supervisor> {
        let null = sys::fd::open_dev_null()?;
        let mut sup = Supervisor::new(opts, null, Vec::new(), procs).map_err(|o| io::Error::other(format!("{o:?}")))?;
        sup.log.discard();
        Ok(sup)
    }

    /// A supervisor whose children are real processes.
    pub(crate) fn with_os(
        opts: &Options,
        null: OwnedFd,
        handles: Vec<(NameBuf, HeldFd, FdDescription)>,
    ) -> Result<Supervisor, Outcome> {
        let procs = if opts.service_pool.is_some() || opts.fd_pool.is_some() {
            OsProcesses::without_allocation()
        } else {
            OsProcesses::new()
        };
        Supervisor::new(opts, null, handles, Box::new(procs))
    }

    /// Attaches an in-process controller; returns its id.
    pub fn attach(&mut self) -> usize {
        self.add_client(Client::new(Kind::InProcess, Io::InProcess, true, true))
    }

    /// Gives bytes to an in-process controller and runs its complete lines
    /// at `now`. Returns how many bytes fitted its input buffer.
    pub fn send(&mut self, id: usize, bytes: &[u8], now: Time) -> usize {
        let Some(c) = self.clients.get_mut(id) else { return 0 };
        let n = c.framer.push(bytes);
        self.run_client(id, now);
        n
    }

    /// Moves the events queued for an in-process controller into `into`.
    pub fn take_events(&mut self, id: usize, into: &mut Vec<u8>) {
        if let Some(c) = self.clients.get_mut(id) {
            c.take_output(into);
        }
    }

    /// The pid of each running service, by name (for checks).
    pub fn running(&self) -> impl Iterator<Item = (&str, i32)> {
        self.services.iter().filter_map(|(n, _, s)| match s.state {
            State::Up { pid, .. } => Some((n.name().as_str(), pid)),
            _ => None,
        })
    }

    /// Checks the supervisor's internal invariants: the pid index names
    /// exactly the running services, and the count of pending starts is
    /// right. Returns a description of the first violation.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut up = 0;
        let mut starts = 0;
        for (name, key, s) in self.services.iter() {
            match s.state {
                State::Up { pid, .. } => {
                    up += 1;
                    if self.pids.get(&pid) != Some(&key) {
                        return Err(format!(
                            "service {name} runs as pid {pid} but the pid index says {:?}",
                            self.pids.get(&pid)
                        ));
                    }
                }
                State::Start(_) => starts += 1,
                State::Down(_) => {}
            }
        }
        if up != self.pids.len() {
            return Err(format!("{} pids indexed for {up} running services", self.pids.len()));
        }
        if starts != self.starts {
            return Err(format!("{starts} services in start, counter says {}", self.starts));
        }
        Ok(())
    }

    // ----- accessors used by the reactor and the CLI -------------------

    /// The terminate guard, if set.
    pub fn guard(&self) -> Option<i64> {
        self.guard
    }

    /// The exec-on-exit arguments (empty: none).
    pub fn exec_args(&self) -> &[u8] {
        &self.exec_args
    }

    /// Logs `warning: service 'NAME' running as pid PID` for every running
    /// service, in name order (§14.2).
    pub fn log_running_services(&mut self) {
        let Supervisor { services, log, .. } = self;
        for (name, _, s) in services.iter() {
            if let State::Up { pid, .. } = s.state {
                log!(*log, Warning, "service '{}' running as pid {}", name, pid);
            }
        }
    }

    /// Points the named standard handle at a private duplicate of
    /// /dev/null, keeping its reported flags (§8.3).
    pub(crate) fn repoint_to_null(&mut self, name: &str) -> io::Result<()> {
        let null = sys::fd::dup_cloexec(sys::raw::borrow(self.null_fd))?;
        if let Some(k) = self.handles.key(name.as_bytes()) {
            if let Some(h) = self.handles.get_mut(k) {
                // The old descriptor is dropped, not closed: 0..2 stay open
                // for the controller that uses them.
                if let Some(old) = h.fd.replace(HeldFd::Owned(null)) {
                    self.log.detach(old.raw());
                }
            }
        }
        Ok(())
    }

    // ----- controllers -------------------------------------------------

    /// Adds a controller; returns its id.
    pub(crate) fn add_client(&mut self, client: Client) -> usize {
        let id = self.clients.insert(client);
        log!(self.log, Debug, "creating client {}", id);
        self.io_changes.push(IoChange::Added(id));
        id
    }

    /// Ends a controller at once: the reactor deregisters and drops it.
    pub(crate) fn destroy_client(&mut self, id: usize, now: Time) {
        if !self.clients.contains(id) {
            return;
        }
        let mut c = self.clients.remove(id);
        c.flush(now);
        log!(self.log, Debug, "destroying client {}", id);
        for fd in c.ancillary.drain(..) {
            log!(self.log, Warning, "closing leftover ancillary file descriptor {}", fd.as_raw_fd());
        }
        let interactive = c.kind == Kind::Interactive;
        self.dead.push(c);
        if interactive {
            if self.guard.is_some() {
                log!(self.log, Warning, "interactive session ended, but not exiting due to terminate-guard");
            } else {
                log!(self.log, Info, "interactive session ended");
                self.outcome.get_or_insert(Outcome::Exit(0));
            }
        }
    }

    /// Queues `lines` (complete lines, LF included) to one controller.
    fn send_line(clients: &mut Slab<Client>, log: &mut Log, id: usize, lines: &[u8], now: Time) {
        if let Some(c) = clients.get_mut(id) {
            if c.queue(lines, now) {
                Self::log_events(log, id, lines);
            }
        }
    }

    /// Logs each line queued to a controller at debug level (§11.2).
    fn log_events(log: &mut Log, id: usize, lines: &[u8]) {
        if log.enabled(LogLevel::Debug) {
            for line in lines.split_inclusive(|&b| b == b'\n') {
                log.log(LogLevel::Debug, format_args!("client[{}] event: \"{}\"", id, Lossy(line)));
            }
        }
    }

    /// Sends the line in `scratch` to `to` (one controller or, with `None`,
    /// every controller).
    fn deliver(&mut self, to: Option<usize>, now: Time) {
        let Supervisor { clients, log, scratch, .. } = self;
        match to {
            Some(id) => Self::send_line(clients, log, id, scratch, now),
            None => {
                for (id, c) in clients.iter_mut() {
                    if c.queue(scratch, now) {
                        Self::log_events(log, id, scratch);
                    }
                }
            }
        }
    }

    /// Encodes `ev` and sends it.
    fn emit(&mut self, to: Option<usize>, ev: Event<'_>, now: Time) {
        self.scratch.clear();
        ev.encode(&mut self.scratch);
        self.deliver(to, now);
    }

    /// Sends a service's state.
    fn emit_state(&mut self, to: Option<usize>, key: usize, now: Time, live: bool) {
        let Some(s) = self.services.get(key) else { return };
        self.scratch.clear();
        Event::ServiceState { name: s.name.name(), state: s.event_state(now, live) }.encode(&mut self.scratch);
        self.deliver(to, now);
    }

    /// Sends one of a service's settings events.
    fn emit_setting(&mut self, to: Option<usize>, key: usize, which: Setting, now: Time) {
        let Some(s) = self.services.get(key) else { return };
        self.scratch.clear();
        encode_setting(s, s.name.name(), which, &mut self.scratch);
        self.deliver(to, now);
    }

    /// Sends a service's five statedump lines (§5.1) in one piece.
    fn emit_service(&mut self, id: usize, key: usize, now: Time) {
        let Some(s) = self.services.get(key) else { return };
        let name = s.name.name();
        self.scratch.clear();
        Event::ServiceState { name, state: s.event_state(now, false) }.encode(&mut self.scratch);
        for which in [Setting::Tags, Setting::Args, Setting::Fds, Setting::Triggers] {
            encode_setting(s, name, which, &mut self.scratch);
        }
        self.deliver(Some(id), now);
    }

    /// Sends a handle's state.
    fn emit_handle(&mut self, to: Option<usize>, name: &[u8], now: Time) {
        let Some(h) = self.handles.by_name(name) else { return };
        let Some(name) = Name::new(name) else { return };
        self.scratch.clear();
        Event::FdState { name, info: h.info() }.encode(&mut self.scratch);
        self.deliver(to, now);
    }

    /// Reports a failed command: the error event to the issuer, two log
    /// lines (§3.10).
    fn report_failure(&mut self, id: usize, line: &[u8], now: Time) {
        let msg = std::mem::take(&mut self.msg);
        let msg_cut = &msg[..msg.len().min(daemonproxy_proto::ERROR_MESSAGE_MAX)];
        self.scratch.clear();
        encode_command_error(&mut self.scratch, msg_cut, line);
        self.deliver(Some(id), now);
        if self.log.enabled(LogLevel::Error) {
            let quoted = &line[..line.len().min(LOG_QUOTE_LEN)];
            let dots = if line.len() >= LOG_QUOTE_LEN { "..." } else { "" };
            log!(self.log, Error, "controller[{}] command failed: '{}'{}", id, Lossy(quoted), dots);
            log!(self.log, Error, "  with error: '{}'", Lossy(msg_cut));
        }
        self.msg = msg;
    }

    fn fail(&mut self, text: &str) -> Res {
        self.msg.clear();
        self.msg.extend_from_slice(text.as_bytes());
        Err(Failed)
    }

    fn fail_os(&mut self, prefix: &str, e: &io::Error) -> Res {
        self.msg.clear();
        self.msg.extend_from_slice(prefix.as_bytes());
        sys::errno_text(e.raw_os_error().unwrap_or(libc::EIO), &mut self.msg);
        Err(Failed)
    }

    // ----- running controllers ------------------------------------------

    /// Runs one controller: delivers due signals, executes queued commands
    /// and statedump steps while its output has room (§2.1 step 6).
    pub(crate) fn run_client(&mut self, id: usize, now: Time) {
        let mut line = std::mem::take(&mut self.line);
        loop {
            if self.outcome.is_some() {
                break;
            }
            let Some(c) = self.clients.get_mut(id) else { break };
            if !c.may_step(now) {
                break;
            }
            self.deliver_signals(id, now);
            let Some(c) = self.clients.get_mut(id) else { break };
            if c.dump.is_some() {
                // A service takes five lines of up to a command line each:
                // wait for room for all of them rather than overflow.
                if c.events && !c.overflow && c.free() < client::DUMP_STEP_ROOM {
                    c.flush(now);
                    if c.free() < client::DUMP_STEP_ROOM && !c.overflow {
                        break;
                    }
                }
                self.dump_step(id, now);
                continue;
            }
            if c.closing {
                break;
            }
            let too_long = match c.framer.next_frame() {
                None => {
                    if c.eof {
                        self.input_ended(id, now);
                    }
                    break;
                }
                Some(Frame::Line(l)) => {
                    line.clear();
                    line.extend_from_slice(l);
                    None
                }
                Some(Frame::TooLong { first_byte }) => Some(first_byte),
            };
            match too_long {
                None => self.execute(id, &line, now),
                Some(b'#') => {}
                Some(_) => self.line_too_long(id, now),
            }
        }
        self.line = line;
        if let Some(c) = self.clients.get_mut(id) {
            c.flush(now);
        }
    }

    fn line_too_long(&mut self, id: usize, now: Time) {
        log!(self.log, Debug, "controller[{}] command length exceeds 1024 bytes, discarding", id);
        log!(self.log, Error, "controller[{}] command exceeds buffer size", id);
        self.scratch.clear();
        self.scratch.extend_from_slice(b"error\tline too long\n");
        self.deliver(Some(id), now);
    }

    /// End of a controller's input (§3.6): the config file executes a final
    /// line without LF, others discard it; then the controller closes.
    pub(crate) fn input_ended(&mut self, id: usize, now: Time) {
        let mut line = std::mem::take(&mut self.line);
        let Some(c) = self.clients.get_mut(id) else { return };
        let config = c.kind == Kind::Config;
        let last = match c.framer.finish() {
            None => None,
            Some(Frame::Line(l)) => {
                line.clear();
                line.extend_from_slice(l);
                Some(false)
            }
            Some(Frame::TooLong { first_byte }) => Some(first_byte != b'#'),
        };
        c.closing = true;
        match last {
            None => {}
            Some(_) if !config => log!(self.log, Warning, "Command ends with EOF... ignored"),
            Some(true) => {
                log!(self.log, Warning, "Command ends with EOF... processing anyway");
                self.line_too_long(id, now);
            }
            Some(false) => {
                log!(self.log, Warning, "Command ends with EOF... processing anyway");
                self.execute(id, &line, now);
            }
        }
        self.line = line;
    }

    /// Delivers `signal` events that became due for this controller (§4.4).
    fn deliver_signals(&mut self, id: usize, now: Time) {
        let Some(c) = self.clients.get(id) else { return };
        let mark = c.signal_mark;
        if !c.events || !self.signals.iter().any(|r| r.count > 0 && r.last > mark) {
            return;
        }
        let mut due: [Option<SignalRecord>; 6] = [None; 6];
        for (slot, r) in due.iter_mut().zip(self.signals.iter()) {
            if r.count > 0 && r.last > mark {
                *slot = Some(*r);
            }
        }
        due.sort_by_key(|r| r.map_or(Time::MAX, |r| r.last));
        for r in due.into_iter().flatten() {
            self.emit(Some(id), Event::Signal { signal: r.signal, at: secs(r.last), count: r.count }, now);
            if let Some(c) = self.clients.get_mut(id) {
                c.signal_mark = r.last;
            }
        }
    }

    /// One statedump step: one handle, one service (five lines) or the
    /// signal records.
    fn dump_step(&mut self, id: usize, now: Time) {
        let Some(c) = self.clients.get_mut(id) else { return };
        if c.overflow || !c.events {
            c.dump = None;
            return;
        }
        let Some(step) = c.dump else { return };
        let next = match step {
            Dump::Handles(after) => match self.handles.next_after(after.as_ref().map(|(n, i)| (n, *i))) {
                Some((name, _, pos)) => {
                    self.emit_handle(Some(id), name.as_bytes(), now);
                    Some(Dump::Handles(Some((name, pos))))
                }
                None => Some(Dump::Services(None)),
            },
            Dump::Services(after) => match self.services.next_after(after.as_ref().map(|(n, i)| (n, *i))) {
                Some((name, key, pos)) => {
                    self.emit_service(id, key, now);
                    Some(Dump::Services(Some((name, pos))))
                }
                None => Some(Dump::Signals),
            },
            Dump::Signals => {
                let mut recs = self.signals;
                recs.sort_by_key(|r| r.last);
                for r in recs.iter().filter(|r| r.count > 0) {
                    self.emit(Some(id), Event::Signal { signal: r.signal, at: secs(r.last), count: r.count }, now);
                }
                None
            }
        };
        if let Some(c) = self.clients.get_mut(id) {
            c.dump = if c.overflow { None } else { next };
        }
    }

    // ----- commands ------------------------------------------------------

    /// Executes one line from controller `id`.
    pub(crate) fn execute(&mut self, id: usize, line: &[u8], now: Time) {
        if self.log.enabled(LogLevel::Debug) {
            log!(self.log, Debug, "controller[{}] command: \"{}\"", id, Lossy(line));
        }
        if is_ignored(line) {
            return;
        }
        let r = match Command::parse(line) {
            Ok(Command::Unknown { name }) => {
                self.scratch.clear();
                encode_unknown_command(&mut self.scratch, name);
                self.deliver(Some(id), now);
                log!(self.log, Error, "controller[{}] sent unknown command {}", id, Lossy(name));
                Ok(())
            }
            Ok(cmd) => self.run_command(id, cmd, now),
            Err(e) => self.parse_failed(id, &e),
        };
        if r.is_err() {
            self.report_failure(id, line, now);
        }
        // A command may have created the handle a suspended log waits for.
        self.attach_log();
    }

    /// A command line was rejected by the parser: apply the original's
    /// order of checks and partial effects before reporting it.
    fn parse_failed(&mut self, id: usize, e: &CommandError<'_>) -> Res {
        if e.kind == CommandKind::FdTake {
            // fd.take pops the descriptor before validating the name.
            match self.clients.get_mut(id).and_then(|c| c.ancillary.pop_front()) {
                None => return self.fail("No ancillary file descriptor received"),
                Some(fd) => drop(fd),
            }
        }
        if let Some(name) = e.service {
            if e.kind.auto_creates_service() {
                let key = self.service_or_create(name)?;
                if let (Some(i), Some(s)) = (e.interval, self.services.get_mut(key)) {
                    s.interval = i;
                }
            } else if self.services.key(name.as_bytes()).is_none() {
                return self.fail("No such service");
            }
        }
        self.msg.clear();
        e.write_message(&mut self.msg);
        Err(Failed)
    }

    fn service_or_create(&mut self, name: Name<'_>) -> Result<usize, Failed> {
        if let Some(k) = self.services.key(name.as_bytes()) {
            return Ok(k);
        }
        let nb = NameBuf::new(name);
        match self.services.insert(nb, Service::new(nb)) {
            Ok(k) => Ok(k),
            Err(_) => {
                let _ = self.fail("Unable to allocate new service");
                Err(Failed)
            }
        }
    }

    fn existing_service(&mut self, name: Name<'_>) -> Result<usize, Failed> {
        match self.services.key(name.as_bytes()) {
            Some(k) => Ok(k),
            None => {
                let _ = self.fail("No such service");
                Err(Failed)
            }
        }
    }

    /// Stores a service setting within the pool budget.
    fn set_setting(&mut self, key: usize, which: Setting, value: &[u8], error: &str) -> Res {
        let Some(s) = self.services.get_mut(key) else { return Ok(()) };
        if let Some(budget) = self.service_obj {
            let default = match which {
                Setting::Fds => value == FdList::DEFAULT.raw(),
                _ => value.is_empty(),
            };
            let len = (!default).then_some(value.len());
            if s.budget_with(which, len) > budget {
                return self.fail(error);
            }
        }
        s.set(which, value);
        Ok(())
    }

    fn signal_pending(signals: &[SignalRecord; 6], sig: Signal) -> bool {
        signals.iter().any(|r| r.signal == sig && r.count > 0)
    }

    fn run_command(&mut self, id: usize, cmd: Command<'_>, now: Time) -> Res {
        match cmd {
            Command::Unknown { .. } => Ok(()),
            Command::Echo { text } => {
                if !text.is_empty() {
                    self.scratch.clear();
                    self.scratch.extend_from_slice(text);
                    self.scratch.push(b'\n');
                    self.deliver(Some(id), now);
                }
                Ok(())
            }
            Command::Statedump => {
                if let Some(c) = self.clients.get_mut(id) {
                    if c.events {
                        c.dump = Some(Dump::Handles(None));
                    }
                }
                Ok(())
            }
            Command::Exit => {
                if let Some(c) = self.clients.get_mut(id) {
                    c.closing = true;
                }
                Ok(())
            }
            Command::ServiceArgs { name, args } => {
                let key = self.service_or_create(name)?;
                self.set_setting(key, Setting::Args, args, "unable to set argv")?;
                self.emit_setting(None, key, Setting::Args, now);
                Ok(())
            }
            Command::ServiceTags { name, tags } => {
                let key = self.service_or_create(name)?;
                self.set_setting(key, Setting::Tags, tags, "unable to set tags")?;
                self.emit_setting(None, key, Setting::Tags, now);
                Ok(())
            }
            Command::ServiceFds { name, fds } => {
                let key = self.service_or_create(name)?;
                for entry in fds.entries() {
                    if let FdEntry::Handle(h) = entry {
                        if self.handles.key(h.as_bytes()).is_none() {
                            self.emit(Some(id), Event::FdNotYetDefined { entry: h.as_bytes() }, now);
                        }
                    }
                }
                self.set_setting(key, Setting::Fds, fds.raw(), "unable to set file descriptors")?;
                self.emit_setting(None, key, Setting::Fds, now);
                Ok(())
            }
            Command::ServiceAutoUp { name, interval, triggers } => {
                let key = self.service_or_create(name)?;
                if let (Some(i), Some(s)) = (interval, self.services.get_mut(key)) {
                    s.interval = i;
                }
                self.set_setting(key, Setting::Triggers, triggers.raw(), "unable to set auto_up triggers")?;
                let signals = self.signals;
                let start = self
                    .services
                    .get(key)
                    .is_some_and(|s| s.wants_auto_start(|sig| Self::signal_pending(&signals, sig)));
                if start {
                    self.request_start(key, now, now);
                }
                self.emit_setting(None, key, Setting::Triggers, now);
                Ok(())
            }
            Command::ServiceStart { name, when } => self.service_start(name, when, now),
            Command::ServiceSignal { name, signal, group } => {
                let key = self.existing_service(name)?;
                let Some(State::Up { pid, .. }) = self.services.get(key).map(|s| s.state) else {
                    return self.fail("service is not running");
                };
                log!(self.log, Debug, "Sending signal {} to service \"{}\" pid {}", signal.number(), name, pid);
                if let Err(e) = self.procs.kill(pid, i32::from(signal.number()), group) {
                    let what = if group { "pgid" } else { "pid" };
                    return self.fail_os(&format!("can't kill {} ({} {}): ", name, what, pid), &e);
                }
                Ok(())
            }
            Command::ServiceDelete { name } => {
                let key = self.existing_service(name)?;
                match self.services.get(key).map(|s| s.state) {
                    Some(State::Up { .. }) => return self.fail("service is running"),
                    Some(State::Start(_)) => self.starts -= 1,
                    _ => {}
                }
                self.services.remove(name.as_bytes());
                let ev = Event::ServiceState { name, state: ServiceState::Deleted };
                self.emit(None, ev, now);
                Ok(())
            }
            Command::FdOpen { name, flags, path } => {
                if !self.handles.has_room(0) {
                    return self.fail("Unable to allocate new file descriptor object");
                }
                if flags.mkdir {
                    sys::fd::mkdir_parents(path);
                }
                let mut oflags = match (flags.readable(), flags.write) {
                    (true, true) => libc::O_RDWR,
                    (false, true) => libc::O_WRONLY,
                    _ => libc::O_RDONLY,
                };
                for (on, bit) in [
                    (flags.append, libc::O_APPEND),
                    (flags.create, libc::O_CREAT),
                    (flags.trunc, libc::O_TRUNC),
                    (flags.nonblock, libc::O_NONBLOCK),
                ] {
                    if on {
                        oflags |= bit;
                    }
                }
                let fd = match sys::fd::open(path, oflags, 0o600) {
                    Ok(fd) => fd,
                    Err(e) => return self.fail_os("open failed: ", &e),
                };
                let desc = handle::description(path, name.as_bytes().len(), self.fd_obj);
                let h = Handle { fd: Some(fd.into()), kind: handle::Kind::File(flags), description: desc };
                self.put_handle(name, h, "Unable to allocate new file descriptor object")?;
                self.emit_handle(None, name.as_bytes(), now);
                Ok(())
            }
            Command::FdPipe { read, write, flags } => self.fd_pipe(read, write, flags, now),
            Command::FdSocket { name, flags, addr } => self.fd_socket(name, flags, addr, now),
            Command::FdTake { name } => {
                let Some(fd) = self.clients.get_mut(id).and_then(|c| c.ancillary.pop_front()) else {
                    return self.fail("No ancillary file descriptor received");
                };
                let what = match sys::fd::describe(fd.as_fd()) {
                    Ok(w) => w,
                    Err(e) => return self.fail_os("fd.take: ", &e),
                };
                let h = Handle::introspected(fd.into(), what);
                self.put_handle(name, h, "Unable to allocate new file descriptor object")?;
                self.emit_handle(None, name.as_bytes(), now);
                Ok(())
            }
            Command::FdDelete { name } => {
                let Some(old) = self.handles.remove(name.as_bytes()) else {
                    return self.fail("No such file descriptor");
                };
                self.forget_handle(name, old);
                self.emit(None, Event::FdState { name, info: FdInfo::Deleted }, now);
                Ok(())
            }
            Command::SocketCreate { path } => {
                if self.create_control_socket(path).is_err() {
                    return self.fail("Failed to create control socket");
                }
                Ok(())
            }
            Command::SocketDelete => {
                self.delete_control_socket();
                Ok(())
            }
            Command::Chdir { path } => match sys::fd::chdir(path) {
                Ok(()) => Ok(()),
                Err(e) => self.fail_os("chdir failed: ", &e),
            },
            Command::LogFilter { arg } => {
                let level = match arg {
                    None => self.log.filter(),
                    Some(LogFilterArg::Raise) => self.log.filter().step(1),
                    Some(LogFilterArg::Lower) => self.log.filter().step(-1),
                    Some(LogFilterArg::Set(l)) => l,
                };
                self.log.set_filter(level);
                self.emit(Some(id), Event::LogFilter { level }, now);
                Ok(())
            }
            Command::LogDest { name } => {
                let fd = self.handles.by_name(name.as_bytes()).map(Handle::raw_fd);
                if fd.is_none() {
                    self.emit(Some(id), Event::FdDoesNotExist { name }, now);
                }
                self.log.set_dest(NameBuf::new(name), fd.flatten());
                Ok(())
            }
            Command::ConnEventTimeout { reset, close } => {
                if let Some(c) = self.clients.get_mut(id) {
                    c.reset_timeout = reset;
                    c.close_timeout = close;
                }
                Ok(())
            }
            Command::SignalClear { signal, count } => {
                if let Some(r) = self.signals.iter_mut().find(|r| r.signal == signal) {
                    r.count = r.count.saturating_sub(count);
                }
                Ok(())
            }
            Command::Terminate { code, guard } => {
                if let Some(g) = self.guard {
                    match guard {
                        None => return self.fail("terminate guard code required"),
                        Some(x) if x != g => return self.fail("incorrect terminate guard code"),
                        _ if self.exec_args.is_empty() => {
                            return self.fail("cannot exit, and exec-on-exit is not configured")
                        }
                        _ => {}
                    }
                }
                self.outcome = Some(Outcome::Exit((code & 0xff) as i32));
                Ok(())
            }
            Command::TerminateGuard { set, code } => {
                match (set, self.guard) {
                    (true, Some(_)) => return self.fail("terminate guard code is already set"),
                    (true, None) => self.guard = Some(code),
                    (false, None) => return self.fail("terminate guard was not set"),
                    (false, Some(g)) if g != code => return self.fail("incorrect guard code"),
                    (false, Some(_)) => self.guard = None,
                }
                Ok(())
            }
            Command::TerminateExecArgs { args } => {
                if let Err(e) = sys::signal::arm_fatal_exec(Some(args)) {
                    return self.fail_os("terminate.exec_args: ", &e);
                }
                self.exec_args.clear();
                self.exec_args.extend_from_slice(args);
                Ok(())
            }
            // The protocol extensions (process settings, readiness,
            // `conn.extended`, `reexec`) are parsed but not run yet.
            _ => self.fail("command not supported yet"),
        }
    }

    fn service_start(&mut self, name: Name<'_>, when: StartWhen, now: Time) -> Res {
        let key = self.existing_service(name)?;
        let Some(s) = self.services.get(key) else { return Ok(()) };
        let at = match when {
            StartWhen::Cancel => {
                if !matches!(s.state, State::Start(_)) {
                    return self.fail("no service.start pending");
                }
                self.set_state(key, State::Down(None));
                self.emit_state(None, key, now, true);
                return Ok(());
            }
            StartWhen::Now => now,
            StartWhen::At(ts) => {
                if u64::from(ts) <= secs(now) {
                    return self.fail("invalid timestamp");
                }
                u64::from(ts) * SEC
            }
        };
        if s.args().split(|&b| b == b'\t').next().is_none_or(<[u8]>::is_empty) {
            return self.fail("no args configured for service");
        }
        if matches!(s.state, State::Up { .. }) {
            return self.fail("service is not startable");
        }
        self.request_start(key, at, now);
        Ok(())
    }

    /// Stores a handle under `name`, handling what the replaced one leaves
    /// behind.
    fn put_handle(&mut self, name: Name<'_>, h: Handle, full: &str) -> Res {
        match self.handles.put(NameBuf::new(name), h) {
            Ok((_, Some(old))) => {
                self.forget_handle(name, old);
                Ok(())
            }
            Ok((_, None)) => Ok(()),
            Err(_) => self.fail(full),
        }
    }

    /// A handle was deleted or replaced: its pipe peer shows `?`, and the log
    /// stops writing to its descriptor.
    fn forget_handle(&mut self, name: Name<'_>, old: Handle) {
        if let handle::Kind::Pipe { peer: Some(peer), .. } = old.kind {
            if let Some(k) = self.handles.key(peer.as_bytes()) {
                if let Some(Handle { kind: handle::Kind::Pipe { peer: p, .. }, .. }) = self.handles.get_mut(k) {
                    if p.is_some_and(|p| p.as_bytes() == name.as_bytes()) {
                        *p = None;
                    }
                }
            }
        }
        if let Some(fd) = old.fd {
            self.log.detach(fd.raw());
            fd.close();
        }
    }

    fn fd_pipe(&mut self, read: Name<'_>, write: Name<'_>, flags: PipeFlags, now: Time) -> Res {
        if !self.handles.has_room(1) {
            return self.fail("failed to create pipe");
        }
        let pair = match flags.socket {
            None => sys::fd::pipe(flags.nonblock).map_err(|e| ("pipe() failed: ", e)),
            Some((d, t)) => {
                sys::fd::socketpair(domain(d), sock_type(t), flags.nonblock).map_err(|e| ("socketpair() failed: ", e))
            }
        };
        let (r, w) = match pair {
            Ok(p) => p,
            Err((prefix, e)) => return self.fail_os(prefix, &e),
        };
        let (rn, wn) = (NameBuf::new(read), NameBuf::new(write));
        let rh = Handle {
            fd: Some(r.into()),
            kind: handle::Kind::Pipe { flags, read_end: true, peer: Some(wn) },
            description: Vec::new(),
        };
        let wh = Handle {
            fd: Some(w.into()),
            kind: handle::Kind::Pipe { flags, read_end: false, peer: Some(rn) },
            description: Vec::new(),
        };
        self.put_handle(read, rh, "failed to create pipe")?;
        self.put_handle(write, wh, "failed to create pipe")?;
        // Replacing one end may have marked the other new end's peer as gone.
        for (n, peer) in [(rn, wn), (wn, rn)] {
            if let Some(k) = self.handles.key(n.as_bytes()) {
                if let Some(Handle { kind: handle::Kind::Pipe { peer: p, .. }, .. }) = self.handles.get_mut(k) {
                    *p = Some(peer);
                }
            }
        }
        self.emit_handle(None, read.as_bytes(), now);
        self.emit_handle(None, write.as_bytes(), now);
        Ok(())
    }

    fn fd_socket(&mut self, name: Name<'_>, flags: SocketFlags, addr: Option<SocketAddr<'_>>, now: Time) -> Res {
        if !self.handles.has_room(0) {
            return self.fail("Unable to allocate new file descriptor object");
        }
        let fd = match sys::fd::socket(domain(flags.domain), sock_type(flags.ty), flags.nonblock) {
            Ok(fd) => fd,
            Err(e) => return self.fail_os("socket: ", &e),
        };
        if let Some(a) = addr {
            if let Err(e) = sys::fd::set_reuseaddr(fd.as_fd()) {
                return self.fail_os("setsockopt: ", &e);
            }
            let bound = match a.kind {
                AddrKind::Unix(path) => {
                    if flags.mkdir {
                        sys::fd::mkdir_parents(path);
                    }
                    sys::fd::bind_unix(fd.as_fd(), path)
                }
                AddrKind::Inet { ip, port } => sys::fd::bind_inet(fd.as_fd(), ip.unwrap_or([0; 4]), port),
            };
            if let Err(e) = bound {
                return self.fail_os("bind: ", &e);
            }
            if let Some(n) = flags.listen {
                if let Err(e) = sys::fd::listen(fd.as_fd(), i32::from(n)) {
                    return self.fail_os("listen: ", &e);
                }
            }
        }
        let text = addr.map_or(&b""[..], |a| a.text);
        let desc = handle::description(text, name.as_bytes().len(), self.fd_obj);
        let h = Handle { fd: Some(fd.into()), kind: handle::Kind::Socket(flags), description: desc };
        self.put_handle(name, h, "Unable to allocate new file descriptor object")?;
        self.emit_handle(None, name.as_bytes(), now);
        Ok(())
    }

    // ----- control socket ------------------------------------------------

    /// Creates (or re-creates) the control socket at `path` (§5.4).
    pub(crate) fn create_control_socket(&mut self, path: &[u8]) -> Result<(), ()> {
        if path.is_empty() || path.len() > daemonproxy_proto::MAX_UNIX_PATH {
            return Err(());
        }
        self.delete_control_socket();
        match sys::fd::unlink_stale_socket(path) {
            Ok(true) => log!(self.log, Info, "Unlinked control socket {}", Lossy(path)),
            Ok(false) => {}
            Err(e) => {
                log!(self.log, Error, "Can't unlink control socket: {}", ErrText(&e));
                return Err(());
            }
        }
        match sys::fd::unix_listener(path, 2) {
            Ok(fd) => {
                self.listener = Some((fd, path.to_vec()));
                self.io_changes.push(IoChange::Listener);
                Ok(())
            }
            Err(e) => {
                log!(self.log, Error, "bind(control_socket, {}: {}", Lossy(path), ErrText(&e));
                Err(())
            }
        }
    }

    /// Closes and unlinks the control socket, if any.
    pub(crate) fn delete_control_socket(&mut self) {
        if let Some((fd, path)) = self.listener.take() {
            self.io_changes.push(IoChange::Listener);
            drop(fd);
            if sys::raw::unlink(&path).is_ok() {
                log!(self.log, Info, "Unlinked control socket {}", Lossy(&path));
            }
        }
    }

    /// Accepts every pending control-socket connection.
    pub(crate) fn accept_clients(&mut self, now: Time) {
        loop {
            let Some((listener, _)) = &self.listener else { return };
            match sys::fd::accept(listener.as_fd()) {
                Ok(fd) => {
                    let id = self.add_client(Client::new(Kind::Socket, Io::Owned { fd, socket: true }, true, true));
                    self.run_client(id, now);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    // ----- services: starting, exits, signals -------------------------

    fn set_state(&mut self, key: usize, state: State) {
        let Some(s) = self.services.get_mut(key) else { return };
        let was = matches!(s.state, State::Start(_));
        let is = matches!(state, State::Start(_));
        s.state = state;
        self.starts = self.starts + usize::from(is) - usize::from(was);
    }

    /// Requests a start at `at` (now or later) unless the service runs;
    /// broadcasts the `start` state.
    fn request_start(&mut self, key: usize, at: Time, now: Time) {
        let Some(s) = self.services.get(key) else { return };
        if matches!(s.state, State::Up { .. }) {
            log!(self.log, Debug, "service \"{}\" is already running", s.name);
            return;
        }
        if at > now {
            log!(self.log, Debug, "start service \"{}\" in {} seconds", s.name, (at - now) / SEC);
        } else {
            log!(self.log, Debug, "start service \"{}\" now", s.name);
        }
        self.set_state(key, State::Start(at));
        self.emit_state(None, key, now, true);
    }

    /// Starts every service whose start is due (§9.2).
    pub fn start_due(&mut self, now: Time) {
        if self.starts == 0 {
            return;
        }
        let mut due = std::mem::take(&mut self.keys);
        due.clear();
        due.extend(
            self.services
                .iter()
                .filter(|(_, _, s)| matches!(s.state, State::Start(at) if at <= now))
                .map(|(_, k, _)| k),
        );
        let batch = due.len() > 1;
        for &key in &due {
            self.start_service(key, now, batch);
        }
        self.keys = due;
    }

    /// Resolves a service's descriptor list by name, now (§9.3), into
    /// `self.plan` (and the positions of `control.*` entries into
    /// `self.slots`). Returns whether a control connection reads commands
    /// and sends events, and the first name that does not exist.
    fn resolve_fds(&mut self, key: usize) -> Option<(bool, bool, Option<NameBuf>)> {
        let s = self.services.get(key)?;
        self.plan.clear();
        self.slots.clear();
        let (mut wants_cmd, mut wants_events, mut missing) = (false, false, None);
        for (i, entry) in s.fds().entries().enumerate() {
            let source = match entry {
                FdEntry::Closed => FdSource::Closed,
                FdEntry::Handle(n) => match Special::from_name(n.as_bytes()) {
                    Some(sp @ (Special::ControlCmd | Special::ControlEvent | Special::ControlSocket)) => {
                        wants_cmd |= sp != Special::ControlEvent;
                        wants_events |= sp != Special::ControlCmd;
                        self.slots.push(i);
                        FdSource::Closed
                    }
                    _ => match self.handles.by_name(n.as_bytes()).and_then(Handle::raw_fd) {
                        Some(fd) => FdSource::Fd(fd),
                        None => {
                            missing.get_or_insert(NameBuf::new(n));
                            FdSource::Closed
                        }
                    },
                },
            };
            self.plan.push(source);
        }
        Some((wants_cmd, wants_events, missing))
    }

    fn start_service(&mut self, key: usize, now: Time, batch: bool) {
        let Some((wants_cmd, wants_events, missing)) = self.resolve_fds(key) else { return };
        let mut conn = None;
        if !self.slots.is_empty() && missing.is_none() {
            match sys::fd::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, false) {
                Ok((ours, theirs)) => {
                    let _ = sys::fd::set_nonblocking(ours.as_fd(), true);
                    for &i in &self.slots {
                        self.plan[i] = FdSource::Fd(theirs.as_raw_fd());
                    }
                    conn = Some((ours, theirs));
                }
                Err(e) => {
                    log!(self.log, Error, "can't create socketpair: {}", ErrText(&e));
                    return self.retry_start(key, now);
                }
            }
        }
        let spawned = match missing {
            Some(n) => {
                log!(self.log, Error, "file descriptor \"{}\" does not exist", n);
                self.procs.spawn_aborting().map(|pid| Spawned { pid, status: None }).map_err(SpawnError::Fork)
            }
            None => {
                let args = self.services.get(key).map_or(&[][..], Service::args);
                self.procs.spawn(args, &self.plan, batch)
            }
        };
        let (pid, exec_errno) = match spawned {
            Ok(Spawned { pid, status }) => {
                if let Some(fd) = status {
                    self.execs.push((pid, fd));
                    self.exec_check_at.get_or_insert(now + EXEC_CHECK);
                }
                (pid, None)
            }
            Err(SpawnError::Exec(errno, pid)) => (pid, Some(errno)),
            Err(SpawnError::Fork(errno)) => {
                log!(self.log, Error, "fork failed: {}", ErrText(&io::Error::from_raw_os_error(errno)));
                return self.retry_start(key, now);
            }
        };
        self.set_state(key, State::Up { pid, since: now });
        self.pids.insert(pid, key);
        if let Some((ours, theirs)) = conn {
            // One-way connections are shut down in the unused direction on
            // both ends (§8.1): an event-only service cannot send commands,
            // a command-only one reads EOF instead of blocking.
            use std::net::Shutdown;
            if !wants_cmd {
                let _ = sys::fd::shutdown(theirs.as_fd(), Shutdown::Write);
                let _ = sys::fd::shutdown(ours.as_fd(), Shutdown::Read);
            }
            if !wants_events {
                let _ = sys::fd::shutdown(theirs.as_fd(), Shutdown::Read);
                let _ = sys::fd::shutdown(ours.as_fd(), Shutdown::Write);
            }
            drop(theirs);
            self.add_client(Client::new(Kind::Service, Io::Owned { fd: ours, socket: true }, wants_cmd, wants_events));
        }
        self.emit_state(None, key, now, true);
        if let Some(errno) = exec_errno {
            self.report_exec_failure(key, errno, now);
        }
    }

    /// The exec of a service failed: besides its exit status 3, every
    /// controller gets an error event naming the errno (§0 item 5).
    fn report_exec_failure(&mut self, key: usize, errno: i32, now: Time) {
        let Some(s) = self.services.get(key) else { return };
        let prog = s.args().split(|&b| b == b'\t').next().unwrap_or(b"");
        let err = io::Error::from_raw_os_error(errno);
        let text = format!("service {}: exec \"{}\" failed: {}", s.name, Lossy(prog), ErrText(&err));
        log!(self.log, Error, "exec({}, ...) failed: {}", Lossy(prog), ErrText(&err));
        self.emit(None, Event::Error { message: text.as_bytes() }, now);
    }

    fn retry_start(&mut self, key: usize, now: Time) {
        log!(self.log, Info, "will retry in 3 seconds");
        self.set_state(key, State::Start(now + RETRY_DELAY));
        self.emit_state(None, key, now, true);
    }

    /// Reads the status pipes of children whose exec is pending: closes
    /// those that exec'd, reports those whose exec failed (§0 item 5).
    /// `only`: just this pid (at its reaping, before its `down`).
    pub(crate) fn poll_execs(&mut self, only: Option<i32>, now: Time) {
        let mut i = 0;
        while i < self.execs.len() {
            let (pid, ref fd) = self.execs[i];
            if only.is_some_and(|p| p != pid) {
                i += 1;
                continue;
            }
            match exec_status(fd) {
                None => i += 1,
                Some(result) => {
                    self.execs.swap_remove(i);
                    if let (Err(errno), Some(&key)) = (result, self.pids.get(&pid)) {
                        self.report_exec_failure(key, errno, now);
                    }
                }
            }
        }
        if only.is_none() {
            self.exec_check_at = (!self.execs.is_empty()).then_some(now + EXEC_CHECK);
        }
    }

    /// A child was reaped (§9.4, §9.5): its `down` state, and the decision
    /// whether to restart it.
    pub fn handle_exit(&mut self, pid: i32, status: WaitStatus, now: Time) {
        self.reaped(pid, status, now);
        self.decide_restarts(now);
    }

    /// A child was reaped, inside the loop: `down` now, while the restart
    /// decision waits for [`Supervisor::decide_restarts`] after the
    /// controllers have run, so that a command the service wrote just
    /// before exiting (typically `signal.clear` of its trigger) counts
    /// (§2.1, §9.5).
    pub(crate) fn reaped(&mut self, pid: i32, status: WaitStatus, now: Time) {
        if !self.execs.is_empty() {
            self.poll_execs(Some(pid), now);
        }
        let Some(key) = self.pids.remove(&pid) else {
            log!(self.log, Debug, "reaped pid {} which belongs to no service", pid);
            return;
        };
        let Some(s) = self.services.get(key) else { return };
        let State::Up { since, .. } = s.state else { return };
        let reason = match status {
            WaitStatus::Exited(code) => ExitReason::Exit(code),
            WaitStatus::Signaled(sig) => ExitReason::Signal(Signal::from_number(sig as u16)),
        };
        self.set_state(key, State::Down(Some(Exited { at: now, pid, since, reason })));
        self.emit_state(None, key, now, true);
        self.restarts.push((key, pid));
    }

    /// Restarts the services reaped since the last call whose triggers
    /// still ask for it (level-triggered, §9.5), unless something else
    /// (a start, a delete) happened to them meanwhile.
    pub(crate) fn decide_restarts(&mut self, now: Time) {
        if self.restarts.is_empty() {
            return;
        }
        let mut restarts = std::mem::take(&mut self.restarts);
        let signals = self.signals;
        for &(key, pid) in &restarts {
            let Some(s) = self.services.get(key) else { continue };
            let State::Down(Some(e)) = s.state else { continue };
            if e.pid != pid || !s.wants_auto_start(|sig| Self::signal_pending(&signals, sig)) {
                continue;
            }
            // Interval 0 (never set) still throttles to 1 s (§16 row 16).
            let interval = u64::from(s.interval.max(1)) * SEC;
            let at = if e.at - e.since < interval { e.at + interval } else { now };
            self.request_start(key, at, now);
        }
        restarts.clear();
        self.restarts = restarts;
    }

    /// A recorded signal arrived (§10.2, §9.5).
    pub fn handle_signal(&mut self, sig: Signal, now: Time) {
        let latest = self.signals.iter().map(|r| r.last).max().unwrap_or(0);
        let Some(r) = self.signals.iter_mut().find(|r| r.signal == sig) else { return };
        r.count += 1;
        // Two receptions never share a timestamp.
        r.last = now.max(latest + 1);
        let mut keys = std::mem::take(&mut self.keys);
        keys.clear();
        keys.extend(self.services.iter().filter(|(_, _, s)| s.triggered_by(sig)).map(|(_, k, _)| k));
        for &key in &keys {
            self.request_start(key, now, now);
        }
        self.keys = keys;
    }

    // ----- time ------------------------------------------------------------

    /// Applies blocked-output timeouts (§3.9).
    pub fn check_timeouts(&mut self, now: Time) {
        let mut close = Vec::new();
        for (id, c) in self.clients.iter_mut() {
            let Some(since) = c.blocked_since else { continue };
            let secs_blocked = (now - since) / SEC;
            if now - since >= u64::from(c.close_timeout) * SEC {
                close.push((id, secs_blocked));
            } else if now - since >= u64::from(c.reset_timeout) * SEC {
                if !c.warned {
                    c.warned = true;
                    log!(self.log, Warning, "controller {} blocked pipe for {} seconds", id, secs_blocked);
                }
                if c.framer.pending() >= client::STEP_ROOM && !c.overflow {
                    // Its queued commands may run again (output dropped):
                    // run it now, its input will not signal readiness again.
                    c.overflow = true;
                    self.run_again = true;
                }
            }
        }
        for (id, secs_blocked) in close {
            log!(self.log, Error, "controller {} blocked pipe for {} seconds, closing connection", id, secs_blocked);
            self.destroy_client(id, now);
        }
    }

    /// The next time something is due (a start, a timeout, a log retry).
    pub fn next_deadline(&self) -> Option<Time> {
        let starts = (self.starts > 0)
            .then(|| {
                self.services.iter().filter_map(|(_, _, s)| match s.state {
                    State::Start(at) => Some(at),
                    _ => None,
                })
            })
            .into_iter()
            .flatten();
        let clients = self.clients.iter().filter_map(|(_, c)| c.timeout_deadline());
        starts.chain(clients).chain(self.log.next_deadline()).chain(self.exec_check_at).min()
    }

    /// Re-attaches a suspended log to the handle it waits for (§11.3).
    pub(crate) fn attach_log(&mut self) {
        if !self.log.is_suspended() {
            return;
        }
        if let Some(name) = self.log.dest_name() {
            if let Some(fd) = self.handles.by_name(name.as_bytes()).and_then(Handle::raw_fd) {
                self.log.set_dest(name, Some(fd));
            }
        }
    }

    /// Takes descriptors received with a controller's input into its queue.
    pub(crate) fn take_ancillary(&mut self, id: usize, fds: &mut Vec<OwnedFd>) {
        for fd in fds.drain(..) {
            let Some(c) = self.clients.get_mut(id) else { return };
            log!(self.log, Debug, "Received ancillary file descriptor {}", fd.as_raw_fd());
            if c.ancillary.len() < client::MAX_ANCILLARY {
                c.ancillary.push_back(fd);
            } else {
                log!(self.log, Error, "No room for ancillary file descriptor {}", fd.as_raw_fd());
            }
        }
    }
}

/// Encodes one of a service's settings events (`name` is the service's,
/// validated once by the caller).
fn encode_setting(s: &Service, name: Name<'_>, which: Setting, out: &mut Vec<u8>) {
    let ev = match which {
        Setting::Args => Event::ServiceArgs { name, args: s.args() },
        Setting::Tags => Event::ServiceTags { name, tags: s.tags() },
        Setting::Fds => Event::ServiceFds { name, fds: s.fds().raw() },
        Setting::Triggers => {
            let t = s.triggers();
            Event::ServiceAutoUp { name, auto_up: (!t.is_empty()).then_some((s.interval, t)) }
        }
    };
    ev.encode(out);
}

/// An io::Error as its strerror text.
pub(crate) struct ErrText<'a>(pub &'a io::Error);

impl std::fmt::Display for ErrText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v = Vec::new();
        sys::errno_text(self.0.raw_os_error().unwrap_or(libc::EIO), &mut v);
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

fn fatal_fd_pool() -> Outcome {
    Outcome::Fatal(2, "Not enough FD objects to register all open FDs".into())
}

fn domain(d: Domain) -> i32 {
    match d {
        Domain::Unix => libc::AF_UNIX,
        Domain::Inet => libc::AF_INET,
        Domain::Inet6 => libc::AF_INET6,
    }
}

fn sock_type(t: SockType) -> i32 {
    match t {
        SockType::Stream => libc::SOCK_STREAM,
        SockType::Dgram => libc::SOCK_DGRAM,
        SockType::Seqpacket => libc::SOCK_SEQPACKET,
    }
}
