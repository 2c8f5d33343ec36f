//! `daemonproxy --check -c FILE`: finds the mistakes of a config file
//! without running anything (no reactor, no services, no socket).
//!
//! The file is framed and parsed exactly as the daemon reads a config
//! (`daemonproxy_proto`'s framer and command parser, comments and blank
//! lines skipped, reading stops at `exit`), and every problem is reported
//! as `FILE:LINE: message` with the protocol's error text. Besides the
//! protocol's own errors it reports what the daemon can only find out at
//! run time, when that is decidable from the file alone: a service used
//! before any command created it (`No such service`), and a program name
//! with spaces in it. Lines that hold spaces where the protocol wants TABs
//! (the most common mistake, easy to make by copying aligned examples)
//! get a hint.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use daemonproxy_core::process::error_text;
use daemonproxy_proto::{is_ignored, Command, CommandKind, Frame, LineFramer, TAB_HINT};

/// Exit status when the file has problems or cannot be read.
pub const EXIT_PROBLEMS: i32 = 1;

/// One problem: the 1-based line number and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line it is on.
    pub line: usize,
    /// What is wrong, in the protocol's words where it has some.
    pub message: String,
}

/// What a check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The command lines that would be executed (comments and blank lines
    /// are not counted).
    pub commands: usize,
    /// Every problem, in line order.
    pub problems: Vec<Problem>,
}

/// Checks the config at `path` (`-` is stdin), prints the problems on
/// stderr as `FILE:LINE: message` and a summary, and returns the exit
/// status: 0 without problems (the summary goes to stdout), else
/// [`EXIT_PROBLEMS`].
pub fn main(path: &OsStr) -> i32 {
    let name = path.to_string_lossy();
    let data = if path == "-" {
        let mut data = Vec::new();
        io::stdin().lock().read_to_end(&mut data).map(|_| data)
    } else {
        std::fs::read(path)
    };
    let data = match data {
        Ok(data) => data,
        Err(e) => {
            eprintln!("{name}: cannot read: {}", error_text(&e));
            return EXIT_PROBLEMS;
        }
    };
    let report = check(&data);
    let mut err = io::stderr().lock();
    for p in &report.problems {
        let _ = writeln!(err, "{name}:{}: {}", p.line, p.message);
    }
    let commands = plural(report.commands, "command");
    match report.problems.len() {
        0 => {
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "{name}: OK ({commands})").and_then(|()| out.flush());
            0
        }
        n => {
            let _ = writeln!(err, "{name}: {} ({commands})", plural(n, "problem"));
            EXIT_PROBLEMS
        }
    }
}

/// `1 command`, `2 commands`.
fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Checks a whole config file.
pub fn check(data: &[u8]) -> Report {
    let mut checker = Checker::default();
    let mut framer = LineFramer::new();
    let mut rest = data;
    let mut number = 0;
    while !checker.stopped() {
        let taken = framer.push(rest);
        rest = &rest[taken..];
        let mut framed = false;
        while let Some(frame) = framer.next_frame() {
            framed = true;
            number += 1;
            checker.frame(number, frame);
        }
        if rest.is_empty() && !framed {
            break;
        }
    }
    if let Some(frame) = framer.finish().filter(|_| !checker.stopped()) {
        checker.frame(number + 1, frame);
    }
    checker.report
}

/// The state of a check between lines.
#[derive(Default)]
struct Checker {
    report: Report,
    /// The services created so far (by `service.args`, `.tags`, `.fds`,
    /// `.auto_up`), less the deleted ones.
    services: BTreeSet<Vec<u8>>,
    /// The line of an `exit`, after which nothing is read.
    exit_line: Option<usize>,
    /// Whether a command after `exit` was reported (then the check ends).
    after_exit: bool,
}

impl Checker {
    fn stopped(&self) -> bool {
        self.after_exit
    }

    fn problem(&mut self, line: usize, message: String) {
        self.report.problems.push(Problem { line, message });
    }

    fn frame(&mut self, number: usize, frame: Frame<'_>) {
        if self.stopped() {
            return;
        }
        match frame {
            Frame::TooLong { first_byte: b'#' } => {}
            Frame::TooLong { .. } => self.command(number, None),
            Frame::Line(l) if is_ignored(l) => {}
            Frame::Line(l) => self.command(number, Some(l)),
        }
    }

    /// One command line (`None`: too long to be read).
    fn command(&mut self, number: usize, line: Option<&[u8]>) {
        if let Some(exit) = self.exit_line {
            self.problem(number, format!("never executed: reading stops at the `exit` on line {exit}"));
            self.after_exit = true;
            return;
        }
        self.report.commands += 1;
        let Some(line) = line else {
            return self.problem(number, format!("line too long (at most {} bytes)", daemonproxy_proto::MAX_LINE));
        };
        let spaced = line.contains(&b' ');
        let hint = |message: String| if spaced { format!("{message} ({TAB_HINT})") } else { message };
        match Command::parse(line) {
            Ok(Command::Unknown { name }) => {
                let message = format!("Unknown command: {}", String::from_utf8_lossy(name));
                let message = match CommandKind::closest(name) {
                    Some(known) if !spaced => format!("{message} (did you mean {}?)", known.name()),
                    _ => hint(message),
                };
                self.problem(number, message);
            }
            Err(e) => {
                if let Some(name) = e.service.filter(|_| e.kind.auto_creates_service()) {
                    self.services.insert(name.as_bytes().to_vec());
                }
                self.problem(number, hint(format!("{}: {e}", e.kind.name())));
            }
            Ok(cmd) => self.valid(number, &cmd),
        }
    }

    /// The checks of a command the protocol accepts.
    fn valid(&mut self, number: usize, cmd: &Command<'_>) {
        match *cmd {
            Command::ServiceArgs { name, args } => {
                self.services.insert(name.as_bytes().to_vec());
                let program = args.split(|&b| b == b'\t').next().unwrap_or_default();
                if program.contains(&b' ') && !Path::new(OsStr::from_bytes(program)).exists() {
                    let program = String::from_utf8_lossy(program);
                    self.problem(number, format!("service.args: no program \"{program}\" ({TAB_HINT})"));
                }
            }
            Command::ServiceTags { name, .. }
            | Command::ServiceFds { name, .. }
            | Command::ServiceAutoUp { name, .. } => {
                self.services.insert(name.as_bytes().to_vec());
            }
            Command::ServiceStart { name, .. } | Command::ServiceSignal { name, .. } => {
                self.require_service(number, cmd, name.as_bytes());
            }
            Command::ServiceDelete { name } => {
                self.require_service(number, cmd, name.as_bytes());
                self.services.remove(name.as_bytes());
            }
            Command::Exit => self.exit_line = Some(number),
            _ => {}
        }
    }

    /// `No such service` unless `name` was created before.
    fn require_service(&mut self, number: usize, cmd: &Command<'_>, name: &[u8]) {
        if !self.services.contains(name) {
            let kind = cmd.kind().map_or("", CommandKind::name);
            self.problem(number, format!("{kind}: No such service \"{}\"", String::from_utf8_lossy(name)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(usize, String)> {
        check(text.as_bytes()).problems.into_iter().map(|p| (p.line, p.message)).collect()
    }

    #[test]
    fn a_good_config_has_no_problems() {
        let text = "# comment\n\nfd.pipe\tr\tw\nservice.args\tweb\tsleep\t9\nservice.fds\tweb\tnull\tw\tw\n\
                    service.auto_up\tweb\t5\talways\nservice.start\tweb\nservice.signal\tweb\tTERM\tgroup";
        assert_eq!(check(text.as_bytes()), Report { commands: 6, problems: vec![] });
    }

    #[test]
    fn every_problem_with_its_line() {
        let text = "service.args\tweb\tsleep\t9\n\
                    servce.args\tweb\n\
                    service.signal\tweb\tFOO\n\
                    # fine\n\
                    service.auto_up\tweb\t0\talways\n\
                    service.start\tnope\n\
                    fd.open\tf\tbogus\t/x\n";
        assert_eq!(
            problems(text),
            vec![
                (2, "Unknown command: servce.args (did you mean service.args?)".to_owned()),
                (3, "service.signal: Invalid signal argument".to_owned()),
                (5, "service.auto_up: invalid interval".to_owned()),
                (6, "service.start: No such service \"nope\"".to_owned()),
                (7, "fd.open: unknown flag \"bogus\"".to_owned()),
            ]
        );
    }

    #[test]
    fn spaces_instead_of_tabs_get_a_hint() {
        let text = "service.signal ticker TERM\n\
                    service.args\tweb\tsleep 100\n\
                    service.auto_up\tweb\t5 always\n\
                    service.args\tok\tsh\t-c\techo a b\n";
        assert_eq!(
            problems(text),
            vec![
                (1, format!("Unknown command: service.signal ticker TERM ({TAB_HINT})")),
                (2, format!("service.args: no program \"sleep 100\" ({TAB_HINT})")),
                (3, format!("service.auto_up: Expected integer ({TAB_HINT})")),
            ]
        );
    }

    #[test]
    fn services_are_created_and_deleted_in_order() {
        let text = "service.start\tweb\nservice.tags\tweb\tx\nservice.start\tweb\nservice.delete\tweb\n\
                    service.signal\tweb\tHUP\nservice.auto_up\tbad\t0\nservice.delete\tbad\n";
        assert_eq!(
            problems(text),
            vec![
                (1, "service.start: No such service \"web\"".to_owned()),
                (5, "service.signal: No such service \"web\"".to_owned()),
                (6, "service.auto_up: invalid interval".to_owned()),
            ]
        );
    }

    #[test]
    fn reading_stops_at_exit() {
        assert_eq!(check(b"echo\nexit\n# comment\n\n").problems, vec![]);
        let report = check(b"echo\nexit\n\nservice.args\tx\nfoo\n");
        assert_eq!(report.commands, 2);
        assert_eq!(
            report.problems,
            vec![Problem { line: 4, message: "never executed: reading stops at the `exit` on line 2".to_owned() }]
        );
    }

    #[test]
    fn long_lines_nul_bytes_and_a_final_line_without_lf() {
        let long = format!("echo\t{}\n", "x".repeat(1100));
        let comment = format!("#{}\n", "x".repeat(1100));
        let text = format!("{comment}{long}service.args\tw\0x\nbogus");
        assert_eq!(
            problems(&text),
            vec![
                (2, "line too long (at most 1023 bytes)".to_owned()),
                (3, "service.args: command contains a NUL byte".to_owned()),
                (4, "Unknown command: bogus".to_owned()),
            ]
        );
    }

    #[test]
    fn more_than_a_framer_buffer() {
        let text = "echo\thello\n".repeat(5000);
        assert_eq!(check(text.as_bytes()), Report { commands: 5000, problems: vec![] });
    }

    #[test]
    fn suggestions_and_distance() {
        assert_eq!(CommandKind::closest(b"statedumb"), Some(CommandKind::Statedump));
        assert_eq!(CommandKind::closest(b"service.starts"), Some(CommandKind::ServiceStart));
        assert_eq!(CommandKind::closest(b"hello"), None);
    }
}
