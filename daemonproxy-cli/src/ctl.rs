//! `daemonproxy ctl`: a command-line client for a running daemon's control
//! socket (PROTOCOL.md §4, §5, §6).
//!
//! The client connects to the socket, sends command lines followed by an
//! `echo` sync token (§5.1: when the token comes back, every earlier command
//! of this connection has been executed), and prints what the daemon sent
//! until the token. `status` sends `statedump` instead and prints the state
//! as tables (see [`status`]).
//!
//! Three threads: a reader turns the socket into lines, a writer sends the
//! command lines (from the command line or stdin), and the main thread
//! receives both through one channel, in order, so it always knows which
//! commands were sent before a reply arrives, and bounds the wait for the
//! token with `--timeout`.

mod status;

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::error::ErrorKind;
use clap::{Arg, ArgAction, Command};
use daemonproxy_proto::{Event, ERROR_QUOTE_LEN, MAX_LINE};

/// Success.
pub const EXIT_OK: i32 = 0;
/// The daemon reported an error for a command sent, or events were lost.
pub const EXIT_FAILED: i32 = 1;
/// Bad usage.
pub const EXIT_USAGE: i32 = 2;
/// No connection to the control socket, or the connection was lost.
pub const EXIT_CONNECT: i32 = 3;
/// The daemon did not answer within the timeout.
pub const EXIT_TIMEOUT: i32 = 4;

/// Default `--timeout`, in seconds.
const DEFAULT_TIMEOUT: &str = "10";
/// Prefix of every message on stderr.
const PROG: &str = "daemonproxy ctl";

/// The words after `daemonproxy ctl`; returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let opts = match parse(args) {
        Ok(Invocation::Help) => {
            let mut out = io::stdout().lock();
            return match out.write_all(help_text().as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => EXIT_OK,
                Err(_) => EXIT_FAILED,
            };
        }
        Ok(Invocation::Run(opts)) => opts,
        Err(message) => {
            eprintln!("{PROG}: {message}\nTry 'daemonproxy ctl --help' for more information.");
            return EXIT_USAGE;
        }
    };
    match run(&opts) {
        Ok(status) => status,
        Err(Failure { status, message }) => {
            if !message.is_empty() {
                eprintln!("{PROG}: {message}");
            }
            status
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Invocation {
    Help,
    Run(Options),
}

/// What to send.
#[derive(Debug, PartialEq)]
enum Request {
    /// One command line.
    Line(Vec<u8>),
    /// The command lines read from stdin.
    Stdin,
    /// `statedump`, shown as tables.
    Status,
}

/// The parsed `ctl` command line.
#[derive(Debug, PartialEq)]
struct Options {
    socket: PathBuf,
    timeout: Duration,
    request: Request,
}

/// clap's description of the `ctl` options; `--help` is rendered from it by
/// [`help_text`].
fn command() -> Command {
    Command::new("daemonproxy ctl")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .arg(
            Arg::new("socket")
                .short('S')
                .long("socket")
                .value_name("PATH")
                .action(ArgAction::Set)
                .value_parser(clap::value_parser!(OsString))
                .help("Control socket of the daemon (its -S PATH) [required, no default]"),
        )
        .arg(
            Arg::new("timeout")
                .short('t')
                .long("timeout")
                .value_name("SECS")
                .action(ArgAction::Set)
                .value_parser(clap::value_parser!(OsString))
                .default_value(DEFAULT_TIMEOUT)
                .help("Seconds to wait for the answer after the last command"),
        )
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::SetTrue)
                .help("Print this help and exit [default: off]"),
        )
        .arg(
            Arg::new("command")
                .value_name("COMMAND")
                .num_args(1..)
                .trailing_var_arg(true)
                .value_parser(clap::value_parser!(OsString)),
        )
}

/// The `ctl --help` text.
fn help_text() -> String {
    let cmd = command();
    let mut options = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
        let short = arg.get_short().map_or_else(|| "    ".to_owned(), |c| format!("-{c}, "));
        let long = arg.get_long().map(|l| format!("--{l}")).unwrap_or_default();
        let value = arg.get_value_names().and_then(|v| v.first()).map(|v| format!(" {v}")).unwrap_or_default();
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let default = arg.get_default_values().first().map(|d| format!(" [default: {}]", d.to_string_lossy()));
        options.push((format!("{short}{long}{value}"), format!("{help}{}", default.unwrap_or_default())));
    }
    let width = options.iter().map(|(o, _)| o.len()).max().unwrap_or(0);
    let mut option_lines = String::new();
    for (o, h) in options {
        option_lines.push_str(&format!("  {o:<width$}  {h}\n"));
    }
    format!(
        "Usage: daemonproxy ctl -S PATH [OPTION...] [COMMAND [ARG...]]
       daemonproxy ctl -S PATH [OPTION...] status

Talk to a running daemonproxy through its control socket (daemonproxy -S PATH).

  COMMAND [ARG...]  Send one command line (COMMAND and ARGs joined by TAB; a
                    single word that contains TABs is sent as it is), then
                    print every line received until the daemon has executed
                    it: replies, errors and any events broadcast meanwhile.
  (no COMMAND)      Send the command lines read from stdin, one per line, and
                    print every line received until all were executed.
  status            Print services, handles and pending signals as tables.

Options (they end at COMMAND; use -- before a COMMAND that starts with -):
{option_lines}
Exit status:
  0  success
  1  the daemon reported an error for a command sent (the error line is
     printed), or events were lost (overflow)
  2  usage error
  3  cannot connect to the control socket, or the connection was lost
  4  the daemon did not answer within the timeout
"
    )
}

/// Parses the words after `ctl`.
fn parse(args: Vec<OsString>) -> Result<Invocation, String> {
    let matches = command().try_get_matches_from(&args).map_err(|e| usage_error(&args, &e))?;
    if matches.get_flag("help") {
        return Ok(Invocation::Help);
    }
    let socket = match matches.get_one::<OsString>("socket") {
        None => return Err("missing -S PATH (the control socket of the daemon)".to_owned()),
        Some(s) if s.is_empty() => return Err("empty socket path given to -S".to_owned()),
        Some(s) => PathBuf::from(s),
    };
    let timeout_arg = matches.get_one::<OsString>("timeout").cloned().unwrap_or_else(|| DEFAULT_TIMEOUT.into());
    let timeout = parse_timeout(&timeout_arg).ok_or_else(|| {
        format!("invalid --timeout '{}': expected a positive number of seconds", timeout_arg.to_string_lossy())
    })?;
    let words: Vec<&OsString> = matches.get_many::<OsString>("command").map(Iterator::collect).unwrap_or_default();
    let request = match words.as_slice() {
        [] => Request::Stdin,
        [word] if *word == "status" => Request::Status,
        [first, ..] if *first == "status" => return Err("status takes no arguments".to_owned()),
        words => {
            if words.iter().any(|w| w.as_bytes().contains(&b'\n')) {
                return Err("a command argument contains a newline; send several commands through stdin".to_owned());
            }
            Request::Line(words.iter().map(|w| w.as_bytes()).collect::<Vec<_>>().join(&b'\t'))
        }
    };
    Ok(Invocation::Run(Options { socket, timeout, request }))
}

/// A positive, finite number of seconds (fractions allowed).
fn parse_timeout(arg: &OsStr) -> Option<Duration> {
    let secs: f64 = arg.to_str()?.trim().parse().ok()?;
    if !secs.is_finite() || secs <= 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// A one-line message for a clap error. clap is built without its
/// `error-context` feature, so the offending word is found by parsing
/// ever longer prefixes of the arguments.
fn usage_error(args: &[OsString], err: &clap::Error) -> String {
    let first_failing = |accept: &dyn Fn(usize) -> bool| {
        (1..=args.len()).find(|&k| {
            command().try_get_matches_from(&args[..k]).err().is_some_and(|e| e.kind() == err.kind()) && accept(k)
        })
    };
    match err.kind() {
        ErrorKind::UnknownArgument => match first_failing(&|_| true) {
            Some(k) => format!("unknown option '{}'", args[k - 1].to_string_lossy()),
            None => "unknown option".to_owned(),
        },
        // A prefix that cuts an option from its value fails the same way;
        // the real culprit is followed by nothing or by another option.
        ErrorKind::InvalidValue | ErrorKind::NoEquals => {
            let at_end = |k: usize| args.get(k).is_none_or(|next| next.as_bytes().starts_with(b"-"));
            match first_failing(&at_end) {
                Some(k) => format!("option '{}' needs a value", args[k - 1].to_string_lossy()),
                None => "an option is missing its value".to_owned(),
            }
        }
        _ => {
            let text = err.to_string();
            let line = text.lines().next().unwrap_or_default();
            line.strip_prefix("error: ").unwrap_or(line).to_owned()
        }
    }
}

/// An early end: exit status and message (empty: nothing to print).
struct Failure {
    status: i32,
    message: String,
}

fn fail(status: i32, message: impl Into<String>) -> Failure {
    Failure { status, message: message.into() }
}

/// An error's text without Rust's ` (os error N)` suffix.
fn error_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(_) => daemonproxy_core::process::error_text(e),
        None => e.to_string(),
    }
}

/// Connects, with a message that says what to do next on failure.
fn connect(path: &Path) -> Result<UnixStream, Failure> {
    UnixStream::connect(path).map_err(|e| {
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
        fail(EXIT_CONNECT, format!("cannot connect to {shown}: {} ({hint})", error_text(&e)))
    })
}

/// What the main thread receives, in order.
enum Msg {
    /// A line from the daemon, without its LF.
    Line(Vec<u8>),
    /// End of the daemon's output.
    Eof,
    /// Reading from the daemon failed.
    ReadError(io::Error),
    /// This command line is about to be sent.
    Sent(Vec<u8>),
    /// Every command and the final sync token were sent.
    AllSent,
    /// Sending failed.
    WriteError(io::Error),
    /// Reading stdin failed.
    StdinError(io::Error),
}

/// Where the command lines come from.
enum Source {
    Lines(Vec<Vec<u8>>),
    Stdin,
}

/// Reads lines from the daemon until EOF or an error.
fn spawn_reader(stream: UnixStream, tx: Sender<Msg>) {
    thread::spawn(move || {
        let mut r = BufReader::new(stream);
        loop {
            let mut line = Vec::new();
            let msg = match r.read_until(b'\n', &mut line) {
                Ok(0) => Msg::Eof,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    Msg::Line(line)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Msg::ReadError(e),
            };
            let end = !matches!(msg, Msg::Line(_));
            if tx.send(msg).is_err() || end {
                return;
            }
        }
    });
}

/// Sends the command lines, then `sync` (the `echo` line of the token).
fn spawn_writer(mut stream: UnixStream, source: Source, sync: Vec<u8>, tx: Sender<Msg>) {
    thread::spawn(move || {
        let mut send = |line: Vec<u8>, report: bool| -> io::Result<()> {
            let mut bytes = line.clone();
            bytes.push(b'\n');
            if report {
                // Reported before writing, so it is received before any reply.
                let _ = tx.send(Msg::Sent(line));
            }
            stream.write_all(&bytes)
        };
        let result = match source {
            Source::Lines(lines) => lines.into_iter().try_for_each(|l| send(l, true)),
            Source::Stdin => {
                let mut stdin = io::stdin().lock();
                loop {
                    let mut line = Vec::new();
                    match stdin.read_until(b'\n', &mut line) {
                        Ok(0) => break Ok(()),
                        Ok(_) => {
                            if line.last() == Some(&b'\n') {
                                line.pop();
                            }
                            if let Err(e) = send(line, true) {
                                break Err(e);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Msg::StdinError(e));
                            return;
                        }
                    }
                }
            }
        };
        let result = result.and_then(|()| send(sync, false));
        let _ = tx.send(match result {
            Ok(()) => Msg::AllSent,
            Err(e) => Msg::WriteError(e),
        });
    });
}

/// The commands sent so far, to tell which `error` lines answer them
/// (§3.10, §3.3, §3.5) from errors broadcast for other reasons (§0.5).
#[derive(Default)]
struct Sent {
    /// `, for command "LINE30"` of each line sent.
    quotes: HashSet<Vec<u8>>,
    /// `Unknown command: NAME` of each line sent.
    unknown: HashSet<Vec<u8>>,
    /// Whether a line over the length limit was sent.
    too_long: bool,
    /// Whether `exit` or `terminate` was sent: the connection may end
    /// before the sync token comes back.
    may_close: bool,
}

const FOR_COMMAND: &[u8] = b", for command \"";

impl Sent {
    fn add(&mut self, line: &[u8]) {
        let mut quote = FOR_COMMAND.to_vec();
        quote.extend_from_slice(&line[..line.len().min(ERROR_QUOTE_LEN)]);
        if line.len() >= ERROR_QUOTE_LEN {
            quote.extend_from_slice(b"...");
        }
        quote.push(b'"');
        self.quotes.insert(quote);
        let name = line.split(|&b| b == b'\t').next().unwrap_or_default();
        self.unknown.insert([&b"Unknown command: "[..], name].concat());
        self.too_long |= line.len() > MAX_LINE;
        self.may_close |= matches!(name, b"exit" | b"terminate");
    }

    /// Whether an error event's message answers a command sent.
    fn is_reply(&self, message: &[u8]) -> bool {
        (self.too_long && message == b"line too long")
            || self.unknown.contains(message)
            || (0..message.len()).any(|i| message[i..].starts_with(FOR_COMMAND) && self.quotes.contains(&message[i..]))
    }
}

/// Prints what the daemon sends, line by line.
struct RawOutput {
    out: io::StdoutLock<'static>,
    failed: bool,
    overflow: bool,
}

/// What the main thread does with the lines before the token.
enum Sink {
    Raw(RawOutput),
    Status(Box<status::Snapshot>),
}

/// A sync token nobody else would send.
fn token() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("daemonproxy-ctl-sync-{}-{nanos:x}", std::process::id())
}

fn echo(token: &str) -> Vec<u8> {
    format!("echo\t{token}").into_bytes()
}

fn run(opts: &Options) -> Result<i32, Failure> {
    let stream = connect(&opts.socket)?;
    let sock_err = |e: io::Error| fail(EXIT_CONNECT, format!("{}: {}", opts.socket.display(), error_text(&e)));
    // A daemon that stops reading must not block the writer forever.
    stream.set_write_timeout(Some(opts.timeout)).map_err(sock_err)?;
    let reader = stream.try_clone().map_err(sock_err)?;
    let token = token();
    let begin = format!("{token}-begin");
    let (source, mut sink) = match &opts.request {
        Request::Line(line) => (Source::Lines(vec![line.clone()]), raw_sink()),
        Request::Stdin => (Source::Stdin, raw_sink()),
        // The begin token separates the signal events sent to every new
        // connection (§4.4) from the dump.
        Request::Status => (
            Source::Lines(vec![echo(&begin), b"statedump".to_vec()]),
            Sink::Status(Box::new(status::Snapshot::new(begin.into_bytes()))),
        ),
    };
    let (tx, rx) = mpsc::channel();
    spawn_reader(reader, tx.clone());
    spawn_writer(stream, source, echo(&token), tx);
    receive(opts, &rx, token.as_bytes(), &mut sink)?;
    match sink {
        Sink::Raw(raw) => {
            if raw.overflow {
                return Err(fail(EXIT_FAILED, "events were lost (overflow): the output above is incomplete"));
            }
            Ok(if raw.failed { EXIT_FAILED } else { EXIT_OK })
        }
        Sink::Status(snapshot) => {
            let mut out = io::stdout().lock();
            match out.write_all(snapshot.render().as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => {}
                Err(e) => return Err(stdout_failure(&e)),
            }
            for line in &snapshot.malformed {
                eprintln!("{PROG}: ignored a malformed line from the daemon: {}", String::from_utf8_lossy(line));
            }
            if snapshot.overflow {
                return Err(fail(EXIT_FAILED, "events were lost (overflow): the state shown is incomplete"));
            }
            Ok(if snapshot.failed { EXIT_FAILED } else { EXIT_OK })
        }
    }
}

fn raw_sink() -> Sink {
    Sink::Raw(RawOutput { out: io::stdout().lock(), failed: false, overflow: false })
}

fn stdout_failure(e: &io::Error) -> Failure {
    if e.kind() == io::ErrorKind::BrokenPipe {
        fail(EXIT_FAILED, "")
    } else {
        fail(EXIT_FAILED, format!("cannot write to stdout: {}", error_text(e)))
    }
}

/// Handles the channel until the sync token, the end of the connection
/// after `exit`, or a failure.
fn receive(opts: &Options, rx: &Receiver<Msg>, token: &[u8], sink: &mut Sink) -> Result<(), Failure> {
    let secs = opts.timeout.as_secs_f64();
    let mut sent = Sent::default();
    let mut deadline: Option<Instant> = None;
    let shown = opts.socket.display();
    let lost = |what: &str| {
        let hint = format!("check the daemon's log; is it still running with -S {shown}?");
        fail(EXIT_CONNECT, format!("{what} before it answered ({hint})"))
    };
    loop {
        let msg = match deadline {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
        };
        let msg = match msg {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                return Err(fail(
                    EXIT_TIMEOUT,
                    format!("no answer from daemonproxy within {secs} s (use --timeout SECS to wait longer)"),
                ))
            }
            Err(RecvTimeoutError::Disconnected) => return Err(lost("the connection ended")),
        };
        match msg {
            Msg::Sent(line) => sent.add(&line),
            // A timeout too large for the clock means no timeout.
            Msg::AllSent => deadline = Instant::now().checked_add(opts.timeout),
            Msg::Line(line) if line == token => return Ok(()),
            Msg::Line(line) => sink.line(&line, &sent)?,
            Msg::Eof if sent.may_close => return Ok(()),
            Msg::ReadError(e) if sent.may_close && e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Msg::WriteError(e) if sent.may_close && is_disconnect(&e) => {}
            Msg::Eof => return Err(lost("daemonproxy closed the connection")),
            Msg::ReadError(e) => return Err(lost(&format!("reading from the socket failed ({})", error_text(&e)))),
            Msg::WriteError(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(fail(
                    EXIT_TIMEOUT,
                    format!("daemonproxy did not accept commands for {secs} s (use --timeout SECS to wait longer)"),
                ))
            }
            Msg::WriteError(e) => return Err(lost(&format!("sending failed ({})", error_text(&e)))),
            Msg::StdinError(e) => return Err(fail(EXIT_FAILED, format!("cannot read stdin: {}", error_text(&e)))),
        }
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset)
}

impl Sink {
    fn line(&mut self, line: &[u8], sent: &Sent) -> Result<(), Failure> {
        match self {
            Sink::Raw(raw) => {
                match Event::parse(line) {
                    Ok(Event::Error { message }) if sent.is_reply(message) => raw.failed = true,
                    Ok(Event::Overflow) => raw.overflow = true,
                    _ => {}
                }
                let r = raw.out.write_all(line).and_then(|()| raw.out.write_all(b"\n")).and_then(|()| raw.out.flush());
                r.map_err(|e| stdout_failure(&e))
            }
            Sink::Status(snapshot) => {
                snapshot.line(line, sent);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn run_opts(words: &[&str]) -> Options {
        match parse(args(words)) {
            Ok(Invocation::Run(o)) => o,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    #[test]
    fn options() {
        let o = run_opts(&["-S", "/s", "service.args", "x", "sleep", "-h"]);
        assert_eq!(o.socket, PathBuf::from("/s"));
        assert_eq!(o.timeout, Duration::from_secs(10));
        assert_eq!(o.request, Request::Line(b"service.args\tx\tsleep\t-h".to_vec()));
        let o = run_opts(&["--timeout", "0.5", "--socket", "/s"]);
        assert_eq!((o.timeout, o.request), (Duration::from_millis(500), Request::Stdin));
        assert_eq!(run_opts(&["-S/s", "status"]).request, Request::Status);
        assert_eq!(run_opts(&["-S", "/a", "-S", "/b", "echo\ta\tb"]).socket, PathBuf::from("/b"));
        assert_eq!(run_opts(&["-S", "/s", "--", "-x", "y"]).request, Request::Line(b"-x\ty".to_vec()));
        assert_eq!(run_opts(&["-S", "/s", "echo", "", "b", ""]).request, Request::Line(b"echo\t\tb\t".to_vec()));
        assert_eq!(parse(args(&["-h"])), Ok(Invocation::Help));
        assert_eq!(parse(args(&["-S", "/s", "--help"])), Ok(Invocation::Help));
    }

    #[test]
    fn usage_errors() {
        let err = |words: &[&str]| parse(args(words)).unwrap_err();
        assert_eq!(err(&[]), "missing -S PATH (the control socket of the daemon)");
        assert_eq!(err(&["-S", "/s", "--bogus", "x"]), "unknown option '--bogus'");
        assert_eq!(err(&["-x"]), "unknown option '-x'");
        assert_eq!(err(&["-S", "/s", "-t"]), "option '-t' needs a value");
        assert_eq!(err(&["-S"]), "option '-S' needs a value");
        assert!(err(&["-S", "/s", "-t", "0"]).starts_with("invalid --timeout '0'"));
        assert!(err(&["-S", "/s", "-t", "nan"]).starts_with("invalid --timeout"));
        assert_eq!(err(&["-S", "/s", "status", "x"]), "status takes no arguments");
        assert!(err(&["-S", "/s", "echo", "a\nb"]).contains("newline"));
        assert_eq!(err(&["-S", ""]), "empty socket path given to -S");
    }

    #[test]
    fn help_lists_each_option_with_its_default() {
        let text = help_text();
        assert!(text
            .contains("\n  -S, --socket PATH   Control socket of the daemon (its -S PATH) [required, no default]\n"));
        assert!(text
            .contains("\n  -t, --timeout SECS  Seconds to wait for the answer after the last command [default: 10]\n"));
        assert!(text.contains("\n  -h, --help          Print this help and exit [default: off]\n"));
        assert!(text.contains("  4  the daemon did not answer within the timeout\n"));
    }

    #[test]
    fn replies_are_told_from_broadcast_errors() {
        let mut sent = Sent::default();
        sent.add(b"service.delete\tnosuch");
        sent.add(b"service.args\tnnnnnnnnnnnnnnnn!\tx");
        sent.add(b"bogus\tx");
        assert!(sent.is_reply(b"No such service, for command \"service.delete\tnosuch\""));
        assert!(sent.is_reply(b"Invalid service name, for command \"service.args\tnnnnnnnnnnnnnnnn!...\""));
        assert!(sent.is_reply(b"Unknown command: bogus"));
        assert!(!sent.is_reply(b"service foo: exec \"/no/such\" failed: No such file or directory"));
        assert!(!sent.is_reply(b"line too long"));
        assert!(!sent.is_reply(b"No such service, for command \"service.delete\tother\""));
        sent.add(&[b'x'; 1024]);
        assert!(sent.is_reply(b"line too long"));
        assert!(!sent.may_close);
        sent.add(b"exit");
        assert!(sent.may_close);
    }
}
