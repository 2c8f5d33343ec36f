//! Starting service processes, and replacing the daemon on exit.
//!
//! Services are started with `fork` and `execve`. Everything the child needs
//! (argv, the PATH candidates execvp would try, the descriptor plan, a status
//! pipe) is prepared before the fork; the child then makes only
//! async-signal-safe system calls. A plain fork (not vfork/posix_spawn, which
//! suspend the daemon until the child's exec is done) lets the daemon go on
//! at once while the exec runs on another core: starting many services at
//! once is then bounded by the fork, not by the exec. All signals are blocked
//! around the fork, so no handler of ours runs in the child. The child:
//!
//! * resets the daemon's handled signals and SIGPIPE to the default (Rust
//!   ignores SIGPIPE, and an ignored signal would stay ignored across exec);
//! * starts a new session (protocol.md §5.2);
//! * gets exactly its descriptor plan at 0..N-1 and nothing else (see
//!   [`Spawner::spawn`]), and an empty signal mask;
//! * inherits `environ`, the current directory, umask and limits.
//!
//! A failed exec writes its errno to the close-on-exec status pipe and exits
//! with status 3, so the service goes `up` and then `down ... exit 3` as in
//! the original; the daemon reads the pipe without blocking ([`exec_status`])
//! and reports the errno before the `down` event. Errors found before the
//! fork (a NUL in argv) fork a stand-in child that exits with status 3 at
//! once ([`SpawnError::Exec`]).
//!
//! The scratch buffers of a [`Spawner`] are reused, so a steady state of spawns
//! does not allocate.

use std::ffi::{c_char, c_int};
use std::mem::{self, MaybeUninit};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use super::errno;

extern "C" {
    /// The process environment (glibc's `environ`).
    static environ: *const *mut c_char;
}

/// Where descriptor *i* of a child comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdSource {
    /// Left closed in the child.
    Closed,
    /// A duplicate of this descriptor of ours (its file status flags, such as
    /// `O_NONBLOCK`, are shared with the child, as intended).
    Fd(RawFd),
}

/// Why a spawn did not start the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// The exec failed with this errno (`ENOENT`, `EACCES`, ...); a stand-in
    /// child with this pid was started instead and exits with status 3 at once,
    /// so the service still goes `up` and then `down ... exit 3`.
    /// Also used for an argument list containing NUL (`EINVAL`) and for a
    /// descriptor plan naming a descriptor that is not open (`EBADF`).
    Exec(i32, i32),
    /// No child could be created for lack of resources (`EAGAIN`, `ENOMEM`,
    /// `EMFILE`, `ENFILE`): retry later (protocol.md §5.2).
    Fork(i32),
}

/// A started child and, while its exec is pending, the read end of its
/// status pipe: EOF once the exec succeeded (the write end is close-on-exec),
/// or the exec's errno (4 bytes, native endian) before the child exits with 3.
#[derive(Debug)]
pub struct Spawned {
    /// The child's pid.
    pub pid: i32,
    /// Non-blocking read end of the status pipe (`None` when the outcome is
    /// already known).
    pub status: Option<OwnedFd>,
}

/// A step of the child's set-up that failed, as its status pipe reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedStep {
    /// Installing the descriptor plan (`dup2`).
    Descriptors,
    /// `setrlimit` of this resource (`RLIMIT_*`).
    Rlimit(i32),
    /// `chdir`.
    Chdir,
    /// `setgroups`.
    Setgroups,
    /// `setgid`.
    Setgid,
    /// `setuid`.
    Setuid,
    /// `execve`.
    Exec,
}

impl FailedStep {
    /// The code written on the status pipe.
    fn code(self) -> u32 {
        match self {
            FailedStep::Exec => 0,
            FailedStep::Descriptors => 1,
            FailedStep::Chdir => 2,
            FailedStep::Setgroups => 3,
            FailedStep::Setgid => 4,
            FailedStep::Setuid => 5,
            FailedStep::Rlimit(r) => 0x100 + r as u32,
        }
    }

    fn from_code(code: u32) -> FailedStep {
        match code {
            1 => FailedStep::Descriptors,
            2 => FailedStep::Chdir,
            3 => FailedStep::Setgroups,
            4 => FailedStep::Setgid,
            5 => FailedStep::Setuid,
            c if c >= 0x100 => FailedStep::Rlimit((c - 0x100) as i32),
            _ => FailedStep::Exec,
        }
    }
}

/// Reads a child's status pipe without blocking: `Some(Ok(()))` exec
/// succeeded, `Some(Err((step, errno)))` a step failed, `None` not known
/// yet.
pub fn exec_status(fd: &OwnedFd) -> Option<Result<(), (FailedStep, i32)>> {
    let mut buf = [0u8; 8];
    // SAFETY: reads at most 8 bytes into a local buffer from a descriptor we
    // own.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    match n {
        0 => Some(Ok(())),
        8 => {
            let code = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let err = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
            Some(Err((FailedStep::from_code(code), err)))
        }
        n if n < 0 && matches!(errno(), libc::EAGAIN | libc::EINTR) => None,
        // A short read cannot happen for 8 bytes written at once; treat any
        // other failure as "exec did not report an error".
        _ => Some(Ok(())),
    }
}

/// How a child's process is set up besides its descriptors. Everything is
/// optional; the default is what the daemon has.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ChildSetup<'a> {
    /// Changes to the inherited environment: TAB-separated `VAR=VALUE`
    /// (set) and `-VAR` (remove) entries, already validated.
    pub env: &'a [u8],
    /// The working directory.
    pub cwd: Option<&'a [u8]>,
    /// User id, group id and the supplementary groups.
    pub ids: Option<(u32, u32, &'a [u32])>,
    /// `(RLIMIT_*, soft, hard)` limits (`u64::MAX`: unlimited).
    pub rlimits: &'a [(i32, u64, u64)],
    /// The file-creation mask.
    pub umask: Option<u32>,
    /// Set `LISTEN_PID` to the child's own pid (socket activation).
    pub listen_pid: bool,
}

impl ChildSetup<'_> {
    /// Nothing to do besides the descriptors.
    fn is_plain(&self) -> bool {
        self.env.is_empty()
            && self.cwd.is_none()
            && self.ids.is_none()
            && self.rlimits.is_empty()
            && self.umask.is_none()
            && !self.listen_pid
    }
}

/// `LISTEN_PID=` and room for any pid's digits, patched in the child.
const LISTEN_PID: &[u8] = b"LISTEN_PID=0000000000";

/// Reusable state for starting services: the signals to reset and scratch
/// buffers for argv, the exec candidates and the descriptor plan, so that a
/// steady state of spawns does not allocate.
pub(crate) struct Spawner {
    /// posix_spawn attributes for the vfork path: initialised once in
    /// `new`, destroyed in `Drop`; boxed so its address never changes.
    attr: Box<libc::posix_spawnattr_t>,
    /// Signals reset to the default disposition in the child.
    reset: Vec<c_int>,
    /// Never use the vfork path, which allocates (glibc's file-action
    /// list): for the pool mode's promise of a non-allocating steady state.
    always_fork: bool,
    /// The argument fields, each NUL-terminated.
    args: Vec<u8>,
    /// Pointers into `args`, NULL-terminated; rebuilt by every spawn.
    argp: Vec<*mut c_char>,
    /// Candidate program paths (the PATH search of execvp, done before the
    /// fork), each NUL-terminated.
    paths: Vec<u8>,
    /// Pointers into `paths`.
    pathp: Vec<*const c_char>,
    /// Sources below N moved out of the way: (original, temporary ≥ N).
    temps: Vec<(RawFd, OwnedFd)>,
    /// Resolved source per slot, -1 for closed.
    plan: Vec<RawFd>,
    /// The C library's text of every errno up to `ERRNO_TEXTS`, built at
    /// the first spawn: a failed exec logs it from the child, where
    /// `strerror` is not safe to call.
    errno_texts: Vec<u8>,
    /// Where each text ends in `errno_texts`.
    errno_ends: Vec<u32>,
    /// A child's own environment (when it has changes): NUL-terminated
    /// `VAR=VALUE` strings and pointers to them, NULL-terminated.
    env: Vec<u8>,
    envp: Vec<*const c_char>,
    /// The working directory, NUL-terminated.
    cwd: Vec<u8>,
    /// Supplementary groups.
    groups: Vec<libc::gid_t>,
    /// Resource limits.
    rlimits: Vec<(c_int, libc::rlimit)>,
    /// Where in `env` the child writes its pid (after `LISTEN_PID=`).
    listen_pid_at: Option<usize>,
}

/// Pointers to each NUL-terminated string packed in `buf`, for the C
/// arrays (argv, envp, exec candidates) built before a fork. Pointers to
/// data the callee only reads are `*mut` because execve's prototype says so.
fn strings_in(buf: &[u8]) -> impl Iterator<Item = *mut c_char> + '_ {
    let base = buf.as_ptr();
    let mut start = 0;
    buf.iter().enumerate().filter(|(_, &b)| b == 0).map(move |(end, _)| {
        // `start` is an index into `buf`, so the pointer stays in bounds
        // (wrapping_add needs no unsafe).
        let string = base.wrapping_add(start).cast_mut().cast();
        start = end + 1;
        string
    })
}

/// Errno values whose texts are prepared (Linux uses fewer than 140).
const ERRNO_TEXTS: i32 = 140;

// SAFETY: the raw pointers in `argp`/`pathp` are scratch: rebuilt from
// `args`/`paths` at the start of every spawn and never dereferenced outside
// it, so the Spawner can move between threads.
unsafe impl Send for Spawner {}

impl Spawner {
    /// Prepares spawning. `reset_signals`: the signals whose disposition the
    /// child resets to the default (the daemon's handled signals; SIGPIPE is
    /// always added, since Rust programs ignore it).
    pub(crate) fn new(reset_signals: &[i32]) -> Spawner {
        let mut reset: Vec<c_int> = reset_signals.to_vec();
        reset.push(libc::SIGPIPE);
        Spawner {
            attr: spawn_attr(&reset),
            reset,
            always_fork: false,
            args: Vec::new(),
            argp: Vec::new(),
            paths: Vec::new(),
            pathp: Vec::new(),
            temps: Vec::new(),
            plan: Vec::new(),
            errno_texts: Vec::new(),
            errno_ends: Vec::new(),
            env: Vec::new(),
            envp: Vec::new(),
            cwd: Vec::new(),
            groups: Vec::new(),
            rlimits: Vec::new(),
            listen_pid_at: None,
        }
    }

    /// Starts a service.
    ///
    /// `argv`: the TAB-separated argument list; the first field is the program
    /// (searched in `PATH` unless it contains `/`, as execvp does) and also
    /// `argv[0]`. An empty list is one empty program name (`ENOENT`). A NUL
    /// byte anywhere gives `SpawnError::Exec(EINVAL, ..)`.
    ///
    /// `fds`: entry *i* becomes descriptor *i* of the child; `Closed` entries
    /// and every number ≥ N are closed. Sources numbered below N are first
    /// duplicated (close-on-exec) to temporaries ≥ N in the parent, so no
    /// `dup2` in the child can clobber a source.
    ///
    /// The child is forked (not vforked): the daemon goes on at once and the
    /// exec runs in parallel, which is what makes many starts at once fast.
    /// Between fork and exec the child makes only async-signal-safe system
    /// calls on data prepared here: reset the handled signals, `setsid`,
    /// `dup2` the plan, close everything else, clear the signal mask, try
    /// each exec candidate, and on failure write the errno to the status pipe
    /// and `_exit(3)`.
    ///
    /// `batch`: more starts follow at once. A single start uses
    /// `posix_spawnp` (vfork: no page tables copied, the cheapest way to
    /// run one program, though the daemon waits for its exec); a batch uses
    /// `fork`, so the daemon does not wait and the execs run in parallel.
    ///
    /// `log_fd`: a failed exec writes `error: exec(PROG, ...) failed:
    /// ERROR` to this descriptor *number* in the child, after the plan is
    /// in place (the original logs through its log descriptor's number,
    /// which by then usually is the service's own descriptor 2).
    ///
    /// `setup`: the process settings, applied in the child in this order
    /// after the descriptors: umask, resource limits, working directory,
    /// groups, group id, user id; then the program is executed with the
    /// environment changes (its `PATH` is searched if it sets one). A
    /// failing step is reported on the status pipe ([`exec_status`]).
    pub(crate) fn spawn(
        &mut self,
        argv: &[u8],
        fds: &[FdSource],
        (batch, log_fd): (bool, Option<RawFd>),
        setup: &ChildSetup<'_>,
    ) -> Result<Spawned, SpawnError> {
        if argv.contains(&0) {
            return Err(stand_in(libc::EINVAL));
        }
        self.build_argv(argv);
        if self.errno_ends.is_empty() {
            self.build_errno_texts();
        }
        self.prepare_setup(setup);
        let plain = setup.is_plain();
        let result = match self.resolve_plan(fds) {
            Err(e) => Err(e),
            Ok(n) if batch || self.always_fork || !plain => self.fork_exec(argv, n, log_fd, setup),
            // A failed exec is logged by the child, which posix_spawn does
            // not let us run: start it again with fork to report it.
            Ok(n) => match self.vfork_exec() {
                Err(SpawnError::Exec(..)) => self.fork_exec(argv, n, log_fd, setup),
                r => r,
            },
        };
        // Close the temporaries (the child has its copies).
        self.temps.clear();
        result
    }

    /// Uses only the fork path (which allocates nothing).
    pub(crate) fn always_fork(mut self) -> Spawner {
        self.always_fork = true;
        self
    }

    /// Resolves the descriptor plan into `self.plan`, moving sources below
    /// N to temporaries ≥ N; returns N.
    fn resolve_plan(&mut self, fds: &[FdSource]) -> Result<c_int, SpawnError> {
        let n = c_int::try_from(fds.len()).map_err(|_| stand_in(libc::EINVAL))?;
        self.temps.clear();
        self.plan.clear();
        for src in fds {
            let resolved = match *src {
                FdSource::Closed => -1,
                FdSource::Fd(fd) if fd < 0 => return Err(stand_in(libc::EBADF)),
                FdSource::Fd(fd) if fd < n => match self.temps.iter().find(|(orig, _)| *orig == fd) {
                    Some((_, tmp)) => tmp.as_raw_fd(),
                    None => {
                        let tmp = dup_above(fd, n).map_err(fork_or_stand_in)?;
                        let raw = tmp.as_raw_fd();
                        self.temps.push((fd, tmp));
                        raw
                    }
                },
                FdSource::Fd(fd) => fd,
            };
            self.plan.push(resolved);
        }
        Ok(n)
    }

    /// The vfork path: posix_spawnp with the plan as file actions. glibc
    /// reports a failed exec synchronously and leaves no child, so a
    /// stand-in child exits with status 3 in its place.
    fn vfork_exec(&mut self) -> Result<Spawned, SpawnError> {
        let open_end = self.plan.iter().rposition(|&s| s >= 0).map_or(0, |i| i + 1);
        let spawn = || -> Result<i32, i32> {
            let mut actions = FileActions::new()?;
            for (slot, &src) in self.plan.iter().enumerate() {
                let slot = slot as c_int;
                if src >= 0 {
                    actions.dup2(src, slot)?;
                } else if (slot as usize) < open_end && is_open(slot) {
                    // A closed slot below the last open one, open in the
                    // daemon: close it (later slots are covered by closefrom).
                    actions.close(slot)?;
                }
            }
            actions.closefrom(open_end as c_int)?;
            let mut pid: libc::pid_t = 0;
            // SAFETY: `argp` is a NULL-terminated array of pointers to
            // NUL-terminated strings in `args` (built by `spawn`, unchanged
            // until the call returns); `actions` and `attr` are initialised;
            // `environ` is glibc's environment (not modified concurrently:
            // std::env::set_var is unsafe for this reason).
            let rc = unsafe {
                libc::posix_spawnp(&mut pid, self.argp[0], actions.as_ptr(), &*self.attr, self.argp.as_ptr(), environ)
            };
            if rc == 0 {
                Ok(pid)
            } else {
                Err(rc)
            }
        };
        match spawn() {
            Ok(pid) => Ok(Spawned { pid, status: None }),
            Err(e) if is_fork_errno(e) => Err(SpawnError::Fork(e)),
            // No child is left: the caller forks again to report it.
            Err(e) => Err(SpawnError::Exec(e, 0)),
        }
    }

    /// The fork path: see the module documentation.
    fn fork_exec(
        &mut self,
        argv: &[u8],
        n: c_int,
        log_fd: Option<RawFd>,
        setup: &ChildSetup<'_>,
    ) -> Result<Spawned, SpawnError> {
        let path: &[u8] = match env_change(setup.env, b"PATH") {
            Some(p) => p,
            None => env_path(),
        };
        self.build_candidates(argv.split(|&b| b == b'\t').next().unwrap_or(b""), path);
        // The status pipe's write end must survive the plan: put it above N.
        let (status_r, status_w0) = pipe_cloexec_nonblock().map_err(SpawnError::Fork)?;
        let status_w = dup_above(status_w0.as_raw_fd(), n.max(3)).map_err(SpawnError::Fork)?;
        drop(status_w0);
        let envp = if self.envp.is_empty() || (setup.env.is_empty() && !setup.listen_pid) {
            // SAFETY: reading the `environ` pointer itself (see `environ`).
            unsafe { environ }
        } else {
            self.envp.as_ptr().cast()
        };
        let child = Child {
            reset: &self.reset,
            plan: &self.plan,
            argp: self.argp.as_ptr(),
            pathp: &self.pathp,
            status_fd: status_w.as_raw_fd(),
            log_fd: log_fd.unwrap_or(-1),
            prog: argv.split(|&b| b == b'\t').next().unwrap_or(b""),
            errno_texts: &self.errno_texts,
            errno_ends: &self.errno_ends,
            umask: setup.umask.map(|m| m as libc::mode_t),
            rlimits: &self.rlimits,
            cwd: setup.cwd.map(|_| self.cwd.as_ptr().cast::<c_char>()),
            ids: setup.ids.map(|(uid, gid, _)| (uid, gid)),
            groups: &self.groups,
            envp,
            // The pointer is written through only in the child, in its own
            // copy of the buffer.
            listen_pid: self.listen_pid_at.map(|at| self.env.as_mut_ptr().wrapping_add(at)),
        };
        let all = sigset_full();
        let mut old = sigset_empty();
        // SAFETY: valid sigsets; only the calling thread's mask changes, so no
        // handler of ours can run in the child before it resets them.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) };
        // SAFETY: the child runs only `Child::exec`, which makes
        // async-signal-safe system calls on memory prepared above (copied by
        // fork) and never returns; so it cannot touch locks held by other
        // threads of the parent.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            child.exec();
        }
        let err = errno();
        // SAFETY: restores the mask saved above.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
        drop(status_w);
        if pid < 0 {
            return Err(SpawnError::Fork(err));
        }
        Ok(Spawned { pid, status: Some(status_r) })
    }

    /// Prepares what `setup` needs in the child (so the child only makes
    /// system calls): the environment, the directory, groups and limits.
    fn prepare_setup(&mut self, setup: &ChildSetup<'_>) {
        self.cwd.clear();
        if let Some(dir) = setup.cwd {
            self.cwd.extend_from_slice(dir);
            self.cwd.push(0);
        }
        self.groups.clear();
        if let Some((_, _, groups)) = setup.ids {
            self.groups.extend(groups.iter().map(|&g| g as libc::gid_t));
        }
        self.rlimits.clear();
        self.rlimits.extend(setup.rlimits.iter().map(|&(res, soft, hard)| {
            let lim = |v: u64| if v == u64::MAX { libc::RLIM_INFINITY } else { v as libc::rlim_t };
            (res, libc::rlimit { rlim_cur: lim(soft), rlim_max: lim(hard) })
        }));
        self.listen_pid_at = None;
        if !setup.env.is_empty() || setup.listen_pid {
            self.build_env(setup.env, setup.listen_pid);
        }
    }

    /// The inherited environment with `changes` applied (and a
    /// `LISTEN_PID` entry for the child to fill in).
    fn build_env(&mut self, changes: &[u8], listen_pid: bool) {
        self.env.clear();
        // SAFETY: `environ` is glibc's NULL-terminated array of
        // NUL-terminated strings, not modified concurrently (see `environ`);
        // the entries are copied.
        unsafe {
            let mut p = environ;
            while !p.is_null() && !(*p).is_null() {
                let entry = std::ffi::CStr::from_ptr(*p).to_bytes();
                let var = entry.split(|&b| b == b'=').next().unwrap_or(entry);
                let ours = listen_pid && var == b"LISTEN_PID";
                if env_change(changes, var).is_none() && !env_removed(changes, var) && !ours {
                    self.env.extend_from_slice(entry);
                    self.env.push(0);
                }
                p = p.add(1);
            }
        }
        for entry in changes.split(|&b| b == b'\t') {
            if !entry.starts_with(b"-") && !entry.is_empty() {
                self.env.extend_from_slice(entry);
                self.env.push(0);
            }
        }
        if listen_pid {
            self.env.extend_from_slice(LISTEN_PID);
            self.listen_pid_at = Some(self.env.len() - (LISTEN_PID.len() - b"LISTEN_PID=".len()));
            self.env.push(0);
        }
        self.envp.clear();
        self.envp.extend(strings_in(&self.env).map(<*mut c_char>::cast_const));
        self.envp.push(ptr::null());
    }

    /// Prepares the errno texts the child may log.
    fn build_errno_texts(&mut self) {
        for e in 0..ERRNO_TEXTS {
            super::errno_text(e, &mut self.errno_texts);
            self.errno_ends.push(self.errno_texts.len() as u32);
        }
    }

    /// Fills `args`/`argp` from the TAB-separated list.
    fn build_argv(&mut self, argv: &[u8]) {
        self.args.clear();
        for field in argv.split(|&b| b == b'\t') {
            self.args.extend_from_slice(field);
            self.args.push(0);
        }
        self.argp.clear();
        self.argp.extend(strings_in(&self.args));
        self.argp.push(ptr::null_mut());
    }

    /// Fills `paths`/`pathp` with the programs execvp would try: `prog`
    /// itself if it contains `/`, else `DIR/prog` for each directory of
    /// `PATH` (default `/bin:/usr/bin`; an empty entry is the current
    /// directory). Nothing for an empty name.
    fn build_candidates(&mut self, prog: &[u8], path: &[u8]) {
        self.paths.clear();
        if prog.contains(&b'/') {
            self.paths.extend_from_slice(prog);
            self.paths.push(0);
        } else if !prog.is_empty() {
            for dir in path.split(|&b| b == b':') {
                if dir.is_empty() {
                    self.paths.extend_from_slice(b".");
                } else {
                    self.paths.extend_from_slice(dir);
                }
                self.paths.push(b'/');
                self.paths.extend_from_slice(prog);
                self.paths.push(0);
            }
        }
        self.pathp.clear();
        self.pathp.extend(strings_in(&self.paths).map(<*mut c_char>::cast_const));
    }

    /// Starts a child that dies of SIGABRT at once: the service's descriptor
    /// list names a handle that does not exist, and the original's child calls
    /// `abort()` then (protocol.md §5.2 step 2). The child starts a new session,
    /// sets RLIMIT_CORE to 0 (a deliberate abort is not worth a core dump), resets
    /// SIGABRT to the default, unblocks it and sends it to itself. Returns the
    /// pid, or the errno of a failed fork.
    pub(crate) fn spawn_aborting(&mut self) -> Result<i32, i32> {
        fork_blocked(child_abort)
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // SAFETY: `attr` was initialised in `new` and is destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut *self.attr) };
    }
}

/// Errors worth a retry (protocol.md §5.2) rather than an exit-3 stand-in:
/// resource exhaustion. posix_spawnp returns one errno for every phase, so
/// the phase cannot be told apart; these are what clone, the parent-side
/// preparation (duplicating sources, glibc's allocations) and the stack
/// mapping fail with. An exec failing the same way (`ENOMEM`, `EMFILE`,
/// `ENFILE` while opening the program) is then retried too, which suits a
/// transient shortage.
fn is_fork_errno(e: i32) -> bool {
    matches!(e, libc::EAGAIN | libc::ENOMEM | libc::EMFILE | libc::ENFILE)
}

/// The posix_spawn attributes of the vfork path: new session, empty
/// signal mask, default dispositions for `reset`.
fn spawn_attr(reset_signals: &[c_int]) -> Box<libc::posix_spawnattr_t> {
    let mut attr = Box::new(MaybeUninit::<libc::posix_spawnattr_t>::uninit());
    // SAFETY: posix_spawnattr_init initialises the attribute object it is
    // given (glibc: it only fills in plain fields and cannot fail).
    let rc = unsafe { libc::posix_spawnattr_init(attr.as_mut_ptr()) };
    assert_eq!(rc, 0, "posix_spawnattr_init");
    // SAFETY: initialised just above; MaybeUninit<T> has T's layout.
    let mut attr: Box<libc::posix_spawnattr_t> = unsafe { Box::from_raw(Box::into_raw(attr).cast()) };
    let empty = sigset_empty();
    let mut reset = sigset_empty();
    for &sig in reset_signals {
        // SAFETY: `reset` is an initialised sigset; invalid numbers only
        // make sigaddset fail with EINVAL.
        unsafe { libc::sigaddset(&mut reset, sig) };
    }
    let flags = libc::POSIX_SPAWN_SETSID
        | libc::POSIX_SPAWN_SETSIGMASK as libc::c_short
        | libc::POSIX_SPAWN_SETSIGDEF as libc::c_short;
    // SAFETY: `attr` is initialised and the sets are valid sigsets; these
    // setters only copy their arguments (they fail only for unknown flags).
    unsafe {
        let rc = libc::posix_spawnattr_setflags(&mut *attr, flags);
        assert_eq!(rc, 0, "posix_spawnattr_setflags");
        libc::posix_spawnattr_setsigmask(&mut *attr, &empty);
        libc::posix_spawnattr_setsigdefault(&mut *attr, &reset);
    }
    attr
}

/// The value `changes` sets for `var` (the last setting wins).
fn env_change<'a>(changes: &'a [u8], var: &[u8]) -> Option<&'a [u8]> {
    changes.split(|&b| b == b'\t').rev().find_map(|e| e.strip_prefix(var)?.strip_prefix(b"="))
}

/// Whether `changes` removes `var`.
fn env_removed(changes: &[u8], var: &[u8]) -> bool {
    changes.split(|&b| b == b'\t').any(|e| e.strip_prefix(b"-") == Some(var))
}

/// `PATH` from the environment (borrowed from `environ`), or the default.
fn env_path() -> &'static [u8] {
    // SAFETY: getenv returns NULL or a pointer into the environment, which
    // stays valid as long as nobody modifies the environment concurrently
    // (the same contract as `environ` below; std::env::set_var is unsafe for
    // this reason). The bytes are copied into our buffer before any change
    // the daemon itself could make.
    unsafe {
        let p = libc::getenv(c"PATH".as_ptr());
        if p.is_null() {
            b"/bin:/usr/bin"
        } else {
            std::ffi::CStr::from_ptr(p).to_bytes()
        }
    }
}

/// What the forked child needs, prepared by the parent.
struct Child<'a> {
    reset: &'a [c_int],
    plan: &'a [RawFd],
    argp: *const *mut c_char,
    pathp: &'a [*const c_char],
    status_fd: RawFd,
    /// Where a failed exec is logged (-1: nowhere).
    log_fd: RawFd,
    /// The program, as given (`argv[0]`).
    prog: &'a [u8],
    errno_texts: &'a [u8],
    errno_ends: &'a [u32],
    umask: Option<libc::mode_t>,
    rlimits: &'a [(c_int, libc::rlimit)],
    /// The working directory, NUL-terminated.
    cwd: Option<*const c_char>,
    ids: Option<(u32, u32)>,
    groups: &'a [libc::gid_t],
    envp: *const *mut c_char,
    /// Where to write the child's pid in its `LISTEN_PID` entry.
    listen_pid: Option<*mut u8>,
}

impl Child<'_> {
    /// Runs in the forked child: async-signal-safe system calls only, on
    /// memory prepared before the fork; never returns.
    fn exec(&self) -> ! {
        // SAFETY: every call below is an async-signal-safe system call (or a
        // glibc wrapper of one) taking pointers to data that the parent
        // prepared before the fork and that this child owns a copy of;
        // nothing allocates or takes a lock.
        unsafe {
            let mut dfl: libc::sigaction = mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            for &sig in self.reset {
                libc::sigaction(sig, &dfl, ptr::null_mut());
            }
            libc::setsid();
            let n = self.plan.len() as c_int;
            for (slot, &src) in self.plan.iter().enumerate() {
                let slot = slot as c_int;
                if src >= 0 {
                    if libc::dup2(src, slot) < 0 {
                        self.fail(FailedStep::Descriptors, errno());
                    }
                } else {
                    libc::close(slot);
                }
            }
            close_range(n, self.status_fd - 1);
            close_range(self.status_fd + 1, c_int::MAX);
            self.apply_settings();
            let empty = sigset_empty();
            libc::sigprocmask(libc::SIG_SETMASK, &empty, ptr::null_mut());
            let mut err = libc::ENOENT;
            let mut denied = false;
            for &path in self.pathp {
                libc::execve(path, self.argp.cast(), self.envp.cast());
                err = errno();
                match err {
                    libc::EACCES => denied = true,
                    libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                    _ => break,
                }
            }
            if denied && matches!(err, libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT) {
                err = libc::EACCES;
            }
            self.log_exec_failure(err);
            self.fail(FailedStep::Exec, err)
        }
    }

    /// The process settings, in order; a failure ends the child.
    fn apply_settings(&self) {
        if let Some(at) = self.listen_pid {
            // SAFETY: getpid is async-signal-safe; `at` points at the ten
            // bytes reserved after `LISTEN_PID=` in this child's own copy
            // of the environment buffer, followed by its NUL.
            unsafe { write_decimal(at, libc::getpid()) };
        }
        // SAFETY: async-signal-safe system calls on values and pointers the
        // parent prepared before the fork (this child's own copies).
        unsafe {
            if let Some(mask) = self.umask {
                libc::umask(mask);
            }
            for (res, lim) in self.rlimits {
                if libc::setrlimit(*res as _, lim) != 0 {
                    self.fail(FailedStep::Rlimit(*res), errno());
                }
            }
            if let Some(dir) = self.cwd {
                if libc::chdir(dir) != 0 {
                    self.fail(FailedStep::Chdir, errno());
                }
            }
            if let Some((uid, gid)) = self.ids {
                if libc::setgroups(self.groups.len(), self.groups.as_ptr()) != 0 {
                    self.fail(FailedStep::Setgroups, errno());
                }
                if libc::setgid(gid) != 0 {
                    self.fail(FailedStep::Setgid, errno());
                }
                if libc::setuid(uid) != 0 {
                    self.fail(FailedStep::Setuid, errno());
                }
            }
        }
    }

    /// Writes `error: exec(PROG, ...) failed: ERROR` to the log descriptor
    /// number, formatted on the stack from texts prepared before the fork.
    fn log_exec_failure(&self, err: c_int) {
        if self.log_fd < 0 {
            return;
        }
        let mut buf = [0u8; 1400];
        let mut n = 0;
        let mut put = |bytes: &[u8]| {
            let k = bytes.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&bytes[..k]);
            n += k;
        };
        put(b"error: exec(");
        put(self.prog);
        put(b", ...) failed: ");
        match usize::try_from(err).ok().filter(|&e| e > 0 && e < self.errno_ends.len()) {
            Some(e) => put(&self.errno_texts[self.errno_ends[e - 1] as usize..self.errno_ends[e] as usize]),
            None => {
                put(b"Unknown error ");
                let mut digits = [0u8; 12];
                let mut i = digits.len();
                let mut v = i64::from(err).unsigned_abs();
                loop {
                    i -= 1;
                    digits[i] = b'0' + (v % 10) as u8;
                    v /= 10;
                    if v == 0 {
                        break;
                    }
                }
                if err < 0 {
                    put(b"-");
                }
                put(&digits[i..]);
            }
        }
        if self.prog.contains(&b' ') {
            put(b" (");
            put(daemonproxy_proto::TAB_HINT.as_bytes());
            put(b")");
        }
        put(b"\n");
        // SAFETY: write is async-signal-safe; `buf` is a local buffer of at
        // least `n` bytes.
        unsafe { libc::write(self.log_fd, buf.as_ptr().cast(), n) };
    }

    /// Reports the failed step on the status pipe and exits with status 3.
    fn fail(&self, step: FailedStep, err: c_int) -> ! {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&step.code().to_ne_bytes());
        bytes[4..].copy_from_slice(&err.to_ne_bytes());
        // SAFETY: write and _exit are async-signal-safe; `bytes` is local.
        unsafe {
            libc::write(self.status_fd, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(3)
        }
    }
}

/// Writes `v` in decimal at `at`, NUL-terminated, in at most 11 bytes.
///
/// # Safety
/// `at` must be valid for 11 bytes of writing.
unsafe fn write_decimal(at: *mut u8, v: i32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut v = v.max(0) as u32;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let n = digits.len() - i;
    // SAFETY: within the 11 bytes the caller guarantees.
    unsafe {
        std::ptr::copy_nonoverlapping(digits[i..].as_ptr(), at, n);
        *at.add(n) = 0;
    }
}

/// Closes descriptors `from..=to` (nothing if `from > to`).
///
/// # Safety
/// Only for a forked child about to exec: it closes descriptors without
/// regard to their owners.
unsafe fn close_range(from: c_int, to: c_int) {
    if from > to || from < 0 {
        return;
    }
    // SAFETY: close_range takes no pointers; see the function's contract.
    let r = unsafe { libc::syscall(libc::SYS_close_range, from as libc::c_uint, to as libc::c_uint, 0) };
    if r < 0 {
        // Kernels before 5.9: close what the original closed, up to 1023.
        for fd in from..=to.min(1023) {
            // SAFETY: as above.
            unsafe { libc::close(fd) };
        }
    }
}

/// Whether descriptor `fd` is open in this process.
fn is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD takes no pointer argument.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Owns a `posix_spawn_file_actions_t` for one spawn.
struct FileActions(Box<libc::posix_spawn_file_actions_t>);

impl FileActions {
    fn new() -> Result<FileActions, i32> {
        let mut fa = Box::new(MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit());
        // SAFETY: init initialises the object it is given.
        let rc = unsafe { libc::posix_spawn_file_actions_init(fa.as_mut_ptr()) };
        if rc != 0 {
            return Err(rc);
        }
        // SAFETY: initialised just above; MaybeUninit<T> has T's layout.
        Ok(FileActions(unsafe { Box::from_raw(Box::into_raw(fa).cast()) }))
    }

    fn as_ptr(&self) -> *const libc::posix_spawn_file_actions_t {
        &*self.0
    }

    fn dup2(&mut self, src: c_int, target: c_int) -> Result<(), i32> {
        // SAFETY: the object is initialised; the call records two ints.
        rc(unsafe { libc::posix_spawn_file_actions_adddup2(&mut *self.0, src, target) })
    }

    fn close(&mut self, fd: c_int) -> Result<(), i32> {
        // SAFETY: as above.
        rc(unsafe { libc::posix_spawn_file_actions_addclose(&mut *self.0, fd) })
    }

    fn closefrom(&mut self, from: c_int) -> Result<(), i32> {
        // SAFETY: as above (glibc ≥ 2.34).
        rc(unsafe { libc::posix_spawn_file_actions_addclosefrom_np(&mut *self.0, from) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut *self.0) };
    }
}

fn rc(code: c_int) -> Result<(), i32> {
    if code == 0 {
        Ok(())
    } else {
        Err(code)
    }
}

/// A close-on-exec, non-blocking pipe; `Err(errno)`.
fn pipe_cloexec_nonblock() -> Result<(OwnedFd, OwnedFd), i32> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe2 fills the two-element array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } < 0 {
        return Err(errno());
    }
    // SAFETY: both descriptors were just created for us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A close-on-exec duplicate of `fd` numbered at least `min`; `Err(errno)`.
fn dup_above(fd: RawFd, min: c_int) -> Result<OwnedFd, i32> {
    // SAFETY: F_DUPFD_CLOEXEC creates a new descriptor ≥ min, which we own.
    let tmp = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if tmp < 0 {
        return Err(errno());
    }
    // SAFETY: `tmp` was just created for us.
    Ok(unsafe { OwnedFd::from_raw_fd(tmp) })
}

/// A failure to duplicate a source: resource exhaustion is worth a retry,
/// anything else (a closed source, EBADF) is reported like an exec failure.
fn fork_or_stand_in(e: i32) -> SpawnError {
    if matches!(e, libc::EMFILE | libc::ENFILE | libc::ENOMEM) {
        SpawnError::Fork(e)
    } else {
        stand_in(e)
    }
}

/// Reports an exec failure through a stand-in child exiting with status 3.
fn stand_in(exec_errno: i32) -> SpawnError {
    match fork_blocked(child_exit3) {
        Ok(pid) => SpawnError::Exec(exec_errno, pid),
        Err(e) => SpawnError::Fork(e),
    }
}

/// Body of the stand-in child: only async-signal-safe system calls.
fn child_exit3() {
    // SAFETY: setsid and _exit are async-signal-safe and take no pointers.
    unsafe {
        libc::setsid();
        libc::_exit(3);
    }
}

/// Body of the aborting child: only async-signal-safe system calls.
fn child_abort() {
    // SAFETY: every call here is async-signal-safe; the structures passed are
    // local, initialised values.
    unsafe {
        libc::setsid();
        let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        let mut dfl: libc::sigaction = mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGABRT, &dfl, ptr::null_mut());
        let mut abrt = sigset_empty();
        libc::sigaddset(&mut abrt, libc::SIGABRT);
        libc::sigprocmask(libc::SIG_UNBLOCK, &abrt, ptr::null_mut());
        libc::kill(libc::getpid(), libc::SIGABRT);
        libc::abort();
    }
}

/// Forks a child that runs `child` (which must make only async-signal-safe
/// calls and not return; `_exit(127)` follows if it does). Every signal is
/// blocked in the calling thread around the fork, so no handler of the
/// parent's can run in the child. Returns the pid or the errno of fork.
fn fork_blocked(child: fn()) -> Result<i32, i32> {
    let all = sigset_full();
    let mut old = sigset_empty();
    // SAFETY: valid sigsets; only the calling thread's mask changes.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old) };
    // SAFETY: the child only runs `child`, which by contract makes only
    // async-signal-safe calls, then `_exit`s; it never returns into Rust code
    // that could touch locks held by other threads.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        child();
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(127) };
    }
    let err = errno();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
    if pid < 0 {
        Err(err)
    } else {
        Ok(pid)
    }
}

/// An empty signal set.
pub(super) fn sigset_empty() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        set.assume_init()
    }
}

/// A full signal set.
pub(super) fn sigset_full() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises the set it is given.
    unsafe {
        libc::sigfillset(set.as_mut_ptr());
        set.assume_init()
    }
}

/// Replaces the whole process with the exec-on-exit program (protocol.md
/// §8.5, §8.6); called only from the CLI's exit path. Returns the errno of
/// the failure; on success it does not return.
///
/// `argv` is the TAB-separated list (first field = program, searched in
/// `PATH`, and `argv[0]`). The environment is the current `environ` with each
/// `extra_env` variable added or overriding (the daemon's own environment is
/// not modified, so a failed exec leaves nothing behind, unlike the original).
/// Everything is built first; then every catchable signal that is not ignored
/// (and SIGPIPE in any case, which Rust ignores) is reset to the default and
/// the signal mask is cleared, and `execvpe` runs. If it fails, the previous
/// dispositions and mask are restored before returning. Descriptors that are
/// not close-on-exec (and only those) pass to the new program.
///
/// `EINVAL` without any change if an argument or value contains NUL, or a
/// variable name is empty or contains `=` or NUL.
///
/// `keep_blocked`: signals the new program starts with blocked (a daemon's
/// next image, which unblocks them once its handlers are in place, so that
/// none arriving during the exec is lost or kills it).
pub(crate) fn exec_replace(argv: &[u8], extra_env: &[(&[u8], &[u8])], keep_blocked: &[i32]) -> i32 {
    if argv.contains(&0)
        || extra_env.iter().any(|(k, v)| k.is_empty() || k.contains(&b'=') || k.contains(&0) || v.contains(&0))
    {
        return libc::EINVAL;
    }
    // argv
    let mut args = Vec::with_capacity(argv.len() + 1);
    for field in argv.split(|&b| b == b'\t') {
        args.extend_from_slice(field);
        args.push(0);
    }
    let mut argp: Vec<*const c_char> = strings_in(&args).map(<*mut c_char>::cast_const).collect();
    argp.push(ptr::null());

    // environment: current entries not overridden, then the extras
    let mut extras = Vec::new();
    for (k, v) in extra_env {
        extras.extend_from_slice(k);
        extras.push(b'=');
        extras.extend_from_slice(v);
        extras.push(0);
    }
    let mut envp: Vec<*const c_char> = Vec::new();
    // SAFETY: `environ` is glibc's NULL-terminated array of NUL-terminated
    // strings; it must not be modified concurrently (std::env::set_var is
    // unsafe for this reason). Pointers are only read.
    unsafe {
        let mut p = environ;
        while !p.is_null() && !(*p).is_null() {
            let entry = std::ffi::CStr::from_ptr(*p).to_bytes();
            let name = entry.split(|&b| b == b'=').next().unwrap_or(entry);
            if !extra_env.iter().any(|(k, _)| *k == name) {
                envp.push((*p).cast_const());
            }
            p = p.add(1);
        }
    }
    envp.extend(strings_in(&extras).map(<*mut c_char>::cast_const));
    envp.push(ptr::null());

    // signals: block everything while dispositions change
    let all = sigset_full();
    let empty = sigset_empty();
    let mut old_mask = sigset_empty();
    // SAFETY: valid sigsets; only the calling thread's mask changes.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old_mask) };
    let max_sig = libc::SIGRTMAX();
    // (signal, previous action) for every disposition changed
    let mut saved: Vec<(c_int, libc::sigaction)> = Vec::with_capacity(max_sig as usize);
    for sig in 1..=max_sig {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: sigaction is plain old data; all-zero is valid.
        let mut old: libc::sigaction = unsafe { mem::zeroed() };
        // SAFETY: querying with a null new action only writes `old`.
        // glibc-internal signals (32, 33) fail with EINVAL and are skipped.
        if unsafe { libc::sigaction(sig, ptr::null(), &mut old) } != 0 {
            continue;
        }
        if old.sa_sigaction == libc::SIG_DFL || (old.sa_sigaction == libc::SIG_IGN && sig != libc::SIGPIPE) {
            continue;
        }
        // SAFETY: as above; SIG_DFL with no flags is always valid.
        let mut dfl: libc::sigaction = unsafe { mem::zeroed() };
        dfl.sa_sigaction = libc::SIG_DFL;
        // SAFETY: valid action structures.
        if unsafe { libc::sigaction(sig, &dfl, ptr::null_mut()) } == 0 {
            saved.push((sig, old));
        }
    }
    let mut start_mask = empty;
    for &sig in keep_blocked {
        // SAFETY: a valid, initialised sigset; invalid numbers are refused.
        unsafe { libc::sigaddset(&mut start_mask, sig) };
    }
    // SAFETY: valid sigset; the new program starts with this mask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &start_mask, ptr::null_mut()) };
    // SAFETY: `argp` and `envp` are NULL-terminated arrays of pointers to
    // NUL-terminated strings kept alive by `args`, `extras` and `environ`.
    unsafe { libc::execvpe(argp[0], argp.as_ptr(), envp.as_ptr()) };
    let err = errno();
    // Failed: put everything back.
    // SAFETY: valid sigsets and the actions saved above.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, ptr::null_mut());
        for (sig, old) in &saved {
            libc::sigaction(*sig, old, ptr::null_mut());
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, ptr::null_mut());
    }
    err
}

#[cfg(test)]
mod tests {
    use super::super::fd;
    use super::super::reap::WaitStatus;
    use super::*;
    use std::collections::BTreeMap;
    use std::os::fd::AsFd;

    fn wait(pid: i32) -> WaitStatus {
        loop {
            let mut status = 0;
            // SAFETY: valid pointer; waits for a child of this test.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid {
                return WaitStatus::from_raw(status).expect("exit status");
            }
            assert_eq!(errno(), libc::EINTR, "waitpid({pid})");
        }
    }

    fn read_all(fd: &OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match fd::read(fd.as_fd(), &mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Spawns `argv` with a plan built by `plan(out_write_end)`, returns the
    /// child's pid, its output (through the write end the plan placed), and
    /// how it ended.
    fn run(sp: &mut Spawner, argv: &[u8], plan: impl FnOnce(RawFd) -> Vec<FdSource>) -> (i32, Vec<u8>, WaitStatus) {
        let (out_r, out_w) = fd::pipe(false).unwrap();
        let plan = plan(out_w.as_raw_fd());
        let pid =
            sp.spawn(argv, &plan, (true, None), &ChildSetup::default()).unwrap_or_else(|e| panic!("spawn: {e:?}")).pid;
        drop(out_w);
        let out = read_all(&out_r);
        (pid, out, wait(pid))
    }

    /// The errno and pid of a failed exec, reported at once or through the
    /// status pipe (read after the child exited, so it is complete).
    fn exec_failure(r: Result<Spawned, SpawnError>) -> (i32, i32) {
        match r {
            Err(SpawnError::Exec(e, pid)) => (e, pid),
            Ok(Spawned { pid, status: Some(fd) }) => {
                // Wait for the report without reaping (the caller reaps).
                let mut fds = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut fds, 1, 10_000) };
                match exec_status(&fd) {
                    Some(Err((_, e))) => (e, pid),
                    other => panic!("expected an exec failure, got {other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }

    fn sh(script: &str) -> Vec<u8> {
        format!("/bin/sh\t-c\t{script}").into_bytes()
    }

    /// Prints "N dev:ino" for every descriptor open in the shell.
    const LIST_FDS: &str =
        r#"for f in /proc/$$/fd/*; do if [ -e "$f" ]; then stat -L -c "${f##*/} %d:%i" "$f"; fi; done; exit 0"#;

    fn identity(fd: RawFd) -> String {
        // SAFETY: plain old data; all-zero is valid.
        let mut st: libc::stat = unsafe { mem::zeroed() };
        // SAFETY: `st` is a valid, writable stat buffer.
        assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0);
        format!("{}:{}", st.st_dev, st.st_ino)
    }

    fn parse_fds(out: &[u8]) -> BTreeMap<i32, String> {
        String::from_utf8_lossy(out)
            .lines()
            .map(|l| {
                let (n, id) = l.split_once(' ').expect(l);
                (n.parse().expect(l), id.to_string())
            })
            .collect()
    }

    #[test]
    fn child_gets_exactly_its_descriptor_plan() {
        let mut sp = Spawner::new(&[libc::SIGHUP, libc::SIGTERM]);
        let null = fd::open_dev_null().unwrap();
        // An inheritable descriptor far above the plan must not leak.
        // SAFETY: F_DUPFD creates a descriptor this test owns and closes.
        let high = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD, 1500) };
        assert!(high >= 1500);
        let (p_r, p_w) = fd::pipe(false).unwrap();
        let (q_r, q_w) = fd::pipe(true).unwrap();
        let (a, b) = (p_w.as_raw_fd(), q_w.as_raw_fd());
        let mut expected = BTreeMap::new();
        let (_pid, out, status) = run(&mut sp, &sh(LIST_FDS), |out| {
            assert!(a > 2 && b > 2 && out > 2);
            let n = a.max(b).max(out) as usize + 2;
            // Swapped sources whose numbers are targets of each other, the
            // output pipe possibly colliding too, and closed slots 0 and 2
            // (open and inheritable in this process).
            let mut plan = vec![FdSource::Closed; n];
            plan[1] = FdSource::Fd(out);
            plan[a as usize] = FdSource::Fd(b);
            plan[b as usize] = FdSource::Fd(a);
            expected.insert(1, identity(out));
            expected.insert(a, identity(b));
            expected.insert(b, identity(a));
            plan
        });
        assert_eq!(status, WaitStatus::Exited(0));
        assert_eq!(parse_fds(&out), expected, "{}", String::from_utf8_lossy(&out));
        // Sources and temporaries are still fine (or closed) in the parent.
        assert_eq!(fd::write(p_w.as_fd(), b"x").unwrap(), 1);
        assert!(matches!(fd::describe(q_w.as_fd()).unwrap(), fd::FdDescription::File { nonblock: true, .. }));
        // SAFETY: closes the descriptor created above.
        unsafe { libc::close(high) };
        drop((p_r, q_r));
    }

    #[test]
    fn empty_plan_leaves_no_descriptors_and_duplicates_are_fine() {
        let mut sp = Spawner::new(&[]);
        // No descriptors at all: the exit status tells.
        let none = sh(r#"for f in /proc/$$/fd/*; do [ -e "$f" ] && exit 1; done; exit 0"#);
        let pid = sp.spawn(&none, &[], (true, None), &ChildSetup::default()).unwrap().pid;
        assert_eq!(wait(pid), WaitStatus::Exited(0));
        // Many slots (more than the original's arrays allowed), the same
        // source several times, a trailing closed slot.
        let null = fd::open_dev_null().unwrap();
        let (_pid, out, status) = run(&mut sp, &sh(LIST_FDS), |out| {
            let mut plan = vec![FdSource::Fd(null.as_raw_fd()); 7];
            plan[1] = FdSource::Fd(out);
            plan.push(FdSource::Closed);
            plan
        });
        assert_eq!(status, WaitStatus::Exited(0));
        let got = parse_fds(&out);
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(got[&0], identity(null.as_raw_fd()));
        assert_eq!(got[&6], identity(null.as_raw_fd()));
    }

    #[test]
    fn child_has_new_session_empty_mask_default_sigpipe() {
        let mut sp = Spawner::new(&[libc::SIGUSR1]);
        // Block a signal in this thread: the child must not inherit the mask.
        let mut block = sigset_empty();
        let mut old = sigset_empty();
        // SAFETY: valid sigsets; only this thread's mask changes.
        unsafe {
            libc::sigaddset(&mut block, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
        }
        let script = r#"read pid comm state ppid pgrp sid rest < /proc/$$/stat; echo "$pid $pgrp $sid"; while read k v; do case $k in SigBlk:|SigIgn:) echo "$k $v";; esac; done < /proc/$$/status"#;
        let result = run(&mut sp, &sh(script), |out| vec![FdSource::Closed, FdSource::Fd(out)]);
        // SAFETY: restores this thread's mask.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut()) };
        let (pid, out, status) = result;
        assert_eq!(status, WaitStatus::Exited(0));
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), format!("{pid} {pid} {pid}"), "{text}");
        let blk = lines.next().unwrap();
        assert_eq!(blk, "SigBlk: 0000000000000000", "{text}");
        let ign = lines.next().unwrap().strip_prefix("SigIgn: ").unwrap();
        let ign = u64::from_str_radix(ign, 16).unwrap();
        assert_eq!(ign & (1 << (libc::SIGPIPE - 1)), 0, "{text}");
    }

    #[test]
    fn arguments_are_split_on_tabs_and_searched_in_path() {
        let mut sp = Spawner::new(&[]);
        let (_pid, out, status) =
            run(&mut sp, b"printf\t[%s]\ta\t\tb c\t\xff", |out| vec![FdSource::Closed, FdSource::Fd(out)]);
        assert_eq!(status, WaitStatus::Exited(0));
        assert_eq!(out, b"[a][][b c][\xff]");
    }

    #[test]
    fn exec_failures_report_errno_and_a_stand_in_exiting_3() {
        let mut sp = Spawner::new(&[]);
        let cases: [(&[u8], i32); 5] = [
            (b"/no/such/program", libc::ENOENT),
            (b"daemonproxy-test-no-such-program\targ", libc::ENOENT),
            (b"/", libc::EACCES),
            (b"", libc::ENOENT),
            (b"/bin/true\ta\0b", libc::EINVAL),
        ];
        for batch in [false, true] {
            for (argv, want) in cases {
                let (e, pid) = exec_failure(sp.spawn(argv, &[FdSource::Closed], (batch, None), &ChildSetup::default()));
                assert_eq!(e, want, "{} (batch {batch})", String::from_utf8_lossy(argv));
                assert!(pid > 0);
                assert_eq!(wait(pid), WaitStatus::Exited(3));
            }
        }
        // A plan naming a descriptor that is not open (the highest number
        // the limit allows, which nothing in this test process uses).
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: `lim` is a valid, writable rlimit.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        let unused = (lim.rlim_cur.min(1 << 20) - 1) as RawFd;
        // SAFETY: F_GETFD takes no pointer.
        assert_eq!(unsafe { libc::fcntl(unused, libc::F_GETFD) }, -1);
        let (e, pid) =
            exec_failure(sp.spawn(b"/bin/true", &[FdSource::Fd(unused)], (true, None), &ChildSetup::default()));
        assert_eq!(e, libc::EBADF);
        assert_eq!(wait(pid), WaitStatus::Exited(3));
        // And a normal spawn still works afterwards.
        let pid = sp.spawn(b"/bin/sh\t-c\texit 5", &[], (true, None), &ChildSetup::default()).unwrap().pid;
        assert_eq!(wait(pid), WaitStatus::Exited(5));
    }

    #[test]
    fn a_failed_exec_is_logged_to_the_log_descriptor_number_of_the_child() {
        let mut sp = Spawner::new(&[]);
        for batch in [false, true] {
            let (r, w) = fd::pipe(false).unwrap();
            // The log is descriptor 2: in the child that is its own fd 2,
            // here the pipe.
            let plan = [FdSource::Closed, FdSource::Closed, FdSource::Fd(w.as_raw_fd())];
            let (e, pid) =
                exec_failure(sp.spawn(b"/no/such/prog\targ", &plan, (batch, Some(2)), &ChildSetup::default()));
            drop(w);
            assert_eq!(e, libc::ENOENT);
            assert_eq!(wait(pid), WaitStatus::Exited(3));
            assert_eq!(
                String::from_utf8(read_all(&r)).unwrap(),
                "error: exec(/no/such/prog, ...) failed: No such file or directory\n",
                "batch {batch}"
            );
        }
        // A log number above the plan is closed in the child: nothing.
        let (r, w) = fd::pipe(false).unwrap();
        let raw = w.as_raw_fd();
        let (_, pid) =
            exec_failure(sp.spawn(b"/no/such/prog", &[FdSource::Closed], (true, Some(raw)), &ChildSetup::default()));
        drop(w);
        assert_eq!(wait(pid), WaitStatus::Exited(3));
        assert!(read_all(&r).is_empty());
    }

    #[test]
    fn process_settings_are_applied_in_the_child_and_failures_name_the_step() {
        let mut sp = Spawner::new(&[]);
        let dir = std::env::temp_dir();
        let dir_bytes = std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()).to_vec();
        let rlimits = [(libc::RLIMIT_NOFILE as i32, 77, 88)];
        let setup = ChildSetup {
            env: b"DP_TEST_SET=yes\t-HOME\tDP_TEST_EMPTY=",
            cwd: Some(&dir_bytes),
            ids: None,
            rlimits: &rlimits,
            umask: Some(0o027),
            listen_pid: true,
        };
        let script = sh(
            r#"echo "$DP_TEST_SET|${HOME-unset}|${DP_TEST_EMPTY-unset}|$(pwd)|$(ulimit -n)|$(ulimit -Hn)|$(umask)|$LISTEN_PID|$$""#,
        );
        let (out_r, out_w) = fd::pipe(false).unwrap();
        let plan = [FdSource::Closed, FdSource::Fd(out_w.as_raw_fd())];
        let pid = sp.spawn(&script, &plan, (false, None), &setup).unwrap().pid;
        drop(out_w);
        let out = String::from_utf8(read_all(&out_r)).unwrap();
        assert_eq!(wait(pid), WaitStatus::Exited(0), "{out}");
        let want = format!("yes|unset||{}|77|88|0027|{pid}|{pid}\n", dir.display());
        assert_eq!(out, want, "LISTEN_PID is the child's own pid");

        // Each failing step is reported as itself.
        let missing = ChildSetup { cwd: Some(b"/no/such/dir"), ..ChildSetup::default() };
        let r = sp.spawn(b"/bin/true", &[], (false, None), &missing);
        let Ok(Spawned { pid, status: Some(status) }) = r else { panic!("{r:?}") };
        assert_eq!(wait(pid), WaitStatus::Exited(3));
        assert_eq!(exec_status(&status), Some(Err((FailedStep::Chdir, libc::ENOENT))));
        let over = [(libc::RLIMIT_NOFILE as i32, 10, u64::MAX - 1)];
        let raise = ChildSetup { rlimits: &over, ..ChildSetup::default() };
        // Raising a hard limit needs privilege: only checked when it fails.
        if let Ok(Spawned { pid, status: Some(status) }) = sp.spawn(b"/bin/true", &[], (false, None), &raise) {
            let code = wait(pid);
            if code == WaitStatus::Exited(3) {
                assert_eq!(
                    exec_status(&status),
                    Some(Err((FailedStep::Rlimit(libc::RLIMIT_NOFILE as i32), libc::EPERM)))
                );
            }
        }
    }

    #[test]
    fn aborting_child_dies_of_sigabrt() {
        let mut sp = Spawner::new(&[]);
        let pid = sp.spawn_aborting().unwrap();
        assert_eq!(wait(pid), WaitStatus::Signaled(libc::SIGABRT));
    }

    extern "C" fn noop_handler(_: c_int) {}

    #[test]
    fn exec_replace_resets_signals_and_sets_environment() {
        let (out_r, out_w) = fd::pipe(false).unwrap();
        let out_raw = out_w.as_raw_fd();
        // SAFETY: the child runs exec_replace (glibc's malloc is fork-safe)
        // and plain system calls, and always ends in exec or _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = std::panic::catch_unwind(|| {
                // SAFETY: plain system calls on local, valid structures.
                unsafe {
                    libc::dup2(out_raw, 1);
                    let mut usr1 = sigset_empty();
                    libc::sigaddset(&mut usr1, libc::SIGUSR1);
                    libc::pthread_sigmask(libc::SIG_BLOCK, &usr1, ptr::null_mut());
                    let mut act: libc::sigaction = mem::zeroed();
                    act.sa_sigaction = noop_handler as extern "C" fn(c_int) as usize;
                    libc::sigaction(libc::SIGUSR2, &act, ptr::null_mut());
                    // A failing exec changes nothing.
                    if exec_replace(b"/no/such/exit/program", &[(b"X", b"y")], &[]) != libc::ENOENT {
                        return 20;
                    }
                    let mut now: libc::sigaction = mem::zeroed();
                    libc::sigaction(libc::SIGUSR2, ptr::null(), &mut now);
                    if now.sa_sigaction != act.sa_sigaction {
                        return 21;
                    }
                    let mut mask = sigset_empty();
                    libc::pthread_sigmask(libc::SIG_SETMASK, ptr::null(), &mut mask);
                    if libc::sigismember(&mask, libc::SIGUSR1) != 1 {
                        return 22;
                    }
                    if exec_replace(b"a\0", &[], &[]) != libc::EINVAL {
                        return 23;
                    }
                    let script = sh(r#"echo "$DAEMONPROXY_EXITCODE|$DAEMONPROXY_ERROR|$PATH"; while read k v; do case $k in SigBlk:|SigCgt:) echo "$k $v";; esac; done < /proc/$$/status"#);
                    exec_replace(
                        &script,
                        &[(b"DAEMONPROXY_EXITCODE", b"0"), (b"DAEMONPROXY_ERROR", b"terminated normally")],
                        &[],
                    );
                    24
                }
            })
            .unwrap_or(99);
            // SAFETY: leaves the forked child without unwinding into the harness.
            unsafe { libc::_exit(code) };
        }
        drop(out_w);
        let out = read_all(&out_r);
        assert_eq!(wait(pid), WaitStatus::Exited(0), "{}", String::from_utf8_lossy(&out));
        let text = String::from_utf8(out).unwrap();
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(text.lines().next().unwrap(), format!("0|terminated normally|{path}"));
        assert!(text.contains("SigBlk: 0000000000000000"), "{text}");
        let cgt = text.lines().find_map(|l| l.strip_prefix("SigCgt: ")).unwrap();
        let cgt = u64::from_str_radix(cgt, 16).unwrap();
        assert_eq!(cgt & (1 << (libc::SIGUSR2 - 1)), 0, "{text}");
    }
}
