//! `ctl status`: the daemon's [`Snapshot`] (from `statedump`) as tables,
//! or as JSON for scripts.
//!
//! What the status can say is what `statedump` carries:
//!
//! * no restart count: the daemon keeps none (`ctl follow` shows every
//!   start as it happens);
//! * the exec error of a failed start only if its `error` event arrived
//!   while the dump was taken (a dump does not repeat errors; `ctl start`
//!   and `ctl follow` report them when they happen);
//! * a service with a pending start (`start`, such as a throttled restart)
//!   has no last exit any more: the daemon forgets it when the start is
//!   requested.
//!
//! The JSON document (field names are stable; fields may be added):
//!
//! ```text
//! { "services": { NAME: {
//!       "state": "down" | "start" | "up",
//!       "pid": N | null,                 running process
//!       "uptime_secs": N | null,         running: seconds since the fork
//!       "started_unix": N | null,        running: Unix time of the fork
//!       "next_start_unix": N | null,     start: Unix time it is due
//!       "last_exit": null | {            down after a run
//!           "pid": N, "exit_code": N | null, "signal": "SIGTERM" | null,
//!           "ran_secs": N, "ended_unix": N,
//!           "exec_error": "exec \"PROG\" failed: ERROR" | null },
//!       "args": [TEXT...], "tags": [TEXT...], "fds": [NAME...],
//!       "auto_up": null | { "interval_secs": N, "triggers": ["always" | "SIGHUP"...] } } },
//!   "handles": { NAME: { "type": "file" | "pipe" | "socket" | "special",
//!       "flags": TEXT, "description": TEXT } },
//!   "signals": { "SIGHUP": { "count": N, "last_received_unix": N } } }
//! ```
//!
//! Unix times are whole seconds, converted from the daemon's monotonic
//! seconds with the wall clock at the time of the status.

use std::collections::BTreeMap;

use daemonproxy_proto::{ExitReason, HandleInfo, ServiceInfo, ServiceState, Snapshot, Trigger};

use super::clock::{human_duration, Clock};
use super::conn::Conn;
use super::json::Json;
use super::reply::exec_failure;
use super::{fail, print, warn, Failure, EXIT_FAILED, EXIT_OK};

/// `ctl status [--json]`.
pub(super) fn run(conn: &mut Conn, json: bool) -> Result<i32, Failure> {
    let snap = conn.statedump()?;
    let clock = Clock::now();
    let view = View { snap: &snap, exec_errors: exec_errors(&snap), clock };
    let text = if json { view.json().render() } else { view.tables() };
    print(text.as_bytes())?;
    for ev in snap.other.iter().filter(|ev| ev.event().is_err()) {
        warn(&format!("ignored a malformed line from the daemon: {ev}"));
    }
    if snap.discarded > 0 {
        return Err(fail(EXIT_FAILED, "events were lost (over-long lines): the state shown is incomplete"));
    }
    Ok(EXIT_OK)
}

/// The exec failures broadcast while the dump was taken, by service.
fn exec_errors(snap: &Snapshot) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    for ev in &snap.other {
        if let Ok(daemonproxy_proto::Event::Error { message }) = ev.event() {
            if let Some((name, text)) = exec_failure(message) {
                errors.insert(name.to_owned(), text);
            }
        }
    }
    errors
}

/// A snapshot with what it is shown with.
struct View<'a> {
    snap: &'a Snapshot,
    exec_errors: BTreeMap<String, String>,
    clock: Clock,
}

impl View<'_> {
    fn tables(&self) -> String {
        let mut out = String::new();
        let services = &self.snap.services;
        if services.is_empty() {
            out.push_str("Services: none\n");
        } else {
            out.push_str(&format!("Services ({}):\n", services.len()));
            let mut rows = vec![row(["NAME", "STATE", "PID", "UPTIME", "NEXT START", "LAST EXIT"])];
            rows.extend(services.iter().map(|(name, s)| self.service_row(name, s)));
            out.push_str(&table(&rows));
        }
        out.push('\n');
        let handles = &self.snap.handles;
        if handles.is_empty() {
            out.push_str("Handles: none\n");
        } else {
            out.push_str(&format!("Handles ({}):\n", handles.len()));
            let mut rows = vec![row(["NAME", "TYPE", "FLAGS", "DESCRIPTION"])];
            for (name, h) in handles {
                let (flags, description) = handle_text(h);
                rows.push(vec![name.clone(), h.kind().to_owned(), flags, description]);
            }
            out.push_str(&table(&rows));
        }
        let signals = &self.snap.signals;
        if !signals.is_empty() {
            out.push('\n');
            out.push_str(&format!("Pending signals ({}):\n", signals.len()));
            let mut rows = vec![row(["SIGNAL", "COUNT", "LAST RECEIVED"])];
            for s in signals {
                let age = format!("{} ago", human_duration(self.clock.since(s.at)));
                rows.push(vec![s.signal.to_string(), s.count.to_string(), age]);
            }
            out.push_str(&table(&rows));
        }
        out
    }

    fn service_row(&self, name: &str, s: &ServiceInfo) -> Vec<String> {
        let dash = || "-".to_owned();
        let (state, pid, uptime, next, last) = match s.state {
            ServiceState::Down | ServiceState::Deleted => ("down", dash(), dash(), dash(), dash()),
            ServiceState::Start { at } => {
                let next = match self.clock.until(at) {
                    0 => "now".to_owned(),
                    secs => format!("in {}", human_duration(secs)),
                };
                ("start", dash(), dash(), next, dash())
            }
            ServiceState::Up { pid, uptime, .. } => ("up", pid.to_string(), human_duration(uptime), dash(), dash()),
            ServiceState::Exited { reason, downtime, .. } => {
                let mut last = format!("{} ({} ago)", exit_text(reason), human_duration(downtime));
                if let Some(e) = self.exec_errors.get(name) {
                    last.push_str(&format!(": {e}"));
                }
                ("down", dash(), dash(), dash(), last)
            }
        };
        vec![name.to_owned(), state.to_owned(), pid, uptime, next, last]
    }

    fn json(&self) -> Json {
        let services = self.snap.services.iter().map(|(name, s)| (name.clone(), self.service_json(name, s))).collect();
        let handles = self
            .snap
            .handles
            .iter()
            .map(|(name, h)| {
                let (flags, description) = handle_text(h);
                let members = vec![
                    ("type".to_owned(), Json::str(h.kind())),
                    ("flags".to_owned(), Json::str(flags)),
                    ("description".to_owned(), Json::str(description)),
                ];
                (name.clone(), Json::Object(members))
            })
            .collect();
        let signals = self
            .snap
            .signals
            .iter()
            .map(|s| {
                let members = vec![
                    ("count".to_owned(), Json::uint(s.count)),
                    ("last_received_unix".to_owned(), Json::Int(self.clock.unix_of(s.at))),
                ];
                (s.signal.to_string(), Json::Object(members))
            })
            .collect();
        Json::Object(vec![
            ("services".to_owned(), Json::Object(services)),
            ("handles".to_owned(), Json::Object(handles)),
            ("signals".to_owned(), Json::Object(signals)),
        ])
    }

    fn service_json(&self, name: &str, s: &ServiceInfo) -> Json {
        let (mut pid, mut uptime, mut started, mut next, mut last) = (None, None, None, None, None);
        let state = match s.state {
            ServiceState::Down | ServiceState::Deleted => "down",
            ServiceState::Start { at } => {
                next = Some(self.clock.unix_of(at));
                "start"
            }
            ServiceState::Up { since, pid: p, uptime: u } => {
                (pid, uptime, started) = (Some(p), Some(u), Some(self.clock.unix_of(since)));
                "up"
            }
            ServiceState::Exited { at, pid, reason, uptime, .. } => {
                let (code, signal) = match reason {
                    ExitReason::Exit(code) => (Json::Int(code.into()), Json::Null),
                    ExitReason::Signal(sig) => (Json::Null, Json::str(sig.to_string())),
                };
                last = Some(Json::Object(vec![
                    ("pid".to_owned(), Json::Int(pid.into())),
                    ("exit_code".to_owned(), code),
                    ("signal".to_owned(), signal),
                    ("ran_secs".to_owned(), Json::uint(uptime)),
                    ("ended_unix".to_owned(), Json::Int(self.clock.unix_of(at))),
                    ("exec_error".to_owned(), Json::or_null(self.exec_errors.get(name), |e| Json::str(e.clone()))),
                ]));
                "down"
            }
        };
        let list = |items: &mut dyn Iterator<Item = &[u8]>| Json::Array(items.map(Json::bytes).collect());
        // An empty list is no descriptors at all, not one empty entry.
        let mut fds = s.fds.split(|&b| b == b'\t').filter(|_| !s.fds.is_empty());
        let auto_up = Json::or_null(s.auto_up.as_ref(), |a| {
            let triggers = a
                .triggers
                .iter()
                .map(|t| match t {
                    Trigger::Always => Json::str("always"),
                    Trigger::Signal(sig) => Json::str(sig.to_string()),
                })
                .collect();
            Json::Object(vec![
                ("interval_secs".to_owned(), Json::uint(a.interval.into())),
                ("triggers".to_owned(), Json::Array(triggers)),
            ])
        });
        Json::Object(vec![
            ("state".to_owned(), Json::str(state)),
            ("pid".to_owned(), Json::or_null(pid, |p| Json::Int(p.into()))),
            ("uptime_secs".to_owned(), Json::or_null(uptime, Json::uint)),
            ("started_unix".to_owned(), Json::or_null(started, Json::Int)),
            ("next_start_unix".to_owned(), Json::or_null(next, Json::Int)),
            ("last_exit".to_owned(), last.unwrap_or(Json::Null)),
            ("args".to_owned(), list(&mut s.argv())),
            ("tags".to_owned(), list(&mut s.tag_list())),
            ("fds".to_owned(), list(&mut fds)),
            ("auto_up".to_owned(), auto_up),
        ])
    }
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

/// `exit 0`, `signal SIGTERM`.
fn exit_text(reason: ExitReason) -> String {
    match reason {
        ExitReason::Exit(status) => format!("exit {status}"),
        ExitReason::Signal(signal) => format!("signal {signal}"),
    }
}

/// The FLAGS and DESCRIPTION columns of a handle, as `fd.state` has them.
fn handle_text(h: &HandleInfo) -> (String, String) {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut flags = Vec::new();
    let description = match h {
        HandleInfo::File { flags: f, description } => {
            f.write_to(&mut flags);
            lossy(description)
        }
        HandleInfo::Pipe { flags: f, read_end, peer } => {
            f.write_to(*read_end, &mut flags);
            peer.clone().unwrap_or_else(|| "?".to_owned())
        }
        HandleInfo::Socket { flags: f, description } => {
            f.write_to(&mut flags);
            lossy(description)
        }
        HandleInfo::Special(s) => {
            flags.extend_from_slice(s.flags().as_bytes());
            s.description().to_owned()
        }
    };
    (lossy(&flags), description)
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
    use daemonproxy_proto::{Event, OwnedEvent};

    /// A snapshot from dump lines, as `Client::statedump` builds it.
    fn snapshot(lines: &[&[u8]]) -> Snapshot {
        let mut snap = Snapshot::default();
        for line in lines {
            let ev = OwnedEvent::new(*line);
            let state = matches!(ev.event(), Ok(e) if snap.apply(&e));
            if !state {
                snap.other.push(ev);
            }
        }
        snap
    }

    const DUMP: &[&[u8]] = &[
        b"signal\tSIGHUP\t10\t1",
        b"fd.state\tnull\tspecial\tread,write\t/dev/null",
        b"fd.state\tlog\tfile\twrite,append,create\t/var/log/x.log",
        b"fd.state\tp.r\tpipe\tfrom\t?",
        b"service.state\tweb\tup\t695\t14268\t-\t-\t312\t-",
        b"service.tags\tweb\tfront\t",
        b"service.args\tweb\thttpd\t-f\tconf",
        b"service.auto_up\tweb\t5\talways\tSIGHUP",
        b"service.state\tbad\tdown\t726\t14364\texit\t3\t0\t5",
        b"error\tservice bad: exec \"nosuch\" failed: No such file or directory",
        b"service.state\tkilled\tdown\t726\t14365\tsignal\tSIGTERM\t4\t7380",
        b"service.state\tnew\tdown\t-\t-\t-\t-\t-\t-",
        b"service.fds\tnew\t",
        b"service.state\tlater\tstart\t1003\t-\t-\t-\t-\t-",
        b"service.state\tdue\tstart\t999\t-\t-\t-\t-\t-",
        b"signal\tSIGUSR1\t990\t2",
        b"signal\tSIGHUP\t10\t0",
    ];

    fn view(snap: &Snapshot) -> View<'_> {
        View { snap, exec_errors: exec_errors(snap), clock: Clock { mono: 1000, unix: 1_714_550_000 } }
    }

    #[test]
    fn dump_as_tables() {
        let snap = snapshot(DUMP);
        assert_eq!(
            view(&snap).tables(),
            "Services (6):
NAME    STATE  PID    UPTIME  NEXT START  LAST EXIT
bad     down   -      -       -           exit 3 (5s ago): exec \"nosuch\" failed: No such file or directory
due     start  -      -       now         -
killed  down   -      -       -           signal SIGTERM (2h 3m ago)
later   start  -      -       in 3s       -
new     down   -      -       -           -
web     up     14268  5m 12s  -           -

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
        let snap = Snapshot::default();
        assert_eq!(view(&snap).tables(), "Services: none\n\nHandles: none\n");
        assert_eq!(view(&snap).json().render(), "{\n  \"services\": {},\n  \"handles\": {},\n  \"signals\": {}\n}\n");
    }

    #[test]
    fn dump_as_json() {
        let snap = snapshot(DUMP);
        let text = view(&snap).json().render();
        let web = r#"    "web": {
      "state": "up",
      "pid": 14268,
      "uptime_secs": 312,
      "started_unix": 1714549695,
      "next_start_unix": null,
      "last_exit": null,
      "args": [
        "httpd",
        "-f",
        "conf"
      ],
      "tags": [
        "front",
        ""
      ],
      "fds": [
        "null",
        "null",
        "null"
      ],
      "auto_up": {
        "interval_secs": 5,
        "triggers": [
          "always",
          "SIGHUP"
        ]
      }
    }
"#;
        assert!(text.contains(web), "{text}");
        let bad = r#"      "last_exit": {
        "pid": 14364,
        "exit_code": 3,
        "signal": null,
        "ran_secs": 0,
        "ended_unix": 1714549726,
        "exec_error": "exec \"nosuch\" failed: No such file or directory"
      },"#;
        assert!(text.contains(bad), "{text}");
        assert!(text.contains("\"signal\": \"SIGTERM\""), "{text}");
        assert!(text.contains("\"later\": {\n      \"state\": \"start\",\n      \"pid\": null,\n      \"uptime_secs\": null,\n      \"started_unix\": null,\n      \"next_start_unix\": 1714550003,"), "{text}");
        assert!(text.contains("\"new\": {\n      \"state\": \"down\","), "{text}");
        assert!(text.contains("\"fds\": [],\n      \"auto_up\": null"), "an empty descriptor list: {text}");
        assert!(text.contains("\"p.r\": {\n      \"type\": \"pipe\",\n      \"flags\": \"from\",\n      \"description\": \"?\"\n    }"), "{text}");
        assert!(text.ends_with("\"signals\": {\n    \"SIGUSR1\": {\n      \"count\": 2,\n      \"last_received_unix\": 1714549990\n    }\n  }\n}\n"), "{text}");
        assert!(!snap.other.iter().any(|e| matches!(e.event(), Ok(Event::ServiceState { .. }))));
    }
}
