//! `daemonproxy ctl`: the command-line client of the control socket,
//! against a real daemon (`daemonproxy -i -S SOCK`), one socket per test.

use crate::harness::{self, alive, fields, poll_until, Daemon, KillGroups, Lines, TIMEOUT};
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a `daemonproxy ctl` run produced.
pub struct CtlOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CtlOutput {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Runs `daemonproxy ctl ARGS...` with `stdin` (or /dev/null) and without
/// `$DAEMONPROXY_SOCKET`, bounded by the harness timeout.
pub fn ctl(args: &[&str], stdin: Option<&str>) -> CtlOutput {
    ctl_env(args, stdin, None)
}

/// [`ctl`] with `$DAEMONPROXY_SOCKET` set to `socket_env`.
fn ctl_env(args: &[&str], stdin: Option<&str>, socket_env: Option<&str>) -> CtlOutput {
    let mut cmd = Command::new(harness::bin());
    cmd.arg("ctl").args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    match socket_env {
        Some(path) => cmd.env("DAEMONPROXY_SOCKET", path),
        None => cmd.env_remove("DAEMONPROXY_SOCKET"),
    };
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("start daemonproxy ctl");
    let writer = child.stdin.take().map(|mut w| {
        let input = stdin.unwrap_or_default().to_owned();
        thread::spawn(move || {
            let _ = w.write_all(input.as_bytes());
        })
    });
    let read_all = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = read_all(Box::new(child.stdout.take().unwrap()));
    let err = read_all(Box::new(child.stderr.take().unwrap()));
    let code = harness::wait_timeout(&mut child);
    if let Some(w) = writer {
        w.join().unwrap();
    }
    CtlOutput { code, stdout: out.join().unwrap(), stderr: err.join().unwrap() }
}

/// A daemon with a control socket, known to be listening.
fn daemon(dir: &Path) -> (Daemon, PathBuf) {
    let sock = dir.join("sock");
    let mut d = Daemon::interactive(&["-S", sock.to_str().unwrap()]);
    d.sync();
    assert!(sock.exists(), "control socket not created");
    (d, sock)
}

/// Kills a service's process when dropped, even if the test fails first.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill takes no pointers.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

/// Starts service NAME running `sleep 30`; returns its pid.
fn start_sleeper(d: &mut Daemon, name: &str) -> i32 {
    d.cmd(&format!("service.args\t{name}\tsleep\t30"));
    d.send(&format!("service.start\t{name}"));
    let up = d.out.wait_for("service up", |l| l.starts_with(&format!("service.state\t{name}\tup\t")));
    harness::fields(&up)[4].parse().expect("pid")
}

/// Kills service NAME through the protocol and waits for its `down` event.
fn kill_service(d: &mut Daemon, name: &str) {
    d.send(&format!("service.signal\t{name}\tKILL"));
    d.out.wait_for("service down", |l| l.starts_with(&format!("service.state\t{name}\tdown\t")));
}

#[test]
fn ctl_command_prints_the_reply_and_exits_0() {
    let dir = harness::tempdir();
    let (_d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let r = ctl(&["-S", sock, "service.args", "x", "sleep", "30"], None);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.lines(), ["service.args\tx\tsleep\t30"]);
    assert_eq!(r.stderr, "");
    // One word containing TABs is sent as it is; arguments may start with -.
    let r = ctl(&["-S", sock, "service.args\ty\tls\t-l"], None);
    assert_eq!((r.code, r.lines()), (Some(0), vec!["service.args\ty\tls\t-l"]));
    let r = ctl(&["-S", sock, "echo", "a", "", "-b"], None);
    assert_eq!((r.code, r.lines()), (Some(0), vec!["a\t\t-b"]));
}

#[test]
fn ctl_error_reply_exits_1() {
    let dir = harness::tempdir();
    let (_d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let r = ctl(&["-S", sock, "service.delete", "nosuch"], None);
    assert_eq!(r.code, Some(1), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(r.lines(), ["error\tNo such service, for command \"service.delete\tnosuch\""]);
    let r = ctl(&["-S", sock, "no.such.command"], None);
    assert_eq!((r.code, r.lines()), (Some(1), vec!["error\tUnknown command: no.such.command"]));
}

#[test]
fn ctl_reads_commands_from_stdin() {
    let dir = harness::tempdir();
    let (_d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    // Comments and blank lines produce nothing; a last line without LF is
    // still sent as a line of its own.
    let input = "service.args\ts\ttrue\n# comment\n\nservice.tags\ts\tweb\techo\necho\tlast";
    let r = ctl(&["-S", sock], Some(input));
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.lines(), ["service.args\ts\ttrue", "service.tags\ts\tweb\techo", "last"]);
    let r = ctl(&["-S", sock], Some("echo\tbefore\nservice.start\tnosuch\necho\tafter\n"));
    assert_eq!(r.code, Some(1));
    assert_eq!(r.lines(), ["before", "error\tNo such service, for command \"service.start\tnosuch\"", "after"]);
    // `exit` closes the connection before the sync token is answered.
    let r = ctl(&["-S", sock], Some("echo\tbye\nexit\n"));
    assert_eq!((r.code, r.lines()), (Some(0), vec!["bye"]), "stderr: {}", r.stderr);
}

#[test]
fn ctl_status_shows_services_handles_and_signals() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let pid = start_sleeper(&mut d, "web");
    let _guard = KillOnDrop(pid);
    d.cmd("service.args\tidle\ttrue");
    d.cmd("fd.pipe\tp.r\tp.w");
    // A pending signal is sent to every new connection before anything
    // else; status must list it once, in its own table.
    harness::kill(d.pid(), libc::SIGUSR1);
    d.out.wait_for("signal event", |l| l.starts_with("signal\tSIGUSR1\t"));

    let r = ctl(&["-S", sock, "status"], None);
    assert_eq!(r.code, Some(0), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(r.stderr, "");
    let lines = r.lines();
    let words = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let find = |first: &str| lines.iter().find(|l| l.split_whitespace().next() == Some(first)).map(|l| words(l));
    assert!(lines.contains(&"Services (2):"), "{}", r.stdout);
    assert_eq!(find("NAME").unwrap(), ["NAME", "STATE", "PID", "UPTIME", "NEXT", "START", "LAST", "EXIT"]);
    let web = find("web").unwrap_or_else(|| panic!("no web row: {}", r.stdout));
    assert_eq!(web[..3], ["web".to_owned(), "up".to_owned(), pid.to_string()]);
    assert!(web[3].ends_with('s'), "uptime {:?}", web[3]);
    assert_eq!(web[4..], ["-", "-"]);
    assert_eq!(find("idle").unwrap(), ["idle", "down", "-", "-", "-", "-"]);
    assert_eq!(find("p.r").unwrap(), ["p.r", "pipe", "from", "p.w"]);
    assert_eq!(find("null").unwrap(), ["null", "special", "read,write", "/dev/null"]);
    assert!(lines.contains(&"Pending signals (1):"), "{}", r.stdout);
    assert_eq!(find("SIGUSR1").unwrap()[..2], ["SIGUSR1".to_owned(), "1".to_owned()]);
    // Columns are aligned: every row of the handle table puts TYPE at the
    // same offset as its header.
    let header = lines.iter().position(|l| l.starts_with("NAME") && l.contains("DESCRIPTION")).unwrap();
    let col = lines[header].find("TYPE").unwrap();
    for l in lines[header + 1..].iter().take_while(|l| !l.is_empty()) {
        assert!(l.as_bytes()[col - 1] == b' ' && l.as_bytes()[col] != b' ', "misaligned {l:?}");
    }

    kill_service(&mut d, "web");
    let r = ctl(&["-S", sock, "status"], None);
    assert_eq!(r.code, Some(0));
    let row = find_row(&r.stdout, "web");
    assert_eq!(row[..7], ["web", "down", "-", "-", "-", "signal", "SIGKILL"]);
    assert!(row[7].starts_with('(') && row[8] == "ago)", "{row:?}");
}

fn find_row(text: &str, first: &str) -> Vec<String> {
    let line = text.lines().find(|l| l.split_whitespace().next() == Some(first));
    line.unwrap_or_else(|| panic!("no {first} row: {text}")).split_whitespace().map(str::to_owned).collect()
}

#[test]
fn ctl_missing_socket_exits_3() {
    let dir = harness::tempdir();
    let sock = dir.path().join("nosock");
    let sock = sock.to_str().unwrap();
    let r = ctl(&["-S", sock, "status"], None);
    assert_eq!(r.code, Some(3));
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        format!(
            "daemonproxy ctl: cannot connect to {sock}: No such file or directory (is daemonproxy running with -S {sock}?)\n"
        )
    );
    // A file that is not a socket.
    let file = harness::write_file(dir.path(), "plain", "");
    let r = ctl(&["-S", file.to_str().unwrap(), "echo", "x"], None);
    assert_eq!(r.code, Some(3));
    assert!(r.stderr.contains(": not a socket ("), "{}", r.stderr);
}

#[test]
fn ctl_usage_errors_exit_2() {
    let r = ctl(&["echo", "x"], None);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.starts_with("daemonproxy ctl: no control socket: give -S PATH"), "{}", r.stderr);
    assert!(r.stderr.contains("DAEMONPROXY_SOCKET"), "{}", r.stderr);
    assert!(r.stderr.contains("--help"), "{}", r.stderr);
    let r = ctl(&["-S", "/nonexistent/sock", "--bogus"], None);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.starts_with("daemonproxy ctl: unknown option '--bogus'\n"), "{}", r.stderr);
    let r = ctl(&["-S", "/nonexistent/sock", "--timeout", "soon", "echo"], None);
    assert_eq!(r.code, Some(2));
    let r = ctl(&["-S"], None);
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.starts_with("daemonproxy ctl: option '-S' needs a value\n"), "{}", r.stderr);

    let r = ctl(&["--help"], None);
    assert_eq!(r.code, Some(0));
    assert!(r.stdout.starts_with("Usage: daemonproxy ctl [OPTION...]"), "{}", r.stdout);
    let options =
        ["-S, --socket PATH", "-t, --timeout SECS", "-h, --help", "--json", "--kill-after SECS", "--guard CODE"];
    for option in options {
        let line = r.stdout.lines().find(|l| l.trim_start().starts_with(option));
        let line = line.unwrap_or_else(|| panic!("no {option} line: {}", r.stdout));
        assert!(line.contains("default"), "{line}");
    }
    assert!(r.stdout.contains("[default: 10]"));
    assert_eq!(ctl(&["-h"], None).stdout, r.stdout);
}

#[test]
fn ctl_times_out_when_the_daemon_does_not_answer() {
    let dir = harness::tempdir();
    let sock = dir.path().join("mute");
    // Listens, so connecting succeeds, but never reads or answers.
    let _listener = UnixListener::bind(&sock).expect("bind");
    let start = Instant::now();
    let r = ctl(&["-S", sock.to_str().unwrap(), "--timeout", "0.5", "echo", "x"], None);
    assert_eq!(r.code, Some(4), "stderr: {}", r.stderr);
    assert!(r.stderr.contains("no answer from daemonproxy within 0.5 s"), "{}", r.stderr);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(500) && took < TIMEOUT, "{took:?}");
}

// ----------------------------------------------------------- issue 14

/// A service running `sh -c SCRIPT`.
fn sh_service(d: &mut Daemon, name: &str, script: &str) {
    d.cmd(&format!("service.args\t{name}\tsh\t-c\t{script}"));
}

/// The lines `statedump` gives about service NAME, through the daemon's
/// own interactive connection (the events broadcast before are skipped).
fn dump_of(d: &mut Daemon, name: &str) -> Vec<String> {
    d.sync();
    let prefix = |l: &str| fields(l).get(1) == Some(&name) && l.starts_with("service.");
    d.cmd("statedump").into_iter().filter(|l| prefix(l)).collect()
}

/// A path of the temporary directory as text.
fn path_in(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_owned()
}

#[test]
fn ctl_takes_the_socket_from_the_environment() {
    let dir = harness::tempdir();
    let (_d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let r = ctl_env(&["echo", "via", "env"], None, Some(sock));
    assert_eq!((r.code, r.lines()), (Some(0), vec!["via\tenv"]), "stderr: {}", r.stderr);
    // -S wins over the environment.
    let r = ctl_env(&["-S", sock, "echo", "given"], None, Some("/nonexistent/sock"));
    assert_eq!((r.code, r.lines()), (Some(0), vec!["given"]), "stderr: {}", r.stderr);
    let r = ctl_env(&["status"], None, Some(""));
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("-S PATH") && r.stderr.contains("DAEMONPROXY_SOCKET"), "{}", r.stderr);
}

#[test]
fn ctl_start_waits_for_the_exec() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let mut groups = KillGroups::default();
    d.cmd("service.args\tweb\tsleep\t30");
    d.cmd("service.args\tbad\t/no/such/program");

    let r = ctl(&["-S", sock, "start", "web"], None);
    assert_eq!(r.code, Some(0), "stdout: {} stderr: {}", r.stdout, r.stderr);
    let up = d.wait_state("web", "up");
    let pid: i32 = fields(&up)[4].parse().unwrap();
    groups.add(pid);
    assert_eq!(r.lines(), [format!("web: up (pid {pid})")]);
    assert!(alive(pid));
    let r = ctl(&["-S", sock, "start", "web"], None);
    assert_eq!((r.code, r.stdout), (Some(0), format!("web: already up (pid {pid})\n")));

    let r = ctl(&["-S", sock, "start", "bad"], None);
    assert_eq!(r.code, Some(1), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "daemonproxy ctl: bad: exec \"/no/such/program\" failed: No such file or directory\n");

    let r = ctl(&["-S", sock, "start", "nosuch"], None);
    assert_eq!((r.code, r.stderr.as_str()), (Some(1), "daemonproxy ctl: no service named nosuch\n"));
    d.cmd("service.args\tempty");
    let r = ctl(&["-S", sock, "start", "empty"], None);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr, "daemonproxy ctl: cannot start empty: no args configured for service\n");
    kill_service(&mut d, "web");
}

#[test]
fn ctl_service_start_exits_1_when_the_exec_fails() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let mut groups = KillGroups::default();
    d.cmd("service.args\tbad\t/no/such/program");
    let r = ctl(&["-S", sock, "service.start", "bad"], None);
    assert_eq!(r.code, Some(1), "stdout: {} stderr: {}", r.stdout, r.stderr);
    let lines = r.lines();
    assert!(lines[0].starts_with("service.state\tbad\tstart\t"), "{lines:?}");
    assert!(lines.contains(&"error\tservice bad: exec \"/no/such/program\" failed: No such file or directory"));
    assert!(lines.iter().any(|l| l.starts_with("service.state\tbad\tdown\t") && l.contains("\texit\t3\t")));
    assert!(r.stderr.contains("bad: exec \"/no/such/program\" failed"), "{}", r.stderr);

    // A program that runs: start and up are printed, exit status 0.
    d.cmd("service.args\tok\tsleep\t30");
    let r = ctl(&["-S", sock, "service.start", "ok"], None);
    let up = d.wait_state("ok", "up");
    groups.add(fields(&up)[4].parse().unwrap());
    assert_eq!(r.code, Some(0), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(r.lines().len(), 2, "{}", r.stdout);
    assert!(r.lines()[1].starts_with("service.state\tok\tup\t"), "{}", r.stdout);
    // A scheduled start is not waited for.
    let later = harness::mono_secs() + 1000;
    d.cmd("service.args\tlater\ttrue");
    let r = ctl(&["-S", sock, "service.start", "later", &later.to_string()], None);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.lines(), [format!("service.state\tlater\tstart\t{later}\t-\t-\t-\t-\t-")]);
    kill_service(&mut d, "ok");
}

#[test]
fn ctl_stop_terms_the_group_and_clears_auto_up() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let mut groups = KillGroups::default();
    // The background sleep is in the service's process group.
    let child = path_in(dir.path(), "child.pid");
    sh_service(&mut d, "web", &format!("sleep 30 & echo $! > {child}; wait"));
    d.send("service.auto_up\tweb\t1\talways");
    let pid: i32 = fields(&d.wait_state("web", "up"))[4].parse().unwrap();
    groups.add(pid);
    let child: i32 = poll_until("child pid", || std::fs::read_to_string(&child).ok()?.trim().parse().ok());

    let r = ctl(&["-S", sock, "stop", "web"], None);
    assert_eq!(r.code, Some(0), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(r.lines(), ["web: stopped (signal SIGTERM)"]);
    poll_until("the group's other process to end", || (!alive(child)).then_some(()));
    let dump = dump_of(&mut d, "web");
    assert!(dump.contains(&"service.auto_up\tweb\t-".to_owned()), "{dump:?}");
    assert!(dump[0].starts_with("service.state\tweb\tdown\t") && dump[0].contains("\tsignal\tSIGTERM\t"), "{dump:?}");

    let r = ctl(&["-S", sock, "stop", "web"], None);
    assert_eq!((r.code, r.lines()), (Some(0), vec!["web: not running"]));
    let r = ctl(&["-S", sock, "stop", "nosuch"], None);
    assert_eq!((r.code, r.stderr.as_str()), (Some(1), "daemonproxy ctl: no service named nosuch\n"));
}

#[test]
fn ctl_stop_kills_a_service_that_ignores_term() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let mut groups = KillGroups::default();
    let ready = path_in(dir.path(), "ready");
    sh_service(&mut d, "stubborn", &format!("trap '' TERM; touch {ready}; while :; do sleep 1; done"));
    let pid = d.start_up("stubborn");
    groups.add(pid);
    poll_until("TERM ignored", || Path::new(&ready).exists().then_some(()));

    let r = ctl(&["-S", sock, "stop", "--kill-after", "0.3", "stubborn"], None);
    assert_eq!(r.code, Some(5), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(r.lines(), ["stubborn: still up 0.3 s after TERM, killed (signal SIGKILL)"]);
    assert!(!alive(pid));
    harness::assert_no_zombies(d.pid());
}

#[test]
fn ctl_stop_cancels_a_pending_start() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    d.cmd("service.args\tlater\ttrue");
    d.cmd(&format!("service.start\tlater\t{}", harness::mono_secs() + 1000));
    let r = ctl(&["-S", sock, "stop", "later"], None);
    assert_eq!((r.code, r.lines()), (Some(0), vec!["later: pending start cancelled"]), "stderr: {}", r.stderr);
    assert_eq!(dump_of(&mut d, "later")[0], "service.state\tlater\tdown\t-\t-\t-\t-\t-\t-");
}

#[test]
fn ctl_restart_starts_again_and_keeps_the_triggers() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let mut groups = KillGroups::default();
    d.cmd("service.args\tweb\tsleep\t30");
    d.send("service.auto_up\tweb\t5\talways\tSIGHUP");
    let first: i32 = fields(&d.wait_state("web", "up"))[4].parse().unwrap();
    groups.add(first);

    let r = ctl(&["-S", sock, "restart", "web"], None);
    assert_eq!(r.code, Some(0), "stdout: {} stderr: {}", r.stdout, r.stderr);
    let down = d.wait_state("web", "down");
    assert!(down.contains(&format!("\t{first}\tsignal\tSIGTERM\t")), "{down}");
    let second: i32 = fields(&d.wait_state("web", "up"))[4].parse().unwrap();
    groups.add(second);
    assert_ne!(first, second);
    assert_eq!(r.lines(), ["web: stopped (signal SIGTERM)".to_owned(), format!("web: up (pid {second})")]);
    let dump = dump_of(&mut d, "web");
    assert!(dump.contains(&"service.auto_up\tweb\t5\talways\tSIGHUP".to_owned()), "{dump:?}");
    assert!(dump[0].starts_with("service.state\tweb\tup\t"), "{dump:?}");
    // Stop for good, so that `always` does not bring it back.
    let r = ctl(&["-S", sock, "stop", "web"], None);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
}

#[test]
fn ctl_follow_prints_events_with_the_local_time() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    // A pending signal is the first thing a new connection receives: it
    // shows that follow is connected.
    harness::kill(d.pid(), libc::SIGUSR1);
    d.out.wait_for("signal event", |l| l.starts_with("signal\tSIGUSR1\t"));
    let mut child = Command::new(harness::bin())
        .args(["ctl", "-S", sock.to_str().unwrap(), "follow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ctl follow");
    let out = Lines::new(child.stdout.take().unwrap());
    let err = Lines::new(child.stderr.take().unwrap());
    let stamped = |line: &str| -> (String, String) {
        let (stamp, rest) = line.split_once('\t').unwrap_or_else(|| panic!("no TAB in {line:?}"));
        (stamp.to_owned(), rest.to_owned())
    };
    let (stamp, first) = stamped(&out.next());
    assert!(first.starts_with("signal\tSIGUSR1\t"), "{first}");
    // 2024-05-01T12:34:56.789
    let b = stamp.as_bytes();
    assert_eq!(b.len(), 23, "{stamp}");
    for (i, c) in b.iter().enumerate() {
        let expected = match i {
            4 | 7 => b'-',
            10 => b'T',
            13 | 16 => b':',
            19 => b'.',
            _ => b'0',
        };
        assert!(if expected == b'0' { c.is_ascii_digit() } else { *c == expected }, "{stamp}");
    }
    d.cmd("service.args\tx\ttrue");
    assert_eq!(stamped(&out.next()).1, "service.args\tx\ttrue");
    // The daemon's end ends follow, with status 0.
    assert_eq!(d.wait(), Some(0));
    assert_eq!(out.rest_until_eof(), Vec::<String>::new());
    assert_eq!(harness::wait_timeout(&mut child), Some(0));
    assert_eq!(err.rest_until_eof(), ["daemonproxy ctl: the daemon closed the connection"]);
}

#[test]
fn ctl_status_shows_next_start_and_json() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let mut groups = KillGroups::default();
    d.cmd("service.args\tweb\tsleep\t30");
    d.cmd("service.tags\tweb\tfront");
    let pid = d.start_up("web");
    groups.add(pid);
    d.cmd("service.args\tlater\ttrue");
    d.cmd(&format!("service.start\tlater\t{}", harness::mono_secs() + 7200));
    d.cmd("service.args\tbad\t/no/such/program");
    d.send("service.start\tbad");
    d.wait_state("bad", "down");

    let r = ctl(&["-S", sock, "status"], None);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let later = find_row(&r.stdout, "later");
    assert_eq!(later[..4], ["later", "start", "-", "-"]);
    assert!(later[4] == "in" && later[5].ends_with('h'), "{later:?}");
    let bad = find_row(&r.stdout, "bad");
    assert_eq!(bad[..7], ["bad", "down", "-", "-", "-", "exit", "3"]);

    let r = ctl(&["-S", sock, "status", "--json"], None);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let j = &r.stdout;
    assert!(j.starts_with("{\n  \"services\": {\n    \"bad\": {\n      \"state\": \"down\",\n"), "{j}");
    let web = format!("    \"web\": {{\n      \"state\": \"up\",\n      \"pid\": {pid},\n      \"uptime_secs\": ");
    assert!(j.contains(&web), "{j}");
    assert!(j.contains("\"tags\": [\n        \"front\"\n      ],"), "{j}");
    assert!(j.contains("\"exit_code\": 3,\n        \"signal\": null,"), "{j}");
    assert!(j.contains("\"later\": {\n      \"state\": \"start\",\n      \"pid\": null,"), "{j}");
    assert!(j.contains("\"next_start_unix\": 1"), "{j}");
    assert!(j.contains("\"null\": {\n      \"type\": \"special\",\n      \"flags\": \"read,write\","), "{j}");
    assert!(j.ends_with("\"signals\": {}\n}\n"), "{j}");
    kill_service(&mut d, "web");
}

#[test]
fn ctl_shutdown_stops_every_service_then_terminates() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon(dir.path());
    let sock = sock.to_str().unwrap();
    let mut groups = KillGroups::default();
    d.cmd("service.args\tgood\tsleep\t30");
    let good = d.start_up("good");
    groups.add(good);
    let ready = path_in(dir.path(), "ready");
    sh_service(&mut d, "stubborn", &format!("trap '' TERM; touch {ready}; while :; do sleep 1; done"));
    let stubborn = d.start_up("stubborn");
    groups.add(stubborn);
    poll_until("TERM ignored", || Path::new(&ready).exists().then_some(()));
    d.cmd("service.args\tkeeper\tsleep\t30");
    d.send("service.auto_up\tkeeper\t1\talways");
    let keeper: i32 = fields(&d.wait_state("keeper", "up"))[4].parse().unwrap();
    groups.add(keeper);
    d.cmd("service.args\tidle\ttrue");

    let r = ctl(&["-S", sock, "shutdown", "0.5"], None);
    assert_eq!(r.code, Some(5), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(
        r.lines(),
        [
            "good: stopped (signal SIGTERM)",
            "keeper: stopped (signal SIGTERM)",
            "stubborn: still up 0.5 s after TERM, killed (signal SIGKILL)",
            "daemonproxy terminated",
        ]
    );
    assert_eq!(d.wait(), Some(0), "the daemon exits with status 0");
    for pid in [good, stubborn, keeper] {
        assert!(!alive(pid), "pid {pid} left behind");
    }
}

#[test]
fn ctl_shutdown_with_a_terminate_guard() {
    let dir = harness::tempdir();
    let sock = dir.path().join("sock");
    let mut d = Daemon::interactive(&["--exit-guard", "7", "-S", sock.to_str().unwrap()]);
    d.sync();
    let sock = sock.to_str().unwrap();
    let mut groups = KillGroups::default();
    d.cmd("service.args\tweb\tsleep\t30");
    let pid = d.start_up("web");
    groups.add(pid);

    // A wrong code stops nothing.
    let r = ctl(&["-S", sock, "shutdown", "--guard", "8"], None);
    assert_eq!(r.code, Some(1), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--guard 8 is not the daemon's terminate guard code"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was stopped"), "{}", r.stderr);
    assert!(alive(pid));

    // Without the code: the services stop, terminate is refused and the
    // message says what to do.
    let r = ctl(&["-S", sock, "shutdown"], None);
    assert_eq!(r.code, Some(1), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(r.lines(), ["web: stopped (signal SIGTERM)"]);
    assert!(r.stderr.contains("terminate guard code required"), "{}", r.stderr);
    assert!(r.stderr.contains("pass its code with --guard CODE"), "{}", r.stderr);

    let pid = d.start_up("web");
    groups.add(pid);
    let r = ctl(&["-S", sock, "shutdown", "--guard", "7"], None);
    assert_eq!(r.code, Some(0), "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(r.lines(), ["web: stopped (signal SIGTERM)", "daemonproxy terminated"]);
    assert_eq!(d.wait(), Some(0));
    assert!(!alive(pid));
}

#[test]
fn ctl_terminate_refused_by_the_guard_gets_a_hint() {
    let dir = harness::tempdir();
    let sock = dir.path().join("sock");
    let mut d = Daemon::interactive(&["--exit-guard", "7", "-S", sock.to_str().unwrap()]);
    d.sync();
    let r = ctl(&["-S", sock.to_str().unwrap(), "terminate", "0"], None);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.lines(), ["error\tterminate guard code required, for command \"terminate\t0\""]);
    assert!(r.stderr.contains("daemonproxy ctl shutdown --guard CODE"), "{}", r.stderr);
}
