//! Named handles (§5.3, §8): `fd.open`, `fd.pipe`, `fd.socket`, `fd.take`,
//! `fd.delete`, good and failing, replacement, the constant handles and
//! the handle pool (§13.1).

use crate::support::*;
use daemonproxy_core::proto::{Domain, SockType};
use daemonproxy_core::supervisor::Step;

/// The pretend descriptor that handle `name` holds now, found by the
/// path or address it was opened with.
fn fd_of(s: &Sim, what: &SimFd) -> Option<u32> {
    s.open_fds().iter().find(|(_, f)| *f == what).map(|(n, _)| *n)
}

fn file(path: &str) -> SimFd {
    SimFd::File(path.as_bytes().to_vec())
}

#[test]
fn fd_open_opens_the_path_and_reports_flags_in_a_fixed_order() {
    let (mut s, me) = world();
    for (line, event) in [
        ("fd.open\tf3\twrite,read,,append\t/srv/a.txt", "fd.state\tf3\tfile\tread,write,append\t/srv/a.txt"),
        ("fd.open\tx\tcreate\t/srv/z", "fd.state\tx\tfile\tread,create\t/srv/z"),
        ("fd.open\te\t\t/srv/e", "fd.state\te\tfile\tread\t/srv/e"),
        ("fd.open\tr\t,read,\trel/path", "fd.state\tr\tfile\tread\trel/path"),
        (
            "fd.open\tall\tmkdir,nonblock,trunc,create,append,write\t/d/e/f",
            "fd.state\tall\tfile\twrite,append,create,trunc,nonblock,mkdir\t/d/e/f",
        ),
    ] {
        assert_eq!(cmd(&mut s, me, line), [event], "{line:?}");
        let path = line.rsplit('\t').next().unwrap();
        assert!(fd_of(&s, &file(path)).is_some(), "{path} not opened");
    }
    assert_eq!(s.log(), Vec::<String>::new());
}

#[test]
fn fd_open_argument_errors_create_nothing() {
    let (mut s, me) = world();
    for (line, msg) in [
        ("fd.open".to_owned(), "Expected file descriptor name"),
        ("fd.open\t\tread\t/dev/null".into(), "Expected file descriptor name"),
        ("fd.open\tbad!\tread\t/dev/null".into(), "Invalid file descriptor name"),
        (format!("fd.open\t{}\tread\t/dev/null", "h".repeat(32)), "Invalid file descriptor name"),
        ("fd.open\tx".into(), "missing flags argument"),
        ("fd.open\tx\tread".into(), "missing path argument"),
        ("fd.open\tx\tread\t/f\t".into(), "unexpected argument after path"),
        ("fd.open\tx\tread\t/f\textra".into(), "unexpected argument after path"),
        ("fd.open\tx\ttruncate\t/f".into(), "unknown flag \"truncate\""),
        ("fd.open\tx\tread,bogus\t/f".into(), "unknown flag \"bogus\""),
        ("fd.open\tx\tread=1\t/f".into(), "unknown flag \"read=1\""),
    ] {
        assert_err(&mut s, me, &line, msg);
    }
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES);
    assert_eq!(s.open_fds().len(), 4, "nothing was opened: {:?}", s.open_fds());
}

#[test]
fn fd_open_failure_reports_the_errno_and_keeps_the_old_handle() {
    let (mut s, me) = world();
    cmd(&mut s, me, "fd.open\tx\tread\t/srv/ok");
    s.fail_path("/srv/missing", libc::ENOENT);
    s.fail_path("/srv", libc::EISDIR);
    assert_err(&mut s, me, "fd.open\tx\tread\t/srv/missing", "open failed: No such file or directory");
    assert_err(&mut s, me, "fd.open\ty\twrite\t/srv", "open failed: Is a directory");
    assert_eq!(dumped(&mut s, me, "fd.state\tx"), ["fd.state\tx\tfile\tread\t/srv/ok"]);
    let mut log = failure_log(me, "fd.open\tx\tread\t/srv/missing", "open failed: No such file or directory").to_vec();
    log.extend(failure_log(me, "fd.open\ty\twrite\t/srv", "open failed: Is a directory"));
    assert_eq!(s.log(), log);
}

#[test]
fn replacing_a_handle_closes_the_old_descriptor_without_a_deleted_event() {
    let (mut s, me) = world();
    cmd(&mut s, me, "fd.open\tx\twrite\t/srv/one");
    let old = fd_of(&s, &file("/srv/one")).unwrap();
    assert_eq!(cmd(&mut s, me, "fd.open\tx\twrite\t/srv/two"), ["fd.state\tx\tfile\twrite\t/srv/two"]);
    assert!(!s.open_fds().contains_key(&old), "the replaced descriptor stays open");
    assert_eq!(dumped(&mut s, me, "fd.state\tx\t"), ["fd.state\tx\tfile\twrite\t/srv/two"]);
    // A service started now gets the new descriptor.
    cmd(&mut s, me, "service.fds\tw\tx");
    let pid = start_up(&mut s, me, "w", "true");
    assert_eq!(s.processes()[&pid].fds, [fd_of(&s, &file("/srv/two"))]);
}

#[test]
fn fd_pipe_examples_of_section_5_3() {
    let (mut s, me) = world();
    for (line, events) in [
        ("fd.pipe\tlog.r\tlog.w", ["fd.state\tlog.r\tpipe\tfrom\tlog.w", "fd.state\tlog.w\tpipe\tto\tlog.r"]),
        ("fd.pipe\tr\tw\tnonblock", ["fd.state\tr\tpipe\tnonblock,from\tw", "fd.state\tw\tpipe\tnonblock,to\tr"]),
        (
            "fd.pipe\ts1\ts2\tunix,dgram",
            ["fd.state\ts1\tpipe\tunix,dgram,to\ts2", "fd.state\ts2\tpipe\tunix,dgram,to\ts1"],
        ),
        (
            "fd.pipe\ts3\ts4\tseqpacket",
            ["fd.state\ts3\tpipe\tunix,seqpacket,to\ts4", "fd.state\ts4\tpipe\tunix,seqpacket,to\ts3"],
        ),
        (
            "fd.pipe\tp1\tp2\t-,,nonblock,\textra",
            ["fd.state\tp1\tpipe\tnonblock,from\tp2", "fd.state\tp2\tpipe\tnonblock,to\tp1"],
        ),
    ] {
        assert_eq!(cmd(&mut s, me, line), events, "{line:?}");
    }
    // Five pairs: ten new descriptors.
    assert_eq!(s.open_fds().values().filter(|f| matches!(f, SimFd::Pipe(_))).count(), 10);
}

#[test]
fn fd_pipe_argument_errors_create_nothing() {
    let (mut s, me) = world();
    for (line, msg) in [
        ("fd.pipe", "Expected file descriptor name"),
        ("fd.pipe\ta", "Expected file descriptor name"),
        ("fd.pipe\ta\t", "Expected file descriptor name"),
        ("fd.pipe\tbad!\tb", "Invalid file descriptor name"),
        ("fd.pipe\ta\tbad!", "Invalid file descriptor name"),
        ("fd.pipe\tsame\tsame", "read and write names must differ"),
        ("fd.pipe\ta\tb\tbogus", "unknown flag \"bogus\""),
        ("fd.pipe\ta\tb\tnonblock,x", "unknown flag \"x\""),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES);
}

#[test]
fn fd_pipe_failure_reports_pipe_or_socketpair() {
    let (mut s, me) = world();
    s.fail_pipes(Some(libc::EMFILE));
    assert_err(&mut s, me, "fd.pipe\ta\tb", "pipe() failed: Too many open files");
    assert_err(&mut s, me, "fd.pipe\ta\tb\tstream", "socketpair() failed: Too many open files");
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES);
    s.fail_pipes(None);
    assert_eq!(cmd(&mut s, me, "fd.pipe\ta\tb").len(), 2);
}

#[test]
fn fd_socket_examples_of_section_5_3() {
    let (mut s, me) = world();
    for (line, event) in [
        ("fd.socket\tfd1\tunix", "fd.state\tfd1\tsocket\tunix,stream\t"),
        ("fd.socket\tk\tunix,nonblock,mkdir\t/a/b/c", "fd.state\tk\tsocket\tunix,stream,bind,mkdir,nonblock\t/a/b/c"),
        ("fd.socket\tfd2\ttcp,listen=11\t*:11203", "fd.state\tfd2\tsocket\tinet,stream,bind,listen=11\t*:11203"),
        ("fd.socket\tfd3\tudp\t127.0.0.1:10203", "fd.state\tfd3\tsocket\tinet,dgram,bind\t127.0.0.1:10203"),
        ("fd.socket\tk2\ttcp,listen\t127.0.0.1", "fd.state\tk2\tsocket\tinet,stream,bind,listen=32\t127.0.0.1"),
        ("fd.socket\tk6\tinet6", "fd.state\tk6\tsocket\tinet6,stream\t"),
        ("fd.socket\tk7\tinet6,tcp", "fd.state\tk7\tsocket\tinet,stream\t"),
        ("fd.socket\tk8\ttcp,unix", "fd.state\tk8\tsocket\tunix,stream\t"),
        ("fd.socket\tk11\t", "fd.state\tk11\tsocket\tunix,stream\t"),
    ] {
        assert_eq!(cmd(&mut s, me, line), [event], "{line:?}");
    }
    assert!(s.open_fds().values().any(|f| *f == SimFd::Socket(Some(b"/a/b/c".to_vec()))));
    assert!(s.open_fds().values().any(|f| *f == SimFd::Socket(None)));
}

#[test]
fn fd_socket_errors() {
    let (mut s, me) = world();
    for (line, msg) in [
        ("fd.socket", "Expected file descriptor name"),
        ("fd.socket\tbad!\tunix", "Invalid file descriptor name"),
        ("fd.socket\tk", "missing flags argument"),
        ("fd.socket\tk\ttcp,listen=0\t127.0.0.1", "invalid listen queue length"),
        ("fd.socket\tk\ttcp,listen=65536\t127.0.0.1", "invalid listen queue length"),
        ("fd.socket\tk\ttcp,listen=5x\t127.0.0.1", "invalid listen queue length"),
        ("fd.socket\tk\tbogus", "unknown flag \"bogus\""),
        ("fd.socket\tk\tbogus,listen=0\t/x", "unknown flag \"bogus\""),
        ("fd.socket\tk\tlisten=0,bogus\t/x", "invalid listen queue length"),
        ("fd.socket\tk\tnonblock=1", "unknown flag \"nonblock=1\""),
        ("fd.socket\tk\ttcp\tlocalhost", "invalid address"),
        ("fd.socket\tk\ttcp\t:80", "invalid address"),
        ("fd.socket\tk\ttcp\t*:99999", "invalid address"),
        ("fd.socket\tk\ttcp\t*:-1", "invalid address"),
        ("fd.socket\tk\tinet6\t::1", "invalid address"),
        ("fd.socket\tk\tbind", "expected address argument"),
        ("fd.socket\tk\ttcp,listen", "expected address argument"),
        ("fd.socket\tk\tunix\t/run/s\t", "unexpected argument after address"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    // A bind that fails (an existing file is never removed).
    s.fail_path("/run/taken", libc::EADDRINUSE);
    assert_err(&mut s, me, "fd.socket\tk\tunix,listen\t/run/taken", "bind: Address already in use");
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES);
}

#[test]
fn fd_take_stores_a_received_descriptor_as_inherited_style() {
    let (mut s, me) = world();
    let f = s.send_fd(me, FdKind::File { read: false, write: true, append: true, nonblock: true });
    let t = s.send_fd(me, FdKind::Socket { domain: Domain::Inet, ty: SockType::Stream, nonblock: false });
    assert_eq!(cmd(&mut s, me, "fd.take\ttaken1"), ["fd.state\ttaken1\tfile\twrite,append,nonblock\tunknown"]);
    assert_eq!(cmd(&mut s, me, "fd.take\ttcpl"), ["fd.state\ttcpl\tsocket\tinet,stream\tunknown"]);
    assert_err(&mut s, me, "fd.take\tmore", "No ancillary file descriptor received");
    // The descriptors are the handles' now.
    cmd(&mut s, me, "service.fds\tw\ttaken1\ttcpl");
    let pid = start_up(&mut s, me, "w", "true");
    assert_eq!(s.processes()[&pid].fds, [Some(f), Some(t)]);
}

#[test]
fn fd_take_pops_the_descriptor_before_checking_the_name() {
    let (mut s, me) = world();
    let file = FdKind::File { read: true, write: false, append: false, nonblock: false };
    assert_err(&mut s, me, "fd.take\tbad!", "No ancillary file descriptor received");
    for (line, msg) in [
        ("fd.take\tbad!", "Invalid file descriptor name"),
        ("fd.take", "Expected file descriptor name"),
        ("fd.take\tnull", "File descriptor cannot be altered"),
    ] {
        let fd = s.send_fd(me, file);
        assert_err(&mut s, me, line, msg);
        assert!(!s.open_fds().contains_key(&fd), "{line:?}: the popped descriptor stays open");
    }
    assert_err(&mut s, me, "fd.take\tgood", "No ancillary file descriptor received");
}

#[test]
fn received_descriptors_beyond_two_or_never_taken_are_closed() {
    let (mut s, me) = world();
    let c = s.connect(ConnKind::Socket);
    let file = FdKind::File { read: true, write: false, append: false, nonblock: false };
    let fds: Vec<u32> = (0..3).map(|_| s.send_fd(c, file)).collect();
    assert_eq!(s.log(), [format!("error: No room for ancillary file descriptor {}", fds[2])]);
    assert!(!s.open_fds().contains_key(&fds[2]));
    assert_eq!(cmd(&mut s, c, "fd.take\tfirst"), ["fd.state\tfirst\tfile\tread\tunknown"]);
    s.events(me);
    s.end_input(c);
    assert_eq!(s.log(), [format!("warning: closing leftover ancillary file descriptor {}", fds[1])]);
    assert!(!s.open_fds().contains_key(&fds[1]));
    assert!(s.open_fds().contains_key(&fds[0]), "the taken one is a handle");
}

#[test]
fn fd_delete_closes_the_descriptor_and_the_peer_shows_a_question_mark() {
    let (mut s, me) = world();
    cmd(&mut s, me, "fd.pipe\ta\tb");
    let before = s.open_fds().len();
    assert_eq!(cmd(&mut s, me, "fd.delete\tb\textra"), ["fd.state\tb\tdeleted"]);
    assert_eq!(s.open_fds().len(), before - 1);
    assert_eq!(dumped(&mut s, me, "fd.state\ta\t"), ["fd.state\ta\tpipe\tfrom\t?"]);
    for (line, msg) in [
        ("fd.delete", "Expected file descriptor name"),
        ("fd.delete\t", "Expected file descriptor name"),
        ("fd.delete\tbad!", "Invalid file descriptor name"),
        ("fd.delete\tb", "No such file descriptor"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    // The standard handles are ordinary handles.
    assert_eq!(cmd(&mut s, me, "fd.delete\tstdin"), ["fd.state\tstdin\tdeleted"]);
    assert!(!s.open_fds().contains_key(&0));
}

#[test]
fn replacing_a_pipe_end_leaves_its_peer_with_a_question_mark() {
    let (mut s, me) = world();
    cmd(&mut s, me, "fd.pipe\tc\td");
    assert_eq!(cmd(&mut s, me, "fd.open\tc\tread\t/dev/null"), ["fd.state\tc\tfile\tread\t/dev/null"]);
    assert_eq!(dumped(&mut s, me, "fd.state\td\t"), ["fd.state\td\tpipe\tto\t?"]);
    // A new pipe that reuses one name of an old pair: the old peer is
    // orphaned, the new pair names each other.
    cmd(&mut s, me, "fd.pipe\tr\tw");
    assert_eq!(cmd(&mut s, me, "fd.pipe\tr\tw2"), ["fd.state\tr\tpipe\tfrom\tw2", "fd.state\tw2\tpipe\tto\tr"]);
    assert_eq!(dumped(&mut s, me, "fd.state\tw"), ["fd.state\tw\tpipe\tto\t?", "fd.state\tw2\tpipe\tto\tr"]);
    // Replacing both ends at once keeps them paired.
    assert_eq!(cmd(&mut s, me, "fd.pipe\tw2\tr"), ["fd.state\tw2\tpipe\tfrom\tr", "fd.state\tr\tpipe\tto\tw2"]);
}

#[test]
fn constant_handles_cannot_be_altered_by_any_command() {
    let (mut s, me) = world();
    let file = FdKind::File { read: true, write: false, append: false, nonblock: false };
    for c in ["null", "control.cmd", "control.event", "control.socket"] {
        for line in [
            format!("fd.open\t{c}\tread\t/dev/null"),
            format!("fd.pipe\t{c}\tb"),
            format!("fd.pipe\ta\t{c}"),
            format!("fd.socket\t{c}\tunix"),
            format!("fd.delete\t{c}"),
        ] {
            assert_err(&mut s, me, &line, "File descriptor cannot be altered");
        }
        s.send_fd(me, file);
        assert_err(&mut s, me, &format!("fd.take\t{c}"), "File descriptor cannot be altered");
    }
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES);
}

#[test]
fn statedump_lists_handles_sorted_bytewise() {
    let (mut s, me) = world();
    for n in ["fd_9", "b", "aa", "-", "a_", "fd_10", "a.", "Z", "a"] {
        cmd(&mut s, me, &format!("fd.open\t{n}\tread\t/srv/{n}"));
    }
    let names: Vec<String> =
        statedump(&mut s, me).iter().map(|l| l.split('\t').nth(1).unwrap_or_default().to_owned()).collect();
    assert_eq!(
        names,
        [
            "-",
            "Z",
            "a",
            "a.",
            "a_",
            "aa",
            "b",
            "control.cmd",
            "control.event",
            "control.socket",
            "fd_10",
            "fd_9",
            "null",
            "stderr",
            "stdin",
            "stdout"
        ]
    );
}

#[test]
fn the_handle_pool_counts_the_builtins_and_needs_room_to_replace() {
    let (mut s, me) = world_with(Options::new().fd_pool(8, 96));
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES);
    assert_eq!(cmd(&mut s, me, "fd.open\tf1\tread\t/srv/f"), ["fd.state\tf1\tfile\tread\t/srv/f"]);
    let full = "Unable to allocate new file descriptor object";
    assert_err(&mut s, me, "fd.open\tf2\tread\t/srv/f", full);
    assert_err(&mut s, me, "fd.socket\ts\tunix", full);
    assert_err(&mut s, me, "fd.pipe\tp.r\tp.w", "failed to create pipe");
    let fd = s.send_fd(me, FdKind::File { read: true, write: false, append: false, nonblock: false });
    assert_err(&mut s, me, "fd.take\tt", full);
    assert!(!s.open_fds().contains_key(&fd));
    // Replacing needs a free object too.
    assert_err(&mut s, me, "fd.open\tf1\tread\t/srv/g", full);
    // One free object is not enough for a pipe.
    assert_eq!(cmd(&mut s, me, "fd.delete\tf1"), ["fd.state\tf1\tdeleted"]);
    assert_err(&mut s, me, "fd.pipe\tp.r\tp.w", "failed to create pipe");
    assert_eq!(cmd(&mut s, me, "fd.open\tf2\tread\t/srv/f"), ["fd.state\tf2\tfile\tread\t/srv/f"]);
    // Nothing failed opened anything that stayed open.
    assert_eq!(s.open_fds().len(), 5, "{:?}", s.open_fds());
}

#[test]
fn the_handle_pool_object_size_cuts_long_descriptions() {
    let (mut s, me) = world_with(Options::new().fd_pool(10, 32));
    let path = format!("/{}", "p".repeat(150));
    let ev = cmd(&mut s, me, &format!("fd.open\tf\twrite,create\t{path}"));
    // Room for 32 + 32 bytes less the name and two terminators: 61.
    assert_eq!(ev, [format!("fd.state\tf\tfile\twrite,create\t{}...", &path[..58])]);
    // The open itself used the whole path.
    assert!(s.open_fds().values().any(|f| *f == SimFd::File(path.clone().into_bytes())));
    let short = format!("/{}", "q".repeat(59));
    assert_eq!(cmd(&mut s, me, &format!("fd.open\tg\tread\t{short}")), [format!("fd.state\tg\tfile\tread\t{short}")]);
}

#[test]
fn fd_socket_reports_the_step_that_failed() {
    let (mut s, me) = world();
    s.fail_path_at("/run/a", Step::Socket, libc::EAFNOSUPPORT);
    s.fail_path_at("/run/b", Step::Setsockopt, libc::ENOPROTOOPT);
    s.fail_path_at("/run/c", Step::Listen, libc::EOPNOTSUPP);
    s.fail_path("/run/d", libc::EACCES);
    for (line, msg) in [
        ("fd.socket\tk\tunix\t/run/a", "socket: Address family not supported by protocol"),
        ("fd.socket\tk\tunix\t/run/b", "setsockopt: Protocol not available"),
        ("fd.socket\tk\tunix,listen\t/run/c", "listen: Operation not supported"),
        ("fd.socket\tk\tunix\t/run/d", "bind: Permission denied"),
    ] {
        assert_err(&mut s, me, line, msg);
    }
    assert_eq!(statedump(&mut s, me), BUILTIN_FD_STATES);
    assert_eq!(s.open_fds().len(), 4, "nothing stayed open");
}

#[test]
fn fd_pipe_needs_two_free_objects_even_to_replace_both_ends() {
    let (mut s, me) = world_with(Options::new().fd_pool(9, 96));
    assert_eq!(cmd(&mut s, me, "fd.pipe\tr\tw").len(), 2);
    assert_err(&mut s, me, "fd.pipe\tr\tw", "failed to create pipe");
    assert_eq!(dumped(&mut s, me, "fd.state\tr\t"), ["fd.state\tr\tpipe\tfrom\tw"], "the old pair stays");
    assert_eq!(s.open_fds().values().filter(|f| matches!(f, SimFd::Pipe(_))).count(), 2);
}
