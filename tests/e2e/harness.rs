//! Test harness: start the daemon, talk to it, wait for lines with a
//! deadline, and clean up.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_daemonproxy")
}

/// The repository root (the examples' paths are relative to it).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root")
}

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("dp-e2e-").tempdir().expect("tempdir")
}

/// Collects a stream's lines on a thread, for waiting with a deadline.
/// Each line is stamped with the moment the thread read it, so a test can
/// tell how far apart two lines arrived however late it looks at them.
pub struct Lines {
    rx: Receiver<(Instant, Vec<u8>)>,
    /// Every line received so far (kept for failure messages).
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Lines {
    /// Starts reading `r` line by line.
    pub fn new(r: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        thread::spawn(move || {
            let mut r = BufReader::new(r);
            loop {
                let mut line = Vec::new();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        seen2.lock().unwrap().push(String::from_utf8_lossy(&line).into_owned());
                        if tx.send((Instant::now(), line)).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Lines { rx, seen }
    }

    /// The next line (bytes), or `None` at end of stream; panics after
    /// [`TIMEOUT`].
    pub fn next_bytes(&self) -> Option<Vec<u8>> {
        match self.rx.recv_timeout(TIMEOUT) {
            Ok((_, l)) => Some(l),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("timed out waiting for a line; seen so far: {:#?}", self.seen.lock().unwrap())
            }
        }
    }

    /// The next line as text; panics at end of stream or after the timeout.
    pub fn next(&self) -> String {
        let l = self.next_bytes().unwrap_or_else(|| panic!("stream ended; seen: {:#?}", self.seen.lock().unwrap()));
        String::from_utf8_lossy(&l).into_owned()
    }

    /// Skips lines until one satisfies `pred`, returning it.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_for_timed(what, pred).0
    }

    /// Skips lines until one satisfies `pred`, returning it with the
    /// moment it was read from the stream.
    pub fn wait_for_timed(&self, what: &str, pred: impl Fn(&str) -> bool) -> (String, Instant) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((at, l)) => {
                    let s = String::from_utf8_lossy(&l).into_owned();
                    if pred(&s) {
                        return (s, at);
                    }
                }
                Err(_) => panic!("never saw {what}; seen: {:#?}", self.seen.lock().unwrap()),
            }
        }
    }

    /// Skips lines until one starting with each of `prefixes` has come,
    /// in any order; returns them in the order of `prefixes`. For events
    /// whose relative order is not defined (processes ending at once).
    pub fn wait_for_each(&self, prefixes: &[&str]) -> Vec<String> {
        let mut found: Vec<Option<String>> = vec![None; prefixes.len()];
        while found.iter().any(Option::is_none) {
            let what = format!("lines starting with {prefixes:?}");
            let line = self.wait_for(&what, |l| prefixes.iter().any(|p| l.starts_with(p)));
            if let Some(i) = (0..prefixes.len()).find(|&i| found[i].is_none() && line.starts_with(prefixes[i])) {
                found[i] = Some(line);
            }
        }
        found.into_iter().flatten().collect()
    }

    /// Lines until (not including) the exact line `token`.
    pub fn until(&self, token: &str) -> Vec<String> {
        let mut v = Vec::new();
        loop {
            let l = self.next();
            if l == token {
                return v;
            }
            v.push(l);
        }
    }

    /// Whether the stream has ended (waits up to the timeout for EOF,
    /// returning the lines that came before it).
    pub fn rest_until_eof(&self) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(l) = self.next_bytes() {
            v.push(String::from_utf8_lossy(&l).into_owned());
        }
        v
    }
}

/// A daemon under test, started with `-i` (plus extra arguments); stdin
/// is its command stream, stdout its event stream, stderr its log.
pub struct Daemon {
    /// The process.
    pub child: Child,
    stdin: Option<ChildStdin>,
    /// Event lines.
    pub out: Lines,
    /// Log lines.
    pub log: Lines,
    counter: u64,
}

impl Daemon {
    /// `daemonproxy -i ARGS...`, banner consumed.
    pub fn interactive(args: &[&str]) -> Daemon {
        let d = Daemon::spawn(Command::new(bin()).arg("-i").args(args));
        for _ in 0..4 {
            let l = d.out.next();
            assert!(l.starts_with("info\t"), "banner line expected, got {l:?}");
        }
        d
    }

    /// Starts a prepared command with piped stdio.
    pub fn spawn(cmd: &mut Command) -> Daemon {
        let mut child =
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start daemonproxy");
        let out = Lines::new(child.stdout.take().unwrap());
        let log = Lines::new(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        Daemon { child, stdin, out, log, counter: 0 }
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let w = self.stdin.as_mut().expect("stdin open");
        w.write_all(bytes).expect("write to daemon");
        w.flush().unwrap();
    }

    /// Sends one command line (LF appended).
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// Sends `echo TOKEN` and returns every line before the token.
    pub fn sync(&mut self) -> Vec<String> {
        self.counter += 1;
        let token = format!("--sync-{}--", self.counter);
        self.send(&format!("echo\t{token}"));
        self.out.until(&token)
    }

    /// Sends a command and returns what it produced (up to a sync).
    pub fn cmd(&mut self, line: &str) -> Vec<String> {
        self.send(line);
        self.sync()
    }

    /// Closes stdin (end of the interactive session).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit (bounded) and returns its status code.
    pub fn wait(&mut self) -> Option<i32> {
        self.close_stdin();
        wait_timeout(&mut self.child)
    }

    /// The daemon's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to [`TIMEOUT`] for a child, killing it after that.
pub fn wait_timeout(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process did not exit in time");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Writes a file with `content`.
pub fn write_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write file");
    p
}

/// Sends a signal to a process.
pub fn kill(pid: i32, sig: i32) {
    // SAFETY: kill takes no pointers.
    let r = unsafe { libc::kill(pid, sig) };
    assert_eq!(r, 0, "kill({pid}, {sig})");
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// Fields of an event line.
pub fn fields(line: &str) -> Vec<&str> {
    line.split('\t').collect()
}

// ---------------------------------------------------------------------
// Helpers for the handle, controller and service tests (appended).
// ---------------------------------------------------------------------

/// The current `CLOCK_MONOTONIC` time in whole seconds (the daemon's
/// timestamps).
pub fn mono_secs() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(r, 0, "clock_gettime");
    ts.tv_sec
}

/// Sends SIGKILL to a process when dropped (ignoring errors), so that a
/// failing test does not leave it behind.
pub struct KillGuard(pub i32);

impl Drop for KillGuard {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: kill takes no pointers.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

/// The open descriptors of a process: number → link target.
pub fn proc_fds(pid: i32) -> std::collections::BTreeMap<i32, String> {
    let mut m = std::collections::BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            if let Some(n) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
                let target = std::fs::read_link(e.path()).map(|p| p.display().to_string()).unwrap_or_default();
                m.insert(n, target);
            }
        }
    }
    m
}

/// Makes every descriptor from 3 up close-on-exec in the child before it
/// executes `cmd`, so the program under test starts without whatever the
/// test process happened to inherit.
pub fn clean_fds(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls async-signal-safe functions (sysconf,
    // fcntl) and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(1024, 65536) as i32;
            for fd in 3..max {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                }
            }
            Ok(())
        })
    }
}

impl Daemon {
    /// `daemonproxy -i ARGS...` started with only descriptors 0, 1 and 2
    /// open (nothing inherited from the test process).
    pub fn interactive_clean(args: &[&str]) -> Daemon {
        Daemon::spawn_interactive(clean_fds(Command::new(bin()).arg("-i").args(args)))
    }

    /// Waits for the next `service.state NAME STATE ...` event.
    pub fn wait_state(&self, name: &str, state: &str) -> String {
        let prefix = format!("service.state\t{name}\t{state}\t");
        self.out.wait_for(&format!("{name} {state}"), |l| l.starts_with(&prefix))
    }

    /// Sends `service.start NAME`, waits for `up` and returns the pid.
    pub fn start_up(&mut self, name: &str) -> i32 {
        self.send(&format!("service.start\t{name}"));
        let up = self.wait_state(name, "up");
        fields(&up)[4].parse().expect("pid in up event")
    }
}

/// A control-socket client with a reader thread.
pub struct Client {
    /// The connection (for writing; reads happen on the thread).
    pub stream: std::os::unix::net::UnixStream,
    /// Lines received.
    pub lines: Lines,
    counter: u64,
}

impl Client {
    /// Connects to the control socket at `path` and starts reading.
    pub fn connect(path: &Path) -> Client {
        Client::from_stream(std::os::unix::net::UnixStream::connect(path).expect("connect control socket"))
    }

    /// Starts reading an already connected stream.
    pub fn from_stream(stream: std::os::unix::net::UnixStream) -> Client {
        let lines = Lines::new(stream.try_clone().expect("clone stream"));
        Client { stream, lines, counter: 0 }
    }

    /// Sends one command line (LF appended).
    pub fn send(&mut self, line: &str) {
        self.stream.write_all(format!("{line}\n").as_bytes()).expect("write to control socket");
    }

    /// Sends `echo TOKEN` and returns every line before the token.
    pub fn sync(&mut self) -> Vec<String> {
        self.counter += 1;
        let token = format!("--client-sync-{}--", self.counter);
        self.send(&format!("echo\t{token}"));
        self.lines.until(&token)
    }

    /// Sends a command and returns what it produced (up to a sync).
    pub fn cmd(&mut self, line: &str) -> Vec<String> {
        self.send(line);
        self.sync()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Ends the reader thread's clone too, so the daemon sees EOF.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Absolute path of the real python3 interpreter (not a version-manager
/// shim, which would add a process between a service and the script).
pub fn python3() -> &'static str {
    static PY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .stdin(Stdio::null())
            .output()
            .expect("python3 is required by the e2e tests");
        String::from_utf8(out.stdout).expect("utf-8 path").trim().to_owned()
    })
}

// ----- process inspection, bounded polling, cleanup -----------------------

impl Daemon {
    /// Starts a prepared command that ends up exec'ing `daemonproxy -i`
    /// (through `sh`, `setpriv`, `unshare`...), banner consumed.
    pub fn spawn_interactive(cmd: &mut Command) -> Daemon {
        let d = Daemon::spawn(cmd);
        for _ in 0..4 {
            let l = d.out.next();
            assert!(l.starts_with("info\t"), "banner line expected, got {l:?}");
        }
        d
    }
}

/// Calls `f` every few milliseconds until it returns `Some`; panics with
/// `what` after [`TIMEOUT`]. For state that has no event to wait for
/// (files written by a service, `/proc`).
pub fn poll_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The interesting fields of `/proc/PID/stat`.
#[derive(Clone, Debug)]
pub struct ProcStat {
    /// Process id.
    pub pid: i32,
    /// State letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Parent process id.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
}

/// `/proc/PID/stat` of one process, if it exists.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok());
    Some(ProcStat {
        pid,
        state: f.first()?.chars().next()?,
        ppid: num(1)? as i32,
        pgrp: num(2)? as i32,
        session: num(3)? as i32,
        cpu_ticks: (num(11)? + num(12)?) as u64,
    })
}

/// Every process visible in `/proc`.
pub fn all_procs() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()).filter_map(proc_stat).collect()
}

/// The children of `pid` (any state).
pub fn children_of(pid: i32) -> Vec<ProcStat> {
    all_procs().into_iter().filter(|p| p.ppid == pid).collect()
}

/// Pids of the zombie children of `pid`.
pub fn zombie_children(pid: i32) -> Vec<i32> {
    children_of(pid).into_iter().filter(|p| p.state == 'Z').map(|p| p.pid).collect()
}

/// Waits (bounded) until `pid` has no zombie children; panics otherwise.
pub fn assert_no_zombies(pid: i32) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let z = zombie_children(pid);
        if z.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!("zombie children of {pid} never reaped: {z:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Number of open descriptors of `pid` (entries of `/proc/PID/fd`).
pub fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

/// Clock ticks per second (for [`ProcStat::cpu_ticks`]).
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf takes no pointers.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// Kills the process groups (services lead their own) of the pids it
/// holds when dropped, so a failing test leaves no services behind.
#[derive(Debug, Default)]
pub struct KillGroups(pub Vec<i32>);

impl KillGroups {
    /// Adds a pid (a process-group leader).
    pub fn add(&mut self, pid: i32) {
        self.0.push(pid);
    }
}

impl Drop for KillGroups {
    fn drop(&mut self) {
        for &pid in &self.0 {
            // Only a session leader with that pid: a service still running
            // (a reaped pid may have been reused by someone else).
            if pid > 1 && proc_stat(pid).is_some_and(|p| p.session == pid) {
                // SAFETY: kill takes no pointers.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(st.success(), "mkfifo {path:?}");
}

/// Opens a FIFO for writing once its reader has it open (bounded).
pub fn open_fifo_writer(path: &Path) -> std::fs::File {
    poll_until("the FIFO's reader", || {
        std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path).ok()
    })
}

/// A service whose subshells leave two orphans behind, one that exits 7
/// when the test writes to a FIFO and one that sleeps until killed, with
/// `fifo` the FIFO's path.
pub fn double_forking_service(fifo: &Path) -> String {
    format!(
        "service.args\tforker\tsh\t-c\t(sh -c 'read x <{f}; exit 7' & echo \"EXITER $!\" >&2); \
         (sleep 60 & echo \"SLEEPER $!\" >&2); exit 0",
        f = fifo.display()
    )
}
