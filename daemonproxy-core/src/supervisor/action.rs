//! What the supervisor asks its driver to do, and what the driver answers.
//!
//! Every effect on the operating system is an [`Action`]. Those whose
//! outcome matters carry a [`RequestId`]; the driver answers each of them
//! with exactly one [`ActionResult`] through
//! [`crate::Supervisor::handle_result`]. The others are done without an
//! answer (closing a descriptor, arming exec-on-exit).

use crate::ids::{ConnId, FdId, RequestId};
use daemonproxy_proto::{
    Domain, EnvList, NotifyMode, OpenFlags, PipeFlags, Resource, Rlimits, Signal, SockType, SocketAddr, SocketFlags,
    Umask, UserIds,
};
use std::fmt;

/// An operating-system error number (`errno`), as results carry it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Errno(pub i32);

impl Errno {
    /// The C library's text for it (`No such file or directory`), as the
    /// protocol prints system errors.
    pub fn text(self, out: &mut Vec<u8>) {
        use std::io::Write;
        let full = std::io::Error::from_raw_os_error(self.0).to_string();
        // std renders "TEXT (os error N)": keep the C library's TEXT.
        let suffix = format!(" (os error {})", self.0);
        let text = full.strip_suffix(&suffix).unwrap_or(&full);
        let _ = out.write_all(text.as_bytes());
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::new();
        self.text(&mut v);
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

/// Which step of an action failed (it decides the error text).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Step {
    /// `open`
    Open,
    /// `pipe`
    Pipe,
    /// `socketpair`
    Socketpair,
    /// `socket`
    Socket,
    /// `setsockopt`
    Setsockopt,
    /// `bind`
    Bind,
    /// `listen`
    Listen,
    /// Removing a stale control socket before binding a new one.
    Unlink,
    /// `chdir`
    Chdir,
    /// `kill` / `killpg`
    Kill,
    /// Creating the child process.
    Fork,
    /// Executing the new image (`reexec`).
    Exec,
}

/// The answer to an action with a [`RequestId`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum ActionResult {
    /// Done (chdir, kill, removing the control socket).
    Done,
    /// A new descriptor (open, socket).
    Fd(FdId),
    /// Two new descriptors: read end and write end (pipe, socketpair).
    Pair(FdId, FdId),
    /// The control socket listens on this descriptor; `replaced` tells
    /// that a stale socket file was removed first.
    Listener {
        /// The listening socket.
        fd: FdId,
        /// A stale socket file was removed at the path.
        replaced: bool,
    },
    /// The control socket's path belongs to a socket that a process
    /// listens on (another daemon, usually): left alone.
    InUse {
        /// The listener's pid, if the system tells it.
        pid: Option<i32>,
    },
    /// A child was started (spawn).
    Spawned {
        /// Its pid.
        pid: i32,
    },
    /// A child was started, but a step of its set-up (usually the exec of
    /// its program) failed: it exits with status 3 (spawn).
    ChildFailed {
        /// Its pid.
        pid: i32,
        /// The step.
        step: ChildStep,
        /// Why.
        errno: Errno,
    },
    /// The action failed at `step`.
    Failed {
        /// The step.
        step: Step,
        /// Why.
        errno: Errno,
    },
}

/// A step of a child's set-up between fork and exec.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum ChildStep {
    /// Installing its descriptors.
    Descriptors,
    /// Setting a resource limit.
    Rlimit(Resource),
    /// Changing to its working directory.
    Chdir,
    /// Setting its supplementary groups.
    Setgroups,
    /// Setting its group id.
    Setgid,
    /// Setting its user id.
    Setuid,
    /// Executing its program.
    Exec,
}

/// How a child's process is set up besides its descriptors (each unset
/// value: as the daemon's). A driver applies them in the child in this
/// order, after the descriptors: umask, resource limits, working
/// directory, supplementary groups, group id, user id; then it executes
/// the program with the environment changes (searching the `PATH` the
/// changes set, if any), and reports a failing step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ProcessSettings<'a> {
    /// Changes to the inherited environment.
    pub env: EnvList<'a>,
    /// The working directory.
    pub cwd: Option<&'a [u8]>,
    /// The credentials.
    pub user: Option<UserIds<'a>>,
    /// Resource limits.
    pub rlimits: Rlimits<'a>,
    /// The file-creation mask.
    pub umask: Option<Umask>,
}

impl ProcessSettings<'_> {
    /// Nothing changed.
    pub const NONE: ProcessSettings<'static> =
        ProcessSettings { env: EnvList::NONE, cwd: None, user: None, rlimits: Rlimits::NONE, umask: None };
}

/// Where descriptor *i* of a child comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FdSource {
    /// Left closed.
    Closed,
    /// A duplicate of this descriptor.
    Fd(FdId),
    /// The child's end of its control connection (see [`ControlLink`]).
    Control,
}

/// A control connection to create for a child (`control.cmd`,
/// `control.event`, `control.socket` in its descriptor list): a stream
/// socket pair; the driver gives the child its end at every
/// [`FdSource::Control`] slot and serves the other end as connection
/// `conn`, shutting down the directions not used.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ControlLink {
    /// The connection the driver's end becomes.
    pub conn: ConnId,
    /// The child sends commands (else: shut down that direction).
    pub commands: bool,
    /// The child receives events (else: shut down that direction).
    pub events: bool,
}

/// A child to start.
#[derive(Clone, Copy, Debug)]
pub struct Spawn<'a> {
    /// Answer with [`ActionResult::Spawned`], [`ActionResult::ChildFailed`],
    /// or `Failed` at [`Step::Socketpair`] or [`Step::Fork`] (nothing
    /// started: the supervisor retries later).
    pub req: RequestId,
    /// The TAB-separated argument list; the first field is the program,
    /// searched in `PATH` unless it contains `/`.
    pub argv: &'a [u8],
    /// Descriptor *i* of the child; every other descriptor is closed.
    pub fds: &'a [FdSource],
    /// The control connection to create, if the list names one.
    pub control: Option<ControlLink>,
    /// More spawns follow at once (a driver may favour throughput).
    pub batch: bool,
    /// Where the child logs a failed exec (`error: exec(PROG, ...) failed:
    /// ERROR`): this descriptor's *number* in the child, once its own
    /// descriptors are in place, as the original does (usually the
    /// service's descriptor 2). `None`: not logged.
    pub log_to: Option<FdId>,
    /// How its process is set up.
    pub process: ProcessSettings<'a>,
    /// How it reports readiness: `Fd(N)`, a fresh pipe whose write end it
    /// gets as descriptor N (the driver reports a line on the read end
    /// with [`crate::Supervisor::handle_ready`], then closes it); `Socket`,
    /// `NOTIFY_SOCKET` in its environment naming the driver's datagram
    /// socket (messages go to [`crate::Supervisor::handle_notify_message`]).
    pub notify: Option<NotifyMode>,
    /// Set `LISTEN_PID` to its own pid in its environment (socket
    /// activation: `LISTEN_FDS` and `LISTEN_FDNAMES` are in
    /// `process.env`).
    pub listen_pid: bool,
}

/// What a reaped process used (from `wait4`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Usage {
    /// User CPU time.
    pub user: std::time::Duration,
    /// System CPU time.
    pub system: std::time::Duration,
    /// Peak resident set size, KiB.
    pub max_rss_kb: u64,
}

/// Something the supervisor asks its driver to do.
///
/// Children are started in a new session with default signal
/// dispositions and an empty signal mask; every descriptor the driver
/// creates is close-on-exec.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Action<'a> {
    /// Open a file (`fd.open`); with `flags.mkdir`, create missing parent
    /// directories first (mode 0700, best effort). Mode 0600 with
    /// `create`. Answer `Fd` or `Failed` at [`Step::Open`].
    Open {
        /// Answer with this id.
        req: RequestId,
        /// The path.
        path: &'a [u8],
        /// The flags.
        flags: OpenFlags,
    },
    /// Create a pipe, or a socket pair (`fd.pipe`). Answer `Pair` or
    /// `Failed` at [`Step::Pipe`] / [`Step::Socketpair`].
    Pipe {
        /// Answer with this id.
        req: RequestId,
        /// Plain pipe or socket pair, blocking or not.
        flags: PipeFlags,
    },
    /// Create a socket (`fd.socket`): with an address, set SO_REUSEADDR and
    /// bind it (creating the parent directories of a unix path with
    /// `flags.mkdir`), then listen if `flags.listen`. Answer `Fd` or
    /// `Failed` at the step that failed.
    Socket {
        /// Answer with this id.
        req: RequestId,
        /// Domain, type and options.
        flags: SocketFlags,
        /// Where to bind.
        addr: Option<SocketAddr<'a>>,
    },
    /// Create the control socket at `path`: remove a stale socket file
    /// there (only a socket owned by this user; anything else fails at
    /// [`Step::Unlink`]), then a non-blocking unix stream socket bound to
    /// `path` and listening; the driver accepts its connections (see
    /// [`crate::Supervisor::open_connection`]). Answer `Listener` or `Failed`.
    Listen {
        /// Answer with this id.
        req: RequestId,
        /// The socket path.
        path: &'a [u8],
    },
    /// Stop accepting on the control socket, close it and remove its
    /// path. Answer `Done` when the path was removed, `Failed` otherwise.
    Unlisten {
        /// Answer with this id.
        req: RequestId,
        /// The listener.
        fd: FdId,
        /// Its path.
        path: &'a [u8],
    },
    /// Change the process's working directory. Answer `Done` or `Failed`.
    Chdir {
        /// Answer with this id.
        req: RequestId,
        /// The directory.
        path: &'a [u8],
    },
    /// Send a signal to a process, or to its process group. Answer `Done`
    /// or `Failed` at [`Step::Kill`].
    Kill {
        /// Answer with this id.
        req: RequestId,
        /// The process (a service leads its process group).
        pid: i32,
        /// The signal.
        signal: Signal,
        /// To the whole process group.
        group: bool,
    },
    /// Start a child.
    Spawn(Spawn<'a>),
    /// Start a child that dies of SIGABRT at once (a service whose
    /// descriptor list names a handle that does not exist, as the
    /// original's child aborts). Answer `Spawned` or `Failed` at
    /// [`Step::Fork`].
    SpawnAborting {
        /// Answer with this id.
        req: RequestId,
    },
    /// Close a descriptor (no answer).
    Close {
        /// The descriptor.
        fd: FdId,
    },
    /// A connection has ended: stop serving it and close its descriptors
    /// (no answer).
    CloseConnection {
        /// The connection.
        conn: ConnId,
    },
    /// The log now writes to this descriptor, or nowhere (no answer). A
    /// driver that reports fatal faults should log them there, and should
    /// tell whether it can report the descriptor's writability
    /// ([`crate::Supervisor::set_log_pollable`]).
    LogDestination {
        /// The descriptor, if any.
        fd: Option<FdId>,
    },
    /// Replace the daemon with a new image of itself, handing it the whole
    /// state (`reexec`): the driver writes [`crate::Supervisor::save_state`]
    /// and its own state where the new image finds it, keeps every
    /// descriptor the state names open across the exec, and executes
    /// `args` (TAB-separated program and arguments; empty: the running
    /// binary with its original arguments). Answered only if it fails:
    /// `Failed` at [`Step::Exec`], and the daemon carries on.
    Reexec {
        /// Answer with this id.
        req: RequestId,
        /// The program and its arguments (empty: the same as now).
        args: &'a [u8],
    },
    /// The exec-on-exit program changed (`terminate.exec_args`): a driver
    /// that handles fatal faults arms it (no answer). Empty: none.
    ExecOnExit {
        /// TAB-separated arguments.
        args: &'a [u8],
    },
}

/// What a received or inherited descriptor is, as the driver found out
/// (`fd.take` reports it; inherited `fd_N` handles too).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FdKind {
    /// Anything that is not a socket.
    File {
        /// Readable.
        read: bool,
        /// Writable.
        write: bool,
        /// O_APPEND.
        append: bool,
        /// O_NONBLOCK.
        nonblock: bool,
    },
    /// A socket.
    Socket {
        /// Its domain.
        domain: Domain,
        /// Its type.
        ty: SockType,
        /// O_NONBLOCK.
        nonblock: bool,
    },
}

/// How a write to a connection went.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Written {
    /// This many bytes were written.
    Bytes(usize),
    /// Nothing: the descriptor would block. Call
    /// [`crate::Supervisor::handle_writable`] when it is writable again.
    WouldBlock,
    /// The reader went away (or the write failed for good): the event
    /// direction is closed.
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_texts_are_the_c_librarys() {
        let mut v = Vec::new();
        Errno(2).text(&mut v);
        assert_eq!(v, b"No such file or directory");
        assert_eq!(Errno(99999).to_string(), "Unknown error 99999");
    }
}
