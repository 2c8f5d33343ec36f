//! The reactor's children: starting them as the supervisor asks, watching
//! their exec statuses, and reaping them.
//!
//! A child started with fork reports a failed exec through a close-on-exec
//! status pipe. Most execs finish within milliseconds, so the pipes are
//! not polled: they are looked at every 10 ms while any is pending, and
//! one child's pipe is always looked at before its exit is reported, so
//! that the `error` event precedes its `down` (protocol.md §5.2).

use super::conn_io::ConnIo;
use super::fds::FdTable;
use crate::ids::ConnId;
use crate::proto::{ExitReason, Limit, NotifyMode, Resource, Signal};
use crate::supervisor::{ActionResult, ChildStep, Errno, FdSource, ProcessSettings, Spawn, Step, Usage};
use crate::sys;
use crate::sys::reap::WaitStatus;
use crate::sys::spawn::{exec_status, ChildSetup, FailedStep, SpawnError, Spawned, Spawner};
use crate::time::Time;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

/// How often pending exec statuses are looked at while there are any.
const EXEC_CHECK: Duration = Duration::from_millis(10);

/// What a spawn gave: its result, and the reactor's ends of the child's
/// control connection and readiness pipe.
pub(crate) struct Started {
    pub result: ActionResult,
    pub conn: Option<(ConnId, ConnIo)>,
    pub ready: Option<(i32, OwnedFd)>,
}

impl Started {
    fn failed(result: ActionResult) -> Started {
        Started { result, conn: None, ready: None }
    }
}

/// Starts, watches and reaps children.
pub(crate) struct Children {
    spawner: Spawner,
    /// Status pipes of children whose exec has not reported yet.
    execs: Vec<(i32, OwnedFd)>,
    /// When to look at them again.
    check_at: Option<Time>,
    /// The plan in descriptor numbers (reused).
    plan: Vec<sys::spawn::FdSource>,
    /// Limits and groups in the system's terms (reused).
    rlimits: Vec<(i32, u64, u64)>,
    groups: Vec<u32>,
    /// A child's environment changes, with the notification socket's.
    env: Vec<u8>,
}

impl Children {
    /// Children get the default disposition of every signal in `reset`;
    /// with `no_alloc`, every start uses fork (posix_spawn's file-action
    /// list allocates), for the pool mode's allocation-free steady state.
    pub fn new(reset: &[i32], no_alloc: bool) -> Children {
        let spawner = Spawner::new(reset);
        let spawner = if no_alloc { spawner.always_fork() } else { spawner };
        Children {
            spawner,
            execs: Vec::new(),
            check_at: None,
            plan: Vec::new(),
            rlimits: Vec::new(),
            groups: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Starts a child as `spawn` asks. A control connection and a
    /// readiness pipe are created first; the reactor's ends are returned for
    /// it to serve. `notify_env`: the `NOTIFY_SOCKET=...` entry for a child
    /// that reports readiness on the socket.
    pub fn spawn(&mut self, spawn: &Spawn<'_>, fds: &FdTable, notify_env: Option<&[u8]>, now: Time) -> Started {
        let ready_pipe = match spawn.notify {
            Some(NotifyMode::Fd(_)) => match sys::fd::pipe(false) {
                Ok((r, w)) => {
                    let _ = sys::fd::set_nonblocking(r.as_fd(), true);
                    Some((r, w))
                }
                Err(e) => return Started::failed(failed(Step::Pipe, &e)),
            },
            _ => None,
        };
        let pair = match spawn.control {
            None => None,
            Some(link) => match sys::fd::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, false) {
                Ok((ours, theirs)) => {
                    let _ = sys::fd::set_nonblocking(ours.as_fd(), true);
                    Some((link, ours, theirs))
                }
                Err(e) => return Started::failed(failed(Step::Socketpair, &e)),
            },
        };
        self.plan.clear();
        for src in spawn.fds {
            self.plan.push(match *src {
                FdSource::Closed => sys::spawn::FdSource::Closed,
                FdSource::Fd(id) => fds.raw(id).map_or(sys::spawn::FdSource::Closed, sys::spawn::FdSource::Fd),
                FdSource::Control => match &pair {
                    Some((_, _, theirs)) => sys::spawn::FdSource::Fd(theirs.as_raw_fd()),
                    None => sys::spawn::FdSource::Closed,
                },
            });
        }
        if let (Some(NotifyMode::Fd(n)), Some((_, w))) = (spawn.notify, &ready_pipe) {
            let n = n as usize;
            if self.plan.len() <= n {
                self.plan.resize(n + 1, sys::spawn::FdSource::Closed);
            }
            self.plan[n] = sys::spawn::FdSource::Fd(w.as_raw_fd());
        }
        self.env.clear();
        self.env.extend_from_slice(spawn.process.env.raw());
        if let (Some(NotifyMode::Socket), Some(entry)) = (spawn.notify, notify_env) {
            if !self.env.is_empty() {
                self.env.push(b'\t');
            }
            self.env.extend_from_slice(entry);
        }
        let log_fd = spawn.log_to.and_then(|id| fds.raw(id));
        let mut setup = setup(&mut self.rlimits, &mut self.groups, &spawn.process);
        setup.env = &self.env;
        setup.listen_pid = spawn.listen_pid;
        let result = match self.spawner.spawn(spawn.argv, &self.plan, (spawn.batch, log_fd), &setup) {
            Ok(Spawned { pid, status }) => {
                if let Some(fd) = status {
                    self.execs.push((pid, fd));
                    self.check_at.get_or_insert(now + EXEC_CHECK);
                }
                ActionResult::Spawned { pid }
            }
            Err(SpawnError::Exec(errno, pid)) => {
                ActionResult::ChildFailed { pid, step: ChildStep::Exec, errno: Errno(errno) }
            }
            Err(SpawnError::Fork(errno)) => {
                return Started::failed(ActionResult::Failed { step: Step::Fork, errno: Errno(errno) })
            }
        };
        let conn = pair.map(|(link, ours, theirs)| {
            // One-way connections are shut down in the unused direction on
            // both ends (protocol.md §3.4): an event-only service cannot send commands,
            // a command-only one reads EOF instead of blocking.
            if !link.commands {
                let _ = sys::fd::shutdown(theirs.as_fd(), Shutdown::Write);
                let _ = sys::fd::shutdown(ours.as_fd(), Shutdown::Read);
            }
            if !link.events {
                let _ = sys::fd::shutdown(theirs.as_fd(), Shutdown::Read);
                let _ = sys::fd::shutdown(ours.as_fd(), Shutdown::Write);
            }
            (link.conn, ConnIo::socket(ours))
        });
        let ready = match result {
            ActionResult::Spawned { pid } | ActionResult::ChildFailed { pid, .. } => ready_pipe.map(|(r, _)| (pid, r)),
            _ => None,
        };
        Started { result, conn, ready }
    }

    /// Starts a child that dies of SIGABRT at once.
    pub fn spawn_aborting(&mut self) -> ActionResult {
        match self.spawner.spawn_aborting() {
            Ok(pid) => ActionResult::Spawned { pid },
            Err(errno) => ActionResult::Failed { step: Step::Fork, errno: Errno(errno) },
        }
    }

    /// When pending exec statuses must be looked at.
    pub fn deadline(&self) -> Option<Time> {
        self.check_at
    }

    /// Looks at the pending exec statuses (`only`: just this pid, at its
    /// reaping); calls `failed` for each child whose set-up failed.
    pub fn check_execs(&mut self, only: Option<i32>, now: Time, mut failed: impl FnMut(i32, ChildStep, Errno)) {
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
                    if let Err((step, errno)) = result {
                        failed(pid, child_step(step), Errno(errno));
                    }
                }
            }
        }
        if only.is_none() {
            self.check_at = (!self.execs.is_empty()).then(|| now + EXEC_CHECK);
        }
    }

    /// The children whose exec status is pending, with their status pipes
    /// (handed to the next image by `reexec`).
    pub fn pending_execs(&self) -> Vec<(i32, std::os::fd::RawFd)> {
        self.execs.iter().map(|(pid, fd)| (*pid, fd.as_raw_fd())).collect()
    }

    /// Watches a status pipe handed over by the previous image.
    pub fn adopt_exec(&mut self, pid: i32, fd: OwnedFd, now: Time) {
        self.execs.push((pid, fd));
        self.check_at.get_or_insert(now + EXEC_CHECK);
    }

    /// Whether some exec status is pending.
    pub fn execs_pending(&self) -> bool {
        !self.execs.is_empty()
    }
}

/// The process settings in the system's terms (in reused lists).
fn setup<'a>(
    rlimits: &'a mut Vec<(i32, u64, u64)>,
    groups: &'a mut Vec<u32>,
    p: &ProcessSettings<'a>,
) -> ChildSetup<'a> {
    rlimits.clear();
    rlimits.extend(p.rlimits.iter().map(|l| {
        let v = |l: Limit| match l {
            Limit::Finite(n) => n,
            Limit::Unlimited => u64::MAX,
        };
        (rlimit_number(l.resource), v(l.soft), v(l.hard))
    }));
    groups.clear();
    if let Some(u) = p.user {
        groups.extend(u.groups.iter());
    }
    ChildSetup {
        env: p.env.raw(),
        cwd: p.cwd,
        ids: p.user.map(|u| (u.uid, u.gid, &groups[..])),
        rlimits,
        umask: p.umask.map(|m| u32::from(m.bits())),
        listen_pid: false,
    }
}

/// The `RLIMIT_*` number of a resource.
fn rlimit_number(r: Resource) -> i32 {
    (match r {
        Resource::As => libc::RLIMIT_AS,
        Resource::Core => libc::RLIMIT_CORE,
        Resource::Cpu => libc::RLIMIT_CPU,
        Resource::Data => libc::RLIMIT_DATA,
        Resource::Fsize => libc::RLIMIT_FSIZE,
        Resource::Memlock => libc::RLIMIT_MEMLOCK,
        Resource::Nofile => libc::RLIMIT_NOFILE,
        Resource::Nproc => libc::RLIMIT_NPROC,
        Resource::Stack => libc::RLIMIT_STACK,
    }) as i32
}

/// A failed step as the supervisor names it.
fn child_step(step: FailedStep) -> ChildStep {
    match step {
        FailedStep::Descriptors => ChildStep::Descriptors,
        FailedStep::Rlimit(n) => {
            Resource::ALL.iter().copied().find(|&r| rlimit_number(r) == n).map_or(ChildStep::Exec, ChildStep::Rlimit)
        }
        FailedStep::Chdir => ChildStep::Chdir,
        FailedStep::Setgroups => ChildStep::Setgroups,
        FailedStep::Setgid => ChildStep::Setgid,
        FailedStep::Setuid => ChildStep::Setuid,
        FailedStep::Exec => ChildStep::Exec,
    }
}

/// Reaps one exited child without blocking, with what it used.
pub(crate) fn reap() -> Option<(i32, ExitReason, Usage)> {
    let (pid, status, ru) = sys::reap::reap_one()?;
    let how = match status {
        WaitStatus::Exited(code) => ExitReason::Exit(code),
        WaitStatus::Signaled(sig) => ExitReason::Signal(Signal::from_number(sig as u16)),
    };
    let usage = Usage {
        user: Duration::from_micros(ru.user_us),
        system: Duration::from_micros(ru.system_us),
        max_rss_kb: ru.max_rss_kb,
    };
    Some((pid, how, usage))
}

/// A failed step as a result.
pub(crate) fn failed(step: Step, e: &std::io::Error) -> ActionResult {
    ActionResult::Failed { step, errno: Errno(e.raw_os_error().unwrap_or(libc::EIO)) }
}
