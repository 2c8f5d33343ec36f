//! Executing the supervisor's actions: the reactor's only system calls on
//! the supervisor's behalf.

use super::children::failed;
use super::{Reactor, LOG};
use crate::ids::{FdId, RequestId};
use crate::proto::{AddrKind, Domain, OpenFlags, PipeFlags, SockType, SocketAddr, SocketFlags};
use crate::supervisor::{Action, ActionResult, Step};
use crate::sys;
use crate::time::Time;
use mio::unix::SourceFd;
use std::os::fd::AsFd;

impl Reactor {
    /// Executes the next action, if any, and feeds its result back.
    /// Returns whether there was one.
    pub(super) fn execute_next(&mut self, now: Time) -> bool {
        let Reactor { sup, fds, children, .. } = self;
        let Some(action) = sup.poll_action() else { return false };
        let result: Option<(RequestId, ActionResult)> = match action {
            Action::Open { req, path, flags } => Some((req, open(fds, path, flags))),
            Action::Pipe { req, flags } => Some((req, pipe(fds, flags))),
            Action::Socket { req, flags, addr } => Some((req, socket(fds, flags, addr))),
            Action::Listen { req, path } => {
                let r = listen(fds, path);
                if let ActionResult::Listener { fd, .. } = r {
                    self.watch_listener(fd);
                }
                Some((req, r))
            }
            Action::Unlisten { req, fd, path } => {
                let path = path.to_vec();
                self.unwatch_listener();
                self.fds.close(fd);
                let r = match sys::raw::unlink(&path) {
                    Ok(()) => ActionResult::Done,
                    Err(e) => failed(Step::Unlink, &e),
                };
                Some((req, r))
            }
            Action::Chdir { req, path } => Some((req, done_or(Step::Chdir, sys::fd::chdir(path)))),
            Action::Kill { req, pid, signal, group } => Some((req, kill(pid, i32::from(signal.number()), group))),
            Action::Spawn(spawn) => {
                let mut trouble = None;
                if spawn.notify == Some(crate::proto::NotifyMode::Socket) && self.notify.is_none() {
                    trouble = super::notify::open(&mut self.notify, &self.poll, self.notify_path.as_deref()).err();
                }
                let env = self.notify.as_ref().map(|n| &n.env[..]);
                let started = children.spawn(&spawn, fds, env, now);
                let req = spawn.req;
                if let Some(e) = trouble {
                    self.sup.log(crate::proto::LogLevel::Error, format_args!("{e}"));
                }
                if let Some((id, io)) = started.conn {
                    self.set_io(id, io);
                }
                if let Some((pid, fd)) = started.ready {
                    self.watch_ready_pipe(pid, fd);
                }
                Some((req, started.result))
            }
            Action::SpawnAborting { req } => Some((req, children.spawn_aborting())),
            Action::Close { fd } => {
                self.forget_log_fd(fd);
                self.fds.close(fd);
                None
            }
            Action::CloseConnection { conn } => {
                self.drop_io(conn);
                None
            }
            Action::LogDestination { fd } => {
                self.log_to(fd);
                None
            }
            Action::Reexec { req, args } => {
                let args = args.to_vec();
                let e = self.reexec(&args);
                Some((req, failed(Step::Exec, &e)))
            }
            Action::ExecOnExit { args } => {
                let _ = sys::signal::arm_fatal_exec(Some(args));
                None
            }
        };
        if let Some((req, r)) = result {
            self.sup.handle_result(req, r, now);
        }
        true
    }

    /// The log writes to `fd` now: watch it for writability if the poll
    /// accepts it (it refuses regular files and some devices, which are
    /// then always writable), and point the last-resort fatal handler at it.
    fn log_to(&mut self, fd: Option<FdId>) {
        if let Some((old, true)) = self.log_fd.take() {
            if let Some(raw) = self.fds.raw(old) {
                let _ = self.poll.registry().deregister(&mut SourceFd(&raw));
            }
        }
        let raw = fd.and_then(|id| self.fds.raw(id));
        sys::signal::set_fatal_log_fd(raw.unwrap_or(-1));
        if let (Some(id), Some(raw)) = (fd, raw) {
            let polled = self.poll.registry().register(&mut SourceFd(&raw), LOG, mio::Interest::WRITABLE).is_ok();
            self.sup.set_log_pollable(polled);
            self.log_fd = Some((id, polled));
        }
    }

    /// A descriptor the log may be watched on is being closed.
    fn forget_log_fd(&mut self, fd: FdId) {
        if self.log_fd.is_some_and(|(id, _)| id == fd) {
            self.log_to(None);
        }
    }
}

/// `fd.open`.
fn open(fds: &mut super::FdTable, path: &[u8], flags: OpenFlags) -> ActionResult {
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
    match sys::fd::open(path, oflags, 0o600) {
        Ok(fd) => ActionResult::Fd(fds.insert(fd)),
        Err(e) => failed(Step::Open, &e),
    }
}

/// `fd.pipe`.
fn pipe(fds: &mut super::FdTable, flags: PipeFlags) -> ActionResult {
    let pair = match flags.socket {
        None => sys::fd::pipe(flags.nonblock).map_err(|e| failed(Step::Pipe, &e)),
        Some((d, t)) => {
            sys::fd::socketpair(domain(d), sock_type(t), flags.nonblock).map_err(|e| failed(Step::Socketpair, &e))
        }
    };
    match pair {
        Ok((r, w)) => ActionResult::Pair(fds.insert(r), fds.insert(w)),
        Err(f) => f,
    }
}

/// `fd.socket`: each step's failure is reported as that step.
fn socket(fds: &mut super::FdTable, flags: SocketFlags, addr: Option<SocketAddr<'_>>) -> ActionResult {
    let fd = match sys::fd::socket(domain(flags.domain), sock_type(flags.ty), flags.nonblock) {
        Ok(fd) => fd,
        Err(e) => return failed(Step::Socket, &e),
    };
    if let Some(a) = addr {
        if let Err(e) = sys::fd::set_reuseaddr(fd.as_fd()) {
            return failed(Step::Setsockopt, &e);
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
            return failed(Step::Bind, &e);
        }
        if let Some(n) = flags.listen {
            if let Err(e) = sys::fd::listen(fd.as_fd(), i32::from(n)) {
                return failed(Step::Listen, &e);
            }
        }
    }
    ActionResult::Fd(fds.insert(fd))
}

/// The control socket: a stale socket file is replaced, anything else at
/// the path is left alone (protocol.md §3.5).
fn listen(fds: &mut super::FdTable, path: &[u8]) -> ActionResult {
    let replaced = match sys::fd::unlink_stale_socket(path) {
        Ok(sys::fd::SocketPath::Live(pid)) => return ActionResult::InUse { pid },
        Ok(r) => r == sys::fd::SocketPath::Removed,
        Err(e) => return failed(Step::Unlink, &e),
    };
    match sys::fd::unix_listener(path, 2) {
        Ok(fd) => ActionResult::Listener { fd: fds.insert(fd), replaced },
        Err(e) => failed(Step::Bind, &e),
    }
}

/// `service.signal`: to the process, or its group. `up` is reported as
/// soon as the child is forked, possibly before it has called setsid: then
/// its group does not exist yet, and the process alone is the whole
/// group-to-be (it has run none of the service's code).
fn kill(pid: i32, signal: i32, group: bool) -> ActionResult {
    let r = if group {
        match sys::fd::killpg(pid, signal) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => sys::fd::kill(pid, signal),
            r => r,
        }
    } else {
        sys::fd::kill(pid, signal)
    };
    done_or(Step::Kill, r)
}

fn done_or(step: Step, r: std::io::Result<()>) -> ActionResult {
    match r {
        Ok(()) => ActionResult::Done,
        Err(e) => failed(step, &e),
    }
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
