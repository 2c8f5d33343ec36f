//! The connection to the control socket: a [`daemonproxy_proto::Client`]
//! on one blocking `UnixStream`, with every wait bounded by a deadline.
//!
//! The deadline becomes the socket's read timeout before each read
//! ([`TimedReader`]); a read that times out leaves the client intact
//! (see [`Client::next_before`]), so a caller can wait for an event until
//! some time, do something else (send KILL), and wait again. Writes have
//! the `--timeout` as write timeout, so a daemon that stops reading
//! cannot block `ctl` forever.

use std::cell::Cell;
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use daemonproxy_proto::{Client, OwnedEvent, Snapshot, SyncMark};

use super::{error_text, fail, Failure, EXIT_CONNECT, EXIT_FAILED, EXIT_TIMEOUT};

/// The read half: reads wait at most until the shared deadline (`None`:
/// no limit).
struct TimedReader {
    stream: UnixStream,
    deadline: Rc<Cell<Option<Instant>>>,
}

impl Read for TimedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let wait = match self.deadline.get() {
            None => None,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                Some(left)
            }
        };
        self.stream.set_read_timeout(wait)?;
        self.stream.read(buf)
    }
}

/// What waiting for the next line gave.
#[derive(Debug)]
pub(super) enum Next {
    /// A line from the daemon.
    Event(OwnedEvent),
    /// The sync mark waited for came back: every command sent before it
    /// has been executed.
    Synced,
    /// The time waited until has come.
    Waited,
    /// The daemon closed the connection (or reset it).
    Closed,
}

/// A connection to the daemon's control socket.
pub(super) struct Conn {
    client: Client<TimedReader, UnixStream>,
    deadline: Rc<Cell<Option<Instant>>>,
    socket: PathBuf,
    /// `--timeout`: how long to wait for each answer.
    pub(super) timeout: Duration,
}

impl Conn {
    /// Connects, with a message that says what to do next on failure.
    pub(super) fn connect(path: &Path, timeout: Duration) -> Result<Conn, Failure> {
        let stream = UnixStream::connect(path).map_err(|e| connect_failure(path, &e))?;
        let sock_err = |e: io::Error| fail(EXIT_CONNECT, format!("{}: {}", path.display(), error_text(&e)));
        stream.set_write_timeout(Some(timeout)).map_err(sock_err)?;
        let reader = stream.try_clone().map_err(sock_err)?;
        let deadline = Rc::new(Cell::new(None));
        let client = Client::new(TimedReader { stream: reader, deadline: deadline.clone() }, stream);
        Ok(Conn { client, deadline, socket: path.to_owned(), timeout })
    }

    /// The moment `--timeout` from now (`None` if too far to represent).
    pub(super) fn answer_deadline(&self) -> Option<Instant> {
        Instant::now().checked_add(self.timeout)
    }

    /// Sends one command line (without its LF).
    pub(super) fn send(&mut self, line: &[u8]) -> Result<(), Failure> {
        let r = self.client.send_line(line);
        r.map_err(|e| self.write_failure(&e))
    }

    /// Sends an `echo` sync token; [`Conn::next`] reports when it is back.
    pub(super) fn send_sync(&mut self) -> Result<SyncMark, Failure> {
        let r = self.client.send_sync();
        r.map_err(|e| self.write_failure(&e))
    }

    /// The next line from the daemon, waiting until `until` at most
    /// (`None`: as long as it takes); with a `mark`, [`Next::Synced`] once
    /// its token has come back.
    pub(super) fn next(&mut self, mark: Option<SyncMark>, until: Option<Instant>) -> Result<Next, Failure> {
        self.deadline.set(until);
        let r = match mark {
            Some(mark) => self.client.next_before(mark).map(|e| e.map_or(Next::Synced, Next::Event)),
            None => self.client.next_event().map(|e| e.map_or(Next::Closed, Next::Event)),
        };
        self.deadline.set(None);
        match r {
            Ok(next) => Ok(next),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Ok(Next::Waited),
            Err(e) if matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset) => {
                Ok(Next::Closed)
            }
            Err(e) => Err(self.lost(&format!("reading from the socket failed ({})", error_text(&e)))),
        }
    }

    /// Sends a sync token and returns every line received before it came
    /// back, within `--timeout`.
    pub(super) fn sync(&mut self) -> Result<Vec<OwnedEvent>, Failure> {
        let mark = self.send_sync()?;
        let until = self.answer_deadline();
        let mut events = Vec::new();
        loop {
            match self.next(Some(mark), until)? {
                Next::Event(ev) => events.push(ev),
                Next::Synced => return Ok(events),
                Next::Waited => return Err(self.no_answer()),
                Next::Closed => return Err(self.closed()),
            }
        }
    }

    /// The daemon's state ([`Client::statedump`]), within `--timeout`.
    pub(super) fn statedump(&mut self) -> Result<Snapshot, Failure> {
        self.deadline.set(self.answer_deadline());
        let r = self.client.statedump();
        self.deadline.set(None);
        r.map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.no_answer(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => self.closed(),
            io::ErrorKind::Other => fail(EXIT_FAILED, format!("{e}: events are lost faster than they can be read")),
            _ => self.lost(&format!("reading from the socket failed ({})", error_text(&e))),
        })
    }

    /// The failure for an answer that did not come within `--timeout`.
    pub(super) fn no_answer(&self) -> Failure {
        let secs = self.timeout.as_secs_f64();
        fail(EXIT_TIMEOUT, format!("no answer from daemonproxy within {secs} s (use --timeout SECS to wait longer)"))
    }

    /// The failure for a connection the daemon closed before answering.
    pub(super) fn closed(&self) -> Failure {
        self.lost("daemonproxy closed the connection")
    }

    fn lost(&self, what: &str) -> Failure {
        let shown = self.socket.display();
        let hint = format!("check the daemon's log; is it still running with -S {shown}?");
        fail(EXIT_CONNECT, format!("{what} before it answered ({hint})"))
    }

    fn write_failure(&self, e: &io::Error) -> Failure {
        match e.kind() {
            io::ErrorKind::InvalidInput => fail(EXIT_FAILED, format!("not sent: {e}")),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                let secs = self.timeout.as_secs_f64();
                fail(
                    EXIT_TIMEOUT,
                    format!("daemonproxy did not accept commands for {secs} s (use --timeout SECS to wait longer)"),
                )
            }
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => self.closed(),
            _ => self.lost(&format!("sending failed ({})", error_text(e))),
        }
    }
}

/// The message for a failed connect, with a hint at the likely cause.
fn connect_failure(path: &Path, e: &io::Error) -> Failure {
    let shown = path.display();
    if std::fs::metadata(path).is_ok_and(|m| !m.file_type().is_socket()) {
        let hint = "give -S the PATH that daemonproxy was started with";
        return fail(EXIT_CONNECT, format!("cannot connect to {shown}: not a socket ({hint})"));
    }
    let hint = match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => format!("is daemonproxy running with -S {shown}?"),
        Some(libc::ECONNREFUSED) => {
            format!("nobody is listening; is daemonproxy running with -S {shown}, or is this a stale socket?")
        }
        Some(libc::EACCES) | Some(libc::EPERM) => "run as a user that may access the socket".to_owned(),
        _ => format!("check that daemonproxy is running with -S {shown}"),
    };
    fail(EXIT_CONNECT, format!("cannot connect to {shown}: {} ({hint})", error_text(e)))
}
