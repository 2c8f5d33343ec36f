//! Live upgrade (`reexec`, issue 13) through the real binary: the daemon
//! executes itself again and keeps its pid, its children, its descriptors
//! and its whole state; the interactive session and services' control
//! connections go on (unread input included), control-socket clients are
//! disconnected. A failed exec leaves the daemon as it was; a new image
//! that cannot read the state takes the exit path (exec-on-exit).
//!
//! What `statedump` may change across a re-exec: only UPTIME and DOWNTIME
//! of `service.state` lines, which are computed when the dump is written
//! (protocol.md §4.1) and can only grow. Everything else (pids, the
//! seconds of forks, reaps and scheduled starts, signal counts and
//! seconds, handles with their flags and descriptions) is compared exactly.

use crate::ctl::ctl;
use crate::harness::{self, fields, poll_until, proc_fds, proc_stat, Client, Daemon, TIMEOUT};
use crate::pid1;
use crate::shutdown::{self, Leftovers};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Long-running services of the big scenario.
const SERVICES: usize = 50;
/// Re-executions in a row.
const ROUNDS: usize = 10;

/// The event every carried connection gets from the new image.
const DONE: &str = "info\treexec done";

/// `statedump`'s lines (the issuer's only, up to a sync).
fn dump(d: &mut Daemon) -> Vec<String> {
    d.send("statedump");
    d.sync()
}

/// A statedump split into what must not change (every line, with
/// UPTIME and DOWNTIME of `service.state` lines blanked) and those two
/// fields per service.
fn split_dump(dump: &[String]) -> (Vec<String>, BTreeMap<String, (String, String)>) {
    let mut stable = Vec::new();
    let mut moving = BTreeMap::new();
    for l in dump {
        let f = fields(l);
        if f[0] == "service.state" && f.len() == 9 {
            moving.insert(f[1].to_owned(), (f[7].to_owned(), f[8].to_owned()));
            stable.push([&f[..7], &["*", "*"]].concat().join("\t"));
        } else {
            stable.push(l.clone());
        }
    }
    (stable, moving)
}

/// `after` is `before` but for the fields computed at dump time, which
/// stay `-` or grow.
fn assert_same_state(before: &[String], after: &[String]) {
    let (stable_before, moving_before) = split_dump(before);
    let (stable_after, moving_after) = split_dump(after);
    assert_eq!(stable_before, stable_after, "statedump changed across reexec");
    for (name, (up0, down0)) in &moving_before {
        let (up1, down1) = &moving_after[name];
        for (was, is) in [(up0, up1), (down0, down1)] {
            match (was.parse::<u64>(), is.parse::<u64>()) {
                (Ok(a), Ok(b)) => assert!(b >= a, "{name}: {was} became {is}"),
                _ => assert_eq!(was, is, "{name}"),
            }
        }
    }
}

/// The pids of the running services in a statedump, by name.
fn running(dump: &[String]) -> BTreeMap<String, i32> {
    dump.iter()
        .filter_map(|l| match fields(l)[..] {
            ["service.state", name, "up", _, pid, ..] => Some((name.to_owned(), pid.parse().ok()?)),
            _ => None,
        })
        .collect()
}

/// The `flags:` of every descriptor of `pid` (`/proc/PID/fdinfo`): access
/// mode, O_NONBLOCK, O_CLOEXEC...
fn fd_flags(pid: i32) -> BTreeMap<i32, String> {
    proc_fds(pid)
        .into_keys()
        .filter_map(|fd| {
            let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
            let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?.trim().to_owned();
            Some((fd, flags))
        })
        .collect()
}

/// The daemon's descriptors (`/proc/PID/fd`: number → target), with the
/// inode numbers of those in `internal` left out: the reactor's own
/// descriptors (epoll, the signal and wake pipes, the spare) are made
/// anew by each image, at the same numbers. Every other descriptor
/// (handles, carried connections, standard ones) must be the very same
/// object.
fn daemon_fds(pid: i32, internal: &BTreeSet<i32>) -> BTreeMap<i32, String> {
    masked(proc_fds(pid), internal)
}

/// `fds` with the inode numbers of those in `internal` left out.
fn masked(mut fds: BTreeMap<i32, String>, internal: &BTreeSet<i32>) -> BTreeMap<i32, String> {
    for (fd, target) in fds.iter_mut() {
        if internal.contains(fd) {
            if let Some(i) = target.find(":[") {
                target.replace_range(i.., ":[*]");
            }
        }
    }
    fds
}

/// The descriptors a daemon has right after its start, but for 0, 1 and
/// 2 and its control socket (listening at `control`): the reactor's own,
/// which [`daemon_fds`] compares by kind only.
fn internal_fds(pid: i32, control: &Path) -> BTreeSet<i32> {
    let listener = format!("socket:[{}]", listening_inode(control));
    proc_fds(pid).into_iter().filter(|(fd, target)| *fd > 2 && *target != listener).map(|(fd, _)| fd).collect()
}

/// The inode of the unix socket listening at `path` (`/proc/net/unix`:
/// the one with `__SO_ACCEPTCON` among the flags; accepted connections
/// show the path too).
fn listening_inode(path: &Path) -> u64 {
    let table = std::fs::read_to_string("/proc/net/unix").expect("/proc/net/unix");
    let path = path.to_str().unwrap();
    table
        .lines()
        .skip(1)
        .find_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [_, _, _, "00010000", _, _, inode, p] if p == path => inode.parse().ok(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no socket listening at {path}"))
}

/// Waits (bounded) until the daemon's descriptors are `before` again
/// (a dropped client is closed by the daemon a moment later), and fails
/// showing the difference otherwise.
fn assert_fds_settle(pid: i32, internal: &BTreeSet<i32>, before: &BTreeMap<i32, String>) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = daemon_fds(pid, internal);
        if &now == before {
            return;
        }
        if Instant::now() > deadline {
            assert_eq!(&now, before, "descriptors of the daemon (left: now, right: before the reexecs)");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A controller on its `control.socket` connection (descriptors 0 and 1):
/// at start and at each `info reexec done` it sends an `echo` and writes
/// the reply it gets to stderr (`ctl: pong N`), so the test sees both
/// directions of the connection work after every re-exec.
const CONTROLLER: &str = "n=0\n\
    printf 'echo\\tpong %s\\n' \"$n\"\n\
    while IFS= read -r line; do\n\
    \x20 case \"$line\" in\n\
    \x20   \"info\treexec done\") n=$((n+1)); printf 'echo\\tpong %s\\n' \"$n\" ;;\n\
    \x20   \"pong \"*) printf 'ctl: %s\\n' \"$line\" >&2 ;;\n\
    \x20 esac\n\
    done\n";

/// A control-socket client that makes sure the daemon has accepted it
/// (an `echo` round trip), says so on stderr, and exits 0 when the daemon
/// drops the connection, which is what `reexec` does: its exit falls
/// into the re-exec, and the new image reaps it.
const VICTIM: &str = "import socket, sys\n\
    s = socket.socket(socket.AF_UNIX)\n\
    s.connect(sys.argv[1])\n\
    s.sendall(b'echo\\t' + sys.argv[2].encode() + b' ready\\n')\n\
    buf = b''\n\
    while b' ready\\n' not in buf:\n\
    \x20   chunk = s.recv(4096)\n\
    \x20   if not chunk:\n\
    \x20       sys.exit(1)\n\
    \x20   buf += chunk\n\
    print(sys.argv[2], 'connected', file=sys.stderr, flush=True)\n\
    while s.recv(4096):\n\
    \x20   pass\n";

/// A statedump without the state lines of the services that exit during
/// the re-execs (`v0`, `v1`...).
fn but_victims(dump: &[String]) -> Vec<String> {
    dump.iter().filter(|l| !l.starts_with("service.state\tv")).cloned().collect()
}

/// What the big scenario runs on: the daemon's pid as this test sees it,
/// and a service's pid (as the daemon reports it) as this test sees it.
struct Seen<'a> {
    daemon: i32,
    /// [`internal_fds`] of the daemon.
    internal: BTreeSet<i32>,
    host_pid: &'a dyn Fn(i32) -> i32,
}

/// The big scenario of issue 13, on a daemon started with `-i -S SOCK`:
/// 50 running services, 20 handles (pipes, socketpairs, a listening unix
/// socket, a file), a connected controller service, two pending delayed
/// starts (one by `service.start NAME TIMESTAMP`, one a restart throttled
/// far ahead); then 10 re-executions in a row, alternately from the
/// interactive session and from `daemonproxy ctl reexec`, each with a
/// service that exits during it. After each: the controller still talks,
/// the old control-socket client was disconnected, a new one works and
/// sees the same statedump. At the end: the statedump is the same, no
/// service restarted (same pids, still the daemon's children), every exit
/// was reported once, the command line is the original one, the listening
/// socket accepts, the data in a pipe is still there, no descriptor
/// leaked, and a service started now inherits none of the daemon's.
fn ten_reexecs(d: &mut Daemon, seen: Seen<'_>, dir: &Path, sock: &Path) {
    let sock_s = sock.to_str().unwrap();
    let listen = dir.join("listen.sock");
    let controller = harness::write_file(dir, "controller.sh", CONTROLLER);
    let victim = harness::write_file(dir, "victim.py", VICTIM);

    // 20 handles.
    let mut setup = String::new();
    let mut handles = Vec::new();
    for i in 0..7 {
        setup += &format!("fd.pipe\tp{i}r\tp{i}w\n");
        handles.extend([format!("p{i}r"), format!("p{i}w")]);
    }
    for i in 0..2 {
        setup += &format!("fd.pipe\tsp{i}a\tsp{i}b\tunix,stream\n");
        handles.extend([format!("sp{i}a"), format!("sp{i}b")]);
    }
    setup += &format!("fd.socket\tlistener\tlisten\t{}\n", listen.display());
    setup += &format!("fd.open\tfile\twrite,create\t{}\n", dir.join("file").display());
    handles.extend(["listener".to_owned(), "file".to_owned()]);
    // 50 running services.
    let names: Vec<String> = (0..SERVICES).map(|i| format!("s{i:02}")).collect();
    for n in &names {
        setup += &format!("service.args\t{n}\tsleep\t100000\nservice.start\t{n}\n");
    }
    // The controller.
    setup += &format!(
        "service.args\tctl\tsh\t{}\nservice.fds\tctl\tcontrol.socket\tcontrol.socket\tstderr\nservice.start\tctl\n",
        controller.display()
    );
    // Delayed starts: one scheduled, one restart throttled far ahead.
    let late = harness::mono_secs() + 100_000;
    setup += &format!("service.args\tlate\tsleep\t100000\nservice.start\tlate\t{late}\n");
    setup += "service.args\tflaky\tsh\t-c\texit 1\nservice.auto_up\tflaky\t100000\talways\n";
    // Something in a pipe, to be read after the re-execs.
    setup += "service.args\twriter\tsh\t-c\techo through-the-pipe\nservice.fds\twriter\tnull\tp0w\tstderr\n\
              service.start\twriter\n";
    // The services that exit during a re-exec, one per round.
    for i in 0..ROUNDS {
        setup += &format!(
            "service.args\tv{i}\t{}\t-S\t{}\t{sock_s}\tv{i}\nservice.fds\tv{i}\tnull\tstderr\tstderr\n",
            harness::python3(),
            victim.display()
        );
    }
    d.send_raw(setup.as_bytes());
    let out = d.sync();
    assert!(!out.iter().any(|l| l.starts_with("error")), "{out:#?}");
    let mut all = names.clone();
    all.push("ctl".to_owned());
    shutdown::wait_up(d, &all.iter().map(String::as_str).collect::<Vec<_>>());
    d.log.wait_for("the controller's first round trip", |l| l == "ctl: pong 0");
    poll_until("flaky's restart, far ahead, and writer's exit", || {
        let states = shutdown::service_states(d);
        let flaky = &states["flaky"];
        let far = flaky[2] == "start" && flaky[3].parse::<i64>().ok()? > harness::mono_secs() + 1000;
        (far && states["writer"][2] == "down").then_some(())
    });

    let before = dump(d);
    for h in &handles {
        assert!(before.iter().any(|l| l.starts_with(&format!("fd.state\t{h}\t"))), "{h} missing: {before:#?}");
    }
    let pids = running(&before);
    assert_eq!(pids.len(), SERVICES + 1, "{pids:?}");
    // Each start holds a pipe until the new process has executed its
    // program: the baseline is taken when they are all closed, with the
    // 20 handles and the controller's connection open besides what the
    // daemon had at its start (0, 1, 2, the control socket, its own).
    let expected = 4 + seen.internal.len() + handles.len() + 1;
    poll_until("the exec status pipes to close", || (harness::fd_count(seen.daemon) == expected).then_some(()));
    let fds_before = daemon_fds(seen.daemon, &seen.internal);
    let cmdline = |pid: i32| -> Vec<String> {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the daemon's command line");
        raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    };
    let started_as = cmdline(seen.daemon);

    for round in 0..ROUNDS {
        let v = format!("v{round}");
        let vpid = d.start_up(&v);
        d.log.wait_for("the victim's connection", |l| l == format!("{v} connected"));
        let mut old = Client::connect(sock);
        old.sync();
        if round % 2 == 0 {
            d.send("reexec");
        } else {
            let r = ctl(&["-S", sock_s, "reexec"], None);
            assert_eq!((r.code, r.stdout.as_str()), (Some(0), ""), "ctl reexec: {}", r.stderr);
        }
        d.out.wait_for("reexec done", |l| l == DONE);
        d.log.wait_for("the log's reexec done", |l| l == "info: reexec done");
        // It can only exit after the exec (the exec closes its
        // connection), so only the new image can report it.
        let down = d.wait_state(&v, "down");
        assert_eq!(fields(&down)[4..7], [vpid.to_string().as_str(), "exit", "0"], "{down}");
        d.log.wait_for("the controller's round trip", |l| l == format!("ctl: pong {}", round + 1));
        let gone = old.lines.rest_until_eof();
        assert!(gone.is_empty(), "the old client got {gone:?}");
        let mut new = Client::connect(sock);
        assert_eq!(new.cmd(&format!("echo\tround {round}")), [format!("round {round}")]);
        assert_same_state(&but_victims(&before), &but_victims(&new.cmd("statedump")));
    }

    // Each exit reported once (live events have a pid; the dumps taken
    // before the rounds only show the victims never started).
    let events = d.out.seen.lock().unwrap().clone();
    let downs = |i: usize| -> Vec<String> {
        let prefix = format!("service.state\tv{i}\tdown\t");
        events.iter().filter(|l| l.starts_with(&prefix) && fields(l)[4] != "-").cloned().collect()
    };
    let after = dump(d);
    assert_same_state(&but_victims(&before), &but_victims(&after));
    assert_eq!(running(&after), pids, "services restarted");
    for &pid in pids.values() {
        let host = (seen.host_pid)(pid);
        let st = proc_stat(host).unwrap_or_else(|| panic!("service pid {pid} is gone"));
        assert_eq!((st.ppid, st.session), (seen.daemon, host), "pid {pid} is not the daemon's service any more");
    }
    for i in 0..ROUNDS {
        let downs = downs(i);
        assert_eq!(downs.len(), 1, "v{i}: {downs:#?}");
        let state = after.iter().find(|l| l.starts_with(&format!("service.state\tv{i}\t"))).unwrap();
        assert_eq!(fields(state)[..7], fields(&downs[0])[..7], "v{i}");
    }
    let log = d.log.seen.lock().unwrap().clone();
    assert_eq!(log.iter().filter(|l| *l == "info: re-executing the daemon").count(), ROUNDS, "{log:#?}");
    // The same program and arguments, plus the one `--restore-state FD`
    // of the last re-exec (each image passes on its arguments without it).
    let now_as = cmdline(seen.daemon);
    assert_eq!(now_as[..now_as.len() - 2], started_as[..], "{now_as:?}");
    assert_eq!(now_as[now_as.len() - 2], "--restore-state", "{now_as:?}");

    // The listener is still the daemon's and listening.
    std::os::unix::net::UnixStream::connect(&listen).expect("connect to the listening handle");
    assert_fds_settle(seen.daemon, &seen.internal, &fds_before);
    // The pipe's content went through ten execs.
    d.cmd("service.args\treader\tsh\t-c\tread -r l; echo \"reader: $l\" >&2");
    d.cmd("service.fds\treader\tp0r\tnull\tstderr");
    d.send("service.start\treader");
    d.log.wait_for("the reader", |l| l == "reader: through-the-pipe");
    d.wait_state("reader", "down");
    // The new image made every descriptor it adopted close-on-exec again:
    // a service started now gets its three and nothing else.
    d.cmd("service.args\tfresh\tsleep\t100000");
    let fresh = (seen.host_pid)(d.start_up("fresh"));
    poll_until("fresh to execute sleep", || {
        std::fs::read(format!("/proc/{fresh}/cmdline")).ok().filter(|c| c.starts_with(b"sleep\0"))
    });
    let null = "/dev/null".to_owned();
    assert_eq!(proc_fds(fresh), BTreeMap::from([(0, null.clone()), (1, null.clone()), (2, null)]));
}

/// Issue 13's scenario on a plain daemon (see [`ten_reexecs`]).
#[test]
fn ten_reexecs_keep_services_handles_and_connections() {
    let dir = harness::tempdir();
    let sock = dir.path().join("ctl.sock");
    let mut d = Daemon::interactive_clean(&["-S", sock.to_str().unwrap()]);
    let _leftovers = Leftovers(d.out.seen.clone());
    let pid = d.pid();
    d.sync();
    let seen = Seen { daemon: pid, internal: internal_fds(pid, &sock), host_pid: &|p| p };
    ten_reexecs(&mut d, seen, dir.path(), &sock);
    assert!(harness::alive(pid));
}

/// The host pid of the process that is `nspid` in the PID namespace whose
/// init is `init` (a child of it).
fn host_pid(init: i32, nspid: i32) -> i32 {
    harness::children_of(init)
        .into_iter()
        .find(|c| {
            std::fs::read_to_string(format!("/proc/{}/status", c.pid)).ok().is_some_and(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("NSpid:"))
                    .and_then(|v| v.split_whitespace().last().map(|p| p == nspid.to_string()))
                    .unwrap_or(false)
            })
        })
        .map(|c| c.pid)
        .unwrap_or_else(|| panic!("no child of {init} is {nspid} in its namespace"))
}

/// The same as PID 1 of a new PID namespace: the daemon stays PID 1 (same
/// host process, still `daemonproxy`), its services keep their pids, and
/// the terminate guard PID 1 has by default is still armed.
#[test]
fn ten_reexecs_as_pid1() {
    const TEST: &str = "ten_reexecs_as_pid1";
    let dir = harness::tempdir();
    let sock = dir.path().join("ctl.sock");
    let Some((mut d, init)) = pid1::start_as_pid1(TEST, &["-S", sock.to_str().unwrap(), "-c", "/dev/null"]) else {
        return;
    };
    let seen = Seen { daemon: init, internal: internal_fds(init, &sock), host_pid: &|p| host_pid(init, p) };
    ten_reexecs(&mut d, seen, dir.path(), &sock);
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).expect("init status");
    let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:")).expect("NSpid line");
    assert_eq!(nspid.split_whitespace().last(), Some("1"), "no longer PID 1: {nspid}");
    assert_eq!(pid1::comm(init), "daemonproxy");
    assert_eq!(
        d.cmd("terminate\t0"),
        ["error\tterminate guard code required, for command \"terminate\t0\""],
        "the guard of PID 1 is gone"
    );
}

/// Writes an executable file.
fn write_script(dir: &Path, name: &str, content: &str) -> std::path::PathBuf {
    let path = harness::write_file(dir, name, content);
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    path
}

/// A small daemon for the other tests: two running services, a pipe and a
/// listening socket; returns the services' pids.
fn small_setup(d: &mut Daemon, dir: &Path) -> Vec<i32> {
    let listen = dir.join("listen.sock");
    let out = d.cmd(&format!("fd.pipe\tr\tw\nfd.socket\tlistener\tlisten\t{}", listen.display()));
    let want = [
        "fd.state\tr\tpipe\tfrom\tw".to_owned(),
        "fd.state\tw\tpipe\tto\tr".to_owned(),
        format!("fd.state\tlistener\tsocket\tunix,stream,bind,listen=32\t{}", listen.display()),
    ];
    assert_eq!(out, want);
    ["a", "b"]
        .iter()
        .map(|n| {
            d.cmd(&format!("service.args\t{n}\tsleep\t100000"));
            d.start_up(n)
        })
        .collect()
}

/// `reexec` of a program that does not exist: the issuer gets the error,
/// the daemon carries on with the same state, pids and descriptors, the
/// descriptors it opened for the exec are close-on-exec again, and a
/// later `reexec` works.
#[test]
fn reexec_of_a_missing_binary_changes_nothing() {
    let dir = harness::tempdir();
    let sock = dir.path().join("ctl.sock");
    let mut d = Daemon::interactive_clean(&["-S", sock.to_str().unwrap()]);
    let _leftovers = Leftovers(d.out.seen.clone());
    d.sync();
    let internal = internal_fds(d.pid(), &sock);
    small_setup(&mut d, dir.path());
    let before = dump(&mut d);
    let (fds, flags) = (proc_fds(d.pid()), fd_flags(d.pid()));

    assert_eq!(
        d.cmd("reexec\t/no/such/binary"),
        ["error\treexec failed: No such file or directory, for command \"reexec\t/no/such/binary\""]
    );
    assert_same_state(&before, &dump(&mut d));
    assert_eq!(proc_fds(d.pid()), fds);
    assert_eq!(fd_flags(d.pid()), flags, "descriptor flags (O_CLOEXEC) after the failed exec");
    let log = d.log.wait_for("the log's error", |l| l.starts_with("error: reexec"));
    assert_eq!(log, "error: reexec failed: No such file or directory");

    d.send("reexec");
    d.out.wait_for("reexec done", |l| l == DONE);
    assert_same_state(&before, &dump(&mut d));
    assert_eq!(daemon_fds(d.pid(), &internal), masked(fds, &internal));
}

/// The new image re-arms the timers: a start scheduled for a later second
/// is still pending after the re-exec, and happens then, not before the
/// second it was due. (If a slow machine let it fire before the re-exec,
/// the service is stopped and the start scheduled again.)
#[test]
fn a_pending_start_happens_after_reexec() {
    let mut d = Daemon::interactive_clean(&[]);
    let _leftovers = Leftovers(d.out.seen.clone());
    d.cmd("service.args\tlater\tsleep\t100000");
    let mut attempts = 0;
    let at = loop {
        attempts += 1;
        assert!(attempts <= 5, "the start always fired before the re-exec");
        let at = harness::mono_secs() + 2;
        d.cmd(&format!("service.start\tlater\t{at}"));
        d.send("reexec");
        d.out.wait_for("reexec done", |l| l == DONE);
        let state = shutdown::service_states(&mut d).remove("later").unwrap();
        if state[2] == "start" {
            assert_eq!(state[3], at.to_string());
            break at;
        }
        d.cmd("service.signal\tlater\tSIGKILL");
        d.wait_state("later", "down");
    };
    let up = d.wait_state("later", "up");
    assert!(fields(&up)[3].parse::<i64>().unwrap() >= at, "{up}, due at {at}");
}

/// The upgrade itself: the file the daemon was started from is replaced
/// (a new file renamed over it; here a script that says so and runs the
/// real binary). A plain `reexec` runs the image that is running
/// (`/proc/self/exe`), not the replacement; naming the path runs the new
/// file, which takes the state over.
#[test]
fn reexec_runs_a_replaced_binary_only_when_named() {
    let dir = harness::tempdir();
    let path = dir.path().join("daemonproxy");
    if std::fs::hard_link(harness::bin(), &path).is_err() {
        std::fs::copy(harness::bin(), &path).expect("copy the binary");
    }
    let mut d = Daemon::spawn_interactive(harness::clean_fds(Command::new(&path).arg("-i")));
    let _leftovers = Leftovers(d.out.seen.clone());
    small_setup(&mut d, dir.path());
    let before = dump(&mut d);
    let script = format!("#!/bin/sh\necho \"new version: $*\" >&2\nexec {} \"$@\"\n", harness::bin());
    let new = write_script(dir.path(), "new", &script);
    std::fs::rename(&new, &path).expect("replace the binary");

    d.send("reexec");
    d.out.wait_for("reexec done", |l| l == DONE);
    d.log.wait_for("the log's reexec done", |l| l == "info: reexec done");
    assert_same_state(&before, &dump(&mut d));
    let started = |log: &[String]| log.iter().filter(|l| l.starts_with("new version: ")).cloned().collect::<Vec<_>>();
    assert_eq!(started(&d.log.seen.lock().unwrap()), Vec::<String>::new(), "a plain reexec ran the new file");

    d.send(&format!("reexec\t{}\t-i", path.display()));
    d.out.wait_for("reexec done", |l| l == DONE);
    d.log.wait_for("the log's reexec done", |l| l == "info: reexec done");
    assert_same_state(&before, &dump(&mut d));
    let runs = started(&d.log.seen.lock().unwrap());
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].starts_with("new version: -i --restore-state "), "{runs:?}");
}

/// `reexec` into a program that is not daemonproxy: the process simply
/// becomes that program. Here it exits 7 at once, so the daemon's process
/// exits with status 7; exec-on-exit is daemonproxy's and does not run;
/// the services are orphaned and keep running (the test kills them).
#[test]
fn reexec_into_a_foreign_program_ends_the_daemon() {
    let dir = harness::tempdir();
    let record = dir.path().join("recorded");
    let recorder =
        harness::write_file(dir.path(), "recorder.sh", &format!("echo ran > {}\nexit 5\n", record.display()));
    let mut d = Daemon::interactive_clean(&["-E", &format!("sh\t{}", recorder.display())]);
    let _leftovers = Leftovers(d.out.seen.clone());
    let pids = small_setup(&mut d, dir.path());
    let daemon = d.pid();

    d.send("reexec\tsh\t-c\texit 7");
    assert_eq!(harness::wait_timeout(&mut d.child), Some(7));
    assert!(!record.exists(), "exec-on-exit ran");
    for pid in pids {
        let st = proc_stat(pid).expect("the service was killed");
        assert_ne!(st.ppid, daemon, "{pid} still has the daemon's pid as parent");
        assert_eq!(st.session, pid);
    }
}

/// A new image that cannot read its state (`--restore-state 999`, a
/// descriptor that is not open; the new image takes the first such pair
/// and the one `reexec` appends is an unknown option, only warned about)
/// takes the exit path of a start-up error: exec-on-exit from its own
/// command line, with DAEMONPROXY_EXITCODE 3 and the reason in
/// DAEMONPROXY_ERROR, in the same process; without exec-on-exit, the
/// `fatal:` line and status 3.
#[test]
fn reexec_into_an_image_that_cannot_read_the_state_takes_the_exit_path() {
    let dir = harness::tempdir();
    let recorder = write_script(
        dir.path(),
        "recorder.sh",
        "#!/bin/sh\necho \"recorder: pid=$$ code=$DAEMONPROXY_EXITCODE error=$DAEMONPROXY_ERROR\" >&2\nexit 5\n",
    );
    // (No TAB in it: `reexec` takes TAB-separated arguments.)
    let rec = recorder.to_str().unwrap();
    let mut d = Daemon::interactive_clean(&["-E", rec]);
    let _leftovers = Leftovers(d.out.seen.clone());
    small_setup(&mut d, dir.path());
    d.send(&format!("reexec\t{}\t-i\t-E\t{rec}\t--restore-state\t999", harness::bin()));
    assert_eq!(harness::wait_timeout(&mut d.child), Some(5), "the recorder's status");
    let log = d.log.rest_until_eof();
    let want =
        format!("recorder: pid={} code=3 error=reexec: cannot read the state on fd 999: Bad file descriptor", d.pid());
    assert!(log.contains(&want), "{log:#?}");
    assert!(log.contains(&format!("warning: daemonproxy exec_on_exit to '{rec}'")), "{log:#?}");
    assert!(log.iter().any(|l| l.starts_with("warning: reexec: Unknown option --restore-state")), "{log:#?}");
    assert!(!log.iter().any(|l| l.starts_with("fatal:") || l == "info: reexec done"), "{log:#?}");

    // The same without exec-on-exit: the fatal line, status 3.
    let dir = harness::tempdir();
    let mut d = Daemon::interactive_clean(&[]);
    let _leftovers = Leftovers(d.out.seen.clone());
    small_setup(&mut d, dir.path());
    d.send(&format!("reexec\t{}\t-i\t--restore-state\t999", harness::bin()));
    assert_eq!(harness::wait_timeout(&mut d.child), Some(3));
    let log = d.log.rest_until_eof();
    assert_eq!(
        log.last().map(String::as_str),
        Some("fatal: reexec: cannot read the state on fd 999: Bad file descriptor")
    );
}

/// `--reexec-signal USR2`: SIGUSR2 re-executes the daemon, again and
/// again (the new image catches it too), and is not recorded as a
/// `signal` event; a signal recorded before (SIGHUP) keeps its count and
/// second.
#[test]
fn reexec_signal_reexecutes_without_recording_it() {
    let dir = harness::tempdir();
    let mut d = Daemon::interactive_clean(&["--reexec-signal", "USR2"]);
    let _leftovers = Leftovers(d.out.seen.clone());
    small_setup(&mut d, dir.path());
    harness::kill(d.pid(), libc::SIGHUP);
    d.out.wait_for("signal SIGHUP", |l| l.starts_with("signal\tSIGHUP\t") && l.ends_with("\t1"));
    let before = dump(&mut d);
    for _ in 0..3 {
        harness::kill(d.pid(), libc::SIGUSR2);
        d.out.wait_for("reexec done", |l| l == DONE);
        d.log.wait_for("the log's reexec done", |l| l == "info: reexec done");
    }
    let after = dump(&mut d);
    assert_same_state(&before, &after);
    assert!(!after.iter().any(|l| l.starts_with("signal\tSIGUSR2")), "{after:#?}");
    assert!(!d.out.seen.lock().unwrap().iter().any(|l| l.starts_with("signal\tSIGUSR2")));
    let log = d.log.seen.lock().unwrap().clone();
    assert!(!log.iter().any(|l| l.contains("SIGUSR2")), "{log:#?}");
}

/// What follows `reexec` on standard input in the same write, even a
/// partial line, is executed by the new image, after `info reexec done`.
/// The log filter, the log destination and the exec-on-exit arguments set
/// by commands before go on: with the filter at `warning` the new image's
/// `info:` lines are hidden; with `debug` (the default, which shows
/// `info`) they go to the file handle the log was sent to; `terminate`
/// executes the program set.
#[test]
fn input_and_settings_go_on_in_the_new_image() {
    let dir = harness::tempdir();
    let logfile = dir.path().join("log");
    let mut d = Daemon::interactive_clean(&[]);
    let setup = d.cmd(&format!(
        "fd.open\tlogfile\twrite,create,append\t{}\nlog.dest\tfd\tlogfile\nlog.filter\twarning\n\
         terminate.exec_args\tsh\t-c\techo \"exec'd: $DAEMONPROXY_EXITCODE $DAEMONPROXY_ERROR\" >&2; exit 9",
        logfile.display()
    ));
    assert_eq!(setup.last().map(String::as_str), Some("log.filter\twarning"), "{setup:?}");

    d.send_raw(b"reexec\necho\tafter\nlog.filter\necho\tpar");
    assert_eq!(d.out.next(), DONE);
    assert_eq!(d.out.next(), "after");
    assert_eq!(d.out.next(), "log.filter\twarning");
    d.send_raw(b"tial\n");
    assert_eq!(d.out.next(), "partial");

    assert_eq!(d.cmd("log.filter\tdebug"), ["log.filter\tdebug"]);
    d.send("reexec");
    assert_eq!(d.out.next(), DONE);
    d.send("terminate\t0");
    assert_eq!(harness::wait_timeout(&mut d.child), Some(9), "the exec-on-exit program's status");
    let stderr = d.log.rest_until_eof();
    assert_eq!(stderr, ["exec'd: 0 terminated normally"]);
    let log = std::fs::read_to_string(&logfile).unwrap();
    let log: Vec<&str> = log.lines().collect();
    assert_eq!(
        log,
        ["info: re-executing the daemon", "info: reexec done", "warning: daemonproxy exec_on_exit to 'sh'"]
    );
}
