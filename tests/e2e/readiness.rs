//! Readiness, socket activation, resource usage and orphan exits (issue
//! 12, protocol.md §3.3b) through the real binary: a Python service that
//! sends `READY=1` to `$NOTIFY_SOCKET`, a shell service that writes a line
//! to descriptor 3, a forged datagram from a process that is no service,
//! an unmodified socket-activatable server kept reachable across its
//! restart, `service.rusage` and `orphan.exit` on extended connections
//! only, and the ordered-start example controller.
//!
//! Services outlive the daemon (§14.2): every service pid goes into a
//! [`KillGroups`], every orphan into a [`KillGuard`].

use crate::harness::{self, fields, Client, Daemon, KillGroups, KillGuard, Lines};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Sends a command and checks that it produced exactly `reply`.
fn expect(d: &mut Daemon, line: &str, reply: &[&str]) {
    assert_eq!(d.cmd(line), reply, "{line:?}");
}

/// Sends a command and checks that it produced no error or warning.
fn ok(d: &mut Daemon, line: &str) {
    let out = d.cmd(line);
    assert!(!out.iter().any(|l| l.starts_with("error") || l.starts_with("warning")), "{line:?} gave {out:#?}");
}

/// Writes a Python script into `dir`; returns the `service.args` fields
/// that run it.
fn python_script(dir: &Path, file: &str, script: &str) -> String {
    let path = harness::write_file(dir, file, script);
    format!("{}\t{}", harness::python3(), path.display())
}

/// Python: `notify(TEXT)` sends one datagram to `$NOTIFY_SOCKET` (an
/// abstract address is written with a leading `@` for the NUL byte).
const NOTIFY_PY: &str = r#"
import os, signal, socket, sys, time

def notify(text):
    address = os.environ["NOTIFY_SOCKET"]
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(text.encode(), address)

def say(text):
    print(text, file=sys.stderr, flush=True)
"#;

/// Waits for `service.state NAME up`, adds its pid to `groups` and
/// returns it.
fn up_pid(d: &Daemon, name: &str, groups: &mut KillGroups) -> i32 {
    let up = d.wait_state(name, "up");
    let pid = fields(&up)[4].parse().expect("pid in up event");
    groups.add(pid);
    pid
}

/// Kills a running service and waits for its `down`.
fn kill_service(d: &mut Daemon, name: &str) {
    d.send(&format!("service.signal\t{name}\tSIGKILL"));
    let down = d.wait_state(name, "down");
    assert_eq!(&fields(&down)[5..7], ["signal", "SIGKILL"], "{down}");
}

/// The line of `dump` that starts with `prefix`, if any.
fn find<'a>(dump: &'a [String], prefix: &str) -> Option<&'a String> {
    dump.iter().find(|l| l.starts_with(prefix))
}

/// `READY=1` over the abstract notification socket after 0.3 s: the
/// service learns the socket's documented name, its message is broadcast
/// as `service.notify NAME TS PID FIELD...` and then `service.ready`, at
/// least 0.25 s after `up` reached the test; `statedump` reports the
/// setting and the readiness of the running process.
#[test]
fn socket_readiness_comes_when_the_service_sends_it() {
    let dir = harness::tempdir();
    let mut groups = KillGroups::default();
    let mut d = Daemon::interactive_clean(&[]);
    let script = format!(
        "{NOTIFY_PY}\nsay('NOTIFY_SOCKET=' + os.environ['NOTIFY_SOCKET'])\ntime.sleep(0.3)\n\
         notify('READY=1\\nSTATUS=warmed up\\n')\nsignal.pause()\n"
    );
    ok(&mut d, &format!("service.args\tpy\t{}", python_script(dir.path(), "ready.py", &script)));
    ok(&mut d, "service.fds\tpy\tnull\tstderr\tstderr");
    expect(&mut d, "service.notify\tpy\tsocket", &["service.notify\tpy\tsocket"]);

    d.send("service.start\tpy");
    let (up, up_at) = d.out.wait_for_timed("py up", |l| l.starts_with("service.state\tpy\tup\t"));
    let pid: i32 = fields(&up)[4].parse().unwrap();
    groups.add(pid);
    let env = d.log.wait_for("the service's NOTIFY_SOCKET", |l| l.starts_with("NOTIFY_SOCKET="));
    assert_eq!(env, format!("NOTIFY_SOCKET=@daemonproxy/notify/{}", d.pid()));

    let message = d.out.wait_for("its message", |l| l.starts_with("service.notify\tpy\t"));
    let f = fields(&message);
    assert_eq!((f.len(), f[3], &f[4..]), (6, &*pid.to_string(), &["READY=1", "STATUS=warmed up"][..]), "{message}");
    let (ready, ready_at) = d.out.wait_for_timed("py ready", |_| true);
    assert_eq!(ready, format!("service.ready\tpy\t{}\t{pid}", f[2]), "right after the message");
    let delay = ready_at - up_at;
    assert!(delay >= Duration::from_millis(250), "ready only {delay:?} after up");

    d.send("statedump");
    let dump = d.sync();
    assert_eq!(find(&dump, "service.notify\tpy\t").map(String::as_str), Some("service.notify\tpy\tsocket"));
    assert_eq!(find(&dump, "service.ready\tpy\t"), Some(&ready), "{dump:#?}");
    kill_service(&mut d, "py");
}

/// s6 style: `service.notify NAME fd 3` gives each start the write end of
/// a fresh pipe at descriptor 3; a newline there is `service.ready` with
/// the process's pid, at every start.
#[test]
fn fd_readiness_is_a_line_on_descriptor_3() {
    let mut groups = KillGroups::default();
    let mut d = Daemon::interactive_clean(&[]);
    ok(&mut d, "service.args\ts6\tsh\t-c\techo >&3; exec sleep 60");
    ok(&mut d, "service.fds\ts6\tnull\tstderr\tstderr");
    expect(&mut d, "service.notify\ts6\tfd\t3", &["service.notify\ts6\tfd\t3"]);
    for _ in 0..2 {
        d.send("service.start\ts6");
        let pid = up_pid(&d, "s6", &mut groups);
        let ready = d.out.wait_for("s6 ready", |l| l.starts_with("service.ready\ts6\t"));
        assert_eq!(fields(&ready)[3], pid.to_string(), "{ready}");
        assert!(harness::proc_fds(pid)[&3].starts_with("pipe:"), "{:?}", harness::proc_fds(pid));
        kill_service(&mut d, "s6");
    }
}

/// `--notify-socket PATH`: a datagram with `READY=1` from a process the
/// test started (not the daemon) is dropped with a debug line, and no
/// event tells of it; the service's own `READY=1` on the same socket
/// counts. The socket file is removed at exit.
#[test]
fn a_forged_readiness_message_is_dropped() {
    let dir = harness::tempdir();
    let sock = dir.path().join("notify.sock");
    let mut groups = KillGroups::default();
    let mut d = Daemon::interactive_clean(&["--notify-socket", sock.to_str().unwrap()]);
    expect(&mut d, "log.filter\ttrace", &["log.filter\ttrace"]);
    // The service says READY=1 when told (SIGUSR1), and not before.
    let script = format!(
        "{NOTIFY_PY}\nsignal.signal(signal.SIGUSR1, lambda *_: notify('READY=1'))\n\
         say('NOTIFY_SOCKET=' + os.environ['NOTIFY_SOCKET'])\nwhile True:\n    signal.pause()\n"
    );
    ok(&mut d, &format!("service.args\tapp\t{}", python_script(dir.path(), "app.py", &script)));
    ok(&mut d, "service.fds\tapp\tnull\tstderr\tstderr");
    ok(&mut d, "service.notify\tapp\tsocket");
    let pid = d.start_up("app");
    groups.add(pid);
    let env = d.log.wait_for("the service's NOTIFY_SOCKET", |l| l.starts_with("NOTIFY_SOCKET="));
    assert_eq!(env, format!("NOTIFY_SOCKET={}", sock.display()));

    // The forger stays alive until the test is done with it, so it is
    // dropped for not being the service, not for having exited.
    let forger_py =
        format!("{NOTIFY_PY}\nnotify('READY=1\\nSTATUS=forged')\nprint(os.getpid(), flush=True)\nsys.stdin.read()\n");
    let mut forger = Command::new(harness::python3())
        .args(["-c", &forger_py])
        .env("NOTIFY_SOCKET", &sock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the forger");
    let _guard = KillGuard(forger.id() as i32);
    let forger_out = Lines::new(forger.stdout.take().unwrap());
    let forger_pid = forger_out.next();
    d.log.wait_for("the dropped message", |l| {
        l == format!("debug: dropped a readiness message from pid {forger_pid} (no service of its session)")
    });
    d.sync();
    let events = d.out.seen.lock().unwrap().clone();
    assert!(!events.iter().any(|l| l.starts_with("service.ready\t")), "{events:#?}");
    assert!(!events.iter().any(|l| l.starts_with("service.notify\tapp\t") && fields(l).len() > 3), "{events:#?}");
    drop(forger.stdin.take());
    assert_eq!(harness::wait_timeout(&mut forger), Some(0));

    harness::kill(pid, libc::SIGUSR1);
    let message = d.out.wait_for("the service's message", |l| l.starts_with("service.notify\tapp\t"));
    assert_eq!(fields(&message)[3..], [&*pid.to_string(), "READY=1"], "{message}");
    let ready = d.out.next();
    assert_eq!(ready, format!("service.ready\tapp\t{}\t{pid}", fields(&message)[2]));

    kill_service(&mut d, "app");
    d.send("terminate\t0");
    assert_eq!(d.wait(), Some(0));
    assert!(!sock.exists(), "the notify socket is left at {sock:?}");
}

/// Socket activation: an unmodified `sd_listen_fds`-style server gets the
/// daemon's listening socket as descriptor 3 with `LISTEN_PID` (its own
/// pid), `LISTEN_FDS=1` and `LISTEN_FDNAMES=web`. Killed, it is restarted
/// by `service.auto_up`; a client that connects while no instance runs
/// lands in the socket's backlog (the daemon holds the socket) and is
/// served by the new instance.
#[test]
fn socket_activation_keeps_the_listener_across_a_restart() {
    let dir = harness::tempdir();
    let path = dir.path().join("web.sock");
    let mut groups = KillGroups::default();
    let mut d = Daemon::interactive_clean(&[]);
    ok(&mut d, &format!("fd.socket\tweb\tunix,listen\t{}", path.display()));
    let script = "import os, socket, sys\n\
        env = ' '.join(f'{k}={os.environ.get(k)}' for k in ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'))\n\
        print(f'ACT pid={os.getpid()} {env}', file=sys.stderr, flush=True)\n\
        listener = socket.socket(fileno=3)\n\
        listener.setblocking(True)\n\
        while True:\n\
        \x20   conn, _ = listener.accept()\n\
        \x20   conn.sendall(f'served by {os.getpid()}\\n'.encode())\n\
        \x20   conn.close()\n";
    ok(&mut d, &format!("service.args\tact\t{}", python_script(dir.path(), "act.py", script)));
    ok(&mut d, "service.fds\tact\tnull\tnull\tstderr\tweb");
    expect(&mut d, "service.listen_fds\tact\ton", &["service.listen_fds\tact\ton"]);

    let served_by = || {
        let mut c = UnixStream::connect(&path).expect("connect: the daemon holds the listening socket");
        c.set_read_timeout(Some(harness::TIMEOUT)).unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).expect("a reply");
        reply
    };
    d.send("service.auto_up\tact\t1\talways");
    let first = up_pid(&d, "act", &mut groups);
    let env = d.log.wait_for("the first instance", |l| l.starts_with("ACT "));
    assert_eq!(env, format!("ACT pid={first} LISTEN_PID={first} LISTEN_FDS=1 LISTEN_FDNAMES=web"));
    assert_eq!(served_by(), format!("served by {first}\n"));

    // Killed after running less than the interval: the restart waits a
    // second, and meanwhile a client connects.
    kill_service(&mut d, "act");
    let mut waiting = UnixStream::connect(&path).expect("connect while the service is down");
    waiting.set_read_timeout(Some(harness::TIMEOUT)).unwrap();
    let second = up_pid(&d, "act", &mut groups);
    assert_ne!(second, first);
    let mut reply = String::new();
    waiting.read_to_string(&mut reply).expect("a reply from the new instance");
    assert_eq!(reply, format!("served by {second}\n"));
    let env = d.log.wait_for("the second instance", |l| l.starts_with(&format!("ACT pid={second} ")));
    assert!(env.ends_with(&format!("LISTEN_PID={second} LISTEN_FDS=1 LISTEN_FDNAMES=web")), "{env}");

    ok(&mut d, "service.auto_up\tact\t1");
    kill_service(&mut d, "act");
}

/// `conn.extended on`: after the `down` of a service that burned ~0.2 s of
/// CPU and touched 50 MB comes `service.rusage NAME TS UTIME STIME
/// MAXRSS` showing it.
#[test]
fn rusage_follows_the_down_of_a_service() {
    let dir = harness::tempdir();
    let mut d = Daemon::interactive_clean(&[]);
    expect(&mut d, "conn.extended\ton", &[]);
    let script = "import time\n\
        block = bytearray(50 * 1024 * 1024)\n\
        for i in range(0, len(block), 4096):\n\
        \x20   block[i] = 1\n\
        start = time.process_time()\n\
        while time.process_time() - start < 0.2:\n\
        \x20   pass\n";
    ok(&mut d, &format!("service.args\tburn\t{}", python_script(dir.path(), "burn.py", script)));
    ok(&mut d, "service.fds\tburn\tnull\tstderr\tstderr");
    d.send("service.start\tburn");
    let down = d.wait_state("burn", "down");
    assert_eq!(&fields(&down)[5..7], ["exit", "0"], "{down}");
    let usage = d.out.next();
    let f = fields(&usage);
    assert_eq!((f.len(), f[0], f[1], f[2]), (6, "service.rusage", "burn", fields(&down)[3]), "{usage}");
    let n = |i: usize| f[i].parse::<u64>().unwrap_or_else(|_| panic!("field {i} of {usage}"));
    assert!(n(3) + n(4) >= 150_000, "CPU time: {usage}");
    assert!(n(5) >= 45_000, "max RSS: {usage}");
}

/// The pids a service wrote to its stderr as `TAG PID` lines.
fn tagged_pid(log: &Lines, tag: &str) -> i32 {
    let line = log.wait_for(tag, |l| l.starts_with(&format!("{tag} ")));
    line[tag.len() + 1..].parse().unwrap_or_else(|_| panic!("{line}"))
}

/// With `--subreaper`, the orphans of a service that double-forks are
/// re-parented to the daemon, and an extended connection hears of their
/// ends as `orphan.exit PID TS exit|signal VALUE`.
#[test]
fn orphan_exits_are_reported_with_subreaper() {
    let dir = harness::tempdir();
    let fifo = dir.path().join("fifo");
    harness::mkfifo(&fifo);
    let mut d = Daemon::interactive_clean(&["--subreaper"]);
    expect(&mut d, "conn.extended\ton", &[]);
    ok(&mut d, &harness::double_forking_service(&fifo));
    ok(&mut d, "service.fds\tforker\tnull\tstderr\tstderr");
    d.send("service.start\tforker");
    let exiter = tagged_pid(&d.log, "EXITER");
    let _g1 = KillGuard(exiter);
    let sleeper = tagged_pid(&d.log, "SLEEPER");
    let _g2 = KillGuard(sleeper);
    let down = d.wait_state("forker", "down");
    assert_eq!(&fields(&down)[5..7], ["exit", "0"], "{down}");
    for orphan in [exiter, sleeper] {
        let parent = harness::proc_stat(orphan).map(|p| p.ppid);
        assert_eq!(parent, Some(d.pid()), "orphan {orphan} is not the daemon's");
    }

    harness::open_fifo_writer(&fifo).write_all(b"go\n").unwrap();
    let ev = d.out.wait_for("the exiter's end", |l| l.starts_with("orphan.exit\t"));
    assert_eq!(fields(&ev)[..1], ["orphan.exit"]);
    assert_eq!((fields(&ev)[1], &fields(&ev)[3..]), (&*exiter.to_string(), &["exit", "7"][..]), "{ev}");
    harness::kill(sleeper, libc::SIGTERM);
    let ev = d.out.wait_for("the sleeper's end", |l| l.starts_with("orphan.exit\t"));
    assert_eq!((fields(&ev)[1], &fields(&ev)[3..]), (&*sleeper.to_string(), &["signal", "SIGTERM"][..]), "{ev}");
    harness::assert_no_zombies(d.pid());
}

/// A controller that never sends `conn.extended` (here the interactive
/// one and a control-socket client) sees neither `service.rusage` nor
/// `orphan.exit`, while another client that did sees both; after
/// `conn.extended off` that one sees them no more.
#[test]
fn only_extended_connections_see_rusage_and_orphan_exits() {
    let dir = harness::tempdir();
    let control = dir.path().join("control.sock");
    let mut d = Daemon::interactive_clean(&["--subreaper"]);
    expect(&mut d, &format!("socket.create\t-\t{}", control.display()), &[]);
    let mut extended = Client::connect(&control);
    let mut plain = Client::connect(&control);
    assert_eq!(extended.cmd("conn.extended\ton"), Vec::<String>::new());
    assert_eq!(plain.cmd("echo\thello"), ["hello"]);
    // The orphan ends when the test says so, after the service: a child
    // that ends before its parent subshell is reaped by it (dash waits for
    // any child) and is no orphan.
    let fifo = dir.path().join("fifo");
    harness::mkfifo(&fifo);
    ok(
        &mut d,
        &format!(
            "service.args\tforker\tsh\t-c\t(sh -c 'read x <{f}; exit 5' & echo \"ORPHAN $!\" >&2); exit 0",
            f = fifo.display()
        ),
    );
    ok(&mut d, "service.fds\tforker\tnull\tstderr\tstderr");

    d.send("service.start\tforker");
    let orphan = tagged_pid(&d.log, "ORPHAN");
    let _g = KillGuard(orphan);
    d.wait_state("forker", "down");
    harness::open_fifo_writer(&fifo).write_all(b"go\n").unwrap();
    let [usage, ev] =
        <[String; 2]>::try_from(extended.lines.wait_for_each(&["service.rusage\tforker\t", "orphan.exit\t"])).unwrap();
    assert_eq!(fields(&usage).len(), 6, "{usage}");
    assert_eq!((fields(&ev)[1], &fields(&ev)[3..]), (&*orphan.to_string(), &["exit", "5"][..]), "{ev}");
    // Whatever was sent to the others was queued before these replies.
    plain.sync();
    d.sync();
    for (who, seen) in [("client", &plain.lines.seen), ("interactive", &d.out.seen)] {
        let seen = seen.lock().unwrap();
        assert!(seen.iter().any(|l| l.starts_with("service.state\tforker\tdown\t")), "{who}: {seen:#?}");
        let extra = seen.iter().filter(|l| l.starts_with("service.rusage\t") || l.starts_with("orphan.exit\t"));
        assert_eq!(extra.count(), 0, "{who}: {seen:#?}");
    }

    assert_eq!(extended.cmd("conn.extended\toff"), Vec::<String>::new());
    d.send("service.start\tforker");
    let orphan = tagged_pid(&d.log, "ORPHAN");
    let _g2 = KillGuard(orphan);
    d.wait_state("forker", "down");
    harness::open_fifo_writer(&fifo).write_all(b"go\n").unwrap();
    harness::poll_until("the second orphan to be reaped", || (!harness::alive(orphan)).then_some(()));
    harness::assert_no_zombies(d.pid());
    let after = extended.sync();
    assert!(after.iter().any(|l| l.starts_with("service.state\tforker\tdown\t")), "{after:#?}");
    assert!(!after.iter().any(|l| l.starts_with("service.rusage\t") || l.starts_with("orphan.exit\t")), "{after:#?}");
}

/// `examples/ordered.conf` with `examples/ordered_start.py`: the three
/// services start one after the other, each only after the one before it
/// reported ready (its `start` and `up` come after the `service.ready` of
/// the previous one), and the controller says so and ends.
#[test]
fn ordered_start_example_waits_for_each_service() {
    let root = harness::repo_root();
    let dir = harness::tempdir();
    let conf = std::fs::read_to_string(root.join("examples/ordered.conf")).expect("examples/ordered.conf");
    assert!(conf.contains("\tpython3\t"), "the example runs python3");
    let conf = conf.replace("\tpython3\t", &format!("\t{}\t", harness::python3()));
    let copy = harness::write_file(dir.path(), "ordered.conf", &conf);
    let mut groups = KillGroups::default();
    let mut d = Daemon::spawn(Command::new(harness::bin()).arg("-i").arg("-c").arg(&copy).current_dir(root));
    let services = ["db", "queue", "web"];
    let mut steps = Vec::new();
    while steps.last().map(String::as_str) != Some("ready web") {
        let line = d.out.next();
        match fields(&line)[..] {
            ["service.state", name, "up", _, pid, ..] => {
                groups.add(pid.parse().unwrap_or_else(|_| panic!("{line}")));
                if services.contains(&name) {
                    steps.push(format!("up {name}"));
                }
            }
            ["service.state", name, "start", ..] if services.contains(&name) => steps.push(format!("start {name}")),
            ["service.ready", name, ..] => steps.push(format!("ready {name}")),
            ["service.state", name, "down", ..] if services.contains(&name) => panic!("{line}; steps: {steps:?}"),
            ["error", ..] => panic!("{line}"),
            _ => {}
        }
    }
    let expected: Vec<String> =
        services.iter().flat_map(|s| ["start", "up", "ready"].map(|step| format!("{step} {s}"))).collect();
    assert_eq!(steps, expected);
    d.log.wait_for("the controller's last word", |l| l == "ordered_start.py: all services ready: db queue web");
    let down = d.wait_state("starter", "down");
    assert_eq!(&fields(&down)[5..7], ["exit", "0"], "{down}");
    d.send("terminate\t0");
    assert_eq!(d.wait(), Some(0));
}
