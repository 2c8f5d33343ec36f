//! Named handles reaching real children: files, pipes, socketpairs,
//! listening sockets, descriptors passed with SCM_RIGHTS, inherited
//! descriptors, and the exact descriptor set a service receives (§8, §9.3,
//! §0 item 4).

use crate::harness::{self, fields, python3, Client, Daemon, KillGuard};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Sends a command and asserts it produced neither an error nor a warning.
fn ok(d: &mut Daemon, line: &str) -> Vec<String> {
    let r = d.cmd(line);
    assert!(!r.iter().any(|l| l.starts_with("error") || l.starts_with("warning")), "{line:?} failed: {r:?}");
    r
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Waits for NAME's `down` event and asserts it is `exit CODE`.
fn expect_exit(d: &Daemon, name: &str, code: i32) -> String {
    let down = d.wait_state(name, "down");
    let f = fields(&down);
    assert_eq!((f[5], f[6]), ("exit", code.to_string().as_str()), "{down}");
    down
}

/// A script that writes, into the file named by its argument, the
/// descriptors of its *parent* (the service's `sh`, which has exactly what
/// the daemon gave it and is waiting for python): `N TARGET` per line.
fn lister_script(dir: &Path) -> PathBuf {
    harness::write_file(
        dir,
        "lister.py",
        r#"import os, sys
d = '/proc/%d/fd' % os.getppid()
with open(sys.argv[1], 'w') as f:
    for n in sorted(os.listdir(d), key=int):
        try:
            t = os.readlink(d + '/' + n)
        except OSError:
            t = '?'
        f.write('%s %s\n' % (n, t))
"#,
    )
}

/// Starts service NAME (with descriptor list `fds`, or the default when
/// `None`) that records its own descriptors; returns number → target.
fn fds_seen_by_service(d: &mut Daemon, dir: &Path, name: &str, fds: Option<&str>) -> BTreeMap<i32, String> {
    let script = lister_script(dir);
    let out = dir.join(format!("{name}.fds"));
    ok(d, &format!("service.args\t{name}\tsh\t-c\t{} {} {}; exit 0", python3(), p(&script), p(&out)));
    if let Some(list) = fds {
        // Warnings for `-` entries are allowed (§16 row 8).
        let r = d.cmd(&format!("service.fds\t{name}{}{list}", if list.is_empty() { "" } else { "\t" }));
        assert!(r.contains(&format!("service.fds\t{name}\t{list}")), "{r:?}");
    }
    d.start_up(name);
    expect_exit(d, name, 0);
    let text = std::fs::read_to_string(&out).expect("lister output");
    text.lines()
        .map(|l| {
            let (n, t) = l.split_once(' ').expect("N TARGET");
            (n.parse().expect("fd number"), t.to_owned())
        })
        .collect()
}

/// A close-on-exec pipe created in the test process: (read, write).
fn pipe() -> (File, File) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2");
    // SAFETY: both descriptors were just created and are owned by nobody else.
    unsafe { (File::from(OwnedFd::from_raw_fd(fds[0])), File::from(OwnedFd::from_raw_fd(fds[1]))) }
}

/// Sends `data` with `fds` attached as SCM_RIGHTS ancillary data.
fn send_fds(sock: &UnixStream, data: &[u8], fds: &[RawFd]) {
    let payload = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(payload as u32) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    // SAFETY: an all-zero msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points to `space` writable bytes, enough for one
    // header carrying `payload` bytes; the pointers stay valid for the call.
    let sent = unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null());
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr() as *const u8, libc::CMSG_DATA(cmsg), payload);
        libc::sendmsg(sock.as_raw_fd(), &msg, 0)
    };
    assert_eq!(sent, data.len() as isize, "sendmsg: {}", std::io::Error::last_os_error());
}

/// Reads from `f` with a deadline and reports whether it hit EOF (true) or
/// got data (false). Panics if neither happens in time.
fn reaches_eof(f: &mut File) -> bool {
    let fd = f.as_raw_fd();
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, harness::TIMEOUT.as_millis() as i32) };
    assert_eq!(n, 1, "pipe never became readable");
    let mut buf = [0u8; 16];
    f.read(&mut buf).expect("read") == 0
}

/// Whether `f` is readable right now (data or EOF).
fn readable_now(f: &File) -> bool {
    let mut pfd = libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
}

fn read_timeout(s: &UnixStream) {
    s.set_read_timeout(Some(harness::TIMEOUT)).unwrap();
}

#[test]
fn fd_open_file_receives_a_childs_output() {
    let dir = harness::tempdir();
    let out = dir.path().join("out.txt");
    let mut d = Daemon::interactive(&[]);
    let r = ok(&mut d, &format!("fd.open\tout\twrite,create,trunc\t{}", p(&out)));
    assert_eq!(r, [format!("fd.state\tout\tfile\twrite,create,trunc\t{}", p(&out))]);
    ok(&mut d, "service.args\tw\tsh\t-c\techo x >&1");
    ok(&mut d, "service.fds\tw\tnull\tout\tstderr");
    d.start_up("w");
    expect_exit(&d, "w", 0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "x\n");

    // A file opened for reading feeds a service's stdin.
    let src = harness::write_file(dir.path(), "src.txt", "line one\nline two\n");
    let copy = dir.path().join("copy.txt");
    ok(&mut d, &format!("fd.open\tsrc\tread\t{}", p(&src)));
    ok(&mut d, &format!("fd.open\tcopy\twrite,create\t{}", p(&copy)));
    ok(&mut d, "service.args\tc\tcat");
    ok(&mut d, "service.fds\tc\tsrc\tcopy\tstderr");
    d.start_up("c");
    expect_exit(&d, "c", 0);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "line one\nline two\n");
}

#[test]
fn fd_pipe_connects_a_writer_service_to_a_reader_service() {
    let dir = harness::tempdir();
    let res = dir.path().join("res.txt");
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, &format!("fd.open\tres\twrite,create\t{}", p(&res)));
    let r = ok(&mut d, "fd.pipe\tp.r\tp.w");
    assert_eq!(r, ["fd.state\tp.r\tpipe\tfrom\tp.w", "fd.state\tp.w\tpipe\tto\tp.r"]);

    ok(&mut d, "service.args\treader\tcat");
    ok(&mut d, "service.fds\treader\tp.r\tres\tstderr");
    d.start_up("reader");
    ok(&mut d, "service.args\twriter\tsh\t-c\techo hello; echo world");
    ok(&mut d, "service.fds\twriter\tnull\tp.w\tstderr");
    d.start_up("writer");
    expect_exit(&d, "writer", 0);

    // The reader only sees EOF once the daemon's write end is gone too:
    // no other process may hold it (the reader must not have inherited it).
    // (The reader's `down` may already follow.)
    let r = ok(&mut d, "fd.delete\tp.w");
    assert_eq!(r[0], "fd.state\tp.w\tdeleted");
    expect_exit(&d, "reader", 0);
    assert_eq!(std::fs::read_to_string(&res).unwrap(), "hello\nworld\n");

    d.send("statedump");
    let dump = d.sync();
    assert!(dump.contains(&"fd.state\tp.r\tpipe\tfrom\t?".to_owned()), "{dump:#?}");
    assert!(!dump.iter().any(|l| l.starts_with("fd.state\tp.w\t")), "{dump:#?}");
}

#[test]
fn socketpair_is_bidirectional_between_two_services() {
    let dir = harness::tempdir();
    let res = dir.path().join("res.txt");
    let mut d = Daemon::interactive(&[]);
    let r = ok(&mut d, "fd.pipe\ta\tb\tunix,stream");
    assert_eq!(r, ["fd.state\ta\tpipe\tunix,stream,to\tb", "fd.state\tb\tpipe\tunix,stream,to\ta"]);
    ok(&mut d, &format!("fd.open\tres\twrite,create\t{}", p(&res)));
    ok(&mut d, "service.args\tsrv\tsh\t-c\tread l; echo \"pong $l\"");
    ok(&mut d, "service.fds\tsrv\ta\ta\tstderr");
    ok(&mut d, "service.args\tcli\tsh\t-c\techo ping >&0; read r; echo \"got $r\"");
    ok(&mut d, "service.fds\tcli\tb\tres\tstderr");
    d.start_up("srv");
    d.start_up("cli");
    // Both end, in either order.
    let mut downs = Vec::new();
    while downs.len() < 2 {
        let l = d.out.wait_for("down", |l| l.starts_with("service.state\t") && fields(l)[2] == "down");
        assert_eq!(fields(&l)[5..7], ["exit", "0"], "{l}");
        downs.push(fields(&l)[1].to_owned());
    }
    downs.sort();
    assert_eq!(downs, ["cli", "srv"]);
    assert_eq!(std::fs::read_to_string(&res).unwrap(), "got pong ping\n");
}

#[test]
fn nonblock_status_flag_is_visible_to_the_service() {
    let dir = harness::tempdir();
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "fd.pipe\tnb.r\tnb.w\tnonblock");
    ok(&mut d, "fd.pipe\tbl.r\tbl.w");
    let out = dir.path().join("fdinfo");
    ok(&mut d, &format!("fd.open\tout\twrite,create\t{}", p(&out)));
    // fd 0 = non-blocking pipe end, fd 3 = blocking pipe end.
    ok(&mut d, "service.args\ts\tsh\t-c\tgrep ^flags /proc/$$/fdinfo/0 /proc/$$/fdinfo/3");
    ok(&mut d, "service.fds\ts\tnb.r\tout\tstderr\tbl.r");
    d.start_up("s");
    expect_exit(&d, "s", 0);
    let text = std::fs::read_to_string(&out).unwrap();
    let flags = |fd: &str| -> u32 {
        let l = text.lines().find(|l| l.contains(&format!("fdinfo/{fd}:"))).unwrap_or_else(|| panic!("{text}"));
        u32::from_str_radix(l.rsplit('\t').next().unwrap().trim(), 8).unwrap()
    };
    assert_ne!(flags("0") & libc::O_NONBLOCK as u32, 0, "{text}");
    assert_eq!(flags("3") & libc::O_NONBLOCK as u32, 0, "{text}");
}

#[test]
fn fd_socket_unix_listener_is_accepted_on_by_a_service() {
    let dir = harness::tempdir();
    let path = dir.path().join("l.sock");
    let mut d = Daemon::interactive(&[]);
    let r = ok(&mut d, &format!("fd.socket\tlsn\tunix,listen\t{}", p(&path)));
    assert_eq!(r, [format!("fd.state\tlsn\tsocket\tunix,stream,bind,listen=32\t{}", p(&path))]);
    let script = harness::write_file(
        dir.path(),
        "srv.py",
        "import socket\ns = socket.socket(fileno=0)\nc, _ = s.accept()\nc.sendall(b'echo:' + c.recv(100))\nc.close()\n",
    );
    ok(&mut d, &format!("service.args\tsrv\t{}\t{}", python3(), p(&script)));
    ok(&mut d, "service.fds\tsrv\tlsn\tnull\tstderr");
    d.start_up("srv");
    let mut s = UnixStream::connect(&path).expect("connect to the service's socket");
    read_timeout(&s);
    s.write_all(b"hi").unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "echo:hi");
    expect_exit(&d, "srv", 0);
}

#[test]
fn fd_socket_tcp_listener_on_an_ephemeral_port_serves_through_a_service() {
    let dir = harness::tempdir();
    let port_file = dir.path().join("port");
    let mut d = Daemon::interactive(&[]);
    let r = ok(&mut d, "fd.socket\tt\ttcp,listen\t127.0.0.1");
    assert_eq!(r, ["fd.state\tt\tsocket\tinet,stream,bind,listen=32\t127.0.0.1"]);
    let script = harness::write_file(
        dir.path(),
        "srv.py",
        r#"import os, socket, sys
s = socket.socket(fileno=0)
with open(sys.argv[1] + '.tmp', 'w') as f:
    f.write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + '.tmp', sys.argv[1])
c, _ = s.accept()
c.sendall(b'tcp:' + c.recv(100))
c.close()
"#,
    );
    ok(&mut d, &format!("service.args\tsrv\t{}\t{}\t{}", python3(), p(&script), p(&port_file)));
    ok(&mut d, "service.fds\tsrv\tt\tnull\tstderr");
    let pid = d.start_up("srv");
    let _g = KillGuard(pid);
    let port: u16 = harness::poll_until("port file", || std::fs::read_to_string(&port_file).ok()?.parse().ok());
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(harness::TIMEOUT)).unwrap();
    s.write_all(b"yo").unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "tcp:yo");
    expect_exit(&d, "srv", 0);
}

#[test]
fn fd_take_registers_passed_descriptors_and_services_use_them() {
    let dir = harness::tempdir();
    let sock = dir.path().join("ctl.sock");
    let mut d = Daemon::interactive(&["-S", p(&sock)]);
    d.sync();
    let mut c = Client::connect(&sock);
    c.sync();

    let data = harness::write_file(dir.path(), "data.txt", "taken content\n");
    let f = File::open(&data).unwrap();
    send_fds(&c.stream, b"fd.take\tt.file\n", &[f.as_raw_fd()]);
    let want = "fd.state\tt.file\tfile\tread\tunknown";
    assert_eq!(c.sync(), [want]);
    d.out.wait_for("broadcast to the interactive controller", |l| l == want);

    let app = std::fs::OpenOptions::new().append(true).open(dir.path().join("data.txt")).unwrap();
    send_fds(&c.stream, b"fd.take\tt.app\n", &[app.as_raw_fd()]);
    assert_eq!(c.sync(), ["fd.state\tt.app\tfile\twrite,append\tunknown"]);

    let lpath = dir.path().join("taken.sock");
    let listener = UnixListener::bind(&lpath).unwrap();
    send_fds(&c.stream, b"fd.take\tt.sock\n", &[listener.as_raw_fd()]);
    assert_eq!(c.sync(), ["fd.state\tt.sock\tsocket\tunix,stream\tunknown"]);

    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    send_fds(&c.stream, b"fd.take\tt.tcp\n", &[tcp.as_raw_fd()]);
    assert_eq!(c.sync(), ["fd.state\tt.tcp\tsocket\tinet,stream\tunknown"]);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    send_fds(&c.stream, b"fd.take\tt.udp\n", &[udp.as_raw_fd()]);
    assert_eq!(c.sync(), ["fd.state\tt.udp\tsocket\tinet,dgram\tunknown"]);

    assert_eq!(
        c.cmd("fd.take\tnothing"),
        ["error\tNo ancillary file descriptor received, for command \"fd.take\tnothing\""]
    );
    // The same from the interactive controller (a pipe, not a socket).
    d.sync();
    assert_eq!(
        d.cmd("fd.take\tnothing"),
        ["error\tNo ancillary file descriptor received, for command \"fd.take\tnothing\""]
    );

    // Our copies are closed: only the daemon holds them now.
    drop((f, app, tcp, udp));

    // The taken file as a service's stdin.
    let copy = dir.path().join("copy.txt");
    ok(&mut d, &format!("fd.open\tcopy\twrite,create\t{}", p(&copy)));
    ok(&mut d, "service.args\tcat\tcat");
    ok(&mut d, "service.fds\tcat\tt.file\tcopy\tstderr");
    d.start_up("cat");
    expect_exit(&d, "cat", 0);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "taken content\n");

    // The taken listening socket accepted on by a service.
    let script = harness::write_file(
        dir.path(),
        "srv.py",
        "import socket\ns = socket.socket(fileno=0)\nc, _ = s.accept()\nc.sendall(b'via-take:' + c.recv(100))\nc.close()\n",
    );
    ok(&mut d, &format!("service.args\tsrv\t{}\t{}", python3(), p(&script)));
    ok(&mut d, "service.fds\tsrv\tt.sock\tnull\tstderr");
    let pid = d.start_up("srv");
    let _g = KillGuard(pid);
    drop(listener);
    let mut s = UnixStream::connect(&lpath).expect("connect to the taken socket");
    read_timeout(&s);
    s.write_all(b"x").unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert_eq!(got, "via-take:x");
    expect_exit(&d, "srv", 0);
}

#[test]
fn fd_take_queue_holds_two_descriptors_and_leftovers_are_closed() {
    let dir = harness::tempdir();
    let sock = dir.path().join("ctl.sock");
    let mut d = Daemon::interactive(&["-S", p(&sock)]);
    d.sync();
    let mut c = Client::connect(&sock);
    c.sync();
    let (mut r1, w1) = pipe();
    let (mut r2, w2) = pipe();
    let (mut r3, w3) = pipe();
    // Three descriptors with one command: the queue keeps two, the third
    // is closed at once.
    send_fds(&c.stream, b"echo\tthree\n", &[w1.as_raw_fd(), w2.as_raw_fd(), w3.as_raw_fd()]);
    assert_eq!(c.lines.next(), "three");
    drop((w1, w2, w3));
    d.log.wait_for("no room log line", |l| {
        l.strip_prefix("error: No room for ancillary file descriptor ").is_some_and(|n| n.parse::<i32>().is_ok())
    });
    assert!(reaches_eof(&mut r3), "third descriptor should have been closed");
    assert!(!readable_now(&r1) && !readable_now(&r2), "queued descriptors must stay open");

    // fd.take pops the oldest.
    assert_eq!(c.sync(), Vec::<String>::new());
    assert_eq!(c.cmd("fd.take\tx1"), ["fd.state\tx1\tfile\twrite\tunknown"]);
    // The leftover is closed when the client goes away.
    drop(c);
    d.log.wait_for("leftover log line", |l| l.starts_with("warning: closing leftover ancillary file descriptor "));
    assert!(reaches_eof(&mut r2), "leftover descriptor should have been closed");
    assert!(!readable_now(&r1), "taken descriptor must stay open");
    ok(&mut d, "fd.delete\tx1");
    assert!(reaches_eof(&mut r1), "deleted handle should be closed");
}

#[test]
fn inherited_descriptors_become_fd_n_handles_usable_by_services() {
    let dir = harness::tempdir();
    let data = harness::write_file(dir.path(), "data.txt", "inherited data\n");
    let app = harness::write_file(dir.path(), "app.txt", "");
    let rw = harness::write_file(dir.path(), "rw.txt", "");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(r#"exec "$0" -i 3<"$1" 4>>"$2" 5<>"$3""#).arg(harness::bin()).arg(&data).arg(&app).arg(&rw);
    let mut d = Daemon::spawn_interactive(harness::clean_fds(&mut cmd));
    d.send("statedump");
    let handles: Vec<String> = d.sync().into_iter().filter(|l| l.starts_with("fd.state\t")).collect();
    assert_eq!(
        handles,
        [
            "fd.state\tcontrol.cmd\tspecial\twrite\tdaemonproxy command pipe",
            "fd.state\tcontrol.event\tspecial\tread\tdaemonproxy event stream",
            "fd.state\tcontrol.socket\tspecial\tread,write\tdaemonproxy control socket",
            "fd.state\tfd_3\tfile\tread\tunknown",
            "fd.state\tfd_4\tfile\twrite,append\tunknown",
            "fd.state\tfd_5\tfile\tread,write\tunknown",
            "fd.state\tnull\tspecial\tread,write\t/dev/null",
            "fd.state\tstderr\tfile\twrite\tunknown",
            "fd.state\tstdin\tfile\tread\tunknown",
            "fd.state\tstdout\tfile\twrite\tunknown",
        ]
    );
    // A service reads the inherited file and writes to the inherited
    // append descriptor.
    ok(&mut d, "service.args\tcat\tcat");
    ok(&mut d, "service.fds\tcat\tfd_3\tfd_4\tstderr");
    d.start_up("cat");
    expect_exit(&d, "cat", 0);
    assert_eq!(std::fs::read_to_string(&app).unwrap(), "inherited data\n");
    // They are ordinary handles: deletable.
    assert_eq!(ok(&mut d, "fd.delete\tfd_5"), ["fd.state\tfd_5\tdeleted"]);
}

#[test]
fn default_descriptor_list_gives_exactly_0_1_2_on_dev_null() {
    let dir = harness::tempdir();
    let mut d = Daemon::interactive(&[]);
    let fds = fds_seen_by_service(&mut d, dir.path(), "def", None);
    let want: BTreeMap<i32, String> = (0..3).map(|n| (n, "/dev/null".to_owned())).collect();
    assert_eq!(fds, want);
}

#[test]
fn empty_descriptor_list_gives_no_descriptors_at_all() {
    let dir = harness::tempdir();
    let mut d = Daemon::interactive(&[]);
    let fds = fds_seen_by_service(&mut d, dir.path(), "none", Some(""));
    assert_eq!(fds, BTreeMap::new());
}

#[test]
fn dash_entries_leave_their_slots_closed() {
    let dir = harness::tempdir();
    let mut d = Daemon::interactive(&[]);
    let fds = fds_seen_by_service(&mut d, dir.path(), "gaps", Some("-\tnull\t-\tnull"));
    let want: BTreeMap<i32, String> = [(1, "/dev/null".to_owned()), (3, "/dev/null".to_owned())].into();
    assert_eq!(fds, want);
}

#[test]
fn missing_handle_at_start_aborts_the_child() {
    let mut d = Daemon::interactive(&[]);
    ok(&mut d, "service.args\tx\ttrue");
    let r = d.cmd("service.fds\tx\tnull\tnosuch\tstderr");
    assert_eq!(r, ["warning: fd \"nosuch\" is not yet defined", "service.fds\tx\tnull\tnosuch\tstderr"]);
    d.start_up("x");
    let down = d.wait_state("x", "down");
    let f = fields(&down);
    assert_eq!((f[5], f[6]), ("signal", "SIGABRT"), "{down}");
    d.log.wait_for("child error", |l| l == "error: file descriptor \"nosuch\" does not exist");

    // Same for a handle that existed when the list was set but was
    // deleted before the start.
    ok(&mut d, "fd.pipe\tgone.r\tgone.w");
    ok(&mut d, "service.fds\tx\tgone.r\tnull\tnull");
    ok(&mut d, "fd.delete\tgone.r");
    d.start_up("x");
    let down = d.wait_state("x", "down");
    assert_eq!(fields(&down)[5..7], ["signal", "SIGABRT"], "{down}");
    d.log.wait_for("child error", |l| l == "error: file descriptor \"gone.r\" does not exist");
}

/// THE KEY TEST (§0 item 4): with the daemon holding many descriptors of
/// every kind, some numbered far above 1023, a child sees exactly the
/// descriptors of its list and nothing else.
#[test]
fn child_sees_exactly_its_descriptors_while_the_daemon_holds_many_above_1024() {
    let dir = harness::tempdir();
    let sock = dir.path().join("ctl.sock");
    // Fill 3..=1099 (and 1500) with inherited /dev/null descriptors, so
    // every descriptor the daemon opens itself is numbered 1100 or more.
    let wrapper = harness::write_file(
        dir.path(),
        "wrap.py",
        r#"import os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
lim = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
resource.setrlimit(resource.RLIMIT_NOFILE, (lim, hard))
fd = os.open('/dev/null', os.O_RDONLY)
for n in list(range(3, 1100)) + [1500]:
    if n != fd:
        os.dup2(fd, n)
os.set_inheritable(fd, True)
os.execv(sys.argv[1], sys.argv[1:])
"#,
    );
    let mut cmd = Command::new(python3());
    cmd.arg(&wrapper).arg(harness::bin()).arg("-i").arg("-S").arg(&sock);
    let mut d = Daemon::spawn_interactive(harness::clean_fds(&mut cmd));
    d.sync();
    let fds = harness::proc_fds(d.pid());
    assert!(fds.contains_key(&1500) && fds.contains_key(&1099), "wrapper did not set up descriptors");
    assert!(fds.keys().any(|&n| n >= 1100 && n != 1500), "the daemon's own descriptors should be >= 1100: {fds:?}");

    // Handles of every kind, a control.* connection and a socket client.
    let file = dir.path().join("f.txt");
    ok(&mut d, &format!("fd.open\tf\twrite,create\t{}", p(&file)));
    ok(&mut d, "fd.pipe\tp.r\tp.w");
    ok(&mut d, "fd.pipe\tsp1\tsp2\tunix,stream");
    ok(&mut d, &format!("fd.socket\tls\tunix,listen\t{}", p(&dir.path().join("ls.sock"))));
    ok(&mut d, "fd.socket\tus\tudp\t127.0.0.1");
    ok(&mut d, "service.args\tctl\tsleep\t60");
    ok(&mut d, "service.fds\tctl\tcontrol.socket\tnull\tnull");
    let ctl_pid = d.start_up("ctl");
    let _g = KillGuard(ctl_pid);
    let mut client = Client::connect(&sock);
    client.sync();
    let daemon_fds = harness::proc_fds(d.pid());
    let own_high = daemon_fds.iter().filter(|(&n, _)| n >= 1100 && n != 1500).count();
    assert!(own_high >= 8, "expected many daemon descriptors >= 1100: {daemon_fds:?}");

    let fds = fds_seen_by_service(&mut d, dir.path(), "lister", Some("null\tf\tstderr\t-\tp.r\tsp2"));
    assert_eq!(fds.keys().copied().collect::<Vec<_>>(), [0, 1, 2, 4, 5], "{fds:#?}");
    assert_eq!(fds[&0], "/dev/null");
    assert_eq!(fds[&1], p(&file));
    assert!(fds[&4].starts_with("pipe:"), "{fds:#?}");
    assert!(fds[&5].starts_with("socket:"), "{fds:#?}");

    let fds = fds_seen_by_service(&mut d, dir.path(), "plain", None);
    let want: BTreeMap<i32, String> = (0..3).map(|n| (n, "/dev/null".to_owned())).collect();
    assert_eq!(fds, want);

    // An inherited fd_N is passed only when listed.
    let fds = fds_seen_by_service(&mut d, dir.path(), "inh", Some("fd_1000"));
    let want: BTreeMap<i32, String> = [(0, "/dev/null".to_owned())].into();
    assert_eq!(fds, want);

    d.send("service.signal\tctl\tKILL");
    d.wait_state("ctl", "down");
}
