//! The supervisor's children, as an interface.
//!
//! Starting and signalling processes is the one effect of the supervisor
//! that a test or a fuzzer cannot simply let happen. Behind this trait the
//! daemon uses the real thing ([`OsProcesses`]: posix_spawn and kill);
//! a simulation hands out pretend pids and reports their exits through
//! [`crate::Supervisor::handle_exit`].

use crate::sys;
use std::io;

pub use crate::sys::reap::WaitStatus;
pub use crate::sys::spawn::{exec_status, FdSource, SpawnError, Spawned};

/// Starts and signals the supervisor's children.
pub trait Processes {
    /// Starts `argv` (TAB-separated; the first field is the program, found
    /// in `PATH`) with descriptor *i* taken from `fds[i]`, in a new session,
    /// with default signal dispositions and an empty signal mask. An exec
    /// failure may be reported at once (`SpawnError::Exec`) or later,
    /// through `Spawned::status` (see [`exec_status`]). `batch`: other
    /// starts follow at once (an implementation may then favour throughput
    /// over the cost of a single start).
    fn spawn(&mut self, argv: &[u8], fds: &[FdSource], batch: bool) -> Result<Spawned, SpawnError>;

    /// Starts a child that dies of SIGABRT at once (a service whose
    /// descriptor list names a missing handle, §9.3). `Err(errno)` if no
    /// child could be created.
    fn spawn_aborting(&mut self) -> Result<i32, i32>;

    /// Sends `signal` to `pid`, or to its process group with `group`.
    fn kill(&mut self, pid: i32, signal: i32, group: bool) -> io::Result<()>;
}

/// The operating system's processes.
pub struct OsProcesses {
    spawner: sys::spawn::Spawner,
}

impl std::fmt::Debug for OsProcesses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OsProcesses")
    }
}

impl OsProcesses {
    /// Children get the default disposition of every signal the reactor
    /// handles.
    pub fn new() -> OsProcesses {
        OsProcesses { spawner: sys::spawn::Spawner::new(&crate::reactor::HANDLED_SIGNALS) }
    }

    /// Starts every child with fork, which allocates nothing (a single
    /// start otherwise uses posix_spawn, whose file-action list glibc
    /// allocates): used with pools, whose steady state must not allocate.
    pub fn without_allocation() -> OsProcesses {
        OsProcesses { spawner: sys::spawn::Spawner::new(&crate::reactor::HANDLED_SIGNALS).always_fork() }
    }
}

impl Default for OsProcesses {
    fn default() -> Self {
        OsProcesses::new()
    }
}

impl Processes for OsProcesses {
    fn spawn(&mut self, argv: &[u8], fds: &[FdSource], batch: bool) -> Result<Spawned, SpawnError> {
        self.spawner.spawn(argv, fds, batch)
    }

    fn spawn_aborting(&mut self) -> Result<i32, i32> {
        self.spawner.spawn_aborting()
    }

    fn kill(&mut self, pid: i32, signal: i32, group: bool) -> io::Result<()> {
        if !group {
            return sys::fd::kill(pid, signal);
        }
        match sys::fd::killpg(pid, signal) {
            // `up` is reported as soon as the child is forked, possibly before
            // it has called setsid: then its group does not exist yet. It has
            // run none of the service's code, so it has no descendants, and
            // the process alone is the whole group-to-be.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => sys::fd::kill(pid, signal),
            r => r,
        }
    }
}

/// Pretend processes for tests and simulations: spawning hands out
/// increasing pids (from 1000) and records them; a kill of a live pid is
/// recorded and succeeds, of any other pid fails with ESRCH. Exits are
/// reported by the caller with [`crate::Supervisor::handle_exit`] after
/// [`Simulated::exit`].
#[derive(Clone, Debug, Default)]
pub struct Simulated {
    state: std::rc::Rc<std::cell::RefCell<SimState>>,
}

/// What a [`Simulated`] has seen.
#[derive(Debug, Default)]
pub struct SimState {
    /// The next pid to hand out.
    pub next_pid: i32,
    /// Live pids and the argv each was started with.
    pub live: std::collections::BTreeMap<i32, Vec<u8>>,
    /// Every (pid, signal, group) sent.
    pub kills: Vec<(i32, i32, bool)>,
    /// How many spawns were made.
    pub spawns: usize,
    /// Make the next spawns fail as a fork failure with this errno.
    pub fail_fork: Option<i32>,
}

impl Simulated {
    /// A fresh simulation; clones share its state.
    pub fn new() -> Simulated {
        let s = Simulated::default();
        s.state.borrow_mut().next_pid = 1000;
        s
    }

    /// Inspects or changes the shared state.
    pub fn with<R>(&self, f: impl FnOnce(&mut SimState) -> R) -> R {
        f(&mut self.state.borrow_mut())
    }

    /// Marks `pid` as exited; returns whether it was live.
    pub fn exit(&self, pid: i32) -> bool {
        self.state.borrow_mut().live.remove(&pid).is_some()
    }

    fn start(&self, argv: &[u8]) -> i32 {
        let mut st = self.state.borrow_mut();
        let pid = st.next_pid;
        st.next_pid += 1;
        st.spawns += 1;
        st.live.insert(pid, argv.to_vec());
        pid
    }
}

impl Processes for Simulated {
    fn spawn(&mut self, argv: &[u8], _fds: &[FdSource], _batch: bool) -> Result<Spawned, SpawnError> {
        if let Some(errno) = self.state.borrow().fail_fork {
            return Err(SpawnError::Fork(errno));
        }
        Ok(Spawned { pid: self.start(argv), status: None })
    }

    fn spawn_aborting(&mut self) -> Result<i32, i32> {
        if let Some(errno) = self.state.borrow().fail_fork {
            return Err(errno);
        }
        Ok(self.start(b""))
    }

    fn kill(&mut self, pid: i32, signal: i32, group: bool) -> io::Result<()> {
        let mut st = self.state.borrow_mut();
        if !st.live.contains_key(&pid) {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        st.kills.push((pid, signal, group));
        Ok(())
    }
}
