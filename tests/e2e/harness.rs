//! Test harness: start the daemon, talk to it, wait for lines with a
//! deadline, and clean up.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
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

/// A fresh temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("dp-e2e-").tempdir().expect("tempdir")
}

/// Collects a stream's lines on a thread, for waiting with a deadline.
pub struct Lines {
    rx: Receiver<Vec<u8>>,
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
                        if tx.send(line).is_err() {
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
            Ok(l) => Some(l),
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
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    let s = String::from_utf8_lossy(&l).into_owned();
                    if pred(&s) {
                        return s;
                    }
                }
                Err(_) => panic!("never saw {what}; seen: {:#?}", self.seen.lock().unwrap()),
            }
        }
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
