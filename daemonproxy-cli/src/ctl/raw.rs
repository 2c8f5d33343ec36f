//! Protocol commands as they are: one from the command line, or one line
//! at a time from stdin. Each line is sent with a sync token, and every
//! line received until the token is printed as it arrives; an `error`
//! that answers the line makes the exit status 1.
//!
//! Lines are sent one at a time, each executed before the next is read:
//! `ctl` never has to read and write at once (which would need a thread),
//! and an interactive user sees each answer before typing the next line.

use std::io::{self, BufRead};

use daemonproxy_proto::{Command, Event, OwnedEvent, StartWhen, MAX_LINE};

use super::conn::{Conn, Next};
use super::lifecycle::{self, StartWatch};
use super::reply::{answers, hint};
use super::{error_text, fail, print, warn, Failure, EXIT_FAILED, EXIT_OK};

/// What sending one line gave.
#[derive(Default)]
struct Exchange {
    /// An `error` answered the line.
    failed: bool,
    /// `overflow` was received: some output is missing.
    overflow: bool,
    /// The daemon closed the connection (after `exit` or `terminate`).
    closed: bool,
}

/// `ctl COMMAND [ARG...]`. After a successful `service.start NAME`, also
/// waits for the exec ([`lifecycle::await_start`]).
pub(super) fn one_line(conn: &mut Conn, line: &[u8]) -> Result<i32, Failure> {
    let started = match Command::parse(line) {
        Ok(Command::ServiceStart { name, when: StartWhen::Now }) => Some(name.as_str().to_owned()),
        _ => None,
    };
    let mut watch = started.as_deref().map(StartWatch::new);
    let mut decided = None;
    let ex = exchange(conn, line, &mut |ev| {
        if let (Some(w), None) = (watch.as_mut(), &decided) {
            decided = w.see(ev);
        }
    })?;
    if ex.closed && !may_close(line) {
        return Err(conn.closed());
    }
    let mut status = status_of(&ex)?;
    if let (Some(name), Some(watch), false) = (started, watch, ex.failed || ex.closed) {
        let outcome = match decided {
            Some(outcome) => outcome,
            None => lifecycle::await_start(conn, watch, &mut |ev| print_event(ev))?,
        };
        if let Some(problem) = outcome.problem(&name) {
            warn(&problem);
            status = EXIT_FAILED;
        }
    }
    Ok(status)
}

/// `ctl` without a command: the lines of stdin, one at a time.
pub(super) fn stdin_lines(conn: &mut Conn) -> Result<i32, Failure> {
    let mut stdin = io::stdin().lock();
    let mut status = EXIT_OK;
    loop {
        let mut line = Vec::new();
        match stdin.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(status),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(EXIT_FAILED, format!("cannot read stdin: {}", error_text(&e)))),
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let ex = exchange(conn, &line, &mut |_| {})?;
        if ex.closed {
            // Nothing more can be sent; lines after `exit` are not.
            return if may_close(&line) { status_of(&ex).map(|s| s.max(status)) } else { Err(conn.closed()) };
        }
        status = status.max(status_of(&ex)?);
    }
}

/// The exit status of one exchange; overflow is a failure of its own.
fn status_of(ex: &Exchange) -> Result<i32, Failure> {
    if ex.overflow {
        return Err(fail(EXIT_FAILED, "events were lost (overflow): the output above is incomplete"));
    }
    Ok(if ex.failed { EXIT_FAILED } else { EXIT_OK })
}

/// Sends `line` and a sync token, printing every line received until the
/// token; `seen` is shown each of them too.
fn exchange(conn: &mut Conn, line: &[u8], seen: &mut dyn FnMut(&OwnedEvent)) -> Result<Exchange, Failure> {
    let mut ex = Exchange::default();
    if line.len() > MAX_LINE {
        warn(&format!("not sent: a line of {} bytes (the daemon accepts at most {MAX_LINE})", line.len()));
        ex.failed = true;
        return Ok(ex);
    }
    let sent = conn.send(line).and_then(|()| conn.send_sync());
    let mark = match sent {
        Ok(mark) => mark,
        // `exit` may have closed the connection before the token is sent.
        Err(_) if may_close(line) => {
            ex.closed = true;
            return Ok(ex);
        }
        Err(f) => return Err(f),
    };
    let until = conn.answer_deadline();
    loop {
        match conn.next(Some(mark), until)? {
            Next::Event(ev) => {
                match ev.event() {
                    Ok(Event::Error { message }) if answers(line, message) => {
                        ex.failed = true;
                        if let Some(hint) = hint(message) {
                            warn(hint);
                        }
                    }
                    Ok(Event::Overflow) => ex.overflow = true,
                    _ => {}
                }
                print_event(&ev)?;
                seen(&ev);
            }
            Next::Synced => return Ok(ex),
            Next::Waited => return Err(conn.no_answer()),
            Next::Closed => {
                ex.closed = true;
                return Ok(ex);
            }
        }
    }
}

fn print_event(ev: &OwnedEvent) -> Result<(), Failure> {
    print(&[ev.line(), b"\n"].concat())
}

/// Whether the command may end the connection (`exit`, `terminate`).
fn may_close(line: &[u8]) -> bool {
    // `reexec` disconnects control-socket clients when it succeeds.
    matches!(line.split(|&b| b == b'\t').next(), Some(b"exit" | b"terminate" | b"reexec"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_that_may_close() {
        assert!(may_close(b"exit"));
        assert!(may_close(b"terminate\t0"));
        assert!(may_close(b"reexec"));
        assert!(may_close(b"reexec\t/usr/sbin/daemonproxy\t-S\t/run/dp.sock"));
        assert!(!may_close(b"terminate.guard\t-\t1"));
        assert!(!may_close(b"echo\texit"));
    }
}
