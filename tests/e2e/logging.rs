//! The log (PROTOCOL.md §11): line format, the filter, the mandatory debug
//! lines, `log.dest`, and blocked or failing destinations.

use crate::harness::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn p(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

/// The log line of an unknown command from the interactive controller.
fn unknown(name: &str) -> String {
    format!("error: controller[0] sent unknown command {name}")
}

/// Sends an unknown command and waits for its event (so it has been
/// executed and logged).
fn bogus(d: &mut Daemon, name: &str) {
    assert_eq!(d.cmd(name), [format!("error\tUnknown command: {name}")]);
}

/// Waits until the file's lines satisfy `pred`; returns them.
fn wait_file(path: &Path, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    poll_until(what, || {
        let s = std::fs::read_to_string(path).ok()?;
        let lines: Vec<String> = s.lines().map(str::to_owned).collect();
        pred(&lines).then_some(lines)
    })
}

/// CPU seconds (user + system) used by `pid` so far.
fn cpu_secs(pid: i32) -> f64 {
    proc_stat(pid).expect("process exists").cpu_ticks as f64 / clock_ticks() as f64
}

/// Asserts that `pid` uses little CPU over about 1.5 s: a busy-loop
/// detector, not a timing assertion.
fn assert_no_busy_loop(pid: i32) {
    let before = cpu_secs(pid);
    std::thread::sleep(Duration::from_millis(1500));
    let used = cpu_secs(pid) - before;
    assert!(used < 0.5, "daemon used {used:.2} s of CPU in 1.5 s: busy loop");
}

#[test]
fn line_format_is_level_colon_message() {
    let dir = tempdir();
    let sock = dir.path().join("s");
    // warning (at startup), info, error.
    let mut d = Daemon::interactive_clean(&["-D"]);
    assert_eq!(d.log.next(), "warning: Ignoring --daemonize (see manual)");
    assert!(d.cmd(&format!("socket.create\t-\t{}", p(&sock))).is_empty());
    assert!(d.cmd("socket.delete").is_empty());
    assert_eq!(d.log.next(), format!("info: Unlinked control socket {}", p(&sock)));
    bogus(&mut d, "bogus");
    assert_eq!(d.log.next(), unknown("bogus"));
    d.send("fd.delete\tnosuch");
    assert_eq!(d.log.next(), "error: controller[0] command failed: 'fd.delete\tnosuch'");
    assert_eq!(d.log.next(), "error:   with error: 'No such file descriptor'");
    assert_eq!(d.wait(), Some(0));
    assert_eq!(d.log.rest_until_eof(), ["info: interactive session ended", "info: daemonproxy exiting"]);
}

#[test]
fn verbose_logs_every_line_and_event_at_debug() {
    let mut d = Daemon::interactive_clean(&["-v"]);
    d.send("echo\tqwerty-42");
    assert_eq!(d.out.next(), "qwerty-42");
    d.log.wait_for("command debug line", |l| l == "debug: controller[0] command: \"echo\tqwerty-42\"");
    // The event's LF is inside the quotes: two physical lines.
    d.log.wait_for("event debug line", |l| l == "debug: client[0] event: \"qwerty-42");
    assert_eq!(d.log.next(), "\"");
    // Comments, blank lines and unknown commands are logged too, before
    // they are executed.
    d.send_raw(b"#a comment\n\n  \nnope\tx\n");
    d.log.wait_for("comment", |l| l == "debug: controller[0] command: \"#a comment\"");
    d.log.wait_for("blank line", |l| l == "debug: controller[0] command: \"\"");
    d.log.wait_for("spaces", |l| l == "debug: controller[0] command: \"  \"");
    d.log.wait_for("unknown command", |l| l == "debug: controller[0] command: \"nope\tx\"");
    d.log.wait_for("unknown command error", |l| l == unknown("nope"));
    // Default filter: no debug lines.
    let mut d = Daemon::interactive_clean(&[]);
    d.send("echo\tquiet");
    assert_eq!(d.out.next(), "quiet");
    bogus(&mut d, "marker");
    assert_eq!(d.log.next(), unknown("marker"));
    // `log.filter trace` at run time has the same effect as -v.
    assert_eq!(d.cmd("log.filter\ttrace"), ["log.filter\ttrace"]);
    d.send("echo\tloud");
    d.log.wait_for("command debug line", |l| l == "debug: controller[0] command: \"echo\tloud\"");
}

#[test]
fn filter_suppresses_levels_up_to_and_including_itself() {
    let dir = tempdir();
    let sock = dir.path().join("s");
    let mut d = Daemon::interactive_clean(&[]);
    let mut kg = KillGroups::default();
    // filter info: info suppressed, error shown.
    assert_eq!(d.cmd("log.filter\tinfo"), ["log.filter\tinfo"]);
    d.cmd(&format!("socket.create\t-\t{}", p(&sock)));
    d.cmd("socket.delete");
    bogus(&mut d, "m1");
    assert_eq!(d.log.next(), unknown("m1"));
    // filter error: errors suppressed too.
    assert_eq!(d.cmd("log.filter\terror"), ["log.filter\terror"]);
    bogus(&mut d, "hidden");
    assert_eq!(d.cmd("log.filter\twarning"), ["log.filter\twarning"]);
    bogus(&mut d, "m2");
    assert_eq!(d.log.next(), unknown("m2"));
    // filter info at exit: the info lines vanish, the service warning stays.
    d.cmd("service.args\ts\tsleep\t30");
    let pid = d.start_up("s");
    kg.add(pid);
    assert_eq!(d.cmd("log.filter\tinfo"), ["log.filter\tinfo"]);
    assert_eq!(d.wait(), Some(0));
    assert_eq!(d.log.rest_until_eof(), [format!("warning: service 's' running as pid {pid}")]);
}

#[test]
fn fatal_filter_suppresses_even_fatal_messages() {
    let r = |args: &[&str]| {
        let mut d = Daemon::spawn(clean_fds(Command::new(bin()).args(args)));
        let st = d.wait();
        (st, d.log.rest_until_eof())
    };
    assert_eq!(r(&["-qqq", "--bogus"]), (Some(2), vec!["fatal: Unknown option --bogus  (see --help)".to_owned()]));
    assert_eq!(r(&["-qqqq", "--bogus"]), (Some(2), vec![]));
    // A fatal signal at run time (§10.1): exit 4.
    let mut d = Daemon::interactive_clean(&["-qqq"]);
    kill(d.pid(), libc::SIGILL);
    // (stdin stays open: the signal alone must end the daemon)
    assert_eq!(wait_timeout(&mut d.child), Some(4));
    assert_eq!(d.log.rest_until_eof(), ["fatal: Received signal SIGILL (4)"]);
    let mut d = Daemon::interactive_clean(&["-qqqq"]);
    kill(d.pid(), libc::SIGILL);
    // (stdin stays open: the signal alone must end the daemon)
    assert_eq!(wait_timeout(&mut d.child), Some(4));
    assert_eq!(d.log.rest_until_eof(), Vec::<String>::new());
}

#[test]
fn log_dest_to_a_file() {
    let dir = tempdir();
    let file = dir.path().join("log");
    let mut d = Daemon::interactive_clean(&[]);
    d.cmd(&format!("fd.open\tlogf\twrite,create\t{}", p(&file)));
    assert!(d.cmd("log.dest\tfd\tlogf").is_empty());
    bogus(&mut d, "to-file");
    wait_file(&file, "message in the log file", |l| l == [unknown("to-file")]);
    // Back to stderr: the file message never went there.
    assert!(d.cmd("log.dest\tfd\tstderr").is_empty());
    bogus(&mut d, "to-stderr");
    assert_eq!(d.log.next(), unknown("to-stderr"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("{}\n", unknown("to-file")));
    // `null` discards.
    assert!(d.cmd("log.dest\tfd\tnull").is_empty());
    bogus(&mut d, "discarded");
    assert!(d.cmd("log.dest\tfd\tstderr").is_empty());
    bogus(&mut d, "again");
    assert_eq!(d.log.next(), unknown("again"));
}

#[test]
fn log_dest_attaches_later_and_delivers_buffered_messages() {
    let dir = tempdir();
    let file = dir.path().join("later.log");
    let mut d = Daemon::interactive_clean(&[]);
    assert_eq!(d.cmd("log.dest\tfd\tlater"), ["warning\tfd \"later\" does not exist"]);
    bogus(&mut d, "early");
    d.cmd(&format!("fd.open\tlater\twrite,create\t{}", p(&file)));
    wait_file(&file, "buffered message", |l| l.contains(&unknown("early")));
    bogus(&mut d, "late");
    let lines = wait_file(&file, "later message", |l| l.contains(&unknown("late")));
    assert_eq!(lines, [unknown("early"), unknown("late")]);
    // Nothing of that reached stderr.
    assert!(d.cmd("log.dest\tfd\tstderr").is_empty());
    bogus(&mut d, "back");
    assert_eq!(d.log.next(), unknown("back"));
}

#[test]
fn deleting_the_log_handle_suspends_until_a_new_one_exists() {
    let dir = tempdir();
    let (f1, f2) = (dir.path().join("one"), dir.path().join("two"));
    let mut d = Daemon::interactive_clean(&[]);
    d.cmd(&format!("fd.open\tlf\twrite,create\t{}", p(&f1)));
    d.cmd("log.dest\tfd\tlf");
    bogus(&mut d, "first");
    wait_file(&f1, "first", |l| l == [unknown("first")]);
    d.cmd("fd.delete\tlf");
    bogus(&mut d, "while-suspended");
    d.cmd(&format!("fd.open\tlf\twrite,create\t{}", p(&f2)));
    wait_file(&f2, "buffered message in the new handle", |l| l.contains(&unknown("while-suspended")));
    assert_eq!(std::fs::read_to_string(&f1).unwrap(), format!("{}\n", unknown("first")));
}

#[test]
fn log_reattaches_to_a_new_stderr_handle() {
    // Improvement (§11.3, §16 row 34): without log.dest, deleting and
    // recreating `stderr` re-attaches the log to the new handle.
    let dir = tempdir();
    let file = dir.path().join("new-stderr");
    let mut d = Daemon::interactive_clean(&[]);
    assert_eq!(d.cmd("fd.delete\tstderr"), ["fd.state\tstderr\tdeleted"]);
    bogus(&mut d, "no-stderr");
    d.cmd(&format!("fd.open\tstderr\twrite,create\t{}", p(&file)));
    wait_file(&file, "buffered message", |l| l.contains(&unknown("no-stderr")));
    bogus(&mut d, "after");
    wait_file(&file, "later message", |l| l.contains(&unknown("after")));
}

#[test]
fn over_long_message_does_not_stop_logging() {
    // §16 row 32: a message longer than the 1024-byte log buffer.
    let mut d = Daemon::interactive_clean(&[]);
    let long = "z".repeat(1015);
    bogus(&mut d, &long);
    bogus(&mut d, "after-long");
    let first = d.log.next();
    assert!(
        first.starts_with("error: controller[0] sent unknown command zzz") || first.starts_with("warning: lost "),
        "{first:?}"
    );
    d.log.wait_for("later message", |l| l == unknown("after-long"));
}

#[test]
fn full_log_destination_keeps_the_daemon_responsive() {
    let dir = tempdir();
    let good = dir.path().join("good.log");
    let mut d = Daemon::interactive_clean(&[]);
    d.cmd("fd.open\tfull\twrite\t/dev/full");
    assert!(d.cmd("log.dest\tfd\tfull").is_empty());
    for i in 0..100 {
        d.send(&format!("bogus{i:03}"));
    }
    assert_eq!(d.sync().len(), 100);
    assert_eq!(d.cmd("echo\tresponsive"), ["responsive"]);
    assert_no_busy_loop(d.pid());
    assert_eq!(d.cmd("echo\tstill-responsive"), ["still-responsive"]);
    // Re-pointing: the buffered messages, then the lost notice.
    d.cmd(&format!("fd.open\tgood\twrite,create\t{}", p(&good)));
    assert!(d.cmd("log.dest\tfd\tgood").is_empty());
    bogus(&mut d, "after");
    let lines = wait_file(&good, "lost notice and later message", |l| l.contains(&unknown("after")));
    let lost: Vec<&String> = lines.iter().filter(|l| l.starts_with("warning: lost ")).collect();
    assert_eq!(lost.len(), 1, "{lines:#?}");
    let n: usize = lost[0]
        .strip_prefix("warning: lost ")
        .and_then(|r| r.strip_suffix(" log messages"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{:?}", lost[0]));
    // Every message was either kept (the buffer holds 1024 bytes) or
    // counted.
    let kept = lines.iter().filter(|l| l.starts_with("error: controller[0] sent unknown command bogus")).count();
    assert!(n > 0 && kept > 0, "{lines:#?}");
    assert_eq!(kept + n, 100, "{lines:#?}");
    assert!(kept * 48 <= 1024, "more kept than fits the 1024-byte buffer: {kept}");
    // Order: kept messages, the notice, then new messages.
    let pos = |pred: &dyn Fn(&String) -> bool| lines.iter().position(pred).unwrap();
    assert!(pos(&|l| l.starts_with("warning: lost ")) < pos(&|l| *l == unknown("after")));
    assert!(
        pos(&|l| l.starts_with("error: controller[0] sent unknown command bogus"))
            < pos(&|l| l.starts_with("warning: lost "))
    );
}

#[test]
fn blocked_pipe_log_destination_keeps_the_daemon_responsive() {
    let dir = tempdir();
    let out = dir.path().join("drained.log");
    let mut d = Daemon::interactive_clean(&[]);
    let mut kg = KillGroups::default();
    d.cmd("fd.pipe\tlr\tlw");
    assert!(d.cmd("log.dest\tfd\tlw").is_empty());
    // ~95 kB of log messages: more than a pipe holds, nobody reads.
    let names: Vec<String> = (0..100).map(|i| format!("B{i:03}{}", "x".repeat(900))).collect();
    for n in &names {
        d.send(n);
    }
    assert_eq!(d.sync().len(), 100);
    assert_eq!(d.cmd("echo\tresponsive"), ["responsive"]);
    assert_no_busy_loop(d.pid());
    assert_eq!(d.cmd("echo\tstill-responsive"), ["still-responsive"]);
    // A service drains the pipe into a file.
    d.cmd(&format!("fd.open\tout\twrite,create\t{}", p(&out)));
    d.cmd("service.args\tcat\tcat");
    d.cmd("service.fds\tcat\tlr\tout\tnull");
    kg.add(d.start_up("cat"));
    let lines = wait_file(&out, "lost notice", |l| l.iter().any(|l| l.starts_with("warning: lost ")));
    let lost: Vec<&String> = lines.iter().filter(|l| l.starts_with("warning: lost ")).collect();
    assert_eq!(lost.len(), 1, "{lines:?}");
    let n: usize = lost[0]
        .strip_prefix("warning: lost ")
        .and_then(|r| r.strip_suffix(" log messages"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{:?}", lost[0]));
    let kept: Vec<&String> =
        lines.iter().filter(|l| l.starts_with("error: controller[0] sent unknown command B")).collect();
    // Every message was written in full or counted, in order.
    assert_eq!(kept.len() + n, 100, "kept {} + lost {n}", kept.len());
    for (l, name) in kept.iter().zip(&names) {
        assert_eq!(**l, unknown(name));
    }
    // After the drain, logging flows again.
    bogus(&mut d, "after-drain");
    wait_file(&out, "later message", |l| l.contains(&unknown("after-drain")));
    d.send("service.signal\tcat\tKILL");
    d.wait_state("cat", "down");
}

/// `--log-timestamps`: every log line, from the option errors before the
/// daemon exists to the exit, starts with the UTC time; without it none.
#[test]
fn log_timestamps_stamp_every_line_with_the_utc_time() {
    let stamped = |line: &str| {
        let (stamp, rest) = line.split_once(' ').unwrap_or_default();
        let digits = "9999-99-99T99:99:99.999Z";
        let shape = stamp.len() == digits.len()
            && stamp.bytes().zip(digits.bytes()).all(|(c, d)| if d == b'9' { c.is_ascii_digit() } else { c == d });
        shape && rest.contains(": ")
    };
    let mut d = Daemon::interactive_clean(&["--log-timestamps", "--fd-pool", "3"]);
    bogus(&mut d, "stamped");
    d.close_stdin();
    assert_eq!(d.wait(), Some(0));
    let log = d.log.rest_until_eof();
    let all: Vec<String> = d.log.seen.lock().unwrap().clone();
    assert!(all.len() >= 4, "{all:#?} {log:#?}");
    assert!(all.iter().all(|l| stamped(l)), "{all:#?}");
    assert!(all.iter().any(|l| l.ends_with(" warning: At least 7 fd objects required; using minimum")), "{all:#?}");
    assert!(all.iter().any(|l| l.ends_with(" error: controller[0] sent unknown command stamped")), "{all:#?}");
    assert!(all.iter().any(|l| l.ends_with(" info: daemonproxy exiting")), "{all:#?}");
    // The year is this one (the stamp is the wall clock, not uptime).
    let year =
        1970 + std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 31_556_952;
    assert!(all[0].starts_with(&year.to_string()), "{}", all[0]);

    let mut plain = Daemon::interactive_clean(&[]);
    bogus(&mut plain, "plain");
    plain.close_stdin();
    assert_eq!(plain.wait(), Some(0));
    plain.log.rest_until_eof();
    assert!(plain.log.seen.lock().unwrap().iter().all(|l| !stamped(l)));
}
