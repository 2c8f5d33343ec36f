//! What every simulated test needs: a world with a controller, a way to
//! run commands and collect their events, and the exact lines the protocol
//! fixes (PROTOCOL.md §3.10, §6).

pub use daemonproxy_core::proto::{ExitReason, LogLevel, Signal};
pub use daemonproxy_core::sim::{Sim, SimFd};
pub use daemonproxy_core::supervisor::{ConnKind, FdKind};
pub use daemonproxy_core::{ConnId, Options, Outcome};

/// The world starts at this second (see [`Sim::new`]).
pub const T0: u64 = 1000;

/// The first pid the world hands out.
pub const PID0: i32 = 1000;

/// The pretend descriptor of the `null` handle.
pub const NULL_FD: u32 = 3;

/// The seven handles of a fresh world, as `statedump` lists them (the
/// standard ones are registered read/write by the sim).
pub const BUILTIN_FD_STATES: [&str; 7] = [
    "fd.state\tcontrol.cmd\tspecial\twrite\tdaemonproxy command pipe",
    "fd.state\tcontrol.event\tspecial\tread\tdaemonproxy event stream",
    "fd.state\tcontrol.socket\tspecial\tread,write\tdaemonproxy control socket",
    "fd.state\tnull\tspecial\tread,write\t/dev/null",
    "fd.state\tstderr\tfile\tread,write\tunknown",
    "fd.state\tstdin\tfile\tread,write\tunknown",
    "fd.state\tstdout\tfile\tread,write\tunknown",
];

/// A fresh world with one in-process controller.
pub fn world() -> (Sim, ConnId) {
    world_with(Options::new())
}

/// A fresh world built with `opts`, with one in-process controller.
pub fn world_with(opts: Options) -> (Sim, ConnId) {
    let mut s = Sim::with_options(opts);
    let me = s.attach();
    (s, me)
}

/// Ends the current round of the loop (due starts happen, timers fire),
/// checks the supervisor's invariants and returns what `conn` received.
pub fn round(s: &mut Sim, conn: ConnId) -> Vec<String> {
    s.advance_secs(0);
    if let Err(e) = s.supervisor().check_invariants() {
        panic!("invariant broken: {e}");
    }
    assert!(s.violations().is_empty(), "the supervisor surprised its driver: {:?}", s.violations());
    s.events(conn)
}

/// Sends one command line (the LF is added) and returns the events its
/// connection received by the end of the round.
pub fn cmd(s: &mut Sim, conn: ConnId, line: &str) -> Vec<String> {
    let text = format!("{line}\n");
    assert_eq!(s.send(conn, &text), text.len(), "input refused: {line:?}");
    round(s, conn)
}

/// Sends bytes however long, letting the connection's commands run (and
/// taking its events) whenever its input buffer is full; returns every
/// event it received.
pub fn send_all(s: &mut Sim, conn: ConnId, bytes: &[u8]) -> Vec<String> {
    let mut events = Vec::new();
    let mut off = 0;
    while off < bytes.len() {
        let n = s.send_bytes(conn, &bytes[off..]);
        if n == 0 {
            let more = s.events(conn);
            assert!(!more.is_empty(), "input stuck after {off} bytes");
            events.extend(more);
        }
        off += n;
    }
    events.extend(round(s, conn));
    events
}

/// The error event of §3.10 for a failed `line`: its first 30 bytes,
/// followed by `...` (inside the quotes) when it is 30 bytes or longer.
pub fn err(msg: &str, line: &str) -> String {
    let shown = if line.len() >= 30 { format!("{}...", &line[..30]) } else { line.to_owned() };
    format!("error\t{msg}, for command \"{shown}\"")
}

/// Asserts that `line` fails with exactly one error event saying `msg`.
pub fn assert_err(s: &mut Sim, conn: ConnId, line: &str, msg: &str) {
    assert_eq!(cmd(s, conn, line), [err(msg, line)], "reply to {line:?}");
}

/// Asserts that `line` produces no event at all.
pub fn assert_silent(s: &mut Sim, conn: ConnId, line: &str) {
    assert_eq!(cmd(s, conn, line), Vec::<String>::new(), "reply to {line:?}");
}

/// The two log lines of a failed command (§3.10), for a line shorter than
/// 90 bytes.
pub fn failure_log(conn: ConnId, line: &str, msg: &str) -> [String; 2] {
    [format!("error: controller[{conn}] command failed: '{line}'"), format!("error:   with error: '{msg}'")]
}

/// The issuer's `statedump` output.
pub fn statedump(s: &mut Sim, conn: ConnId) -> Vec<String> {
    cmd(s, conn, "statedump")
}

/// The lines of a `statedump` that start with `prefix`.
pub fn dumped(s: &mut Sim, conn: ConnId, prefix: &str) -> Vec<String> {
    statedump(s, conn).into_iter().filter(|l| l.starts_with(prefix)).collect()
}

/// `service.state NAME start TS - - - - -`
pub fn start(name: &str, ts: u64) -> String {
    format!("service.state\t{name}\tstart\t{ts}\t-\t-\t-\t-\t-")
}

/// `service.state NAME up TS PID - - 0 -` (a live event).
pub fn up(name: &str, ts: u64, pid: i32) -> String {
    format!("service.state\t{name}\tup\t{ts}\t{pid}\t-\t-\t0\t-")
}

/// `service.state NAME down TS PID exit|signal VALUE UPTIME 0` (a live
/// event) for a process that ended as `how`.
pub fn down(name: &str, ts: u64, pid: i32, how: &str, uptime: u64) -> String {
    format!("service.state\t{name}\tdown\t{ts}\t{pid}\t{how}\t{uptime}\t0")
}

/// `service.state NAME down - - - - - -`: never started, or cancelled.
pub fn down_clear(name: &str) -> String {
    format!("service.state\t{name}\tdown\t-\t-\t-\t-\t-\t-")
}

/// `service.state NAME deleted - - - - - -`
pub fn deleted(name: &str) -> String {
    format!("service.state\t{name}\tdeleted\t-\t-\t-\t-\t-\t-")
}

/// Creates service `name` with `args` and starts it now; returns its pid.
pub fn start_up(s: &mut Sim, conn: ConnId, name: &str, args: &str) -> i32 {
    let now = s.now().secs();
    let ev = cmd(s, conn, &format!("service.args\t{name}\t{args}"));
    assert_eq!(ev, [format!("service.args\t{name}\t{args}")]);
    let ev = cmd(s, conn, &format!("service.start\t{name}"));
    let pid = s.pid_of(name).unwrap_or_else(|| panic!("{name} did not start: {ev:?}"));
    assert_eq!(ev, [start(name, now), up(name, now, pid)]);
    pid
}
