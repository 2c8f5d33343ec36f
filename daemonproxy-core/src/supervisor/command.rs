//! Executing one command line: parsing, dispatching to the area that
//! handles it, and reporting failures (protocol.md §2.3, protocol.md §3).

use super::action::{ActionResult, Errno};
use super::log::{log, Lossy};
use super::queue::{Issuer, Pending};
use super::service::Setting;
use super::{Failed, Res, Supervisor};
use crate::ids::ConnId;
use crate::time::Time;
use daemonproxy_proto::{
    encode_command_error, encode_unknown_command, is_ignored, Command, CommandError, CommandKind, Event, LogLevel, Name,
};

impl Supervisor {
    /// Executes one line from connection `id`.
    pub(super) fn execute(&mut self, id: ConnId, line: &[u8], now: Time) {
        if self.log.enabled(LogLevel::Debug) {
            log!(self.log, Debug, "controller[{}] command: \"{}\"", id, Lossy(line));
        }
        if is_ignored(line) {
            return;
        }
        // `echo` is how controllers synchronise, often once per command:
        // it skips the general parser (the same result, without a NUL).
        if let Some(text) = line.strip_prefix(b"echo\t").or((line == b"echo").then_some(&b""[..])) {
            if !text.contains(&0) {
                self.echo(id, text, now);
                return;
            }
        }
        let r = match Command::parse(line) {
            Ok(Command::Unknown { name }) => {
                self.unknown_command(id, name, now);
                Ok(())
            }
            Ok(cmd) => self.dispatch(id, line, cmd, now),
            Err(e) => self.parse_failed(id, line, &e, now),
        };
        if r.is_err() {
            self.report_failure(Issuer::new(id, line), now);
        }
        // A command may have created the handle a suspended log waits for.
        self.attach_log();
    }

    /// Hands a parsed command to the area that handles it.
    fn dispatch(&mut self, id: ConnId, line: &[u8], cmd: Command<'_>, now: Time) -> Res {
        let issuer = || Issuer::new(id, line);
        match cmd {
            Command::Unknown { .. } => Ok(()),
            Command::Echo { text } => {
                self.echo(id, text, now);
                Ok(())
            }
            Command::Statedump => {
                self.start_dump(id);
                Ok(())
            }
            Command::Exit => {
                self.exit_conn(id);
                Ok(())
            }
            Command::ServiceArgs { name, args } => self.service_setting(name, Setting::Args, args, now),
            Command::ServiceTags { name, tags } => self.service_setting(name, Setting::Tags, tags, now),
            Command::ServiceFds { name, fds } => self.service_fds(id, name, fds, now),
            Command::ServiceAutoUp { name, interval, triggers } => self.service_auto_up(name, interval, triggers, now),
            Command::ServiceStart { name, when } => self.service_start(name, when, now),
            Command::ServiceSignal { name, signal, group } => self.service_signal(issuer(), name, signal, group),
            Command::ServiceDelete { name } => self.service_delete(name, now),
            Command::FdOpen { name, flags, path } => self.fd_open(issuer(), name, flags, path),
            Command::FdPipe { read, write, flags } => self.fd_pipe(issuer(), read, write, flags),
            Command::FdSocket { name, flags, addr } => self.fd_socket(issuer(), name, flags, addr),
            Command::FdTake { name } => self.fd_take(id, name, now),
            Command::FdDelete { name } => self.fd_delete(name, now),
            Command::SocketCreate { path } => self.socket_create(Some(issuer()), path),
            Command::SocketDelete => {
                self.socket_delete();
                Ok(())
            }
            Command::Chdir { path } => self.chdir(issuer(), path),
            Command::LogFilter { arg } => {
                self.log_filter(id, arg, now);
                Ok(())
            }
            Command::LogDest { name } => {
                self.log_dest(id, name, now);
                Ok(())
            }
            Command::ConnEventTimeout { reset, close } => {
                self.set_event_timeouts(id, reset, close);
                Ok(())
            }
            Command::SignalClear { signal, count } => {
                self.signals.clear(signal, count);
                Ok(())
            }
            Command::Terminate { code, guard } => self.terminate(code, guard),
            Command::TerminateGuard { set, code } => self.terminate_guard_cmd(set, code),
            Command::TerminateExecArgs { args } => self.terminate_exec_args(args),
            Command::ServiceEnv { name, env } => self.process_setting(name, Setting::Env, Some(env.raw()), now),
            Command::ServiceCwd { name, path } => self.process_setting(name, Setting::Cwd, path, now),
            Command::ServiceUser { name, user } => {
                // Stored in its canonical form.
                let text = user.map(|u| {
                    let mut v = Vec::new();
                    u.write_to(&mut v);
                    v
                });
                self.process_setting(name, Setting::User, text.as_deref(), now)
            }
            Command::ServiceRlimit { name, limits } => {
                self.process_setting(name, Setting::Rlimit, Some(limits.raw()), now)
            }
            Command::ServiceUmask { name, umask } => self.service_umask(name, umask, now),
            Command::ServiceNotify { name, mode } => self.service_notify(name, mode, now),
            Command::ServiceListenFds { name, on } => self.service_listen_fds(name, on, now),
            Command::ConnExtended { on } => {
                self.conn_extended(id, on);
                Ok(())
            }
            Command::Reexec { args } => self.reexec(Some(issuer()), args),
        }
    }

    /// `echo`: the text back to the issuer (nothing for an empty one).
    fn echo(&mut self, id: ConnId, text: &[u8], now: Time) {
        if !text.is_empty() {
            self.scratch.clear();
            self.scratch.extend_from_slice(text);
            self.scratch.push(b'\n');
            self.deliver(Some(id), now);
        }
    }

    /// An unknown command (protocol.md §2.3): an error to the issuer, its name logged
    /// byte for byte.
    fn unknown_command(&mut self, id: ConnId, name: &[u8], now: Time) {
        self.scratch.clear();
        encode_unknown_command(&mut self.scratch, name);
        self.deliver(Some(id), now);
        if !self.log.enabled(LogLevel::Error) {
            return;
        }
        // The log points at the mistake: the config's line, spaces where
        // TABs belong, or the command meant.
        let suffix = match CommandKind::closest(name) {
            _ if name.contains(&b' ') => format!(" ({})", daemonproxy_proto::TAB_HINT),
            Some(k) => format!(" (did you mean {}?)", k.name()),
            None => String::new(),
        };
        match self.conns.get(id.0).and_then(|c| Some((c.source.as_deref()?, c.line))) {
            Some((path, line)) => {
                log!(self.log, Error, "{}:{}: Unknown command: {}{}", Lossy(path), line, Lossy(name), suffix)
            }
            None => self.log.log_bytes(
                LogLevel::Error,
                format_args!("controller[{}] sent unknown command ", id),
                name,
                &suffix,
            ),
        }
    }

    /// A command line was rejected by the parser: apply the original's
    /// order of checks and partial effects before reporting it.
    fn parse_failed(&mut self, id: ConnId, line: &[u8], e: &CommandError<'_>, now: Time) -> Res {
        if e.kind == CommandKind::FdTake {
            // fd.take takes the descriptor before validating the name.
            match self.conns.get_mut(id.0).and_then(|c| c.ancillary.pop_front()) {
                None => return self.fail("No ancillary file descriptor received"),
                Some((fd, _)) => self.queue.close(fd),
            }
        }
        if let Some(name) = e.service {
            if e.kind.auto_creates_service() {
                let key = self.service_or_create(name)?;
                if let (Some(i), Some(s)) = (e.interval, self.services.get_mut(key)) {
                    s.interval = i;
                }
            } else if self.services.key(name.as_bytes()).is_none() {
                return self.fail("No such service");
            }
        }
        if e.kind == CommandKind::ServiceFds && e.service.is_some() {
            self.warn_undefined_before_error(id, line, now);
        }
        self.msg.clear();
        e.write_message(&mut self.msg);
        Err(Failed)
    }

    /// `service.fds` with a bad entry: the original checks the entries in
    /// one loop, so those before the bad one got their `not yet defined`
    /// warnings before the error.
    fn warn_undefined_before_error(&mut self, id: ConnId, line: &[u8], now: Time) {
        for entry in line.split(|&b| b == b'\t').skip(2) {
            if entry.is_empty() || entry == b"-" {
                continue;
            }
            match Name::new(entry) {
                Some(n) if self.handles.key(n.as_bytes()).is_none() => {
                    self.emit(Some(id), Event::FdNotYetDefined { entry }, now);
                }
                Some(_) => {}
                None => break,
            }
        }
    }

    /// Reports a failed command: the error event to the issuer (if it is
    /// still there), two log lines (protocol.md §2.3). The message is in `msg`.
    pub(super) fn report_failure(&mut self, issuer: Issuer, now: Time) {
        let msg = std::mem::take(&mut self.msg);
        let msg_cut = &msg[..msg.len().min(daemonproxy_proto::ERROR_MESSAGE_MAX)];
        if let Some(id) = issuer.live() {
            self.scratch.clear();
            encode_command_error(&mut self.scratch, msg_cut, issuer.quote.bytes());
            self.deliver(Some(id), now);
        }
        if self.log.enabled(LogLevel::Error) {
            let id = issuer.conn;
            let quote = issuer.quote.bytes();
            // Spaces where TABs belong are the most common mistake: the log
            // says so (the error event keeps the protocol's text).
            // (A line of at most two fields with spaces in them: arguments
            // that legitimately hold spaces come after more fields.)
            let spaced = quote.contains(&b' ') && quote.iter().filter(|&&b| b == b'\t').count() < 2;
            let hint = if spaced { format!(" ({})", daemonproxy_proto::TAB_HINT) } else { String::new() };
            let source = self.conns.get(id.0).and_then(|c| Some((c.source.as_deref()?, c.line)));
            if let Some((path, line)) = source {
                let command = quote.split(|&b| b == b'\t').next().unwrap_or_default();
                log!(self.log, Error, "{}:{}: {}: {}{}", Lossy(path), line, Lossy(command), Lossy(msg_cut), hint);
            } else {
                let dots = if issuer.quote.long { "..." } else { "" };
                log!(self.log, Error, "controller[{}] command failed: '{}'{}", id, Lossy(quote), dots);
                log!(self.log, Error, "  with error: '{}'{}", Lossy(msg_cut), hint);
            }
        }
        self.msg = msg;
    }

    /// A command that waited for an action failed with `errno`: reports
    /// `PREFIX` + the errno's text.
    pub(super) fn report_errno(&mut self, issuer: Issuer, prefix: &str, errno: Errno, now: Time) {
        let _ = self.fail_errno(prefix, errno);
        self.report_failure(issuer, now);
    }

    /// Sets the failure message.
    pub(super) fn fail(&mut self, text: &str) -> Res {
        self.msg.clear();
        self.msg.extend_from_slice(text.as_bytes());
        Err(Failed)
    }

    /// Sets the failure message `PREFIX` + the errno's text.
    pub(super) fn fail_errno(&mut self, prefix: &str, errno: Errno) -> Res {
        self.msg.clear();
        self.msg.extend_from_slice(prefix.as_bytes());
        errno.text(&mut self.msg);
        Err(Failed)
    }

    /// Marks the issuing connection as waiting for the result of an
    /// action: its later commands run once the result is in.
    pub(super) fn wait_for_result(&mut self, issuer: &Issuer) {
        if let Some(c) = issuer.live().and_then(|id| self.conns.get_mut(id.0)) {
            c.waiting = true;
        }
    }

    /// A waiting command is done: its connection goes on.
    pub(super) fn done_waiting(&mut self, issuer: &Issuer, now: Time) {
        if let Some(id) = issuer.live() {
            if let Some(c) = self.conns.get_mut(id.0) {
                c.waiting = false;
                self.attach_log();
                self.run_conn(id, now);
            }
        }
    }
}

impl Supervisor {
    /// Runs the continuation of an action whose result arrived.
    pub(super) fn resume(&mut self, then: Pending, r: ActionResult, now: Time) {
        match then {
            Pending::Open { issuer, name, flags, description } => self.opened(issuer, name, flags, description, r, now),
            Pending::Pipe { issuer, read, write, flags } => self.piped(issuer, (read, write), flags, r, now),
            Pending::Socket { issuer, name, flags, description } => {
                self.socket_made(issuer, name, flags, description, r, now)
            }
            Pending::Listen { issuer, path } => self.listening(issuer, path, r, now),
            Pending::Unlisten { path } => self.unlistened(&path, r),
            Pending::Chdir { issuer } => self.chdir_done(issuer, r, now),
            Pending::Kill { issuer, name, pid, group } => self.signalled(issuer, name, pid, group, r, now),
            Pending::Spawn { key, conn } => self.spawned(key, conn, r, now),
            Pending::Reexec { issuer } => self.reexec_failed(issuer, r, now),
        }
    }
}
