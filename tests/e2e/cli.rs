//! The command line (PROTOCOL.md §12, §14): options, their errors, exit
//! statuses, exec-on-exit, the terminate guard, daemonizing.

use crate::commands::recorder_args;
use crate::harness::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;

/// What a finished run printed.
pub struct Run {
    /// The exit status.
    pub status: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Runs `daemonproxy ARGS` (only descriptors 0-2 inherited) with `stdin`
/// as its whole input, bounded in time; returns status and raw output.
pub fn run(args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = clean_fds(&mut cmd).spawn().expect("start daemonproxy");
    let reader = |mut r: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            let _ = tx.send(v);
        });
        rx
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    {
        use std::io::Write;
        let mut w = child.stdin.take().unwrap();
        let _ = w.write_all(stdin);
    }
    let status = wait_timeout(&mut child);
    let get = |rx: mpsc::Receiver<Vec<u8>>| {
        String::from_utf8(rx.recv_timeout(TIMEOUT).expect("output stream never reached EOF")).expect("utf-8 output")
    };
    Run { status, stdout: get(out), stderr: get(err) }
}

/// Asserts a fatal option error: exit 2, the message on stderr, nothing on
/// stdout.
fn assert_fatal(args: &[&str], status: i32, stderr: &str) {
    let r = run(args, b"");
    assert_eq!(r.status, Some(status), "{args:?}: {}", r.stderr);
    assert_eq!(r.stderr, stderr, "{args:?}");
    assert_eq!(r.stdout, "", "{args:?}");
}

fn p(path: &Path) -> String {
    path.to_str().expect("utf-8 path").to_owned()
}

/// The option table of §12.3 (short, long, argument, description), with
/// this project's `--check`.
const HELP_OPTIONS: [(&str, &str, &str, &str); 19] = [
    ("-c", "config", "FILENAME", "Read command stream from FILENAME at startup"),
    ("", "check", "", "Check the -c file for mistakes, run nothing, exit"),
    ("-i", "interactive", "", "Use STDIN+STDOUT as a controller communication pipe"),
    ("-S", "socket", "PATH", "Listen on PATH for controller connections"),
    ("-D", "daemonize", "", "Fork into the background"),
    ("", "exit-guard", "INTEGER", "Guard against accidental termination"),
    ("-E", "exit-exec", "TSV_ARGS", "exec() args in any trappable exit scenario"),
    ("", "fd-pool", "N[xM]", "Pre-allocate N named handles [of M bytes each]"),
    ("", "service-pool", "N[xM]", "Pre-allocate N services [of M bytes each]"),
    ("", "max-connections", "N", "Serve at most N control socket clients [default 1000]"),
    ("-M", "mlockall", "", "Call mlockall() after allocating structures"),
    ("", "subreaper", "", "Adopt orphans of services (child subreaper)"),
    ("", "notify-socket", "PATH", "Readiness socket path [default: abstract]"),
    ("", "reexec-signal", "SIG", "Re-execute daemonproxy on SIG (live upgrade)"),
    ("", "log-timestamps", "", "Start log lines with the UTC time"),
    ("-v", "verbose", "", "Enable another level of logging output"),
    ("-q", "quiet", "", "Suppress another level of logging output"),
    ("-h", "help", "", "Quick usage synopsis"),
    ("", "version", "", "Print complete version information"),
];

/// What `--help` prints after the original's listing: the subcommand and
/// where the documentation is.
const HELP_TRAILER: &str = "commands:
  daemonproxy ctl ...  Talk to a running daemon through its control socket (see ctl --help)

See also: man daemonproxy (docs/daemonproxy.8) and docs/protocol.md in the sources.

";

/// `--help` split into the original's listing (up to and including its
/// empty line) and what follows.
fn help_parts(stdout: &str) -> (&str, &str) {
    let end = stdout.find("\n\n").expect("the listing ends with an empty line") + 2;
    stdout.split_at(end)
}

/// `daemonproxy version X.Y.Z[SUFFIX]`.
fn assert_version_line(l: &str) {
    let v = l.strip_prefix("daemonproxy version ").unwrap_or_else(|| panic!("version line {l:?}"));
    let nums: Vec<&str> = v.splitn(3, '.').collect();
    assert_eq!(nums.len(), 3, "{l:?}");
    assert!(nums[0].parse::<u32>().is_ok() && nums[1].parse::<u32>().is_ok(), "{l:?}");
    assert!(nums[2].starts_with(|c: char| c.is_ascii_digit()), "{l:?}");
    assert!(v.starts_with("2.0."), "this project's version is 2.0.x (§0 item 8): {l:?}");
}

#[test]
fn help_layout_and_exit_status() {
    for flag in ["--help", "-h"] {
        let r = run(&[flag], b"");
        assert_eq!(r.status, Some(1), "{flag}");
        assert_eq!(r.stderr, "", "{flag}");
        let (listing, trailer) = help_parts(&r.stdout);
        assert_eq!(trailer, HELP_TRAILER);
        let lines: Vec<&str> = listing.lines().collect();
        assert_version_line(lines[0]);
        assert_eq!(lines[1], "options:");
        assert_eq!(lines.len(), 2 + HELP_OPTIONS.len() + 1, "{}", r.stdout);
        assert_eq!(lines[lines.len() - 1], "");
        for (line, (short, long, arg, _)) in lines[2..].iter().zip(HELP_OPTIONS) {
            // two spaces, `-X` or two spaces, one space, `--long` in 12
            // columns, one space, argument in 8 columns, two spaces.
            let prefix = format!("  {:2} --{long:<12} {arg:<8}  ", short);
            assert!(line.starts_with(&prefix), "{line:?} should start with {prefix:?}");
            assert!(line.len() > prefix.len(), "{line:?} lacks a description");
        }
    }
}

/// The help is §12.3's text, except that an option with a default names it
/// (`[of M bytes each, default 96]`): users asked for each option's default
/// on its own line, and the layout stays the original's.
#[test]
fn help_text_matches_spec() {
    let r = run(&["--help"], b"");
    let (listing, trailer) = help_parts(&r.stdout);
    assert_eq!(trailer, HELP_TRAILER);
    let stdout: String = listing
        .lines()
        .map(|l| {
            let cut = l.find(", default ").and_then(|i| l[i..].find(']').map(|j| (i, i + j)));
            match cut {
                Some((a, b)) => format!("{}{}\n", &l[..a], &l[b..]),
                None => format!("{l}\n"),
            }
        })
        .collect();
    let mut expected = String::new();
    let first = r.stdout.lines().next().unwrap_or("").to_owned();
    assert_version_line(&first);
    expected.push_str(&first);
    expected.push_str("\noptions:\n");
    for (short, long, arg, desc) in HELP_OPTIONS {
        expected.push_str(&format!("  {:2} --{long:<12} {arg:<8}  {desc}\n", short));
    }
    expected.push('\n');
    assert_eq!(stdout, expected);
}

/// The documents `--help` names are in the repository.
#[test]
fn help_names_documents_that_exist() {
    for doc in ["docs/daemonproxy.8", "docs/protocol.md"] {
        assert!(HELP_TRAILER.contains(doc));
        assert!(repo_root().join(doc).is_file(), "{doc}");
    }
}

#[test]
fn version_structure() {
    let r = run(&["--version"], b"");
    assert_eq!(r.status, Some(1));
    assert_eq!(r.stderr, "");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines.len() >= 5, "{}", r.stdout);
    assert_version_line(lines[0]);
    // ` build timestamp: SECONDS (LOCAL TIME)`
    let ts = lines[1].strip_prefix(" build timestamp: ").unwrap_or_else(|| panic!("{:?}", lines[1]));
    let (secs, local) = ts.split_once(' ').unwrap_or_else(|| panic!("{ts:?}"));
    let secs: u64 = secs.parse().unwrap_or_else(|_| panic!("unix seconds in {ts:?}"));
    assert!(secs > 1_700_000_000, "{ts:?}");
    assert!(local.starts_with('(') && local.ends_with(')') && local.len() > 2, "{ts:?}");
    // ` git HEAD: COMMIT|unknown[ (dirty)]`
    let head = lines[2].strip_prefix(" git HEAD: ").unwrap_or_else(|| panic!("{:?}", lines[2]));
    let id = head.strip_suffix(" (dirty)").unwrap_or(head);
    assert!(id == "unknown" || (id.len() >= 7 && id.chars().all(|c| c.is_ascii_hexdigit())), "{head:?}");
    // Copyright line with a year range YYYY-YYYY, second year ≥ first and
    // ≥ the build year... at least not before 2026 (§0 item 8).
    let c = lines[3];
    assert!(c.contains("Copyright"), "{c:?}");
    let after = &c[c.find("Copyright").unwrap()..];
    let range = after
        .as_bytes()
        .windows(9)
        .position(|w| w[..4].iter().all(u8::is_ascii_digit) && w[4] == b'-' && w[5..].iter().all(u8::is_ascii_digit))
        .unwrap_or_else(|| panic!("no YYYY-YYYY in {c:?}"));
    let y1: u32 = after[range..range + 4].parse().unwrap();
    let y2: u32 = after[range + 5..range + 9].parse().unwrap();
    assert!(y1 <= y2 && y2 >= 2026, "{c:?}");
    assert!(!c.contains("Michael Conrad"), "must not claim the original's authorship: {c:?}");
    assert!(!c.contains("LICENSE"), "LICENSE must be on a later line: {c:?}");
    assert!(lines[4].contains("LICENSE"), "first license line must name LICENSE: {:?}", lines[4]);
}

#[test]
fn option_errors_exit_2() {
    for (args, msg) in [
        (&["--bogus"][..], "fatal: Unknown option --bogus  (see --help)\n"),
        (&["-x"], "fatal: Unknown option -x  (see --help)\n"),
        (&["-ix"], "fatal: Unknown option -x  (see --help)\n"),
        (&["-i", "--bogus"], "fatal: Unknown option --bogus  (see --help)\n"),
        (&["--config=x"], "fatal: Unknown option --config=x  (see --help): use --config x, without '='\n"),
        (
            &["-i", "--interactive=1"],
            "fatal: Unknown option --interactive=1  (see --help): --interactive takes no value\n",
        ),
        (&["--"], "fatal: Unknown option --  (see --help)\n"),
        // Improvement (§16 row 45): no stray empty line.
        (&["word"], "fatal: Unexpected argument \"word\"\n"),
        (&["-i", "word"], "fatal: Unexpected argument \"word\"\n"),
        (&["-c"], "fatal: Missing argument for -c\n"),
        (&["--config"], "fatal: Missing argument for --config\n"),
        (&["-S"], "fatal: Missing argument for -S\n"),
        (&["--socket"], "fatal: Missing argument for --socket\n"),
        (&["-E"], "fatal: Missing argument for -E\n"),
        (&["--exit-exec"], "fatal: Missing argument for --exit-exec\n"),
        (&["--exit-guard"], "fatal: Missing argument for --exit-guard\n"),
        (&["--fd-pool"], "fatal: Missing argument for --fd-pool\n"),
        (&["--service-pool"], "fatal: Missing argument for --service-pool\n"),
    ] {
        assert_fatal(args, 2, msg);
    }
}

#[test]
fn one_of_i_c_s_is_required() {
    for args in [&[][..], &["-v"], &["-"], &["-q", "-M"], &["-D"]] {
        assert_fatal(args, 2, "fatal: require -i or -c or -S\n");
    }
    // A lone `-` is accepted and ignored.
    let r = run(&["-", "-i", "-"], b"echo\tok\n");
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.ends_with("ok\n"), "{:?}", r.stdout);
}

#[test]
fn config_file_must_exist() {
    let dir = tempdir();
    let missing = p(&dir.path().join("missing.conf"));
    let message = format!("fatal: Cannot stat configfile \"{missing}\": No such file or directory\n");
    assert_fatal(&["-c", &missing], 2, &message);
    assert_fatal(&["-i", "--config", &missing], 2, &message);
    let dir = p(dir.path());
    assert_fatal(&["-c", &dir], 2, &format!("fatal: Config file \"{dir}\" is a directory\n"));
}

#[test]
fn config_file_is_executed_and_final_line_without_lf_too() {
    let dir = tempdir();
    let made = dir.path().join("made");
    let conf = write_file(
        dir.path(),
        "a.conf",
        &format!("# comment\n\necho\tfrom-config\nbogus-in-config\nfd.open\tf\twrite,create\t{}", p(&made)),
    );
    let mut d = Daemon::interactive_clean(&["-c", &p(&conf)]);
    // Broadcasts caused by the config reach the interactive controller ...
    d.out.wait_for("fd.state broadcast", |l| l == format!("fd.state\tf\tfile\twrite,create\t{}", p(&made)));
    assert!(made.exists());
    // ... replies to the config controller (echo) are dropped.
    d.sync();
    assert!(!d.out.seen.lock().unwrap().iter().any(|l| l.contains("from-config")));
    // Errors of the config controller only reach the log, naming the file
    // and the line.
    let want = format!("error: {}:4: Unknown command: bogus-in-config", p(&conf));
    d.log.wait_for("config error", |l| l == want);
    d.log.wait_for("EOF warning", |l| l == "warning: Command ends with EOF... processing anyway");
    assert_eq!(d.wait(), Some(0));
}

/// Mistakes in a config are logged with its path and line, and spaces
/// where TABs belong get a hint, also when the program to execute is the
/// one "with spaces" (in the daemon's log and in the child's own line).
#[test]
fn config_mistakes_name_the_line_and_hint_at_tabs() {
    let dir = tempdir();
    let conf = write_file(
        dir.path(),
        "a.conf",
        "servce.args\tx\nservice.args\tw\tsleep 100\nservice.fds\tw\tnull\tstderr\tstderr\nservice.start\tw\n",
    );
    let mut d = Daemon::interactive_clean(&["-c", &p(&conf)]);
    let hint = "(hint: fields are separated by TABs, not spaces)";
    let want = format!("error: {}:1: Unknown command: servce.args (did you mean service.args?)", p(&conf));
    d.log.wait_for("the unknown command", |l| l == want);
    let child = format!("error: exec(sleep 100, ...) failed: No such file or directory {hint}");
    let daemon = format!("error: service w: exec \"sleep 100\" failed: No such file or directory {hint}");
    let lines = d.log.wait_for_each(&[&child, &daemon]);
    assert_eq!(lines, [child, daemon]);
    d.out.wait_for("the protocol's text", |l| {
        l == "error\tservice w: exec \"sleep 100\" failed: No such file or directory"
    });
    d.close_stdin();
    assert_eq!(d.wait(), Some(0));
}

#[test]
fn config_file_exit_stops_reading() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let conf = write_file(
        dir.path(),
        "exit.conf",
        &format!("fd.open\ta\twrite,create\t{}\nexit\nfd.open\tb\twrite,create\t{}\n", p(&a), p(&b)),
    );
    let mut d = Daemon::interactive_clean(&["-c", &p(&conf)]);
    d.out.wait_for("fd.state a", |l| l.starts_with("fd.state\ta\t"));
    // Every loop iteration services every readable controller; a few round
    // trips give the config controller ample iterations to go on (if it
    // wrongly did).
    for _ in 0..5 {
        d.sync();
    }
    let dump = d.cmd("statedump");
    assert!(!dump.iter().any(|l| l.starts_with("fd.state\tb\t")), "{dump:#?}");
    assert!(!b.exists());
    assert!(!d.out.seen.lock().unwrap().iter().any(|l| l.starts_with("fd.state\tb\t")));
}

#[test]
fn config_from_stdin() {
    let dir = tempdir();
    let made = dir.path().join("made");
    let r =
        run(&["-c", "-"], format!("echo\tdropped\nfd.open\tf\twrite,create\t{}\nterminate\t6\n", p(&made)).as_bytes());
    assert_eq!(r.status, Some(6), "{}", r.stderr);
    assert!(made.exists());
    // The config controller has no event direction.
    assert_eq!(r.stdout, "");
    assert_eq!(r.stderr, "info: daemonproxy exiting\n");
    // A final line without LF is executed for `-c -` too.
    let made2 = dir.path().join("made2");
    let r = run(&["--config", "-"], format!("fd.open\tf\twrite,create\t{}\nterminate\t7", p(&made2)).as_bytes());
    assert_eq!(r.status, Some(7), "{}", r.stderr);
    assert!(made2.exists());
    assert!(r.stderr.contains("warning: Command ends with EOF... processing anyway\n"), "{}", r.stderr);
}

#[test]
fn interactive_and_config_on_stdin_conflict() {
    let r = run(&["-i", "-c", "-"], b"");
    assert_eq!(r.status, Some(3));
    assert_eq!(r.stderr, "error: stdin not available\nfatal: Unable to process config file\n");
}

#[test]
fn socket_option_failure_exits_3() {
    let dir = tempdir();
    let sock = p(&dir.path().join("missing-dir/sock"));
    let r = run(&["-S", &sock], b"");
    assert_eq!(r.status, Some(3));
    assert!(r.stderr.ends_with("fatal: Can't create controller socket\n"), "{}", r.stderr);
    assert_eq!(r.stdout, "");
    // Improvement (§16 row 26): a regular file is not deleted.
    let reg = dir.path().join("reg");
    std::fs::write(&reg, "precious").unwrap();
    let r = run(&["--socket", &p(&reg)], b"");
    assert_eq!(r.status, Some(3));
    assert!(r.stderr.ends_with("fatal: Can't create controller socket\n"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&reg).unwrap(), "precious");
}

#[test]
fn socket_option_serves_clients() {
    let dir = tempdir();
    let sock = dir.path().join("ctl.sock");
    let mut d = Daemon::spawn(clean_fds(Command::new(bin()).args(["-S", &p(&sock)])));
    let mut c =
        poll_until("control socket", || std::os::unix::net::UnixStream::connect(&sock).ok().map(Client::from_stream));
    assert_eq!(c.cmd("echo\thello"), ["hello"]);
    // No banner for socket clients; the standard handles are the original ones.
    let dump = c.cmd("statedump");
    assert!(dump.iter().any(|l| l.starts_with("fd.state\tstdin\t")), "{dump:#?}");
    c.send("terminate\t0");
    assert_eq!(d.wait(), Some(0));
    // The socket file stays (§14.2).
    assert!(sock.exists());
}

#[test]
fn clustered_options_take_arguments_in_order() {
    let dir = tempdir();
    let sock = dir.path().join("ctl.sock");
    let conf = write_file(dir.path(), "c.conf", "fd.open\tmarker\tread\t/dev/null");
    let mut d = Daemon::spawn(clean_fds(Command::new(bin()).args(["-cS", &p(&conf), &p(&sock)])));
    let mut c =
        poll_until("control socket", || std::os::unix::net::UnixStream::connect(&sock).ok().map(Client::from_stream));
    poll_until("config executed", || {
        c.cmd("statedump").iter().any(|l| l == "fd.state\tmarker\tfile\tread\t/dev/null").then_some(())
    });
    c.send("terminate\t0");
    assert_eq!(d.wait(), Some(0));
}

#[test]
fn pool_syntax_errors() {
    let msg = "fatal: Expected 'N' or 'NxM' where N and M are integers and M has an optional size suffix\n";
    for v in ["abc", "", "10y", "x5", "1.5", "10x5q", "10x1KiBx", " 10", "10 "] {
        assert_fatal(&["--fd-pool", v, "-i"], 2, msg);
    }
    for v in ["abc", "5x1q", "5xx"] {
        assert_fatal(&["--service-pool", v, "-i"], 2, msg);
    }
}

/// `daemonproxy -i ARGS`, returning the log lines up to the first command.
fn startup_log(args: &[&str]) -> (Daemon, Vec<String>) {
    let mut d = Daemon::interactive_clean(args);
    d.send("bogus-marker");
    let mut log = Vec::new();
    loop {
        let l = d.log.next();
        if l == "error: controller[0] sent unknown command bogus-marker" {
            break;
        }
        log.push(l);
    }
    d.sync();
    (d, log)
}

#[test]
fn fd_pool_clamp_warnings() {
    for (arg, warning) in [
        ("5", Some("warning: At least 7 fd objects required; using minimum")),
        ("-5", Some("warning: At least 7 fd objects required; using minimum")),
        ("2000", Some("warning: fd pool size exceeds max number of allowed file descriptors; limiting to 1024")),
        ("10x8", Some("warning: fd obj size increased to minimum of 32")),
        ("10x1b", Some("warning: fd obj size increased to minimum of 32")),
        ("10x5000", Some("warning: fd obj size limited to maximum of 4096")),
        ("10x1T", Some("warning: fd obj size limited to maximum of 4096")),
        ("10x1t", Some("warning: fd obj size limited to maximum of 4096")),
        ("10x2MiB", Some("warning: fd obj size limited to maximum of 4096")),
        ("10x1GB", Some("warning: fd obj size limited to maximum of 4096")),
        ("10x1k", None),
        ("10x1KB", None),
        ("10x1KiB", None),
        ("10x", None),
        ("10", None),
    ] {
        let (_d, log) = startup_log(&["--fd-pool", arg]);
        let expected: Vec<String> = warning.into_iter().map(str::to_owned).collect();
        assert_eq!(log, expected, "--fd-pool {arg}");
    }
    // N < 7 really means 7: the seven built-ins fill the pool.
    let (mut d, _) = startup_log(&["--fd-pool", "5"]);
    assert_eq!(
        d.cmd("fd.open\tx\tread\t/dev/null"),
        ["error\tUnable to allocate new file descriptor object, for command \"fd.open\tx\tread\t/dev/null\""]
    );
    let (mut d, _) = startup_log(&["--fd-pool", "8"]);
    assert_eq!(d.cmd("fd.open\tx\tread\t/dev/null"), ["fd.state\tx\tfile\tread\t/dev/null"]);
}

#[test]
fn service_pool_clamp_warnings() {
    let (mut d, log) = startup_log(&["--service-pool", "0"]);
    assert_eq!(log, ["warning: At least 1 service objects required; using minimum"]);
    assert_eq!(d.cmd("service.tags\ta\tx"), ["service.tags\ta\tx"]);
    assert_eq!(
        d.cmd("service.tags\tb\tx"),
        ["error\tUnable to allocate new service, for command \"service.tags\tb\tx\""]
    );
    let (_d, log) = startup_log(&["--service-pool", "70000"]);
    assert_eq!(log, ["warning: service pool size exceeds maximum; limiting to 65535"]);
    let (_d, log) = startup_log(&["--service-pool", "5x10"]);
    // The original's typo `servce` may be corrected (§16 row 46).
    assert!(
        log == ["warning: servce obj size increased to minimum of 64"]
            || log == ["warning: service obj size increased to minimum of 64"],
        "{log:?}"
    );
    for arg in ["5", "5x1g", "5x1T", "5x"] {
        let (_d, log) = startup_log(&["--service-pool", arg]);
        assert_eq!(log, Vec::<String>::new(), "--service-pool {arg}");
    }
}

#[test]
fn exit_guard_parsing() {
    for v in ["5x", "x", "+7x", "7 ", "0x10"] {
        assert_fatal(&["--exit-guard", v, "-i"], 2, "fatal: Terminate guard must be an integer\n");
    }
    // Empty and 0 mean "no guard".
    for v in ["", "0", "-0"] {
        let r = run(&["--exit-guard", v, "-i"], b"terminate\t4\n");
        assert_eq!(r.status, Some(4), "--exit-guard {v:?}: {}", r.stderr);
    }
    // strtol: leading whitespace and a sign are fine.
    for (v, code) in [(" 7", "7"), ("+7", "7"), ("-7", "-7"), ("\t12", "12")] {
        let mut d = Daemon::interactive_clean(&["--exit-guard", v]);
        assert_eq!(
            d.cmd("terminate\t0"),
            ["error\tterminate guard code required, for command \"terminate\t0\""],
            "--exit-guard {v:?}"
        );
        assert_eq!(
            d.cmd(&format!("terminate\t0\t{code}")),
            [format!("error\tcannot exit, and exec-on-exit is not configured, for command \"terminate\t0\t{code}\"")]
        );
        assert_eq!(d.cmd(&format!("terminate.guard\t-\t{code}")), Vec::<String>::new());
        d.send("terminate\t0");
        assert_eq!(d.wait(), Some(0));
    }
}

#[test]
fn exit_exec_runs_on_bad_option() {
    let dir = tempdir();
    let file = dir.path().join("exec.out");
    let r = run(&["-E", &recorder_args(&file), "--bogus"], b"");
    // sh replaced daemonproxy and exited normally.
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "2:Unknown option --bogus  (see --help)\n");
    assert_eq!(r.stderr, "warning: daemonproxy exec_on_exit to 'sh'\n");
}

#[test]
fn exit_exec_runs_on_terminate() {
    let dir = tempdir();
    let file = dir.path().join("exec.out");
    let r = run(&["-E", &recorder_args(&file), "-i"], b"terminate\t5\n");
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "5:terminated normally\n");
    // Interactive EOF is a normal termination too (status 0).
    let file2 = dir.path().join("exec2.out");
    let r = run(&["--exit-exec", &recorder_args(&file2), "-i"], b"");
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file2).unwrap(), "0:terminated normally\n");
}

#[test]
fn exit_exec_runs_on_help_only_when_given_first() {
    let dir = tempdir();
    let file = dir.path().join("exec.out");
    let r = run(&["-E", &recorder_args(&file), "--help"], b"");
    assert_eq!(r.status, Some(0));
    assert!(r.stdout.starts_with("daemonproxy version "), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "1:\n");
    // `-E` after `--help` is never reached.
    let file2 = dir.path().join("exec2.out");
    let r = run(&["--version", "-E", &recorder_args(&file2)], b"");
    assert_eq!(r.status, Some(1));
    assert!(!file2.exists());
}

#[test]
fn exit_exec_argument_limits() {
    let long = format!("sh\t-c\t#{}", "x".repeat(300));
    assert_fatal(&["-E", &long[..256], "-i"], 2, "fatal: exec-on-exit arguments exceed buffer size\n");
    // 255 bytes are fine.
    let r = run(&["-E", &long[..255], "-i"], b"exit\n");
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    // An empty string disables exec-on-exit again.
    let dir = tempdir();
    let file = dir.path().join("exec.out");
    assert_fatal(
        &["-E", &recorder_args(&file), "-E", "", "--bogus"],
        2,
        "fatal: Unknown option --bogus  (see --help)\n",
    );
    assert!(!file.exists());
}

#[test]
fn exit_guard_help_then_interactive() {
    let dir = tempdir();
    let sock = dir.path().join("ctl.sock");
    let mut d =
        Daemon::spawn(clean_fds(Command::new(bin()).args(["--exit-guard", "5", "--help", "-i", "-S", &p(&sock)])));
    // The help text, then the banner: option processing went on.
    assert!(d.out.next().starts_with("daemonproxy version "));
    assert_eq!(d.out.next(), "options:");
    d.out.wait_for("end of help", |l| l.starts_with("See also: "));
    assert_eq!(d.out.next(), "");
    for _ in 0..4 {
        assert!(d.out.next().starts_with("info\t"));
    }
    assert_eq!(d.cmd("echo\tinteractive"), ["interactive"]);
    // With the guard, the end of the session does not exit.
    d.close_stdin();
    d.log.wait_for("guard warning", |l| {
        l == "warning: interactive session ended, but not exiting due to terminate-guard"
    });
    let mut c = Client::connect(&sock);
    assert_eq!(c.cmd("echo\tstill-running"), ["still-running"]);
    assert_eq!(c.cmd("terminate.guard\t-\t5"), Vec::<String>::new());
    c.send("terminate\t0");
    assert_eq!(d.wait(), Some(0));
}

#[test]
fn verbose_and_quiet_set_the_log_filter() {
    for (args, level) in [
        (&[][..], "debug"),
        (&["-v"], "trace"),
        (&["--verbose"], "trace"),
        (&["-vv"], "none"),
        (&["-v", "-v", "-v"], "none"),
        (&["-q"], "info"),
        (&["--quiet", "--quiet"], "warning"),
        (&["-qqq"], "error"),
        (&["-qqqq"], "fatal"),
        (&["-qqqqq"], "fatal"),
        (&["-vq"], "debug"),
        (&["-vvvq"], "trace"),
    ] {
        let mut d = Daemon::interactive_clean(args);
        assert_eq!(d.cmd("log.filter"), [format!("log.filter\t{level}")], "{args:?}");
    }
    // In a cluster with -i.
    let mut d = Daemon::spawn_interactive(clean_fds(Command::new(bin()).arg("-iv")));
    assert_eq!(d.cmd("log.filter"), ["log.filter\ttrace"]);
}

/// `daemonproxy -D ARGS -S PATH`: checks the parent's output, the
/// daemon's session, that it runs on, and ends it through the socket.
fn daemonize_case(args: &[&str]) {
    let dir = tempdir();
    let sock = dir.path().join("ctl.sock");
    let sock_s = p(&sock);
    let mut all = vec!["-D"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-S", &sock_s]);
    let r = run(&all, b"");
    // The parent: PID digits only, no newline, exit 0, nothing logged.
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert_eq!(r.stderr, "");
    assert!(!r.stdout.is_empty() && r.stdout.bytes().all(|b| b.is_ascii_digit()), "{:?}", r.stdout);
    let pid: i32 = r.stdout.parse().unwrap();
    let _guard = KillGuard(pid);
    // The daemon: session and group leader, named daemonproxy, running on.
    let st = proc_stat(pid).expect("daemonized process");
    assert_eq!((st.session, st.pgrp), (pid, pid), "{st:?}");
    assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim_end(), "daemonproxy");
    let mut c = Client::connect(&sock);
    assert_eq!(c.cmd("echo\tdetached"), ["detached"]);
    // Caught signals do not kill it (§16 row 31).
    kill(pid, libc::SIGTERM);
    c.lines.wait_for("signal event", |l| l.starts_with("signal\tSIGTERM\t"));
    assert_eq!(c.cmd("echo\tstill"), ["still"]);
    c.send("terminate\t0");
    poll_until("daemon to exit", || (!alive(pid)).then_some(()));
}

#[test]
fn daemonize_prints_pid_and_detaches() {
    daemonize_case(&[]);
}

/// The same with a (trivial) config file, which sidesteps the `-S`-only
/// bug above.
#[test]
fn daemonize_with_config_prints_pid_and_detaches() {
    daemonize_case(&["-c", "/dev/null"]);
}

#[test]
fn daemonize_is_ignored_when_interactive() {
    let (mut d, log) = startup_log(&["-D"]);
    assert_eq!(log, ["warning: Ignoring --daemonize (see manual)"]);
    assert_eq!(d.cmd("echo\tforeground"), ["foreground"]);
    assert_eq!(d.wait(), Some(0));
}

#[test]
fn mlockall_does_not_crash() {
    let r = run(&["-M", "-i"], b"echo\tlocked\n");
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(r.stdout.ends_with("locked\n"), "{:?}", r.stdout);
    // Either it worked silently or it failed with a logged error.
    for l in r.stderr.lines() {
        assert!(
            l.starts_with("error: mlockall: ") || l.starts_with("info: "),
            "unexpected log line {l:?} in {}",
            r.stderr
        );
    }
    let r = run(&["--mlockall", "-i"], b"");
    assert_eq!(r.status, Some(0), "{}", r.stderr);
}

#[test]
fn interactive_eof_exits_0() {
    let mut d = Daemon::interactive_clean(&[]);
    assert_eq!(d.cmd("echo\tx"), ["x"]);
    assert_eq!(d.wait(), Some(0));
    assert_eq!(d.log.rest_until_eof(), ["info: interactive session ended", "info: daemonproxy exiting"]);
    assert_eq!(d.out.rest_until_eof(), Vec::<String>::new());
}

#[test]
fn interactive_final_partial_line_is_discarded() {
    let dir = tempdir();
    let f = dir.path().join("never");
    let mut d = Daemon::interactive_clean(&[]);
    d.send_raw(format!("fd.open\tx\twrite,create\t{}", p(&f)).as_bytes());
    assert_eq!(d.wait(), Some(0));
    assert_eq!(
        d.log.rest_until_eof(),
        ["warning: Command ends with EOF... ignored", "info: interactive session ended", "info: daemonproxy exiting"]
    );
    assert!(!f.exists());
}

#[test]
fn running_services_are_listed_at_exit() {
    let mut d = Daemon::interactive_clean(&[]);
    let mut kg = KillGroups::default();
    for name in ["zz", "aa"] {
        d.cmd(&format!("service.args\t{name}\tsleep\t30"));
    }
    let zz = d.start_up("zz");
    kg.add(zz);
    let aa = d.start_up("aa");
    kg.add(aa);
    d.cmd("service.args\tdone\ttrue");
    d.send("service.start\tdone");
    d.wait_state("done", "down");
    assert_eq!(d.wait(), Some(0));
    assert_eq!(
        d.log.rest_until_eof(),
        [
            "info: interactive session ended".to_owned(),
            "info: daemonproxy exiting".to_owned(),
            format!("warning: service 'aa' running as pid {aa}"),
            format!("warning: service 'zz' running as pid {zz}"),
        ]
    );
    // Nothing signals services at exit.
    assert!(alive(aa) && alive(zz));
    drop(kg);
    poll_until("services killed", || (!alive(aa) && !alive(zz)).then_some(()));
}

#[test]
fn fatal_signal_is_not_lost_to_a_simultaneous_eof() {
    // kill() has returned, so the signal is pending in the daemon before
    // its stdin reaches EOF; the original handles it in the signal
    // handler, so the outcome is always the fatal path.
    let mut outcomes = Vec::new();
    for _ in 0..50 {
        let mut d = Daemon::interactive_clean(&[]);
        kill(d.pid(), libc::SIGILL);
        let status = d.wait();
        let log = d.log.rest_until_eof();
        if status != Some(4) {
            outcomes.push((status, log));
        }
    }
    assert!(outcomes.is_empty(), "{} of 50 runs did not take the fatal path: {:?}", outcomes.len(), outcomes[0]);
}

/// docs/protocol.md shows the real `--help` (section 8.1).
#[test]
fn protocol_reference_shows_the_help_text() {
    let r = run(&["--help"], b"");
    let docs = std::fs::read_to_string(repo_root().join("docs/protocol.md")).expect("docs/protocol.md");
    let block = format!("```\n{}\n```", r.stdout.trim_end());
    assert!(docs.contains(&block), "docs/protocol.md §8.1 should show:\n{block}");
}
