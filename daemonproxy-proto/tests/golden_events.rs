//! Golden tests for every event form of protocol.md §4 (docs/protocol.md),
//! both directions:
//! `encode` gives the exact bytes and `parse` gives the value back.
//! Malformed event lines are `Err(InvalidEvent)`; lines that do not start
//! with an event name are `Event::Echo`. Two transcripts, an interactive
//! session and a statedump, are replayed line by line; then the
//! extensions' events.

use daemonproxy_proto::{
    Command, Domain, EnvList, Event, ExitReason, FdInfo, Groups, InvalidEvent, LogLevel, Name, NotifyFields,
    NotifyMode, OpenFlags, PipeFlags, Rlimits, ServiceState, Signal, SockType, SocketFlags, Special, Triggers, Umask,
    UserIds,
};

fn n(s: &str) -> Name<'_> {
    Name::from_text(s).unwrap_or_else(|| panic!("{s:?} is a valid name"))
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn encoded(ev: &Event<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    ev.encode(&mut out);
    out
}

/// `ev` encodes to exactly `line` + LF and `line` parses to `ev`.
fn both_ways(line: &[u8], ev: Event<'_>) {
    let mut want = line.to_vec();
    want.push(b'\n');
    assert_eq!(show(&encoded(&ev)), show(&want), "encode of {ev:?}");
    assert_eq!(Event::parse(line), Ok(ev), "parse of {:?}", show(line));
}

fn both_ways_all(rows: &[(&[u8], Event<'_>)]) {
    for &(line, ev) in rows {
        both_ways(line, ev);
    }
}

/// Every line is rejected as a malformed `event`.
fn malformed(event: &'static str, lines: &[&[u8]]) {
    for &line in lines {
        assert_eq!(Event::parse(line), Err(InvalidEvent { event }), "parse of {:?}", show(line));
    }
}

// ------------------------------------------------------------------- protocol.md §4.1

#[test]
fn service_state_all_states() {
    let st = |name, state| Event::ServiceState { name: n(name), state };
    both_ways_all(&[
        (b"service.state\tfoo\tdown\t-\t-\t-\t-\t-\t-", st("foo", ServiceState::Down)),
        (b"service.state\tfoo\tstart\t695\t-\t-\t-\t-\t-", st("foo", ServiceState::Start { at: 695 })),
        (
            b"service.state\tfoo\tup\t695\t14268\t-\t-\t0\t-",
            st("foo", ServiceState::Up { since: 695, pid: 14268, uptime: 0 }),
        ),
        (
            b"service.state\tfoo\tdown\t699\t14268\tsignal\tSIGTERM\t4\t0",
            st(
                "foo",
                ServiceState::Exited {
                    at: 699,
                    pid: 14268,
                    reason: ExitReason::Signal(Signal::TERM),
                    uptime: 4,
                    downtime: 0,
                },
            ),
        ),
        (
            b"service.state\tbad\tdown\t726\t14364\texit\t3\t0\t0",
            st(
                "bad",
                ServiceState::Exited { at: 726, pid: 14364, reason: ExitReason::Exit(3), uptime: 0, downtime: 0 },
            ),
        ),
        (b"service.state\tfoo\tdeleted\t-\t-\t-\t-\t-\t-", st("foo", ServiceState::Deleted)),
        // Exit status bounds.
        (
            b"service.state\tx\tdown\t1\t2\texit\t255\t3\t4",
            st("x", ServiceState::Exited { at: 1, pid: 2, reason: ExitReason::Exit(255), uptime: 3, downtime: 4 }),
        ),
        (
            b"service.state\tx\tdown\t1\t2\texit\t0\t3\t4",
            st("x", ServiceState::Exited { at: 1, pid: 2, reason: ExitReason::Exit(0), uptime: 3, downtime: 4 }),
        ),
        // Preferred names (protocol.md, appendix).
        (
            b"service.state\tx\tdown\t1\t2\tsignal\tSIGABRT\t3\t4",
            st(
                "x",
                ServiceState::Exited {
                    at: 1,
                    pid: 2,
                    reason: ExitReason::Signal(Signal::ABRT),
                    uptime: 3,
                    downtime: 4,
                },
            ),
        ),
        (
            b"service.state\tx\tdown\t1\t2\tsignal\tSIGIO\t3\t4",
            st(
                "x",
                ServiceState::Exited {
                    at: 1,
                    pid: 2,
                    reason: ExitReason::Signal(Signal::from_number(29)),
                    uptime: 3,
                    downtime: 4,
                },
            ),
        ),
        // `SIG-?` parses back as signal 0.
        (
            b"service.state\tx\tdown\t10\t5\tsignal\tSIG-?\t1\t2",
            st(
                "x",
                ServiceState::Exited {
                    at: 10,
                    pid: 5,
                    reason: ExitReason::Signal(Signal::from_number(0)),
                    uptime: 1,
                    downtime: 2,
                },
            ),
        ),
        (
            b"service.state\tx\tup\t18446744073709551615\t4294967295\t-\t-\t18446744073709551615\t-",
            st("x", ServiceState::Up { since: u64::MAX, pid: u32::MAX, uptime: u64::MAX }),
        ),
        (b"service.state\tn.n-n_9\tstart\t0\t-\t-\t-\t-\t-", st("n.n-n_9", ServiceState::Start { at: 0 })),
    ]);
    // Signals without a name print `SIG-?` (and read back as 0).
    for num in [32u16, 40, 64, 65535] {
        let ev = st(
            "x",
            ServiceState::Exited {
                at: 10,
                pid: 5,
                reason: ExitReason::Signal(Signal::from_number(num)),
                uptime: 1,
                downtime: 2,
            },
        );
        assert_eq!(encoded(&ev), b"service.state\tx\tdown\t10\t5\tsignal\tSIG-?\t1\t2\n");
    }
}

#[test]
fn service_state_malformed() {
    malformed(
        "service.state",
        &[
            b"service.state",
            b"service.state\t",
            b"service.state\tfoo",
            b"service.state\tfoo\tup",
            b"service.state\tbad name\tdown\t-\t-\t-\t-\t-\t-",
            b"service.state\t\tdown\t-\t-\t-\t-\t-\t-",
            b"service.state\tfoo\tdown\t-\t-\t-\t-\t-",
            b"service.state\tfoo\tdown\t-\t-\t-\t-\t-\t-\t-",
            b"service.state\tfoo\tdown\t-\t-\t-\t-\t-\t-\t",
            b"service.state\tfoo\tdeleted\t1\t-\t-\t-\t-\t-",
            b"service.state\tfoo\trunning\t695\t-\t-\t-\t-\t-",
            b"service.state\tfoo\tDown\t-\t-\t-\t-\t-\t-",
            b"service.state\tfoo\tstart\tx\t-\t-\t-\t-\t-",
            b"service.state\tfoo\tstart\t695\t-\t-\t-\t-",
            b"service.state\tfoo\tstart\t695\t-\t-\t-\t-\t-\textra",
            b"service.state\tfoo\tstart\t-1\t-\t-\t-\t-\t-",
            b"service.state\tfoo\tup\t695\t14268\t-\t-\t0",
            b"service.state\tfoo\tup\t695\t14268\t-\t-\t0\t-\t",
            b"service.state\tfoo\tup\t695\t-\t-\t-\t0\t-",
            b"service.state\tfoo\tup\t695\t4294967296\t-\t-\t0\t-",
            b"service.state\tfoo\tup\t695\t14268\tx\t-\t0\t-",
            b"service.state\tfoo\tdown\t699\t14268\texit\t256\t0\t0",
            b"service.state\tfoo\tdown\t699\t14268\texit\t-1\t0\t0",
            b"service.state\tfoo\tdown\t699\t14268\texit\t3\t0",
            b"service.state\tfoo\tdown\t699\t14268\tkilled\t9\t4\t0",
            b"service.state\tfoo\tdown\t699\t14268\tsignal\t15\t4\t0",
            b"service.state\tfoo\tdown\t699\t14268\tsignal\tTERM\t4\t0",
            b"service.state\tfoo\tdown\t699\t14268\tsignal\tSIGIOT\t4\t0",
            b"service.state\tfoo\tdown\t699\t14268\tsignal\tSIGSIGTERM\t4\t0",
            b"service.state\tfoo\tdown\t699\t14268\tsignal\tSIGFOO\t4\t0",
            b"service.state\tfoo\tdown\t699\t14268\tsignal\tSIGTERM\t-\t0",
        ],
    );
    assert_eq!(InvalidEvent { event: "service.state" }.to_string(), "malformed service.state event");
}

// ------------------------------------------------------------------- protocol.md §4.2

#[test]
fn service_args_tags_fds() {
    both_ways_all(&[
        (b"service.args\tfoo\tsleep\t30", Event::ServiceArgs { name: n("foo"), args: b"sleep\t30" }),
        // A cleared list still has the TAB after NAME.
        (b"service.args\tfoo\t", Event::ServiceArgs { name: n("foo"), args: b"" }),
        (b"service.args\tfoo\t\ta\t", Event::ServiceArgs { name: n("foo"), args: b"\ta\t" }),
        (b"service.tags\tfoo\t", Event::ServiceTags { name: n("foo"), tags: b"" }),
        (b"service.tags\tfoo\tweb\tprod", Event::ServiceTags { name: n("foo"), tags: b"web\tprod" }),
        (b"service.fds\tfoo\tnull\tnull\tnull", Event::ServiceFds { name: n("foo"), fds: b"null\tnull\tnull" }),
        // An empty list (no descriptors at all).
        (b"service.fds\tfoo\t", Event::ServiceFds { name: n("foo"), fds: b"" }),
        (
            b"service.fds\tcontroller\tcontrol.event\tcontrol.cmd\tstderr",
            Event::ServiceFds { name: n("controller"), fds: b"control.event\tcontrol.cmd\tstderr" },
        ),
        (b"service.fds\tfoo\t-\t\tlog.w", Event::ServiceFds { name: n("foo"), fds: b"-\t\tlog.w" }),
    ]);
    for event in ["service.args", "service.tags", "service.fds"] {
        let lines: Vec<Vec<u8>> = ["", "\t", "\tfoo", "\tbad name\tx", "\t\tx", "\tfoo\r\tx"]
            .iter()
            .map(|tail| format!("{event}{tail}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        malformed(event, &refs);
    }
}

/// The events a daemon sends after each `service.*` command come straight
/// from the parsed command's fields.
#[test]
fn service_events_from_commands() {
    let Ok(Command::ServiceArgs { name, args }) = Command::parse(b"service.args\tfoo") else { panic!() };
    assert_eq!(encoded(&Event::ServiceArgs { name, args }), b"service.args\tfoo\t\n");
    let Ok(Command::ServiceFds { name, fds }) = Command::parse(b"service.fds\tfoo") else { panic!() };
    assert_eq!(encoded(&Event::ServiceFds { name, fds: fds.raw() }), b"service.fds\tfoo\t\n");
    let Ok(Command::ServiceAutoUp { name, interval, triggers }) = Command::parse(b"service.auto_up\tfoo\t5\t\talways")
    else {
        panic!()
    };
    let ev = Event::ServiceAutoUp { name, auto_up: Some((interval.unwrap(), triggers)) };
    assert_eq!(encoded(&ev), b"service.auto_up\tfoo\t5\t\talways\n");
}

// ------------------------------------------------------------------- protocol.md §4.2

#[test]
fn service_auto_up_both_forms() {
    let t = |raw: &'static [u8]| Triggers::new(raw).unwrap();
    both_ways_all(&[
        (b"service.auto_up\tfoo\t-", Event::ServiceAutoUp { name: n("foo"), auto_up: None }),
        (b"service.auto_up\tfoo\t5\talways", Event::ServiceAutoUp { name: n("foo"), auto_up: Some((5, t(b"always"))) }),
        (
            b"service.auto_up\tfoo\t5\tSIGUSR1\tUSR2",
            Event::ServiceAutoUp { name: n("foo"), auto_up: Some((5, t(b"SIGUSR1\tUSR2"))) },
        ),
        // Never set: interval 0.
        (b"service.auto_up\tbar\t0\tSIGHUP", Event::ServiceAutoUp { name: n("bar"), auto_up: Some((0, t(b"SIGHUP"))) }),
        // The raw text, empty fields included.
        (
            b"service.auto_up\tfoo\t5\t\talways",
            Event::ServiceAutoUp { name: n("foo"), auto_up: Some((5, t(b"\talways"))) },
        ),
        (
            b"service.auto_up\tfoo\t2147483647\tSIGKILL\tIOT",
            Event::ServiceAutoUp { name: n("foo"), auto_up: Some((2147483647, t(b"SIGKILL\tIOT"))) },
        ),
    ]);
    malformed(
        "service.auto_up",
        &[
            b"service.auto_up",
            b"service.auto_up\tfoo",
            b"service.auto_up\tfoo\t",
            b"service.auto_up\tfoo\t-\t",
            b"service.auto_up\tfoo\t-\talways",
            b"service.auto_up\tfoo\t5",
            b"service.auto_up\tfoo\tx\talways",
            b"service.auto_up\tfoo\t-5\talways",
            b"service.auto_up\tfoo\t4294967296\talways",
            b"service.auto_up\tfoo\t5\tbogus",
            b"service.auto_up\tfoo\t5\t15",
            b"service.auto_up\tbad name\t-",
        ],
    );
}

// ------------------------------------------------------------------- protocol.md §4.3

#[test]
fn fd_state_from_fd_open() {
    let file = |name, flags: &[u8], description| Event::FdState {
        name: n(name),
        info: FdInfo::File { flags: OpenFlags::parse(flags).unwrap(), description },
    };
    both_ways_all(&[
        (b"fd.state\tf3\tfile\tread,write,append\t/srv/a.txt", file("f3", b"read,write,append", b"/srv/a.txt")),
        (b"fd.state\tx\tfile\tread,create\t/srv/z", file("x", b"read,create", b"/srv/z")),
        (b"fd.state\tx\tfile\tread\t/p", file("x", b"read", b"/p")),
        (b"fd.state\tx\tfile\twrite\t/p", file("x", b"write", b"/p")),
        (
            b"fd.state\tx\tfile\twrite,append,create,trunc,nonblock,mkdir\t/p",
            file("x", b"write,append,create,trunc,nonblock,mkdir", b"/p"),
        ),
        (
            b"fd.state\tx\tfile\tread,write,append,create,trunc,nonblock,mkdir\t/p",
            file("x", b"read,write,append,create,trunc,nonblock,mkdir", b"/p"),
        ),
        // Truncated in pool mode, or empty.
        (b"fd.state\tx\tfile\tread\t/very/long/pa...", file("x", b"read", b"/very/long/pa...")),
        (b"fd.state\tx\tfile\tread\t", file("x", b"read", b"")),
    ]);
    // The event for a parsed `fd.open` (protocol.md §3.4 examples).
    for (cmd, event) in [
        (
            &b"fd.open\tf3\twrite,read,,append\t/srv/a.txt"[..],
            &b"fd.state\tf3\tfile\tread,write,append\t/srv/a.txt\n"[..],
        ),
        (b"fd.open\tx\tcreate\t/srv/z", b"fd.state\tx\tfile\tread,create\t/srv/z\n"),
        (b"fd.open\tx\t\t/p", b"fd.state\tx\tfile\tread\t/p\n"),
    ] {
        let Ok(Command::FdOpen { name, flags, path }) = Command::parse(cmd) else { panic!() };
        let ev = Event::FdState { name, info: FdInfo::File { flags, description: path } };
        assert_eq!(show(&encoded(&ev)), show(event));
        assert_eq!(Event::parse(&event[..event.len() - 1]), Ok(ev));
    }
}

#[test]
fn fd_state_inherited_and_taken() {
    let file = |name, flags: &[u8]| Event::FdState {
        name: n(name),
        info: FdInfo::File { flags: OpenFlags::parse(flags).unwrap(), description: b"unknown" },
    };
    let sock = |name, flags: SocketFlags| Event::FdState {
        name: n(name),
        info: FdInfo::Socket { flags, description: b"unknown" },
    };
    let inet = SocketFlags { domain: Domain::Inet, ..SocketFlags::default() };
    both_ways_all(&[
        (b"fd.state\tstdin\tfile\tread\tunknown", file("stdin", b"read")),
        (b"fd.state\tstdout\tfile\twrite\tunknown", file("stdout", b"write")),
        (b"fd.state\tstderr\tfile\twrite\tunknown", file("stderr", b"write")),
        (b"fd.state\ttaken1\tfile\tread\tunknown", file("taken1", b"read")),
        (b"fd.state\tfd_5\tfile\tread,write,append,nonblock\tunknown", file("fd_5", b"read,write,append,nonblock")),
        (b"fd.state\ttcpl\tsocket\tinet,stream\tunknown", sock("tcpl", inet)),
        (
            b"fd.state\tfd_3\tsocket\tinet6,dgram,nonblock\tunknown",
            sock("fd_3", SocketFlags { domain: Domain::Inet6, ty: SockType::Dgram, nonblock: true, ..inet }),
        ),
        (
            b"fd.state\tfd_4\tsocket\tunix,seqpacket\tunknown",
            sock("fd_4", SocketFlags { ty: SockType::Seqpacket, ..SocketFlags::default() }),
        ),
    ]);
}

#[test]
fn fd_state_pipes_and_socketpairs() {
    let pipe = |name, nonblock, socket, read_end, peer: Option<&'static str>| Event::FdState {
        name: n(name),
        info: FdInfo::Pipe { flags: PipeFlags { nonblock, socket }, read_end, peer: peer.map(n) },
    };
    let ud = Some((Domain::Unix, SockType::Dgram));
    both_ways_all(&[
        (b"fd.state\tlog.r\tpipe\tfrom\tlog.w", pipe("log.r", false, None, true, Some("log.w"))),
        (b"fd.state\tlog.w\tpipe\tto\tlog.r", pipe("log.w", false, None, false, Some("log.r"))),
        (b"fd.state\tr\tpipe\tnonblock,from\tw", pipe("r", true, None, true, Some("w"))),
        (b"fd.state\tw\tpipe\tnonblock,to\tr", pipe("w", true, None, false, Some("r"))),
        // The peer was deleted or replaced.
        (b"fd.state\tr\tpipe\tfrom\t?", pipe("r", false, None, true, None)),
        (b"fd.state\tw\tpipe\tnonblock,to\t?", pipe("w", true, None, false, None)),
        // Socketpairs: both ends `to`.
        (b"fd.state\ts1\tpipe\tunix,dgram,to\ts2", pipe("s1", false, ud, false, Some("s2"))),
        (b"fd.state\ts2\tpipe\tunix,dgram,to\ts1", pipe("s2", false, ud, false, Some("s1"))),
        (
            b"fd.state\ts1\tpipe\tunix,seqpacket,nonblock,to\t?",
            pipe("s1", true, Some((Domain::Unix, SockType::Seqpacket)), false, None),
        ),
        (
            b"fd.state\ts1\tpipe\tinet6,stream,to\ts2",
            pipe("s1", false, Some((Domain::Inet6, SockType::Stream)), false, Some("s2")),
        ),
    ]);
    // The read end of a socketpair prints `to` as well.
    assert_eq!(encoded(&pipe("s1", false, ud, true, Some("s2"))), b"fd.state\ts1\tpipe\tunix,dgram,to\ts2\n");
    // The two events for a parsed `fd.pipe` (protocol.md §3.4 examples), read end first.
    for (cmd, events) in [
        (&b"fd.pipe\tlog.r\tlog.w"[..], &b"fd.state\tlog.r\tpipe\tfrom\tlog.w\nfd.state\tlog.w\tpipe\tto\tlog.r\n"[..]),
        (b"fd.pipe\tr\tw\tnonblock", b"fd.state\tr\tpipe\tnonblock,from\tw\nfd.state\tw\tpipe\tnonblock,to\tr\n"),
        (
            b"fd.pipe\ts1\ts2\tunix,dgram",
            b"fd.state\ts1\tpipe\tunix,dgram,to\ts2\nfd.state\ts2\tpipe\tunix,dgram,to\ts1\n",
        ),
    ] {
        let Ok(Command::FdPipe { read, write, flags }) = Command::parse(cmd) else { panic!() };
        let mut out = Vec::new();
        Event::FdState { name: read, info: FdInfo::Pipe { flags, read_end: true, peer: Some(write) } }.encode(&mut out);
        Event::FdState { name: write, info: FdInfo::Pipe { flags, read_end: false, peer: Some(read) } }
            .encode(&mut out);
        assert_eq!(show(&out), show(events));
    }
}

#[test]
fn fd_state_sockets() {
    // Five `fd.socket` forms (protocol.md §3.4), from the parsed commands.
    for (cmd, event) in [
        (&b"fd.socket\tfd1\tunix"[..], &b"fd.state\tfd1\tsocket\tunix,stream\t"[..]),
        (b"fd.socket\tk\tunix,nonblock,mkdir\t/a/b/c", b"fd.state\tk\tsocket\tunix,stream,bind,mkdir,nonblock\t/a/b/c"),
        (b"fd.socket\tfd2\ttcp,listen=11\t*:11203", b"fd.state\tfd2\tsocket\tinet,stream,bind,listen=11\t*:11203"),
        (b"fd.socket\tfd3\tudp\t127.0.0.1:10203", b"fd.state\tfd3\tsocket\tinet,dgram,bind\t127.0.0.1:10203"),
        (b"fd.socket\tk\ttcp,listen\t127.0.0.1", b"fd.state\tk\tsocket\tinet,stream,bind,listen=32\t127.0.0.1"),
    ] {
        let Ok(Command::FdSocket { name, flags, addr }) = Command::parse(cmd) else { panic!() };
        let ev =
            Event::FdState { name, info: FdInfo::Socket { flags, description: addr.map_or(&b""[..], |a| a.text) } };
        both_ways(event, ev);
    }
}

#[test]
fn fd_state_special_and_deleted() {
    both_ways_all(&[
        (
            b"fd.state\tnull\tspecial\tread,write\t/dev/null",
            Event::FdState { name: n("null"), info: FdInfo::Special(Special::Null) },
        ),
        (
            b"fd.state\tcontrol.cmd\tspecial\twrite\tdaemonproxy command pipe",
            Event::FdState { name: n("control.cmd"), info: FdInfo::Special(Special::ControlCmd) },
        ),
        (
            b"fd.state\tcontrol.event\tspecial\tread\tdaemonproxy event stream",
            Event::FdState { name: n("control.event"), info: FdInfo::Special(Special::ControlEvent) },
        ),
        (
            b"fd.state\tcontrol.socket\tspecial\tread,write\tdaemonproxy control socket",
            Event::FdState { name: n("control.socket"), info: FdInfo::Special(Special::ControlSocket) },
        ),
        (b"fd.state\tx\tdeleted", Event::FdState { name: n("x"), info: FdInfo::Deleted }),
        (b"fd.state\tlog.r\tdeleted", Event::FdState { name: n("log.r"), info: FdInfo::Deleted }),
    ]);
    for s in Special::ALL {
        assert_eq!(Special::from_name(s.name().as_bytes()), Some(s));
    }
    assert_eq!(Special::from_name(b"stdin"), None);
}

#[test]
fn fd_state_malformed() {
    malformed(
        "fd.state",
        &[
            b"fd.state",
            b"fd.state\tx",
            b"fd.state\tx\t",
            b"fd.state\tbad name\tdeleted",
            b"fd.state\tx\tdeleted\t",
            b"fd.state\tx\tdeleted\textra",
            b"fd.state\tx\tDeleted",
            b"fd.state\tx\tdirectory\tread\t/p",
            // file
            b"fd.state\tx\tfile\tread",
            b"fd.state\tx\tfile\t\t/p",
            b"fd.state\tx\tfile\twrite,read\t/p",
            b"fd.state\tx\tfile\tread,,write\t/p",
            b"fd.state\tx\tfile\tappend\t/p",
            b"fd.state\tx\tfile\tread,bogus\t/p",
            b"fd.state\tx\tfile\tread,trunc,create\t/p",
            b"fd.state\tx\tfile\tread\t/p\textra",
            // pipe
            b"fd.state\tx\tpipe\tfrom",
            b"fd.state\tx\tpipe\t\ty",
            b"fd.state\tx\tpipe\tnonblock\ty",
            b"fd.state\tx\tpipe\tfrom,nonblock\ty",
            b"fd.state\tx\tpipe\tread\ty",
            b"fd.state\tx\tpipe\tfrom\tbad name",
            b"fd.state\tx\tpipe\tfrom\t",
            b"fd.state\tx\tpipe\tunix,dgram,from\ty",
            b"fd.state\tx\tpipe\tdgram,unix,to\ty",
            b"fd.state\tx\tpipe\tunix,to\ty",
            b"fd.state\tx\tpipe\tnonblock,unix,dgram,to\ty",
            b"fd.state\tx\tpipe\tnonblock,nonblock,to\ty",
            // socket
            b"fd.state\tx\tsocket\tunix\t",
            b"fd.state\tx\tsocket\tstream,unix\t",
            b"fd.state\tx\tsocket\tunix,stream,listen=5\t/p",
            b"fd.state\tx\tsocket\tunix,stream,nonblock,mkdir\t/p",
            b"fd.state\tx\tsocket\ttcp\t",
            b"fd.state\tx\tsocket\tunix,stream,bind,listen=0\t/p",
            b"fd.state\tx\tsocket\tunix,stream",
            // special
            b"fd.state\tnull\tspecial\tread\t/dev/null",
            b"fd.state\tnull\tspecial\tread,write\t/dev/zero",
            b"fd.state\tx\tspecial\twrite",
        ],
    );
}

// ------------------------------------------------------------------- protocol.md §4.4

#[test]
fn signal_events() {
    both_ways_all(&[
        (b"signal\tSIGUSR2\t847\t2", Event::Signal { signal: Signal::USR2, at: 847, count: 2 }),
        (b"signal\tSIGHUP\t846\t1", Event::Signal { signal: Signal::HUP, at: 846, count: 1 }),
        (b"signal\tSIGINT\t0\t1", Event::Signal { signal: Signal::INT, at: 0, count: 1 }),
        (b"signal\tSIGQUIT\t5\t0", Event::Signal { signal: Signal::QUIT, at: 5, count: 0 }),
        (b"signal\tSIG-?\t5\t1", Event::Signal { signal: Signal::from_number(0), at: 5, count: 1 }),
    ]);
    malformed(
        "signal",
        &[
            b"signal",
            b"signal\t",
            b"signal\tUSR2\t847\t2",
            b"signal\tSIGUSR2\t847",
            b"signal\tSIGUSR2\t847\t2\t9",
            b"signal\tSIGUSR2\t847\t2\t",
            b"signal\tSIGUSR2\t-1\t2",
            b"signal\tSIGUSR2\t847\tx",
            b"signal\tSIGIOT\t1\t1",
            b"signal\tSIGCLD\t1\t1",
            b"signal\t12\t1\t1",
            b"signal\tsigusr2\t1\t1",
        ],
    );
}

// ------------------------------------------------------------------- protocol.md §4.5

#[test]
fn error_events() {
    both_ways_all(&[
        (
            b"error\tNo such service, for command \"service.delete\tnosuch\"",
            Event::Error { message: b"No such service, for command \"service.delete\tnosuch\"" },
        ),
        (b"error\tUnknown command: bogus", Event::Error { message: b"Unknown command: bogus" }),
        (b"error\tUnknown command: ", Event::Error { message: b"Unknown command: " }),
        (b"error\tline too long", Event::Error { message: b"line too long" }),
        (
            b"error\tunknown flag \"bogus\", for command \"fd.open\tf1\tbogus\t/srv/data/log...\"",
            Event::Error { message: b"unknown flag \"bogus\", for command \"fd.open\tf1\tbogus\t/srv/data/log...\"" },
        ),
        (
            b"error\tservice foo: exec \"/no/such\" failed: No such file or directory",
            Event::Error { message: b"service foo: exec \"/no/such\" failed: No such file or directory" },
        ),
        (b"error\t", Event::Error { message: b"" }),
    ]);
    malformed("error", &[b"error"]);
}

// ------------------------------------------------------------------- protocol.md §4.5

#[test]
fn warning_events() {
    both_ways_all(&[
        (b"warning: fd \"log.w\" is not yet defined", Event::FdNotYetDefined { entry: b"log.w" }),
        (b"warning: fd \"-\" is not yet defined", Event::FdNotYetDefined { entry: b"-" }),
        (b"warning: fd \"\" is not yet defined", Event::FdNotYetDefined { entry: b"" }),
        (b"warning: fd \"\"\" is not yet defined", Event::FdNotYetDefined { entry: b"\"" }),
        (b"warning\tfd \"log\" does not exist", Event::FdDoesNotExist { name: n("log") }),
        (b"warning\tfd \"null\" does not exist", Event::FdDoesNotExist { name: n("null") }),
    ]);
    malformed(
        "warning",
        &[
            b"warning",
            b"warning\t",
            b"warning\tfd \"\" does not exist",
            b"warning\tfd \"bad name\" does not exist",
            b"warning\tfd \"x\" does not exist\textra",
            b"warning\tfd \"x\" is not yet defined",
            b"warning\tfd x does not exist",
            b"warning\tsomething else",
        ],
    );
    // Near misses of the colon form are echo lines.
    for line in [
        &b"warning: fd \"x\" is not yet defined\textra"[..],
        b"warning: fd \" is not yet defined",
        b"warning: fd \"x\" is not yet defined.",
        b"warning: something",
        b"warning:\tfd \"x\" does not exist",
        b"Warning\tfd \"x\" does not exist",
    ] {
        assert_eq!(Event::parse(line), Ok(Event::Echo { line }), "{:?}", show(line));
    }
}

// ------------------------------------------------------------- protocol.md §4.5, §4.6

#[test]
fn overflow_log_filter_info() {
    both_ways_all(&[
        (b"overflow", Event::Overflow),
        (b"log.filter\tnone", Event::LogFilter { level: LogLevel::None }),
        (b"log.filter\ttrace", Event::LogFilter { level: LogLevel::Trace }),
        (b"log.filter\tdebug", Event::LogFilter { level: LogLevel::Debug }),
        (b"log.filter\tinfo", Event::LogFilter { level: LogLevel::Info }),
        (b"log.filter\twarning", Event::LogFilter { level: LogLevel::Warning }),
        (b"log.filter\terror", Event::LogFilter { level: LogLevel::Error }),
        (b"log.filter\tfatal", Event::LogFilter { level: LogLevel::Fatal }),
        (
            b"info\tdaemonproxy version 1.1.0 (git 4a197e0d)",
            Event::Info { text: b"daemonproxy version 1.1.0 (git 4a197e0d)" },
        ),
        (b"info\tdaemonproxy version 2.0.0", Event::Info { text: b"daemonproxy version 2.0.0" }),
        (b"info\t", Event::Info { text: b"" }),
        (b"info\ta\tb", Event::Info { text: b"a\tb" }),
    ]);
    malformed("overflow", &[b"overflow\t", b"overflow\tx"]);
    malformed(
        "log.filter",
        &[b"log.filter", b"log.filter\t", b"log.filter\twarn", b"log.filter\tinfo\tx", b"log.filter\tINFO"],
    );
    malformed("info", &[b"info"]);
}

// ------------------------------------------------------------------- protocol.md §4.5

#[test]
fn other_lines_are_echo() {
    for line in [
        &b"done"[..],
        b"--end--",
        b"--sync-42--",
        b"",
        b"\t",
        b"a\t\tb\t",
        b"A\r",
        b"service.stat\tx",
        b"Service.state\tx",
        b"service.state \tx",
        b"signal.clear\tHUP\t1",
        b"fd.state2\tx",
        b"errors\tx",
        b"error \tx",
        b" error\tx",
        b"overflow ",
        b"\xff\xfe",
        b"info.x",
    ] {
        let ev = Event::parse(line).unwrap();
        assert_eq!(ev, Event::Echo { line }, "{:?}", show(line));
        let mut want = line.to_vec();
        want.push(b'\n');
        assert_eq!(encoded(&ev), want);
    }
    // An echo can imitate any event (controllers use unique tokens).
    assert_eq!(Event::parse(b"overflow"), Ok(Event::Overflow));
}

// ------------------------------------------------------------- transcripts

/// Replays the daemon's lines of a transcript: each parses to the expected
/// value and the values encode back to exactly the transcript's bytes.
fn replay(transcript: &[u8], expected: &[Event<'_>]) {
    let lines: Vec<&[u8]> = transcript.strip_suffix(b"\n").unwrap().split(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), expected.len());
    let mut out = Vec::new();
    for (line, ev) in lines.iter().zip(expected) {
        assert_eq!(Event::parse(line).as_ref(), Ok(ev), "parse of {:?}", show(line));
        ev.encode(&mut out);
    }
    assert_eq!(show(&out), show(transcript));
}

#[test]
fn appendix_b1_interactive_session() {
    let transcript = b"info\tdaemonproxy version 1.1.0 (git 4a197e0d)\n\
service.args\tfoo\tsleep\t30\n\
service.state\tfoo\tstart\t695\t-\t-\t-\t-\t-\n\
service.state\tfoo\tup\t695\t14268\t-\t-\t0\t-\n\
service.state\tfoo\tdown\t699\t14268\tsignal\tSIGTERM\t4\t0\n\
error\tNo such service, for command \"service.delete\tnosuch\"\n\
fd.state\tlog.r\tpipe\tfrom\tlog.w\n\
fd.state\tlog.w\tpipe\tto\tlog.r\n\
done\n";
    let foo = n("foo");
    replay(
        transcript,
        &[
            Event::Info { text: b"daemonproxy version 1.1.0 (git 4a197e0d)" },
            Event::ServiceArgs { name: foo, args: b"sleep\t30" },
            Event::ServiceState { name: foo, state: ServiceState::Start { at: 695 } },
            Event::ServiceState { name: foo, state: ServiceState::Up { since: 695, pid: 14268, uptime: 0 } },
            Event::ServiceState {
                name: foo,
                state: ServiceState::Exited {
                    at: 699,
                    pid: 14268,
                    reason: ExitReason::Signal(Signal::TERM),
                    uptime: 4,
                    downtime: 0,
                },
            },
            Event::Error { message: b"No such service, for command \"service.delete\tnosuch\"" },
            Event::FdState {
                name: n("log.r"),
                info: FdInfo::Pipe { flags: PipeFlags::default(), read_end: true, peer: Some(n("log.w")) },
            },
            Event::FdState {
                name: n("log.w"),
                info: FdInfo::Pipe { flags: PipeFlags::default(), read_end: false, peer: Some(n("log.r")) },
            },
            Event::Echo { line: b"done" },
        ],
    );
    // The controller's lines of B.1 are all valid commands.
    for cmd in [
        &b"service.args\tfoo\tsleep\t30"[..],
        b"service.start\tfoo",
        b"service.signal\tfoo\tTERM",
        b"service.delete\tnosuch",
        b"fd.pipe\tlog.r\tlog.w",
        b"echo\tdone",
        b"terminate\t0",
    ] {
        assert!(Command::parse(cmd).is_ok(), "{:?}", show(cmd));
    }
}

#[test]
fn appendix_b2_statedump() {
    let transcript = b"fd.state\tcontrol.cmd\tspecial\twrite\tdaemonproxy command pipe\n\
fd.state\tcontrol.event\tspecial\tread\tdaemonproxy event stream\n\
fd.state\tcontrol.socket\tspecial\tread,write\tdaemonproxy control socket\n\
fd.state\tnull\tspecial\tread,write\t/dev/null\n\
fd.state\tstderr\tfile\twrite\tunknown\n\
fd.state\tstdin\tfile\tread\tunknown\n\
fd.state\tstdout\tfile\twrite\tunknown\n\
service.state\tfoo\tdown\t699\t14268\tsignal\tSIGTERM\t4\t12\n\
service.tags\tfoo\t\n\
service.args\tfoo\tsleep\t30\n\
service.fds\tfoo\tnull\tnull\tnull\n\
service.auto_up\tfoo\t-\n\
signal\tSIGHUP\t846\t1\n\
--end--\n";
    let foo = n("foo");
    let file = |name, write: bool| Event::FdState {
        name: n(name),
        info: FdInfo::File {
            flags: OpenFlags { read: !write, write, ..OpenFlags::default() },
            description: b"unknown",
        },
    };
    replay(
        transcript,
        &[
            Event::FdState { name: n("control.cmd"), info: FdInfo::Special(Special::ControlCmd) },
            Event::FdState { name: n("control.event"), info: FdInfo::Special(Special::ControlEvent) },
            Event::FdState { name: n("control.socket"), info: FdInfo::Special(Special::ControlSocket) },
            Event::FdState { name: n("null"), info: FdInfo::Special(Special::Null) },
            file("stderr", true),
            file("stdin", false),
            file("stdout", true),
            Event::ServiceState {
                name: foo,
                state: ServiceState::Exited {
                    at: 699,
                    pid: 14268,
                    reason: ExitReason::Signal(Signal::TERM),
                    uptime: 4,
                    downtime: 12,
                },
            },
            Event::ServiceTags { name: foo, tags: b"" },
            Event::ServiceArgs { name: foo, args: b"sleep\t30" },
            Event::ServiceFds { name: foo, fds: b"null\tnull\tnull" },
            Event::ServiceAutoUp { name: foo, auto_up: None },
            Event::Signal { signal: Signal::HUP, at: 846, count: 1 },
            Event::Echo { line: b"--end--" },
        ],
    );
    // The constant handles come first in name order, as `Special::ALL`.
    let names: Vec<&str> = Special::ALL.iter().map(|s| s.name()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

// --------------------------------------- extensions: process settings (issue 11)

/// Each setting is echoed as `service.X\tNAME\t` + the stored value; the
/// cleared form keeps the TAB after NAME, as `service.tags` does.
#[test]
fn process_setting_events() {
    let web = n("web");
    let ids = |uid, gid, groups: &'static [u8]| {
        Some(UserIds { uid, gid, groups: if groups.is_empty() { Groups::NONE } else { Groups::new(groups).unwrap() } })
    };
    both_ways_all(&[
        (
            b"service.env\tweb\tLANG=C\t-TZ\tE=",
            Event::ServiceEnv { name: web, env: EnvList::new(b"LANG=C\t-TZ\tE=").unwrap() },
        ),
        (b"service.env\tweb\t", Event::ServiceEnv { name: web, env: EnvList::NONE }),
        (b"service.cwd\tweb\t/srv/web", Event::ServiceCwd { name: web, path: Some(b"/srv/web") }),
        (b"service.cwd\tweb\t", Event::ServiceCwd { name: web, path: None }),
        (b"service.user\tweb\t65534\t65534", Event::ServiceUser { name: web, user: ids(65534, 65534, b"") }),
        (b"service.user\tweb\t0\t0\t10\t20", Event::ServiceUser { name: web, user: ids(0, 0, b"10\t20") }),
        (b"service.user\tweb\t", Event::ServiceUser { name: web, user: None }),
        (
            b"service.rlimit\tweb\tnofile=1024:4096\tcore=0:unlimited",
            Event::ServiceRlimit { name: web, limits: Rlimits::new(b"nofile=1024:4096\tcore=0:unlimited").unwrap() },
        ),
        (b"service.rlimit\tweb\t", Event::ServiceRlimit { name: web, limits: Rlimits::NONE }),
        (b"service.umask\tweb\t027", Event::ServiceUmask { name: web, umask: Umask::new(0o27) }),
        (b"service.umask\tweb\t000", Event::ServiceUmask { name: web, umask: Umask::new(0) }),
        (b"service.umask\tweb\t777", Event::ServiceUmask { name: web, umask: Umask::new(0o777) }),
        (b"service.umask\tweb\t", Event::ServiceUmask { name: web, umask: None }),
    ]);
    malformed(
        "service.env",
        &[b"service.env", b"service.env\tweb", b"service.env\tweb\tFOO", b"service.env\tweb\tA=1\t"],
    );
    malformed(
        "service.cwd",
        &[b"service.cwd", b"service.cwd\tweb", b"service.cwd\tweb\t/a\tb", b"service.cwd\tbad name\t/"],
    );
    malformed(
        "service.user",
        &[
            b"service.user\tweb",
            b"service.user\tweb\t0",
            b"service.user\tweb\t0\t0\t",
            b"service.user\tweb\tx\t0",
            b"service.user\tweb\t4294967295\t0",
        ],
    );
    malformed(
        "service.rlimit",
        &[
            b"service.rlimit\tweb",
            b"service.rlimit\tweb\tnofile=2:1",
            b"service.rlimit\tweb\tcore=0:0\tcore=0:0",
            b"service.rlimit\tweb\tbogus=1:1",
        ],
    );
    // Exactly three octal digits, as the daemon prints them.
    malformed(
        "service.umask",
        &[
            b"service.umask\tweb",
            b"service.umask\tweb\t27",
            b"service.umask\tweb\t0027",
            b"service.umask\tweb\t028",
            b"service.umask\tweb\t027\t",
        ],
    );
}

// ------------------------- extensions: readiness, activation, rusage (issue 12)

#[test]
fn notify_setting_and_messages() {
    let web = n("web");
    both_ways_all(&[
        (b"service.notify\tweb\tfd\t3", Event::ServiceNotify { name: web, mode: Some(NotifyMode::Fd(3)) }),
        (b"service.notify\tweb\tsocket", Event::ServiceNotify { name: web, mode: Some(NotifyMode::Socket) }),
        (b"service.notify\tweb\t", Event::ServiceNotify { name: web, mode: None }),
        // A number after NAME: a message, with its fields as sent.
        (
            b"service.notify\tweb\t1200\t4242\tREADY=1\tSTATUS=listening on :80",
            Event::ServiceNotifyMessage {
                name: web,
                at: 1200,
                pid: 4242,
                fields: NotifyFields::new(b"READY=1\tSTATUS=listening on :80").unwrap(),
            },
        ),
        (
            b"service.notify\tweb\t0\t1\tWATCHDOG=1",
            Event::ServiceNotifyMessage { name: web, at: 0, pid: 1, fields: NotifyFields::new(b"WATCHDOG=1").unwrap() },
        ),
        (
            b"service.notify\tweb\t5\t6\tno equals sign \xff",
            Event::ServiceNotifyMessage {
                name: web,
                at: 5,
                pid: 6,
                fields: NotifyFields::new(b"no equals sign \xff").unwrap(),
            },
        ),
        (b"service.listen_fds\tweb\ton", Event::ServiceListenFds { name: web, on: true }),
        (b"service.listen_fds\tweb\toff", Event::ServiceListenFds { name: web, on: false }),
        (b"service.ready\tweb\t1200\t4242", Event::ServiceReady { name: web, at: 1200, pid: 4242 }),
        (
            b"service.rusage\tweb\t1300\t200000\t15000\t51200",
            Event::ServiceRusage { name: web, at: 1300, utime_us: 200000, stime_us: 15000, maxrss_kb: 51200 },
        ),
    ]);
    let Ok(Event::ServiceNotifyMessage { fields, .. }) = Event::parse(b"service.notify\tweb\t1\t2\tREADY=1\tSTATUS=ok")
    else {
        panic!()
    };
    assert_eq!((fields.get(b"READY"), fields.get(b"STATUS")), (Some(&b"1"[..]), Some(&b"ok"[..])));
    malformed(
        "service.notify",
        &[
            b"service.notify",
            b"service.notify\tweb",
            b"service.notify\tweb\tfd",
            b"service.notify\tweb\tfd\t2",
            b"service.notify\tweb\tfd\t3\tx",
            b"service.notify\tweb\tsocket\t",
            b"service.notify\tweb\tpipe",
            b"service.notify\tweb\t\t",
            // A message needs a pid and at least one non-empty field.
            b"service.notify\tweb\t1200",
            b"service.notify\tweb\t1200\t4242",
            b"service.notify\tweb\t1200\t4242\t",
            b"service.notify\tweb\t1200\t4242\tREADY=1\t",
            b"service.notify\tweb\t1200\t4242\tA\t\tB",
            b"service.notify\tweb\t1200\tx\tREADY=1",
            b"service.notify\tweb\t1200\t4294967296\tREADY=1",
        ],
    );
    malformed(
        "service.listen_fds",
        &[
            b"service.listen_fds\tweb",
            b"service.listen_fds\tweb\t",
            b"service.listen_fds\tweb\tyes",
            b"service.listen_fds\tweb\ton\t",
        ],
    );
    malformed(
        "service.ready",
        &[b"service.ready\tweb", b"service.ready\tweb\t1", b"service.ready\tweb\t1\t2\t", b"service.ready\tweb\t-\t2"],
    );
    malformed(
        "service.rusage",
        &[b"service.rusage\tweb\t1\t2\t3", b"service.rusage\tweb\t1\t2\t3\t4\t5", b"service.rusage\tweb\t1\t2\t3\t-4"],
    );
}

#[test]
fn orphan_exit() {
    both_ways_all(&[
        (b"orphan.exit\t4711\t1300\texit\t0", Event::OrphanExit { pid: 4711, at: 1300, reason: ExitReason::Exit(0) }),
        (
            b"orphan.exit\t4711\t1300\texit\t255",
            Event::OrphanExit { pid: 4711, at: 1300, reason: ExitReason::Exit(255) },
        ),
        (
            b"orphan.exit\t4712\t1301\tsignal\tSIGKILL",
            Event::OrphanExit { pid: 4712, at: 1301, reason: ExitReason::Signal(Signal::KILL) },
        ),
        (
            b"orphan.exit\t1\t2\tsignal\tSIG-?",
            Event::OrphanExit { pid: 1, at: 2, reason: ExitReason::Signal(Signal::from_number(0)) },
        ),
    ]);
    malformed(
        "orphan.exit",
        &[
            b"orphan.exit",
            b"orphan.exit\t4711\t1300",
            b"orphan.exit\t4711\t1300\texit",
            b"orphan.exit\t4711\t1300\texit\t256",
            b"orphan.exit\t4711\t1300\tsignal\tKILL",
            b"orphan.exit\t4711\t1300\tsignal\tSIGIOT",
            b"orphan.exit\t4711\t1300\texit\t0\t",
            b"orphan.exit\tweb\t1300\texit\t0",
        ],
    );
}

/// Issue 13: the re-exec's report is an ordinary `info` line.
#[test]
fn reexec_done_is_info() {
    both_ways(b"info\treexec done", Event::Info { text: b"reexec done" });
}

/// A statedump of a service with every extension set: the original's five
/// lines, one per set setting, and `service.ready`.
#[test]
fn statedump_with_extensions() {
    let transcript = b"service.state\tweb\tup\t1100\t4242\t-\t-\t100\t-\n\
service.tags\tweb\t\n\
service.args\tweb\t/usr/sbin/httpd\t-f\n\
service.fds\tweb\tnull\tlog.w\tlog.w\tweb.sock\n\
service.auto_up\tweb\t5\talways\n\
service.env\tweb\tLANG=C\n\
service.cwd\tweb\t/srv/web\n\
service.user\tweb\t33\t33\n\
service.rlimit\tweb\tnofile=4096:4096\n\
service.umask\tweb\t027\n\
service.notify\tweb\tsocket\n\
service.listen_fds\tweb\ton\n\
service.ready\tweb\t1101\t4242\n";
    let web = n("web");
    replay(
        transcript,
        &[
            Event::ServiceState { name: web, state: ServiceState::Up { since: 1100, pid: 4242, uptime: 100 } },
            Event::ServiceTags { name: web, tags: b"" },
            Event::ServiceArgs { name: web, args: b"/usr/sbin/httpd\t-f" },
            Event::ServiceFds { name: web, fds: b"null\tlog.w\tlog.w\tweb.sock" },
            Event::ServiceAutoUp { name: web, auto_up: Some((5, Triggers::new(b"always").unwrap())) },
            Event::ServiceEnv { name: web, env: EnvList::new(b"LANG=C").unwrap() },
            Event::ServiceCwd { name: web, path: Some(b"/srv/web") },
            Event::ServiceUser { name: web, user: Some(UserIds { uid: 33, gid: 33, groups: Groups::NONE }) },
            Event::ServiceRlimit { name: web, limits: Rlimits::new(b"nofile=4096:4096").unwrap() },
            Event::ServiceUmask { name: web, umask: Umask::new(0o27) },
            Event::ServiceNotify { name: web, mode: Some(NotifyMode::Socket) },
            Event::ServiceListenFds { name: web, on: true },
            Event::ServiceReady { name: web, at: 1101, pid: 4242 },
        ],
    );
}
