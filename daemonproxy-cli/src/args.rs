//! The command line of the original daemonproxy (protocol.md §8), on clap.
//!
//! clap's [`Command`] built by [`command`] is the single source of truth for
//! the option names, value names and help lines; `--help` is rendered from it
//! in the original's exact layout by [`help_text`]. clap's own parser is not
//! used, because the original's rules differ from clap's: arguments are
//! processed strictly left to right and each option takes effect when it is
//! reached (help and version print and exit at that point, warnings are logged
//! at that point, `-E` before `--help` makes help exec), a short option needing
//! an argument takes the *next word* even inside a cluster (`-cS FILE PATH`),
//! there is no `--opt=value`, and with a terminate guard set every error is
//! logged and processing goes on. So a small tokenizer expands clusters using
//! the option table of the clap `Command`, and [`parse`] turns the tokens into
//! a list of [`Step`]s that the caller executes in order.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use clap::{Arg, ArgAction, Command};
use daemonproxy_core::process::error_text;
use daemonproxy_core::proto::Signal;

/// Exit status of `--help` and `--version` (EXIT_NO_OP).
pub const EXIT_NO_OP: i32 = 1;
/// Exit status of option errors (EXIT_BAD_OPTIONS).
pub const EXIT_BAD_OPTIONS: i32 = 2;

/// This program's version, the `X.Y.Z` of `daemonproxy version X.Y.Z`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Unix seconds of the build (from `build.rs`).
const BUILD_TIMESTAMP: &str = env!("DAEMONPROXY_BUILD_TIMESTAMP");
/// Year of the build, the end of the copyright range (from `build.rs`).
const BUILD_YEAR: &str = env!("DAEMONPROXY_BUILD_YEAR");
/// Commit id of the build, or `unknown` (from `build.rs`).
const GIT_HEAD: &str = env!("DAEMONPROXY_GIT_HEAD");
/// Whether the build had uncommitted changes (from `build.rs`).
const GIT_DIRTY: bool = matches!(env!("DAEMONPROXY_GIT_DIRTY").as_bytes(), b"1");
/// First year of the copyright range.
const FIRST_YEAR: u32 = 2026;

/// Config file implied when running as PID 1 (protocol.md §8.4).
const PID1_CONFIG: &str = "/etc/daemonproxy.conf";
/// Terminate guard implied when running as PID 1 (protocol.md §8.4).
const PID1_EXIT_GUARD: i64 = 1;

/// Largest accepted exec-on-exit TSV string, in bytes (protocol.md §8.6).
pub const EXEC_ARGS_MAX: usize = 255;

/// Smallest `--fd-pool` count: the seven built-in handles (protocol.md §8.7).
pub const FD_POOL_COUNT_MIN: usize = 7;
/// Largest `--fd-pool` count (FD_SETSIZE).
pub const FD_POOL_COUNT_MAX: usize = 1024;
/// Smallest `--fd-pool` object size.
pub const FD_OBJ_SIZE_MIN: usize = 32;
/// Largest `--fd-pool` object size (PATH_MAX).
pub const FD_OBJ_SIZE_MAX: usize = 4096;
/// `--fd-pool` object size when `xM` is omitted or empty.
pub const FD_OBJ_SIZE_DEFAULT: usize = 96;
/// Smallest `--service-pool` count.
pub const SERVICE_POOL_COUNT_MIN: usize = 1;
/// Largest `--service-pool` count.
pub const SERVICE_POOL_COUNT_MAX: usize = 65535;
/// Smallest `--service-pool` object size (there is no maximum).
pub const SERVICE_OBJ_SIZE_MIN: usize = 64;
/// `--service-pool` object size when `xM` is omitted or empty.
pub const SERVICE_OBJ_SIZE_DEFAULT: usize = 512;

/// Default log filter (`debug`: info and above are shown), protocol.md §7.1.
pub const LOG_FILTER_DEFAULT: i32 = -1;
/// Lowest log filter (`none`: everything is shown).
pub const LOG_FILTER_MIN: i32 = -3;
/// Highest log filter (`fatal`: nothing is shown).
pub const LOG_FILTER_MAX: i32 = 3;

const MSG_POOL_SYNTAX: &str = "Expected 'N' or 'NxM' where N and M are integers and M has an optional size suffix";
const MSG_GUARD: &str = "Terminate guard must be an integer";
const MSG_EXEC_TOO_LONG: &str = "exec-on-exit arguments exceed buffer size";
const MSG_REQUIRE: &str = "require -i or -c or -S";
const MSG_CHECK_REQUIRES: &str = "--check requires -c FILENAME";
const MSG_MAX_CONNECTIONS: &str = "Max connections must be a positive integer";
const MSG_REEXEC_SIGNAL: &str =
    "Reexec signal must be one of HUP, INT, QUIT, USR1, USR2, ALRM, TERM, WINCH, URG, PWR (with or without SIG)";

/// The signals `--reexec-signal` accepts: catchable, not the fatal faults
/// (their handlers are the last resort), not SIGCHLD or SIGPIPE.
const REEXEC_SIGNALS: [&str; 10] = ["HUP", "INT", "QUIT", "USR1", "USR2", "ALRM", "TERM", "WINCH", "URG", "PWR"];

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run the supervisor: execute these steps in order, then apply
    /// [`Options::check_required`].
    Run(Vec<Step>),
    /// `daemonproxy ctl ARGS...`: the words after `ctl`, not parsed yet.
    Ctl(Vec<OsString>),
}

/// One effect of the command line, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Apply a setting (see [`Options::apply`]).
    Set(Setting),
    /// Log `warning: MESSAGE` (subject to the log filter at that point).
    Warn(String),
    /// Print [`help_text`] to stdout, then take the fatal path with
    /// [`EXIT_NO_OP`] and an empty message.
    Help,
    /// Print [`version_text`] to stdout, then take the fatal path with
    /// [`EXIT_NO_OP`] and an empty message.
    Version,
    /// Take the common fatal path (protocol.md §8.5): exec-on-exit if configured, else
    /// log `fatal: MESSAGE` and exit with `status`, or, with a terminate
    /// guard set, log `fatal: (attempting to continue) MESSAGE` and go on
    /// with the next step.
    Fatal {
        /// Exit status ([`EXIT_BAD_OPTIONS`] for every option error).
        status: i32,
        /// The message, without the `fatal: ` prefix.
        message: String,
    },
}

/// A validated option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `-c FILENAME`: read the command stream from this file (`-` = stdin).
    Config(OsString),
    /// `--check`: check the config file and exit instead of running.
    Check,
    /// `-i`: stdin/stdout are a controller.
    Interactive,
    /// `-S PATH`: create the control socket at PATH.
    Socket(OsString),
    /// `-D`: daemonize after setup.
    Daemonize,
    /// `--exit-guard N`: the terminate guard; 0 clears it.
    ExitGuard(i64),
    /// `-E TSV_ARGS`: exec-on-exit arguments (at most 255 bytes, TAB
    /// separated); empty disables exec-on-exit.
    ExitExec(Vec<u8>),
    /// `--fd-pool NxM`, already clamped.
    FdPool {
        /// Number of handle objects ([`FD_POOL_COUNT_MIN`]..=[`FD_POOL_COUNT_MAX`]).
        count: usize,
        /// Bytes per object ([`FD_OBJ_SIZE_MIN`]..=[`FD_OBJ_SIZE_MAX`]).
        size: usize,
    },
    /// `--service-pool NxM`, already clamped.
    ServicePool {
        /// Number of service objects ([`SERVICE_POOL_COUNT_MIN`]..=[`SERVICE_POOL_COUNT_MAX`]).
        count: usize,
        /// Bytes per object (at least [`SERVICE_OBJ_SIZE_MIN`]).
        size: usize,
    },
    /// `-M`: mlockall after setup.
    Mlockall,
    /// `--max-connections N`: at most N control-socket clients (N ≥ 1).
    MaxConnections(usize),
    /// `--subreaper`: become the child subreaper.
    Subreaper,
    /// `--notify-socket PATH`: the readiness socket's path.
    NotifySocket(OsString),
    /// `--reexec-signal SIG`: re-execute the daemon on this signal.
    ReexecSignal(Signal),
    /// `--log-timestamps`: log lines start with the UTC time.
    LogTimestamps,
    /// `-v`: lower the log filter by one.
    Verbose,
    /// `-q`: raise the log filter by one.
    Quiet,
}

/// The settings accumulated so far; the caller applies each [`Step::Set`] as
/// it is reached (later options override earlier ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-c`: the config file, if any.
    pub config: Option<OsString>,
    /// `--check`.
    pub check: bool,
    /// `-i`.
    pub interactive: bool,
    /// `-S`: the control socket path, if any.
    pub socket: Option<OsString>,
    /// `-D`.
    pub daemonize: bool,
    /// The terminate guard; 0 means none.
    pub exit_guard: i64,
    /// Exec-on-exit TSV arguments; empty means none.
    pub exit_exec: Vec<u8>,
    /// `--fd-pool` as `(count, size)`; `None` means dynamic allocation.
    pub fd_pool: Option<(usize, usize)>,
    /// `--service-pool` as `(count, size)`; `None` means dynamic allocation.
    pub service_pool: Option<(usize, usize)>,
    /// `-M`.
    pub mlockall: bool,
    /// `--max-connections`: the control-socket client limit.
    pub max_connections: usize,
    /// `--subreaper`.
    pub subreaper: bool,
    /// `--notify-socket`: the readiness socket's path, if not abstract.
    pub notify_socket: Option<OsString>,
    /// `--reexec-signal`.
    pub reexec_signal: Option<Signal>,
    /// `--log-timestamps`.
    pub log_timestamps: bool,
    /// The log filter (protocol.md §7.1), clamped to
    /// [`LOG_FILTER_MIN`]..=[`LOG_FILTER_MAX`] at each `-v`/`-q`.
    pub log_filter: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: None,
            check: false,
            interactive: false,
            socket: None,
            daemonize: false,
            exit_guard: 0,
            exit_exec: Vec::new(),
            fd_pool: None,
            service_pool: None,
            mlockall: false,
            max_connections: daemonproxy_core::Options::DEFAULT_MAX_CONNECTIONS,
            subreaper: false,
            notify_socket: None,
            reexec_signal: None,
            log_timestamps: false,
            log_filter: LOG_FILTER_DEFAULT,
        }
    }
}

impl Options {
    /// Applies one setting.
    pub fn apply(&mut self, setting: Setting) {
        match setting {
            Setting::Config(path) => self.config = Some(path),
            Setting::Check => self.check = true,
            Setting::Interactive => self.interactive = true,
            Setting::Socket(path) => self.socket = Some(path),
            Setting::Daemonize => self.daemonize = true,
            Setting::ExitGuard(code) => self.exit_guard = code,
            Setting::ExitExec(args) => self.exit_exec = args,
            Setting::FdPool { count, size } => self.fd_pool = Some((count, size)),
            Setting::ServicePool { count, size } => self.service_pool = Some((count, size)),
            Setting::Mlockall => self.mlockall = true,
            Setting::MaxConnections(n) => self.max_connections = n,
            Setting::Subreaper => self.subreaper = true,
            Setting::NotifySocket(path) => self.notify_socket = Some(path),
            Setting::ReexecSignal(sig) => self.reexec_signal = Some(sig),
            Setting::LogTimestamps => self.log_timestamps = true,
            Setting::Verbose => self.log_filter = (self.log_filter - 1).max(LOG_FILTER_MIN),
            Setting::Quiet => self.log_filter = (self.log_filter + 1).min(LOG_FILTER_MAX),
        }
    }

    /// The "at least one of `-i`, `-c`, `-S`" rule (protocol.md §8.1), and `-c` for
    /// `--check`, checked after all steps: `None` when satisfied, else the
    /// fatal step to execute.
    pub fn check_required(&self) -> Option<Step> {
        if self.check && self.config.is_none() {
            Some(fatal(MSG_CHECK_REQUIRES.to_owned()))
        } else if self.interactive || self.config.is_some() || self.socket.is_some() {
            None
        } else {
            Some(fatal(MSG_REQUIRE.to_owned()))
        }
    }
}

/// The settings implied when running as PID 1 (protocol.md §8.4), to apply before the
/// steps of [`parse`]: config `/etc/daemonproxy.conf` (not stat'ed) and
/// terminate guard 1.
pub fn pid1_defaults() -> Vec<Setting> {
    vec![Setting::Config(PID1_CONFIG.into()), Setting::ExitGuard(PID1_EXIT_GUARD)]
}

/// The options, in help order. The ids tie clap's `Arg`s to their behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    Config,
    Check,
    Interactive,
    Socket,
    Daemonize,
    ExitGuard,
    ExitExec,
    FdPool,
    ServicePool,
    MaxConnections,
    Mlockall,
    Subreaper,
    NotifySocket,
    ReexecSignal,
    LogTimestamps,
    Verbose,
    Quiet,
    Help,
    Version,
}

impl Opt {
    #[cfg(test)]
    const ALL: [Opt; 19] = [
        Opt::Config,
        Opt::Check,
        Opt::Interactive,
        Opt::Socket,
        Opt::Daemonize,
        Opt::ExitGuard,
        Opt::ExitExec,
        Opt::FdPool,
        Opt::ServicePool,
        Opt::MaxConnections,
        Opt::Mlockall,
        Opt::Subreaper,
        Opt::NotifySocket,
        Opt::ReexecSignal,
        Opt::LogTimestamps,
        Opt::Verbose,
        Opt::Quiet,
        Opt::Help,
        Opt::Version,
    ];

    fn id(self) -> &'static str {
        match self {
            Opt::Config => "config",
            Opt::Check => "check",
            Opt::Interactive => "interactive",
            Opt::Socket => "socket",
            Opt::Daemonize => "daemonize",
            Opt::ExitGuard => "exit-guard",
            Opt::ExitExec => "exit-exec",
            Opt::FdPool => "fd-pool",
            Opt::ServicePool => "service-pool",
            Opt::MaxConnections => "max-connections",
            Opt::Mlockall => "mlockall",
            Opt::Subreaper => "subreaper",
            Opt::NotifySocket => "notify-socket",
            Opt::ReexecSignal => "reexec-signal",
            Opt::LogTimestamps => "log-timestamps",
            Opt::Verbose => "verbose",
            Opt::Quiet => "quiet",
            Opt::Help => "help",
            Opt::Version => "version",
        }
    }

    #[cfg(test)]
    fn from_id(id: &str) -> Option<Opt> {
        Opt::ALL.into_iter().find(|o| o.id() == id)
    }
}

/// clap's description of the command line: names, value names, help lines
/// (`--help`) and long descriptions (the manual page, see `generated.rs`),
/// in help order. Only read through its getters; clap's parser, help and
/// version exits are never used (they would bypass protocol.md §8.1).
#[inline(never)]
#[cold]
pub(crate) fn command() -> Command {
    let flag = |opt: Opt, help: &'static str, long: &'static str| {
        Arg::new(opt.id()).long(opt.id()).action(ArgAction::SetTrue).help(help).long_help(long)
    };
    let value = |opt: Opt, name: &'static str, help: String, long: String| {
        Arg::new(opt.id()).long(opt.id()).value_name(name).action(ArgAction::Set).help(help).long_help(long)
    };
    Command::new("daemonproxy").no_binary_name(true).disable_help_flag(true).disable_version_flag(true).args([
        value(
            Opt::Config,
            "FILENAME",
            "Read command stream from FILENAME at startup".into(),
            "Execute the commands of FILENAME at startup, one per line, fields separated by TABs; `-` reads \
             standard input (not together with -i). The file must exist when the option is parsed; it is read \
             once, to the end or to an `exit` command."
                .into(),
        )
        .short('c'),
        flag(
            Opt::Check,
            "Check the -c file for mistakes, run nothing, exit",
            "Check the config file of -c instead of running it: every line is parsed as the daemon would, and \
             each problem is printed on stderr as FILE:LINE: message, with a hint where spaces stand in place of \
             TABs. Nothing is started: no services, no control socket, no interactive session, no exec-on-exit, \
             and the terminate guard does not apply. The other options are still checked. Exit status 0 and a \
             one-line summary on stdout when there is no problem, 1 when there are problems or the file cannot \
             be read, 2 for option errors.",
        ),
        flag(
            Opt::Interactive,
            "Use STDIN+STDOUT as a controller communication pipe",
            "Make standard input and output a controller: type commands, read events. A banner comes first; \
             the end of input (Ctrl-D) or `exit` ends daemonproxy, unless the terminate guard is set.",
        )
        .short('i'),
        value(
            Opt::Socket,
            "PATH",
            "Listen on PATH for controller connections".into(),
            "Create a Unix control socket at PATH, as the command `socket.create` does; every connection is a \
             controller. `daemonproxy ctl -S PATH` talks to it."
                .into(),
        )
        .short('S'),
        flag(
            Opt::Daemonize,
            "Fork into the background",
            "After all other setup, fork: the parent prints the daemon's pid (without a newline) and exits 0; \
             the daemon leads a new session and points descriptors 0 to 2 at /dev/null, so its log is \
             discarded until `log.dest` names a handle. Ignored with -i and as PID 1.",
        )
        .short('D'),
        value(
            Opt::ExitGuard,
            "INTEGER",
            "Guard against accidental termination".into(),
            "Set the terminate guard to INTEGER (0 or empty: no guard). While it is set, `terminate` needs the \
             code and exec-on-exit, or the guard must first be cleared with `terminate.guard - INTEGER`; the \
             end of interactive input does not exit; fatal conditions are logged with \
             \"(attempting to continue)\" and daemonproxy carries on. As PID 1 the guard defaults to 1."
                .into(),
        ),
        value(
            Opt::ExitExec,
            "TSV_ARGS",
            "exec() args in any trappable exit scenario".into(),
            format!(
                "On any exit through daemonproxy's exit path (normal termination, option errors, startup \
                 failures, fatal signals, --help and --version) exec this program instead, with \
                 DAEMONPROXY_EXITCODE and DAEMONPROXY_ERROR in its environment. One word: the program and its \
                 arguments separated by TABs, at most {EXEC_ARGS_MAX} bytes; empty disables. Options are \
                 processed in order, so -E must come before --help to apply to it."
            ),
        )
        .short('E'),
        value(
            Opt::FdPool,
            "N[xM]",
            format!("Pre-allocate N named handles [of M bytes each, default {FD_OBJ_SIZE_DEFAULT}]"),
            format!(
                "Allocate all named handles at startup and make N ({FD_POOL_COUNT_MIN} to {FD_POOL_COUNT_MAX}) \
                 a hard limit, counting the built-in and inherited handles; M ({FD_OBJ_SIZE_MIN} to \
                 {FD_OBJ_SIZE_MAX}, default {FD_OBJ_SIZE_DEFAULT}) bounds each handle's description. M takes \
                 the suffixes k, m, g or KiB, MiB, GiB (1024^n), KB, MB, GB (1000^n), and t (as large as \
                 allowed). Out-of-range values are clamped with a warning."
            ),
        ),
        value(
            Opt::ServicePool,
            "N[xM]",
            format!("Pre-allocate N services [of M bytes each, default {SERVICE_OBJ_SIZE_DEFAULT}]"),
            format!(
                "Allocate all services at startup and make N ({SERVICE_POOL_COUNT_MIN} to \
                 {SERVICE_POOL_COUNT_MAX}) a hard limit; M (at least {SERVICE_OBJ_SIZE_MIN}, default \
                 {SERVICE_OBJ_SIZE_DEFAULT}, same suffixes as --fd-pool) is each service's budget for its \
                 arguments, tags, descriptors and triggers together."
            ),
        ),
        value(
            Opt::MaxConnections,
            "N",
            format!(
                "Serve at most N control socket clients [default {}]",
                daemonproxy_core::Options::DEFAULT_MAX_CONNECTIONS
            ),
            format!(
                "Serve at most N (at least 1, default {}) control socket clients at once; a client beyond them \
                 is accepted and closed at once, logged once per spell. Service connections, -i and -c do not \
                 count.",
                daemonproxy_core::Options::DEFAULT_MAX_CONNECTIONS
            ),
        ),
        flag(
            Opt::Mlockall,
            "Call mlockall() after allocating structures",
            "Lock all current and future memory after setup, so that daemonproxy is never paged out. A \
             failure is logged, not fatal.",
        )
        .short('M'),
        flag(
            Opt::Subreaper,
            "Adopt orphans of services (child subreaper)",
            "Make daemonproxy the child subreaper (PR_SET_CHILD_SUBREAPER): processes that services leave \
             behind, such as double-forked daemons, are re-parented to daemonproxy instead of init, so they \
             are reaped, and reported as orphan.exit events to connections that sent conn.extended on.",
        ),
        value(
            Opt::NotifySocket,
            "PATH",
            "Readiness socket path [default: abstract]".to_owned(),
            "Bind the readiness notification socket of service.notify NAME socket (the NOTIFY_SOCKET of \
             services) at PATH instead of an abstract socket named daemonproxy/notify/PID; a stale socket \
             there is replaced, and it is removed at exit."
                .to_owned(),
        ),
        value(
            Opt::ReexecSignal,
            "SIG",
            "Re-execute daemonproxy on SIG (live upgrade)".to_owned(),
            "On signal SIG (a name such as USR2 or SIGHUP), do what the command `reexec` does: execute the \
             daemonproxy binary again with the same options, handing over every service, handle and \
             connection; children keep running and keep their pids. SIG is then not reported as a signal \
             event. Accepted: HUP, INT, QUIT, USR1, USR2, ALRM, TERM, WINCH, URG, PWR."
                .to_owned(),
        ),
        flag(
            Opt::LogTimestamps,
            "Start log lines with the UTC time",
            "Start every log line with the wall-clock time in UTC, with milliseconds, as in \
             2026-12-04T17:50:12.345Z info: daemonproxy exiting. Off by default, as in the original: a log \
             collector (journald, docker) usually adds its own.",
        ),
        flag(
            Opt::Verbose,
            "Enable another level of logging output",
            "Show one more log level: the default shows info and above, -v adds debug, -vv everything. \
             Options count in order, combined with -q.",
        )
        .short('v'),
        flag(
            Opt::Quiet,
            "Suppress another level of logging output",
            "Show one log level less: -q hides info, -qq also warnings, -qqq also errors, -qqqq everything, \
             fatal messages included.",
        )
        .short('q'),
        flag(Opt::Help, "Quick usage synopsis", "Print the option summary to standard output and exit with status 1.")
            .short('h'),
        flag(
            Opt::Version,
            "Print complete version information",
            "Print the version, build time, git commit, copyright and license, and exit with status 1.",
        ),
    ])
}

/// One option of the table, as the tokenizer needs it.
struct OptSpec {
    opt: Opt,
    short: Option<char>,
    long: Option<String>,
    takes_value: bool,
}

/// The options the tokenizer knows: (option, short name, takes a value),
/// in help order. [`command`] describes the same options to clap, for the
/// help text; building it at every start-up cost the idle daemon ~24 kB of
/// stack, so parsing reads this table instead, and a test checks that the
/// two agree.
const OPTIONS: [(Opt, Option<char>, bool); 19] = [
    (Opt::Config, Some('c'), true),
    (Opt::Check, None, false),
    (Opt::Interactive, Some('i'), false),
    (Opt::Socket, Some('S'), true),
    (Opt::Daemonize, Some('D'), false),
    (Opt::ExitGuard, None, true),
    (Opt::ExitExec, Some('E'), true),
    (Opt::FdPool, None, true),
    (Opt::ServicePool, None, true),
    (Opt::MaxConnections, None, true),
    (Opt::Mlockall, Some('M'), false),
    (Opt::Subreaper, None, false),
    (Opt::NotifySocket, None, true),
    (Opt::ReexecSignal, None, true),
    (Opt::LogTimestamps, None, false),
    (Opt::Verbose, Some('v'), false),
    (Opt::Quiet, Some('q'), false),
    (Opt::Help, Some('h'), false),
    (Opt::Version, None, false),
];

/// The option table the tokenizer reads.
fn option_table() -> Vec<OptSpec> {
    OPTIONS
        .iter()
        .map(|&(opt, short, takes_value)| OptSpec { opt, short, long: Some(opt.id().to_owned()), takes_value })
        .collect()
}

/// A lexical item of the command line.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// An option, with its argument if it takes one.
    Opt(Opt, Option<OsString>),
    /// A syntax error (fatal, [`EXIT_BAD_OPTIONS`]).
    Error(String),
}

/// Splits the command line into options and their arguments, strictly left
/// to right; short clusters are expanded and each option needing an argument
/// takes the next unused word.
fn tokenize(table: &[OptSpec], args: Vec<OsString>) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut words = args.into_iter();
    while let Some(word) = words.next() {
        let bytes = word.as_bytes();
        let mut take = |spec: &OptSpec, form: &str| {
            if !spec.takes_value {
                Token::Opt(spec.opt, None)
            } else if let Some(value) = words.next() {
                Token::Opt(spec.opt, Some(value))
            } else {
                Token::Error(format!("Missing argument for {form}"))
            }
        };
        if let Some(long) = bytes.strip_prefix(b"--") {
            let spec = table.iter().find(|s| s.long.as_deref().map(str::as_bytes) == Some(long));
            tokens.push(match spec {
                Some(spec) => take(spec, &lossy(&word)),
                None => unknown_long(table, &lossy(&word)),
            });
        } else if let Some(cluster) = bytes.strip_prefix(b"-") {
            // A lone `-` is an empty cluster: nothing to do.
            for c in String::from_utf8_lossy(cluster).chars() {
                let form = format!("-{c}");
                tokens.push(match table.iter().find(|s| s.short == Some(c)) {
                    Some(spec) => take(spec, &form),
                    None => unknown_option(&form),
                });
            }
        } else {
            tokens.push(Token::Error(format!("Unexpected argument \"{}\"", lossy(&word))));
        }
    }
    tokens
}

fn unknown_option(form: &str) -> Token {
    Token::Error(unknown_message(form))
}

fn unknown_message(form: &str) -> String {
    format!("Unknown option {form}  (see --help)")
}

/// An unknown `--word`; `--name=value` of a known option gets a hint, since
/// there is no `=` form (protocol.md §8.1).
fn unknown_long(table: &[OptSpec], word: &str) -> Token {
    let message = unknown_message(word);
    let Some((name, value)) = word.strip_prefix("--").and_then(|w| w.split_once('=')) else {
        return Token::Error(message);
    };
    match table.iter().find(|s| s.long.as_deref() == Some(name)) {
        Some(spec) if spec.takes_value => Token::Error(format!("{message}: use --{name} {value}, without '='")),
        Some(_) => Token::Error(format!("{message}: --{name} takes no value")),
        None => Token::Error(message),
    }
}

fn lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

fn fatal(message: String) -> Step {
    Step::Fatal { status: EXIT_BAD_OPTIONS, message }
}

/// Parses the command line (without the program name).
///
/// If the first word is exactly `ctl`, returns [`Parsed::Ctl`] with the rest.
/// Otherwise every word is examined, even after an error, and the result
/// lists what the original does at each point, in order; the caller stops at
/// the first step that exits. Never panics. `-c FILE` is checked with `stat`
/// here (a failure is a fatal step, followed by the setting, which the
/// original also keeps when the guard lets it continue); invalid values of
/// the other options produce a fatal step and no setting.
pub fn parse<I>(args: I) -> Parsed
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if args.first().is_some_and(|a| a == "ctl") {
        args.remove(0);
        return Parsed::Ctl(args);
    }
    let table = option_table();
    let mut steps = Vec::new();
    for token in tokenize(&table, args) {
        match token {
            Token::Error(message) => steps.push(fatal(message)),
            Token::Opt(opt, value) => interpret(opt, value.unwrap_or_default(), &mut steps),
        }
    }
    Parsed::Run(steps)
}

/// Appends the steps of one option (`value` is empty for flags).
fn interpret(opt: Opt, value: OsString, steps: &mut Vec<Step>) {
    let set = match opt {
        Opt::Config => {
            if value != "-" {
                match std::fs::metadata(&value) {
                    Err(e) => {
                        steps.push(fatal(format!("Cannot stat configfile \"{}\": {}", lossy(&value), error_text(&e))))
                    }
                    Ok(m) if m.is_dir() => {
                        steps.push(fatal(format!("Config file \"{}\" is a directory", lossy(&value))))
                    }
                    Ok(_) => {}
                }
            }
            Setting::Config(value)
        }
        Opt::Check => Setting::Check,
        Opt::Interactive => Setting::Interactive,
        Opt::Socket => Setting::Socket(value),
        Opt::Daemonize => Setting::Daemonize,
        Opt::ExitGuard => match strtol(value.as_bytes()) {
            Some(code) => Setting::ExitGuard(code),
            None => return steps.push(fatal(MSG_GUARD.to_owned())),
        },
        Opt::ExitExec => {
            if value.len() > EXEC_ARGS_MAX {
                return steps.push(fatal(MSG_EXEC_TOO_LONG.to_owned()));
            }
            Setting::ExitExec(value.into_vec())
        }
        Opt::FdPool | Opt::ServicePool => match parse_pool(value.as_bytes()) {
            Ok((n, m)) if opt == Opt::FdPool => fd_pool(n, m, steps),
            Ok((n, m)) => service_pool(n, m, steps),
            Err(PoolSyntaxError) => return steps.push(fatal(MSG_POOL_SYNTAX.to_owned())),
        },
        Opt::Mlockall => Setting::Mlockall,
        Opt::MaxConnections => match strtol(value.as_bytes()).and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n > 0 => Setting::MaxConnections(n),
            _ => return steps.push(fatal(MSG_MAX_CONNECTIONS.to_owned())),
        },
        Opt::Subreaper => Setting::Subreaper,
        Opt::NotifySocket => Setting::NotifySocket(value),
        Opt::LogTimestamps => Setting::LogTimestamps,
        Opt::ReexecSignal => match reexec_signal(value.as_bytes()) {
            Some(sig) => Setting::ReexecSignal(sig),
            None => return steps.push(fatal(MSG_REEXEC_SIGNAL.to_owned())),
        },
        Opt::Verbose => Setting::Verbose,
        Opt::Quiet => Setting::Quiet,
        Opt::Help => return steps.push(Step::Help),
        Opt::Version => return steps.push(Step::Version),
    };
    steps.push(Step::Set(set));
}

/// A signal `--reexec-signal` accepts, by name with or without `SIG`.
fn reexec_signal(name: &[u8]) -> Option<Signal> {
    let bare = name.strip_prefix(b"SIG").unwrap_or(name);
    REEXEC_SIGNALS.iter().find(|n| n.as_bytes() == bare).and_then(|n| Signal::from_name(n.as_bytes()))
}

/// C's `strtol(s, &end, 10)` followed by the original's `*end` check:
/// optional leading whitespace and sign, digits, nothing after them. Out of
/// range values saturate as strtol does. The empty string is 0 (strtol
/// consumes nothing and `*end` is the terminator); any other string without
/// digits is rejected.
fn strtol(s: &[u8]) -> Option<i64> {
    let mut i = s.iter().position(|&b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).unwrap_or(s.len());
    let negative = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = &s[i..];
    let count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 {
        return s.is_empty().then_some(0);
    }
    if count != digits.len() {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        let next = value.checked_mul(10).and_then(|v| if negative { v.checked_sub(d) } else { v.checked_add(d) });
        match next {
            Some(v) => value = v,
            None => return Some(if negative { i64::MIN } else { i64::MAX }),
        }
    }
    Some(value)
}

/// The `N[xM]` argument of `--fd-pool`/`--service-pool` is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSyntaxError;

impl fmt::Display for PoolSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MSG_POOL_SYNTAX)
    }
}

/// Parses `N[xM]` (protocol.md §8.1) into `(N, M)`, unclamped; `M` is `None` when `xM`
/// is absent or empty (`5x`), meaning the default size.
///
/// N: optional `-`, decimal digits, nothing else. M: optional `-`, decimal
/// digits, then optionally a size suffix made of a letter, optionally
/// followed by `iB` (binary) or `B` (decimal): `k`, `m`, `g` (either case)
/// multiply by 1024ⁿ, or 1000ⁿ when followed by `B` (`KB`, `MB`, `GB`);
/// `b`/`B` by 1; `t`/`T` means as large as possible (`i64::MAX`). A suffix
/// needs a non-negative number; a bare negative M is accepted (and later
/// clamped), as in the original. Values that do not fit saturate at
/// `i64::MAX`/`i64::MIN`.
pub fn parse_pool(spec: &[u8]) -> Result<(i64, Option<i64>), PoolSyntaxError> {
    let (n, m) = match spec.iter().position(|&b| b == b'x') {
        Some(x) => (&spec[..x], Some(&spec[x + 1..])),
        None => (spec, None),
    };
    let n = match decimal(n) {
        Some((n, b"")) => n,
        _ => return Err(PoolSyntaxError),
    };
    let m = match m {
        None | Some(b"") => None,
        Some(m) => Some(size(m).ok_or(PoolSyntaxError)?),
    };
    Ok((n, m))
}

/// Optional `-` and at least one decimal digit (saturating); the value and
/// the rest of the input.
fn decimal(s: &[u8]) -> Option<(i64, &[u8])> {
    let (negative, digits) = match s.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if count == 0 {
        return None;
    }
    let value = digits[..count].iter().fold(0i64, |acc, &d| {
        let d = i64::from(d - b'0');
        let acc = acc.saturating_mul(10);
        if negative {
            acc.saturating_sub(d)
        } else {
            acc.saturating_add(d)
        }
    });
    Some((value, &digits[count..]))
}

/// A decimal number with an optional size suffix (see [`parse_pool`]).
fn size(s: &[u8]) -> Option<i64> {
    let (value, suffix) = decimal(s)?;
    let Some(&letter) = suffix.first() else {
        return Some(value);
    };
    let (base, len): (i64, usize) = match suffix.get(1..) {
        Some([b'i', b'B', ..]) => (1024, 3),
        Some([b'B', ..]) => (1000, 2),
        _ => (1024, 1),
    };
    let power = match letter {
        b't' | b'T' => None,
        b'g' | b'G' => Some(3),
        b'm' | b'M' => Some(2),
        b'k' | b'K' => Some(1),
        b'b' | b'B' => Some(0),
        _ => return None,
    };
    if suffix.len() != len || value < 0 {
        return None;
    }
    Some(match power {
        None => i64::MAX,
        Some(p) => value.saturating_mul(base.pow(p)),
    })
}

/// Clamps an `--fd-pool` value, appending the original's warnings.
fn fd_pool(n: i64, m: Option<i64>, steps: &mut Vec<Step>) -> Setting {
    let count = if n < FD_POOL_COUNT_MIN as i64 {
        steps.push(Step::Warn(format!("At least {FD_POOL_COUNT_MIN} fd objects required; using minimum")));
        FD_POOL_COUNT_MIN
    } else if n > FD_POOL_COUNT_MAX as i64 {
        steps.push(Step::Warn(format!(
            "fd pool size exceeds max number of allowed file descriptors; limiting to {FD_POOL_COUNT_MAX}"
        )));
        FD_POOL_COUNT_MAX
    } else {
        to_usize(n)
    };
    let m = m.unwrap_or(FD_OBJ_SIZE_DEFAULT as i64);
    let size = if m < FD_OBJ_SIZE_MIN as i64 {
        steps.push(Step::Warn(format!("fd obj size increased to minimum of {FD_OBJ_SIZE_MIN}")));
        FD_OBJ_SIZE_MIN
    } else if m > FD_OBJ_SIZE_MAX as i64 {
        steps.push(Step::Warn(format!("fd obj size limited to maximum of {FD_OBJ_SIZE_MAX}")));
        FD_OBJ_SIZE_MAX
    } else {
        to_usize(m)
    };
    Setting::FdPool { count, size }
}

/// Clamps a `--service-pool` value, appending the original's warnings
/// (including its spelling `servce`, which scripts may search for).
fn service_pool(n: i64, m: Option<i64>, steps: &mut Vec<Step>) -> Setting {
    let count = if n < SERVICE_POOL_COUNT_MIN as i64 {
        steps.push(Step::Warn(format!("At least {SERVICE_POOL_COUNT_MIN} service objects required; using minimum")));
        SERVICE_POOL_COUNT_MIN
    } else if n > SERVICE_POOL_COUNT_MAX as i64 {
        steps.push(Step::Warn(format!("service pool size exceeds maximum; limiting to {SERVICE_POOL_COUNT_MAX}")));
        SERVICE_POOL_COUNT_MAX
    } else {
        to_usize(n)
    };
    let m = m.unwrap_or(SERVICE_OBJ_SIZE_DEFAULT as i64);
    let size = if m < SERVICE_OBJ_SIZE_MIN as i64 {
        steps.push(Step::Warn(format!("servce obj size increased to minimum of {SERVICE_OBJ_SIZE_MIN}")));
        SERVICE_OBJ_SIZE_MIN
    } else {
        to_usize(m)
    };
    Setting::ServicePool { count, size }
}

/// A non-negative `i64` as `usize`, saturating on 32-bit targets.
fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The manual page, as a path in the sources.
pub const MAN_PAGE: &str = "docs/daemonproxy.8";
/// The protocol reference, as a path in the sources.
pub const PROTOCOL_DOC: &str = "docs/protocol.md";

/// The subcommands, `daemonproxy NAME ARGS...`: name and summary.
pub const SUBCOMMANDS: [(&str, &str); 1] =
    [("ctl", "Talk to a running daemon through its control socket (see ctl --help)")];

/// The `--help` text (protocol.md §8.1): the version line, `options:`, one line per
/// option of [`command`] in the original's layout, and an empty line; then
/// the subcommands and where the documentation is, ending with an empty
/// line too.
pub fn help_text() -> String {
    let mut text = format!("daemonproxy version {VERSION}\noptions:\n");
    for arg in command().get_arguments() {
        let (dash, short) = match arg.get_short() {
            Some(c) => ('-', c),
            None => (' ', ' '),
        };
        let long = arg.get_long().unwrap_or_default();
        let value = arg.get_value_names().and_then(|names| names.first()).map(|name| name.as_str()).unwrap_or_default();
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        // The original's 12 columns; a longer name (--notify-socket)
        // pushes its own line only.
        text.push_str(&format!("  {dash}{short} --{long:<12} {value:<8}  {help}\n"));
    }
    text.push_str("\ncommands:\n");
    for (name, summary) in SUBCOMMANDS {
        text.push_str(&format!("  daemonproxy {name} ...  {summary}\n"));
    }
    text.push_str(&format!("\nSee also: man daemonproxy ({MAN_PAGE}) and {PROTOCOL_DOC} in the sources.\n\n"));
    text
}

/// The `--version` text (protocol.md §8.1): version line, build timestamp (Unix seconds
/// and local time), git HEAD, copyright with year range, license.
pub fn version_text() -> String {
    let secs: i64 = BUILD_TIMESTAMP.parse().unwrap_or(0);
    let dirty = if GIT_DIRTY { " (dirty)" } else { "" };
    let [copyright, license] = identity_lines();
    format!(
        "daemonproxy version {VERSION}\n build timestamp: {secs} ({})\n git HEAD: {GIT_HEAD}{dirty}\n{copyright}\n{license}\n",
        local_datetime(secs)
    )
}

/// The lines of the interactive banner (protocol.md §8.2), each to be sent as
/// `info\tLINE`: version with short git id (`+` if dirty), copyright,
/// license, and the interactive-mode hint.
pub fn banner_lines() -> Vec<String> {
    let git = if GIT_HEAD.len() >= 8 && GIT_HEAD.is_char_boundary(8) { &GIT_HEAD[..8] } else { GIT_HEAD };
    let dirty = if GIT_DIRTY { "+" } else { "" };
    let [copyright, license] = identity_lines();
    vec![
        format!("daemonproxy version {VERSION} (git {git}{dirty})"),
        copyright,
        license,
        "Interactive mode.  Use ^D or 'exit' to terminate.  See 'man daemonproxy' for command syntax.".to_owned(),
    ]
}

/// The copyright and license lines shared by `--version` and the banner.
fn identity_lines() -> [String; 2] {
    [
        format!("Copyright (C) {FIRST_YEAR}-{BUILD_YEAR}  daemonproxy-rs contributors"),
        "Distributed under the MIT License.  See LICENSE.".to_owned(),
    ]
}

/// `YYYY-MM-DD HH:MM:SS` of Unix time `secs` in the local time zone (as the
/// original's `localtime_r`), or in UTC if the C library cannot convert it.
fn local_datetime(secs: i64) -> String {
    let [y, mo, d, h, mi, s] =
        daemonproxy_core::process::local_time(secs).unwrap_or_else(|| daemonproxy_core::time::utc_time(secs));
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXISTING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    const DIRECTORY: &str = env!("CARGO_MANIFEST_DIR");
    const MISSING: &str = "/nonexistent/daemonproxy-args-test.conf";

    fn steps(args: &[&str]) -> Vec<Step> {
        match parse(args.iter().copied()) {
            Parsed::Run(steps) => steps,
            Parsed::Ctl(rest) => panic!("unexpected ctl {rest:?}"),
        }
    }

    fn set(s: Setting) -> Step {
        Step::Set(s)
    }

    fn err(message: &str) -> Step {
        fatal(message.to_owned())
    }

    fn warn(message: &str) -> Step {
        Step::Warn(message.to_owned())
    }

    fn config(path: &str) -> Step {
        set(Setting::Config(path.into()))
    }

    fn socket(path: &str) -> Step {
        set(Setting::Socket(path.into()))
    }

    #[test]
    fn clap_command_is_consistent() {
        command().debug_assert();
        let ids: Vec<String> = command().get_arguments().map(|a| a.get_id().as_str().to_owned()).collect();
        let expected: Vec<&str> = Opt::ALL.iter().map(|o| o.id()).collect();
        assert_eq!(ids, expected);
        for arg in command().get_arguments() {
            assert_eq!(arg.get_long(), Some(arg.get_id().as_str()));
            assert!(arg.get_help().is_some());
            assert_eq!(arg.get_action().takes_values(), arg.get_value_names().is_some());
        }
        // The tokenizer's static table says what clap's definition says.
        let from_clap: Vec<(Opt, Option<char>, bool)> = command()
            .get_arguments()
            .map(|a| (Opt::from_id(a.get_id().as_str()).unwrap(), a.get_short(), a.get_action().takes_values()))
            .collect();
        assert_eq!(from_clap, OPTIONS);
    }

    #[test]
    fn every_option_short_and_long() {
        let file = EXISTING;
        let cases: &[(&[&str], Vec<Step>)] = &[
            (&["-c", file], vec![config(file)]),
            (&["--config", file], vec![config(file)]),
            (&["-i"], vec![set(Setting::Interactive)]),
            (&["--interactive"], vec![set(Setting::Interactive)]),
            (&["-S", "/tmp/s"], vec![socket("/tmp/s")]),
            (&["--socket", "/tmp/s"], vec![socket("/tmp/s")]),
            (&["-D"], vec![set(Setting::Daemonize)]),
            (&["--daemonize"], vec![set(Setting::Daemonize)]),
            (&["--exit-guard", "7"], vec![set(Setting::ExitGuard(7))]),
            (&["-E", "prog\targ"], vec![set(Setting::ExitExec(b"prog\targ".to_vec()))]),
            (&["--exit-exec", "prog"], vec![set(Setting::ExitExec(b"prog".to_vec()))]),
            (&["-E", ""], vec![set(Setting::ExitExec(Vec::new()))]),
            (&["--fd-pool", "10x64"], vec![set(Setting::FdPool { count: 10, size: 64 })]),
            (&["--service-pool", "10x100"], vec![set(Setting::ServicePool { count: 10, size: 100 })]),
            (&["--max-connections", "50"], vec![set(Setting::MaxConnections(50))]),
            (&["-M"], vec![set(Setting::Mlockall)]),
            (&["--mlockall"], vec![set(Setting::Mlockall)]),
            (&["-v"], vec![set(Setting::Verbose)]),
            (&["--verbose"], vec![set(Setting::Verbose)]),
            (&["-q"], vec![set(Setting::Quiet)]),
            (&["--quiet"], vec![set(Setting::Quiet)]),
            (&["-h"], vec![Step::Help]),
            (&["--help"], vec![Step::Help]),
            (&["--version"], vec![Step::Version]),
            (&[], vec![]),
        ];
        for (args, expected) in cases {
            assert_eq!(&steps(args), expected, "args {args:?}");
        }
    }

    #[test]
    fn syntax() {
        let file = EXISTING;
        let cases: &[(&[&str], Vec<Step>)] = &[
            (&["-iv"], vec![set(Setting::Interactive), set(Setting::Verbose)]),
            (&["-vv"], vec![set(Setting::Verbose), set(Setting::Verbose)]),
            (&["-cS", file, "/p"], vec![config(file), socket("/p")]),
            (&["-Sc", "/p", file], vec![socket("/p"), config(file)]),
            (&["-ciS", file, "/p"], vec![config(file), set(Setting::Interactive), socket("/p")]),
            // The argument is the next word, whatever it looks like.
            (&["-S", "-i"], vec![socket("-i")]),
            (&["-c", "-"], vec![config("-")]),
            (&["--config=x"], vec![err("Unknown option --config=x  (see --help): use --config x, without '='")]),
            (
                &["--socket=/a=b"],
                vec![err("Unknown option --socket=/a=b  (see --help): use --socket /a=b, without '='")],
            ),
            (&["--check=yes"], vec![err("Unknown option --check=yes  (see --help): --check takes no value")]),
            (&["--bogus=1"], vec![err("Unknown option --bogus=1  (see --help)")]),
            (&["--check", "-c", file], vec![set(Setting::Check), config(file)]),
            (&["--"], vec![err("Unknown option --  (see --help)")]),
            (&["--bogus"], vec![err("Unknown option --bogus  (see --help)")]),
            (&["-x"], vec![err("Unknown option -x  (see --help)")]),
            (&["--CONFIG", "x"], vec![err("Unknown option --CONFIG  (see --help)"), err("Unexpected argument \"x\"")]),
            (&["-"], vec![]),
            (&["-", "-i"], vec![set(Setting::Interactive)]),
            (&["word"], vec![err("Unexpected argument \"word\"")]),
            (&[""], vec![err("Unexpected argument \"\"")]),
            (&["-c"], vec![err("Missing argument for -c")]),
            (&["--config"], vec![err("Missing argument for --config")]),
            (&["-ic"], vec![set(Setting::Interactive), err("Missing argument for -c")]),
            (&["-cS", file], vec![config(file), err("Missing argument for -S")]),
            (&["--socket"], vec![err("Missing argument for --socket")]),
            (&["-E"], vec![err("Missing argument for -E")]),
            (&["--exit-guard"], vec![err("Missing argument for --exit-guard")]),
            (&["--fd-pool"], vec![err("Missing argument for --fd-pool")]),
            (&["--service-pool"], vec![err("Missing argument for --service-pool")]),
            // Processing continues after errors (the caller decides).
            (
                &["-xi", "--bogus", "-v"],
                vec![
                    err("Unknown option -x  (see --help)"),
                    set(Setting::Interactive),
                    err("Unknown option --bogus  (see --help)"),
                    set(Setting::Verbose),
                ],
            ),
            (
                &["--exit-guard", "5", "--help", "-i"],
                vec![set(Setting::ExitGuard(5)), Step::Help, set(Setting::Interactive)],
            ),
            (&["-E", "prog", "--help"], vec![set(Setting::ExitExec(b"prog".to_vec())), Step::Help]),
            (&["-hv"], vec![Step::Help, set(Setting::Verbose)]),
            (
                &["-c", MISSING],
                vec![err(&format!("Cannot stat configfile \"{MISSING}\": No such file or directory")), config(MISSING)],
            ),
            (&["-c", ""], vec![err("Cannot stat configfile \"\": No such file or directory"), config("")]),
            (&["-c", DIRECTORY], vec![err(&format!("Config file \"{DIRECTORY}\" is a directory")), config(DIRECTORY)]),
        ];
        for (args, expected) in cases {
            assert_eq!(&steps(args), expected, "args {args:?}");
        }
    }

    #[test]
    fn non_utf8_words_do_not_panic() {
        let bad = OsString::from_vec(vec![b'-', 0xff, b'i']);
        let word = OsString::from_vec(vec![0xfe]);
        let path = OsString::from_vec(vec![b'/', 0xff]);
        let result = parse([bad, word, "-S".into(), path.clone()]);
        assert_eq!(
            result,
            Parsed::Run(vec![
                err("Unknown option -\u{fffd}  (see --help)"),
                set(Setting::Interactive),
                err("Unexpected argument \"\u{fffd}\""),
                set(Setting::Socket(path)),
            ])
        );
    }

    #[test]
    fn ctl_subcommand() {
        assert_eq!(parse(["ctl", "-x", "foo"]), Parsed::Ctl(vec!["-x".into(), "foo".into()]));
        assert_eq!(parse(["ctl"]), Parsed::Ctl(vec![]));
        assert_eq!(steps(&["-i", "ctl"]), vec![set(Setting::Interactive), err("Unexpected argument \"ctl\"")]);
    }

    #[test]
    fn exit_guard_strtol() {
        let cases: &[(&str, Option<i64>)] = &[
            ("5", Some(5)),
            (" 5", Some(5)),
            ("\t\n 5", Some(5)),
            ("+5", Some(5)),
            ("-3", Some(-3)),
            (" -3", Some(-3)),
            ("0", Some(0)),
            ("", Some(0)),
            ("-0", Some(0)),
            ("007", Some(7)),
            ("9223372036854775807", Some(i64::MAX)),
            ("9223372036854775808", Some(i64::MAX)),
            ("99999999999999999999999", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("-99999999999999999999999", Some(i64::MIN)),
            ("5x", None),
            ("5 ", None),
            (" ", None),
            ("+", None),
            ("-", None),
            ("+-5", None),
            ("x", None),
            ("0x10", None),
            ("1e3", None),
            ("5.0", None),
        ];
        for &(arg, expected) in cases {
            let want = match expected {
                Some(n) => set(Setting::ExitGuard(n)),
                None => err("Terminate guard must be an integer"),
            };
            assert_eq!(steps(&["--exit-guard", arg]), vec![want], "arg {arg:?}");
        }
    }

    #[test]
    fn reexec_signal_takes_a_catchable_name() {
        let sig = |n: &str| set(Setting::ReexecSignal(Signal::from_name(n.as_bytes()).unwrap()));
        assert_eq!(steps(&["--reexec-signal", "USR2"]), vec![sig("USR2")]);
        assert_eq!(steps(&["--reexec-signal", "SIGHUP"]), vec![sig("HUP")]);
        for bad in ["KILL", "SIGSTOP", "CHLD", "SEGV", "PIPE", "12", "", "usr2", "SIGSIGHUP"] {
            let want = vec![err(MSG_REEXEC_SIGNAL)];
            assert_eq!(steps(&["--reexec-signal", bad]), want, "arg {bad:?}");
        }
        let mut o = Options::default();
        o.apply(Setting::ReexecSignal(Signal::from_name(b"USR1").unwrap()));
        assert_eq!(o.reexec_signal, Signal::from_name(b"USR1"));
    }

    #[test]
    fn max_connections_is_a_positive_integer() {
        let mut o = Options::default();
        assert_eq!(o.max_connections, daemonproxy_core::Options::DEFAULT_MAX_CONNECTIONS);
        o.apply(Setting::MaxConnections(3));
        assert_eq!(o.max_connections, 3);
        assert_eq!(steps(&["--max-connections", " +7"]), vec![set(Setting::MaxConnections(7))]);
        for bad in ["0", "-1", "", "x", "5k"] {
            let want = vec![err("Max connections must be a positive integer")];
            assert_eq!(steps(&["--max-connections", bad]), want, "arg {bad:?}");
        }
        assert_eq!(steps(&["--max-connections"]), vec![err("Missing argument for --max-connections")]);
    }

    #[test]
    fn exit_exec_length_limit() {
        let ok = "a".repeat(255);
        let long = "a".repeat(256);
        assert_eq!(steps(&["-E", &ok]), vec![set(Setting::ExitExec(ok.clone().into_bytes()))]);
        assert_eq!(
            steps(&["--exit-exec", &long, "-i"]),
            vec![err("exec-on-exit arguments exceed buffer size"), set(Setting::Interactive)]
        );
    }

    #[test]
    fn pool_syntax() {
        const MAX: i64 = i64::MAX;
        type Pool = (i64, Option<i64>);
        let cases: &[(&str, Option<Pool>)] = &[
            ("5", Some((5, None))),
            ("5x", Some((5, None))),
            ("-5", Some((-5, None))),
            ("0", Some((0, None))),
            ("5x100", Some((5, Some(100)))),
            ("5x-3", Some((5, Some(-3)))),
            ("5x0", Some((5, Some(0)))),
            ("5x2k", Some((5, Some(2048)))),
            ("5x2K", Some((5, Some(2048)))),
            ("5x2KiB", Some((5, Some(2048)))),
            ("5x2KB", Some((5, Some(2000)))),
            ("5x2m", Some((5, Some(2 << 20)))),
            ("5x2M", Some((5, Some(2 << 20)))),
            ("5x2MiB", Some((5, Some(2 << 20)))),
            ("5x2MB", Some((5, Some(2_000_000)))),
            ("5x2g", Some((5, Some(2 << 30)))),
            ("5x2G", Some((5, Some(2 << 30)))),
            ("5x2GiB", Some((5, Some(2 << 30)))),
            ("5x2GB", Some((5, Some(2_000_000_000)))),
            ("5x7b", Some((5, Some(7)))),
            ("5x7B", Some((5, Some(7)))),
            ("5x1t", Some((5, Some(MAX)))),
            ("5x3T", Some((5, Some(MAX)))),
            ("5x0t", Some((5, Some(MAX)))),
            ("5x99999999999999g", Some((5, Some(MAX)))),
            ("99999999999999999999", Some((MAX, None))),
            ("-99999999999999999999", Some((i64::MIN, None))),
            ("", None),
            ("x", None),
            ("x5", None),
            ("-", None),
            ("+5", None),
            (" 5", None),
            ("5 ", None),
            ("5y", None),
            ("5xx", None),
            ("5x5x", None),
            ("5x-", None),
            ("5xk", None),
            ("5x2q", None),
            ("5x2kk", None),
            ("5x2Ki", None),
            ("5x2KiBB", None),
            ("5x2kb", None),
            ("5x-2k", None),
            ("5x-1t", None),
            ("5x2 ", None),
            ("5.5", None),
        ];
        for &(arg, expected) in cases {
            assert_eq!(parse_pool(arg.as_bytes()).ok(), expected, "parse_pool({arg:?})");
            if expected.is_none() {
                let msg = "Expected 'N' or 'NxM' where N and M are integers and M has an optional size suffix";
                assert_eq!(steps(&["--fd-pool", arg]), vec![err(msg)]);
                assert_eq!(steps(&["--service-pool", arg]), vec![err(msg)]);
            }
        }
        assert_eq!(PoolSyntaxError.to_string(), MSG_POOL_SYNTAX);
    }

    #[test]
    fn pool_clamps() {
        let fd = |count, size| set(Setting::FdPool { count, size });
        let svc = |count, size| set(Setting::ServicePool { count, size });
        let fd_min = "At least 7 fd objects required; using minimum";
        let fd_max = "fd pool size exceeds max number of allowed file descriptors; limiting to 1024";
        let fd_small = "fd obj size increased to minimum of 32";
        let fd_big = "fd obj size limited to maximum of 4096";
        let svc_min = "At least 1 service objects required; using minimum";
        let svc_max = "service pool size exceeds maximum; limiting to 65535";
        let svc_small = "servce obj size increased to minimum of 64";
        let cases: &[(&str, &str, Vec<Step>)] = &[
            ("--fd-pool", "7", vec![fd(7, 96)]),
            ("--fd-pool", "7x", vec![fd(7, 96)]),
            ("--fd-pool", "1024x4096", vec![fd(1024, 4096)]),
            ("--fd-pool", "20x32", vec![fd(20, 32)]),
            ("--fd-pool", "6", vec![warn(fd_min), fd(7, 96)]),
            ("--fd-pool", "-5", vec![warn(fd_min), fd(7, 96)]),
            ("--fd-pool", "1025", vec![warn(fd_max), fd(1024, 96)]),
            ("--fd-pool", "8x31", vec![warn(fd_small), fd(8, 32)]),
            ("--fd-pool", "8x-1", vec![warn(fd_small), fd(8, 32)]),
            ("--fd-pool", "8x4097", vec![warn(fd_big), fd(8, 4096)]),
            ("--fd-pool", "8x1t", vec![warn(fd_big), fd(8, 4096)]),
            ("--fd-pool", "8x4k", vec![fd(8, 4096)]),
            ("--fd-pool", "8x4KB", vec![fd(8, 4000)]),
            ("--fd-pool", "2000x1", vec![warn(fd_max), warn(fd_small), fd(1024, 32)]),
            ("--fd-pool", "0x1G", vec![warn(fd_min), warn(fd_big), fd(7, 4096)]),
            ("--service-pool", "1", vec![svc(1, 512)]),
            ("--service-pool", "3x", vec![svc(3, 512)]),
            ("--service-pool", "65535x64", vec![svc(65535, 64)]),
            ("--service-pool", "0", vec![warn(svc_min), svc(1, 512)]),
            ("--service-pool", "70000", vec![warn(svc_max), svc(65535, 512)]),
            ("--service-pool", "2x63", vec![warn(svc_small), svc(2, 64)]),
            ("--service-pool", "2x1M", vec![svc(2, 1 << 20)]),
            ("--service-pool", "-1x0", vec![warn(svc_min), warn(svc_small), svc(1, 64)]),
            ("--service-pool", "99999999999999999999x1", vec![warn(svc_max), warn(svc_small), svc(65535, 64)]),
        ];
        for (opt, arg, expected) in cases {
            assert_eq!(&steps(&[opt, arg]), expected, "{opt} {arg}");
        }
        assert_eq!(steps(&["--service-pool", "2xT"]), vec![err(MSG_POOL_SYNTAX)], "a suffix needs digits");
        assert_eq!(steps(&["--service-pool", "2x1T"]), vec![svc(2, to_usize(i64::MAX))]);
    }

    #[test]
    fn options_apply_and_required() {
        let mut o = Options::default();
        assert_eq!(o.check_required(), Some(err("require -i or -c or -S")));
        for _ in 0..5 {
            o.apply(Setting::Verbose);
        }
        assert_eq!(o.log_filter, LOG_FILTER_MIN);
        o.apply(Setting::Quiet);
        assert_eq!(o.log_filter, LOG_FILTER_MIN + 1, "clamped at each step");
        for _ in 0..10 {
            o.apply(Setting::Quiet);
        }
        assert_eq!(o.log_filter, LOG_FILTER_MAX);

        for s in pid1_defaults() {
            o.apply(s);
        }
        assert_eq!(o.config.as_deref(), Some(OsStr::new("/etc/daemonproxy.conf")));
        assert_eq!(o.exit_guard, 1);
        assert_eq!(o.check_required(), None);
        o.apply(Setting::ExitGuard(0));
        assert_eq!(o.exit_guard, 0);

        let mut o = Options::default();
        o.apply(Setting::Interactive);
        assert_eq!(o.check_required(), None);
        let mut o = Options::default();
        o.apply(Setting::Socket("/s".into()));
        o.apply(Setting::FdPool { count: 7, size: 32 });
        o.apply(Setting::ServicePool { count: 1, size: 64 });
        o.apply(Setting::ExitExec(b"x".to_vec()));
        o.apply(Setting::Daemonize);
        o.apply(Setting::Mlockall);
        assert_eq!(o.check_required(), None);
        assert_eq!(o.fd_pool, Some((7, 32)));
        assert_eq!(o.service_pool, Some((1, 64)));
        assert_eq!(o.exit_exec, b"x");
        assert!(o.daemonize && o.mlockall);

        let mut o = Options::default();
        o.apply(Setting::Check);
        o.apply(Setting::Interactive);
        assert_eq!(o.check_required(), Some(err("--check requires -c FILENAME")));
        o.apply(Setting::Config("x".into()));
        assert_eq!(o.check_required(), None);
        assert!(o.check);
    }

    #[test]
    fn help_text_exact() {
        let expected = format!(
            "daemonproxy version {VERSION}
options:
  -c --config       FILENAME  Read command stream from FILENAME at startup
     --check                  Check the -c file for mistakes, run nothing, exit
  -i --interactive            Use STDIN+STDOUT as a controller communication pipe
  -S --socket       PATH      Listen on PATH for controller connections
  -D --daemonize              Fork into the background
     --exit-guard   INTEGER   Guard against accidental termination
  -E --exit-exec    TSV_ARGS  exec() args in any trappable exit scenario
     --fd-pool      N[xM]     Pre-allocate N named handles [of M bytes each, default 96]
     --service-pool N[xM]     Pre-allocate N services [of M bytes each, default 512]
     --max-connections N         Serve at most N control socket clients [default 1000]
  -M --mlockall               Call mlockall() after allocating structures
     --subreaper              Adopt orphans of services (child subreaper)
     --notify-socket PATH      Readiness socket path [default: abstract]
     --reexec-signal SIG       Re-execute daemonproxy on SIG (live upgrade)
     --log-timestamps           Start log lines with the UTC time
  -v --verbose                Enable another level of logging output
  -q --quiet                  Suppress another level of logging output
  -h --help                   Quick usage synopsis
     --version                Print complete version information

commands:
  daemonproxy ctl ...  Talk to a running daemon through its control socket (see ctl --help)

See also: man daemonproxy (docs/daemonproxy.8) and docs/protocol.md in the sources.

"
        );
        assert_eq!(help_text(), expected);
    }

    #[test]
    fn help_text_columns() {
        let text = help_text();
        // The original's listing, ending with an empty line, comes first.
        let listing = &text[..text.find("information\n\n").expect("the end of the options") + 13];
        assert!(text.ends_with(".\n\n"));
        let lines: Vec<&str> = listing.split('\n').collect();
        assert_eq!(lines[0], "daemonproxy version 2.0.0");
        assert_eq!(lines[1], "options:");
        assert_eq!(lines[lines.len() - 2], "", "ends with an empty line");
        assert_eq!(lines[lines.len() - 1], "");
        let options = &lines[2..lines.len() - 2];
        assert_eq!(options.len(), 19);
        let longs = [
            "config",
            "check",
            "interactive",
            "socket",
            "daemonize",
            "exit-guard",
            "exit-exec",
            "fd-pool",
            "service-pool",
            "max-connections",
            "mlockall",
            "subreaper",
            "notify-socket",
            "reexec-signal",
            "log-timestamps",
            "verbose",
            "quiet",
            "help",
            "version",
        ];
        let shorts = [
            "-c", "  ", "-i", "-S", "-D", "  ", "-E", "  ", "  ", "  ", "-M", "  ", "  ", "  ", "  ", "-v", "-q", "-h",
            "  ",
        ];
        let values = [
            "FILENAME", "", "", "PATH", "", "INTEGER", "TSV_ARGS", "N[xM]", "N[xM]", "N", "", "", "PATH", "SIG", "",
            "", "", "", "",
        ];
        for (i, line) in options.iter().enumerate() {
            // The original's 12 columns, or the name's own length.
            let w = longs[i].len().max(12);
            assert_eq!(&line[0..2], "  ", "{line}");
            assert_eq!(&line[2..4], shorts[i], "{line}");
            assert_eq!(&line[4..7], " --", "{line}");
            assert_eq!(line[7..7 + w].trim_end(), longs[i], "{line}");
            assert_eq!(&line[7 + w..8 + w], " ", "{line}");
            assert_eq!(line[8 + w..16 + w].trim_end(), values[i], "{line}");
            assert_eq!(&line[16 + w..18 + w], "  ", "{line}");
            assert!(!line[18 + w..].starts_with(' ') && line.len() > 19 + w, "{line}");
        }
    }

    /// `pattern` with `9` matching any ASCII digit and every other byte
    /// matching itself.
    fn shape(s: &str, pattern: &str) -> bool {
        s.len() == pattern.len()
            && s.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
                b'9' => c.is_ascii_digit(),
                _ => c == p,
            })
    }

    #[test]
    fn version_text_structure() {
        let text = version_text();
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 5, "{text}");
        // 1. the version line
        assert_eq!(lines[0], "daemonproxy version 2.0.0");
        // 2. build timestamp: seconds and date in parentheses
        let ts = lines[1].strip_prefix(" build timestamp: ").expect(lines[1]);
        let (secs, date) = ts.split_once(" (").expect(ts);
        assert!(!secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit()), "{ts}");
        assert_eq!(secs, BUILD_TIMESTAMP);
        let date = date.strip_suffix(')').expect(date);
        assert!(shape(date, "9999-99-99 99:99:99"), "{date}");
        // 3. git HEAD
        let head = lines[2].strip_prefix(" git HEAD: ").expect(lines[2]);
        let commit = head.strip_suffix(" (dirty)").unwrap_or(head);
        assert!(commit == "unknown" || (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())), "{head}");
        // 4. copyright with a year range, the build year last
        let copyright = lines[3];
        let after = &copyright[copyright.find("Copyright").expect(copyright)..];
        let range = (0..after.len().saturating_sub(8))
            .map(|i| &after[i..i + 9])
            .find(|w| shape(w, "9999-9999"))
            .expect(copyright);
        let (first, last) = range.split_once('-').unwrap();
        assert_eq!(first, "2026");
        assert_eq!(last, BUILD_YEAR);
        assert!(last >= first);
        assert!(copyright.contains("daemonproxy-rs contributors"));
        assert!(!copyright.contains("LICENSE"));
        // 5. license lines after the copyright, the first naming LICENSE
        assert!(lines[4].contains("LICENSE"), "{}", lines[4]);
        assert!(lines[4].contains("MIT"), "{}", lines[4]);
        assert!(!text.contains("Michael Conrad"));
    }

    #[test]
    fn banner() {
        let lines = banner_lines();
        assert!(lines[0].starts_with("daemonproxy version 2.0.0 (git "));
        let [copyright, license] = identity_lines();
        assert_eq!(lines[1], copyright);
        assert_eq!(lines[2], license);
        assert!(lines[3].starts_with("Interactive mode."));
    }

    #[test]
    fn local_dates_have_the_banner_shape() {
        // The UTC fallback's conversion is tested in daemonproxy_core::time.
        assert!(shape(&local_datetime(1_780_000_000), "9999-99-99 99:99:99"));
        assert!(shape(&local_datetime(-1), "9999-99-99 99:99:99"));
    }
}
