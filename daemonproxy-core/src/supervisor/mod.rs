//! The supervisor: all of daemonproxy's state and every decision, and no
//! input or output of its own.
//!
//! It is a state machine in the manner of quinn-proto's `Connection`: a
//! driver feeds it what happened (`handle_*` methods, each given the
//! current time) and drains what it decided (`poll_*` methods). It makes
//! no system call, owns no descriptor (it names them with [`FdId`]s the
//! driver chose) and reads no clock, so the same code runs under the real
//! [`crate::Reactor`] and under a simulation on virtual time
//! ([`crate::sim`]).
//!
//! ```text
//!  inputs (with `now`)                        outputs
//!  ───────────────────                        ───────
//!  handle_input / push_input  (bytes of C) ─┐ ┌─▶ poll_action    Open, Pipe, Socket, Listen,
//!  handle_input_end, handle_received_fd     │ │                  Chdir, Kill, Spawn, Close, ...
//!  handle_exit, handle_exec_failed          ├─┤   (answered with handle_result)
//!  handle_signal                            │ ├─▶ poll_transmit  bytes for connection C
//!  handle_result (of an action)             │ │                  (answered with handle_written)
//!  handle_written, handle_writable          │ ├─▶ poll_log       bytes for the log descriptor
//!  handle_timeout                           │ │                  (answered with handle_log_written)
//!  open_connection                         ─┘ ├─▶ poll_outcome   the daemon should stop
//!                                             └─▶ poll_timeout   when to call handle_timeout
//! ```
//!
//! # Driving it
//!
//! After **every** input, drain the outputs in this order, and repeat
//! until all of them are empty (an answer is an input, and may produce
//! more output):
//!
//! 1. [`Supervisor::poll_action`]: execute each action at once, in order,
//!    and answer those that carry a request id with
//!    [`Supervisor::handle_result`] before polling the next. A command
//!    that waits for a result holds back the later commands of its
//!    connection, so answering at once keeps the daemon responsive.
//! 2. [`Supervisor::poll_transmit`]: write the bytes to the connection
//!    and report with [`Supervisor::handle_written`].
//! 3. [`Supervisor::poll_log`]: write the bytes to the log descriptor
//!    with one write call and report with
//!    [`Supervisor::handle_log_written`].
//!
//! Then check [`Supervisor::poll_outcome`], and before sleeping ask
//! [`Supervisor::poll_timeout`] when to call
//! [`Supervisor::handle_timeout`]. Within one round of the event loop,
//! feed signals first, then reaped exits, then connection input, then
//! `handle_timeout` (which decides restarts after the commands a service
//! wrote before exiting have run, protocol.md §1).

mod action;
mod admission;
mod command;
mod conn;
mod connections;
mod control;
mod dump;
mod handle;
mod handles;
pub(crate) mod log;
mod logging;
mod queue;
mod readiness;
pub(crate) mod registry;
mod schedule;
mod service;
mod services;
mod signals;
pub(crate) mod state;
mod terminate;

pub use action::{
    Action, ActionResult, ChildStep, ControlLink, Errno, FdKind, FdSource, ProcessSettings, Spawn, Step, Usage, Written,
};
pub use conn::ConnKind;
pub use log::Timestamp;
pub use signals::RECORDED_SIGNALS;

use self::admission::Admission;
use self::conn::Conn;
use self::handle::Handle;
use self::log::Log;
use self::queue::Queue;
use self::registry::{NameBuf, RecordKey, Registry};
use self::schedule::Schedule;
use self::service::{Service, State};
use self::signals::Signals;
use crate::error::{Error, ErrorKind, Outcome};
use crate::ids::{ConnId, FdId, HandleId, RequestId, ServiceId};
use crate::options::Options;
use crate::time::Time;
use daemonproxy_proto::{ExitReason, LogLevel, Name, Signal, Special};
use slab::Slab;
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// All state. See the module documentation.
pub struct Supervisor {
    services: Registry<ServiceId, Service>,
    handles: Registry<HandleId, Handle>,
    conns: Slab<Conn>,
    admission: Admission,
    /// Running services by pid.
    pids: HashMap<i32, ServiceId>,
    /// Services reaped whose restart is still to be decided: (key, pid).
    restarts: Vec<(ServiceId, i32)>,
    schedule: Schedule,
    signals: Signals,
    log: Log,
    guard: Option<i64>,
    exec_args: Vec<u8>,
    outcome: Option<Outcome>,
    /// The control socket: its descriptor and path.
    listener: Option<(FdId, Vec<u8>)>,
    /// The signal that re-executes the daemon, if any.
    reexec_signal: Option<Signal>,
    /// Pool object sizes (protocol.md §8.7).
    service_obj: Option<usize>,
    fd_obj: Option<usize>,
    queue: Queue,
    /// Connections with output for the driver to write.
    transmit: VecDeque<ConnId>,
    /// Reused buffers, so that the steady state does not allocate.
    scratch: Vec<u8>,
    env: Vec<u8>,
    msg: Vec<u8>,
    line: Vec<u8>,
    keys: Vec<ServiceId>,
    conn_ids: Vec<ConnId>,
    plan: Vec<FdSource>,
    slots: Vec<usize>,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("services", &self.services.iter().count())
            .field("handles", &self.handles.iter().count())
            .field("connections", &self.conns.len())
            .finish_non_exhaustive()
    }
}

/// A command failed; its message is in `Supervisor::msg`.
struct Failed;

/// The result of a command.
type Res = Result<(), Failed>;

impl Supervisor {
    /// A supervisor with the constant handles (`null` on descriptor
    /// `null`, and the `control.*` ones) and nothing else. The log waits
    /// for a handle called `stderr` ([`Supervisor::add_handle`]).
    ///
    /// Fails when a handle pool is set smaller than the constant handles.
    pub fn new(opts: &Options, null: FdId) -> Result<Supervisor, Error> {
        let pool = opts.service_limit().unwrap_or(0);
        let mut sup = Supervisor {
            services: Registry::new(opts.service_limit()),
            handles: Registry::new(opts.handle_limit()),
            conns: Slab::new(),
            admission: Admission::new(opts.max_connections),
            pids: HashMap::with_capacity(pool),
            restarts: Vec::with_capacity(pool),
            schedule: Schedule::with_capacity(pool),
            signals: Signals::new(),
            log: Log::new(opts.log_filter),
            guard: opts.guard,
            exec_args: opts.exec_args.clone(),
            outcome: None,
            listener: None,
            reexec_signal: opts.reexec_signal,
            service_obj: opts.service_pool.map(|(_, m)| m),
            fd_obj: opts.fd_pool.map(|(_, m)| m),
            queue: Queue::with_capacity(pool),
            transmit: VecDeque::new(),
            // Reused buffers grow on first use: an idle daemon stays small.
            scratch: Vec::new(),
            env: Vec::new(),
            msg: Vec::new(),
            line: Vec::new(),
            keys: Vec::with_capacity(pool),
            conn_ids: Vec::new(),
            plan: Vec::new(),
            slots: Vec::new(),
        };
        for s in Special::ALL {
            let fd = (s == Special::Null).then_some(null);
            let h = Handle { fd, kind: handle::Kind::Special(s), description: Vec::new() };
            sup.handles.insert(NameBuf::from_static(s.name()), h).map_err(|_| fd_pool_too_small())?;
        }
        if !opts.exec_args.is_empty() {
            sup.queue.exec_on_exit(&opts.exec_args);
        }
        if opts.log_timestamps {
            sup.log.stamp_lines();
        }
        Ok(sup)
    }

    // ----- state, for drivers and checks --------------------------------

    /// The terminate guard, if set.
    pub fn terminate_guard(&self) -> Option<i64> {
        self.guard
    }

    /// The exec-on-exit arguments (TAB-separated; empty: none).
    pub fn exec_on_exit(&self) -> &[u8] {
        &self.exec_args
    }

    /// The control socket's descriptor and path, if it exists.
    pub fn control_socket(&self) -> Option<(FdId, &[u8])> {
        self.listener.as_ref().map(|(fd, p)| (*fd, &p[..]))
    }

    /// The descriptors of every named handle (for exec-on-exit, which
    /// hands them to the program it runs).
    pub fn handle_fds(&self) -> impl Iterator<Item = FdId> + '_ {
        self.handles.iter().filter_map(|(_, _, h)| h.fd)
    }

    /// The kind of a connection, if it exists.
    pub fn connection_kind(&self, conn: ConnId) -> Option<ConnKind> {
        self.conns.get(conn.0).map(|c| c.kind)
    }

    /// The pid of each running service, by name.
    pub fn running(&self) -> impl Iterator<Item = (&str, i32)> {
        self.services.iter().filter_map(|(n, _, s)| match s.state {
            State::Up { pid, .. } => Some((n.name().as_str(), pid)),
            _ => None,
        })
    }

    /// Checks the internal invariants: the pid index names exactly the
    /// running services, and the schedule counts the services in `start`.
    /// Returns a description of the first violation (for tests and fuzzing).
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
        if starts != self.schedule.len() {
            return Err(format!("{starts} services in start, the schedule counts {}", self.schedule.len()));
        }
        for id in &self.transmit {
            if !self.conns.get(id.0).is_some_and(|c| c.listed) {
                return Err(format!("connection {id} is queued for writing but not marked"));
            }
        }
        Ok(())
    }

    // ----- outputs --------------------------------------------------------

    /// The next action to execute (see the module documentation for the
    /// drain order).
    pub fn poll_action(&mut self) -> Option<Action<'_>> {
        if let Some(fd) = self.log.take_moved() {
            self.queue.log_destination(fd);
        }
        self.queue.poll()
    }

    /// The next bytes to write to a connection.
    pub fn poll_transmit(&mut self) -> Option<(ConnId, &[u8])> {
        while let Some(&id) = self.transmit.front() {
            match self.conns.get(id.0) {
                Some(c) if c.wants_transmit() => break,
                Some(_) => {
                    self.conns[id.0].listed = false;
                    self.transmit.pop_front();
                }
                None => {
                    self.transmit.pop_front();
                }
            }
        }
        let id = *self.transmit.front()?;
        Some((id, self.conns[id.0].pending()))
    }

    /// The next bytes to write to the log, and the descriptor.
    pub fn poll_log(&self) -> Option<(FdId, &[u8])> {
        self.log.poll_write()
    }

    /// Why the daemon should stop, once decided (taken: returned once).
    pub fn poll_outcome(&mut self) -> Option<Outcome> {
        self.outcome.take()
    }

    /// When [`Supervisor::handle_timeout`] must be called next: the next
    /// due start, blocked-output timeout or log retry (a time in the past:
    /// at once).
    pub fn poll_timeout(&mut self) -> Option<Time> {
        let Supervisor { schedule, services, conns, log, restarts, .. } = self;
        let starts = schedule.next(|k, at| is_start_at(services, k, at));
        let blocked = conns.iter().filter_map(|(_, c)| c.timeout_deadline()).min();
        let restart = (!restarts.is_empty()).then_some(Time::ZERO);
        [starts, blocked, log.deadline(), restart].into_iter().flatten().min()
    }

    // ----- inputs: time, processes, signals, results ------------------------

    /// Time passed: decides the restarts of services reaped since the last
    /// call, starts the services that are due, applies blocked-output
    /// timeouts and retries a blocked log.
    pub fn handle_timeout(&mut self, now: Time) {
        self.decide_restarts(now);
        self.start_due(now);
        self.check_timeouts(now);
        self.log.step(now);
    }

    /// A child was reaped, with what it used if known: its `down` state
    /// now (and `service.rusage` for extended connections); whether it
    /// restarts is decided by the next [`Supervisor::handle_timeout`], so
    /// that commands it wrote before exiting count (protocol.md §5.4). A pid that
    /// belongs to no service (an orphan adopted as PID 1 or subreaper) is
    /// logged, and reported as `orphan.exit` to extended connections.
    pub fn handle_exit(&mut self, pid: i32, how: ExitReason, usage: Option<Usage>, now: Time) {
        self.reaped(pid, how, usage, now);
    }

    /// A step of a child's set-up failed, usually the exec of its program
    /// (reported by the driver after the spawn, before the child's exit):
    /// broadcast as an `error` event (protocol.md §5.2).
    pub fn handle_child_failed(&mut self, pid: i32, step: ChildStep, errno: Errno, now: Time) {
        if let Some(&key) = self.pids.get(&pid) {
            self.report_child_failure(key, step, errno, now);
        }
    }

    /// A signal the daemon records was caught (protocol.md §6); others are ignored.
    pub fn handle_signal(&mut self, sig: Signal, now: Time) {
        self.signal_received(sig, now);
    }

    /// The answer to an action that carried `req`. Unknown ids (answered
    /// twice, or never asked) are ignored.
    pub fn handle_result(&mut self, req: RequestId, result: ActionResult, now: Time) {
        if let Some(then) = self.queue.complete(req) {
            self.resume(then, result, now);
        }
    }

    // ----- inputs: the log ----------------------------------------------

    /// Logs a message through the daemon's log (for the driver's own
    /// messages).
    pub fn log(&mut self, level: LogLevel, args: fmt::Arguments<'_>) {
        self.log.log(level, args);
    }

    /// How the write offered by [`Supervisor::poll_log`] went: bytes
    /// written, or `None` when it failed or would block.
    pub fn handle_log_written(&mut self, written: Option<usize>, now: Time) {
        self.log.handle_written(written, now);
    }

    /// The log's descriptor became writable (after a failed write).
    pub fn handle_log_writable(&mut self, now: Time) {
        self.log.handle_writable(now);
    }

    /// Whether the log waits for its descriptor to become writable (a
    /// driver that can should then watch it).
    pub fn log_wants_writable(&self) -> bool {
        self.log.wants_writable()
    }

    /// Whether the driver can report the log descriptor's writability
    /// (after [`Action::LogDestination`]); if not, retries do not wait for
    /// it (protocol.md §7.3).
    pub fn set_log_pollable(&mut self, pollable: bool) {
        self.log.set_pollable(pollable);
    }

    /// Discards log messages until `log.dest` (after `--daemonize`).
    pub fn discard_log(&mut self) {
        self.log.discard();
    }

    /// Offers the whole log buffer for writing even if the destination was
    /// blocked (before exiting).
    pub fn force_log(&mut self) {
        self.log.force();
    }

    /// The wall-clock time (since the Unix epoch), for the log lines
    /// stamped with it ([`Options::log_timestamps`]); a driver gives it
    /// whenever it reads the clock, before feeding inputs.
    pub fn set_wall_clock(&mut self, since_epoch: std::time::Duration) {
        self.log.set_wall_clock(since_epoch);
    }

    /// Logs `warning: service 'NAME' running as pid PID` for every running
    /// service, in name order (protocol.md §8.5).
    pub fn log_running_services(&mut self) {
        let Supervisor { services, log, .. } = self;
        for (name, _, s) in services.iter() {
            if let State::Up { pid, .. } = s.state {
                log::log!(*log, Warning, "service '{}' running as pid {}", name, pid);
            }
        }
    }
}

/// Whether service `key` is in the `start` state due at `at`.
impl RecordKey for ServiceId {
    fn from_slab(key: usize) -> ServiceId {
        ServiceId(key)
    }
    fn slab(self) -> usize {
        self.0
    }
}

impl RecordKey for HandleId {
    fn from_slab(key: usize) -> HandleId {
        HandleId(key)
    }
    fn slab(self) -> usize {
        self.0
    }
}

fn is_start_at(services: &Registry<ServiceId, Service>, key: ServiceId, at: Time) -> bool {
    matches!(services.get(key).map(|s| s.state), Some(State::Start(t)) if t == at)
}

fn fd_pool_too_small() -> Error {
    Error::new(ErrorKind::Setup, 2, "Not enough FD objects to register all open FDs")
}

impl Supervisor {
    /// Registers a descriptor the driver found or made as a handle (the
    /// standard descriptors as `stdin`/`stdout`/`stderr`, inherited ones as
    /// `fd_N`). The log follows the handle called `stderr`.
    pub fn add_handle(&mut self, name: Name<'_>, fd: FdId, what: FdKind) -> Result<(), Error> {
        let h = Handle::introspected(fd, what);
        match self.handles.put(NameBuf::new(name), h) {
            Ok((_, Some(old))) => self.forget_handle(name, old),
            Ok((_, None)) => {}
            Err(_) => return Err(fd_pool_too_small()),
        }
        self.attach_log();
        Ok(())
    }

    /// Points handle `name` at another descriptor (the standard handles at
    /// /dev/null under `-i` and `-D`), keeping what it reports. Returns the
    /// descriptor it held, which the driver keeps or closes itself.
    pub fn replace_handle_fd(&mut self, name: &str, fd: FdId) -> Option<FdId> {
        let key = self.handles.key(name.as_bytes())?;
        let old = self.handles.get_mut(key)?.fd.replace(fd);
        if let Some(old) = old {
            self.log.detach(old);
        }
        self.attach_log();
        old
    }

    /// Re-attaches a suspended log to the handle it waits for (protocol.md §7.2).
    #[inline]
    fn attach_log(&mut self) {
        if self.log.waiting_for().is_some() {
            self.reattach_log();
        }
    }

    #[cold]
    fn reattach_log(&mut self) {
        let Some(name) = self.log.waiting_for() else { return };
        if let Some(fd) = self.handles.by_name(name.as_bytes()).and_then(|h| h.fd) {
            self.log.set_dest(name, Some(fd));
        }
    }
}
