//! Golden tests for every command of protocol.md §3: accepted lines with
//! their typed value and canonical encoding, rejected lines with the exact
//! error, its context (item, service, interval) and its message text, in the
//! order of checks the reference gives. Also the framing rules of
//! protocol.md §2.1 that the parser sees, the error-event formatting of
//! protocol.md §2.1 and §2.3, the wrapping integers of protocol.md §3.1,
//! and the extensions: the per-service process settings, readiness,
//! `conn.extended` and `reexec`. (Section numbers are those of
//! docs/protocol.md.)

use daemonproxy_proto::{
    encode_command_error, encode_unknown_command, is_ignored, AddrKind, Command, CommandError, CommandKind, Domain,
    EnvEntry, EnvList, Event, FdEntry, FdList, Groups, Limit, LogFilterArg, LogLevel, Name, NotifyMode, OpenFlags,
    ParseError, PipeFlags, Resource, Rlimit, Rlimits, Signal, SockType, SocketAddr, SocketFlags, StartWhen, Trigger,
    Triggers, Umask, UserIds, ERROR_MESSAGE_MAX, ERROR_QUOTE_LEN, NOTIFY_FDS,
};

/// A valid name.
fn n(s: &str) -> Name<'_> {
    Name::from_text(s).unwrap_or_else(|| panic!("{s:?} is a valid name"))
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `line` parses to `expected`, which encodes to `canonical` + LF, which
/// parses back to `expected`.
fn good(line: &[u8], expected: Command<'_>, canonical: &[u8]) {
    let parsed = Command::parse(line);
    assert_eq!(parsed, Ok(expected), "parse of {:?}", show(line));
    let mut out = Vec::new();
    expected.encode(&mut out);
    let mut want = canonical.to_vec();
    want.push(b'\n');
    assert_eq!(show(&out), show(&want), "encode of {:?}", show(line));
    assert_eq!(Command::parse(canonical), Ok(expected), "parse of canonical {:?}", show(canonical));
    assert_eq!(expected.kind(), CommandKind::from_name(line.split(|&b| b == b'\t').next().unwrap()));
}

fn good_all(rows: &[(&[u8], Command<'_>, &[u8])]) {
    for &(line, expected, canonical) in rows {
        good(line, expected, canonical);
    }
}

/// An expected rejection.
#[derive(Clone, Copy)]
struct Bad {
    line: &'static [u8],
    error: ParseError,
    message: &'static str,
    item: &'static [u8],
    service: Option<&'static str>,
    interval: Option<u32>,
}

fn bad(line: &'static [u8], error: ParseError, message: &'static str) -> Bad {
    Bad { line, error, message, item: b"", service: None, interval: None }
}

impl Bad {
    fn item(self, item: &'static [u8]) -> Bad {
        Bad { item, ..self }
    }
    fn svc(self, s: &'static str) -> Bad {
        Bad { service: Some(s), ..self }
    }
    fn interval(self, i: u32) -> Bad {
        Bad { interval: Some(i), ..self }
    }
}

fn check_bad(b: Bad) {
    let kind = CommandKind::from_name(b.line.split(|&c| c == b'\t').next().unwrap()).expect("a known command");
    let expected = CommandError {
        kind,
        error: b.error,
        item: b.item,
        service: b.service.map(|s| Name::from_text(s).unwrap()),
        interval: b.interval,
    };
    let got = Command::parse(b.line);
    assert_eq!(got, Err(expected), "parse of {:?}", show(b.line));
    let mut msg = Vec::new();
    expected.write_message(&mut msg);
    assert_eq!(show(&msg), b.message, "message for {:?}", show(b.line));
    assert_eq!(expected.to_string(), b.message);
    if !b.error.shows_item() {
        assert_eq!(b.error.to_string(), b.message, "Display of ParseError");
    }
    assert!(b.message.len() <= ERROR_MESSAGE_MAX || b.error.shows_item(), "{} is too long", b.message);
}

fn bad_all(rows: &[Bad]) {
    for &b in rows {
        check_bad(b);
    }
}

// ---------------------------------------------------------------- protocol.md §2 framing

#[test]
fn unknown_commands_keep_the_first_field_exactly() {
    good_all(&[
        (b"bogus", Command::Unknown { name: b"bogus" }, b"bogus"),
        (b"bogus\ta\tb", Command::Unknown { name: b"bogus" }, b"bogus"),
        // protocol.md §2.1: CR is data.
        (b"echo\r", Command::Unknown { name: b"echo\r" }, b"echo\r"),
        (b"echo\r\tx", Command::Unknown { name: b"echo\r" }, b"echo\r"),
        // protocol.md §2.1: names are case-sensitive.
        (b"ECHO\tx", Command::Unknown { name: b"ECHO" }, b"ECHO"),
        (b"Statedump", Command::Unknown { name: b"Statedump" }, b"Statedump"),
        // protocol.md §2.1: leading whitespace is not a comment.
        (b"  # x", Command::Unknown { name: b"  # x" }, b"  # x"),
        (b" echo\tx", Command::Unknown { name: b" echo" }, b" echo"),
        // A leading TAB makes the name empty.
        (b"\tx", Command::Unknown { name: b"" }, b""),
        // Commands of other supervisors, which daemonproxy does not have.
        (b"service.opts\tfoo", Command::Unknown { name: b"service.opts" }, b"service.opts"),
        (b"fd.give\tx", Command::Unknown { name: b"fd.give" }, b"fd.give"),
        (b"shutdown", Command::Unknown { name: b"shutdown" }, b"shutdown"),
        (b"file\tx", Command::Unknown { name: b"file" }, b"file"),
        // NUL in the name: unknown, not a NUL error.
        (b"echo\0\tx", Command::Unknown { name: b"echo\0" }, b"echo\0"),
    ]);
    for line in [&b"  # x"[..], b"\tx", b"echo\r"] {
        assert!(!is_ignored(line), "{:?} is a command", show(line));
    }
}

#[test]
fn unknown_command_error_events() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"bogus", b"error\tUnknown command: bogus\n"),
        (b"  # x", b"error\tUnknown command:   # x\n"),
        (b"", b"error\tUnknown command: \n"),
        (b"echo\r", b"error\tUnknown command: echo\r\n"),
    ];
    for &(line, want) in cases {
        let Ok(Command::Unknown { name }) = Command::parse(line) else { panic!("{:?} is unknown", show(line)) };
        let mut out = Vec::new();
        encode_unknown_command(&mut out, name);
        assert_eq!(show(&out), show(want));
    }
    // The line `\tx` has the empty name.
    let Ok(Command::Unknown { name }) = Command::parse(b"\tx") else { panic!() };
    let mut out = Vec::new();
    encode_unknown_command(&mut out, name);
    assert_eq!(out, b"error\tUnknown command: \n");
    // NAME of any length, not cut.
    let long = vec![b'z'; 500];
    let mut out = Vec::new();
    encode_unknown_command(&mut out, &long);
    assert_eq!(out.len(), "error\tUnknown command: ".len() + 500 + 1);
    assert!(out.ends_with(b"zzz\n"));
}

#[test]
fn ignored_lines() {
    for line in
        [&b""[..], b"#", b"# comment", b"#\tservice.start\tx", b"#!", b" ", b"\t", b" \t\r\0", b"\r", b"\0", b"\n"]
    {
        assert!(is_ignored(line), "{:?} is ignored", show(line));
    }
    for line in [&b"  # x"[..], b"\tx", b"x", b"echo", b" \t.", b"\r#", b"\x0b"] {
        assert!(!is_ignored(line), "{:?} is not ignored", show(line));
    }
}

#[test]
fn nul_bytes_are_rejected_in_known_commands() {
    bad_all(&[
        bad(b"echo\tx\0y", ParseError::NulByte, "command contains a NUL byte"),
        bad(b"service.args\tfoo\ta\0", ParseError::NulByte, "command contains a NUL byte"),
        bad(b"statedump\t\0", ParseError::NulByte, "command contains a NUL byte"),
        // The NUL check comes before the argument checks.
        bad(b"service.start\t\0", ParseError::NulByte, "command contains a NUL byte"),
    ]);
}

#[test]
fn every_command_kind_round_trips_its_name() {
    assert_eq!(CommandKind::ALL.len(), 34);
    let names: Vec<&str> = CommandKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        [
            "echo",
            "statedump",
            "exit",
            "service.args",
            "service.tags",
            "service.fds",
            "service.auto_up",
            "service.start",
            "service.signal",
            "service.delete",
            "fd.open",
            "fd.pipe",
            "fd.socket",
            "fd.take",
            "fd.delete",
            "socket.create",
            "socket.delete",
            "chdir",
            "log.filter",
            "log.dest",
            "conn.event_timeout",
            "signal.clear",
            "terminate",
            "terminate.guard",
            "terminate.exec_args",
            "service.env",
            "service.cwd",
            "service.user",
            "service.rlimit",
            "service.umask",
            "service.notify",
            "service.listen_fds",
            "conn.extended",
            "reexec",
        ]
    );
    for &k in CommandKind::ALL {
        assert_eq!(CommandKind::from_name(k.name().as_bytes()), Some(k));
    }
    let creating: Vec<CommandKind> = CommandKind::ALL.iter().copied().filter(|k| k.auto_creates_service()).collect();
    assert_eq!(
        creating,
        [
            CommandKind::ServiceArgs,
            CommandKind::ServiceTags,
            CommandKind::ServiceFds,
            CommandKind::ServiceAutoUp,
            CommandKind::ServiceEnv,
            CommandKind::ServiceCwd,
            CommandKind::ServiceUser,
            CommandKind::ServiceRlimit,
            CommandKind::ServiceUmask,
            CommandKind::ServiceNotify,
            CommandKind::ServiceListenFds,
        ]
    );
    assert_eq!(Command::Unknown { name: b"x" }.kind(), None);
}

// ------------------------------------------------------------------- protocol.md §3.2

#[test]
fn echo() {
    good_all(&[
        (b"echo\t--sync-42--", Command::Echo { text: b"--sync-42--" }, b"echo\t--sync-42--"),
        (b"echo\ta\t\tb\t", Command::Echo { text: b"a\t\tb\t" }, b"echo\ta\t\tb\t"),
        (b"echo\t\t", Command::Echo { text: b"\t" }, b"echo\t\t"),
        (b"echo", Command::Echo { text: b"" }, b"echo"),
        (b"echo\t", Command::Echo { text: b"" }, b"echo"),
        // protocol.md §2.1: CR kept as data.
        (b"echo\tA\r", Command::Echo { text: b"A\r" }, b"echo\tA\r"),
        (b"echo\tdone", Command::Echo { text: b"done" }, b"echo\tdone"),
        (b"echo\t\x01\x7f\xff", Command::Echo { text: b"\x01\x7f\xff" }, b"echo\t\x01\x7f\xff"),
    ]);
}

#[test]
fn statedump_exit_socket_delete_ignore_arguments() {
    good_all(&[
        (b"statedump", Command::Statedump, b"statedump"),
        (b"statedump\tx\ty", Command::Statedump, b"statedump"),
        (b"statedump\t", Command::Statedump, b"statedump"),
        (b"exit", Command::Exit, b"exit"),
        (b"exit\tnow", Command::Exit, b"exit"),
        (b"socket.delete", Command::SocketDelete, b"socket.delete"),
        (b"socket.delete\t/run/x", Command::SocketDelete, b"socket.delete"),
    ]);
}

// ------------------------------------------------------------------- protocol.md §3.3

fn name_errors(cmd: &'static str) -> Vec<Bad> {
    let leak = |s: String| -> &'static [u8] { Box::leak(s.into_bytes().into_boxed_slice()) };
    let e = ParseError::ExpectedServiceName;
    let i = ParseError::InvalidServiceName;
    vec![
        bad(leak(cmd.to_string()), e, "Expected service name"),
        bad(leak(format!("{cmd}\t")), e, "Expected service name"),
        bad(leak(format!("{cmd}\t\tx")), e, "Expected service name"),
        bad(leak(format!("{cmd}\tbad name")), i, "Invalid service name"),
        bad(leak(format!("{cmd}\tfoo\r")), i, "Invalid service name"),
        bad(leak(format!("{cmd}\tfoo/bar\tx")), i, "Invalid service name"),
        bad(leak(format!("{cmd}\t\u{e9}")), i, "Invalid service name"),
        bad(leak(format!("{cmd}\t{}", "n".repeat(32))), i, "Invalid service name"),
    ]
}

#[test]
fn service_name_errors_for_every_service_command() {
    for cmd in [
        "service.args",
        "service.tags",
        "service.fds",
        "service.auto_up",
        "service.start",
        "service.signal",
        "service.delete",
        "service.env",
        "service.cwd",
        "service.user",
        "service.rlimit",
        "service.umask",
        "service.notify",
        "service.listen_fds",
    ] {
        bad_all(&name_errors(cmd));
    }
}

#[test]
fn names_of_31_bytes_pass_and_32_fail() {
    let n31 = "n".repeat(31);
    let n32 = "n".repeat(32);
    for cmd in ["service.args", "service.delete", "service.start"] {
        let line = format!("{cmd}\t{n31}");
        let parsed = Command::parse(line.as_bytes()).unwrap();
        let mut out = Vec::new();
        parsed.encode(&mut out);
        assert!(show(&out).starts_with(&line), "{cmd}");
        let line = format!("{cmd}\t{n32}");
        let err = Command::parse(line.as_bytes()).unwrap_err();
        assert_eq!(err.error, ParseError::InvalidServiceName);
    }
    for cmd in ["fd.take", "fd.delete"] {
        let line = format!("{cmd}\t{n31}");
        assert!(Command::parse(line.as_bytes()).is_ok());
        let line = format!("{cmd}\t{n32}");
        assert_eq!(Command::parse(line.as_bytes()).unwrap_err().error, ParseError::InvalidFdName);
    }
    let line = format!("fd.open\t{n31}\tread\t/p");
    assert!(Command::parse(line.as_bytes()).is_ok());
    let line = format!("fd.open\t{n32}\tread\t/p");
    assert_eq!(Command::parse(line.as_bytes()).unwrap_err().error, ParseError::InvalidFdName);
    // A `service.fds` entry of 31 bytes passes, 32 fails.
    let line = format!("service.fds\tfoo\tnull\t{n31}");
    assert!(Command::parse(line.as_bytes()).is_ok());
    let line = format!("service.fds\tfoo\tnull\t{n32}");
    let err = Command::parse(line.as_bytes()).unwrap_err();
    assert_eq!((err.error, err.service), (ParseError::InvalidFdList, Some(n("foo"))));
}

#[test]
fn service_args_and_tags() {
    good_all(&[
        (
            b"service.args\tfoo\tsleep\t30",
            Command::ServiceArgs { name: n("foo"), args: b"sleep\t30" },
            b"service.args\tfoo\tsleep\t30",
        ),
        // Absent and empty remainders both clear; the TAB after NAME is
        // always written.
        (b"service.args\tfoo", Command::ServiceArgs { name: n("foo"), args: b"" }, b"service.args\tfoo\t"),
        (b"service.args\tfoo\t", Command::ServiceArgs { name: n("foo"), args: b"" }, b"service.args\tfoo\t"),
        // Empty fields and trailing TABs are kept verbatim.
        (
            b"service.args\tfoo\t\ta\t",
            Command::ServiceArgs { name: n("foo"), args: b"\ta\t" },
            b"service.args\tfoo\t\ta\t",
        ),
        (
            b"service.args\tcontroller\t./my-controller.pl",
            Command::ServiceArgs { name: n("controller"), args: b"./my-controller.pl" },
            b"service.args\tcontroller\t./my-controller.pl",
        ),
        (b"service.args\t-\tx", Command::ServiceArgs { name: n("-"), args: b"x" }, b"service.args\t-\tx"),
        (b"service.args\t..\tx", Command::ServiceArgs { name: n(".."), args: b"x" }, b"service.args\t..\tx"),
        (
            b"service.tags\tfoo\tweb\tprod",
            Command::ServiceTags { name: n("foo"), tags: b"web\tprod" },
            b"service.tags\tfoo\tweb\tprod",
        ),
        (b"service.tags\tfoo", Command::ServiceTags { name: n("foo"), tags: b"" }, b"service.tags\tfoo\t"),
        (b"service.tags\tfoo\t", Command::ServiceTags { name: n("foo"), tags: b"" }, b"service.tags\tfoo\t"),
        (b"service.tags\tfoo\t\r", Command::ServiceTags { name: n("foo"), tags: b"\r" }, b"service.tags\tfoo\t\r"),
    ]);
}

#[test]
fn service_fds() {
    good_all(&[
        (
            b"service.fds\tfoo\tnull\tnull\tnull",
            Command::ServiceFds { name: n("foo"), fds: FdList::DEFAULT },
            b"service.fds\tfoo\tnull\tnull\tnull",
        ),
        (
            b"service.fds\tcontroller\tcontrol.event\tcontrol.cmd\tstderr",
            Command::ServiceFds {
                name: n("controller"),
                fds: FdList::new(b"control.event\tcontrol.cmd\tstderr").unwrap(),
            },
            b"service.fds\tcontroller\tcontrol.event\tcontrol.cmd\tstderr",
        ),
        // Absent or empty: an empty list, not the default.
        (
            b"service.fds\tfoo",
            Command::ServiceFds { name: n("foo"), fds: FdList::new(b"").unwrap() },
            b"service.fds\tfoo\t",
        ),
        (
            b"service.fds\tfoo\t",
            Command::ServiceFds { name: n("foo"), fds: FdList::new(b"").unwrap() },
            b"service.fds\tfoo\t",
        ),
        (
            b"service.fds\tfoo\t-\t\tlog.w",
            Command::ServiceFds { name: n("foo"), fds: FdList::new(b"-\t\tlog.w").unwrap() },
            b"service.fds\tfoo\t-\t\tlog.w",
        ),
    ]);
    let Ok(Command::ServiceFds { fds, .. }) = Command::parse(b"service.fds\tfoo\tnull\tnull\tnull") else { panic!() };
    assert!(fds.is_default());
    let Ok(Command::ServiceFds { fds, .. }) = Command::parse(b"service.fds\tfoo") else { panic!() };
    assert!(!fds.is_default());
    assert_eq!(fds.raw(), b"");
    assert_eq!(fds.entries().count(), 0);
    let Ok(Command::ServiceFds { fds, .. }) = Command::parse(b"service.fds\tfoo\t-\t\tlog.w\t") else { panic!() };
    assert_eq!(fds.raw_entries().collect::<Vec<_>>(), [&b"-"[..], b"", b"log.w", b""]);
    assert_eq!(
        fds.entries().collect::<Vec<_>>(),
        [FdEntry::Closed, FdEntry::Closed, FdEntry::Handle(n("log.w")), FdEntry::Closed]
    );
    bad_all(&[
        bad(b"service.fds\tfoo\tnull\tbad name", ParseError::InvalidFdList, "invalid fd name").svc("foo"),
        bad(b"service.fds\tfoo\tnull\tnull\tstd*", ParseError::InvalidFdList, "invalid fd name").svc("foo"),
        bad(b"service.fds\tfoo\tnull\r", ParseError::InvalidFdList, "invalid fd name").svc("foo"),
    ]);
}

#[test]
fn service_auto_up() {
    let t = |raw: &'static [u8]| Triggers::new(raw).unwrap();
    let cmd = |name, interval, triggers| Command::ServiceAutoUp { name: n(name), interval, triggers };
    good_all(&[
        (b"service.auto_up\tfoo\t5\talways", cmd("foo", Some(5), t(b"always")), b"service.auto_up\tfoo\t5\talways"),
        (
            b"service.auto_up\tfoo\t-\tSIGUSR1\tUSR2",
            cmd("foo", None, t(b"SIGUSR1\tUSR2")),
            b"service.auto_up\tfoo\t-\tSIGUSR1\tUSR2",
        ),
        (b"service.auto_up\tfoo\t3", cmd("foo", Some(3), Triggers::NONE), b"service.auto_up\tfoo\t3"),
        (b"service.auto_up\tfoo\t3\t", cmd("foo", Some(3), Triggers::NONE), b"service.auto_up\tfoo\t3"),
        (b"service.auto_up\tbar\t-\tSIGHUP", cmd("bar", None, t(b"SIGHUP")), b"service.auto_up\tbar\t-\tSIGHUP"),
        (b"service.auto_up\tfoo\t-", cmd("foo", None, Triggers::NONE), b"service.auto_up\tfoo\t-"),
        (b"service.auto_up\tfoo\t1", cmd("foo", Some(1), Triggers::NONE), b"service.auto_up\tfoo\t1"),
        (
            b"service.auto_up\tfoo\t2147483647\talways",
            cmd("foo", Some(2147483647), t(b"always")),
            b"service.auto_up\tfoo\t2147483647\talways",
        ),
        (b"service.auto_up\tfoo\t007", cmd("foo", Some(7), Triggers::NONE), b"service.auto_up\tfoo\t7"),
        // The raw text is kept, empty fields included.
        (
            b"service.auto_up\tfoo\t5\t\talways",
            cmd("foo", Some(5), t(b"\talways")),
            b"service.auto_up\tfoo\t5\t\talways",
        ),
        // Any known name, with or without SIG, even uncatchable ones.
        (
            b"service.auto_up\tfoo\t5\tSIGKILL\tIOT\tCLD\tSIGPOLL",
            cmd("foo", Some(5), t(b"SIGKILL\tIOT\tCLD\tSIGPOLL")),
            b"service.auto_up\tfoo\t5\tSIGKILL\tIOT\tCLD\tSIGPOLL",
        ),
        (
            b"service.auto_up\tcontroller\t1\talways",
            cmd("controller", Some(1), t(b"always")),
            b"service.auto_up\tcontroller\t1\talways",
        ),
    ]);
    let Ok(Command::ServiceAutoUp { triggers, .. }) =
        Command::parse(b"service.auto_up\tfoo\t5\tSIGUSR1\t\tUSR2\talways")
    else {
        panic!()
    };
    assert_eq!(
        triggers.iter().collect::<Vec<_>>(),
        [Trigger::Signal(Signal::USR1), Trigger::Signal(Signal::USR2), Trigger::Always]
    );
    assert!(Triggers::NONE.is_empty());
    bad_all(&[
        // Missing or malformed interval.
        bad(b"service.auto_up\tfoo", ParseError::ExpectedInteger, "Expected integer").svc("foo"),
        bad(b"service.auto_up\tfoo\t", ParseError::ExpectedInteger, "Expected integer").svc("foo"),
        bad(b"service.auto_up\tfoo\t-x\talways", ParseError::ExpectedInteger, "Expected integer").svc("foo"),
        bad(b"service.auto_up\tfoo\t--", ParseError::ExpectedInteger, "Expected integer").svc("foo"),
        bad(b"service.auto_up\tfoo\t5x", ParseError::ExpectedInteger, "Expected integer").svc("foo"),
        bad(b"service.auto_up\tfoo\t+5", ParseError::ExpectedInteger, "Expected integer").svc("foo"),
        bad(b"service.auto_up\tfoo\t 5", ParseError::ExpectedInteger, "Expected integer").svc("foo"),
        // Beyond 64 bits the value wraps as in the original (issue 10 item 4):
        // 99999999999999999999 is 7766279631452241919, out of range.
        bad(b"service.auto_up\tfoo\t99999999999999999999", ParseError::InvalidInterval, "invalid interval").svc("foo"),
        // Out of 1..=2147483647.
        bad(b"service.auto_up\tfoo\t0\talways", ParseError::InvalidInterval, "invalid interval").svc("foo"),
        bad(b"service.auto_up\tfoo\t-1", ParseError::InvalidInterval, "invalid interval").svc("foo"),
        bad(b"service.auto_up\tfoo\t2147483648", ParseError::InvalidInterval, "invalid interval").svc("foo"),
        // The interval is checked before the triggers.
        bad(b"service.auto_up\tfoo\t0\tbogus", ParseError::InvalidInterval, "invalid interval").svc("foo"),
        // A valid interval is reported with a trigger error (it is stored).
        bad(b"service.auto_up\tfoo\t7\tbogus", ParseError::InvalidTriggers, "unable to set auto_up triggers")
            .svc("foo")
            .interval(7),
        bad(b"service.auto_up\tfoo\t7\talways\t\tbogus", ParseError::InvalidTriggers, "unable to set auto_up triggers")
            .svc("foo")
            .interval(7),
        // Numbers and lower case are not trigger names.
        bad(b"service.auto_up\tfoo\t-\t15", ParseError::InvalidTriggers, "unable to set auto_up triggers").svc("foo"),
        bad(b"service.auto_up\tfoo\t-\tsigterm", ParseError::InvalidTriggers, "unable to set auto_up triggers")
            .svc("foo"),
        bad(b"service.auto_up\tfoo\t-\tSIGSIGHUP", ParseError::InvalidTriggers, "unable to set auto_up triggers")
            .svc("foo"),
        bad(b"service.auto_up\tfoo\t3\tAlways", ParseError::InvalidTriggers, "unable to set auto_up triggers")
            .svc("foo")
            .interval(3),
    ]);
}

#[test]
fn service_start() {
    let cmd = |when| Command::ServiceStart { name: n("foo"), when };
    good_all(&[
        (b"service.start\tfoo", cmd(StartWhen::Now), b"service.start\tfoo"),
        (b"service.start\tfoo\t-", cmd(StartWhen::Cancel), b"service.start\tfoo\t-"),
        (b"service.start\tfoo\t861", cmd(StartWhen::At(861)), b"service.start\tfoo\t861"),
        (b"service.start\tfoo\t0", cmd(StartWhen::At(0)), b"service.start\tfoo\t0"),
        (b"service.start\tfoo\t2147483647", cmd(StartWhen::At(2147483647)), b"service.start\tfoo\t2147483647"),
        (b"service.start\tfoo\t0861", cmd(StartWhen::At(861)), b"service.start\tfoo\t861"),
        // Extra arguments are ignored.
        (b"service.start\tfoo\t-\tx", cmd(StartWhen::Cancel), b"service.start\tfoo\t-"),
        (b"service.start\tfoo\t9\t\t", cmd(StartWhen::At(9)), b"service.start\tfoo\t9"),
    ]);
    let ts = |line| bad(line, ParseError::InvalidTimestamp, "invalid timestamp").svc("foo");
    bad_all(&[
        // protocol.md §2.1: a trailing TAB is an empty timestamp.
        ts(b"service.start\tfoo\t"),
        ts(b"service.start\tfoo\t\t-"),
        ts(b"service.start\tfoo\tsoon"),
        ts(b"service.start\tfoo\t--"),
        ts(b"service.start\tfoo\t-5"),
        ts(b"service.start\tfoo\t12.5"),
        ts(b"service.start\tfoo\t2147483648"),
        ts(b"service.start\tfoo\t99999999999999999999"),
    ]);
}

#[test]
fn service_signal() {
    let cmd = |signal, group| Command::ServiceSignal { name: n("foo"), signal, group };
    good_all(&[
        (b"service.signal\tfoo\tTERM", cmd(Signal::TERM, false), b"service.signal\tfoo\t15"),
        (b"service.signal\tfoo\tSIGTERM\tgroup", cmd(Signal::TERM, true), b"service.signal\tfoo\t15\tgroup"),
        (b"service.signal\tfoo\t9\tgroup,group", cmd(Signal::KILL, true), b"service.signal\tfoo\t9\tgroup"),
        (b"service.signal\tfoo\tIOT", cmd(Signal::ABRT, false), b"service.signal\tfoo\t6"),
        (b"service.signal\tfoo\tSIGCLD", cmd(Signal::CHLD, false), b"service.signal\tfoo\t17"),
        // Numbers are used as given, named or not.
        (b"service.signal\tfoo\t0", cmd(Signal::from_number(0), false), b"service.signal\tfoo\t0"),
        (b"service.signal\tfoo\t64", cmd(Signal::from_number(64), false), b"service.signal\tfoo\t64"),
        (b"service.signal\tfoo\t65535", cmd(Signal::from_number(65535), false), b"service.signal\tfoo\t65535"),
        (b"service.signal\tfoo\t0015", cmd(Signal::TERM, false), b"service.signal\tfoo\t15"),
        // Arguments after the flags are ignored.
        (b"service.signal\tfoo\tHUP\tgroup\tx", cmd(Signal::HUP, true), b"service.signal\tfoo\t1\tgroup"),
    ]);
    let s = |line| bad(line, ParseError::ExpectedSignal, "Expected signal argument").svc("foo");
    let num = |line| bad(line, ParseError::InvalidSignalNumber, "Invalid signal number").svc("foo");
    let name = |line| bad(line, ParseError::InvalidSignal, "Invalid signal argument").svc("foo");
    bad_all(&[
        s(b"service.signal\tfoo"),
        s(b"service.signal\tfoo\t"),
        s(b"service.signal\tfoo\t\tgroup"),
        num(b"service.signal\tfoo\t65536"),
        num(b"service.signal\tfoo\t9x"),
        num(b"service.signal\tfoo\t1 "),
        num(b"service.signal\tfoo\t99999999999999999999999"),
        // protocol.md §10: unknown names are rejected (the original used 0).
        name(b"service.signal\tfoo\tSIGFOO"),
        name(b"service.signal\tfoo\tsigterm"),
        name(b"service.signal\tfoo\t-1"),
        name(b"service.signal\tfoo\tEMT"),
        name(b"service.signal\tfoo\tSIG"),
        // The signal is checked before the flags.
        name(b"service.signal\tfoo\tSIGFOO\tbogus"),
        // protocol.md §2.1: a trailing TAB is an empty option.
        bad(b"service.signal\tfoo\tTERM\t", ParseError::UnknownOption, "unknown option \"\"").svc("foo"),
        bad(b"service.signal\tfoo\tTERM\tgroup,", ParseError::UnknownOption, "unknown option \"\"").svc("foo"),
        bad(b"service.signal\tfoo\tTERM\tgroup,pgrp", ParseError::UnknownOption, "unknown option \"pgrp\"")
            .svc("foo")
            .item(b"pgrp"),
        bad(b"service.signal\tfoo\tTERM\tGroup", ParseError::UnknownOption, "unknown option \"Group\"")
            .svc("foo")
            .item(b"Group"),
    ]);
}

#[test]
fn service_delete() {
    good_all(&[
        (b"service.delete\tnosuch", Command::ServiceDelete { name: n("nosuch") }, b"service.delete\tnosuch"),
        (b"service.delete\tfoo\textra", Command::ServiceDelete { name: n("foo") }, b"service.delete\tfoo"),
    ]);
}

// ------------------------------------------------------------------- protocol.md §3.4

fn fd_name_errors(cmd: &'static str, tail: &'static str) -> Vec<Bad> {
    let leak = |s: String| -> &'static [u8] { Box::leak(s.into_bytes().into_boxed_slice()) };
    let mut v = vec![
        bad(leak(cmd.to_string()), ParseError::ExpectedFdName, "Expected file descriptor name"),
        bad(leak(format!("{cmd}\t")), ParseError::ExpectedFdName, "Expected file descriptor name"),
        bad(leak(format!("{cmd}\t{tail}")), ParseError::ExpectedFdName, "Expected file descriptor name"),
        bad(leak(format!("{cmd}\tbad name{tail}")), ParseError::InvalidFdName, "Invalid file descriptor name"),
        bad(leak(format!("{cmd}\tx\r{tail}")), ParseError::InvalidFdName, "Invalid file descriptor name"),
        bad(
            leak(format!("{cmd}\t{}{tail}", "f".repeat(32))),
            ParseError::InvalidFdName,
            "Invalid file descriptor name",
        ),
    ];
    for special in ["null", "control.cmd", "control.event", "control.socket"] {
        v.push(bad(
            leak(format!("{cmd}\t{special}{tail}")),
            ParseError::FdCannotBeAltered,
            "File descriptor cannot be altered",
        ));
    }
    v
}

#[test]
fn handle_name_errors_for_every_handle_command() {
    bad_all(&fd_name_errors("fd.open", "\tread\t/p"));
    bad_all(&fd_name_errors("fd.pipe", "\tw"));
    bad_all(&fd_name_errors("fd.socket", "\tunix"));
    bad_all(&fd_name_errors("fd.take", ""));
    bad_all(&fd_name_errors("fd.delete", ""));
    // Handle-name errors come before the flags and path checks.
    bad_all(&[
        bad(b"fd.open\tnull", ParseError::FdCannotBeAltered, "File descriptor cannot be altered"),
        bad(b"fd.socket\tbad name", ParseError::InvalidFdName, "Invalid file descriptor name"),
        bad(b"fd.open\t\tbogus\t/p\textra", ParseError::ExpectedFdName, "Expected file descriptor name"),
    ]);
}

#[test]
fn fd_open() {
    let flags = |s: &[u8]| OpenFlags::parse(s).unwrap();
    good_all(&[
        // protocol.md §3.4 examples: flags in fixed order whatever the input order.
        (
            b"fd.open\tf3\twrite,read,,append\t/srv/a.txt",
            Command::FdOpen {
                name: n("f3"),
                flags: OpenFlags { read: true, write: true, append: true, ..OpenFlags::default() },
                path: b"/srv/a.txt",
            },
            b"fd.open\tf3\tread,write,append\t/srv/a.txt",
        ),
        (
            b"fd.open\tx\tcreate\t/srv/z",
            Command::FdOpen {
                name: n("x"),
                flags: OpenFlags { read: true, create: true, ..OpenFlags::default() },
                path: b"/srv/z",
            },
            b"fd.open\tx\tread,create\t/srv/z",
        ),
        // Empty flags: read-only. Regression: the empty flag list used to
        // parse with `read` unset, so its canonical `read` did not parse back
        // to the same value.
        (
            b"fd.open\tx\t\t/p",
            Command::FdOpen { name: n("x"), flags: OpenFlags { read: true, ..OpenFlags::default() }, path: b"/p" },
            b"fd.open\tx\tread\t/p",
        ),
        (
            b"fd.open\tx\t,,\t/p",
            Command::FdOpen { name: n("x"), flags: OpenFlags { read: true, ..OpenFlags::default() }, path: b"/p" },
            b"fd.open\tx\tread\t/p",
        ),
        (
            b"fd.open\tx\twrite\t/p",
            Command::FdOpen { name: n("x"), flags: OpenFlags { write: true, ..OpenFlags::default() }, path: b"/p" },
            b"fd.open\tx\twrite\t/p",
        ),
        (
            b"fd.open\tx\tmkdir,nonblock,trunc,create,append,write\t/p",
            Command::FdOpen { name: n("x"), flags: flags(b"write,append,create,trunc,nonblock,mkdir"), path: b"/p" },
            b"fd.open\tx\twrite,append,create,trunc,nonblock,mkdir\t/p",
        ),
        (
            b"fd.open\tx\tread,read,write\trelative/path",
            Command::FdOpen { name: n("x"), flags: flags(b"read,write"), path: b"relative/path" },
            b"fd.open\tx\tread,write\trelative/path",
        ),
        // An empty path is a path (the open fails in the daemon).
        (
            b"fd.open\tx\tread\t",
            Command::FdOpen { name: n("x"), flags: flags(b"read"), path: b"" },
            b"fd.open\tx\tread\t",
        ),
        // Inherited names are not constants.
        (
            b"fd.open\tstderr\twrite,append\t/var/log/dp",
            Command::FdOpen { name: n("stderr"), flags: flags(b"write,append"), path: b"/var/log/dp" },
            b"fd.open\tstderr\twrite,append\t/var/log/dp",
        ),
    ]);
    assert_eq!(flags(b""), flags(b"read"));
    let unknown = |line, item, msg| bad(line, ParseError::UnknownFlag, msg).item(item);
    bad_all(&[
        bad(b"fd.open\tx", ParseError::MissingFlags, "missing flags argument"),
        bad(b"fd.open\tx\tread", ParseError::MissingPath, "missing path argument"),
        bad(b"fd.open\tx\tbogus", ParseError::MissingPath, "missing path argument"),
        // protocol.md §2.1: a trailing TAB is an extra argument.
        bad(b"fd.open\tx\tread\t/p\t", ParseError::UnexpectedArgAfterPath, "unexpected argument after path"),
        bad(b"fd.open\tx\tread\t/p\textra", ParseError::UnexpectedArgAfterPath, "unexpected argument after path"),
        // The extra argument is found before the unknown flag.
        bad(b"fd.open\tx\tbogus\t/p\t", ParseError::UnexpectedArgAfterPath, "unexpected argument after path"),
        unknown(b"fd.open\tf1\tbogus\t/srv/data/log.txt", b"bogus", "unknown flag \"bogus\""),
        unknown(b"fd.open\tx\tread,truncate\t/p", b"truncate", "unknown flag \"truncate\""),
        unknown(b"fd.open\tx\tsync\t/p", b"sync", "unknown flag \"sync\""),
        unknown(b"fd.open\tx\tread=1\t/p", b"read=1", "unknown flag \"read=1\""),
        unknown(b"fd.open\tx\tREAD\t/p", b"READ", "unknown flag \"READ\""),
        unknown(b"fd.open\tx\tread, write\t/p", b" write", "unknown flag \" write\""),
        unknown(b"fd.open\tx\tbad,worse\t/p", b"bad", "unknown flag \"bad\""),
    ]);
}

#[test]
fn fd_pipe() {
    let pipe = |r, w, flags| Command::FdPipe { read: n(r), write: n(w), flags };
    let plain = PipeFlags::default();
    let pair = |d, t| PipeFlags { nonblock: false, socket: Some((d, t)) };
    good_all(&[
        (b"fd.pipe\tlog.r\tlog.w", pipe("log.r", "log.w", plain), b"fd.pipe\tlog.r\tlog.w"),
        (b"fd.pipe\tlog.r\tlog.w\t", pipe("log.r", "log.w", plain), b"fd.pipe\tlog.r\tlog.w"),
        (
            b"fd.pipe\tr\tw\tnonblock",
            pipe("r", "w", PipeFlags { nonblock: true, socket: None }),
            b"fd.pipe\tr\tw\tnonblock",
        ),
        (
            b"fd.pipe\ts1\ts2\tunix,dgram",
            pipe("s1", "s2", pair(Domain::Unix, SockType::Dgram)),
            b"fd.pipe\ts1\ts2\tunix,dgram",
        ),
        (b"fd.pipe\tr\tw\t-", pipe("r", "w", plain), b"fd.pipe\tr\tw"),
        (b"fd.pipe\tr\tw\t,-,,", pipe("r", "w", plain), b"fd.pipe\tr\tw"),
        (b"fd.pipe\tr\tw\tunix", pipe("r", "w", pair(Domain::Unix, SockType::Stream)), b"fd.pipe\tr\tw\tunix,stream"),
        (b"fd.pipe\tr\tw\tstream", pipe("r", "w", pair(Domain::Unix, SockType::Stream)), b"fd.pipe\tr\tw\tunix,stream"),
        (b"fd.pipe\tr\tw\ttcp", pipe("r", "w", pair(Domain::Inet, SockType::Stream)), b"fd.pipe\tr\tw\tinet,stream"),
        (b"fd.pipe\tr\tw\tudp", pipe("r", "w", pair(Domain::Inet, SockType::Dgram)), b"fd.pipe\tr\tw\tinet,dgram"),
        (
            b"fd.pipe\tr\tw\tinet6",
            pipe("r", "w", pair(Domain::Inet6, SockType::Stream)),
            b"fd.pipe\tr\tw\tinet6,stream",
        ),
        (b"fd.pipe\tr\tw\tinet", pipe("r", "w", pair(Domain::Inet, SockType::Stream)), b"fd.pipe\tr\tw\tinet,stream"),
        (
            b"fd.pipe\tr\tw\tseqpacket,nonblock",
            pipe("r", "w", PipeFlags { nonblock: true, socket: Some((Domain::Unix, SockType::Seqpacket)) }),
            b"fd.pipe\tr\tw\tunix,seqpacket,nonblock",
        ),
        (b"fd.pipe\tr\tw\tudp,unix", pipe("r", "w", pair(Domain::Unix, SockType::Dgram)), b"fd.pipe\tr\tw\tunix,dgram"),
        // Arguments after the flags are ignored.
        (
            b"fd.pipe\tr\tw\tnonblock\tbogus",
            pipe("r", "w", PipeFlags { nonblock: true, socket: None }),
            b"fd.pipe\tr\tw\tnonblock",
        ),
        (b"fd.pipe\tstdin\tstdout", pipe("stdin", "stdout", plain), b"fd.pipe\tstdin\tstdout"),
    ]);
    bad_all(&[
        bad(b"fd.pipe\tr", ParseError::ExpectedFdName, "Expected file descriptor name"),
        bad(b"fd.pipe\tr\t", ParseError::ExpectedFdName, "Expected file descriptor name"),
        bad(b"fd.pipe\tr\t\tnonblock", ParseError::ExpectedFdName, "Expected file descriptor name"),
        bad(b"fd.pipe\tr\tw w", ParseError::InvalidFdName, "Invalid file descriptor name"),
        bad(b"fd.pipe\tr\tnull", ParseError::FdCannotBeAltered, "File descriptor cannot be altered"),
        bad(b"fd.pipe\tr\tcontrol.cmd", ParseError::FdCannotBeAltered, "File descriptor cannot be altered"),
        // protocol.md §10: one name twice is rejected (before the flags).
        bad(b"fd.pipe\tx\tx", ParseError::SamePipeNames, "read and write names must differ"),
        bad(b"fd.pipe\tx\tx\tfifo", ParseError::SamePipeNames, "read and write names must differ"),
        bad(b"fd.pipe\tr\tw\tfifo", ParseError::UnknownFlag, "unknown flag \"fifo\"").item(b"fifo"),
        bad(b"fd.pipe\tr\tw\tnonblock,bind", ParseError::UnknownFlag, "unknown flag \"bind\"").item(b"bind"),
        bad(b"fd.pipe\tr\tw\tunix=1", ParseError::UnknownFlag, "unknown flag \"unix=1\"").item(b"unix=1"),
    ]);
}

#[test]
fn fd_socket() {
    let unix_path = |p: &'static [u8]| SocketAddr { text: p, kind: AddrKind::Unix(p) };
    let inet = |text: &'static [u8], ip, port| SocketAddr { text, kind: AddrKind::Inet { ip, port } };
    let f = SocketFlags::default();
    let sock = |name, flags, addr| Command::FdSocket { name: n(name), flags, addr };
    good_all(&[
        // Five address and flag forms (protocol.md §3.4).
        (b"fd.socket\tfd1\tunix", sock("fd1", f, None), b"fd.socket\tfd1\tunix,stream"),
        (
            b"fd.socket\tk\tunix,nonblock,mkdir\t/a/b/c",
            sock("k", SocketFlags { bind: true, mkdir: true, nonblock: true, ..f }, Some(unix_path(b"/a/b/c"))),
            b"fd.socket\tk\tunix,stream,bind,mkdir,nonblock\t/a/b/c",
        ),
        (
            b"fd.socket\tfd2\ttcp,listen=11\t*:11203",
            sock(
                "fd2",
                SocketFlags { domain: Domain::Inet, bind: true, listen: Some(11), ..f },
                Some(inet(b"*:11203", None, 11203)),
            ),
            b"fd.socket\tfd2\tinet,stream,bind,listen=11\t*:11203",
        ),
        (
            b"fd.socket\tfd3\tudp\t127.0.0.1:10203",
            sock(
                "fd3",
                SocketFlags { domain: Domain::Inet, ty: SockType::Dgram, bind: true, ..f },
                Some(inet(b"127.0.0.1:10203", Some([127, 0, 0, 1]), 10203)),
            ),
            b"fd.socket\tfd3\tinet,dgram,bind\t127.0.0.1:10203",
        ),
        (
            b"fd.socket\tk\ttcp,listen\t127.0.0.1",
            sock(
                "k",
                SocketFlags { domain: Domain::Inet, bind: true, listen: Some(32), ..f },
                Some(inet(b"127.0.0.1", Some([127, 0, 0, 1]), 0)),
            ),
            b"fd.socket\tk\tinet,stream,bind,listen=32\t127.0.0.1",
        ),
        // Empty flags are the defaults.
        (b"fd.socket\tx\t", sock("x", f, None), b"fd.socket\tx\tunix,stream"),
        (b"fd.socket\tx\t,,", sock("x", f, None), b"fd.socket\tx\tunix,stream"),
        // Left to right; inet and tcp/udp take precedence over inet6.
        (b"fd.socket\tx\ttcp,unix", sock("x", f, None), b"fd.socket\tx\tunix,stream"),
        (
            b"fd.socket\tx\tinet6,dgram",
            sock("x", SocketFlags { domain: Domain::Inet6, ty: SockType::Dgram, ..f }, None),
            b"fd.socket\tx\tinet6,dgram",
        ),
        (
            b"fd.socket\tx\tinet,inet6",
            sock("x", SocketFlags { domain: Domain::Inet, ..f }, None),
            b"fd.socket\tx\tinet,stream",
        ),
        (
            b"fd.socket\tx\tinet6,inet",
            sock("x", SocketFlags { domain: Domain::Inet, ..f }, None),
            b"fd.socket\tx\tinet,stream",
        ),
        (
            b"fd.socket\tx\tudp,stream",
            sock("x", SocketFlags { domain: Domain::Inet, ..f }, None),
            b"fd.socket\tx\tinet,stream",
        ),
        (
            b"fd.socket\tx\tseqpacket,nonblock",
            sock("x", SocketFlags { ty: SockType::Seqpacket, nonblock: true, ..f }, None),
            b"fd.socket\tx\tunix,seqpacket,nonblock",
        ),
        // `mkdir` without an address is kept in the flags (the daemon ignores it).
        (
            b"fd.socket\tx\tunix,mkdir",
            sock("x", SocketFlags { mkdir: true, ..f }, None),
            b"fd.socket\tx\tunix,stream,mkdir",
        ),
        (
            b"fd.socket\tx\tbind\t/tmp/s",
            sock("x", SocketFlags { bind: true, ..f }, Some(unix_path(b"/tmp/s"))),
            b"fd.socket\tx\tunix,stream,bind\t/tmp/s",
        ),
        (
            b"fd.socket\tx\tlisten=65535\t/s",
            sock("x", SocketFlags { bind: true, listen: Some(65535), ..f }, Some(unix_path(b"/s"))),
            b"fd.socket\tx\tunix,stream,bind,listen=65535\t/s",
        ),
        (
            b"fd.socket\tx\tlisten=1,listen=0007\t/s",
            sock("x", SocketFlags { bind: true, listen: Some(7), ..f }, Some(unix_path(b"/s"))),
            b"fd.socket\tx\tunix,stream,bind,listen=7\t/s",
        ),
        (
            b"fd.socket\tx\tinet\t10.1.2.3:65535",
            sock(
                "x",
                SocketFlags { domain: Domain::Inet, bind: true, ..f },
                Some(inet(b"10.1.2.3:65535", Some([10, 1, 2, 3]), 65535)),
            ),
            b"fd.socket\tx\tinet,stream,bind\t10.1.2.3:65535",
        ),
        (
            b"fd.socket\tx\tinet\t*",
            sock("x", SocketFlags { domain: Domain::Inet, bind: true, ..f }, Some(inet(b"*", None, 0))),
            b"fd.socket\tx\tinet,stream,bind\t*",
        ),
        (
            b"fd.socket\tx\tinet\t*:0",
            sock("x", SocketFlags { domain: Domain::Inet, bind: true, ..f }, Some(inet(b"*:0", None, 0))),
            b"fd.socket\tx\tinet,stream,bind\t*:0",
        ),
    ]);
    // The longest unix path: 107 bytes.
    let p107 = vec![b'p'; 107];
    let mut line = b"fd.socket\tx\tunix\t".to_vec();
    line.extend_from_slice(&p107);
    let cmd = Command::parse(&line).unwrap();
    assert_eq!(
        cmd,
        Command::FdSocket {
            name: n("x"),
            flags: SocketFlags { bind: true, ..f },
            addr: Some(SocketAddr { text: &p107, kind: AddrKind::Unix(&p107) })
        }
    );
    line.push(b'p');
    assert_eq!(Command::parse(&line).unwrap_err().error, ParseError::InvalidAddress);

    let lq = |line, item| bad(line, ParseError::InvalidListenQueue, "invalid listen queue length").item(item);
    let unknown = |line, item, msg| bad(line, ParseError::UnknownFlag, msg).item(item);
    let addr = |line| bad(line, ParseError::InvalidAddress, "invalid address");
    bad_all(&[
        bad(b"fd.socket\tx", ParseError::MissingFlags, "missing flags argument"),
        lq(b"fd.socket\tx\tlisten=0\t/s", b"listen=0"),
        lq(b"fd.socket\tx\tlisten=65536\t/s", b"listen=65536"),
        // protocol.md §10: trailing garbage is no longer accepted.
        lq(b"fd.socket\tx\tlisten=5x\t/s", b"listen=5x"),
        lq(b"fd.socket\tx\tlisten=\t/s", b"listen="),
        lq(b"fd.socket\tx\tlisten=-1\t/s", b"listen=-1"),
        unknown(b"fd.socket\tx\tbogus\t/s", b"bogus", "unknown flag \"bogus\""),
        // protocol.md §10: `=VALUE` on other flags is no longer ignored.
        unknown(b"fd.socket\tx\tunix=1", b"unix=1", "unknown flag \"unix=1\""),
        unknown(b"fd.socket\tx\tlistenx", b"listenx", "unknown flag \"listenx\""),
        unknown(b"fd.socket\tx\tTCP", b"TCP", "unknown flag \"TCP\""),
        // The first offending flag in FLAGS order is reported.
        unknown(b"fd.socket\tx\tbogus,listen=0\t/s", b"bogus", "unknown flag \"bogus\""),
        lq(b"fd.socket\tx\tlisten=0,bogus\t/s", b"listen=0"),
        // Flag errors come before address errors.
        unknown(b"fd.socket\tx\tbogus\t", b"bogus", "unknown flag \"bogus\""),
        addr(b"fd.socket\tx\tinet\tlocalhost:80"),
        addr(b"fd.socket\tx\tinet\t:80"),
        addr(b"fd.socket\tx\tinet\t1.2.3.4:"),
        addr(b"fd.socket\tx\tinet\t1.2.3"),
        addr(b"fd.socket\tx\tinet\t1.2.3.256"),
        addr(b"fd.socket\tx\tinet\t1.2.3.4x"),
        // protocol.md §10: ports outside 0..=65535 are rejected.
        addr(b"fd.socket\tx\ttcp\t*:99999"),
        addr(b"fd.socket\tx\ttcp\t*:-1"),
        addr(b"fd.socket\tx\tinet\t"),
        addr(b"fd.socket\tx\tinet6\t::1"),
        addr(b"fd.socket\tx\tinet6,bind\t*:80"),
        addr(b"fd.socket\tx\tunix\t"),
        addr(b"fd.socket\tx\tbind\t"),
        // The address is checked before extra arguments.
        addr(b"fd.socket\tx\tinet\tbad\textra"),
        bad(b"fd.socket\tx\tbind", ParseError::ExpectedAddress, "expected address argument"),
        bad(b"fd.socket\tx\ttcp,listen", ParseError::ExpectedAddress, "expected address argument"),
        bad(b"fd.socket\tx\tinet6,listen=5", ParseError::ExpectedAddress, "expected address argument"),
        bad(b"fd.socket\tx\tunix\t/s\t", ParseError::UnexpectedArgAfterAddress, "unexpected argument after address"),
        bad(b"fd.socket\tx\ttcp\t*:80\tx", ParseError::UnexpectedArgAfterAddress, "unexpected argument after address"),
    ]);
}

#[test]
fn fd_take_and_delete() {
    good_all(&[
        (b"fd.take\ttaken1", Command::FdTake { name: n("taken1") }, b"fd.take\ttaken1"),
        (b"fd.take\ttcpl\textra", Command::FdTake { name: n("tcpl") }, b"fd.take\ttcpl"),
        (b"fd.delete\tlog.r", Command::FdDelete { name: n("log.r") }, b"fd.delete\tlog.r"),
        (b"fd.delete\tstdin", Command::FdDelete { name: n("stdin") }, b"fd.delete\tstdin"),
        (b"fd.delete\tx\textra\t", Command::FdDelete { name: n("x") }, b"fd.delete\tx"),
    ]);
}

// ------------------------------------------------------------------- protocol.md §3.5

#[test]
fn socket_create() {
    good_all(&[
        (
            b"socket.create\t-\t/run/dp.sock",
            Command::SocketCreate { path: b"/run/dp.sock" },
            b"socket.create\t-\t/run/dp.sock",
        ),
        (
            b"socket.create\t\t/run/dp.sock",
            Command::SocketCreate { path: b"/run/dp.sock" },
            b"socket.create\t-\t/run/dp.sock",
        ),
        (b"socket.create\t-\trel\textra", Command::SocketCreate { path: b"rel" }, b"socket.create\t-\trel"),
    ]);
    let p107 = [b'p'; 107];
    let mut line = b"socket.create\t-\t".to_vec();
    line.extend_from_slice(&p107);
    assert_eq!(Command::parse(&line), Ok(Command::SocketCreate { path: &p107 }));
    line.push(b'p');
    check_bad(bad(
        Box::leak(line.into_boxed_slice()),
        ParseError::ControlSocketPath,
        "Failed to create control socket",
    ));
    bad_all(&[
        bad(b"socket.create", ParseError::MissingArgument, "missing argument"),
        bad(b"socket.create\t-", ParseError::MissingArgument, "missing argument"),
        // A missing path is found before bad options.
        bad(b"socket.create\tx", ParseError::MissingArgument, "missing argument"),
        bad(b"socket.create\tx\t/p", ParseError::InvalidOptions, "Invalid options"),
        bad(b"socket.create\t--\t/p", ParseError::InvalidOptions, "Invalid options"),
        bad(b"socket.create\tx\t", ParseError::InvalidOptions, "Invalid options"),
        bad(b"socket.create\t-\t", ParseError::ControlSocketPath, "Failed to create control socket"),
    ]);
}

// ------------------------------------------------------------------- protocol.md §3.6

#[test]
fn log_filter() {
    let lf = |arg| Command::LogFilter { arg };
    good_all(&[
        (b"log.filter", lf(None), b"log.filter"),
        (b"log.filter\t+", lf(Some(LogFilterArg::Raise)), b"log.filter\t+"),
        (b"log.filter\t-", lf(Some(LogFilterArg::Lower)), b"log.filter\t-"),
        (b"log.filter\tnone", lf(Some(LogFilterArg::Set(LogLevel::None))), b"log.filter\tnone"),
        (b"log.filter\ttrace", lf(Some(LogFilterArg::Set(LogLevel::Trace))), b"log.filter\ttrace"),
        (b"log.filter\tdebug", lf(Some(LogFilterArg::Set(LogLevel::Debug))), b"log.filter\tdebug"),
        (b"log.filter\tinfo", lf(Some(LogFilterArg::Set(LogLevel::Info))), b"log.filter\tinfo"),
        (b"log.filter\twarning", lf(Some(LogFilterArg::Set(LogLevel::Warning))), b"log.filter\twarning"),
        (b"log.filter\terror", lf(Some(LogFilterArg::Set(LogLevel::Error))), b"log.filter\terror"),
        (b"log.filter\tfatal", lf(Some(LogFilterArg::Set(LogLevel::Fatal))), b"log.filter\tfatal"),
        (b"log.filter\tinfo\textra", lf(Some(LogFilterArg::Set(LogLevel::Info))), b"log.filter\tinfo"),
        (b"log.filter\t-\t+", lf(Some(LogFilterArg::Lower)), b"log.filter\t-"),
    ]);
    let inv = |line| bad(line, ParseError::InvalidLogLevel, "Invalid loglevel argument");
    bad_all(&[
        inv(b"log.filter\t"),
        inv(b"log.filter\twarn"),
        inv(b"log.filter\tINFO"),
        inv(b"log.filter\t++"),
        inv(b"log.filter\t0"),
        inv(b"log.filter\t\tinfo"),
    ]);
}

#[test]
fn log_dest() {
    good_all(&[
        (b"log.dest\tfd\tlog.w", Command::LogDest { name: n("log.w") }, b"log.dest\tfd\tlog.w"),
        // Constants are allowed.
        (b"log.dest\tfd\tnull", Command::LogDest { name: n("null") }, b"log.dest\tfd\tnull"),
        (b"log.dest\tfd\tcontrol.event", Command::LogDest { name: n("control.event") }, b"log.dest\tfd\tcontrol.event"),
        (b"log.dest\tfd\tstderr\textra", Command::LogDest { name: n("stderr") }, b"log.dest\tfd\tstderr"),
    ]);
    bad_all(&[
        bad(b"log.dest", ParseError::MissingArgument, "missing argument"),
        bad(b"log.dest\t", ParseError::UnknownLoggingType, "Unknown logging type"),
        bad(b"log.dest\tfile\t/var/log/x", ParseError::UnknownLoggingType, "Unknown logging type"),
        bad(b"log.dest\tFD\tx", ParseError::UnknownLoggingType, "Unknown logging type"),
        bad(b"log.dest\tfd", ParseError::ExpectedFdName, "Expected file descriptor name"),
        bad(b"log.dest\tfd\t", ParseError::ExpectedFdName, "Expected file descriptor name"),
        bad(b"log.dest\tfd\tbad name", ParseError::InvalidFdName, "Invalid file descriptor name"),
        bad(b"log.dest\tfd\tstderr\r", ParseError::InvalidFdName, "Invalid file descriptor name"),
    ]);
}

// ------------------------------------------------------------------- protocol.md §3.7

#[test]
fn conn_event_timeout() {
    let t = |reset, close| Command::ConnEventTimeout { reset, close };
    good_all(&[
        (b"conn.event_timeout\t15\t30", t(15, 30), b"conn.event_timeout\t15\t30"),
        (b"conn.event_timeout\t2\t8", t(2, 8), b"conn.event_timeout\t2\t8"),
        (b"conn.event_timeout\t0\t0", t(0, 0), b"conn.event_timeout\t0\t0"),
        (b"conn.event_timeout\t5\t5\textra", t(5, 5), b"conn.event_timeout\t5\t5"),
        (b"conn.event_timeout\t-0\t0", t(0, 0), b"conn.event_timeout\t0\t0"),
        (
            b"conn.event_timeout\t2147483647\t2147483647",
            t(2147483647, 2147483647),
            b"conn.event_timeout\t2147483647\t2147483647",
        ),
    ]);
    let int = |line| bad(line, ParseError::ExpectedInteger, "Expected integer");
    let range = |line| bad(line, ParseError::InvalidTimeout, "invalid timeout (must be 0..7FFFFFFF)");
    bad_all(&[
        int(b"conn.event_timeout"),
        int(b"conn.event_timeout\t"),
        int(b"conn.event_timeout\t5"),
        int(b"conn.event_timeout\t5\t"),
        int(b"conn.event_timeout\tx\t5"),
        int(b"conn.event_timeout\t5\t1e3"),
        // Both integers are read before the range checks.
        int(b"conn.event_timeout\t-1\tx"),
        range(b"conn.event_timeout\t-1\t5"),
        range(b"conn.event_timeout\t5\t2147483648"),
        range(b"conn.event_timeout\t2147483648\t1"),
        bad(b"conn.event_timeout\t9\t8", ParseError::ResetAfterClose, "reset timeout is greater than close timeout"),
    ]);
}

// ------------------------------------------------------------------- protocol.md §3.8

#[test]
fn signal_clear() {
    let c = |signal, count| Command::SignalClear { signal, count };
    good_all(&[
        (b"signal.clear\tSIGHUP\t1", c(Signal::HUP, 1), b"signal.clear\t1\t1"),
        (b"signal.clear\tINT\t0", c(Signal::INT, 0), b"signal.clear\t2\t0"),
        (b"signal.clear\t10\t5", c(Signal::USR1, 5), b"signal.clear\t10\t5"),
        (b"signal.clear\tUSR2\t3\textra", c(Signal::USR2, 3), b"signal.clear\t12\t3"),
        (
            b"signal.clear\tTERM\t9223372036854775807",
            c(Signal::TERM, 9223372036854775807),
            b"signal.clear\t15\t9223372036854775807",
        ),
    ]);
    let int = |line| bad(line, ParseError::ExpectedInteger, "Expected integer");
    bad_all(&[
        bad(b"signal.clear", ParseError::ExpectedSignal, "Expected signal argument"),
        bad(b"signal.clear\t\t1", ParseError::ExpectedSignal, "Expected signal argument"),
        bad(b"signal.clear\tSIGFOO\t1", ParseError::InvalidSignal, "Invalid signal argument"),
        bad(b"signal.clear\t99999\t1", ParseError::InvalidSignalNumber, "Invalid signal number"),
        // The signal is checked before the count.
        bad(b"signal.clear\tSIGFOO\tx", ParseError::InvalidSignal, "Invalid signal argument"),
        int(b"signal.clear\tHUP"),
        int(b"signal.clear\tHUP\t"),
        int(b"signal.clear\tHUP\tx"),
        // protocol.md §10: negative counts are rejected.
        int(b"signal.clear\tHUP\t-1"),
    ]);
}

// ------------------------------------------------------------------- protocol.md §3.9

#[test]
fn chdir() {
    good_all(&[
        (b"chdir\t/srv", Command::Chdir { path: b"/srv" }, b"chdir\t/srv"),
        (b"chdir\t..", Command::Chdir { path: b".." }, b"chdir\t.."),
        // Empty path: accepted here, fails in the daemon.
        (b"chdir\t", Command::Chdir { path: b"" }, b"chdir\t"),
    ]);
    bad_all(&[
        bad(b"chdir", ParseError::MissingPath, "missing path argument"),
        bad(b"chdir\t/srv\t", ParseError::UnexpectedArgAfterPath, "unexpected argument after path"),
        bad(b"chdir\t\t", ParseError::UnexpectedArgAfterPath, "unexpected argument after path"),
        bad(b"chdir\t/a\tb", ParseError::UnexpectedArgAfterPath, "unexpected argument after path"),
    ]);
}

#[test]
fn terminate() {
    let t = |code, guard| Command::Terminate { code, guard };
    good_all(&[
        (b"terminate\t0", t(0, None), b"terminate\t0"),
        (b"terminate\t-1", t(-1, None), b"terminate\t-1"),
        (b"terminate\t300", t(300, None), b"terminate\t300"),
        (b"terminate\t0\t42", t(0, Some(42)), b"terminate\t0\t42"),
        (b"terminate\t0\t-7", t(0, Some(-7)), b"terminate\t0\t-7"),
        // A guard that is not an integer counts as missing.
        (b"terminate\t0\tabc", t(0, None), b"terminate\t0"),
        (b"terminate\t0\t", t(0, None), b"terminate\t0"),
        (b"terminate\t1\t2\t3", t(1, Some(2)), b"terminate\t1\t2"),
        (
            b"terminate\t-9223372036854775808\t9223372036854775807",
            t(i64::MIN, Some(i64::MAX)),
            b"terminate\t-9223372036854775808\t9223372036854775807",
        ),
    ]);
    let int = |line| bad(line, ParseError::ExpectedInteger, "Expected integer");
    bad_all(&[
        int(b"terminate"),
        int(b"terminate\t"),
        int(b"terminate\tx"),
        int(b"terminate\t1.5"),
        int(b"terminate\t-"),
    ]);
}

#[test]
fn terminate_guard() {
    let g = |set, code| Command::TerminateGuard { set, code };
    good_all(&[
        (b"terminate.guard\t+\t42", g(true, 42), b"terminate.guard\t+\t42"),
        (b"terminate.guard\t-\t42", g(false, 42), b"terminate.guard\t-\t42"),
        (b"terminate.guard\t+\t-3", g(true, -3), b"terminate.guard\t+\t-3"),
        (b"terminate.guard\t-\t1\textra", g(false, 1), b"terminate.guard\t-\t1"),
    ]);
    let pm = |line| bad(line, ParseError::ExpectedPlusMinus, "expected + or -");
    bad_all(&[
        pm(b"terminate.guard"),
        pm(b"terminate.guard\t"),
        pm(b"terminate.guard\tx\t1"),
        pm(b"terminate.guard\t++\t1"),
        pm(b"terminate.guard\t1"),
        bad(b"terminate.guard\t+", ParseError::ExpectedInteger, "Expected integer"),
        bad(b"terminate.guard\t-\tx", ParseError::ExpectedInteger, "Expected integer"),
        bad(b"terminate.guard\t+\t0", ParseError::ZeroGuardCode, "code cannot be 0"),
        bad(b"terminate.guard\t-\t-0", ParseError::ZeroGuardCode, "code cannot be 0"),
    ]);
}

#[test]
fn terminate_exec_args() {
    good_all(&[
        (b"terminate.exec_args", Command::TerminateExecArgs { args: b"" }, b"terminate.exec_args"),
        (b"terminate.exec_args\t", Command::TerminateExecArgs { args: b"" }, b"terminate.exec_args"),
        (
            b"terminate.exec_args\t/sbin/init\t--single",
            Command::TerminateExecArgs { args: b"/sbin/init\t--single" },
            b"terminate.exec_args\t/sbin/init\t--single",
        ),
        (b"terminate.exec_args\t\tx\t", Command::TerminateExecArgs { args: b"\tx\t" }, b"terminate.exec_args\t\tx\t"),
    ]);
    let mut line = b"terminate.exec_args\t".to_vec();
    line.extend_from_slice(&[b'a'; 255]);
    let Ok(Command::TerminateExecArgs { args }) = Command::parse(&line) else { panic!("255 bytes fit") };
    assert_eq!(args.len(), 255);
    line.push(b'a');
    check_bad(bad(
        Box::leak(line.into_boxed_slice()),
        ParseError::ExecArgsTooLong,
        "exec arguments exceed buffer size (255)",
    ));
}

// ------------------------------------------------------------------- protocol.md §2.3

fn error_event(message: &[u8], line: &[u8]) -> String {
    let mut out = Vec::new();
    encode_command_error(&mut out, message, line);
    show(&out)
}

#[test]
fn error_event_quotes_30_bytes() {
    assert_eq!(ERROR_QUOTE_LEN, 30);
    // The error of protocol.md §9.2.
    assert_eq!(
        error_event(b"No such service", b"service.delete\tnosuch"),
        "error\tNo such service, for command \"service.delete\tnosuch\"\n"
    );
    // A `log.filter` error (protocol.md §3.6).
    assert_eq!(
        error_event(b"Invalid loglevel argument", b"log.filter\twarn"),
        "error\tInvalid loglevel argument, for command \"log.filter\twarn\"\n"
    );
    // protocol.md §2.3 example: `...` inside the quotes.
    assert_eq!(
        error_event(b"Invalid service name", b"service.args\tnnnnnnnnnnnnnnnn!nnnn"),
        "error\tInvalid service name, for command \"service.args\tnnnnnnnnnnnnnnnn!...\"\n"
    );
    // 29 bytes: whole, no `...`; exactly 30: whole and `...`; 31: cut.
    let l29 = b"echo\t012345678901234567890123";
    let l30 = b"echo\t0123456789012345678901234";
    let l31 = b"echo\t01234567890123456789012345";
    assert_eq!((l29.len(), l30.len(), l31.len()), (29, 30, 31));
    assert_eq!(error_event(b"m", l29), "error\tm, for command \"echo\t012345678901234567890123\"\n");
    assert_eq!(error_event(b"m", l30), "error\tm, for command \"echo\t0123456789012345678901234...\"\n");
    assert_eq!(error_event(b"m", l31), "error\tm, for command \"echo\t0123456789012345678901234...\"\n");
    assert_eq!(error_event(b"m", b""), "error\tm, for command \"\"\n");
}

#[test]
fn error_event_message_is_cut_at_63_bytes() {
    assert_eq!(ERROR_MESSAGE_MAX, 63);
    // protocol.md §2.3 example.
    let msg = b"can't kill nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn (pgid 9757): No such process";
    assert_eq!(
        error_event(msg, b"service.signal\tnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\tTERM\tgroup"),
        "error\tcan't kill nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn (pgid 9757): No such, for command \
         \"service.signal\tnnnnnnnnnnnnnnn...\"\n"
    );
    let m63 = "x".repeat(63);
    let m64 = "x".repeat(64);
    assert_eq!(error_event(m63.as_bytes(), b"l"), format!("error\t{m63}, for command \"l\"\n"));
    assert_eq!(error_event(m64.as_bytes(), b"l"), format!("error\t{m63}, for command \"l\"\n"));
}

#[test]
fn error_events_of_parse_errors() {
    // The full reply for a rejected line: message from the CommandError,
    // quote from the line.
    let reply = |line: &[u8]| {
        let err = Command::parse(line).unwrap_err();
        let mut msg = Vec::new();
        err.write_message(&mut msg);
        error_event(&msg, line)
    };
    // protocol.md §10: one line.
    assert_eq!(
        reply(b"fd.open\tf1\tbogus\t/srv/data/log.txt"),
        "error\tunknown flag \"bogus\", for command \"fd.open\tf1\tbogus\t/srv/data/log...\"\n"
    );
    assert_eq!(
        reply(b"service.args\tnnnnnnnnnnnnnnnn!"),
        "error\tInvalid service name, for command \"service.args\tnnnnnnnnnnnnnnnn!...\"\n"
    );
    assert_eq!(reply(b"log.filter\twarn"), "error\tInvalid loglevel argument, for command \"log.filter\twarn\"\n");
    assert_eq!(
        reply(b"service.signal\tfoo\tTERM\t"),
        "error\tunknown option \"\", for command \"service.signal\tfoo\tTERM\t\"\n"
    );
    // A long quoted item is cut with the message at 63 bytes.
    let mut line = b"fd.open\tx\t".to_vec();
    line.extend_from_slice(&[b'q'; 100]);
    line.extend_from_slice(b"\t/p");
    let out = reply(&line);
    let want_msg = format!("unknown flag \"{}", "q".repeat(63 - "unknown flag \"".len()));
    assert_eq!(out, format!("error\t{want_msg}, for command \"fd.open\tx\t{}...\"\n", "q".repeat(20)));
}

// -------------------------------------- protocol.md §3.1 integers beyond 64 bits

/// Issue 10 item 4: the protocol's integers wrap modulo 2⁶⁴ as in the
/// original ("parsed as 64-bit signed integers without overflow
/// detection"), so every integer argument accepts and rejects exactly what
/// the original does, with the original's texts.
#[test]
fn integers_beyond_64_bits_wrap_like_the_original() {
    good_all(&[
        // 2⁶⁴ + 1 = 1: accepted by the original.
        (
            b"conn.event_timeout\t1\t18446744073709551617",
            Command::ConnEventTimeout { reset: 1, close: 1 },
            b"conn.event_timeout\t1\t1",
        ),
        (
            b"terminate.guard\t+\t18446744073709551623",
            Command::TerminateGuard { set: true, code: 7 },
            b"terminate.guard\t+\t7",
        ),
        (
            b"service.auto_up\tfoo\t18446744073709551621\talways",
            Command::ServiceAutoUp { name: n("foo"), interval: Some(5), triggers: Triggers::new(b"always").unwrap() },
            b"service.auto_up\tfoo\t5\talways",
        ),
        (
            b"service.start\tfoo\t18446744073709552516",
            Command::ServiceStart { name: n("foo"), when: StartWhen::At(900) },
            b"service.start\tfoo\t900",
        ),
        (
            b"signal.clear\tHUP\t18446744073709551618",
            Command::SignalClear { signal: Signal::HUP, count: 2 },
            b"signal.clear\t1\t2",
        ),
        (
            b"terminate\t9223372036854775808",
            Command::Terminate { code: i64::MIN, guard: None },
            b"terminate\t-9223372036854775808",
        ),
        (
            b"terminate\t18446744073709551616\t-18446744073709551617",
            Command::Terminate { code: 0, guard: Some(-1) },
            b"terminate\t0\t-1",
        ),
        // Signal numbers go through the same integer parser, then 0..65535.
        (
            b"service.signal\tfoo\t18446744073709551631",
            Command::ServiceSignal { name: n("foo"), signal: Signal::TERM, group: false },
            b"service.signal\tfoo\t15",
        ),
    ]);
    bad_all(&[
        // The original's texts where the wrapped value is out of range.
        bad(b"service.auto_up\ts1\t99999999999999999999", ParseError::InvalidInterval, "invalid interval").svc("s1"),
        bad(b"service.start\tfoo\t99999999999999999999", ParseError::InvalidTimestamp, "invalid timestamp").svc("foo"),
        bad(
            b"conn.event_timeout\t1\t99999999999999999999",
            ParseError::InvalidTimeout,
            "invalid timeout (must be 0..7FFFFFFF)",
        ),
        bad(b"service.signal\tfoo\t99999999999999999999", ParseError::InvalidSignalNumber, "Invalid signal number")
            .svc("foo"),
        bad(b"signal.clear\t18446744073709551615\t1", ParseError::InvalidSignalNumber, "Invalid signal number"),
        // 2⁶⁴ wraps to 0: the guard's own check.
        bad(b"terminate.guard\t-\t18446744073709551616", ParseError::ZeroGuardCode, "code cannot be 0"),
        // 2⁶⁴ − 1 wraps to −1: a negative count stays refused (protocol.md §10).
        bad(b"signal.clear\tHUP\t18446744073709551615", ParseError::ExpectedInteger, "Expected integer"),
    ]);
}

// ------------------------------------- extensions: per-service process settings

#[test]
fn service_env() {
    let env = |raw: &'static [u8]| Command::ServiceEnv { name: n("web"), env: EnvList::new(raw).unwrap() };
    good_all(&[
        (
            b"service.env\tweb\tLANG=C\t-TZ\tEMPTY=",
            env(b"LANG=C\t-TZ\tEMPTY="),
            b"service.env\tweb\tLANG=C\t-TZ\tEMPTY=",
        ),
        // No entry clears; the canonical line keeps the TAB after NAME, like
        // `service.args`.
        (b"service.env\tweb", env(b""), b"service.env\tweb\t"),
        (b"service.env\tweb\t", env(b""), b"service.env\tweb\t"),
        // VALUE is everything after the first `=`, any bytes but NUL.
        (b"service.env\tweb\tA=b=c", env(b"A=b=c"), b"service.env\tweb\tA=b=c"),
        (b"service.env\tweb\tX=\x01 \xff\r", env(b"X=\x01 \xff\r"), b"service.env\tweb\tX=\x01 \xff\r"),
        // Repeated variables are applied in order.
        (b"service.env\tweb\tA=1\t-A\tA=2", env(b"A=1\t-A\tA=2"), b"service.env\tweb\tA=1\t-A\tA=2"),
    ]);
    let Ok(Command::ServiceEnv { env, .. }) = Command::parse(b"service.env\tweb\tPATH=/bin:/usr/bin\t-HOME") else {
        panic!()
    };
    assert_eq!(
        env.iter().collect::<Vec<_>>(),
        [EnvEntry::Set { var: b"PATH", value: b"/bin:/usr/bin" }, EnvEntry::Remove { var: b"HOME" }]
    );
    let entry = |line, item| bad(line, ParseError::InvalidEnvEntry, "").item(item).svc("web");
    let rows = [
        (entry(b"service.env\tweb\tFOO", b"FOO"), "invalid env entry \"FOO\""),
        (entry(b"service.env\tweb\t=x", b"=x"), "invalid env entry \"=x\""),
        (entry(b"service.env\tweb\t-", b"-"), "invalid env entry \"-\""),
        // A leading `-` is always a removal, so `-A=B` is no assignment.
        (entry(b"service.env\tweb\t-A=B", b"-A=B"), "invalid env entry \"-A=B\""),
        (entry(b"service.env\tweb\tA=1\t\tB=2", b""), "invalid env entry \"\""),
        (entry(b"service.env\tweb\tA=1\t", b""), "invalid env entry \"\""),
        // The first bad entry is reported.
        (entry(b"service.env\tweb\tA\tB", b"A"), "invalid env entry \"A\""),
    ];
    bad_all(&rows.map(|(b, message)| Bad { message, ..b }));
    bad_all(&[bad(b"service.env\tweb\tA=\0", ParseError::NulByte, "command contains a NUL byte")]);
}

#[test]
fn service_cwd() {
    let cwd = |path| Command::ServiceCwd { name: n("web"), path };
    good_all(&[
        (b"service.cwd\tweb\t/srv/web", cwd(Some(b"/srv/web")), b"service.cwd\tweb\t/srv/web"),
        (b"service.cwd\tweb\tdata dir\r", cwd(Some(b"data dir\r")), b"service.cwd\tweb\tdata dir\r"),
        (b"service.cwd\tweb", cwd(None), b"service.cwd\tweb\t"),
        (b"service.cwd\tweb\t", cwd(None), b"service.cwd\tweb\t"),
    ]);
    let extra = |line| bad(line, ParseError::UnexpectedArgAfterPath, "unexpected argument after path").svc("web");
    bad_all(&[extra(b"service.cwd\tweb\t/a\tb"), extra(b"service.cwd\tweb\t/a\t"), extra(b"service.cwd\tweb\t\t")]);
}

#[test]
fn service_user() {
    let user = |uid, gid, groups: &'static [u8]| Command::ServiceUser {
        name: n("web"),
        user: Some(UserIds {
            uid,
            gid,
            groups: if groups.is_empty() { Groups::NONE } else { Groups::new(groups).unwrap() },
        }),
    };
    good_all(&[
        (b"service.user\tweb\t65534\t65534", user(65534, 65534, b""), b"service.user\tweb\t65534\t65534"),
        (b"service.user\tweb\t0\t0\t10\t20", user(0, 0, b"10\t20"), b"service.user\tweb\t0\t0\t10\t20"),
        (b"service.user\tweb\t007\t08", user(7, 8, b""), b"service.user\tweb\t7\t8"),
        (
            b"service.user\tweb\t4294967294\t4294967294\t4294967294",
            user(u32::MAX - 1, u32::MAX - 1, b"4294967294"),
            b"service.user\tweb\t4294967294\t4294967294\t4294967294",
        ),
        (b"service.user\tweb", Command::ServiceUser { name: n("web"), user: None }, b"service.user\tweb\t"),
        (b"service.user\tweb\t", Command::ServiceUser { name: n("web"), user: None }, b"service.user\tweb\t"),
    ]);
    let Ok(Command::ServiceUser { user: Some(ids), .. }) = Command::parse(b"service.user\tweb\t1\t2\t3\t4") else {
        panic!()
    };
    assert_eq!(ids.groups.iter().collect::<Vec<_>>(), [3, 4]);
    let uid = |line, item, message| bad(line, ParseError::InvalidUid, message).item(item).svc("web");
    let gid = |line, item, message| bad(line, ParseError::InvalidGid, message).item(item).svc("web");
    bad_all(&[
        uid(b"service.user\tweb\tnobody\tnogroup", b"nobody", "invalid uid \"nobody\""),
        uid(b"service.user\tweb\t-1\t0", b"-1", "invalid uid \"-1\""),
        uid(b"service.user\tweb\t+1\t0", b"+1", "invalid uid \"+1\""),
        uid(b"service.user\tweb\t\t0", b"", "invalid uid \"\""),
        // 4294967295 is `(uid_t)-1`, "unchanged" to the kernel.
        uid(b"service.user\tweb\t4294967295\t0", b"4294967295", "invalid uid \"4294967295\""),
        uid(
            b"service.user\tweb\t99999999999999999999\t0",
            b"99999999999999999999",
            "invalid uid \"99999999999999999999\"",
        ),
        bad(b"service.user\tweb\t0", ParseError::MissingGid, "missing gid argument").svc("web"),
        gid(b"service.user\tweb\t0\tstaff", b"staff", "invalid gid \"staff\""),
        gid(b"service.user\tweb\t0\t", b"", "invalid gid \"\""),
        gid(b"service.user\tweb\t0\t4294967296", b"4294967296", "invalid gid \"4294967296\""),
        gid(b"service.user\tweb\t0\t0\twheel", b"wheel", "invalid gid \"wheel\""),
        gid(b"service.user\tweb\t0\t0\t10\t", b"", "invalid gid \"\""),
        gid(b"service.user\tweb\t0\t0\t", b"", "invalid gid \"\""),
    ]);
}

#[test]
fn service_rlimit() {
    let limits = |raw: &'static [u8]| Command::ServiceRlimit { name: n("web"), limits: Rlimits::new(raw).unwrap() };
    good_all(&[
        (
            b"service.rlimit\tweb\tnofile=1024:4096\tcore=0:0",
            limits(b"nofile=1024:4096\tcore=0:0"),
            b"service.rlimit\tweb\tnofile=1024:4096\tcore=0:0",
        ),
        (
            b"service.rlimit\tweb\tas=1:unlimited\tcpu=unlimited:unlimited\tdata=5:5\tfsize=0:1",
            limits(b"as=1:unlimited\tcpu=unlimited:unlimited\tdata=5:5\tfsize=0:1"),
            b"service.rlimit\tweb\tas=1:unlimited\tcpu=unlimited:unlimited\tdata=5:5\tfsize=0:1",
        ),
        (
            b"service.rlimit\tweb\tmemlock=0:0\tnproc=64:128\tstack=8388608:18446744073709551614",
            limits(b"memlock=0:0\tnproc=64:128\tstack=8388608:18446744073709551614"),
            b"service.rlimit\tweb\tmemlock=0:0\tnproc=64:128\tstack=8388608:18446744073709551614",
        ),
        (b"service.rlimit\tweb", limits(b""), b"service.rlimit\tweb\t"),
        (b"service.rlimit\tweb\t", limits(b""), b"service.rlimit\tweb\t"),
    ]);
    let Ok(Command::ServiceRlimit { limits, .. }) = Command::parse(b"service.rlimit\tweb\tnofile=1024:unlimited")
    else {
        panic!()
    };
    assert_eq!(
        limits.iter().collect::<Vec<_>>(),
        [Rlimit { resource: Resource::Nofile, soft: Limit::Finite(1024), hard: Limit::Unlimited }]
    );
    let with = |line, error, item, message| bad(line, error, message).item(item).svc("web");
    let invalid = |line, item, message| with(line, ParseError::InvalidRlimit, item, message);
    let unknown = ParseError::UnknownRlimitResource;
    bad_all(&[
        with(b"service.rlimit\tweb\tbogus=1:2", unknown, b"bogus", "unknown rlimit resource \"bogus\""),
        with(b"service.rlimit\tweb\tNOFILE=1:2", unknown, b"NOFILE", "unknown rlimit resource \"NOFILE\""),
        with(b"service.rlimit\tweb\t=1:2", unknown, b"", "unknown rlimit resource \"\""),
        // The resource is checked before the values.
        with(b"service.rlimit\tweb\tbogus=x", unknown, b"bogus", "unknown rlimit resource \"bogus\""),
        invalid(b"service.rlimit\tweb\tnofile", b"nofile", "invalid rlimit \"nofile\""),
        invalid(b"service.rlimit\tweb\tnofile=1", b"nofile=1", "invalid rlimit \"nofile=1\""),
        invalid(b"service.rlimit\tweb\tnofile=a:1", b"nofile=a:1", "invalid rlimit \"nofile=a:1\""),
        invalid(b"service.rlimit\tweb\tnofile=1:", b"nofile=1:", "invalid rlimit \"nofile=1:\""),
        invalid(b"service.rlimit\tweb\tnofile=:1", b"nofile=:1", "invalid rlimit \"nofile=:1\""),
        invalid(b"service.rlimit\tweb\tnofile=-1:1", b"nofile=-1:1", "invalid rlimit \"nofile=-1:1\""),
        invalid(b"service.rlimit\tweb\tnofile=1:2:3", b"nofile=1:2:3", "invalid rlimit \"nofile=1:2:3\""),
        invalid(b"service.rlimit\tweb\tcore=0:0\t", b"", "invalid rlimit \"\""),
        // 18446744073709551615 is RLIM_INFINITY: it is spelled `unlimited`.
        invalid(
            b"service.rlimit\tweb\tcore=0:18446744073709551615",
            b"core=0:18446744073709551615",
            "invalid rlimit \"core=0:18446744073709551615\"",
        ),
        with(
            b"service.rlimit\tweb\tnofile=10:5",
            ParseError::RlimitSoftAboveHard,
            b"nofile",
            "rlimit soft above hard for nofile",
        ),
        with(
            b"service.rlimit\tweb\tcpu=unlimited:10",
            ParseError::RlimitSoftAboveHard,
            b"cpu",
            "rlimit soft above hard for cpu",
        ),
        with(
            b"service.rlimit\tweb\tcore=0:0\tcore=1:1",
            ParseError::DuplicateRlimit,
            b"core",
            "duplicate rlimit resource \"core\"",
        ),
        // The first bad entry is reported.
        with(b"service.rlimit\tweb\tbogus=1:2\tnofile=9:1", unknown, b"bogus", "unknown rlimit resource \"bogus\""),
    ]);
}

#[test]
fn service_umask() {
    let umask = |bits| Command::ServiceUmask { name: n("web"), umask: Some(Umask::new(bits).unwrap()) };
    good_all(&[
        (b"service.umask\tweb\t027", umask(0o27), b"service.umask\tweb\t027"),
        // Canonical form: exactly three octal digits.
        (b"service.umask\tweb\t27", umask(0o27), b"service.umask\tweb\t027"),
        (b"service.umask\tweb\t0027", umask(0o27), b"service.umask\tweb\t027"),
        (b"service.umask\tweb\t0", umask(0), b"service.umask\tweb\t000"),
        (b"service.umask\tweb\t777", umask(0o777), b"service.umask\tweb\t777"),
        (b"service.umask\tweb\t0000000777", umask(0o777), b"service.umask\tweb\t777"),
        (b"service.umask\tweb", Command::ServiceUmask { name: n("web"), umask: None }, b"service.umask\tweb\t"),
        (b"service.umask\tweb\t", Command::ServiceUmask { name: n("web"), umask: None }, b"service.umask\tweb\t"),
    ]);
    let mode = |line, item, message| bad(line, ParseError::InvalidUmask, message).item(item).svc("web");
    bad_all(&[
        mode(b"service.umask\tweb\t9", b"9", "invalid umask \"9\""),
        mode(b"service.umask\tweb\t8", b"8", "invalid umask \"8\""),
        mode(b"service.umask\tweb\t1000", b"1000", "invalid umask \"1000\""),
        mode(b"service.umask\tweb\t0o27", b"0o27", "invalid umask \"0o27\""),
        mode(b"service.umask\tweb\t-1", b"-1", "invalid umask \"-1\""),
        mode(b"service.umask\tweb\tu=rwx", b"u=rwx", "invalid umask \"u=rwx\""),
        mode(b"service.umask\tweb\t\tx", b"", "invalid umask \"\""),
        bad(b"service.umask\tweb\t027\tx", ParseError::UnexpectedArgument, "unexpected argument \"x\"")
            .item(b"x")
            .svc("web"),
        bad(b"service.umask\tweb\t027\t", ParseError::UnexpectedArgument, "unexpected argument \"\"")
            .item(b"")
            .svc("web"),
    ]);
}

// ------------------------------------ extensions: readiness and socket activation

#[test]
fn service_notify() {
    let notify = |mode| Command::ServiceNotify { name: n("web"), mode };
    good_all(&[
        (b"service.notify\tweb\tfd\t3", notify(Some(NotifyMode::Fd(3))), b"service.notify\tweb\tfd\t3"),
        (b"service.notify\tweb\tfd\t1023", notify(Some(NotifyMode::Fd(1023))), b"service.notify\tweb\tfd\t1023"),
        (b"service.notify\tweb\tfd\t007", notify(Some(NotifyMode::Fd(7))), b"service.notify\tweb\tfd\t7"),
        (b"service.notify\tweb\tsocket", notify(Some(NotifyMode::Socket)), b"service.notify\tweb\tsocket"),
        (b"service.notify\tweb", notify(None), b"service.notify\tweb\t"),
        (b"service.notify\tweb\t", notify(None), b"service.notify\tweb\t"),
    ]);
    assert_eq!(NOTIFY_FDS, 3..1024);
    let fd = |line, item, message| bad(line, ParseError::InvalidNotifyFd, message).item(item).svc("web");
    let mode = |line, item, message| bad(line, ParseError::UnknownNotifyMode, message).item(item).svc("web");
    let extra = |line, item, message| bad(line, ParseError::UnexpectedArgument, message).item(item).svc("web");
    bad_all(&[
        bad(b"service.notify\tweb\tfd", ParseError::MissingArgument, "missing argument").svc("web"),
        fd(b"service.notify\tweb\tfd\t", b"", "invalid notify fd \"\""),
        fd(b"service.notify\tweb\tfd\t2", b"2", "invalid notify fd \"2\""),
        fd(b"service.notify\tweb\tfd\t0", b"0", "invalid notify fd \"0\""),
        fd(b"service.notify\tweb\tfd\t1024", b"1024", "invalid notify fd \"1024\""),
        fd(b"service.notify\tweb\tfd\t-3", b"-3", "invalid notify fd \"-3\""),
        fd(b"service.notify\tweb\tfd\tx", b"x", "invalid notify fd \"x\""),
        mode(b"service.notify\tweb\tpipe", b"pipe", "unknown notify mode \"pipe\""),
        mode(b"service.notify\tweb\tSocket", b"Socket", "unknown notify mode \"Socket\""),
        mode(b"service.notify\tweb\t3", b"3", "unknown notify mode \"3\""),
        mode(b"service.notify\tweb\t\tsocket", b"", "unknown notify mode \"\""),
        extra(b"service.notify\tweb\tsocket\tx", b"x", "unexpected argument \"x\""),
        extra(b"service.notify\tweb\tfd\t3\t", b"", "unexpected argument \"\""),
    ]);
}

#[test]
fn service_listen_fds_and_conn_extended() {
    good_all(&[
        (
            b"service.listen_fds\tweb\ton",
            Command::ServiceListenFds { name: n("web"), on: true },
            b"service.listen_fds\tweb\ton",
        ),
        (
            b"service.listen_fds\tweb\toff",
            Command::ServiceListenFds { name: n("web"), on: false },
            b"service.listen_fds\tweb\toff",
        ),
        (b"conn.extended\ton", Command::ConnExtended { on: true }, b"conn.extended\ton"),
        (b"conn.extended\toff", Command::ConnExtended { on: false }, b"conn.extended\toff"),
    ]);
    let onoff = |line| bad(line, ParseError::ExpectedOnOff, "expected on or off");
    bad_all(&[
        onoff(b"service.listen_fds\tweb").svc("web"),
        onoff(b"service.listen_fds\tweb\t").svc("web"),
        onoff(b"service.listen_fds\tweb\tyes").svc("web"),
        onoff(b"service.listen_fds\tweb\tON").svc("web"),
        bad(b"service.listen_fds\tweb\ton\tx", ParseError::UnexpectedArgument, "unexpected argument \"x\"")
            .item(b"x")
            .svc("web"),
        onoff(b"conn.extended"),
        onoff(b"conn.extended\t"),
        onoff(b"conn.extended\t1"),
        bad(b"conn.extended\toff\t", ParseError::UnexpectedArgument, "unexpected argument \"\"").item(b""),
    ]);
}

// ------------------------------------------------------ extensions: live upgrade

#[test]
fn reexec() {
    good_all(&[
        (b"reexec", Command::Reexec { args: b"" }, b"reexec"),
        (b"reexec\t", Command::Reexec { args: b"" }, b"reexec"),
        (
            b"reexec\t/usr/sbin/daemonproxy",
            Command::Reexec { args: b"/usr/sbin/daemonproxy" },
            b"reexec\t/usr/sbin/daemonproxy",
        ),
        (b"reexec\t/bin/dp\t-i\t\tx\t", Command::Reexec { args: b"/bin/dp\t-i\t\tx\t" }, b"reexec\t/bin/dp\t-i\t\tx\t"),
    ]);
    // No 255-byte limit (that is `terminate.exec_args`'s buffer).
    let mut line = b"reexec\t".to_vec();
    line.extend_from_slice(&[b'a'; 900]);
    let Ok(Command::Reexec { args }) = Command::parse(&line) else { panic!("long arguments fit") };
    assert_eq!(args.len(), 900);
    bad_all(&[bad(b"reexec\t\t-i", ParseError::MissingPath, "missing path argument")]);
}

/// A setting command's canonical line is the event that echoes it, and
/// every message fits the 63-byte cut without its item.
#[test]
fn setting_commands_encode_as_their_event() {
    for line in [
        &b"service.args\tweb\tsleep\t30"[..],
        b"service.tags\tweb\t",
        b"service.fds\tweb\tnull\tnull\tnull",
        b"service.env\tweb\tA=1\t-B",
        b"service.cwd\tweb\t/srv",
        b"service.user\tweb\t1\t2\t3",
        b"service.rlimit\tweb\tnofile=1:2",
        b"service.umask\tweb\t022",
        b"service.notify\tweb\tfd\t3",
        b"service.listen_fds\tweb\ton",
        b"service.env\tweb\t",
        b"service.cwd\tweb\t",
        b"service.user\tweb\t",
        b"service.rlimit\tweb\t",
        b"service.umask\tweb\t",
        b"service.notify\tweb\t",
    ] {
        let cmd = Command::parse(line).unwrap();
        let ev = cmd.setting_event().unwrap_or_else(|| panic!("{:?} has an event", show(line)));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        cmd.encode(&mut a);
        ev.encode(&mut b);
        assert_eq!(show(&a), show(&b));
        assert_eq!(&a[..a.len() - 1], line);
        assert_eq!(Event::parse(line), Ok(ev));
    }
    for line in [&b"service.auto_up\tweb\t5"[..], b"conn.extended\ton", b"reexec", b"service.start\tweb"] {
        assert_eq!(Command::parse(line).unwrap().setting_event(), None, "{:?}", show(line));
    }
}

#[test]
fn error_events_of_extension_errors() {
    let reply = |line: &[u8]| {
        let err = Command::parse(line).unwrap_err();
        let mut msg = Vec::new();
        err.write_message(&mut msg);
        error_event(&msg, line)
    };
    assert_eq!(
        reply(b"service.rlimit\tweb\tnofile=10:5"),
        "error\trlimit soft above hard for nofile, for command \"service.rlimit\tweb\tnofile=10:5...\"\n"
    );
    assert_eq!(reply(b"service.umask\tw\t9"), "error\tinvalid umask \"9\", for command \"service.umask\tw\t9\"\n");
    // A long item is cut with the message at 63 bytes.
    let mut line = b"service.env\tweb\t".to_vec();
    line.extend_from_slice(&[b'V'; 80]);
    let out = reply(&line);
    let want = format!("invalid env entry \"{}", "V".repeat(63 - "invalid env entry \"".len()));
    assert!(out.starts_with(&format!("error\t{want}, for command ")), "{out}");
    for e in [
        ParseError::UnexpectedArgument,
        ParseError::InvalidEnvEntry,
        ParseError::InvalidUid,
        ParseError::InvalidGid,
        ParseError::MissingGid,
        ParseError::UnknownRlimitResource,
        ParseError::InvalidRlimit,
        ParseError::RlimitSoftAboveHard,
        ParseError::DuplicateRlimit,
        ParseError::InvalidUmask,
        ParseError::UnknownNotifyMode,
        ParseError::InvalidNotifyFd,
        ParseError::ExpectedOnOff,
    ] {
        // Room for a short item within the 63 bytes.
        assert!(e.message().len() <= 40, "{e}");
    }
}
