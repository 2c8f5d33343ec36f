//! The `ctl` command line: one clap table defines every option and verb;
//! [`parse`] reads the words with it and [`help_text`] renders `--help`
//! from it, so the two cannot drift.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Command};
use daemonproxy_proto::Name;

/// The environment variable that gives the socket when `-S` does not.
pub(super) const SOCKET_ENV: &str = "DAEMONPROXY_SOCKET";

/// Default `--timeout`, in seconds.
const DEFAULT_TIMEOUT: &str = "10";
/// Default `--kill-after` and `shutdown` TIMEOUT, in seconds.
const DEFAULT_KILL_AFTER: &str = "10";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub(super) enum Invocation {
    Help,
    Run(Options),
}

/// What to do once connected.
#[derive(Debug, PartialEq)]
pub(super) enum Request {
    /// Send one protocol command line.
    Line(Vec<u8>),
    /// Send the command lines read from stdin.
    Stdin,
    /// Show the state, as tables or JSON.
    Status { json: bool },
    /// Start a service and wait for its exec.
    Start { name: String },
    /// Stop a service: TERM, then KILL after `kill_after`.
    Stop { name: String, kill_after: Duration },
    /// Stop, then start.
    Restart { name: String, kill_after: Duration },
    /// Print events with their time until the connection ends.
    Follow,
    /// Stop every service, then terminate the daemon.
    Shutdown { kill_after: Duration, guard: Option<i64> },
}

/// The parsed `ctl` command line.
#[derive(Debug, PartialEq)]
pub(super) struct Options {
    pub(super) socket: PathBuf,
    pub(super) timeout: Duration,
    pub(super) request: Request,
}

// ----------------------------------------------------------- the table

fn socket_arg() -> Arg {
    Arg::new("socket")
        .short('S')
        .long("socket")
        .value_name("PATH")
        .value_parser(clap::value_parser!(OsString))
        .help("Control socket of the daemon (its -S PATH) [default: $DAEMONPROXY_SOCKET]")
}

fn timeout_arg() -> Arg {
    Arg::new("timeout")
        .short('t')
        .long("timeout")
        .value_name("SECS")
        .value_parser(clap::value_parser!(OsString))
        .default_value(DEFAULT_TIMEOUT)
        .help("Seconds to wait for each answer of the daemon")
}

fn help_arg() -> Arg {
    Arg::new("help").short('h').long("help").action(ArgAction::SetTrue).help("Print this help and exit [default: off]")
}

fn json_arg() -> Arg {
    Arg::new("json").long("json").action(ArgAction::SetTrue).help("Print the state as JSON [default: off]")
}

fn kill_after_arg() -> Arg {
    Arg::new("kill-after")
        .long("kill-after")
        .value_name("SECS")
        .value_parser(clap::value_parser!(OsString))
        .default_value(DEFAULT_KILL_AFTER)
        .help("Seconds to wait after TERM before sending KILL")
}

fn guard_arg() -> Arg {
    Arg::new("guard")
        .long("guard")
        .value_name("CODE")
        .value_parser(clap::value_parser!(OsString))
        .help("The daemon's terminate guard code (PID 1 has guard 1) [default: none]")
}

/// NAME is checked by [`name`], not by clap, so that `stop --help` is
/// not a missing NAME.
fn name_arg() -> Arg {
    Arg::new("name").value_name("NAME").value_parser(clap::value_parser!(OsString))
}

fn shutdown_timeout_arg() -> Arg {
    Arg::new("grace")
        .value_name("TIMEOUT")
        .value_parser(clap::value_parser!(OsString))
        .default_value(DEFAULT_KILL_AFTER)
}

/// A verb: its own options and operands, and what it does (the first
/// line of `about` is the summary; further lines continue it in `--help`).
fn verb(name: &'static str, about: &'static str) -> Command {
    Command::new(name).about(about).disable_help_flag(true).disable_version_flag(true).args_override_self(true)
}

/// clap's description of `ctl`: the options, and the verbs with theirs.
/// Options given before the verb or protocol command apply to all.
pub(crate) fn command() -> Command {
    Command::new("daemonproxy ctl")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .args_override_self(true)
        .arg(socket_arg().global(true))
        .arg(timeout_arg().global(true))
        .arg(help_arg().global(true))
        .subcommand(
            verb(
                "status",
                "Show each service (state, pid, uptime, next\n\
             start, last exit), the handles and the pending\n\
             signals; --json for scripts.",
            )
            .arg(json_arg()),
        )
        .subcommand(
            verb(
                "start",
                "Start NAME and wait for its exec: fail if, within\n\
             1 s of `up`, the daemon reports that the program\n\
             could not be executed (its exec error event, or\n\
             `down` with exit status 3).",
            )
            .arg(name_arg()),
        )
        .subcommand(
            verb(
                "stop",
                "Clear NAME's auto_up triggers, cancel a pending\n\
             start, send TERM to its process group and wait\n\
             for `down`; KILL the group after --kill-after\n\
             seconds.",
            )
            .arg(kill_after_arg())
            .arg(name_arg()),
        )
        .subcommand(
            verb(
                "restart",
                "stop, then start; then set the auto_up triggers\n\
             again.",
            )
            .arg(kill_after_arg())
            .arg(name_arg()),
        )
        .subcommand(verb(
            "follow",
            "Print every event with the local time it was\n\
             received, until interrupted or the daemon closes\n\
             the connection.",
        ))
        .subcommand(
            verb(
                "shutdown",
                "Stop every service as stop does (KILL after\n\
             TIMEOUT seconds), then `terminate 0`; with\n\
             --guard, clear the terminate guard first.",
            )
            .arg(guard_arg())
            .arg(shutdown_timeout_arg()),
        )
        .arg(
            Arg::new("command")
                .value_name("COMMAND")
                .num_args(1..)
                .trailing_var_arg(true)
                .value_parser(clap::value_parser!(OsString)),
        )
}

// -------------------------------------------------------------- parsing

/// Parses the words after `ctl`; `env_socket` is `$DAEMONPROXY_SOCKET`.
pub(super) fn parse(args: Vec<OsString>, env_socket: Option<OsString>) -> Result<Invocation, String> {
    let matches = command().try_get_matches_from(&args).map_err(|e| usage_error(&args, &e))?;
    let verb = matches.subcommand();
    let sub = verb.map_or(&matches, |(_, m)| m);
    if sub.get_flag("help") {
        return Ok(Invocation::Help);
    }
    let socket = match sub.get_one::<OsString>("socket") {
        Some(s) if s.is_empty() => return Err("empty socket path given to -S".to_owned()),
        Some(s) => PathBuf::from(s),
        None => match env_socket.filter(|s| !s.is_empty()) {
            Some(s) => PathBuf::from(s),
            None => {
                return Err(format!("no control socket: give -S PATH (the daemon's -S PATH) or set {SOCKET_ENV}=PATH"))
            }
        },
    };
    let timeout = seconds(sub, "timeout", "--timeout", false)?;
    let request = match verb {
        Some(("status", m)) => Request::Status { json: m.get_flag("json") },
        Some(("start", m)) => Request::Start { name: name("start", m)? },
        Some(("stop", m)) => {
            Request::Stop { name: name("stop", m)?, kill_after: seconds(m, "kill-after", "--kill-after", true)? }
        }
        Some(("restart", m)) => {
            Request::Restart { name: name("restart", m)?, kill_after: seconds(m, "kill-after", "--kill-after", true)? }
        }
        Some(("follow", _)) => Request::Follow,
        Some(("shutdown", m)) => Request::Shutdown {
            kill_after: seconds(m, "grace", "TIMEOUT", true)?,
            guard: m.get_one::<OsString>("guard").map(|g| guard(g)).transpose()?,
        },
        _ => protocol_line(&matches)?,
    };
    Ok(Invocation::Run(Options { socket, timeout, request }))
}

/// The protocol command line of the positional words, or stdin.
fn protocol_line(matches: &ArgMatches) -> Result<Request, String> {
    let words: Vec<&OsString> = matches.get_many::<OsString>("command").map(Iterator::collect).unwrap_or_default();
    if words.is_empty() {
        return Ok(Request::Stdin);
    }
    if words.iter().any(|w| w.as_bytes().contains(&b'\n')) {
        return Err("a command argument contains a newline; send several commands through stdin".to_owned());
    }
    Ok(Request::Line(words.iter().map(|w| w.as_bytes()).collect::<Vec<_>>().join(&b'\t')))
}

fn name(verb: &str, m: &ArgMatches) -> Result<String, String> {
    let Some(raw) = m.get_one::<OsString>("name").map(|n| n.as_bytes()) else {
        return Err(format!("{verb} needs a service NAME"));
    };
    match Name::new(raw) {
        Some(n) => Ok(n.as_str().to_owned()),
        None => Err(format!("invalid service name '{}': 1 to 31 of A-Z a-z 0-9 . _ -", String::from_utf8_lossy(raw))),
    }
}

/// A number of seconds (fractions allowed): positive, or also zero when
/// `zero_ok`.
fn seconds(m: &ArgMatches, id: &str, shown: &str, zero_ok: bool) -> Result<Duration, String> {
    let arg = m.get_one::<OsString>(id).map_or(OsStr::new(""), OsString::as_os_str);
    parse_seconds(arg, zero_ok).ok_or_else(|| {
        let what = if zero_ok { "a number of seconds" } else { "a positive number of seconds" };
        format!("invalid {shown} '{}': expected {what}", arg.to_string_lossy())
    })
}

fn parse_seconds(arg: &OsStr, zero_ok: bool) -> Option<Duration> {
    let secs: f64 = arg.to_str()?.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 || (secs == 0.0 && !zero_ok) {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

fn guard(arg: &OsStr) -> Result<i64, String> {
    match arg.to_str().and_then(|s| s.parse::<i64>().ok()) {
        Some(code) if code != 0 => Ok(code),
        _ => Err(format!("invalid --guard '{}': expected a nonzero integer", arg.to_string_lossy())),
    }
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
    let word = |k: usize| args[k - 1].to_string_lossy().into_owned();
    match err.kind() {
        ErrorKind::UnknownArgument => match first_failing(&|_| true) {
            Some(k) if args[k - 1].as_bytes().starts_with(b"-") => format!("unknown option '{}'", word(k)),
            Some(k) => format!("unexpected argument '{}'", word(k)),
            None => "unknown option".to_owned(),
        },
        // A prefix that cuts an option from its value fails the same way;
        // the real culprit is followed by nothing or by another option.
        ErrorKind::InvalidValue | ErrorKind::NoEquals => {
            let at_end = |k: usize| args.get(k).is_none_or(|next| next.as_bytes().starts_with(b"-"));
            match first_failing(&at_end) {
                Some(k) => format!("option '{}' needs a value", word(k)),
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

// ----------------------------------------------------------------- help

/// One line of the option list: `-S, --socket PATH` and its help, with
/// the default and, for a verb's option, the verbs that take it.
fn option_line(arg: &Arg, verbs: &[&str]) -> (String, String) {
    let short = arg.get_short().map_or_else(|| "    ".to_owned(), |c| format!("-{c}, "));
    let long = arg.get_long().map(|l| format!("--{l}")).unwrap_or_default();
    let value = arg.get_value_names().and_then(|v| v.first()).map(|v| format!(" {v}")).unwrap_or_default();
    let mut help = arg.get_help().map(ToString::to_string).unwrap_or_default();
    if let Some(d) = arg.get_default_values().first() {
        help.push_str(&format!(" [default: {}]", d.to_string_lossy()));
    }
    if !verbs.is_empty() {
        help = format!("{}: {help}", verbs.join(", "));
    }
    (format!("{short}{long}{value}"), help)
}

/// `stop [--kill-after SECS] NAME`.
fn verb_usage(verb: &Command) -> String {
    let mut usage = verb.get_name().to_owned();
    for arg in verb.get_arguments() {
        let value = arg.get_value_names().and_then(|v| v.first()).map(ToString::to_string).unwrap_or_default();
        let word = match arg.get_long() {
            Some(long) if value.is_empty() => format!("[--{long}]"),
            Some(long) => format!("[--{long} {value}]"),
            None if arg.get_default_values().is_empty() => value,
            None => format!("[{value}]"),
        };
        usage.push(' ');
        usage.push_str(&word);
    }
    usage
}

/// Two columns: `left` padded to `width`, `right` continued on lines of
/// its own, indented to the same column; a `left` too wide for the
/// column gets the text on the next line.
fn columns(rows: &[(String, String)], width: usize) -> String {
    let mut out = String::new();
    for (left, right) in rows {
        let mut lines = right.lines();
        if left.len() > width {
            out.push_str(&format!("  {left}\n"));
        } else {
            out.push_str(&format!("  {left:<width$}  {}\n", lines.next().unwrap_or_default()));
        }
        for line in lines {
            out.push_str(&format!("  {:width$}  {line}\n", ""));
        }
    }
    out
}

/// The `ctl --help` text.
pub(super) fn help_text() -> String {
    let cmd = command();
    let verbs: Vec<&Command> = cmd.get_subcommands().collect();
    let verb_rows: Vec<(String, String)> =
        verbs.iter().map(|v| (verb_usage(v), v.get_about().map(ToString::to_string).unwrap_or_default())).collect();
    let mut option_rows = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
        option_rows.push(option_line(arg, &[]));
    }
    let mut seen = Vec::new();
    for verb in &verbs {
        for arg in verb.get_arguments().filter(|a| !a.is_positional() && !a.is_global_set()) {
            if seen.contains(&arg.get_id()) {
                continue;
            }
            seen.push(arg.get_id());
            let users: Vec<&str> = verbs
                .iter()
                .filter(|v| v.get_arguments().any(|a| a.get_id() == arg.get_id() && !a.is_positional()))
                .map(|v| v.get_name())
                .collect();
            option_rows.push(option_line(arg, &users));
        }
    }
    let width = option_rows.iter().map(|(o, _)| o.len()).max().unwrap_or(0);
    format!(
        "Usage: daemonproxy ctl [OPTION...] [COMMAND [ARG...]]
       daemonproxy ctl [OPTION...] VERB [OPTION...] [ARG...]

Talk to a running daemonproxy through its control socket (daemonproxy -S PATH),
given with -S PATH or in ${SOCKET_ENV}.

Protocol commands (docs/protocol.md):
{commands}
Verbs:
{verbs}
Options (before a COMMAND, use -- before one that starts with -; before or
after a VERB):
{options}
Exit status:
  0  success
  1  the daemon reported an error for a command sent (the error line is
     printed), a started program could not be executed, or events were
     lost (overflow)
  2  usage error
  3  cannot connect to the control socket, or the connection was lost
  4  the daemon did not answer within the timeout
  5  stop, restart or shutdown had to send KILL
",
        commands = columns(
            &[
                (
                    "COMMAND [ARG...]".to_owned(),
                    "Send one command line (COMMAND and ARGs joined by\n\
                     TAB; a single word that contains TABs is sent as it\n\
                     is), then print every line received until the\n\
                     daemon has executed it: replies, errors and any\n\
                     events broadcast meanwhile. `service.start NAME`\n\
                     then waits for the exec as the start verb does."
                        .to_owned()
                ),
                (
                    "(no COMMAND)".to_owned(),
                    "Send the command lines read from stdin, one at a\n\
                     time, printing what each produced before the next\n\
                     is read."
                        .to_owned()
                ),
            ],
            16
        ),
        verbs = columns(&verb_rows, 24),
        options = columns(&option_rows, width),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn run_opts(words: &[&str]) -> Options {
        match parse(args(words), None) {
            Ok(Invocation::Run(o)) => o,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    fn request(words: &[&str]) -> Request {
        run_opts(words).request
    }

    fn err(words: &[&str]) -> String {
        parse(args(words), None).unwrap_err()
    }

    const TEN: Duration = Duration::from_secs(10);

    #[test]
    fn protocol_commands() {
        let o = run_opts(&["-S", "/s", "service.args", "x", "sleep", "-h"]);
        assert_eq!(o.socket, PathBuf::from("/s"));
        assert_eq!(o.timeout, TEN);
        assert_eq!(o.request, Request::Line(b"service.args\tx\tsleep\t-h".to_vec()));
        let o = run_opts(&["--timeout", "0.5", "--socket", "/s"]);
        assert_eq!((o.timeout, o.request), (Duration::from_millis(500), Request::Stdin));
        assert_eq!(run_opts(&["-S", "/a", "-S", "/b", "echo\ta\tb"]).socket, PathBuf::from("/b"));
        assert_eq!(request(&["-S", "/s", "--", "-x", "y"]), Request::Line(b"-x\ty".to_vec()));
        assert_eq!(request(&["-S", "/s", "echo", "", "b", ""]), Request::Line(b"echo\t\tb\t".to_vec()));
        // A verb's name later in a protocol command is just a word.
        assert_eq!(request(&["-S/s", "echo", "status"]), Request::Line(b"echo\tstatus".to_vec()));
        assert_eq!(parse(args(&["-h"]), None), Ok(Invocation::Help));
        assert_eq!(parse(args(&["-S", "/s", "--help"]), None), Ok(Invocation::Help));
    }

    #[test]
    fn verbs() {
        assert_eq!(request(&["-S/s", "status"]), Request::Status { json: false });
        assert_eq!(request(&["-S/s", "status", "--json"]), Request::Status { json: true });
        assert_eq!(request(&["status", "-S/s", "--json"]), Request::Status { json: true });
        assert_eq!(request(&["-S/s", "start", "web"]), Request::Start { name: "web".into() });
        assert_eq!(request(&["-S/s", "stop", "web"]), Request::Stop { name: "web".into(), kill_after: TEN });
        assert_eq!(
            request(&["-S/s", "stop", "--kill-after", "2.5", "web"]),
            Request::Stop { name: "web".into(), kill_after: Duration::from_millis(2500) }
        );
        assert_eq!(
            request(&["-S/s", "restart", "web", "--kill-after=0"]),
            Request::Restart { name: "web".into(), kill_after: Duration::ZERO }
        );
        assert_eq!(request(&["-S/s", "follow"]), Request::Follow);
        assert_eq!(request(&["-S/s", "shutdown"]), Request::Shutdown { kill_after: TEN, guard: None });
        assert_eq!(
            request(&["-S/s", "shutdown", "3", "--guard", "1"]),
            Request::Shutdown { kill_after: Duration::from_secs(3), guard: Some(1) }
        );
        let o = run_opts(&["stop", "web", "-t", "2", "-S", "/s"]);
        assert_eq!((o.socket, o.timeout), (PathBuf::from("/s"), Duration::from_secs(2)));
        assert_eq!(parse(args(&["stop", "--help"]), None), Ok(Invocation::Help));
    }

    #[test]
    fn socket_from_the_environment() {
        let env = |words: &[&str], value: &str| parse(args(words), Some(value.into()));
        match env(&["status"], "/env/sock") {
            Ok(Invocation::Run(o)) => assert_eq!(o.socket, PathBuf::from("/env/sock")),
            other => panic!("{other:?}"),
        }
        match env(&["-S", "/given", "status"], "/env/sock") {
            Ok(Invocation::Run(o)) => assert_eq!(o.socket, PathBuf::from("/given"), "-S wins"),
            other => panic!("{other:?}"),
        }
        let missing = "no control socket: give -S PATH (the daemon's -S PATH) or set DAEMONPROXY_SOCKET=PATH";
        assert_eq!(env(&["status"], "").unwrap_err(), missing, "empty is unset");
        assert_eq!(err(&["echo", "x"]), missing);
        assert_eq!(err(&[]), missing);
    }

    #[test]
    fn usage_errors() {
        assert_eq!(err(&["-S", "/s", "--bogus", "x"]), "unknown option '--bogus'");
        assert_eq!(err(&["-x"]), "unknown option '-x'");
        assert_eq!(err(&["-S", "/s", "-t"]), "option '-t' needs a value");
        assert_eq!(err(&["-S"]), "option '-S' needs a value");
        assert!(err(&["-S", "/s", "-t", "0"]).starts_with("invalid --timeout '0'"));
        assert!(err(&["-S", "/s", "-t", "nan"]).starts_with("invalid --timeout"));
        assert_eq!(err(&["-S", "/s", "status", "x"]), "unexpected argument 'x'");
        assert_eq!(err(&["-S", "/s", "status", "--kill-after", "1"]), "unknown option '--kill-after'");
        assert!(err(&["-S", "/s", "echo", "a\nb"]).contains("newline"));
        assert_eq!(err(&["-S", ""]), "empty socket path given to -S");
        assert_eq!(err(&["-S", "/s", "stop"]), "stop needs a service NAME");
        assert_eq!(err(&["-S", "/s", "stop", "--kill-after", "-1", "x"]), "unknown option '-1'");
        assert_eq!(err(&["-S", "/s", "start", "a", "b"]), "unexpected argument 'b'");
        assert!(err(&["-S", "/s", "start", "bad name"]).starts_with("invalid service name 'bad name'"));
        assert!(err(&["-S", "/s", "stop", "--kill-after=-1", "x"]).starts_with("invalid --kill-after '-1'"));
        assert_eq!(err(&["-S", "/s", "shutdown", "soon"]), "invalid TIMEOUT 'soon': expected a number of seconds");
        assert_eq!(err(&["-S", "/s", "shutdown", "--guard", "0"]), "invalid --guard '0': expected a nonzero integer");
    }

    #[test]
    fn help_is_rendered_from_the_table() {
        let text = help_text();
        let expect = [
            "\n  -S, --socket PATH      Control socket of the daemon (its -S PATH) [default: $DAEMONPROXY_SOCKET]\n",
            "\n  -t, --timeout SECS     Seconds to wait for each answer of the daemon [default: 10]\n",
            "\n  -h, --help             Print this help and exit [default: off]\n",
            "\n      --json             status: Print the state as JSON [default: off]\n",
            "\n      --kill-after SECS  stop, restart: Seconds to wait after TERM before sending KILL [default: 10]\n",
            "\n  status [--json]           Show each service (state, pid, uptime, next\n",
            "\n  stop [--kill-after SECS] NAME\n                            Clear NAME's auto_up triggers, cancel a pending\n",
            "\n  shutdown [--guard CODE] [TIMEOUT]\n",
            "  5  stop, restart or shutdown had to send KILL\n",
        ];
        for e in expect {
            assert!(text.contains(e), "missing {e:?} in:\n{text}");
        }
        // Every option of the table is listed, each once.
        for long in ["--socket", "--timeout", "--help", "--json", "--kill-after", "--guard"] {
            assert_eq!(text.matches(&format!("  {long} ")).count() + text.matches(&format!(", {long} ")).count(), 1);
        }
    }

    #[test]
    fn seconds_are_parsed() {
        assert_eq!(parse_seconds(OsStr::new(" 1.5 "), false), Some(Duration::from_millis(1500)));
        assert_eq!(parse_seconds(OsStr::new("0"), true), Some(Duration::ZERO));
        for bad in ["0", "-1", "inf", "nan", "", "1e400", "x"] {
            assert_eq!(parse_seconds(OsStr::new(bad), false), None, "{bad}");
        }
    }
}
