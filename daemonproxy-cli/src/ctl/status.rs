//! `daemonproxy ctl status`: the reply to `statedump` (protocol.md §3.2) as tables.
//!
//! The lines between the begin token and the end token are applied in
//! order to a snapshot: the dump itself, and any event broadcast meanwhile
//! (a later `service.state` or `fd.state` replaces an earlier one, the
//! `deleted` forms remove the row), so the tables show the latest state.
//! Lines before the begin token (the `signal` events every new connection
//! receives, protocol.md §4.5) are ignored.

use std::collections::BTreeMap;

use daemonproxy_proto::{Event, ExitReason, FdInfo, ServiceState, Signal};

use super::Sent;

/// One row of the handle table.
struct Handle {
    kind: &'static str,
    flags: String,
    description: String,
}

/// The state collected from the dump.
pub(super) struct Snapshot {
    /// The line that starts the dump.
    begin: Vec<u8>,
    started: bool,
    services: BTreeMap<String, ServiceState>,
    handles: BTreeMap<String, Handle>,
    /// Pending signals, oldest reception first: signal, second of the last
    /// reception (CLOCK_MONOTONIC), count.
    signals: Vec<(Signal, u64, u64)>,
    /// Lines that start with an event name but do not have its form.
    pub(super) malformed: Vec<Vec<u8>>,
    /// Whether `overflow` was received: the dump is incomplete.
    pub(super) overflow: bool,
    /// Whether an error answered a command sent.
    pub(super) failed: bool,
}

impl Snapshot {
    pub(super) fn new(begin: Vec<u8>) -> Snapshot {
        Snapshot {
            begin,
            started: false,
            services: BTreeMap::new(),
            handles: BTreeMap::new(),
            signals: Vec::new(),
            malformed: Vec::new(),
            overflow: false,
            failed: false,
        }
    }

    /// Applies one line from the daemon.
    pub(super) fn line(&mut self, line: &[u8], sent: &Sent) {
        if !self.started {
            self.started = line == self.begin.as_slice();
            return;
        }
        match Event::parse(line) {
            Ok(Event::ServiceState { name, state: ServiceState::Deleted }) => {
                self.services.remove(name.as_str());
            }
            Ok(Event::ServiceState { name, state }) => {
                self.services.insert(name.as_str().to_owned(), state);
            }
            Ok(Event::FdState { name, info }) => match handle(info) {
                Some(h) => {
                    self.handles.insert(name.as_str().to_owned(), h);
                }
                None => {
                    self.handles.remove(name.as_str());
                }
            },
            Ok(Event::Signal { signal, at, count }) => {
                self.signals.retain(|&(s, _, _)| s != signal);
                if count > 0 {
                    self.signals.push((signal, at, count));
                    self.signals.sort_by_key(|&(_, at, _)| at);
                }
            }
            Ok(Event::Error { message }) => {
                if sent.is_reply(message) {
                    self.failed = true;
                    eprintln!("{}: error\t{}", super::PROG, String::from_utf8_lossy(message));
                }
            }
            Ok(Event::Overflow) => self.overflow = true,
            Ok(_) => {}
            Err(_) => self.malformed.push(line.to_vec()),
        }
    }

    /// The tables, given the daemon's clock (whole seconds of
    /// CLOCK_MONOTONIC, which the daemon and its clients on the same host
    /// share).
    pub(super) fn render(&self) -> String {
        self.render_at(daemonproxy_core::time::now() / daemonproxy_core::SEC)
    }

    fn render_at(&self, now: u64) -> String {
        let mut out = String::new();
        if self.services.is_empty() {
            out.push_str("Services: none\n");
        } else {
            out.push_str(&format!("Services ({}):\n", self.services.len()));
            let mut rows = vec![row(["NAME", "STATE", "PID", "UPTIME", "LAST EXIT"])];
            for (name, state) in &self.services {
                rows.push(service_row(name, state));
            }
            out.push_str(&table(&rows));
        }
        out.push('\n');
        if self.handles.is_empty() {
            out.push_str("Handles: none\n");
        } else {
            out.push_str(&format!("Handles ({}):\n", self.handles.len()));
            let mut rows = vec![row(["NAME", "TYPE", "FLAGS", "DESCRIPTION"])];
            for (name, h) in &self.handles {
                rows.push(vec![name.clone(), h.kind.to_owned(), h.flags.clone(), h.description.clone()]);
            }
            out.push_str(&table(&rows));
        }
        if !self.signals.is_empty() {
            out.push('\n');
            out.push_str(&format!("Pending signals ({}):\n", self.signals.len()));
            let mut rows = vec![row(["SIGNAL", "COUNT", "LAST RECEIVED"])];
            for &(signal, at, count) in &self.signals {
                let age = format!("{} ago", human_duration(now.saturating_sub(at)));
                rows.push(vec![signal_text(signal), count.to_string(), age]);
            }
            out.push_str(&table(&rows));
        }
        out
    }
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn service_row(name: &str, state: &ServiceState) -> Vec<String> {
    let dash = || "-".to_owned();
    let (state, pid, uptime, last) = match *state {
        ServiceState::Down => ("down", dash(), dash(), dash()),
        ServiceState::Deleted => ("deleted", dash(), dash(), dash()),
        ServiceState::Start { .. } => ("start", dash(), dash(), dash()),
        ServiceState::Up { pid, uptime, .. } => ("up", pid.to_string(), human_duration(uptime), dash()),
        ServiceState::Exited { reason, .. } => ("down", dash(), dash(), exit_text(reason)),
    };
    vec![name.to_owned(), state.to_owned(), pid, uptime, last]
}

/// `exit 0`, `signal SIGTERM`.
fn exit_text(reason: ExitReason) -> String {
    match reason {
        ExitReason::Exit(status) => format!("exit {status}"),
        ExitReason::Signal(signal) => format!("signal {}", signal_text(signal)),
    }
}

/// `SIGTERM`; the events print `SIG-?` for numbers without a name, which
/// parses back as signal 0.
fn signal_text(signal: Signal) -> String {
    signal.to_string()
}

/// The handle row of an `fd.state` event; `None` for the deleted form.
fn handle(info: FdInfo<'_>) -> Option<Handle> {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut flags = Vec::new();
    let (kind, description) = match info {
        FdInfo::Deleted => return None,
        FdInfo::File { flags: f, description } => {
            f.write_to(&mut flags);
            ("file", lossy(description))
        }
        FdInfo::Pipe { flags: f, read_end, peer } => {
            f.write_to(read_end, &mut flags);
            ("pipe", peer.map_or("?", |p| p.as_str()).to_owned())
        }
        FdInfo::Socket { flags: f, description } => {
            f.write_to(&mut flags);
            ("socket", lossy(description))
        }
        FdInfo::Special(s) => {
            flags.extend_from_slice(s.flags().as_bytes());
            ("special", s.description().to_owned())
        }
    };
    Some(Handle { kind, flags: lossy(&flags), description })
}

/// `3s`, `5m12s`, `2h3m`, `4d7h`.
pub(super) fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{}s", secs / 60, secs % 60),
        3600..=86399 => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// Left-aligned columns two spaces apart, without trailing spaces.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 < r.len() {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [(0, "0s"), (3, "3s"), (59, "59s"), (60, "1m0s"), (312, "5m12s"), (7380, "2h3m"), (90000, "1d1h")];
        for (secs, text) in cases {
            assert_eq!(human_duration(secs), text);
        }
    }

    #[test]
    fn dump_as_tables() {
        let sent = Sent::default();
        let mut s = Snapshot::new(b"BEGIN".to_vec());
        let lines: &[&[u8]] = &[
            b"signal\tSIGHUP\t10\t1",
            b"BEGIN",
            b"fd.state\tnull\tspecial\tread,write\t/dev/null",
            b"fd.state\tlog\tfile\twrite,append,create\t/var/log/x.log",
            b"fd.state\tp.r\tpipe\tfrom\t?",
            b"fd.state\tgone\tfile\tread\tunknown",
            b"service.state\tweb\tup\t695\t14268\t-\t-\t312\t-",
            b"service.tags\tweb\t",
            b"service.state\tbad\tdown\t726\t14364\texit\t3\t0\t5",
            b"service.state\tkilled\tdown\t726\t14365\tsignal\tSIGTERM\t4\t0",
            b"service.state\tnew\tdown\t-\t-\t-\t-\t-\t-",
            b"service.state\tlater\tstart\t900\t-\t-\t-\t-\t-",
            b"fd.state\tgone\tdeleted",
            b"fd.state\tbroken\tfile\tnonsense\tx",
            b"signal\tSIGUSR1\t990\t2",
        ];
        for l in lines {
            s.line(l, &sent);
        }
        assert_eq!(s.malformed, vec![b"fd.state\tbroken\tfile\tnonsense\tx".to_vec()]);
        assert_eq!(
            s.render_at(1000),
            "Services (5):
NAME    STATE  PID    UPTIME  LAST EXIT
bad     down   -      -       exit 3
killed  down   -      -       signal SIGTERM
later   start  -      -       -
new     down   -      -       -
web     up     14268  5m12s   -

Handles (3):
NAME  TYPE     FLAGS                DESCRIPTION
log   file     write,append,create  /var/log/x.log
null  special  read,write           /dev/null
p.r   pipe     from                 ?

Pending signals (1):
SIGNAL   COUNT  LAST RECEIVED
SIGUSR1  2      10s ago
"
        );
    }

    #[test]
    fn empty_state() {
        let s = Snapshot::new(b"BEGIN".to_vec());
        assert_eq!(s.render_at(0), "Services: none\n\nHandles: none\n");
    }
}
