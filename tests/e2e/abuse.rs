//! Holding up under abuse (issue 17): descriptor exhaustion on the control
//! socket, the connection limit, and a config FIFO with no writer yet.
//!
//! Connecting is bounded in time too ([`try_client`]): a daemon that stops
//! draining its listen queue makes `connect` block once the queue is full.

use crate::harness::{self, fd_count, fields, poll_until, Client, Daemon, KillGroups, TIMEOUT};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::thread;

/// `daemonproxy -i -S DIR/sock EXTRA...` under `ulimit -n NOFILE`.
fn socket_daemon(dir: &Path, nofile: u32, extra: &[&str]) -> (Daemon, PathBuf) {
    let sock = dir.join("sock");
    let script = format!("ulimit -n {nofile} && exec \"$0\" -i -S \"$@\"");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script, harness::bin()]).arg(&sock).args(extra);
    let mut d = Daemon::spawn_interactive(harness::clean_fds(&mut cmd));
    d.sync();
    assert!(sock.exists(), "control socket not created");
    (d, sock)
}

/// Connects to the control socket (panics after the timeout) and sends
/// `echo TAG`: the stream if the daemon answers, `None` if it closed the
/// connection at once (refused it).
fn try_client(sock: &Path, tag: &str) -> Option<UnixStream> {
    let (tx, rx) = mpsc::channel();
    let path = sock.to_owned();
    // A connect stuck on a full listen queue ends when the daemon does.
    thread::spawn(move || {
        let _ = tx.send(UnixStream::connect(path));
    });
    let mut s = rx.recv_timeout(TIMEOUT).expect("connect blocked: the listen queue is not drained").expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    if s.write_all(format!("echo\t{tag}\n").as_bytes()).is_err() {
        return None;
    }
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(0) => {
                assert!(line.is_empty(), "connection closed mid-line: {:?}", String::from_utf8_lossy(&line));
                return None;
            }
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => line.push(b[0]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset && line.is_empty() => return None,
            Err(e) => panic!("reading the echo of {tag}: {e}"),
        }
    }
    assert_eq!(String::from_utf8_lossy(&line), tag);
    Some(s)
}

/// The daemon's log line for a spell of refusals for lack of descriptors.
const EMFILE_LINE: &str =
    "error: control socket: accept: Too many open files: refusing new clients until descriptors are freed";

/// Waits (bounded) until the daemon holds `n` descriptors.
fn wait_fds(d: &Daemon, n: usize) {
    poll_until(&format!("the daemon to hold {n} descriptors"), || (fd_count(d.pid()) == n).then_some(()));
}

/// Clients use every descriptor: the next one is refused (accepted and
/// closed at once, with one log line), and once they all left a new client
/// is served. Before the fix, accepting stopped at the first EMFILE and the
/// listen queue was never drained again.
#[test]
fn clients_are_served_again_after_they_used_the_descriptors_up() {
    let dir = harness::tempdir();
    let (mut d, sock) = socket_daemon(dir.path(), 32, &[]);
    let baseline = fd_count(d.pid());
    let mut clients = Vec::new();
    loop {
        assert!(clients.len() < 32, "{} clients served under a limit of 32 descriptors", clients.len());
        match try_client(&sock, &format!("c{}", clients.len())) {
            Some(c) => clients.push(c),
            None => break,
        }
    }
    assert!(clients.len() > 5, "only {} clients served", clients.len());
    d.log.wait_for("the refusal", |l| l == EMFILE_LINE);
    // The daemon and the clients it serves carry on; a second refused
    // client is not logged again.
    assert_eq!(d.cmd("echo\tstill-here"), ["still-here"]);
    assert!(try_client(&sock, "refused-too").is_none());
    drop(clients);
    wait_fds(&d, baseline);
    let mut fresh = try_client(&sock, "fresh").expect("a client once descriptors were freed");
    d.log.wait_for("the end of the spell", |l| l == "info: control socket: accepting connections again (2 refused)");
    assert_eq!(d.log.seen.lock().unwrap().iter().filter(|l| *l == EMFILE_LINE).count(), 1);
    fresh.write_all(b"exit\n").unwrap();
    assert_eq!(fresh.read(&mut [0u8; 16]).unwrap(), 0);
    assert_eq!(d.wait(), Some(0));
}

/// `fd.pipe` and `fd.open` use the descriptors up: a client is refused;
/// `fd.delete` frees some and the next client is served. A client
/// connected before is served throughout.
#[test]
fn a_client_is_served_once_fd_delete_freed_descriptors() {
    let dir = harness::tempdir();
    let (mut d, sock) = socket_daemon(dir.path(), 32, &[]);
    let early = try_client(&sock, "early").expect("a client before the exhaustion");
    // It reads the broadcasts of what follows on a thread.
    let mut early = Client::from_stream(early);
    let mut pipes = 0;
    loop {
        assert!(pipes < 32, "{pipes} pipes under a limit of 32 descriptors");
        let out = d.cmd(&format!("fd.pipe\tp{pipes}.r\tp{pipes}.w"));
        if out.iter().any(|l| l.starts_with("error\t")) {
            break;
        }
        pipes += 1;
    }
    // A pipe needs two: the last descriptor may still be free.
    let mut files = 0;
    while d.cmd(&format!("fd.open\tf{files}\tread\t/dev/null")).iter().all(|l| !l.starts_with("error\t")) {
        files += 1;
        assert!(files < 2, "fd.open kept working");
    }
    assert!(pipes > 3, "only {pipes} pipes");
    assert!(try_client(&sock, "refused").is_none(), "a client was served with no descriptor left");
    d.log.wait_for("the refusal", |l| l == EMFILE_LINE);
    assert_eq!(early.cmd("echo\tearly-again").last().map(String::as_str), Some("early-again"));

    for i in 0..2 {
        d.send(&format!("fd.delete\tp{i}.r"));
        d.send(&format!("fd.delete\tp{i}.w"));
    }
    d.sync();
    assert!(try_client(&sock, "after-delete").is_some(), "no client served after fd.delete");
    d.log.wait_for("the end of the spell", |l| l == "info: control socket: accepting connections again (1 refused)");
}

/// `--max-connections 3`: the fourth and fifth clients are refused with one
/// log line; once a client has left, the next one is served.
#[test]
fn clients_beyond_max_connections_are_refused() {
    let dir = harness::tempdir();
    let (d, sock) = socket_daemon(dir.path(), 1024, &["--max-connections", "3"]);
    let mut served: Vec<UnixStream> =
        (0..3).map(|i| try_client(&sock, &format!("c{i}")).expect("within the limit")).collect();
    assert!(try_client(&sock, "fourth").is_none());
    assert!(try_client(&sock, "fifth").is_none());
    let limit = "warning: control socket: connection limit reached (3, --max-connections): refusing new clients";
    d.log.wait_for("the limit", |l| l == limit);
    // `exit`, then EOF: the daemon has closed that connection.
    let mut leaving = served.remove(0);
    leaving.write_all(b"exit\n").unwrap();
    assert_eq!(leaving.read(&mut [0u8; 16]).unwrap(), 0);
    assert!(try_client(&sock, "next").is_some(), "no client served after one left");
    d.log.wait_for("the end of the spell", |l| l == "info: control socket: accepting connections again (2 refused)");
    assert_eq!(d.log.seen.lock().unwrap().iter().filter(|l| *l == limit).count(), 1);
}

/// `-c FIFO` before any writer opened it: the config waits (the daemon
/// runs meanwhile); a writer that opens it later has its commands run,
/// and when it closes the FIFO the config ends normally.
#[test]
fn config_fifo_waits_for_its_writer() {
    let dir = harness::tempdir();
    let fifo = dir.path().join("config.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path and a mode.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let mut kills = KillGroups::default();
    let mut d = Daemon::interactive_clean(&["-v", "-c", fifo.to_str().unwrap()]);
    d.sync();
    // Still open for reading, with no writer: the config has not ended.
    let holds_fifo = |d: &Daemon| harness::proc_fds(d.pid()).values().any(|t| Path::new(t) == fifo);
    assert!(holds_fifo(&d), "the daemon dropped the config FIFO before any writer came");
    assert!(!d.log.seen.lock().unwrap().iter().any(|l| l.contains("destroying client 1")));

    // Opening without blocking works only with a reader at the other end.
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("the daemon reads the FIFO");
    let made = dir.path().join("made");
    let written = dir.path().join("written");
    writeln!(w, "fd.open\tf\twrite,create\t{}", made.display()).unwrap();
    d.out.wait_for("fd.state f", |l| l == format!("fd.state\tf\tfile\twrite,create\t{}", made.display()));
    assert!(made.exists());
    let script = format!("echo from-service > {}", written.display());
    writeln!(w, "service.args\tw\tsh\t-c\t{script}\nservice.start\tw").unwrap();
    let up = d.wait_state("w", "up");
    kills.add(fields(&up)[4].parse().unwrap());
    d.wait_state("w", "down");
    assert_eq!(std::fs::read_to_string(&written).unwrap(), "from-service\n");
    // The writer closes: the config ends, as at the end of a file.
    drop(w);
    d.log.wait_for("the config's end", |l| l == "debug: destroying client 1");
    poll_until("the daemon to close the FIFO", || (!holds_fifo(&d)).then_some(()));
    assert_eq!(d.cmd("echo\tstill-here"), ["still-here"]);
    assert_eq!(d.wait(), Some(0));
}
