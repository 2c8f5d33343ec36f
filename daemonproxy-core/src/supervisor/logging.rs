//! The log commands (protocol.md §3.6): `log.filter` and `log.dest`.

use super::registry::NameBuf;
use super::Supervisor;
use crate::ids::ConnId;
use crate::time::Time;
use daemonproxy_proto::{Event, LogFilterArg, Name};

impl Supervisor {
    /// `log.filter [LEVEL | + | -]`: change it, and tell the issuer.
    pub(super) fn log_filter(&mut self, id: ConnId, arg: Option<LogFilterArg>, now: Time) {
        let level = match arg {
            None => self.log.filter(),
            Some(LogFilterArg::Raise) => self.log.filter().step(1),
            Some(LogFilterArg::Lower) => self.log.filter().step(-1),
            Some(LogFilterArg::Set(l)) => l,
        };
        self.log.set_filter(level);
        self.emit(Some(id), Event::LogFilter { level }, now);
    }

    /// `log.dest fd NAME`: the log follows the handle of that name, now or
    /// once it exists.
    pub(super) fn log_dest(&mut self, id: ConnId, name: Name<'_>, now: Time) {
        let fd = self.handle_fd(name.as_bytes());
        if fd.is_none() {
            self.emit(Some(id), Event::FdDoesNotExist { name }, now);
        }
        self.log.set_dest(NameBuf::new(name), fd.flatten());
    }
}
