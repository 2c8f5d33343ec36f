//! Controllers: controller services on `control.*` handles, control-socket
//! clients (any number of them, §0 item 3), routing of replies and
//! broadcasts (§4.3), back-pressure and `overflow` (§3.8), blocked-output
//! timeouts (§3.9), and signal delivery (§4.4, §10).

use crate::harness::{self, fields, python3, Client, Daemon, KillGuard, Lines};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn ok(d: &mut Daemon, line: &str) -> Vec<String> {
    let r = d.cmd(line);
    assert!(!r.iter().any(|l| l.starts_with("error") || l.starts_with("warning")), "{line:?} failed: {r:?}");
    r
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A daemon with a control socket, known to be listening.
fn daemon_with_socket(dir: &Path) -> (Daemon, PathBuf) {
    let sock = dir.join("ctl.sock");
    let mut d = Daemon::interactive(&["-S", p(&sock)]);
    d.sync();
    (d, sock)
}

/// Connects without a reader thread, sends `echo TOKEN` and reads exactly
/// the answer, so the connection is known to be accepted; the caller then
/// decides when (if ever) to read again.
fn raw_client(sock: &Path, setup: &str, token: &str) -> UnixStream {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(harness::TIMEOUT)).unwrap();
    s.write_all(format!("{setup}echo\t{token}\n").as_bytes()).unwrap();
    let mut buf = vec![0u8; token.len() + 1];
    s.read_exact(&mut buf).expect("echo answer");
    assert_eq!(buf, format!("{token}\n").as_bytes());
    s
}

/// Many broadcasts: `service.tags` lines of about `size` bytes each, sent
/// by the interactive controller (which waits for all of them).
fn flood(d: &mut Daemon, name: &str, count: usize, size: usize) {
    let pad = "x".repeat(size);
    let mut batch = String::new();
    for i in 0..count {
        batch.push_str(&format!("service.tags\t{name}\t{i:05}{pad}\n"));
        if batch.len() > 64 * 1024 {
            d.send_raw(batch.as_bytes());
            batch.clear();
        }
    }
    d.send_raw(batch.as_bytes());
    d.sync();
}

#[test]
fn controller_service_reads_its_up_event_and_drives_the_daemon() {
    let dir = harness::tempdir();
    let recv = dir.path().join("received");
    let script = harness::write_file(
        dir.path(),
        "ctl.py",
        r#"import sys
out = open(sys.argv[1], 'w')
out.write(sys.stdin.readline()); out.flush()
def send(l):
    sys.stdout.write(l + '\n'); sys.stdout.flush()
send('echo\tctl-hello')
send('service.args\tworker\tsh\t-c\texit 4')
send('service.start\tworker')
send('statedump')
send('echo\tctl-done')
for line in sys.stdin:
    out.write(line); out.flush()
    if line == 'ctl-done\n':
        break
"#,
    );
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, &format!("service.args\tctl\t{}\t{}\t{}", python3(), p(&script), p(&recv)));
    ok(&mut d, "service.fds\tctl\tcontrol.event\tcontrol.cmd\tstderr");
    let pid = d.start_up("ctl");
    let _g = KillGuard(pid);

    // What the controller did, seen from the interactive side: broadcasts
    // only, never its echo replies.
    d.out.wait_for("worker args", |l| l == "service.args\tworker\tsh\t-c\texit 4");
    d.wait_state("worker", "start");
    d.wait_state("worker", "up");
    let down = d.wait_state("worker", "down");
    assert_eq!(fields(&down)[5..7], ["exit", "4"], "{down}");
    let down = d.wait_state("ctl", "down");
    assert_eq!(fields(&down)[5..7], ["exit", "0"], "{down}");
    d.sync();
    let seen = d.out.seen.lock().unwrap().clone();
    assert!(!seen.iter().any(|l| l.starts_with("ctl-")), "replies leaked to another controller: {seen:#?}");

    let got = std::fs::read_to_string(&recv).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert!(lines[0].starts_with("service.state\tctl\tup\t"), "{got}");
    assert_eq!(fields(lines[0])[4], pid.to_string(), "{got}");
    assert_eq!(lines.last(), Some(&"ctl-done"), "{got}");
    for want in [
        "ctl-hello",
        "service.args\tworker\tsh\t-c\texit 4",
        "fd.state\tnull\tspecial\tread,write\t/dev/null",
        "service.fds\tctl\tcontrol.event\tcontrol.cmd\tstderr",
        "service.args\tworker\tsh\t-c\texit 4",
    ] {
        assert!(lines.contains(&want), "controller did not receive {want:?}: {got}");
    }
    assert!(lines.iter().any(|l| l.starts_with("service.state\tworker\t")), "{got}");
}

/// Starts a service on `control.event` only whose python script first
/// tries to write a command to its event descriptor (recording whether the
/// write failed), then copies every event line into `recv`.
fn start_event_only_service(d: &mut Daemon, dir: &Path, recv: &Path) -> KillGuard {
    let script = harness::write_file(
        dir,
        "ev.py",
        r#"import os, sys
out = open(sys.argv[1], 'w')
try:
    os.write(0, b'service.args\tsneaky\ttrue\n')
    out.write('write-ok\n')
except OSError as e:
    out.write('write-failed %d\n' % e.errno)
out.flush()
for line in sys.stdin:
    out.write(line); out.flush()
out.write('EOF\n')
"#,
    );
    ok(d, &format!("service.args\tev\t{}\t{}\t{}", python3(), p(&script), p(recv)));
    ok(d, "service.fds\tev\tcontrol.event\tnull\tstderr");
    let pid = d.start_up("ev");
    let guard = KillGuard(pid);
    harness::poll_until("the up event at the service", || {
        std::fs::read_to_string(recv).ok()?.contains("service.state\tev\tup\t").then_some(())
    });
    guard
}

#[test]
fn event_only_connection_stays_open_for_later_broadcasts() {
    let dir = harness::tempdir();
    let recv = dir.path().join("received");
    let mut d = Daemon::interactive(&[]);
    let _g = start_event_only_service(&mut d, dir.path(), &recv);
    let read = || std::fs::read_to_string(&recv).unwrap_or_default();
    // Later broadcasts, in separate flushes, still arrive (§16 row 27).
    for marker in ["m1", "m2"] {
        d.sync();
        ok(&mut d, &format!("service.args\t{marker}\ttrue"));
        let want = format!("service.args\t{marker}\ttrue\n");
        harness::poll_until("a later broadcast at the service", || read().contains(&want).then_some(()));
    }
    let got = read();
    assert!(!got.contains("EOF"), "event-only connection was closed: {got}");
    // Whatever the service wrote on it was not executed as a command.
    d.sync();
    assert!(!d.out.seen.lock().unwrap().iter().any(|l| l.contains("sneaky")), "command from an event-only service ran");
    d.send("service.signal\tev\tKILL");
    d.wait_state("ev", "down");
}

#[test]
fn event_only_connection_is_shut_down_for_writing() {
    let dir = harness::tempdir();
    let recv = dir.path().join("received");
    let mut d = Daemon::interactive(&[]);
    let _g = start_event_only_service(&mut d, dir.path(), &recv);
    let got = std::fs::read_to_string(&recv).unwrap();
    assert!(got.starts_with(&format!("write-failed {}\n", libc::EPIPE)), "{got}");
    d.send("service.signal\tev\tKILL");
    d.wait_state("ev", "down");
}

#[test]
fn command_only_connection_executes_commands() {
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "service.args\tcmd\tsh\t-c\tprintf 'service.args\\tmade.by.cmd\\ttrue\\nbogus.cmd\\n'");
    ok(&mut d, "service.fds\tcmd\tnull\tcontrol.cmd\tstderr");
    d.start_up("cmd");
    let down = d.wait_state("cmd", "down");
    assert_eq!(fields(&down)[5..7], ["exit", "0"], "{down}");
    d.log.wait_for("unknown command log", |l| {
        l.starts_with("error: controller[") && l.ends_with("] sent unknown command bogus.cmd")
    });
    d.sync();
    let seen = d.out.seen.lock().unwrap();
    assert!(seen.iter().any(|l| l == "service.args\tmade.by.cmd\ttrue"), "{seen:#?}");
    // The error reply had nowhere to go (no event direction).
    assert!(!seen.iter().any(|l| l.starts_with("error")), "{seen:#?}");
}

/// A service that writes one command on its connection (`fds`) and stays
/// up; the broadcast must reach the idle interactive controller at once.
fn service_broadcast_reaches_idle_interactive(fds: &str) {
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "service.args\tcmd\tsh\t-c\tprintf 'service.args\\tmade.by.cmd\\ttrue\\n' >&1; exec sleep 60");
    ok(&mut d, &format!("service.fds\tcmd\t{fds}"));
    let pid = d.start_up("cmd");
    let _g = KillGuard(pid);
    // The interactive controller sends nothing: the broadcast must still
    // be written to it in the iteration that executed the command.
    d.out.wait_for("broadcast caused by the service", |l| l == "service.args\tmade.by.cmd\ttrue");
    d.send("service.signal\tcmd\tKILL");
    d.wait_state("cmd", "down");
}

#[test]
fn broadcasts_caused_by_a_command_only_service_connection_are_flushed_at_once() {
    service_broadcast_reaches_idle_interactive("null\tcontrol.cmd\tstderr");
}

#[test]
fn broadcasts_caused_by_a_control_socket_service_connection_are_flushed_at_once() {
    service_broadcast_reaches_idle_interactive("control.socket\tcontrol.socket\tstderr");
}

#[test]
fn broadcasts_caused_by_a_socket_client_reach_an_idle_interactive_controller() {
    let dir = harness::tempdir();
    let (d, sock) = daemon_with_socket(dir.path());
    let mut c = Client::connect(&sock);
    c.send("service.args\tfrom.client\ttrue");
    d.out.wait_for("broadcast caused by the client", |l| l == "service.args\tfrom.client\ttrue");
}

#[test]
fn command_only_connection_is_shut_down_for_reading() {
    let mut d = Daemon::interactive(&[]);
    // fd 1 is the connection; reading it must give EOF at once, so `cat`
    // ends by itself.
    ok(&mut d, "service.args\tcmd\tsh\t-c\texec cat <&1 >/dev/null");
    ok(&mut d, "service.fds\tcmd\tnull\tcontrol.cmd\tstderr");
    let pid = d.start_up("cmd");
    let _g = KillGuard(pid);
    let down = d.wait_state("cmd", "down");
    assert_eq!(fields(&down)[5..7], ["exit", "0"], "{down}");
}

#[test]
fn four_socket_clients_share_broadcasts_but_get_only_their_own_replies() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon_with_socket(dir.path());
    let mut clients: Vec<Client> = (0..4).map(|_| Client::connect(&sock)).collect();
    // All four are served at once (no limit of 2, §0 item 3).
    for c in clients.iter_mut() {
        assert_eq!(c.sync(), Vec::<String>::new());
    }
    clients[0].send("echo\tonly-for-a");
    clients[0].send("service.args\tbc\ttrue");
    assert_eq!(clients[0].sync(), ["only-for-a", "service.args\tbc\ttrue"]);
    for c in clients[1..].iter_mut() {
        c.lines.wait_for("broadcast", |l| l == "service.args\tbc\ttrue");
        c.sync();
    }
    d.out.wait_for("broadcast", |l| l == "service.args\tbc\ttrue");
    // An error reply goes to its issuer only, too.
    assert_eq!(
        clients[3].cmd("service.start\tnosuch"),
        ["error\tNo such service, for command \"service.start\tnosuch\""]
    );
    clients[2].send("service.tags\tbc\tt2");
    for c in clients.iter_mut() {
        c.lines.wait_for("second broadcast", |l| l == "service.tags\tbc\tt2");
        c.sync();
    }
    for (i, c) in clients.iter().enumerate() {
        let seen = c.lines.seen.lock().unwrap();
        assert_eq!(seen.iter().filter(|l| *l == "only-for-a").count(), usize::from(i == 0), "client {i}: {seen:#?}");
        assert_eq!(
            seen.iter().filter(|l| l.starts_with("error")).count(),
            usize::from(i == 3),
            "client {i}: {seen:#?}"
        );
    }
    d.sync();
    let seen = d.out.seen.lock().unwrap();
    assert!(!seen.iter().any(|l| l == "only-for-a" || l.starts_with("error")), "{seen:#?}");
}

#[test]
fn vanishing_clients_leave_the_daemon_working() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon_with_socket(dir.path());
    let baseline = harness::fd_count(d.pid());

    // Connects and goes away at once.
    drop(UnixStream::connect(&sock).unwrap());
    // A partial line, then EOF: discarded with a warning.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all(b"service.args\tpartial\ttrue").unwrap();
    drop(s);
    d.log.wait_for("partial line warning", |l| l == "warning: Command ends with EOF... ignored");
    // Asks for a lot of output and disappears without reading it.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all("statedump\n".repeat(50).as_bytes()).unwrap();
    drop(s);

    assert_eq!(d.cmd("echo\tstill-here"), ["still-here"]);
    let mut c = Client::connect(&sock);
    assert_eq!(c.cmd("echo\tfine"), ["fine"]);
    drop(c);
    harness::poll_until("descriptors of closed clients released", || {
        (harness::fd_count(d.pid()) == baseline).then_some(())
    });
    assert!(!d.out.seen.lock().unwrap().iter().any(|l| l.contains("partial")));
    assert!(d.child.try_wait().unwrap().is_none(), "daemon exited");
}

#[test]
fn fifty_clients_come_and_go_while_the_daemon_stays_responsive() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon_with_socket(dir.path());
    let baseline = harness::fd_count(d.pid());
    let start = Instant::now();
    for i in 0..50 {
        if i % 5 == 4 {
            // Connect and vanish without a word.
            drop(UnixStream::connect(&sock).unwrap());
            continue;
        }
        let mut c = Client::connect(&sock);
        assert_eq!(c.cmd(&format!("echo\tping-{i}")), [format!("ping-{i}")]);
        if i % 10 == 0 {
            assert_eq!(d.cmd(&format!("echo\tinteractive-{i}")), [format!("interactive-{i}")]);
        }
    }
    assert!(start.elapsed() < Duration::from_secs(10), "50 connections took {:?}", start.elapsed());
    d.sync();
    harness::poll_until("descriptors of closed clients released", || {
        (harness::fd_count(d.pid()) == baseline).then_some(())
    });
}

#[test]
fn slow_socket_client_gets_overflow_then_works_again() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon_with_socket(dir.path());
    let slow = raw_client(&sock, "", "slow-ready");
    // Far more than the socket buffer plus the daemon's output buffer.
    let count = 4000;
    flood(&mut d, "t", count, 500);
    let mut c = Client::from_stream(slow);
    let before = c.lines.until("overflow");
    assert!(!before.is_empty() && before.len() < count, "{} lines before overflow", before.len());
    for (i, l) in before.iter().enumerate() {
        let f = fields(l);
        assert!(f.len() == 3 && f[0] == "service.tags" && f[1] == "t" && f[2].len() == 505, "bad line {i}: {l:?}");
    }
    // Nothing after the single overflow line; the connection works.
    assert_eq!(c.cmd("echo\tafter"), ["after"]);
    assert_eq!(c.cmd("echo\tagain"), ["again"]);
    assert_eq!(c.lines.seen.lock().unwrap().iter().filter(|l| *l == "overflow").count(), 1);
    // The interactive controller (which read everything) lost nothing.
    let seen = d.out.seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|l| l.starts_with("service.tags\tt\t")).count(), count);
    assert!(!seen.iter().any(|l| l == "overflow"));
}

#[test]
fn event_timeout_closes_a_blocked_client_and_spares_the_others() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon_with_socket(dir.path());
    let victim = raw_client(&sock, "conn.event_timeout\t0\t1\n", "victim-ready");
    let mut other = Client::connect(&sock);
    other.sync();
    flood(&mut d, "t", 4000, 500);
    let line = d.log.wait_for("close log line", |l| l.ends_with(" seconds, closing connection"));
    let secs: u32 = line
        .strip_prefix("error: controller ")
        .and_then(|r| r.split_once(" blocked pipe for "))
        .and_then(|(_, r)| r.strip_suffix(" seconds, closing connection"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected log line {line:?}"));
    assert!((1..=2).contains(&secs), "{line}");
    // The victim reads what was already sent, then EOF.
    let rest = Lines::new(victim).rest_until_eof();
    let complete = &rest[..rest.len().saturating_sub(1)];
    assert!(complete.iter().all(|l| l.starts_with("service.tags\tt\t") || l == "overflow"), "{:?}", rest.last());
    // Everyone else is fine.
    // (It reads on a thread; under load it may lag and get `overflow`.)
    let r = other.cmd("echo\tother-ok");
    assert_eq!(r.last().map(String::as_str), Some("other-ok"));
    assert!(r.iter().all(|l| l.starts_with("service.tags\tt\t") || l == "other-ok" || l == "overflow"), "{r:?}");
    assert_eq!(d.cmd("echo\tinteractive-ok"), ["interactive-ok"]);
}

/// The worked example of §3.9: a client that writes ~1000 commands with
/// big broadcasts without reading gets unstuck by the reset timeout.
#[test]
fn worked_example_reset_timeout_unsticks_a_writer_that_does_not_read() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon_with_socket(dir.path());
    let mut s = raw_client(&sock, "conn.event_timeout\t2\t8\n", "w-ready");
    let mut w = s.try_clone().unwrap();
    let (tx, rx) = mpsc::channel();
    let pad = "y".repeat(300);
    let writer = thread::spawn(move || {
        for i in 0..1000 {
            w.write_all(format!("service.tags\tw\t{i:04}{pad}\n").as_bytes()).expect("client write");
        }
        tx.send(()).unwrap();
    });
    // The reset timeout fires about 2 s after the first blocked write.
    let started = Instant::now();
    let warn = d.log.wait_for("reset warning", |l| l.contains(" blocked pipe for ") && l.starts_with("warning: "));
    assert!(started.elapsed() >= Duration::from_millis(1500), "{warn} after {:?}", started.elapsed());
    rx.recv_timeout(harness::TIMEOUT).expect("client writes never completed");
    writer.join().unwrap();
    // Every command has run (the interactive controller saw the last one).
    d.out.wait_for("last broadcast", |l| l.starts_with("service.tags\tw\t0999"));

    let c = Client::from_stream(s.try_clone().unwrap());
    let before = c.lines.until("overflow");
    assert!(before.len() < 1000, "{} events before overflow", before.len());
    assert!(before.iter().all(|l| l.starts_with("service.tags\tw\t")), "{:?}", before.last());
    s.write_all(b"echo\tw-after\n").unwrap();
    assert_eq!(c.lines.next(), "w-after");
    d.sync();
    assert!(!d.log.seen.lock().unwrap().iter().any(|l| l.contains("closing connection")));
    drop(c);
}

fn signal_line(l: &str, name: &str) -> Option<(i64, u64)> {
    let f = fields(l);
    (f.len() == 4 && f[0] == "signal" && f[1] == name).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
}

#[test]
fn signals_reach_idle_and_new_controllers_and_are_cleared() {
    let dir = harness::tempdir();
    let (mut d, sock) = daemon_with_socket(dir.path());
    let t0 = harness::mono_secs();
    harness::kill(d.pid(), libc::SIGUSR1);
    // No command sent: the idle interactive controller gets it anyway.
    let l = d.out.next();
    let (ts, count) = signal_line(&l, "SIGUSR1").unwrap_or_else(|| panic!("{l:?}"));
    assert!(ts >= t0 && ts <= harness::mono_secs(), "{l}");
    assert_eq!(count, 1);
    // A new client receives the pending signal without asking.
    let mut c = Client::connect(&sock);
    assert_eq!(c.lines.next(), l);
    assert_eq!(c.sync(), Vec::<String>::new());

    harness::kill(d.pid(), libc::SIGUSR1);
    let l2 = d.out.next();
    assert_eq!(signal_line(&l2, "SIGUSR1").map(|x| x.1), Some(2), "{l2}");
    assert_eq!(c.lines.next(), l2);
    d.send("statedump");
    let dump = d.sync();
    assert_eq!(dump.iter().filter(|l| l.starts_with("signal\t")).collect::<Vec<_>>(), [&l2]);

    assert_eq!(d.cmd("signal.clear\tSIGUSR1\t1"), Vec::<String>::new());
    d.send("statedump");
    let dump = d.sync();
    let sigs: Vec<_> = dump.iter().filter(|l| l.starts_with("signal\t")).collect();
    assert_eq!(sigs.len(), 1, "{sigs:?}");
    assert_eq!(signal_line(sigs[0], "SIGUSR1").map(|x| x.1), Some(1));
    assert_eq!(d.cmd("signal.clear\tUSR1\t1"), Vec::<String>::new());
    d.send("statedump");
    assert!(!d.sync().iter().any(|l| l.starts_with("signal\t")));
    // Nothing pending any more: a new client gets nothing unasked.
    let mut c2 = Client::connect(&sock);
    assert_eq!(c2.sync(), Vec::<String>::new());
}

#[test]
fn termination_signals_are_recorded_and_do_not_stop_the_daemon() {
    let mut d = Daemon::interactive(&[]);
    for (sig, name) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "-"),
    ] {
        harness::kill(d.pid(), sig);
        if name != "-" {
            let l = d.out.wait_for(name, |l| l.starts_with(&format!("signal\t{name}\t")));
            assert_eq!(signal_line(&l, name).map(|x| x.1), Some(1), "{l}");
        }
        assert_eq!(d.cmd("echo\talive"), ["alive"]);
        assert!(d.child.try_wait().unwrap().is_none(), "daemon died of {name}");
    }
    d.send("statedump");
    let sigs: Vec<String> = d.sync().into_iter().filter(|l| l.starts_with("signal\t")).collect();
    let names: Vec<&str> = sigs.iter().map(|l| fields(l)[1]).collect();
    // Oldest reception first.
    assert_eq!(names, ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR2"]);
}
