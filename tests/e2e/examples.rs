//! The examples against the real daemon: the README's config files
//! (`examples/demo.conf`, `examples/controller.conf` with the POSIX sh
//! controller), the Python and Rust back-off controllers, and the
//! `daemonproxy-proto` client (sync, statedump, `overflow`).
//!
//! A controller test follows the event stream of an interactive session:
//! the worker is started, restarted with growing delays (the seconds from
//! its `down` to the next `start` double), and on `kill -TERM` of the
//! daemon the controller stops the worker and terminates the daemon with
//! status 0. Services outlive the daemon (§14.2), so every pid seen in an
//! `up` event is killed, with its process group, at the end.

use crate::harness::{self, fields, Daemon, KillGroups};
use daemonproxy_proto::{
    Client, Command, Event, ExitReason, HandleInfo, Name, ServiceState, Signal, Snapshot, Special, StartWhen,
};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The pids seen in `up` events, killed with their process groups at the
/// end of a test (services outlive the daemon, §14.2).
#[derive(Default)]
struct Reaper {
    groups: KillGroups,
    /// The first pid of the `controller` service.
    controller: Option<i32>,
}

impl Reaper {
    fn add(&mut self, pid: &str) -> i32 {
        let pid: i32 = pid.parse().unwrap_or_else(|_| panic!("pid {pid:?}"));
        self.groups.add(pid);
        pid
    }

    fn add_controller(&mut self, pid: &str) {
        let pid = self.add(pid);
        self.controller.get_or_insert(pid);
    }
}

/// `daemonproxy -i ARGS...` in the repository root.
fn daemon(args: &[&str]) -> Daemon {
    Daemon::spawn(Process::new(harness::bin()).arg("-i").args(args).current_dir(harness::repo_root()))
}

/// Sends a command and checks that it produced no error.
fn ok(d: &mut Daemon, line: &str) {
    let out = d.cmd(line);
    assert!(!out.iter().any(|l| l.starts_with("error") || l.starts_with("warning")), "{line:?} gave {out:#?}");
}

/// Follows the event stream until the worker has been restarted after
/// `restarts` exits and is up again; returns, for each restart, the
/// seconds from its `down` to the next `start` (both are event TS fields).
fn follow_backoff(d: &Daemon, reaper: &mut Reaper, restarts: usize) -> Vec<u64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last_down = None;
    let mut delays = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no back-off in time; seen {:#?}", d.out.seen.lock().unwrap());
        let line = d.out.next();
        match fields(&line)[..] {
            ["service.state", "controller", "up", _, pid, ..] => reaper.add_controller(pid),
            ["service.state", "worker", "up", _, pid, ..] => {
                reaper.add(pid);
                if delays.len() == restarts {
                    return delays;
                }
            }
            ["service.state", "worker", "down", ts, _, reason, _, ..] if ts != "-" => {
                assert_ne!(reason, "signal", "the worker was killed: {line}");
                last_down = Some(ts.parse::<u64>().unwrap());
            }
            ["service.state", "worker", "start", ts, ..] => {
                if let Some(down) = last_down.take() {
                    delays.push(ts.parse::<u64>().unwrap() - down);
                }
            }
            ["service.state", "controller", "down", ..] => panic!("the controller died: {line}"),
            _ => {}
        }
    }
}

/// Each delay is at least twice the one before, starting at 1 s.
fn assert_doubling(delays: &[u64]) {
    assert_eq!(delays.first(), Some(&1), "first restart after 1 s: {delays:?}");
    for pair in delays.windows(2) {
        assert!(pair[1] >= 2 * pair[0], "delays do not double: {delays:?}");
    }
}

/// `kill -TERM` the daemon: the controller stops the worker (`down` by
/// SIGTERM when it was up, a cancelled start otherwise) and terminates the
/// daemon with status 0; then the controller ends on its own (EOF).
fn stop_by_sigterm(mut d: Daemon, worker_up: bool, reaper: &Reaper) {
    harness::kill(d.pid(), libc::SIGTERM);
    let down = d.out.wait_for("the worker's down", |l| l.starts_with("service.state\tworker\tdown\t"));
    if worker_up {
        assert!(down.contains("\tsignal\tSIGTERM\t"), "{down}");
    }
    // stdin stays open: only `terminate 0` from the controller ends the daemon.
    assert_eq!(harness::wait_timeout(&mut d.child), Some(0), "events: {:#?}", d.out.seen.lock().unwrap());
    d.log.wait_for("the exit message", |l| l == "info: daemonproxy exiting");
    assert!(!d.log.seen.lock().unwrap().iter().any(|l| l.contains("interactive session ended")));
    d.out.rest_until_eof();
    let controller = reaper.controller.expect("the controller's pid");
    harness::poll_until("the controller to end", || (!harness::alive(controller)).then_some(()));
}

/// The worker of the Python and Rust tests: exits with 1 three times
/// (counted in a file), then stays up.
fn define_counting_worker(d: &mut Daemon, dir: &Path) {
    let count = dir.join("count");
    let count = count.to_str().unwrap();
    ok(
        d,
        &format!(
            "service.args\tworker\tsh\t-c\tn=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) >{count}; \
             [ \"$n\" -ge 3 ] && exec sleep 60; exit 1"
        ),
    );
    ok(d, "service.fds\tworker\tnull\tnull\tstderr");
}

/// Defines and starts the controller service (`args`, TAB-separated).
fn start_controller(d: &mut Daemon, args: &str) {
    ok(d, &format!("service.args\tcontroller\t{args}"));
    ok(d, "service.fds\tcontroller\tcontrol.event\tcontrol.cmd\tstderr");
    d.send("service.auto_up\tcontroller\t1\talways");
}

/// A controller managing the counting worker: delays 1, 2, 4, then
/// SIGTERM while the worker is up.
fn managed_worker(controller: &str) {
    let dir = harness::tempdir();
    let mut reaper = Reaper::default();
    let mut d = daemon(&[]);
    define_counting_worker(&mut d, dir.path());
    start_controller(&mut d, controller);
    let delays = follow_backoff(&d, &mut reaper, 3);
    assert_doubling(&delays);
    stop_by_sigterm(d, true, &reaper);
}

/// An example config whose controller, without arguments, defines its
/// demo worker (3 s runs); SIGTERM arrives while its first restart is
/// pending. The config's `program` is replaced by `with` (the interpreter
/// or build of this machine) in a copy.
fn demo_worker(config: &str, program: &str, with: &str) {
    let dir = harness::tempdir();
    let text = std::fs::read_to_string(harness::repo_root().join(config)).expect("the example config");
    let field = format!("\tcontroller\t{program}");
    assert!(text.contains(&field), "{config} runs {program}");
    let copy =
        harness::write_file(dir.path(), "controller.conf", &text.replace(&field, &format!("\tcontroller\t{with}")));
    let mut reaper = Reaper::default();
    let d = daemon(&["-c", copy.to_str().unwrap()]);
    let (mut defined, mut down) = (false, None);
    let delay = loop {
        let line = d.out.next();
        match fields(&line)[..] {
            ["service.state", "controller", "up", _, pid, ..] => reaper.add_controller(pid),
            ["service.state", "worker", "up", _, pid, ..] => {
                reaper.add(pid);
            }
            ["service.state", "worker", "down", ts, _, "exit", "0", ..] => down = Some(ts.parse::<u64>().unwrap()),
            ["service.state", "worker", "start", ts, ..] if down.is_some() => {
                break ts.parse::<u64>().unwrap() - down.unwrap();
            }
            ["service.args", "worker", ..] => {
                assert_eq!(line, "service.args\tworker\tsh\t-c\techo \"worker $$ working\" >&2; sleep 3");
                defined = true;
            }
            ["service.state", _, "down", ..] | ["error", ..] => panic!("unexpected: {line}"),
            _ => {}
        }
    };
    assert!(defined, "the controller defined its worker");
    assert_eq!(delay, 1);
    d.log.wait_for("the worker's output", |l| l.starts_with("worker ") && l.ends_with(" working"));
    stop_by_sigterm(d, false, &reaper);
}

/// Builds the Rust example controller (once per test run, bounded) and
/// returns its path.
fn rust_controller() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut child = Process::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "daemonproxy-proto",
                "--example",
                "backoff_controller",
                "--message-format=json",
            ])
            .current_dir(harness::repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run cargo");
        let stdout = child.stdout.take().unwrap();
        let reader = thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<_>>());
        let deadline = Instant::now() + Duration::from_secs(600);
        while child.try_wait().expect("try_wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cargo build of the example took too long");
            }
            thread::sleep(Duration::from_millis(20));
        }
        let messages = reader.join().unwrap();
        let artifact = messages
            .iter()
            .filter(|m| m.contains("\"reason\":\"compiler-artifact\"") && m.contains("\"name\":\"backoff_controller\""))
            .find_map(|m| m.split("\"executable\":\"").nth(1)?.split('"').next().map(PathBuf::from))
            .unwrap_or_else(|| panic!("no executable in cargo's output: {messages:#?}"));
        assert!(artifact.is_file(), "{artifact:?}");
        artifact
    })
}

// ------------------------------------------------------------- README

#[test]
fn demo_conf_runs_and_restarts_the_ticker() {
    let mut reaper = Reaper::default();
    let mut d = daemon(&["-c", "examples/demo.conf"]);
    let (mut ticker, mut ticker_down, mut logger) = (None, None, false);
    let restarted_at = loop {
        let line = d.out.next();
        match fields(&line)[..] {
            ["service.state", "logger", "up", _, pid, ..] => {
                reaper.add(pid);
                logger = true;
            }
            ["service.state", "ticker", "up", _, pid, ..] => {
                let pid = reaper.add(pid);
                if ticker_down.is_some() {
                    break ticker.replace(pid);
                }
                ticker = Some(pid);
            }
            ["service.state", "ticker", "down", ts, _, "exit", "0", ..] => ticker_down = Some(ts.to_owned()),
            ["service.state", "ticker", "start", ts, ..] if ticker_down.is_some() => {
                let down: u64 = ticker_down.as_deref().unwrap().parse().unwrap();
                assert_eq!(ts.parse::<u64>().unwrap(), down + 5, "a 3 s run restarts after the 5 s interval");
            }
            ["service.state", _, "down", ..] | ["error", ..] => panic!("unexpected: {line}"),
            _ => {}
        }
    };
    assert!(logger);
    let first = restarted_at.expect("the first ticker");
    assert_ne!(ticker, Some(first));
    // The ticker's lines went through the daemon's pipe and the logger.
    d.log.wait_for("the first ticker's lines", |l| l == format!("[logger] tick 3 from pid {first}"));
    // Each SIGUSR1 runs on-usr1 exactly once.
    for n in 1..=2 {
        usr1_runs_once(&mut d, &mut reaper);
        d.log.wait_for("on-usr1's line", |l| l == "got SIGUSR1");
        let runs = d.log.seen.lock().unwrap().iter().filter(|l| *l == "got SIGUSR1").count();
        assert_eq!(runs, n, "one run per signal");
    }
    assert_eq!(d.wait(), Some(0));
}

/// `kill -USR1` the daemon of `examples/demo.conf`: `on-usr1` runs once
/// and ends with status 0, and no restart follows. A restart would be
/// requested when its exit is handled, so its `start` event would come
/// before the reply to a sync sent after the `down`; a statedump then
/// shows the service `down` and no SIGUSR1 pending.
fn usr1_runs_once(d: &mut Daemon, reaper: &mut Reaper) {
    harness::kill(d.pid(), libc::SIGUSR1);
    let (mut started, mut up) = (0, 0);
    loop {
        let line = d.out.next();
        match fields(&line)[..] {
            ["service.state", "on-usr1", "start", ..] => started += 1,
            ["service.state", "on-usr1", "up", _, pid, ..] => {
                reaper.add(pid);
                up += 1;
            }
            ["service.state", "on-usr1", "down", _, _, "exit", "0", ..] => break,
            ["service.state", "on-usr1", ..] | ["error", ..] => panic!("unexpected: {line}"),
            _ => {}
        }
    }
    assert_eq!((started, up), (1, 1), "one start per signal");
    let after = d.sync();
    assert!(!after.iter().any(|l| l.starts_with("service.state\ton-usr1\t")), "restarted: {after:#?}");
    d.send("statedump");
    let dump = d.sync();
    assert!(dump.iter().any(|l| l.starts_with("service.state\ton-usr1\tdown\t")), "{dump:#?}");
    assert!(!dump.iter().any(|l| l.starts_with("signal\tSIGUSR1\t")), "SIGUSR1 still pending: {dump:#?}");
}

#[test]
fn controller_conf_with_the_sh_controller() {
    let mut reaper = Reaper::default();
    let d = daemon(&["-c", "examples/controller.conf"]);
    let delays = follow_backoff(&d, &mut reaper, 2);
    assert_doubling(&delays);
    stop_by_sigterm(d, true, &reaper);
}

// ------------------------------------------------------ the controllers

#[test]
fn python_controller_backs_off_and_shuts_down() {
    managed_worker(&format!("{}\texamples/python/backoff_controller.py\tworker", harness::python3()));
}

#[test]
fn python_controller_demo_worker() {
    demo_worker("examples/python-controller.conf", "python3", harness::python3());
}

#[test]
fn rust_controller_backs_off_and_shuts_down() {
    let exe = rust_controller().to_str().unwrap().to_owned();
    managed_worker(&format!("{exe}\tworker"));
}

#[test]
fn rust_controller_demo_worker() {
    demo_worker(
        "examples/rust-controller.conf",
        "target/debug/examples/backoff_controller",
        rust_controller().to_str().unwrap(),
    );
}

// ------------------------------------------------------------ the client

/// Kills `pid` if the test is not finished within `limit` (a blocked read
/// then ends with EOF instead of hanging).
struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    fn new(pid: u32, limit: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                // SAFETY: kill takes no pointers.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.0.take());
    }
}

/// A snapshot with the times that depend on the moment of the dump zeroed.
fn timeless(mut s: Snapshot) -> Snapshot {
    for svc in s.services.values_mut() {
        match &mut svc.state {
            ServiceState::Up { uptime, .. } => *uptime = 0,
            ServiceState::Exited { downtime, .. } => *downtime = 0,
            _ => {}
        }
    }
    s.other.clear();
    s
}

#[test]
fn client_against_the_daemon() {
    let dir = harness::tempdir();
    let sock = dir.path().join("sock");
    let mut child = harness::clean_fds(Process::new(harness::bin()).args(["-i", "-S"]).arg(&sock))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start daemonproxy");
    let _watchdog = Watchdog::new(child.id(), Duration::from_secs(60));
    let mut c = Client::new(child.stdout.take().unwrap(), child.stdin.take().unwrap());

    // The banner, then the initial state.
    let banner = c.sync().unwrap();
    assert!(!banner.is_empty() && banner.iter().all(|e| matches!(e.event(), Ok(Event::Info { .. }))), "{banner:?}");
    let mut live = c.statedump().unwrap();
    assert!(live.services.is_empty() && live.signals.is_empty() && live.other.is_empty(), "{live:#?}");
    let handles: Vec<&str> = live.handles.keys().map(String::as_str).collect();
    assert_eq!(handles, ["control.cmd", "control.event", "control.socket", "null", "stderr", "stdin", "stdout"]);
    assert_eq!(live.handles["control.event"], HandleInfo::Special(Special::ControlEvent));

    // A service that exits with 7, followed event by event.
    let seven = Name::from_text("seven").unwrap();
    c.send(&Command::ServiceArgs { name: seven, args: b"sh\t-c\texit 7" }).unwrap();
    c.send(&Command::ServiceStart { name: seven, when: StartWhen::Now }).unwrap();
    let pid = loop {
        let ev = c.next_event().unwrap().expect("the daemon is running");
        let event = ev.event().unwrap();
        assert!(live.apply(&event), "{ev:?}");
        if let Event::ServiceState { state: ServiceState::Exited { pid, reason, .. }, .. } = event {
            assert_eq!(reason, ExitReason::Exit(7));
            break pid;
        }
    };

    // A pipe whose write end is deleted; a signal.
    c.send_line(b"fd.pipe\tr\tw").unwrap();
    c.send_line(b"fd.delete\tw").unwrap();
    for ev in c.sync().unwrap() {
        assert!(live.apply(&ev.event().unwrap()), "{ev:?}");
    }
    harness::kill(child.id() as i32, libc::SIGHUP);
    let ev = c.next_event().unwrap().unwrap();
    assert!(matches!(ev.event(), Ok(Event::Signal { signal: Signal::HUP, count: 1, .. })), "{ev:?}");
    live.apply(&ev.event().unwrap());

    // The state kept from events is the state the daemon dumps.
    let dump = c.statedump().unwrap();
    assert!(matches!(dump.services["seven"].state, ServiceState::Exited { pid: p, .. } if p == pid));
    assert!(matches!(&dump.handles["r"], HandleInfo::Pipe { read_end: true, peer: None, .. }), "{dump:#?}");
    assert_eq!(dump.signal_count(Signal::HUP), 1);
    assert_eq!(timeless(live), timeless(dump));

    // Overflow (§3.8): another controller makes many big broadcasts while
    // this one reads nothing. Its output fills up, the rest is dropped, and
    // so is the first sync token (the daemon is still in the overflow state
    // when it runs that echo): sync must not wait for it.
    let mut flooder = harness::Client::connect(&sock);
    let filler = "x".repeat(500);
    for i in 0..2000 {
        flooder.send(&format!("service.tags\tflood\t{filler}{i:04}"));
    }
    flooder.sync();
    let events = c.sync().unwrap();
    let (overflow, before) = events.split_last().expect("events");
    assert_eq!(overflow.line(), b"overflow", "the last event");
    assert!(before.len() < 2000, "{} events", before.len());
    assert!(before.iter().all(|e| matches!(e.event(), Ok(Event::ServiceTags { .. }))), "{:?}", before.last());
    assert!(c.take_lost());
    let snap = c.statedump().unwrap();
    assert_eq!(snap.services["flood"].tags, format!("{filler}1999").as_bytes());
    assert!(!c.take_lost());
    assert_eq!(c.sync().unwrap(), [], "nothing left over, no stray token");
    drop(flooder);

    c.send(&Command::Terminate { code: 0, guard: None }).unwrap();
    assert!(c.next_event().unwrap().is_none(), "the daemon closes the connection");
    assert_eq!(harness::wait_timeout(&mut child), Some(0));
}

/// `examples/settings.conf`: the web service runs as nobody, in /tmp,
/// with its limits, and serves (on a free port instead of 8018). Needs root
/// to switch user; without it the start fails at setgroups, as documented.
#[test]
fn settings_example_runs_a_service_as_nobody_with_its_limits() {
    let conf = std::fs::read_to_string(harness::repo_root().join("examples/settings.conf")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = harness::tempdir();
    let path = dir.path().join("settings.conf");
    std::fs::write(&path, conf.replace("8018", &port.to_string())).unwrap();
    let mut d = daemon(&["-c", path.to_str().unwrap()]);
    let mut reaper = Reaper::default();
    let root_user = Process::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    if !root_user {
        let e = d.out.wait_for("the setgroups error", |l| l.starts_with("error\tservice web: "));
        assert_eq!(e, "error\tservice web: setgroups failed: Operation not permitted");
        return;
    }
    let up = d.wait_state("web", "up");
    let pid = reaper.add(fields(&up)[4]);
    // It serves once python has bound the port.
    let deadline = Instant::now() + harness::TIMEOUT;
    let reply = loop {
        use std::io::{Read, Write};
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"HEAD / HTTP/1.0\r\n\r\n").unwrap();
            let mut reply = String::new();
            let _ = s.read_to_string(&mut reply);
            break reply;
        }
        assert!(Instant::now() < deadline, "nothing served on port {port}");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(reply.starts_with("HTTP/1.0 200"), "{reply}");
    // Serving means it has exec'd, after switching user.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("65534")), "{status}");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    assert!(limits.lines().any(|l| l.starts_with("Max open files") && l.contains(" 256 ")), "{limits}");
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(), Path::new("/tmp"));
    d.send("terminate\t0");
    assert_eq!(d.wait(), Some(0));
}

// ------------------------------------------ containers and service managers

/// The words of a JSON array of strings on one line (`["a", "b"]`), as the
/// Dockerfile's ENTRYPOINT and the pod's `command` are written.
fn json_words(line: &str) -> Vec<String> {
    let inner = &line[line.find('[').expect("[") + 1..line.rfind(']').expect("]")];
    inner.split(',').map(|w| w.trim().trim_matches('"').to_owned()).collect()
}

/// The container and service-manager examples, checked as far as this
/// machine allows (no Docker engine, no cluster, no systemd as init): the
/// files the Dockerfile copies exist; the config it installs passes
/// `--check` with the image's arguments and calls the handler where the
/// image puts it, with the guard code the image sets; the pod starts the
/// image's command; the systemd unit checks the config it runs.
#[test]
fn container_and_service_manager_examples_agree() {
    let root = harness::repo_root();
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let dockerfile = read("examples/Dockerfile");

    // COPY SOURCE DEST from the build context (not from the build stage).
    let copies: Vec<(String, String)> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from") && !l.starts_with(". "))
        .map(|l| {
            let (src, dest) = l.split_once(' ').expect("COPY SOURCE DEST");
            (src.to_owned(), dest.to_owned())
        })
        .collect();
    assert!(copies.len() >= 2, "{copies:?}");
    for (src, _) in &copies {
        assert!(root.join(src).is_file(), "the Dockerfile copies {src}, which does not exist");
    }
    let source_of = |dest: &str| {
        copies
            .iter()
            .find(|(_, d)| d == dest)
            .map(|(s, _)| s.clone())
            .unwrap_or_else(|| panic!("nothing copied to {dest}"))
    };

    // The image's command, with the config of the image replaced by its source.
    let entrypoint = json_words(dockerfile.lines().find(|l| l.starts_with("ENTRYPOINT ")).expect("ENTRYPOINT"));
    let config_at = entrypoint.iter().position(|w| w == "-c").expect("-c in ENTRYPOINT") + 1;
    let config = source_of(&entrypoint[config_at]);
    let mut args: Vec<String> = entrypoint[1..].to_vec();
    args[config_at - 1] = config.clone();
    args.push("--check".to_owned());
    let out = Process::new(harness::bin()).args(&args).current_dir(root).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("{config}: OK (")), "{out:?}");

    // The handler: where the image puts it, with the image's guard code.
    let conf = read(&config);
    let handler = conf.lines().find(|l| l.starts_with("service.args\tshutdown\t")).expect("the shutdown handler");
    let handler: Vec<&str> = handler.split('\t').collect();
    assert_eq!(source_of(handler[3]), "examples/shutdown.sh", "{handler:?}");
    let guard = &entrypoint[entrypoint.iter().position(|w| w == "--exit-guard").expect("--exit-guard") + 1];
    assert_eq!(handler.get(6), Some(&guard.as_str()), "the handler's GUARD argument: {handler:?}");

    // The pod runs the image's command.
    let pod = read("examples/kubernetes-pod.yaml");
    let command = json_words(pod.lines().find(|l| l.trim_start().starts_with("command:")).expect("command"));
    assert_eq!(command, entrypoint);

    // The unit checks the config it runs before starting it.
    let unit = read("examples/daemonproxy.service");
    let value = |key: &str| {
        unit.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_else(|| panic!("{key} in the unit")).to_owned()
    };
    let start = value("ExecStart=");
    let check = value("ExecStartPre=");
    let config_of = |line: &str| line.split(" -c ").nth(1).and_then(|r| r.split(' ').next()).map(str::to_owned);
    assert!(check.contains(" --check "), "{check}");
    assert_eq!(config_of(&check), config_of(&start));
    assert_eq!(value("KillMode="), "mixed", "SIGTERM to daemonproxy only; its handler stops the services");
}
