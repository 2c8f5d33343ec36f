//! Recorded signals (protocol.md §6): a count and the time of the last reception for
//! each signal the daemon reports.

use crate::time::Time;
use daemonproxy_proto::Signal;
use std::time::Duration;

/// Signals that are recorded and reported (protocol.md §6). A driver delivers these
/// with [`crate::Supervisor::handle_signal`].
pub const RECORDED_SIGNALS: [Signal; 6] =
    [Signal::INT, Signal::HUP, Signal::TERM, Signal::USR1, Signal::USR2, Signal::QUIT];

/// A signal's pending count and the time of its last reception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The signal.
    pub signal: Signal,
    /// Receptions not yet cleared by `signal.clear`.
    pub count: u64,
    /// The last reception.
    pub last: Time,
}

/// The table of records.
#[derive(Clone, Copy, Debug)]
pub struct Signals {
    records: [Record; 6],
    /// The latest reception among records with a nonzero count (what
    /// every connection's mark is compared with before each command).
    newest: Time,
}

impl Signals {
    /// No signal received yet.
    pub fn new() -> Signals {
        Signals {
            records: RECORDED_SIGNALS.map(|signal| Record { signal, count: 0, last: Time::ZERO }),
            newest: Time::ZERO,
        }
    }

    /// Counts a reception at `now`; `false` for a signal that is not
    /// recorded. Two receptions never share a timestamp, so that delivery
    /// marks (protocol.md §4.4) see each of them.
    pub fn received(&mut self, sig: Signal, now: Time) -> bool {
        let latest = self.records.iter().map(|r| r.last).max().unwrap_or(Time::ZERO);
        let Some(r) = self.records.iter_mut().find(|r| r.signal == sig) else { return false };
        r.count += 1;
        r.last = now.max(latest + Duration::from_nanos(1));
        self.newest = r.last;
        true
    }

    /// `signal.clear SIGNAL COUNT`.
    pub fn clear(&mut self, sig: Signal, count: u64) {
        if let Some(r) = self.records.iter_mut().find(|r| r.signal == sig) {
            r.count = r.count.saturating_sub(count);
        }
        self.newest = self.records.iter().filter(|r| r.count > 0).map(|r| r.last).max().unwrap_or(Time::ZERO);
    }

    /// Whether `sig` has a nonzero count.
    pub fn pending(&self, sig: Signal) -> bool {
        self.records.iter().any(|r| r.signal == sig && r.count > 0)
    }

    /// The records with a nonzero count received after `mark`, oldest
    /// first (what a connection has not been told yet).
    pub fn since(&self, mark: Time) -> impl Iterator<Item = Record> {
        let mut recs = self.records;
        recs.sort_by_key(|r| r.last);
        recs.into_iter().filter(move |r| r.count > 0 && r.last > mark)
    }

    /// Writes the records.
    pub(crate) fn save(&self, w: &mut super::state::Writer) {
        for r in &self.records {
            w.u64(r.count);
            w.time(r.last);
        }
        w.time(self.newest);
    }

    /// Reads what [`Signals::save`] wrote.
    pub(crate) fn load(r: &mut super::state::Reader<'_>) -> super::state::Got<Signals> {
        let mut s = Signals::new();
        for rec in &mut s.records {
            rec.count = r.u64()?;
            rec.last = r.time()?;
        }
        s.newest = r.time()?;
        Ok(s)
    }

    /// Whether any record is newer than `mark`.
    #[inline]
    pub fn any_since(&self, mark: Time) -> bool {
        self.newest > mark
    }
}
