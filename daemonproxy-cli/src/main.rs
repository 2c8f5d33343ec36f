//! daemonproxy: a Unix process supervisor driven by a text protocol.
//!
//! The binary follows the original's start-up sequence: umask, PID-1
//! defaults, options processed left to right, the daemon's state, the
//! control socket, interactive mode, the config file, mlockall, daemonize,
//! then the main loop. Every exit goes through one path (protocol.md §8.5,
//! §8.6): exec-on-exit if configured, the `fatal:` line, and the terminate
//! guard, which turns fatal conditions into "attempting to continue".
//! `--check` leaves all of that out and only reads the config file.
//! A new image started by `reexec` (`--restore-state FD` on its command
//! line) takes its state from the previous one instead of starting up.
//!
//! Section numbers (protocol.md §N) are those of docs/protocol.md, the
//! user-facing reference in the repository.

#![forbid(unsafe_code)]

mod args;
mod check;
mod ctl;
#[cfg(test)]
mod generated;

use args::{Options, Parsed, Setting, Step};
use daemonproxy_core::process::{self, Daemonized};
use daemonproxy_core::proto::LogLevel;
use daemonproxy_core::supervisor::Timestamp;
use daemonproxy_core::{Outcome, Reactor};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

/// Exit status for an unusable environment (protocol.md §8.3).
const EXIT_INVALID_ENVIRONMENT: i32 = 3;

/// The program's state before and after the reactor exists: options come
/// first, and logging, the guard and exec-on-exit move into the reactor
/// once it is built (commands can change them).
struct Cli {
    opts: Options,
    reactor: Option<Reactor>,
    /// `--check` is on the command line (anywhere): nothing runs, so the
    /// terminate guard and exec-on-exit are left out of every exit.
    checking: bool,
}

fn level_from(filter: i32) -> LogLevel {
    LogLevel::Debug.step(filter - LogLevel::Debug as i32)
}

impl Cli {
    fn log(&mut self, level: LogLevel, args: fmt::Arguments<'_>) {
        match &mut self.reactor {
            Some(r) => r.log(level, args),
            None => {
                if level > level_from(self.opts.log_filter) {
                    let mut err = std::io::stderr().lock();
                    if self.opts.log_timestamps {
                        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                        let _ = write!(err, "{} ", Timestamp(now.unwrap_or_default()));
                    }
                    let _ = writeln!(err, "{}: {}", level.name(), args);
                }
            }
        }
    }

    fn guarded(&mut self) -> bool {
        if self.checking {
            return false;
        }
        match &mut self.reactor {
            Some(r) => r.terminate_guard().is_some(),
            None => self.opts.exit_guard != 0,
        }
    }

    fn exec_args(&mut self) -> Vec<u8> {
        if self.checking {
            return Vec::new();
        }
        match &mut self.reactor {
            Some(r) => r.exec_on_exit().to_vec(),
            None => self.opts.exit_exec.clone(),
        }
    }

    fn log_running_services(&mut self) {
        if let Some(r) = &mut self.reactor {
            r.log_running_services();
        }
    }

    fn flush(&mut self) {
        if let Some(r) = &mut self.reactor {
            r.flush();
        }
    }

    /// Exec-on-exit, if configured (protocol.md §8.6). Returns if it is not
    /// configured or the exec failed.
    fn exec_on_exit(&mut self, code: i64, message: &str) {
        let args = self.exec_args();
        if args.is_empty() {
            return;
        }
        let prog = args.split(|&b| b == b'\t').next().unwrap_or(b"").to_vec();
        let prog = String::from_utf8_lossy(&prog).into_owned();
        self.log(LogLevel::Warning, format_args!("daemonproxy exec_on_exit to '{prog}'"));
        self.log_running_services();
        self.flush();
        let err = match &mut self.reactor {
            Some(r) => r.run_exec_on_exit(code, message),
            None => Some(process::exec_on_exit(&args, code, message)),
        };
        let Some(err) = err else { return };
        self.log(LogLevel::Error, format_args!("Unable to exec \"{prog}\": {}", process::error_text(&err)));
    }

    /// The common fatal path (protocol.md §8.5): returns only when the guard is set.
    fn fatal(&mut self, status: i32, message: &str) {
        self.fatal_path(i64::from(status), status, message);
    }

    /// The common fatal path, with exec-on-exit seeing `code` and the
    /// process exiting with `status`.
    fn fatal_path(&mut self, code: i64, status: i32, message: &str) {
        self.exec_on_exit(code, message);
        let guarded = self.guarded();
        if !message.is_empty() {
            let prefix = if guarded { "(attempting to continue) " } else { "" };
            self.log(LogLevel::Fatal, format_args!("{prefix}{message}"));
        }
        if !guarded {
            self.log_running_services();
            self.exit(status);
        }
    }

    /// Normal termination (protocol.md §8.5): `terminate CODE` exits with
    /// the low 8 bits of CODE; exec-on-exit sees CODE itself. With
    /// exec-on-exit, that is the fatal path (which exits right after
    /// `fatal: terminated normally` when the exec fails, unless guarded).
    fn terminate(&mut self, code: i64) -> ! {
        let status = (code & 0xff) as i32;
        if !self.exec_args().is_empty() {
            self.fatal_path(code, status, "terminated normally");
        }
        self.log(LogLevel::Info, format_args!("daemonproxy exiting"));
        self.log_running_services();
        self.exit(status);
    }

    /// Flushes the log and exits. The reactor is dropped first, so that
    /// what it leaves on disk is cleaned up (the `--notify-socket` file;
    /// `std::process::exit` runs no destructors).
    fn exit(&mut self, status: i32) -> ! {
        self.flush();
        drop(self.reactor.take());
        std::process::exit(status);
    }

    /// Executes one command-line step.
    fn step(&mut self, step: Step) {
        match step {
            Step::Set(setting) => self.opts.apply(setting),
            Step::Warn(message) => self.log(LogLevel::Warning, format_args!("{message}")),
            Step::Help | Step::Version => {
                let text = if step == Step::Help { args::help_text() } else { args::version_text() };
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
                self.fatal(args::EXIT_NO_OP, "");
            }
            Step::Fatal { status, message } => self.fatal(status, &message),
        }
    }
}

fn main() {
    process::set_umask(0o077);
    let mut argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let restoring = daemonproxy_core::take_restore_state(&mut argv);
    let steps = match args::parse(argv.clone()) {
        Parsed::Run(steps) => steps,
        Parsed::Ctl(rest) => std::process::exit(ctl::main(rest)),
    };
    let pid1 = std::process::id() == 1;
    let checking = restoring.is_none() && steps.contains(&Step::Set(Setting::Check));
    let mut cli = Cli { opts: Options::default(), reactor: None, checking };
    if pid1 {
        for setting in args::pid1_defaults() {
            cli.opts.apply(setting);
        }
    }
    if let Some(state) = restoring {
        restore(&mut cli, state, steps, argv);
    } else {
        for step in steps {
            cli.step(step);
        }
        if let Some(step) = cli.opts.check_required() {
            cli.step(step);
        }
        if let Some(config) = cli.opts.config.as_deref().filter(|_| checking) {
            std::process::exit(check::main(config));
        }
        start(&mut cli, pid1, argv);
    }
    process::release_startup_memory();
    loop {
        let outcome = cli.reactor.as_mut().map_or(Outcome::Exit { code: 0 }, Reactor::run);
        match outcome {
            Outcome::Exit { code } => cli.terminate(code),
            Outcome::Fatal { status, message } => cli.fatal(status, &message),
            other => cli.fatal(other.exit_status(), other.message()),
        }
    }
}

/// The core's options from the command line's; `argv` is what a plain
/// `reexec` passes on.
fn core_options(o: &Options, argv: Vec<OsString>) -> daemonproxy_core::Options {
    let mut core_opts = daemonproxy_core::Options::new()
        .log_filter(level_from(o.log_filter))
        .terminate_guard(o.exit_guard)
        .exec_on_exit(o.exit_exec.clone())
        .register_inherited(true)
        .subreaper(o.subreaper)
        .max_connections(o.max_connections)
        .reexec_args(argv)
        .log_timestamps(o.log_timestamps);
    if let Some(path) = &o.notify_socket {
        core_opts = core_opts.notify_socket(OsStr::as_bytes(path));
    }
    if let Some((n, m)) = o.fd_pool {
        core_opts = core_opts.fd_pool(n, m);
    }
    if let Some((n, m)) = o.service_pool {
        core_opts = core_opts.service_pool(n, m);
    }
    if let Some(sig) = o.reexec_signal {
        core_opts = core_opts.reexec_signal(sig);
    }
    core_opts
}

/// A new image after `reexec`: the options are applied, but the daemon is
/// not set up again (no control socket, interactive session or config
/// file: they are in the state). A problem with the options does not end
/// a running daemon: it is logged and the rest applies. The state's own
/// problems take the exit path (exec-on-exit included).
fn restore(cli: &mut Cli, state: Result<i32, String>, steps: Vec<Step>, argv: Vec<OsString>) {
    for step in steps {
        match step {
            Step::Set(setting) => cli.opts.apply(setting),
            Step::Warn(message) | Step::Fatal { message, .. } => {
                cli.log(LogLevel::Warning, format_args!("reexec: {message}"))
            }
            Step::Help | Step::Version => {}
        }
    }
    let fd = match state {
        Ok(fd) => fd,
        Err(message) => {
            cli.fatal(EXIT_INVALID_ENVIRONMENT, &message);
            std::process::exit(EXIT_INVALID_ENVIRONMENT);
        }
    };
    match Reactor::restore(core_options(&cli.opts, argv), fd) {
        Ok(r) => cli.reactor = Some(r),
        Err(e) => {
            cli.fatal(e.exit_status(), e.message());
            std::process::exit(e.exit_status());
        }
    }
    lock_memory(cli);
}

/// `-M`, after setup (and again in a new image: locks do not survive exec).
fn lock_memory(cli: &mut Cli) {
    if cli.opts.mlockall {
        if let Err(e) = process::mlockall() {
            cli.log(LogLevel::Error, format_args!("mlockall: {}", process::error_text(&e)));
        }
    }
}

/// The start-up sequence after option processing.
fn start(cli: &mut Cli, pid1: bool, argv: Vec<OsString>) {
    match Reactor::new(core_options(&cli.opts, argv)) {
        Ok(r) => cli.reactor = Some(r),
        Err(e) => {
            cli.fatal(e.exit_status(), e.message());
            // Without a reactor there is nothing to continue with.
            std::process::exit(e.exit_status());
        }
    }
    if let Some(path) = cli.opts.socket.clone() {
        let r = cli.reactor.as_mut().expect("built");
        if r.create_control_socket(path.as_bytes()).is_err() {
            cli.fatal(EXIT_INVALID_ENVIRONMENT, "Can't create controller socket");
        }
    }
    if cli.opts.interactive {
        let banner = args::banner_lines();
        let lines: Vec<&str> = banner.iter().map(String::as_str).collect();
        let r = cli.reactor.as_mut().expect("built");
        if r.add_interactive(&lines).is_err() {
            cli.fatal(EXIT_INVALID_ENVIRONMENT, "stdin/stdout are not usable!");
        }
    }
    if let Some(path) = cli.opts.config.clone() {
        let r = cli.reactor.as_mut().expect("built");
        if r.add_config(OsStr::as_bytes(&path)).is_err() {
            cli.fatal(EXIT_INVALID_ENVIRONMENT, "Unable to process config file");
        }
    }
    lock_memory(cli);
    if cli.opts.daemonize {
        if cli.opts.interactive || pid1 {
            cli.log(LogLevel::Warning, format_args!("Ignoring --daemonize (see manual)"));
        } else {
            let keep_stdin = cli.opts.config.as_deref() == Some(OsStr::new("-"));
            match process::daemonize(keep_stdin) {
                Ok(Daemonized::Parent(pid)) => {
                    let mut out = std::io::stdout().lock();
                    let _ = write!(out, "{pid}").and_then(|()| out.flush());
                    std::process::exit(0);
                }
                Ok(Daemonized::Child) => {
                    if let Some(r) = cli.reactor.as_mut() {
                        r.daemonized();
                    }
                }
                Err(e) => {
                    let msg = format!("fork: {}", process::error_text(&e));
                    cli.fatal(EXIT_INVALID_ENVIRONMENT, &msg);
                }
            }
        }
    }
}
