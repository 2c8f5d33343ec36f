//! `daemonproxy ctl`: a command-line client for a running daemon's control
//! socket (docs/protocol.md §2.5, §3, §4).
//!
//! Everything goes through [`daemonproxy_proto::Client`] on one blocking
//! `UnixStream` (see [`conn`]): every wait is bounded by a deadline turned
//! into the socket's read timeout, so no thread is needed. Protocol
//! commands are sent one line at a time, each followed by an `echo` sync
//! token, and everything received until the token is printed ([`raw`]).
//! The verbs (`status`, `start`, `stop`, `restart`, `follow`, `shutdown`)
//! work from a [`daemonproxy_proto::Snapshot`] kept current with the
//! events ([`status`], [`lifecycle`], [`follow`]). Every option is defined
//! once, in the clap table of [`options`], which also renders `--help`.

mod clock;
mod conn;
mod follow;
mod json;
mod lifecycle;
mod options;
mod raw;
mod reply;
mod status;

use std::ffi::OsString;
use std::io::{self, Write};

use conn::Conn;
use options::{Invocation, Request};

/// Success.
pub const EXIT_OK: i32 = 0;
/// The daemon reported an error for a command sent (including a failed
/// exec after `start`), or events were lost.
pub const EXIT_FAILED: i32 = 1;
/// Bad usage.
pub const EXIT_USAGE: i32 = 2;
/// No connection to the control socket, or the connection was lost.
pub const EXIT_CONNECT: i32 = 3;
/// The daemon did not answer within the timeout.
pub const EXIT_TIMEOUT: i32 = 4;
/// `stop`, `restart` or `shutdown` had to send KILL: a service did not go
/// down within the grace time after TERM.
pub const EXIT_KILLED: i32 = 5;

/// Prefix of every message on stderr.
const PROG: &str = "daemonproxy ctl";
/// clap's description of `ctl` (its options and verbs), from which the
/// manual page and the shell completions are generated too.
#[cfg(test)]
pub(crate) fn command() -> clap::Command {
    options::command()
}

/// The words after `daemonproxy ctl`; returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let opts = match options::parse(args, std::env::var_os(options::SOCKET_ENV)) {
        Ok(Invocation::Help) => {
            return match print(options::help_text().as_bytes()) {
                Ok(()) => EXIT_OK,
                Err(f) => report(f),
            }
        }
        Ok(Invocation::Run(opts)) => opts,
        Err(message) => {
            eprintln!("{PROG}: {message}\nTry 'daemonproxy ctl --help' for more information.");
            return EXIT_USAGE;
        }
    };
    let run = || -> Result<i32, Failure> {
        let mut conn = Conn::connect(&opts.socket, opts.timeout)?;
        match &opts.request {
            Request::Line(line) => raw::one_line(&mut conn, line),
            Request::Stdin => raw::stdin_lines(&mut conn),
            Request::Status { json } => status::run(&mut conn, *json),
            Request::Start { name } => lifecycle::start(&mut conn, name),
            Request::Stop { name, kill_after } => lifecycle::stop(&mut conn, name, *kill_after),
            Request::Restart { name, kill_after } => lifecycle::restart(&mut conn, name, *kill_after),
            Request::Follow => follow::run(&mut conn),
            Request::Shutdown { kill_after, guard } => lifecycle::shutdown(&mut conn, *kill_after, *guard),
        }
    };
    run().unwrap_or_else(report)
}

/// Prints a failure's message; returns its exit status.
fn report(f: Failure) -> i32 {
    if !f.message.is_empty() {
        eprintln!("{PROG}: {}", f.message);
    }
    f.status
}

/// An early end: exit status and message (empty: nothing to print).
#[derive(Debug)]
struct Failure {
    status: i32,
    message: String,
}

fn fail(status: i32, message: impl Into<String>) -> Failure {
    Failure { status, message: message.into() }
}

/// An error's text without Rust's ` (os error N)` suffix.
fn error_text(e: &io::Error) -> String {
    daemonproxy_core::process::error_text(e)
}

/// Writes to stdout and flushes, so that output interleaves with stderr
/// as it happens. A closed stdout (`| head`) ends the run quietly.
fn print(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).map_err(|e| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            fail(EXIT_FAILED, "")
        } else {
            fail(EXIT_FAILED, format!("cannot write to stdout: {}", error_text(&e)))
        }
    })
}

/// Prints one line of text (an LF is appended).
fn print_line(text: &str) -> Result<(), Failure> {
    print(format!("{text}\n").as_bytes())
}

/// A note on stderr that does not end the run.
fn warn(message: &str) {
    eprintln!("{PROG}: {message}");
}
