//! `daemonproxy ctl`: the command-line client of the control socket,
//! against a real daemon (`daemonproxy -i -S SOCK`), one socket per test.

use crate::harness::{self, Daemon, TIMEOUT};
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a `daemonproxy ctl` run produced.
struct CtlOutput {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl CtlOutput {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Runs `daemonproxy ctl ARGS...` with `stdin` (or /dev/null) and without
/// `$DAEMONPROXY_SOCKET`, bounded by the harness timeout.
fn ctl(args: &[&str], stdin: Option<&str>) -> CtlOutput {
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
