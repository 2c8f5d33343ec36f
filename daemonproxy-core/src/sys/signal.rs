//! The two signal handlers that cannot be left to signal-hook.
//!
//! * [`FatalSignals`]: SIGABRT, SIGFPE, SIGILL, SIGSEGV, SIGBUS and SIGTRAP
//!   (signal-hook refuses some of them). A fatal signal *sent by another
//!   process* (`kill -ILL`) is recorded and the reactor is woken through a
//!   descriptor, so the fatal path of protocol.md §8.5 (exec-on-exit, guard,
//!   logging) runs in normal context. A *genuine fault* (or an abort from
//!   inside the process) cannot continue: the handler runs the last resort,
//!   pre-built so that it neither allocates nor locks: exec the exec-on-exit
//!   program armed with [`arm_fatal_exec`], or log
//!   `fatal: Received signal SIGSEGV (11)` to the descriptor set with
//!   [`set_fatal_log_fd`] and `_exit(4)`.
//! * [`WriteTimeout`]: a SIGALRM handler installed *without* `SA_RESTART` and
//!   a per-thread one-shot timer, so a blocking write to the log descriptor is
//!   interrupted with `EINTR` after 1/16 s instead of hanging (protocol.md §7.3).
//!   signal-hook always sets `SA_RESTART`, so SIGALRM must not be registered
//!   with it while a `WriteTimeout` exists.
//!
//! Both are guards: dropping them restores the previous dispositions.

use std::ffi::{c_char, c_int, c_void};
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use super::spawn::{sigset_empty, sigset_full};
use super::{cvt, errno, os_error, set_errno};

extern "C" {
    /// The process environment (glibc's `environ`).
    static environ: *const *mut c_char;
}

/// The signals [`FatalSignals`] handles.
pub(crate) const FATAL_SIGNALS: [i32; 6] =
    [libc::SIGABRT, libc::SIGFPE, libc::SIGILL, libc::SIGSEGV, libc::SIGBUS, libc::SIGTRAP];

// The texts below spell the numbers out; make sure they are this platform's.
const _: () = assert!(
    libc::SIGABRT == 6
        && libc::SIGFPE == 8
        && libc::SIGILL == 4
        && libc::SIGSEGV == 11
        && libc::SIGBUS == 7
        && libc::SIGTRAP == 5
);

/// Pre-formatted texts of one fatal signal, usable from a signal handler.
struct FatalText {
    /// The log line, LF included.
    log: &'static [u8],
    /// `DAEMONPROXY_ERROR=...`, NUL-terminated.
    env: &'static [u8],
}

macro_rules! fatal_text {
    ($name:literal, $num:literal) => {
        FatalText {
            log: concat!("fatal: Received signal ", $name, " (", $num, ")\n").as_bytes(),
            env: concat!("DAEMONPROXY_ERROR=Received signal ", $name, " (", $num, ")\0").as_bytes(),
        }
    };
}

/// Texts in the order of [`FATAL_SIGNALS`].
static FATAL_TEXTS: [FatalText; 6] = [
    fatal_text!("SIGABRT", "6"),
    fatal_text!("SIGFPE", "8"),
    fatal_text!("SIGILL", "4"),
    fatal_text!("SIGSEGV", "11"),
    fatal_text!("SIGBUS", "7"),
    fatal_text!("SIGTRAP", "5"),
];

/// `DAEMONPROXY_EXITCODE` of the fatal-signal exec (status 4).
const EXITCODE_ENV: &[u8] = b"DAEMONPROXY_EXITCODE=4\0";

/// Where the handler writes one byte per deferred fatal signal (-1: none).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Where the last resort logs (-1: nowhere). Defaults to stderr.
static LOG_FD: AtomicI32 = AtomicI32::new(2);
/// The last fatal signal sent by another process, 0 when none is pending.
static PENDING: AtomicI32 = AtomicI32::new(0);
/// Whether a `FatalSignals` guard exists.
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The armed exec-on-exit program, or null.
static FATAL_EXEC: AtomicPtr<FatalExec> = AtomicPtr::new(ptr::null_mut());
/// Number of handlers that entered the last resort (they never return).
static FAULTING: AtomicUsize = AtomicUsize::new(0);

/// Everything the last resort needs to exec, built in advance.
struct FatalExec {
    /// NUL-terminated strings the pointers below point into; never modified
    /// after construction.
    _strings: Vec<u8>,
    /// NULL-terminated argv.
    argv: Vec<*const c_char>,
    /// NULL-terminated environment, one per entry of [`FATAL_SIGNALS`].
    envp: [Vec<*const c_char>; 6],
}

impl FatalExec {
    fn build(argv: &[u8]) -> io::Result<FatalExec> {
        if argv.contains(&0) {
            return Err(os_error(libc::EINVAL));
        }
        let mut strings = Vec::new();
        for field in argv.split(|&b| b == b'\t') {
            strings.extend_from_slice(field);
            strings.push(0);
        }
        let argc = argv.split(|&b| b == b'\t').count();
        // SAFETY: `environ` is glibc's NULL-terminated array of NUL-terminated
        // strings; it must not be modified concurrently (std::env::set_var is
        // unsafe for this reason). The entries are copied.
        unsafe {
            let mut p = environ;
            while !p.is_null() && !(*p).is_null() {
                let entry = std::ffi::CStr::from_ptr(*p).to_bytes_with_nul();
                if !entry.starts_with(b"DAEMONPROXY_EXITCODE=") && !entry.starts_with(b"DAEMONPROXY_ERROR=") {
                    strings.extend_from_slice(entry);
                }
                p = p.add(1);
            }
        }
        // `strings` is complete: take pointers now.
        let mut ptrs = Vec::new();
        let mut start = 0;
        for (i, &b) in strings.iter().enumerate() {
            if b == 0 {
                ptrs.push(strings.as_ptr().wrapping_add(start).cast::<c_char>());
                start = i + 1;
            }
        }
        let mut argv_ptrs = ptrs[..argc].to_vec();
        argv_ptrs.push(ptr::null());
        let envp = std::array::from_fn(|i| {
            let mut env = ptrs[argc..].to_vec();
            env.push(EXITCODE_ENV.as_ptr().cast());
            env.push(FATAL_TEXTS[i].env.as_ptr().cast());
            env.push(ptr::null());
            env
        });
        Ok(FatalExec { _strings: strings, argv: argv_ptrs, envp })
    }
}

/// Arms (`Some(argv)`, TAB-separated, first field the program searched in
/// `PATH`) or disarms (`None` or an empty list) the program a genuine fault
/// execs (with `DAEMONPROXY_EXITCODE=4` and
/// `DAEMONPROXY_ERROR=Received signal SIGxxx (N)` added to a snapshot of the
/// current environment). Call it whenever exec-on-exit changes. `EINVAL` if
/// `argv` contains NUL.
pub(crate) fn arm_fatal_exec(argv: Option<&[u8]>) -> io::Result<()> {
    let new = match argv {
        Some(a) if !a.is_empty() => Box::into_raw(Box::new(FatalExec::build(a)?)),
        _ => ptr::null_mut(),
    };
    let old = FATAL_EXEC.swap(new, SeqCst);
    // A handler increments FAULTING before loading FATAL_EXEC: if none has,
    // none can see `old` any more (all operations are SeqCst). Otherwise the
    // process is dying anyway and `old` is leaked.
    if !old.is_null() && FAULTING.load(SeqCst) == 0 {
        // SAFETY: `old` came from Box::into_raw above and no handler can use
        // it (see the comment above).
        drop(unsafe { Box::from_raw(old) });
    }
    Ok(())
}

/// Sets the descriptor the last resort writes `fatal: ...` to (the daemon's
/// log destination; -1 for none). Defaults to 2.
pub(crate) fn set_fatal_log_fd(fd: RawFd) {
    LOG_FD.store(fd, SeqCst);
}

/// Unblocks `signals` in the calling thread (a daemon's new image, once
/// its handlers are in place: see `exec_replace`'s `keep_blocked`).
pub(crate) fn unblock(signals: &[i32]) {
    let mut set = sigset_empty();
    for &sig in signals {
        // SAFETY: a valid, initialised sigset; invalid numbers are refused.
        unsafe { libc::sigaddset(&mut set, sig) };
    }
    // SAFETY: a valid sigset; only the calling thread's mask changes.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, ptr::null_mut()) };
}

/// Guard of the fatal-signal handlers (at most one exists at a time).
pub(crate) struct FatalSignals {
    /// The dispositions replaced, in the order of [`FATAL_SIGNALS`].
    old: [libc::sigaction; 6],
}

impl FatalSignals {
    /// Installs the handler for the six fatal signals (`SA_SIGINFO |
    /// SA_ONSTACK | SA_RESTART`). `wake_fd` is a non-blocking descriptor the
    /// reactor polls (the write end of a pipe, or an eventfd — the handler
    /// writes one byte, so an eventfd needs 8: use a pipe): one byte is
    /// written to it per fatal signal sent by another process. Then call
    /// [`FatalSignals::take_pending`].
    ///
    /// A signal counts as *sent by another process* when its `si_code` is
    /// not positive (`SI_USER`, `SI_TKILL`, `SI_QUEUE`) and its sender is not
    /// this process. Anything else (a fault, or `abort()`/`raise` from inside
    /// the process) runs the last resort (module docs).
    ///
    /// Fails with `EBUSY` if a guard already exists.
    pub(crate) fn install(wake_fd: RawFd) -> io::Result<FatalSignals> {
        if INSTALLED.swap(true, SeqCst) {
            return Err(os_error(libc::EBUSY));
        }
        WAKE_FD.store(wake_fd, SeqCst);
        PENDING.store(0, SeqCst);
        // SAFETY: sigaction is plain old data; all-zero is valid.
        let mut act: libc::sigaction = unsafe { mem::zeroed() };
        act.sa_sigaction = fatal_handler as extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
        act.sa_mask = sigset_empty();
        // SAFETY: as above.
        let mut old: [libc::sigaction; 6] = unsafe { mem::zeroed() };
        for (i, &sig) in FATAL_SIGNALS.iter().enumerate() {
            // SAFETY: `act` and `old[i]` are valid sigaction structures; the
            // handler is async-signal-safe (see fatal_handler).
            if let Err(e) = cvt(unsafe { libc::sigaction(sig, &act, &mut old[i]) }) {
                for (j, &done) in FATAL_SIGNALS[..i].iter().enumerate() {
                    // SAFETY: restores what was saved above.
                    unsafe { libc::sigaction(done, &old[j], ptr::null_mut()) };
                }
                WAKE_FD.store(-1, SeqCst);
                INSTALLED.store(false, SeqCst);
                return Err(e);
            }
        }
        Ok(FatalSignals { old })
    }

    /// The fatal signal sent by another process since the last call, if any
    /// (if several arrived, the latest).
    pub(crate) fn take_pending(&self) -> Option<i32> {
        match PENDING.swap(0, SeqCst) {
            0 => None,
            sig => Some(sig),
        }
    }
}

impl Drop for FatalSignals {
    fn drop(&mut self) {
        for (i, &sig) in FATAL_SIGNALS.iter().enumerate() {
            // SAFETY: restores the dispositions saved by `install`.
            unsafe { libc::sigaction(sig, &self.old[i], ptr::null_mut()) };
        }
        WAKE_FD.store(-1, SeqCst);
        INSTALLED.store(false, SeqCst);
    }
}

/// The fatal-signal handler: only async-signal-safe calls, no allocation.
extern "C" fn fatal_handler(sig: c_int, info: *mut libc::siginfo_t, _ctx: *mut c_void) {
    let saved_errno = errno();
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t (checked
    // for null anyway); si_pid is meaningful for the si_code <= 0 kinds
    // sent by kill/tgkill/sigqueue, and getpid is async-signal-safe.
    let from_elsewhere = !info.is_null() && unsafe { (*info).si_code <= 0 && (*info).si_pid() != libc::getpid() };
    if from_elsewhere {
        PENDING.store(sig, SeqCst);
        let fd = WAKE_FD.load(SeqCst);
        if fd >= 0 {
            let byte = sig as u8;
            // SAFETY: write is async-signal-safe; `byte` is a live local.
            unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        }
        set_errno(saved_errno);
        return;
    }
    last_resort(sig);
}

/// Exec the armed program, else log and `_exit(4)`. Async-signal-safe.
fn last_resort(sig: c_int) -> ! {
    let Some(idx) = FATAL_SIGNALS.iter().position(|&s| s == sig) else {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(4) }
    };
    // Only the first faulting thread tries; a nested or concurrent fault
    // just exits.
    if FAULTING.fetch_add(1, SeqCst) == 0 {
        let exec = FATAL_EXEC.load(SeqCst);
        if !exec.is_null() {
            // SAFETY: `exec` stays valid: arm_fatal_exec frees a replaced
            // program only while FAULTING is 0, and it is not any more. The
            // calls are async-signal-safe (execvpe searches PATH on the
            // stack); the arrays are NULL-terminated and point into the
            // program's own strings or static texts.
            unsafe {
                let exec = &*exec;
                let mut dfl: libc::sigaction = mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                // Rust ignores SIGPIPE; the new program gets the default.
                libc::sigaction(libc::SIGPIPE, &dfl, ptr::null_mut());
                let empty = sigset_empty();
                libc::pthread_sigmask(libc::SIG_SETMASK, &empty, ptr::null_mut());
                libc::execvpe(exec.argv[0], exec.argv.as_ptr(), exec.envp[idx].as_ptr());
                // Failed: keep the faulting context's signals blocked again.
                let all = sigset_full();
                libc::pthread_sigmask(libc::SIG_SETMASK, &all, ptr::null_mut());
            }
        }
        let fd = LOG_FD.load(SeqCst);
        if fd >= 0 {
            let text = FATAL_TEXTS[idx].log;
            // SAFETY: write is async-signal-safe; `text` is static.
            unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
        }
    }
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(4) }
}

/// 1/16 s, the log-write guard (protocol.md §7.3).
const WRITE_TIMEOUT_NS: libc::c_long = 62_500_000;

/// The SIGALRM disposition shared by all `WriteTimeout`s.
struct AlarmState {
    /// Live `WriteTimeout`s.
    users: usize,
    /// The disposition replaced by the first of them.
    old: Option<libc::sigaction>,
}

static ALARM: Mutex<AlarmState> = Mutex::new(AlarmState { users: 0, old: None });

/// The SIGALRM handler: it exists only so the signal interrupts a system
/// call (installed without SA_RESTART) instead of killing the process.
extern "C" fn alarm_handler(_sig: c_int) {}

/// Guards blocking writes with a 1/16 s timer (see the module docs).
///
/// Creating the first one installs the SIGALRM handler (no `SA_RESTART`),
/// dropping the last one restores the previous disposition. The timer is a
/// POSIX timer delivering SIGALRM to the thread that writes
/// (`SIGEV_THREAD_ID`), created on first use and re-created if the writing
/// thread changes; if it cannot be created, `setitimer(ITIMER_REAL)` is used,
/// whose signal may be delivered to any thread. SIGALRM must not be blocked
/// in the writing thread.
pub(crate) struct WriteTimeout {
    /// The timer and the thread it signals.
    timer: Option<(libc::timer_t, libc::pid_t)>,
}

// SAFETY: `timer_t` is an opaque kernel timer id (a pointer type in glibc's
// headers, never dereferenced); the timer is re-created when used from
// another thread, so the value may move between threads.
unsafe impl Send for WriteTimeout {}

/// How a write was armed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Armed {
    Timer(libc::timer_t),
    Itimer,
    Not,
}

impl WriteTimeout {
    /// Installs (or shares) the SIGALRM handler.
    pub(crate) fn new() -> io::Result<WriteTimeout> {
        let mut state = ALARM.lock().unwrap_or_else(|e| e.into_inner());
        if state.users == 0 {
            // SAFETY: sigaction is plain old data; all-zero is valid.
            let mut act: libc::sigaction = unsafe { mem::zeroed() };
            act.sa_sigaction = alarm_handler as extern "C" fn(c_int) as usize;
            act.sa_flags = 0; // no SA_RESTART: the write must fail with EINTR
            act.sa_mask = sigset_empty();
            // SAFETY: as above.
            let mut old: libc::sigaction = unsafe { mem::zeroed() };
            // SAFETY: valid structures; the handler does nothing.
            cvt(unsafe { libc::sigaction(libc::SIGALRM, &act, &mut old) })?;
            state.old = Some(old);
        }
        state.users += 1;
        Ok(WriteTimeout { timer: None })
    }

    /// One `write` system call, interrupted (`ErrorKind::Interrupted`) if it
    /// blocks for 1/16 s. Not retried; may write part of `bytes`. If no timer
    /// can be armed at all, the write happens unguarded.
    pub(crate) fn write_guarded(&mut self, fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<usize> {
        let armed = self.arm();
        // SAFETY: `bytes` is readable for `bytes.len()` bytes.
        let ret = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        let err = errno();
        self.disarm(armed);
        if ret < 0 {
            Err(os_error(err))
        } else {
            Ok(ret as usize)
        }
    }

    fn arm(&mut self) -> Armed {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        if let Some((id, owner)) = self.timer {
            if owner != tid {
                // SAFETY: `id` is a timer we created and delete once.
                unsafe { libc::timer_delete(id) };
                self.timer = None;
            }
        }
        if self.timer.is_none() {
            // SAFETY: sigevent is plain old data; all-zero is valid.
            let mut sev: libc::sigevent = unsafe { mem::zeroed() };
            sev.sigev_notify = libc::SIGEV_THREAD_ID;
            sev.sigev_signo = libc::SIGALRM;
            sev.sigev_notify_thread_id = tid;
            let mut id: libc::timer_t = ptr::null_mut();
            // SAFETY: `sev` and `id` are valid for the call.
            if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut id) } == 0 {
                self.timer = Some((id, tid));
            }
        }
        if let Some((id, _)) = self.timer {
            let spec = libc::itimerspec {
                it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
                it_value: libc::timespec { tv_sec: 0, tv_nsec: WRITE_TIMEOUT_NS },
            };
            // SAFETY: `id` is our timer and `spec` a valid itimerspec.
            if unsafe { libc::timer_settime(id, 0, &spec, ptr::null_mut()) } == 0 {
                return Armed::Timer(id);
            }
        }
        let it = libc::itimerval {
            it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
            it_value: libc::timeval { tv_sec: 0, tv_usec: (WRITE_TIMEOUT_NS / 1000) as libc::suseconds_t },
        };
        // SAFETY: `it` is a valid itimerval.
        if unsafe { libc::setitimer(libc::ITIMER_REAL, &it, ptr::null_mut()) } == 0 {
            Armed::Itimer
        } else {
            Armed::Not
        }
    }

    fn disarm(&mut self, armed: Armed) {
        match armed {
            Armed::Timer(id) => {
                let zero: libc::itimerspec = libc::itimerspec {
                    it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
                    it_value: libc::timespec { tv_sec: 0, tv_nsec: 0 },
                };
                // SAFETY: `id` is our timer; a zero value disarms it.
                unsafe { libc::timer_settime(id, 0, &zero, ptr::null_mut()) };
            }
            Armed::Itimer => {
                let zero = libc::itimerval {
                    it_interval: libc::timeval { tv_sec: 0, tv_usec: 0 },
                    it_value: libc::timeval { tv_sec: 0, tv_usec: 0 },
                };
                // SAFETY: a zero value disarms ITIMER_REAL.
                unsafe { libc::setitimer(libc::ITIMER_REAL, &zero, ptr::null_mut()) };
            }
            Armed::Not => {}
        }
    }
}

impl Drop for WriteTimeout {
    fn drop(&mut self) {
        if let Some((id, _)) = self.timer.take() {
            // SAFETY: `id` is a timer we created and delete once.
            unsafe { libc::timer_delete(id) };
        }
        let mut state = ALARM.lock().unwrap_or_else(|e| e.into_inner());
        state.users -= 1;
        if state.users == 0 {
            if let Some(old) = state.old.take() {
                // SAFETY: restores the disposition saved by the first `new`.
                unsafe { libc::sigaction(libc::SIGALRM, &old, ptr::null_mut()) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fd;
    use super::super::reap::WaitStatus;
    use super::*;
    use std::os::fd::{AsFd, OwnedFd};
    use std::time::{Duration, Instant};

    fn wait(pid: i32) -> WaitStatus {
        loop {
            let mut status = 0;
            // SAFETY: valid pointer; waits for a child of this test.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == pid {
                return WaitStatus::from_raw(status).expect("exit status");
            }
            assert_eq!(errno(), libc::EINTR);
        }
    }

    fn read_all(fd: &OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match fd::read(fd.as_fd(), &mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// Forks; the child runs `body` and `_exit`s with its result (99 on a
    /// panic). Returns the child's pid.
    fn fork_child(body: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the child runs `body` (system calls and a little
        // allocation; glibc's malloc is fork-safe) and always `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(99);
            // SAFETY: leaves the child without returning into the harness.
            unsafe { libc::_exit(code) };
        }
        pid
    }

    fn disposition(sig: c_int) -> usize {
        // SAFETY: querying only.
        unsafe {
            let mut old: libc::sigaction = mem::zeroed();
            libc::sigaction(sig, ptr::null(), &mut old);
            old.sa_sigaction
        }
    }

    #[test]
    fn fatal_signal_from_another_process_is_deferred() {
        let (ready_r, ready_w) = fd::pipe(false).unwrap();
        let pid = fork_child(|| {
            let before = disposition(libc::SIGABRT);
            let (wake_r, wake_w) = fd::pipe(false).unwrap();
            let guard = match FatalSignals::install(wake_w.as_raw_fd()) {
                Ok(g) => g,
                Err(_) => return 10,
            };
            match FatalSignals::install(wake_w.as_raw_fd()) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                _ => return 11,
            }
            if guard.take_pending().is_some() {
                return 12;
            }
            if fd::write(ready_w.as_fd(), b"r").is_err() {
                return 13;
            }
            let mut byte = [0u8; 1];
            loop {
                match fd::read(wake_r.as_fd(), &mut byte) {
                    Ok(1) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    _ => return 14,
                }
            }
            if byte[0] != libc::SIGABRT as u8 || guard.take_pending() != Some(libc::SIGABRT) {
                return 15;
            }
            if guard.take_pending().is_some() {
                return 16;
            }
            drop(guard);
            if disposition(libc::SIGABRT) != before {
                return 17;
            }
            0
        });
        drop(ready_w);
        let mut byte = [0u8; 1];
        assert_eq!(fd::read(ready_r.as_fd(), &mut byte).unwrap(), 1, "child failed early");
        fd::kill(pid, libc::SIGABRT).unwrap();
        assert_eq!(wait(pid), WaitStatus::Exited(0));
    }

    #[test]
    fn genuine_fault_logs_and_exits_4() {
        let (log_r, log_w) = fd::pipe(false).unwrap();
        let pid = fork_child(|| {
            let (_wake_r, wake_w) = fd::pipe(false).unwrap();
            let _guard = match FatalSignals::install(wake_w.as_raw_fd()) {
                Ok(g) => g,
                Err(_) => return 10,
            };
            set_fatal_log_fd(log_w.as_raw_fd());
            // SAFETY: maps one inaccessible page and reads it: a genuine
            // SIGSEGV (si_code SEGV_ACCERR), in a forked child only.
            unsafe {
                let page =
                    libc::mmap(ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
                if page == libc::MAP_FAILED {
                    return 11;
                }
                ptr::read_volatile(page.cast::<u8>());
            }
            12
        });
        drop(log_w);
        let log = read_all(&log_r);
        assert_eq!(wait(pid), WaitStatus::Exited(4));
        assert_eq!(String::from_utf8_lossy(&log), "fatal: Received signal SIGSEGV (11)\n");
    }

    #[test]
    fn abort_inside_the_process_execs_armed_program() {
        let (out_r, out_w) = fd::pipe(false).unwrap();
        let pid = fork_child(|| {
            // SAFETY: makes the pipe the child's stdout.
            unsafe { libc::dup2(out_w.as_raw_fd(), 1) };
            let (_wake_r, wake_w) = fd::pipe(false).unwrap();
            let _guard = match FatalSignals::install(wake_w.as_raw_fd()) {
                Ok(g) => g,
                Err(_) => return 10,
            };
            let script = b"/bin/sh\t-c\techo \"$DAEMONPROXY_EXITCODE|$DAEMONPROXY_ERROR\"; while read k v; do case $k in SigBlk:) echo \"$k $v\";; esac; done < /proc/$$/status";
            // Arm, re-arm (frees the first) and arm the real one.
            if arm_fatal_exec(Some(b"/bin/false")).is_err() || arm_fatal_exec(None).is_err() {
                return 11;
            }
            if arm_fatal_exec(Some(b"a\0b")).is_ok() {
                return 12;
            }
            if arm_fatal_exec(Some(script)).is_err() {
                return 13;
            }
            // Sent by this very process (as abort() does): the last resort.
            // SAFETY: plain system calls.
            unsafe { libc::kill(libc::getpid(), libc::SIGILL) };
            14
        });
        drop(out_w);
        let out = read_all(&out_r);
        assert_eq!(wait(pid), WaitStatus::Exited(0), "{}", String::from_utf8_lossy(&out));
        assert_eq!(String::from_utf8_lossy(&out), "4|Received signal SIGILL (4)\nSigBlk: 0000000000000000\n");
    }

    #[test]
    fn failed_fatal_exec_falls_back_to_log() {
        let (log_r, log_w) = fd::pipe(false).unwrap();
        let pid = fork_child(|| {
            let (_wake_r, wake_w) = fd::pipe(false).unwrap();
            let _guard = match FatalSignals::install(wake_w.as_raw_fd()) {
                Ok(g) => g,
                Err(_) => return 10,
            };
            set_fatal_log_fd(log_w.as_raw_fd());
            if arm_fatal_exec(Some(b"/no/such/exit/program\targ")).is_err() {
                return 11;
            }
            // SAFETY: plain system calls.
            unsafe { libc::kill(libc::getpid(), libc::SIGBUS) };
            12
        });
        drop(log_w);
        let log = read_all(&log_r);
        assert_eq!(wait(pid), WaitStatus::Exited(4));
        assert_eq!(String::from_utf8_lossy(&log), "fatal: Received signal SIGBUS (7)\n");
    }

    #[test]
    fn write_timeout_interrupts_a_full_blocking_pipe() {
        let (r, w) = fd::pipe(true).unwrap();
        let chunk = [b'x'; 4096];
        while fd::write(w.as_fd(), &chunk).is_ok() {}
        while fd::write(w.as_fd(), &chunk[..1]).is_ok() {}
        fd::set_nonblocking(w.as_fd(), false).unwrap();

        let mut first = WriteTimeout::new().unwrap();
        let second = WriteTimeout::new().unwrap();
        let started = Instant::now();
        let err = first.write_guarded(w.as_fd(), b"log line\n").unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert!(took >= Duration::from_millis(40) && took < Duration::from_secs(2), "{took:?}");

        // Dropping one guard keeps the handler for the other.
        drop(second);
        let started = Instant::now();
        let err = first.write_guarded(w.as_fd(), b"again\n").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        assert!(started.elapsed() < Duration::from_secs(2));

        // Drain; now the guarded write goes through.
        let mut buf = [0u8; 65536];
        while fd::read(r.as_fd(), &mut buf).is_ok() {}
        assert_eq!(first.write_guarded(w.as_fd(), b"ok\n").unwrap(), 3);
        // The timer was disarmed: nothing arrives later.
        let started = Instant::now();
        assert_eq!(first.write_guarded(w.as_fd(), b"ok\n").unwrap(), 3);
        assert!(started.elapsed() < Duration::from_millis(40));
        drop(first);
        assert_eq!(disposition(libc::SIGALRM), libc::SIG_DFL);
    }
}
