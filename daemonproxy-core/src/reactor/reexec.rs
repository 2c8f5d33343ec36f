//! Live upgrade: the daemon replaces its own image and keeps its pid, its
//! children and every descriptor it holds.
//!
//! The running image writes the supervisor's state and its own (which
//! descriptor serves which connection, the readiness socket and pipes,
//! pending exec statuses) into a memory file, clears close-on-exec on
//! exactly the descriptors the state names, and executes the new image
//! with `--restore-state FD`. The new image reads the state back
//! ([`Reactor::restore`]), adopts the descriptors, re-arms signals and
//! timers, and reaps whatever exited meanwhile in its first round. If the
//! exec fails, the running image carries on: its descriptors are
//! close-on-exec again and the issuer gets the error.

use super::conn_io::ConnIo;
use super::fds::FdTable;
use super::signals::Exclusive;
use super::{text, Reactor};
use crate::error::{Error, ErrorKind};
use crate::ids::{ConnId, FdId};
use crate::options::Options;
use crate::supervisor::state::{Reader, Writer};
use crate::supervisor::{ConnKind, Errno, Supervisor};
use crate::sys;
use crate::time::Time;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The option that tells a new image where its state is.
const RESTORE_OPTION: &str = "--restore-state";

impl Reactor {
    /// Re-executes the daemon with `args` (TAB-separated program and
    /// arguments; empty: `/proc/self/exe` with the reexec arguments of the
    /// options). Returns only if it failed.
    pub(super) fn reexec(&mut self, args: &[u8]) -> io::Error {
        let now = Time::now();
        // What is still queued goes out first (the log line announcing it).
        self.sup.force_log();
        self.write_output(now);
        let mut state = Vec::new();
        let kept = self.save_reactor_state(&mut state);
        let mut sup_state = Vec::new();
        self.sup.save_state(|_, kind| carried(kind), &mut sup_state);
        state.extend_from_slice(&sup_state);
        let memfd = match sys::fd::memfd_with(c"daemonproxy-state", &state) {
            Ok(fd) => fd,
            Err(e) => return e,
        };
        let argv = match self.reexec_argv(args, memfd.as_raw_fd()) {
            Ok(v) => v,
            Err(e) => return e,
        };
        for &fd in &kept {
            let _ = sys::fd::set_cloexec_flag(fd, false);
        }
        // The signals caught stay blocked until the new image's handlers
        // are in place: none is lost, none kills it with its default action.
        let err = io::Error::from_raw_os_error(sys::spawn::exec_replace(&argv, &[], &self.signals.caught));
        for &fd in &kept {
            if fd > 2 {
                let _ = sys::fd::set_cloexec_flag(fd, true);
            }
        }
        err
    }

    /// Writes the reactor's part of the state; returns the descriptors to
    /// keep open across the exec.
    fn save_reactor_state(&self, out: &mut Vec<u8>) -> Vec<RawFd> {
        let mut w = Writer::default();
        // (The null handle's descriptor is among the handles'.)
        let mut kept: Vec<RawFd> = self.sup.handle_fds().filter_map(|id| self.fds.raw(id)).collect();
        kept.extend(self.sup.control_socket().and_then(|(fd, _)| self.fds.raw(fd)));
        w.u32(self.null.get());
        w.u8((0..3).filter(|&n| self.fds.is_std(n)).fold(0, |m, n| m | 1 << n));
        let conns: Vec<(usize, &ConnIo)> = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.as_ref()?)))
            .filter(|(i, _)| self.sup.connection_kind(ConnId(*i)).is_some_and(carried))
            .collect();
        w.u32(conns.len() as u32);
        for (i, io) in conns {
            w.u64(i as u64);
            w.bool(io.is_socket());
            w.opt_u64(io.input.map(|f| f as u64));
            w.opt_u64(io.output.map(|f| f as u64));
            if io.is_socket() {
                kept.extend(io.input);
            }
        }
        w.bool(self.notify.is_some());
        if let Some(n) = &self.notify {
            w.u32(n.fd.as_raw_fd() as u32);
            w.bytes(&n.env);
            kept.push(n.fd.as_raw_fd());
        }
        w.u32(self.ready_pipes.len() as u32);
        for (_, (pid, fd)) in &self.ready_pipes {
            w.u32(*pid as u32);
            w.u32(fd.as_raw_fd() as u32);
            kept.push(fd.as_raw_fd());
        }
        let execs = self.children.pending_execs();
        w.u32(execs.len() as u32);
        for &(pid, fd) in &execs {
            w.u32(pid as u32);
            w.u32(fd as u32);
            kept.push(fd);
        }
        out.extend_from_slice(&(w.buf.len() as u32).to_le_bytes());
        out.extend_from_slice(&w.buf);
        kept
    }

    /// The new image's command line, TAB-separated.
    fn reexec_argv(&self, args: &[u8], state_fd: RawFd) -> io::Result<Vec<u8>> {
        let mut argv: Vec<u8> = if args.is_empty() {
            let mut v = running_binary();
            for a in &self.reexec_args {
                if a.as_bytes().contains(&b'\t') {
                    return Err(io::Error::from_raw_os_error(libc::EINVAL));
                }
                v.push(b'\t');
                v.extend_from_slice(a.as_bytes());
            }
            v
        } else {
            args.to_vec()
        };
        argv.extend_from_slice(format!("\t{RESTORE_OPTION}\t{state_fd}").as_bytes());
        Ok(argv)
    }

    /// The new image: a reactor from the state the previous one handed
    /// over on descriptor `state_fd` (given with `--restore-state`). The
    /// options give what the command line says (pools, signals to catch);
    /// everything else comes from the state. Fails with a clear error for
    /// an unreadable state or one written by another version, so the
    /// program can take its exit path.
    pub fn restore(opts: Options, state_fd: RawFd) -> Result<Reactor, Error> {
        let exclusive = Exclusive::claim()?;
        let unreadable = |e: io::Error| {
            Error::io(ErrorKind::Setup, 3, format!("reexec: cannot read the state on fd {state_fd}: {}", text(&e)), e)
        };
        let memfd = sys::fd::adopt(state_fd).map_err(unreadable)?;
        let state = sys::fd::read_all_at_start(std::os::fd::AsFd::as_fd(&memfd)).map_err(unreadable)?;
        drop(memfd);
        let bad = |what: &str| Error::new(ErrorKind::Setup, 3, format!("reexec: unusable state: {what}"));
        if state.len() < 4 {
            return Err(bad("truncated"));
        }
        let len = u32::from_le_bytes([state[0], state[1], state[2], state[3]]) as usize;
        let (ours, theirs) = state[4..].split_at_checked(len).ok_or_else(|| bad("truncated"))?;
        let (sup, carried) = Supervisor::restore(&opts, theirs)?;
        let mut r = Reader::new(ours);
        let handed = Handed::read(&mut r).map_err(|b| bad(b.0))?;
        let mut fds = FdTable::default();
        let mut lost = Vec::new();
        let mut adopt = |fds: &mut FdTable, raw: RawFd| {
            if fds.raw(FdId::new(raw as u32)).is_some() {
                // Named twice (the null handle): adopted once.
            } else if (0..3).contains(&raw) && handed.std_mask & (1 << raw) != 0 {
                fds.insert_std(raw);
            } else {
                let fd = sys::fd::adopt(raw).or_else(|_| {
                    // Not handed over (a bug): the number is held on
                    // /dev/null, so that nothing else gets it while the
                    // state names it.
                    lost.push(raw);
                    placeholder(raw)
                });
                if let Ok(fd) = fd {
                    fds.insert(fd);
                }
            }
        };
        adopt(&mut fds, handed.null as RawFd);
        let named: Vec<FdId> = sup.handle_fds().collect();
        for id in named {
            adopt(&mut fds, id.get() as RawFd);
        }
        let listener = sup.control_socket().map(|(fd, _)| fd);
        if let Some(fd) = listener {
            adopt(&mut fds, fd.get() as RawFd);
        }
        let mut reactor = Reactor::assemble(&opts, sup, fds, FdId::new(handed.null), exclusive)?;
        for raw in lost {
            reactor.sup.log(
                crate::proto::LogLevel::Error,
                format_args!("reexec: descriptor {raw} was not handed over; it refers to /dev/null now"),
            );
        }
        for id in carried {
            let handed_io = handed.conns.iter().find(|(i, ..)| *i == id.index() as u64);
            let io = match handed_io {
                Some(&(_, true, Some(fd), _)) => sys::fd::adopt(fd).ok().map(ConnIo::socket),
                Some(&(_, false, input, output)) => Some(ConnIo::borrowed(input, output)),
                _ => None,
            };
            match io {
                Some(io) => reactor.set_io(id, io),
                // Not handed over (a bug): it ends as a broken connection.
                None => reactor.sup.handle_input_error(id, Errno(libc::EBADF), Time::now()),
            }
        }
        if let Some((fd, env)) = handed.notify {
            if let Ok(fd) = sys::fd::adopt(fd) {
                reactor.notify = super::notify::watch(&reactor.poll, fd, env).ok();
            }
        }
        for (pid, fd) in handed.ready_pipes {
            if let Ok(fd) = sys::fd::adopt(fd) {
                reactor.watch_ready_pipe(pid, fd);
            }
        }
        for (pid, fd) in handed.execs {
            if let Ok(fd) = sys::fd::adopt(fd) {
                reactor.children.adopt_exec(pid, fd, Time::now());
            }
        }
        if let Some(fd) = listener {
            reactor.watch_listener(fd);
        }
        sys::signal::unblock(&reactor.signals.caught);
        reactor.read_wall_clock();
        let now = Time::now();
        reactor.sup.reexec_done(now);
        // Children that exited during the exec are reported now.
        reactor.reap(now);
        Ok(reactor)
    }
}

/// The reactor's part of a handed-over state.
struct Handed {
    null: u32,
    std_mask: u8,
    /// (id, socket, input, output)
    conns: Vec<(u64, bool, Option<RawFd>, Option<RawFd>)>,
    notify: Option<(RawFd, Vec<u8>)>,
    ready_pipes: Vec<(i32, RawFd)>,
    execs: Vec<(i32, RawFd)>,
}

impl Handed {
    fn read(r: &mut Reader<'_>) -> crate::supervisor::state::Got<Handed> {
        let null = r.u32()?;
        let std_mask = r.u8()?;
        let mut conns = Vec::new();
        for _ in 0..r.u32()? {
            let before = r.u64()?;
            let socket = r.bool()?;
            let input = r.opt_u64()?.map(|f| f as RawFd);
            let output = r.opt_u64()?.map(|f| f as RawFd);
            conns.push((before, socket, input, output));
        }
        let notify = if r.bool()? { Some((r.u32()? as RawFd, r.bytes()?.to_vec())) } else { None };
        let pairs = |r: &mut Reader<'_>| -> crate::supervisor::state::Got<Vec<(i32, RawFd)>> {
            let mut v = Vec::new();
            for _ in 0..r.u32()? {
                v.push((r.u32()? as i32, r.u32()? as RawFd));
            }
            Ok(v)
        };
        let ready_pipes = pairs(r)?;
        let execs = pairs(r)?;
        Ok(Handed { null, std_mask, conns, notify, ready_pipes, execs })
    }
}

/// Descriptor number `raw` made to refer to /dev/null, owned.
fn placeholder(raw: RawFd) -> io::Result<std::os::fd::OwnedFd> {
    let null = sys::fd::open_dev_null()?;
    if null.as_raw_fd() == raw {
        return Ok(null);
    }
    sys::fd::dup2_keep(std::os::fd::AsFd::as_fd(&null), raw)?;
    sys::fd::adopt(raw)
}

/// The running binary: its path, so that the new image has the same name
/// in `ps`, if that path still holds the same file; else
/// `/proc/self/exe` (the file was replaced or removed: a plain `reexec`
/// runs the same program again, a new version is run by naming it).
fn running_binary() -> Vec<u8> {
    use std::os::unix::fs::MetadataExt;
    let me = "/proc/self/exe";
    let same = |path: &std::path::Path| {
        let (a, b) = (std::fs::metadata(path).ok()?, std::fs::metadata(me).ok()?);
        (a.dev() == b.dev() && a.ino() == b.ino()).then_some(())
    };
    match std::fs::read_link(me) {
        Ok(path) if same(&path).is_some() && !path.as_os_str().as_bytes().contains(&b'\t') => {
            path.into_os_string().into_vec()
        }
        _ => me.as_bytes().to_vec(),
    }
}

/// Takes the first `--restore-state FD` pair (what `reexec` appends) out
/// of a command line: `None` when there is none (a normal start), else the
/// descriptor, or an error text for a missing or malformed number. What is
/// left is what the program parses, and what it passes to
/// [`Options::reexec_args`] for the next `reexec`.
pub fn take_restore_state(args: &mut Vec<OsString>) -> Option<Result<RawFd, String>> {
    let i = args.iter().position(|a| a == RESTORE_OPTION)?;
    let pair: Vec<OsString> = args.drain(i..(i + 2).min(args.len())).collect();
    let fd = pair.get(1).and_then(|v| v.to_str()).and_then(|v| v.parse::<RawFd>().ok()).filter(|&fd| fd >= 0);
    Some(fd.ok_or_else(|| format!("reexec: {RESTORE_OPTION} needs a descriptor number")))
}

/// Connections that go on in the new image: the interactive session and
/// services' connections (their processes keep running). Control-socket
/// clients are disconnected (they reconnect and resync with `statedump`);
/// config files being read and the embedding program's connections end.
fn carried(kind: ConnKind) -> bool {
    matches!(kind, ConnKind::Interactive | ConnKind::Service)
}
