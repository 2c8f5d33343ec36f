//! The reactor: the event loop that owns the operating system side.
//!
//! One mio `Poll` waits on controller descriptors, the control socket, the
//! signal pipe, the fatal-signal wake pipe and (while blocked) the log
//! destination. Each iteration follows the original's order (§2.1): log
//! retry, signals, reaping, due starts, accepting, running every
//! controller, timeouts, log retry, then sleep until something is ready or
//! due. Descriptors that epoll refuses (regular files, /dev/null) count as
//! always ready, as `select()` reports them.

use crate::client::{Client, Io, Kind, Read};
use crate::handle::HeldFd;
use crate::registry::NameBuf;
use crate::supervisor::{ErrText, IoChange, Outcome, Supervisor, RECORDED_SIGNALS};
use crate::sys;
use crate::time::{self, Time, SEC};
use crate::{log, Options};
use daemonproxy_proto::{Event, Name, Signal};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Signals whose disposition the daemon changes; a service gets them back
/// at their defaults.
pub const HANDLED_SIGNALS: [i32; 15] = [
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGQUIT,
    libc::SIGCHLD,
    libc::SIGALRM,
    libc::SIGPIPE,
    libc::SIGABRT,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGTRAP,
];

const SIGNALS: Token = Token(usize::MAX - 1);
const LISTENER: Token = Token(usize::MAX - 2);
const LOG: Token = Token(usize::MAX - 3);
const FATAL: Token = Token(usize::MAX - 4);

/// Longest sleep of the loop (§2.1).
const MAX_SLEEP: Time = 200 * SEC;

/// Token of a controller's input (or only) descriptor.
fn input_token(id: usize) -> Token {
    Token(id * 2)
}

/// Token of a controller's separate output descriptor.
fn output_token(id: usize) -> Token {
    Token(id * 2 + 1)
}

/// The daemon: a [`Supervisor`] and the event loop around it.
///
/// Build it with [`Reactor::new`], add front-ends ([`Reactor::add_interactive`],
/// [`Reactor::add_config`], [`Reactor::create_control_socket`],
/// [`Reactor::attach`]), then call [`Reactor::run`] or step it with
/// [`Reactor::run_once`]. The reactor never exits the process: it returns
/// an [`Outcome`] and leaves the decision to its caller.
pub struct Reactor {
    sup: Supervisor,
    poll: Poll,
    events: Events,
    signals: Signals,
    fatal: Option<sys::signal::FatalSignals>,
    fatal_pipe: (OwnedFd, OwnedFd),
    fatal_woken: bool,
    listener_fd: Option<RawFd>,
    listener_ready: bool,
    log_fd: Option<RawFd>,
    /// Descriptors received with SCM_RIGHTS while reading (reused).
    anc_buf: Vec<OwnedFd>,
    /// Controller ids of this iteration (reused).
    ids: Vec<usize>,
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor").finish_non_exhaustive()
    }
}

impl Reactor {
    /// Sets up the daemon: registers the descriptors open at start-up as
    /// `stdin`/`stdout`/`stderr` and `fd_N` (before opening any of its
    /// own), opens /dev/null, creates the constant handles and installs
    /// signal handling. Errors are fatal outcomes with the original's
    /// status and message.
    pub fn new(opts: Options) -> Result<Reactor, Outcome> {
        let inherited = if opts.register_inherited { sys::fd::scan_inherited(3, 1023) } else { Vec::new() };
        let std_open = sys::fd::scan_inherited(0, 2);
        let null = sys::fd::open_dev_null()
            .map_err(|e| Outcome::Fatal(3, format!("Can't open /dev/null: {}", ErrText(&e))))?;
        let mut handles = Vec::new();
        for (fd, name) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
            let name = NameBuf::new(Name::from_text(name).unwrap_or_else(|| unreachable!()));
            let held = if std_open.contains(&fd) {
                HeldFd::Std(fd)
            } else {
                HeldFd::Owned(
                    sys::fd::dup_cloexec(null.as_fd())
                        .map_err(|e| Outcome::Fatal(3, format!("Can't open /dev/null: {}", ErrText(&e))))?,
                )
            };
            let what = sys::fd::describe(sys::raw::borrow(held.raw())).unwrap_or(sys::fd::FdDescription::File {
                read: true,
                write: true,
                append: false,
                nonblock: false,
            });
            handles.push((name, held, what));
        }
        for fd in inherited {
            let Ok(owned) = sys::fd::take_inherited(fd) else { continue };
            let Ok(what) = sys::fd::describe(sys::raw::borrow(fd)) else { continue };
            let text = format!("fd_{fd}");
            let Some(name) = Name::from_text(&text) else { continue };
            handles.push((NameBuf::new(name), HeldFd::Owned(owned), what));
        }
        let mut sup = Supervisor::with_os(&opts, null, handles)?;
        sup.log.install_write_timeout();
        let broken = |e: io::Error| Outcome::Fatal(5, format!("signal handler setup: {}", ErrText(&e)));
        let poll = Poll::new().map_err(|e| Outcome::Fatal(4, format!("epoll: {}", ErrText(&e))))?;
        let mut signals =
            Signals::new(RECORDED_SIGNALS.map(|s| i32::from(s.number())).into_iter().chain([libc::SIGCHLD]))
                .map_err(broken)?;
        poll.registry().register(&mut signals, SIGNALS, Interest::READABLE).map_err(broken)?;
        let fatal_pipe =
            sys::fd::pipe(true).map_err(|e| Outcome::Fatal(5, format!("signal pipe setup: {}", ErrText(&e))))?;
        let fatal = sys::signal::FatalSignals::install(fatal_pipe.1.as_raw_fd()).map_err(broken)?;
        sys::signal::arm_fatal_exec(Some(&opts.exec_args)).map_err(broken)?;
        poll.registry()
            .register(&mut SourceFd(&fatal_pipe.0.as_raw_fd()), FATAL, Interest::READABLE)
            .map_err(broken)?;
        Ok(Reactor {
            sup,
            poll,
            events: Events::with_capacity(64),
            signals,
            fatal: Some(fatal),
            fatal_pipe,
            fatal_woken: false,
            listener_fd: None,
            listener_ready: false,
            log_fd: None,
            anc_buf: Vec::new(),
            ids: Vec::new(),
        })
    }

    /// The supervisor (state, log, guard, exec-on-exit arguments).
    pub fn supervisor(&mut self) -> &mut Supervisor {
        &mut self.sup
    }

    /// Logs a message at `level` through the daemon's log.
    pub fn log(&mut self, level: daemonproxy_proto::LogLevel, args: std::fmt::Arguments<'_>) {
        self.sup.log.log(level, args);
    }

    /// Uses stdin/stdout as a controller (`-i`, §12.4): both become
    /// non-blocking, the `stdin`/`stdout` handles are re-pointed to
    /// /dev/null, and `banner` is queued as `info` lines.
    pub fn add_interactive(&mut self, banner: &[&str]) -> io::Result<usize> {
        sys::fd::set_nonblocking(sys::raw::borrow(0), true)?;
        sys::fd::set_nonblocking(sys::raw::borrow(1), true)?;
        self.sup.repoint_to_null("stdin")?;
        self.sup.repoint_to_null("stdout")?;
        let c = Client::new(Kind::Interactive, Io::Borrowed { input: Some(0), output: Some(1) }, true, true);
        let id = self.sup.add_client(c);
        let now = time::now();
        for line in banner {
            let mut v = Vec::new();
            Event::Info { text: line.as_bytes() }.encode(&mut v);
            if let Some(c) = self.sup.clients.get_mut(id) {
                c.queue(&v, now);
            }
        }
        Ok(id)
    }

    /// Reads commands from a config file (`-c FILE`), or from stdin when
    /// `path` is `-` (§4.1). Logs the original's error on failure.
    pub fn add_config(&mut self, path: &[u8]) -> io::Result<usize> {
        let io = if path == b"-" {
            let stdin_ok = sys::fd::scan_inherited(0, 0).contains(&0)
                && !self.sup.clients.iter().any(|(_, c)| c.kind == Kind::Interactive);
            if !stdin_ok {
                log!(self.sup.log, Error, "stdin not available");
                return Err(io::Error::other("stdin not available"));
            }
            let _ = sys::fd::set_nonblocking(sys::raw::borrow(0), true);
            let _ = self.sup.repoint_to_null("stdin");
            Io::Borrowed { input: Some(0), output: None }
        } else {
            match sys::fd::open(path, libc::O_RDONLY | libc::O_NONBLOCK, 0) {
                Ok(fd) => Io::File(fd),
                Err(e) => {
                    log!(
                        self.sup.log,
                        Error,
                        "Failed to open config file \"{}\": {}",
                        crate::log::Lossy(path),
                        ErrText(&e)
                    );
                    return Err(e);
                }
            }
        };
        Ok(self.sup.add_client(Client::new(Kind::Config, io, true, false)))
    }

    /// Creates the control socket (`-S PATH`, `socket.create`).
    /// The details are in the log; the error only says that it failed.
    pub fn create_control_socket(&mut self, path: &[u8]) -> io::Result<()> {
        self.sup.create_control_socket(path).map_err(|()| io::Error::other("control socket"))
    }

    /// Attaches an in-process controller: feed it lines with
    /// [`Reactor::send`] and read its events with [`Reactor::take_events`].
    pub fn attach(&mut self) -> usize {
        self.sup.attach()
    }

    /// Gives bytes (complete lines) to an in-process controller and runs
    /// them at once. Returns how many bytes were taken (the rest did not
    /// fit the input buffer: retry after taking events).
    pub fn send(&mut self, id: usize, bytes: &[u8]) -> usize {
        self.sup.send(id, bytes, time::now())
    }

    /// Moves the events queued for an in-process controller into `into`.
    pub fn take_events(&mut self, id: usize, into: &mut Vec<u8>) {
        self.sup.take_events(id, into);
    }

    /// After `--daemonize`: the standard handles now refer to /dev/null and
    /// the log discards its messages until `log.dest` (§12.5).
    pub fn daemonized(&mut self) {
        for name in ["stdin", "stdout", "stderr"] {
            let _ = self.sup.repoint_to_null(name);
        }
        self.sup.log.discard();
    }

    /// Runs until a command or event ends the daemon.
    pub fn run(&mut self) -> Outcome {
        loop {
            if let Some(o) = self.run_once(None) {
                return o;
            }
        }
    }

    /// One iteration: wait (at most `max_wait`, `None` for as long as
    /// nothing is due) for descriptors or timers, then process everything
    /// that is ready. Returns the outcome once the daemon should stop; the
    /// reactor can be run again after a fatal outcome that the caller
    /// chose to survive (terminate guard).
    pub fn run_once(&mut self, max_wait: Option<Duration>) -> Option<Outcome> {
        self.sup.outcome = None;
        // Registrations made before the first iteration (the control
        // socket of -S, front-ends added by the embedding program).
        self.apply_io_changes();
        let now = time::now();
        let wait = if self.busy(now) {
            Some(Duration::ZERO)
        } else {
            let due = self.sup.next_deadline().map_or(MAX_SLEEP, |t| t.saturating_sub(now)).min(MAX_SLEEP);
            Some(max_wait.map_or(Duration::from_nanos(due), |m| m.min(Duration::from_nanos(due))))
        };
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Some(Outcome::Fatal(4, format!("epoll_wait: {}", ErrText(&e)))),
        }
        let mut signals_ready = false;
        for ev in self.events.iter() {
            match ev.token() {
                SIGNALS => signals_ready = true,
                LISTENER => self.listener_ready = true,
                LOG => self.sup.log.mark_writable(),
                FATAL => self.fatal_woken = true,
                Token(t) => {
                    if let Some(c) = self.sup.clients.get_mut(t / 2) {
                        if t % 2 == 0 && (ev.is_readable() || ev.is_read_closed() || ev.is_error()) {
                            c.in_ready = true;
                        }
                    }
                }
            }
        }
        self.iterate(signals_ready);
        // A fatal signal caught during this iteration (its handler runs when
        // a system call returns, e.g. the read that saw stdin's end) wins
        // over the normal exit that iteration may have decided.
        if matches!(self.sup.outcome, None | Some(Outcome::Exit(_))) {
            if let Some(o) = self.fatal_outcome() {
                self.sup.outcome = Some(o);
            }
        }
        self.sup.outcome.take()
    }

    /// The fatal outcome of a fatal signal sent to the process, if one was
    /// caught (§10.1).
    fn fatal_outcome(&mut self) -> Option<Outcome> {
        let sig = self.fatal.as_ref().and_then(|f| f.take_pending())?;
        let name = Signal::from_number(sig as u16);
        Some(Outcome::Fatal(4, format!("Received signal {name} ({sig})")))
    }

    /// Whether something can be done without waiting.
    fn busy(&self, now: Time) -> bool {
        self.sup.run_again
            || self.sup.log.retry_now()
            || self.sup.clients.iter().any(|(_, c)| {
                (c.reads && c.in_ready && !c.closing && !c.framer.is_full()) || (c.closing && c.queued() == 0)
            })
            || self.sup.next_deadline().is_some_and(|t| t <= now)
            || self.listener_ready
    }

    fn iterate(&mut self, signals_ready: bool) {
        let now = time::now();
        self.sup.run_again = false;
        self.sup.log.step(now);
        if self.fatal_woken {
            self.fatal_woken = false;
            let mut buf = [0u8; 64];
            while matches!(sys::fd::read(self.fatal_pipe.0.as_fd(), &mut buf), Ok(n) if n > 0) {}
        }
        if let Some(o) = self.fatal_outcome() {
            self.sup.outcome = Some(o);
            return;
        }
        if signals_ready {
            let Reactor { signals, sup, .. } = self;
            for sig in signals.pending() {
                if sig != libc::SIGCHLD {
                    sup.handle_signal(Signal::from_number(sig as u16), now);
                }
            }
        }
        let mut reaped = false;
        while let Some((pid, status)) = sys::reap::reap_one() {
            self.sup.reaped(pid, status, now);
            reaped = true;
        }
        if reaped {
            // What a service wrote on its connection before exiting must be
            // read in this iteration, before its restart is decided, even if
            // the readiness report has not arrived yet (an interrupted wait).
            for (_, c) in self.sup.clients.iter_mut() {
                if c.kind == Kind::Service && c.reads {
                    c.in_ready = true;
                }
            }
        }
        self.sup.poll_execs(None, now);
        self.sup.start_due(now);
        if self.listener_ready {
            self.listener_ready = false;
            self.sup.accept_clients(now);
        }
        self.sup.attach_log();
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        ids.extend(self.sup.clients.iter().map(|(id, _)| id));
        for &id in &ids {
            self.service_client(id, now);
        }
        self.ids = ids;
        // Restarts of services reaped above are decided now that their
        // last commands have run; starts made due now are forked in this
        // iteration (the original forks them in the next; nothing can tell
        // the two apart but the latency).
        self.sup.decide_restarts(now);
        self.sup.start_due(now);
        // A controller serviced later may have broadcast to one serviced
        // earlier: write everything queued before sleeping (§2.1).
        for (_, c) in self.sup.clients.iter_mut() {
            if c.queued() > 0 {
                c.flush(now);
            }
        }
        self.sup.check_timeouts(now);
        self.sup.log.step(now);
        self.apply_io_changes();
    }

    /// Reads, executes and flushes one controller; closes it when its input
    /// has ended and its output is out.
    fn service_client(&mut self, id: usize, now: Time) {
        let mut fds = std::mem::take(&mut self.anc_buf);
        for _ in 0..16 {
            let Some(c) = self.sup.clients.get_mut(id) else { break };
            if !(c.reads && c.in_ready && !c.closing) {
                break;
            }
            match c.read(&mut fds) {
                Ok(Read::Data) => {
                    self.sup.take_ancillary(id, &mut fds);
                    self.sup.run_client(id, now);
                }
                Ok(Read::Full) => {
                    self.sup.run_client(id, now);
                    if self.sup.clients.get(id).is_some_and(|c| c.framer.is_full()) {
                        break;
                    }
                }
                Ok(Read::WouldBlock) => {
                    c.in_ready = false;
                    break;
                }
                // A peer that closes with events unread resets the
                // connection: that is its end of input, not an error.
                Ok(Read::Eof) => {
                    c.eof = true;
                    c.in_ready = false;
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => {
                    c.eof = true;
                    c.in_ready = false;
                    break;
                }
                Err(e) => {
                    log!(self.sup.log, Error, "read(client[{}])): {}", id, ErrText(&e));
                    self.sup.input_ended(id, now);
                    break;
                }
            }
        }
        self.anc_buf = fds;
        self.sup.run_client(id, now);
        if let Some(c) = self.sup.clients.get(id) {
            // A connection with no direction left (an event-only service
            // connection whose reader went away) ends too.
            let dead = !c.reads && !c.events && c.kind != Kind::Config;
            if dead || (c.closing && (c.queued() == 0 || !c.events)) {
                self.sup.destroy_client(id, now);
            }
        }
    }

    /// Registers new controllers and the control socket, deregisters dead
    /// ones, and follows the log's interest in writability.
    fn apply_io_changes(&mut self) {
        let registry = self.poll.registry();
        for change in self.sup.io_changes.drain(..) {
            match change {
                IoChange::Added(id) => {
                    let Some(c) = self.sup.clients.get_mut(id) else { continue };
                    let (inp, out) = (c.input_fd().filter(|_| c.reads), c.output_fd());
                    match (inp, out) {
                        (Some(i), Some(o)) if i == o => {
                            let _ = registry.register(
                                &mut SourceFd(&i),
                                input_token(id),
                                Interest::READABLE | Interest::WRITABLE,
                            );
                        }
                        _ => {
                            if let Some(i) = inp {
                                // A refused descriptor (regular file) stays
                                // "ready" until its end.
                                let _ = registry.register(&mut SourceFd(&i), input_token(id), Interest::READABLE);
                            }
                            if let Some(o) = out {
                                let _ = registry.register(&mut SourceFd(&o), output_token(id), Interest::WRITABLE);
                            }
                        }
                    }
                }
                IoChange::Listener => {
                    if let Some(old) = self.listener_fd.take() {
                        let _ = registry.deregister(&mut SourceFd(&old));
                    }
                    if let Some((fd, _)) = &self.sup.listener {
                        let raw = fd.as_raw_fd();
                        if registry.register(&mut SourceFd(&raw), LISTENER, Interest::READABLE).is_ok() {
                            self.listener_fd = Some(raw);
                            self.listener_ready = true;
                        }
                    }
                }
            }
        }
        for c in self.sup.dead.drain(..) {
            let inp = c.input_fd();
            let out = c.output_fd();
            for fd in [inp, out].into_iter().flatten() {
                let _ = registry.deregister(&mut SourceFd(&fd));
            }
            drop(c);
        }
        let want = self.sup.log.wants_writable();
        if want != self.log_fd {
            if let Some(old) = self.log_fd.take() {
                let _ = registry.deregister(&mut SourceFd(&old));
            }
            if let Some(fd) = want {
                match registry.register(&mut SourceFd(&fd), LOG, Interest::WRITABLE) {
                    Ok(()) => self.log_fd = Some(fd),
                    Err(_) => self.sup.log.set_pollable(false),
                }
            }
        }
    }

    /// Flushes what can be flushed without waiting (before exiting).
    pub fn flush(&mut self) {
        let now = time::now();
        self.sup.attach_log();
        for (_, c) in self.sup.clients.iter_mut() {
            c.flush(now);
        }
        self.sup.log.flush_now();
    }
}
