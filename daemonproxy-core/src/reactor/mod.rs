//! The reactor: the event loop that owns the operating-system side.
//!
//! It holds every descriptor (handles, connections, the control socket),
//! starts and reaps children, catches signals and reads the clock, and
//! executes what the [`Supervisor`] decides. One mio `Poll` waits on the
//! connections, the control socket, the signal pipes, the log destination
//! and the embedding program's own descriptors. Each round follows the
//! original's order (protocol.md §1): signals, reaped children, accepting, the
//! embedding program's sources, every connection's input, then timers,
//! and sleeps until something is ready or due.

mod children;
mod conn_io;
mod execute;
mod fds;
mod front_ends;
mod notify;
mod reexec;
mod signals;
mod sources;

pub use reexec::take_restore_state;
pub use sources::{Callback, Interest, Readiness, SourceId};

use self::children::Children;
use self::conn_io::{ConnIo, Read};
use self::fds::FdTable;
use self::signals::{Exclusive, SignalSources, HANDLED_SIGNALS};
use self::sources::Source;
use crate::error::{Error, ErrorKind, Outcome};
use crate::ids::{ConnId, FdId};
use crate::options::Options;
use crate::proto::{LogLevel, Signal};
use crate::supervisor::{ConnKind, Errno, FdKind, Supervisor, Written};
use crate::sys;
use crate::time::Time;
use mio::unix::SourceFd;
use mio::{Events, Poll, Token};
use slab::Slab;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

const SIGNALS: Token = Token(usize::MAX - 1);
const LISTENER: Token = Token(usize::MAX - 2);
const LOG: Token = Token(usize::MAX - 3);
const FATAL: Token = Token(usize::MAX - 4);
const NOTIFY: Token = Token(usize::MAX - 5);

/// Longest sleep of the loop (protocol.md §1).
const MAX_SLEEP: Duration = Duration::from_secs(200);

/// Connections closed before the heap is trimmed: the buffers of a burst
/// of clients are freed in between the long-lived allocations, where the
/// allocator keeps them resident unless asked to give them back.
const TRIM_AFTER_CLOSES: u32 = 64;

/// How soon accepting is tried again after it failed for lack of
/// descriptors with no spare to refuse the client with.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Reads per connection per round, so one busy connection cannot starve
/// the others.
const READS_PER_ROUND: usize = 16;

/// Token of a connection's input (or only) descriptor.
fn input_token(id: ConnId) -> Token {
    Token(id.index() * 4)
}

/// Token of a connection's separate output descriptor.
fn output_token(id: ConnId) -> Token {
    Token(id.index() * 4 + 1)
}

/// Token of an embedding program's descriptor.
fn source_token(id: SourceId) -> Token {
    Token(id.0 * 4 + 2)
}

/// Token of a child's readiness pipe.
fn ready_token(key: usize) -> Token {
    Token(key * 4 + 3)
}

/// Most children reaped in one round (see `Reactor::reap`).
const REAPS_PER_ROUND: usize = 64;

/// The daemon: a [`Supervisor`] and the event loop around it.
///
/// Build it with [`Reactor::new`], add front-ends
/// ([`Reactor::add_interactive`], [`Reactor::add_config`],
/// [`Reactor::create_control_socket`], [`Reactor::attach`],
/// [`Reactor::register`]), then call [`Reactor::run`], or step it with
/// [`Reactor::run_once`] (from an outer event loop: wait until its
/// descriptor (`AsRawFd`) is readable or [`Reactor::timeout`] passes).
/// The reactor never exits the process: it returns an [`Outcome`] and
/// leaves the decision to its caller.
///
/// Signal handling and child reaping are process-wide, so one reactor
/// exists per process at a time: [`Reactor::new`] fails with
/// [`ErrorKind::ReactorExists`] while another one is alive.
pub struct Reactor {
    sup: Supervisor,
    poll: Poll,
    events: Events,
    fds: FdTable,
    /// Connection descriptors, by connection index.
    conns: Vec<Option<ConnIo>>,
    children: Children,
    signals: SignalSources,
    sources: Slab<Source>,
    /// Readiness pipes of children (`fd N` mode): pid and read end.
    ready_pipes: Slab<(i32, OwnedFd)>,
    /// Ready pipes reported readable.
    ready_pending: Vec<usize>,
    notify: Option<notify::NotifySocket>,
    /// `--notify-socket PATH` (else an abstract name).
    notify_path: Option<Vec<u8>>,
    /// This process was made a child subreaper (undone on drop).
    subreaper: bool,
    /// The registered control socket.
    listener: Option<RawFd>,
    listener_ready: bool,
    /// A descriptor (/dev/null) kept in reserve while there is a control
    /// socket, to accept and refuse a client when descriptors run out.
    spare: Option<OwnedFd>,
    /// When to try accepting again, after it failed without a spare.
    accept_retry: Option<Time>,
    /// Connections closed since the heap was last trimmed.
    closed_since_trim: u32,
    /// The log destination, and whether it is registered with the poll.
    log_fd: Option<(FdId, bool)>,
    fatal_woken: bool,
    signals_ready: bool,
    /// The last poll filled the event list: more may be ready at once.
    more_ready: bool,
    /// The last round reaped its share of children: more may be waiting.
    reap_more: bool,
    /// Decided and not yet returned by `run_once`.
    outcome: Option<Outcome>,
    /// /dev/null, duplicated for standard handles that are re-pointed.
    null: FdId,
    /// Reused lists.
    received: Vec<OwnedFd>,
    ids: Vec<ConnId>,
    /// The default arguments of `reexec` (after the program).
    reexec_args: Vec<std::ffi::OsString>,
    /// Log lines carry the wall-clock time.
    stamps: bool,
    _exclusive: Exclusive,
}

impl fmt::Debug for Reactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reactor").field("supervisor", &self.sup).finish_non_exhaustive()
    }
}

/// An errno's text, for setup errors.
fn text(e: &io::Error) -> String {
    Errno(e.raw_os_error().unwrap_or(libc::EIO)).to_string()
}

impl Reactor {
    /// Sets up the daemon: registers the descriptors open at start-up as
    /// `stdin`/`stdout`/`stderr` (and, with
    /// [`Options::register_inherited`], 3..=1023 as `fd_N`) before opening
    /// any of its own, opens /dev/null, creates the constant handles and
    /// installs signal handling. Errors carry the original's exit status
    /// ([`Error::exit_status`]) and message.
    pub fn new(opts: Options) -> Result<Reactor, Error> {
        let exclusive = Exclusive::claim()?;
        let inherited = if opts.register_inherited { sys::fd::scan_inherited(3, 1023) } else { Vec::new() };
        let std_open = sys::fd::scan_inherited(0, 2);
        let no_null = |e: io::Error| Error::io(ErrorKind::Setup, 3, format!("Can't open /dev/null: {}", text(&e)), e);
        let null = sys::fd::open_dev_null().map_err(no_null)?;
        let mut fds = FdTable::default();
        let null_raw = null.as_raw_fd();
        let null = fds.insert(null);
        let mut sup = Supervisor::new(&opts, null)?;
        for (raw, name) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
            let id = if std_open.contains(&raw) {
                fds.insert_std(raw)
            } else {
                fds.insert(sys::fd::dup_cloexec(sys::raw::borrow(null_raw)).map_err(no_null)?)
            };
            let what = fds.get(id).and_then(|fd| describe(fd).ok()).unwrap_or(READ_WRITE_FILE);
            sup.add_handle(static_name(name), id, what)?;
        }
        for raw in inherited {
            let Ok(owned) = sys::fd::take_inherited(raw) else { continue };
            let Ok(what) = describe(owned.as_fd()) else { continue };
            let text = format!("fd_{raw}");
            let Some(name) = crate::proto::Name::from_text(&text) else { continue };
            let id = fds.insert(owned);
            sup.add_handle(name, id, what)?;
        }
        let mut reactor = Reactor::assemble(&opts, sup, fds, null, exclusive)?;
        reactor.drain(Time::now());
        Ok(reactor)
    }

    /// The reactor around a supervisor and the descriptors it names: the
    /// poll, the signal handlers, the children's spawner.
    fn assemble(
        opts: &Options,
        sup: Supervisor,
        fds: FdTable,
        null: FdId,
        exclusive: Exclusive,
    ) -> Result<Reactor, Error> {
        let poll = Poll::new().map_err(|e| Error::io(ErrorKind::Setup, 4, format!("epoll: {}", text(&e)), e))?;
        let mut signals = SignalSources::install(sup.exec_on_exit(), opts.reexec_signal)?;
        let broken = |e: io::Error| Error::io(ErrorKind::Setup, 5, format!("signal handler setup: {}", text(&e)), e);
        poll.registry().register(&mut signals.hooks, SIGNALS, mio::Interest::READABLE).map_err(broken)?;
        poll.registry().register(&mut SourceFd(&signals.wake_fd()), FATAL, mio::Interest::READABLE).map_err(broken)?;
        let mut reactor = Reactor {
            sup,
            poll,
            events: Events::with_capacity(64),
            fds,
            conns: Vec::new(),
            children: Children::new(&HANDLED_SIGNALS, opts.pooled()),
            signals,
            sources: Slab::new(),
            ready_pipes: Slab::new(),
            ready_pending: Vec::new(),
            notify: None,
            notify_path: opts.notify_path.clone(),
            subreaper: false,
            listener: None,
            listener_ready: false,
            spare: None,
            accept_retry: None,
            closed_since_trim: 0,
            log_fd: None,
            fatal_woken: false,
            signals_ready: false,
            more_ready: false,
            reap_more: false,
            outcome: None,
            null,
            received: Vec::new(),
            ids: Vec::new(),
            reexec_args: opts.reexec_args.clone(),
            stamps: opts.log_timestamps,
            _exclusive: exclusive,
        };
        reactor.read_wall_clock();
        if opts.subreaper {
            sys::fd::set_child_subreaper(true).map_err(|e| {
                Error::io(ErrorKind::Setup, 3, format!("prctl(PR_SET_CHILD_SUBREAPER): {}", text(&e)), e)
            })?;
            reactor.subreaper = true;
        }
        Ok(reactor)
    }

    /// The supervisor, to read its state.
    pub fn supervisor(&self) -> &Supervisor {
        &self.sup
    }

    /// The terminate guard, if set.
    pub fn terminate_guard(&self) -> Option<i64> {
        self.sup.terminate_guard()
    }

    /// The exec-on-exit arguments (empty: none).
    pub fn exec_on_exit(&self) -> &[u8] {
        self.sup.exec_on_exit()
    }

    /// Logs a message through the daemon's log.
    pub fn log(&mut self, level: LogLevel, args: fmt::Arguments<'_>) {
        self.read_wall_clock();
        self.sup.log(level, args);
        self.drain(Time::now());
    }

    /// Logs `warning: service 'NAME' running as pid PID` for every running
    /// service (before exiting, protocol.md §8.5).
    pub fn log_running_services(&mut self) {
        self.read_wall_clock();
        self.sup.log_running_services();
        self.drain(Time::now());
    }

    // ----- front-ends -----------------------------------------------------

    /// Adds a connection whose descriptors the reactor serves; `source`
    /// names where its commands come from (a config file).
    fn add_conn(&mut self, kind: ConnKind, io: ConnIo, source: Option<&[u8]>) -> ConnId {
        let now = Time::now();
        // What the supervisor queues for it is written by the drain, once
        // its descriptors are in place.
        let id = self.sup.open_connection(kind, now);
        if let Some(source) = source {
            self.sup.set_connection_source(id, source);
        }
        self.set_io(id, io);
        self.drain(now);
        id
    }

    /// Installs a connection's descriptors and registers them.
    fn set_io(&mut self, id: ConnId, mut io: ConnIo) {
        let registry = self.poll.registry();
        match (io.input, io.output) {
            (Some(i), Some(o)) if i == o => {
                let _ = registry.register(
                    &mut SourceFd(&i),
                    input_token(id),
                    mio::Interest::READABLE | mio::Interest::WRITABLE,
                );
            }
            (input, output) => {
                if let Some(i) = input {
                    // epoll refuses regular files: they are always ready.
                    if registry.register(&mut SourceFd(&i), input_token(id), mio::Interest::READABLE).is_err() {
                        io.always_ready = true;
                    }
                }
                if let Some(o) = output {
                    let _ = registry.register(&mut SourceFd(&o), output_token(id), mio::Interest::WRITABLE);
                }
            }
        }
        let i = id.index();
        if self.conns.len() <= i {
            self.conns.resize_with(i + 1, || None);
        }
        self.conns[i] = Some(io);
    }

    /// Ends a connection's descriptors.
    fn drop_io(&mut self, id: ConnId) {
        let Some(io) = self.conns.get_mut(id.index()).and_then(Option::take) else { return };
        let registry = self.poll.registry();
        for fd in [io.input, io.output].into_iter().flatten() {
            let _ = registry.deregister(&mut SourceFd(&fd));
        }
        self.closed_since_trim += 1;
    }

    /// Attaches an in-process controller: feed it lines with
    /// [`Reactor::send`] and read its events with [`Reactor::take_events`].
    pub fn attach(&mut self) -> ConnId {
        self.add_conn(ConnKind::InProcess, ConnIo::none(), None)
    }

    /// Attaches a controller of a front-end of your own (a TCP client, a
    /// message bus...): its events are handed to `writer` as they are
    /// produced, which returns how many bytes it took
    /// ([`Written::Bytes`]), [`Written::WouldBlock`] (then call
    /// [`Reactor::writable`] when it can take more; meanwhile the
    /// connection's output waits, and overflows as any connection's does)
    /// or [`Written::Closed`]. Feed its commands with [`Reactor::send`];
    /// end it with [`Reactor::detach`].
    pub fn attach_writer(&mut self, writer: impl FnMut(&[u8]) -> Written + 'static) -> ConnId {
        self.add_conn(ConnKind::Custom, ConnIo::writer(Box::new(writer)), None)
    }

    /// A custom front-end's writer can take bytes again.
    pub fn writable(&mut self, conn: ConnId) {
        let now = Time::now();
        self.sup.handle_writable(conn, now);
        self.drain(now);
    }

    /// Gives bytes (complete lines) to an in-process or custom controller
    /// and runs them at once. Returns how many bytes were taken (the rest did not
    /// fit its input buffer: take its events, then send the rest). A
    /// `terminate` is returned by the next [`Reactor::run_once`].
    pub fn send(&mut self, conn: ConnId, bytes: &[u8]) -> usize {
        let now = Time::now();
        let n = self.sup.push_input(conn, bytes, now);
        self.drain(now);
        n
    }

    /// Moves the events queued for an in-process controller into `into`.
    pub fn take_events(&mut self, conn: ConnId, into: &mut Vec<u8>) {
        let now = Time::now();
        self.sup.take_output(conn, into, now);
        self.drain(now);
    }

    /// Ends an in-process controller (as the end of its input).
    pub fn detach(&mut self, conn: ConnId) {
        let now = Time::now();
        self.sup.handle_input_end(conn, now);
        self.drain(now);
    }

    // ----- the loop ---------------------------------------------------------

    /// Runs until a command or event ends the daemon.
    pub fn run(&mut self) -> Outcome {
        loop {
            if let Some(o) = self.run_once(None) {
                return o;
            }
        }
    }

    /// One round: waits (at most `max_wait`; `None`: as long as nothing is
    /// due) for descriptors or timers, then processes everything that is
    /// ready. Returns the outcome once the daemon should stop; the reactor
    /// can be run again after an outcome that the caller chose to survive
    /// (terminate guard).
    pub fn run_once(&mut self, max_wait: Option<Duration>) -> Option<Outcome> {
        if let Some(o) = self.outcome.take() {
            return Some(o);
        }
        let wait = self.timeout().unwrap_or(MAX_SLEEP).min(MAX_SLEEP);
        let wait = max_wait.map_or(wait, |m| m.min(wait));
        if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Some(Outcome::Fatal { status: 4, message: format!("epoll_wait: {}", text(&e)) });
            }
        }
        self.more_ready = self.events.iter().count() >= self.events.capacity();
        self.dispatch_readiness();
        self.round();
        // A fatal signal caught during this round (its handler runs when a
        // system call returns, e.g. the read that saw stdin's end) wins over
        // a normal exit decided in it.
        if matches!(self.outcome, None | Some(Outcome::Exit { .. })) {
            if let Some(o) = self.signals.fatal_outcome() {
                self.outcome = Some(o);
            }
        }
        self.outcome.take()
    }

    /// How long the reactor may sleep before it has something to do
    /// (`Some(ZERO)`: work is ready now); `None` when nothing is due at all.
    /// For a program that runs the reactor from its own event loop.
    pub fn timeout(&mut self) -> Option<Duration> {
        let now = Time::now();
        if self.busy() {
            return Some(Duration::ZERO);
        }
        let due = [self.sup.poll_timeout(), self.children.deadline(), self.accept_retry].into_iter().flatten().min()?;
        Some(due - now)
    }

    /// Whether something can be done without waiting.
    fn busy(&mut self) -> bool {
        if self.outcome.is_some()
            || self.listener_ready
            || self.fatal_woken
            || self.signals_ready
            || self.more_ready
            || self.reap_more
        {
            return true;
        }
        if self.sources.iter().any(|(_, s)| s.ready.is_some())
            || !self.ready_pending.is_empty()
            || self.notify.as_ref().is_some_and(|n| n.ready)
        {
            return true;
        }
        let Reactor { conns, sup, .. } = self;
        conns
            .iter()
            .enumerate()
            .any(|(i, io)| io.as_ref().is_some_and(|io| io.in_ready || io.always_ready) && sup.wants_input(ConnId(i)))
    }

    /// Notes what the poll reported.
    fn dispatch_readiness(&mut self) {
        let now = Time::now();
        for ev in self.events.iter() {
            match ev.token() {
                SIGNALS => self.signals_ready = true,
                LISTENER => self.listener_ready = true,
                LOG => self.sup.handle_log_writable(now),
                FATAL => self.fatal_woken = true,
                NOTIFY => {
                    if let Some(n) = &mut self.notify {
                        n.ready = true;
                    }
                }
                Token(t) => {
                    let ready = Readiness {
                        readable: ev.is_readable(),
                        writable: ev.is_writable(),
                        closed: ev.is_read_closed() || ev.is_write_closed(),
                        error: ev.is_error(),
                    };
                    let index = t / 4;
                    match t % 4 {
                        3 => self.ready_pending.push(index),
                        2 => {
                            if let Some(s) = self.sources.get_mut(index) {
                                s.ready.get_or_insert_with(Readiness::default).merge(ready);
                            }
                        }
                        tag => {
                            let id = ConnId(index);
                            if let Some(Some(io)) = self.conns.get_mut(index) {
                                let both = io.input == io.output;
                                if tag == 0 && (ready.readable || ready.closed || ready.error) {
                                    io.in_ready = true;
                                }
                                if ready.writable && (tag == 1 || both) {
                                    self.sup.handle_writable(id, now);
                                }
                            }
                        }
                    }
                }
            }
        }
        self.drain(now);
    }

    /// Gives the supervisor the wall-clock time, for stamped log lines
    /// (`--log-timestamps`): before anything it is fed may log.
    fn read_wall_clock(&mut self) {
        if self.stamps {
            let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            self.sup.set_wall_clock(since_epoch);
        }
    }

    /// One round of the loop (protocol.md §1).
    fn round(&mut self) {
        self.read_wall_clock();
        let now = Time::now();
        if std::mem::take(&mut self.fatal_woken) {
            self.signals.drain_wake();
        }
        if let Some(o) = self.signals.fatal_outcome() {
            self.outcome = Some(o);
            return;
        }
        // Once an outcome is decided, nothing more is fed to the supervisor
        // in this round (the original stops running commands then).
        if std::mem::take(&mut self.signals_ready) {
            let Reactor { signals, sup, .. } = self;
            for sig in signals.hooks.pending() {
                if sig != libc::SIGCHLD {
                    sup.handle_signal(Signal::from_number(sig as u16), now);
                }
            }
            self.drain(now);
        }
        self.reap(now);
        if self.outcome.is_some() {
            return;
        }
        if self.accept_retry.is_some_and(|t| t <= now) {
            self.accept_retry = None;
            self.listener_ready = true;
        }
        self.read_readiness(now);
        if std::mem::take(&mut self.listener_ready) {
            self.accept(now);
        }
        self.run_sources();
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        ids.extend(self.conns.iter().enumerate().filter(|(_, c)| c.is_some()).map(|(i, _)| ConnId(i)));
        for &id in &ids {
            if self.outcome.is_some() {
                break;
            }
            self.read_conn(id, now);
        }
        self.ids = ids;
        if self.outcome.is_none() {
            self.sup.handle_timeout(now);
            self.drain(now);
        }
        if self.closed_since_trim >= TRIM_AFTER_CLOSES {
            self.closed_since_trim = 0;
            sys::raw::trim_heap();
        }
    }

    /// Reaps every exited child, reporting a failed exec before its exit.
    fn reap(&mut self, now: Time) {
        let mut reaped = 0;
        // A bounded share per round: ten thousand children killed at once
        // would otherwise queue ten thousand events before a controller
        // could read any (an `overflow`), and keep the loop from the
        // connections meanwhile. The rest are reaped in the next rounds,
        // which come at once.
        self.reap_more = false;
        while reaped < REAPS_PER_ROUND {
            let Some((pid, how, usage)) = children::reap() else { break };
            if self.children.execs_pending() {
                let sup = &mut self.sup;
                self.children.check_execs(Some(pid), now, |p, step, e| sup.handle_child_failed(p, step, e, now));
            }
            // A readiness line written just before exiting still counts.
            self.read_ready_pipes_of(pid, now);
            self.sup.handle_exit(pid, how, Some(usage), now);
            reaped += 1;
        }
        self.reap_more = reaped == REAPS_PER_ROUND;
        if reaped > 0 {
            // What a service wrote on its connection before exiting must be
            // read in this round, before its restart is decided, even if
            // the readiness report has not arrived yet.
            for (i, io) in self.conns.iter_mut().enumerate() {
                if let Some(io) = io {
                    if self.sup.connection_kind(ConnId(i)) == Some(ConnKind::Service) {
                        io.in_ready = true;
                    }
                }
            }
        }
        if self.children.deadline().is_some_and(|t| t <= now) {
            let sup = &mut self.sup;
            self.children.check_execs(None, now, |p, step, e| sup.handle_child_failed(p, step, e, now));
        }
        self.drain(now);
    }

    /// Reads a connection's input and runs it.
    fn read_conn(&mut self, id: ConnId, now: Time) {
        for _ in 0..READS_PER_ROUND {
            if self.outcome.is_some() {
                return;
            }
            let Reactor { conns, sup, received, .. } = self;
            let Some(Some(io)) = conns.get_mut(id.index()) else { return };
            if !(io.in_ready || io.always_ready) {
                return;
            }
            let Some(buf) = sup.input_buffer(id) else { return };
            match io.read(buf, received) {
                Ok(Read::Data(n)) => {
                    self.take_received(id);
                    self.sup.handle_input(id, n, now);
                }
                Ok(Read::WouldBlock) => {
                    io.in_ready = false;
                    return;
                }
                Ok(Read::Eof) => {
                    io.in_ready = false;
                    io.always_ready = false;
                    self.sup.handle_input_end(id, now);
                    self.drain(now);
                    return;
                }
                Err(e) => {
                    io.in_ready = false;
                    io.always_ready = false;
                    let errno = e.raw_os_error().unwrap_or(libc::EIO);
                    // A control-socket client that closes with events unread
                    // resets the connection: its routine end, not an error.
                    // Anything else (a service dying with unread events) is
                    // logged, as the original does.
                    if errno == libc::ECONNRESET && self.sup.connection_kind(id) == Some(ConnKind::Socket) {
                        self.sup.handle_input_end(id, now);
                    } else {
                        self.sup.handle_input_error(id, Errno(errno), now);
                    }
                    self.drain(now);
                    return;
                }
            }
            self.drain(now);
        }
    }

    /// Hands descriptors received with a connection's input to the
    /// supervisor.
    fn take_received(&mut self, id: ConnId) {
        for fd in self.received.drain(..) {
            let what = describe(fd.as_fd()).map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)));
            let fd_id = self.fds.insert(fd);
            self.sup.handle_received_fd(id, fd_id, what);
        }
    }

    /// Accepts every pending control-socket connection (the poll reports
    /// the listener once per burst of arrivals: stopping early would strand
    /// the rest). The supervisor admits each client or refuses it (the
    /// connection limit), and is told when descriptors run out: then the
    /// spare descriptor makes room to take the next client off the queue
    /// and close it, so the queue keeps draining and every later client
    /// finds out at once instead of hanging; without a spare, accepting is
    /// retried after [`ACCEPT_RETRY`].
    fn accept(&mut self, now: Time) {
        if self.spare.is_none() {
            self.spare = sys::fd::open_dev_null().ok();
        }
        while let Some(listener) = self.listener {
            match sys::fd::accept(sys::raw::borrow(listener)) {
                Ok(fd) => match self.sup.accept_connection(now) {
                    Some(id) => {
                        self.set_io(id, ConnIo::socket(fd));
                        self.drain(now);
                    }
                    // Refused: closing it tells the client.
                    None => drop(fd),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)) =>
                {
                    let refused = self.refuse_with_spare(listener);
                    self.sup.handle_accept_failed(Errno(e.raw_os_error().unwrap_or(libc::EMFILE)), refused);
                    if !refused {
                        self.accept_retry = Some(now + ACCEPT_RETRY);
                        break;
                    }
                }
                // The client gave up before it was accepted: the next one.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EPROTO)) => {}
                Err(_) => break,
            }
        }
        self.drain(now);
    }

    /// Out of descriptors: closes the spare to accept the next pending
    /// client in its place, closes that connection at once and takes the
    /// spare back. Whether a client was refused so.
    fn refuse_with_spare(&mut self, listener: RawFd) -> bool {
        if self.spare.take().is_none() {
            return false;
        }
        let refused = sys::fd::accept(sys::raw::borrow(listener)).is_ok();
        self.spare = sys::fd::open_dev_null().ok();
        refused
    }

    /// Runs the callbacks of the embedding program's ready descriptors.
    fn run_sources(&mut self) {
        let ready: Vec<usize> = self.sources.iter().filter(|(_, s)| s.ready.is_some()).map(|(k, _)| k).collect();
        for k in ready {
            let Some(s) = self.sources.get_mut(k) else { continue };
            let (Some(readiness), Some(mut callback)) = (s.ready.take(), s.callback.take()) else { continue };
            callback(self, SourceId(k), readiness);
            if let Some(s) = self.sources.get_mut(k) {
                s.callback.get_or_insert(callback);
            }
        }
    }

    /// Executes the supervisor's actions and moves its output until
    /// nothing is left (the drain order of [`Supervisor`]).
    fn drain(&mut self, now: Time) {
        loop {
            let mut progress = false;
            while self.execute_next(now) {
                progress = true;
            }
            progress |= self.write_output(now);
            if let Some(o) = self.sup.poll_outcome() {
                self.outcome.get_or_insert(o);
            }
            if !progress {
                return;
            }
        }
    }

    /// Writes the supervisor's output to connections and the log, as far
    /// as they take it; returns whether anything was written.
    fn write_output(&mut self, now: Time) -> bool {
        let mut progress = false;
        while let Some((id, bytes)) = self.sup.poll_transmit() {
            progress = true;
            let written = match self.conns.get_mut(id.index()) {
                Some(Some(io)) => io.write(bytes),
                _ => Written::Closed,
            };
            self.sup.handle_written(id, written, now);
        }
        loop {
            let Reactor { sup, fds, signals, .. } = self;
            let Some((fd, bytes)) = sup.poll_log() else { break };
            progress = true;
            let written = write_log(fds, &mut signals.write_timeout, fd, bytes);
            self.sup.handle_log_written(written, now);
        }
        progress
    }

    /// Replaces the process with the exec-on-exit program (protocol.md §8.6), if one
    /// is configured: it gets every named handle and the control socket
    /// (their close-on-exec flag is cleared just before), and
    /// `DAEMONPROXY_EXITCODE=code`, `DAEMONPROXY_ERROR=message` in its
    /// environment. Returns only if there is no program or the exec
    /// failed (with the error; the descriptors are close-on-exec again).
    pub fn run_exec_on_exit(&mut self, code: i64, message: &str) -> Option<io::Error> {
        let args = self.sup.exec_on_exit().to_vec();
        if args.is_empty() {
            return None;
        }
        let listener = self.sup.control_socket().map(|(fd, _)| fd);
        let handed: Vec<RawFd> = self.sup.handle_fds().chain(listener).filter_map(|id| self.fds.raw(id)).collect();
        for &fd in &handed {
            let _ = sys::fd::set_cloexec_flag(fd, false);
        }
        let err = crate::process::exec_on_exit(&args, code, message);
        for &fd in &handed {
            // 0..2 stay inheritable, as they were.
            if fd > 2 {
                let _ = sys::fd::set_cloexec_flag(fd, true);
            }
        }
        Some(err)
    }

    /// Writes what can be written without waiting (before exiting).
    pub fn flush(&mut self) {
        self.sup.force_log();
        self.drain(Time::now());
    }

    // ----- the embedding program's descriptors ------------------------------

    /// Watches a descriptor of the embedding program: `callback` runs in
    /// the loop whenever it is ready (edge-triggered: read or write until
    /// it would block). The descriptor stays the caller's: deregister it
    /// before closing it.
    pub fn register(
        &mut self,
        fd: RawFd,
        interest: Interest,
        callback: impl FnMut(&mut Reactor, SourceId, Readiness) + 'static,
    ) -> Result<SourceId, Error> {
        let entry = self.sources.vacant_entry();
        let id = SourceId(entry.key());
        let mio_interest = match (interest.readable, interest.writable) {
            (true, true) => mio::Interest::READABLE | mio::Interest::WRITABLE,
            (false, true) => mio::Interest::WRITABLE,
            _ => mio::Interest::READABLE,
        };
        self.poll
            .registry()
            .register(&mut SourceFd(&fd), source_token(id), mio_interest)
            .map_err(|e| Error::io(ErrorKind::Registration, 3, format!("register fd {fd}: {}", text(&e)), e))?;
        entry.insert(Source { fd, callback: Some(Box::new(callback)), ready: None });
        Ok(id)
    }

    /// Stops watching a registered descriptor.
    pub fn deregister(&mut self, id: SourceId) -> Result<(), Error> {
        if !self.sources.contains(id.0) {
            return Err(Error::new(ErrorKind::Registration, 3, "no such source"));
        }
        let s = self.sources.remove(id.0);
        self.poll
            .registry()
            .deregister(&mut SourceFd(&s.fd))
            .map_err(|e| Error::io(ErrorKind::Registration, 3, format!("deregister fd {}: {}", s.fd, text(&e)), e))
    }
}

impl Reactor {
    /// Watches a child's readiness pipe.
    fn watch_ready_pipe(&mut self, pid: i32, fd: OwnedFd) {
        let raw = fd.as_raw_fd();
        let key = self.ready_pipes.insert((pid, fd));
        if self.poll.registry().register(&mut SourceFd(&raw), ready_token(key), mio::Interest::READABLE).is_err() {
            self.ready_pipes.remove(key);
        }
    }

    /// Reads the readiness pipes and the notification socket that were
    /// reported readable.
    fn read_readiness(&mut self, now: Time) {
        let mut pending = std::mem::take(&mut self.ready_pending);
        for key in pending.drain(..) {
            self.read_ready_pipe(key, now);
        }
        self.ready_pending = pending;
        if self.notify.as_ref().is_some_and(|n| n.ready) {
            self.read_notify_socket(now);
        }
        self.drain(now);
    }

    /// The pipes of process `pid` (it was just reaped).
    fn read_ready_pipes_of(&mut self, pid: i32, now: Time) {
        let keys: Vec<usize> = self.ready_pipes.iter().filter(|(_, (p, _))| *p == pid).map(|(k, _)| k).collect();
        for key in keys {
            self.read_ready_pipe(key, now);
            // Whatever it wrote is in: the pipe has no other use.
            self.close_ready_pipe(key);
        }
    }

    /// One readiness pipe: a line means ready (then the pipe is closed);
    /// its end without one means never.
    fn read_ready_pipe(&mut self, key: usize, now: Time) {
        let Some((pid, fd)) = self.ready_pipes.get(key) else { return };
        let pid = *pid;
        let mut buf = [0u8; 256];
        loop {
            match sys::fd::read(fd.as_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) if buf[..n].contains(&b'\n') => {
                    self.sup.handle_ready(pid, now);
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
        }
        self.close_ready_pipe(key);
    }

    fn close_ready_pipe(&mut self, key: usize) {
        if self.ready_pipes.contains(key) {
            let (_, fd) = self.ready_pipes.remove(key);
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd.as_raw_fd()));
        }
    }

    /// Every datagram waiting on the notification socket.
    fn read_notify_socket(&mut self, now: Time) {
        let mut buf = [0u8; 4096];
        loop {
            let Some(n) = &mut self.notify else { return };
            match sys::fd::recv_with_pid(n.fd.as_fd(), &mut buf) {
                Ok((len, Some(pid))) => match sys::fd::session_and_group(pid) {
                    Ok(group) => self.sup.handle_notify_message(pid, group, &buf[..len], now),
                    Err(_) => self.sup.log(
                        LogLevel::Debug,
                        format_args!("dropped a readiness message from pid {pid}, which has exited"),
                    ),
                },
                Ok((_, None)) => {
                    self.sup.log(LogLevel::Debug, format_args!("dropped a readiness message without credentials"))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    n.ready = false;
                    return;
                }
            }
        }
    }
}

impl AsRawFd for Reactor {
    /// The poll's descriptor: readable when the reactor has something to
    /// do (see [`Reactor::timeout`] for its timers). An outer loop that
    /// watches it edge-triggered (as mio does) must call
    /// [`Reactor::run_once`] until [`Reactor::timeout`] is no longer zero,
    /// since one call handles a bounded number of ready descriptors; and
    /// its own waits may return `EINTR`, since the reactor catches signals.
    fn as_raw_fd(&self) -> RawFd {
        self.poll.as_raw_fd()
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        if self.subreaper {
            let _ = sys::fd::set_child_subreaper(false);
        }
        if let (Some(path), Some(_)) = (&self.notify_path, &self.notify) {
            let _ = sys::raw::unlink(path);
        }
        let ids: Vec<ConnId> = (0..self.conns.len()).map(ConnId).collect();
        for id in ids {
            self.drop_io(id);
        }
    }
}

/// One write of log bytes, bounded in time on a blocking descriptor.
fn write_log(fds: &FdTable, guard: &mut Option<sys::signal::WriteTimeout>, fd: FdId, bytes: &[u8]) -> Option<usize> {
    let fd = fds.get(fd)?;
    let r = match guard {
        Some(guard) => guard.write_guarded(fd, bytes),
        None => sys::fd::write(fd, bytes),
    };
    r.ok().filter(|&n| n > 0)
}

/// What a descriptor without a description is assumed to be.
const READ_WRITE_FILE: FdKind = FdKind::File { read: true, write: true, append: false, nonblock: false };

/// A handle name of the reactor's own.
fn static_name(text: &'static str) -> crate::proto::Name<'static> {
    crate::proto::Name::from_text(text).unwrap_or_else(|| unreachable!("{text} is a valid name"))
}

/// What a descriptor is, for `fd.state` (protocol.md §4.3).
fn describe(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<FdKind> {
    use crate::proto::{Domain, SockType};
    use sys::fd::{FdDescription, SockDomain, SockType as SysType};
    Ok(match sys::fd::describe(fd)? {
        FdDescription::File { read, write, append, nonblock } => FdKind::File { read, write, append, nonblock },
        FdDescription::Socket { domain, ty, nonblock } => FdKind::Socket {
            domain: match domain {
                SockDomain::Unix => Domain::Unix,
                SockDomain::Inet => Domain::Inet,
                SockDomain::Inet6 => Domain::Inet6,
            },
            ty: match ty {
                SysType::Stream => SockType::Stream,
                SysType::Dgram => SockType::Dgram,
                SysType::Seqpacket => SockType::Seqpacket,
            },
            nonblock,
        },
    })
}
