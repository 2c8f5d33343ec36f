//! The blocking controller client against canned event streams: sync
//! tokens, a full statedump, events interleaved with a dump,
//! `overflow`, over-long lines, end of input, the checks on outgoing
//! lines, and the snapshot of the extensions' settings and readiness. (The
//! client against a real daemon: tests/e2e/examples.rs.)

use daemonproxy_proto::{
    AutoUp, Client, Command, Credentials, EnvEntry, Event, ExitReason, HandleInfo, Limit, Name, NotifyMode, OpenFlags,
    OwnedEvent, Readiness, Resource, Rlimit, ServiceInfo, ServiceState, Signal, SignalInfo, Snapshot, Special,
    StartWhen, Trigger, Umask,
};
use std::io::{self, Cursor, Read};

fn client(input: &str) -> Client<Cursor<Vec<u8>>, Vec<u8>> {
    Client::new(Cursor::new(input.as_bytes().to_vec()), Vec::new())
}

fn written<R: Read>(c: Client<R, Vec<u8>>) -> String {
    String::from_utf8(c.into_parts().1).unwrap()
}

fn lines(events: &[OwnedEvent]) -> Vec<String> {
    events.iter().map(|e| e.to_string()).collect()
}

fn rest<R: Read>(c: &mut Client<R, Vec<u8>>) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(e) = c.next_event().unwrap() {
        v.push(e.to_string());
    }
    v
}

/// A reader that gives at most `chunk` bytes per read and fails every
/// other read with `Interrupted`.
struct Trickle {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    calls: usize,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 2 == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = self.chunk.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn trickle(input: &[u8], chunk: usize) -> Client<Trickle, Vec<u8>> {
    Client::new(Trickle { data: input.to_vec(), pos: 0, chunk, calls: 0 }, Vec::new())
}

/// A statedump with every kind of line, the daemon's side.
const B2_DUMP: &str = "fd.state\tcontrol.cmd\tspecial\twrite\tdaemonproxy command pipe
fd.state\tcontrol.event\tspecial\tread\tdaemonproxy event stream
fd.state\tcontrol.socket\tspecial\tread,write\tdaemonproxy control socket
fd.state\tnull\tspecial\tread,write\t/dev/null
fd.state\tstderr\tfile\twrite\tunknown
fd.state\tstdin\tfile\tread\tunknown
fd.state\tstdout\tfile\twrite\tunknown
service.state\tfoo\tdown\t699\t14268\tsignal\tSIGTERM\t4\t12
service.tags\tfoo\t
service.args\tfoo\tsleep\t30
service.fds\tfoo\tnull\tnull\tnull
service.auto_up\tfoo\t-
signal\tSIGHUP\t846\t1
";

fn file(read: bool, write: bool, description: &str) -> HandleInfo {
    HandleInfo::File { flags: OpenFlags { read, write, ..OpenFlags::default() }, description: description.into() }
}

// ------------------------------------------------------------------ sync

#[test]
fn sync_returns_the_events_before_its_token() {
    let mut c =
        client("service.args\tweb\tsleep\t30\nerror\tNo such service, for command \"x\"\n--client-sync-0--\nlater\n");
    let web = Name::from_text("web").unwrap();
    c.send(&Command::ServiceArgs { name: web, args: b"sleep\t30" }).unwrap();
    let events = c.sync().unwrap();
    assert_eq!(lines(&events), ["service.args\tweb\tsleep\t30", "error\tNo such service, for command \"x\""]);
    assert_eq!(rest(&mut c), ["later"], "what follows the token is left for next_event");
    assert_eq!(written(c), "service.args\tweb\tsleep\t30\necho\t--client-sync-0--\n");
}

#[test]
fn tokens_count_up_and_only_pending_ones_are_swallowed() {
    // Token 1 is not pending during the first sync, so it is an event there;
    // the lines that only look like tokens are events too.
    let input = "--client-sync-1--\n--client-sync-0--\n--client-sync-x--\n--client-sync-01--\n--client-sync-1--\n";
    let mut c = client(input);
    assert_eq!(lines(&c.sync().unwrap()), ["--client-sync-1--"]);
    assert_eq!(lines(&c.sync().unwrap()), ["--client-sync-x--", "--client-sync-01--"]);
    assert!(c.next_event().unwrap().is_none());
    assert_eq!(written(c), "echo\t--client-sync-0--\necho\t--client-sync-1--\n");
}

#[test]
fn sync_at_end_of_input_is_unexpected_eof() {
    let mut c = client("service.state\tweb\tstart\t695\t-\t-\t-\t-\t-\n--client-sync-");
    let err = c.sync().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert!(c.next_event().unwrap().is_none(), "the partial last line is dropped");
}

#[test]
fn sync_after_overflow_sends_another_token_and_swallows_the_late_one() {
    // The first token survived the overflow here; the second one comes back
    // later and must not show up as an event.
    let input = "service.state\tweb\tstart\t695\t-\t-\t-\t-\t-\noverflow\n--client-sync-0--\nx\n--client-sync-1--\ny\n";
    let mut c = client(input);
    let events = c.sync().unwrap();
    assert_eq!(lines(&events), ["service.state\tweb\tstart\t695\t-\t-\t-\t-\t-", "overflow"]);
    assert_eq!(events[1].event(), Ok(Event::Overflow));
    assert!(c.take_lost(), "overflow is noted");
    assert!(!c.take_lost(), "and taken");
    assert_eq!(rest(&mut c), ["x", "y"]);
    assert_eq!(written(c), "echo\t--client-sync-0--\necho\t--client-sync-1--\n");
}

#[test]
fn sync_after_overflow_does_not_wait_for_a_dropped_token() {
    // Token 0 was dropped with the overflow; token 1 ends the sync.
    let mut c = client("overflow\n--client-sync-1--\n");
    assert_eq!(lines(&c.sync().unwrap()), ["overflow"]);
    assert!(c.take_lost());
}

/// A reader whose data comes in scripted steps: `Ok(bytes)` is returned
/// by one read, `Err(kind)` fails one read, as a socket with a read
/// timeout does while the daemon is quiet.
struct Scripted(std::collections::VecDeque<Result<&'static [u8], io::ErrorKind>>);

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.pop_front() {
            None => Ok(0),
            Some(Err(kind)) => Err(kind.into()),
            Some(Ok(bytes)) => {
                buf[..bytes.len()].copy_from_slice(bytes);
                Ok(bytes.len())
            }
        }
    }
}

#[test]
fn next_before_stops_at_its_mark_and_keeps_the_rest() {
    let mut c = client("a\n--client-sync-0--\nb\n--client-sync-1--\nc\n");
    let first = c.send_sync().unwrap();
    let second = c.send_sync().unwrap();
    assert_ne!(first, second);
    assert_eq!(c.next_before(first).unwrap().map(|e| e.to_string()).as_deref(), Some("a"));
    assert!(c.next_before(first).unwrap().is_none());
    assert!(c.next_before(first).unwrap().is_none(), "a reached mark stays reached");
    assert_eq!(c.next_before(second).unwrap().map(|e| e.to_string()).as_deref(), Some("b"));
    assert!(c.next_before(second).unwrap().is_none());
    assert_eq!(rest(&mut c), ["c"]);
    assert_eq!(written(c), "echo\t--client-sync-0--\necho\t--client-sync-1--\n");
}

#[test]
fn next_before_a_later_mark_passes_an_earlier_token() {
    // Waiting for the second mark swallows the first token on the way.
    let mut c = client("a\n--client-sync-0--\nb\n--client-sync-1--\n");
    let first = c.send_sync().unwrap();
    let second = c.send_sync().unwrap();
    let mut got = Vec::new();
    while let Some(e) = c.next_before(second).unwrap() {
        got.push(e.to_string());
    }
    assert_eq!(got, ["a", "b"]);
    assert!(c.next_before(first).unwrap().is_none());
}

#[test]
fn read_timeouts_leave_the_client_intact() {
    use io::ErrorKind::{TimedOut, WouldBlock};
    let steps = [
        Err(WouldBlock),
        Ok(&b"service.state\tweb\tup\t695\t14268"[..]),
        Err(TimedOut),
        Ok(b"\t-\t-\t0\t-\nerr"),
        Err(WouldBlock),
        Ok(b"or\tx\n--client-sync-"),
        Err(TimedOut),
        Ok(b"0--\nlast\n"),
    ];
    let mut c = Client::new(Scripted(steps.into_iter().collect()), Vec::new());
    let mark = c.send_sync().unwrap();
    let mut got = Vec::new();
    let mut timeouts = 0;
    loop {
        match c.next_before(mark) {
            Ok(Some(e)) => got.push(e.to_string()),
            Ok(None) => break,
            Err(e) => {
                assert!(matches!(e.kind(), WouldBlock | TimedOut), "{e}");
                timeouts += 1;
            }
        }
    }
    assert_eq!(timeouts, 4);
    assert_eq!(got, ["service.state\tweb\tup\t695\t14268\t-\t-\t0\t-", "error\tx"]);
    assert_eq!(rest(&mut c), ["last"]);
}

#[test]
fn next_before_at_end_of_input_is_unexpected_eof() {
    let mut c = client("a\n");
    let mark = c.send_sync().unwrap();
    assert_eq!(c.next_before(mark).unwrap().map(|e| e.to_string()).as_deref(), Some("a"));
    assert_eq!(c.next_before(mark).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn next_before_after_overflow_ends_at_the_new_token() {
    let mut c = client("overflow\n--client-sync-1--\n");
    let mark = c.send_sync().unwrap();
    assert_eq!(c.next_before(mark).unwrap().map(|e| e.to_string()).as_deref(), Some("overflow"));
    assert!(c.next_before(mark).unwrap().is_none());
    assert_eq!(written(c), "echo\t--client-sync-0--\necho\t--client-sync-1--\n");
}

// ------------------------------------------------------------- statedump

#[test]
fn statedump_of_appendix_b2() {
    let mut c = client(&format!("{B2_DUMP}--client-sync-0--\n"));
    let snap = c.statedump().unwrap();
    assert_eq!(written(c), "statedump\necho\t--client-sync-0--\n");

    let handles: Vec<(&str, &HandleInfo)> = snap.handles.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(
        handles,
        [
            ("control.cmd", &HandleInfo::Special(Special::ControlCmd)),
            ("control.event", &HandleInfo::Special(Special::ControlEvent)),
            ("control.socket", &HandleInfo::Special(Special::ControlSocket)),
            ("null", &HandleInfo::Special(Special::Null)),
            ("stderr", &file(false, true, "unknown")),
            ("stdin", &file(true, false, "unknown")),
            ("stdout", &file(false, true, "unknown")),
        ]
    );
    assert_eq!(snap.handles["stderr"].kind(), "file");
    assert_eq!(snap.services.len(), 1);
    let foo = &snap.services["foo"];
    assert_eq!(
        *foo,
        ServiceInfo {
            state: ServiceState::Exited {
                at: 699,
                pid: 14268,
                reason: ExitReason::Signal(Signal::TERM),
                uptime: 4,
                downtime: 12
            },
            args: b"sleep\t30".to_vec(),
            tags: Vec::new(),
            fds: b"null\tnull\tnull".to_vec(),
            auto_up: None,
            ..ServiceInfo::default()
        }
    );
    assert_eq!(foo.argv().collect::<Vec<_>>(), [&b"sleep"[..], b"30"]);
    assert_eq!(foo.tag_list().count(), 0);
    assert!(foo.fd_list().unwrap().is_default());
    assert_eq!(foo.pid(), None);
    assert_eq!(snap.signals, [SignalInfo { signal: Signal::HUP, at: 846, count: 1 }]);
    assert!(snap.other.is_empty());
    assert_eq!(snap.discarded, 0);
}

#[test]
fn statedump_the_same_in_any_chunking() {
    let input = format!("{B2_DUMP}--client-sync-0--\n");
    let whole = client(&input).statedump().unwrap();
    for chunk in [1, 2, 7, 100] {
        assert_eq!(trickle(input.as_bytes(), chunk).statedump().unwrap(), whole, "chunk {chunk}");
    }
}

#[test]
fn statedump_applies_interleaved_events_in_order() {
    let input = "\
service.state\tweb\tstart\t900\t-\t-\t-\t-\t-
fd.state\tnull\tspecial\tread,write\t/dev/null
service.state\tdb\tup\t880\t101\t-\t-\t20\t-
service.tags\tdb\t
service.args\tdb\tpostgres
service.fds\tdb\tnull\tlog.w\tlog.w
service.auto_up\tdb\t5\talways\tSIGHUP
service.state\tweb\tup\t900\t102\t-\t-\t0\t-
service.state\tdb\tdown\t900\t101\texit\t1\t20\t0
service.state\tweb\tup\t900\t102\t-\t-\t0\t-
service.tags\tweb\t
service.args\tweb\tsleep\t30
service.fds\tweb\tnull\tnull\tnull
service.auto_up\tweb\t-
service.state\told\tdeleted\t-\t-\t-\t-\t-\t-
service.args\tnew\ttrue
error\tservice.start: no args configured for service
warning: fd \"log.w\" is not yet defined
signal\tSIGUSR1\t890\t1
signal\tSIGHUP\t895\t2
signal\tSIGUSR1\t901\t2
service.state\tweb\tdeleted\t-\t-\t-\t-\t-\t-
service.state\tbogus
--somebody-else--
--client-sync-0--
";
    let snap = client(input).statedump().unwrap();
    let names: Vec<&str> = snap.services.keys().map(String::as_str).collect();
    assert_eq!(names, ["db", "new"], "web was deleted after its dump lines, new was created");
    let db = &snap.services["db"];
    assert_eq!(
        db.state,
        ServiceState::Exited { at: 900, pid: 101, reason: ExitReason::Exit(1), uptime: 20, downtime: 0 },
        "the down event after db's dump lines wins"
    );
    assert_eq!(db.fds, b"null\tlog.w\tlog.w");
    assert_eq!(db.auto_up, Some(AutoUp { interval: 5, triggers: vec![Trigger::Always, Trigger::Signal(Signal::HUP)] }));
    assert_eq!(snap.services["new"], ServiceInfo { args: b"true".to_vec(), ..ServiceInfo::default() });
    assert_eq!(
        snap.signals,
        [SignalInfo { signal: Signal::HUP, at: 895, count: 2 }, SignalInfo { signal: Signal::USR1, at: 901, count: 2 }],
        "a newer reception moves to the end"
    );
    assert_eq!(snap.signal_count(Signal::USR1), 2);
    assert_eq!(
        lines(&snap.other),
        [
            "error\tservice.start: no args configured for service",
            "warning: fd \"log.w\" is not yet defined",
            "service.state\tbogus",
            "--somebody-else--",
        ]
    );
}

#[test]
fn statedump_starts_over_after_overflow() {
    let input = "\
fd.state\tnull\tspecial\tread,write\t/dev/null
service.state\tgone\tdown\t-\t-\t-\t-\t-\t-
overflow
--client-sync-0--
service.state\tfoo\tstart\t700\t-\t-\t-\t-\t-
fd.state\tnull\tspecial\tread,write\t/dev/null
service.state\tfoo\tstart\t700\t-\t-\t-\t-\t-
service.tags\tfoo\t
service.args\tfoo\tsleep\t1
service.fds\tfoo\tnull\tnull\tnull
service.auto_up\tfoo\t-
--client-sync-1--
after
";
    let mut c = client(input);
    let snap = c.statedump().unwrap();
    assert!(!snap.services.contains_key("gone"), "the cut dump is thrown away");
    assert_eq!(snap.services["foo"].state, ServiceState::Start { at: 700 });
    assert_eq!(snap.handles.len(), 1);
    assert!(!c.take_lost(), "a complete dump clears the lost flag");
    assert_eq!(rest(&mut c), ["after"]);
    assert_eq!(written(c), "statedump\necho\t--client-sync-0--\nstatedump\necho\t--client-sync-1--\n");
}

#[test]
fn statedump_gives_up_after_repeated_overflow() {
    let mut c = client(&"overflow\n".repeat(8));
    let err = c.statedump().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other);
    assert!(err.to_string().contains("overflow"), "{err}");
    assert_eq!(written(c).matches("statedump\n").count(), 8);
}

#[test]
fn statedump_at_end_of_input_is_unexpected_eof() {
    let err = client(B2_DUMP).statedump().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

// --------------------------------------------------------- long lines

#[test]
fn overlong_lines_are_discarded_and_noted() {
    // Events may be longer than commands (fd.state spells out the flags of
    // a path that filled a command line): they are kept up to 4095 bytes.
    let path = format!("/{}", "p".repeat(1010));
    let fd_state = format!("fd.state\tf\tfile\tread,write,append,create,trunc,nonblock,mkdir\t{path}");
    assert!(fd_state.len() > 1023);
    let long = format!("service.args\tx\t{}", "a".repeat(4100));
    for chunk in [1, 5, 4096] {
        let input = format!("first\n{long}\n{fd_state}\nservice.args\tx\tok\n--client-sync-0--\n");
        let mut c = trickle(input.as_bytes(), chunk);
        assert_eq!(c.next_event().unwrap().unwrap().line(), b"first");
        assert!(!c.take_lost());
        let snap = c.statedump().unwrap();
        assert_eq!(snap.discarded, 1, "chunk {chunk}");
        assert_eq!(snap.services["x"].args, b"ok");
        assert!(matches!(&snap.handles["f"], HandleInfo::File { description, .. } if *description == path.as_bytes()));
    }
    // Longer than the framer's whole buffer.
    let input = format!("{}\nnext\n", "b".repeat(40_000));
    let mut c = trickle(input.as_bytes(), 3000);
    assert_eq!(c.next_event().unwrap().unwrap().line(), b"next");
    assert!(c.take_lost());
    assert!(c.next_event().unwrap().is_none());
    // Exactly the longest line is kept.
    let max = "c".repeat(4095);
    assert_eq!(rest(&mut client(&format!("{max}\n{max}c\n"))), [max]);
}

// ------------------------------------------------------- outgoing lines

#[test]
fn outgoing_lines_are_checked() {
    let mut c = client("");
    let name = Name::from_text("web").unwrap();
    let long = vec![b'a'; 1023 - "service.args\tweb\t".len()];
    c.send(&Command::ServiceArgs { name, args: &long }).unwrap();
    let too_long = vec![b'a'; long.len() + 1];
    let err = c.send(&Command::ServiceArgs { name, args: &too_long }).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = c.send(&Command::ServiceArgs { name, args: b"sh\n-c\texit" }).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(c.send_line(b"echo\ta\nexit").unwrap_err().kind(), io::ErrorKind::InvalidInput);
    c.send(&Command::ServiceStart { name, when: StartWhen::Cancel }).unwrap();
    c.send_line(b"service.signal\tweb\tSIGTERM\tgroup").unwrap();
    let out = written(c);
    let sent: Vec<&str> = out.lines().collect();
    assert_eq!(sent.len(), 3, "nothing of the refused lines was sent");
    assert_eq!(sent[0].len(), 1023);
    assert_eq!(&sent[1..], ["service.start\tweb\t-", "service.signal\tweb\tSIGTERM\tgroup"]);
}

// --------------------------------------------------- Snapshot::apply

fn apply_all(snap: &mut Snapshot, input: &str) {
    for line in input.lines() {
        assert!(snap.apply(&Event::parse(line.as_bytes()).unwrap()), "{line}");
    }
}

fn peer(snap: &Snapshot, name: &str) -> Option<String> {
    match &snap.handles[name] {
        HandleInfo::Pipe { peer, .. } => peer.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

#[test]
fn replaced_and_deleted_pipe_ends_orphan_their_peer() {
    let mut snap = Snapshot::default();
    // fd.pipe a b, then fd.pipe a c: b's peer is gone.
    apply_all(&mut snap, "fd.state\ta\tpipe\tfrom\tb\nfd.state\tb\tpipe\tto\ta\n");
    apply_all(&mut snap, "fd.state\ta\tpipe\tfrom\tc\nfd.state\tc\tpipe\tto\ta\n");
    assert_eq!((peer(&snap, "a"), peer(&snap, "b"), peer(&snap, "c")), (Some("c".into()), None, Some("a".into())));
    // fd.pipe d a: the new read end d names a before a's own line arrives.
    apply_all(&mut snap, "fd.state\td\tpipe\tfrom\ta\nfd.state\ta\tpipe\tto\td\n");
    assert_eq!((peer(&snap, "a"), peer(&snap, "c"), peer(&snap, "d")), (Some("d".into()), None, Some("a".into())));
    // A dump repeating the same lines changes nothing.
    let before = snap.clone();
    apply_all(&mut snap, "fd.state\ta\tpipe\tto\td\nfd.state\td\tpipe\tfrom\ta\n");
    assert_eq!(snap, before);
    // fd.delete a.
    apply_all(&mut snap, "fd.state\ta\tdeleted\n");
    assert!(!snap.handles.contains_key("a"));
    assert_eq!(peer(&snap, "d"), None);
}

#[test]
fn services_are_created_by_any_event_and_removed_by_deleted() {
    let mut snap = Snapshot::default();
    apply_all(&mut snap, "service.auto_up\tw\t0\tSIGUSR1\n");
    assert_eq!(snap.services["w"].auto_up, Some(AutoUp { interval: 0, triggers: vec![Trigger::Signal(Signal::USR1)] }));
    assert_eq!(snap.services["w"].state, ServiceState::Down);
    apply_all(&mut snap, "service.auto_up\tw\t-\nservice.fds\tw\t\n");
    assert_eq!(snap.services["w"].auto_up, None);
    assert!(snap.services["w"].fds.is_empty());
    assert_eq!(snap.services["w"].fd_list().unwrap().entries().count(), 0);
    apply_all(&mut snap, "service.state\tw\tdeleted\t-\t-\t-\t-\t-\t-\n");
    assert!(snap.services.is_empty());
    for not_state in ["overflow", "log.filter\tdebug", "info\thello", "--token--", "error\tx"] {
        assert!(!snap.apply(&Event::parse(not_state.as_bytes()).unwrap()), "{not_state}");
    }
    assert_eq!(snap, Snapshot::default());
}

// ------------------------------------------- extensions (issues 11 and 12)

#[test]
fn statedump_collects_process_settings_and_readiness_per_service() {
    let input = "\
service.state\tweb\tup\t1100\t4242\t-\t-\t100\t-
service.tags\tweb\t
service.args\tweb\thttpd
service.fds\tweb\tnull\tnull\tnull\tweb.sock
service.auto_up\tweb\t-
service.env\tweb\tLANG=C\t-TZ
service.cwd\tweb\t/srv/web
service.user\tweb\t33\t33\t4
service.rlimit\tweb\tnofile=4096:4096\tcore=0:unlimited
service.umask\tweb\t027
service.notify\tweb\tfd\t3
service.listen_fds\tweb\ton
service.ready\tweb\t1101\t4242
service.state\tdb\tdown\t-\t-\t-\t-\t-\t-
service.tags\tdb\t
service.args\tdb\tpostgres
service.fds\tdb\tnull\tnull\tnull
service.auto_up\tdb\t-
service.notify\tdb\t7\t99\tSTATUS=starting
service.rusage\tdb\t900\t1\t2\t3
orphan.exit\t77\t901\texit\t0
--client-sync-0--
";
    let snap = client(input).statedump().unwrap();
    let web = &snap.services["web"];
    assert_eq!(
        *web,
        ServiceInfo {
            state: ServiceState::Up { since: 1100, pid: 4242, uptime: 100 },
            args: b"httpd".to_vec(),
            fds: b"null\tnull\tnull\tweb.sock".to_vec(),
            env: b"LANG=C\t-TZ".to_vec(),
            cwd: Some(b"/srv/web".to_vec()),
            user: Some(Credentials { uid: 33, gid: 33, groups: vec![4] }),
            rlimits: vec![
                Rlimit { resource: Resource::Nofile, soft: Limit::Finite(4096), hard: Limit::Finite(4096) },
                Rlimit { resource: Resource::Core, soft: Limit::Finite(0), hard: Limit::Unlimited },
            ],
            umask: Umask::new(0o27),
            notify: Some(NotifyMode::Fd(3)),
            listen_fds: true,
            ready: Some(Readiness { at: 1101, pid: 4242 }),
            ..ServiceInfo::default()
        }
    );
    assert_eq!(web.env_entries().nth(1), Some(EnvEntry::Remove { var: b"TZ" }));
    // A service without any of them has the defaults.
    assert_eq!(snap.services["db"], ServiceInfo { args: b"postgres".to_vec(), ..ServiceInfo::default() });
    // Messages, resource usage and orphans are not state.
    assert_eq!(
        lines(&snap.other),
        [
            "service.notify\tdb\t7\t99\tSTATUS=starting",
            "service.rusage\tdb\t900\t1\t2\t3",
            "orphan.exit\t77\t901\texit\t0"
        ]
    );
}

#[test]
fn settings_are_cleared_by_their_empty_events() {
    let mut snap = Snapshot::default();
    apply_all(
        &mut snap,
        "service.env\tw\tA=1\nservice.cwd\tw\t/\nservice.user\tw\t1\t1\nservice.rlimit\tw\tcpu=1:2\n\
         service.umask\tw\t077\nservice.notify\tw\tsocket\nservice.listen_fds\tw\ton\n",
    );
    assert_ne!(snap.services["w"], ServiceInfo::default());
    apply_all(
        &mut snap,
        "service.env\tw\t\nservice.cwd\tw\t\nservice.user\tw\t\nservice.rlimit\tw\t\n\
         service.umask\tw\t\nservice.notify\tw\t\nservice.listen_fds\tw\toff\n",
    );
    assert_eq!(snap.services["w"], ServiceInfo::default());
}

#[test]
fn readiness_belongs_to_the_running_process() {
    let mut snap = Snapshot::default();
    let ready = |snap: &Snapshot| snap.services["w"].ready;
    apply_all(&mut snap, "service.state\tw\tup\t10\t5\t-\t-\t0\t-\nservice.ready\tw\t11\t5\n");
    assert_eq!(ready(&snap), Some(Readiness { at: 11, pid: 5 }));
    // A statedump repeats the `up` line of the same process: still ready.
    apply_all(&mut snap, "service.state\tw\tup\t10\t5\t-\t-\t3\t-\n");
    assert_eq!(ready(&snap), Some(Readiness { at: 11, pid: 5 }));
    // The process exits: not ready any more, nor after the next start.
    apply_all(&mut snap, "service.state\tw\tdown\t20\t5\texit\t0\t10\t0\n");
    assert_eq!(ready(&snap), None);
    apply_all(&mut snap, "service.ready\tw\t21\t5\nservice.state\tw\tstart\t22\t-\t-\t-\t-\t-\n");
    assert_eq!(ready(&snap), None);
    apply_all(&mut snap, "service.ready\tw\t21\t5\nservice.state\tw\tup\t22\t6\t-\t-\t0\t-\n");
    assert_eq!(ready(&snap), None, "another process");
    for not_state in ["service.notify\tw\t1\t6\tREADY=1", "service.rusage\tw\t1\t2\t3\t4", "orphan.exit\t9\t1\texit\t0"]
    {
        assert!(!snap.apply(&Event::parse(not_state.as_bytes()).unwrap()), "{not_state}");
    }
}

#[test]
fn extension_commands_are_sent_as_their_canonical_lines() {
    let mut c = client("");
    let web = Name::from_text("web").unwrap();
    c.send(&Command::ServiceUmask { name: web, umask: Umask::new(0o22) }).unwrap();
    c.send(&Command::ServiceNotify { name: web, mode: Some(NotifyMode::Socket) }).unwrap();
    c.send(&Command::ConnExtended { on: true }).unwrap();
    c.send(&Command::Reexec { args: b"" }).unwrap();
    assert_eq!(written(c), "service.umask\tweb\t022\nservice.notify\tweb\tsocket\nconn.extended\ton\nreexec\n");
}
