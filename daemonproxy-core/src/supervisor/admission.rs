//! Admitting control-socket clients: the connection limit, and clients
//! the driver could not accept for lack of descriptors.
//!
//! Any same-uid process can connect to the control socket, as often as it
//! likes, so the number of clients is bounded
//! ([`crate::Options::max_connections`]): beyond the limit a client is
//! refused, accepted and closed at once. Refusals come in bursts
//! (a client in a reconnect loop, a flood), so they are logged once per
//! *spell*, when it starts, and once more when a client is admitted again,
//! with the count of the refused ones, rather than once per connection.

use super::action::Errno;
use super::conn::ConnKind;
use super::log::log;
use super::Supervisor;
use crate::ids::ConnId;
use crate::time::Time;

/// Why clients are being refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// The connection limit is reached.
    Limit,
    /// Accepting failed for lack of descriptors (or memory).
    Exhausted(Errno),
}

/// The bookkeeping behind admissions.
#[derive(Debug)]
pub(super) struct Admission {
    max: usize,
    /// Control-socket clients open now.
    clients: usize,
    /// The spell of refusals in progress: why, and how many so far.
    spell: Option<(Refusal, u64)>,
}

impl Admission {
    pub(super) fn new(max: usize) -> Admission {
        Admission { max, clients: 0, spell: None }
    }

    /// A connection of `kind` was opened.
    pub(super) fn opened(&mut self, kind: ConnKind) {
        if kind == ConnKind::Socket {
            self.clients += 1;
        }
    }

    /// A connection of `kind` ended.
    pub(super) fn closed(&mut self, kind: ConnKind) {
        if kind == ConnKind::Socket {
            self.clients -= 1;
        }
    }
}

impl Supervisor {
    /// The driver accepted a control-socket client: admits it as a
    /// [`ConnKind::Socket`] connection, or refuses it when the connection
    /// limit is reached (`None`: the driver closes it at once). Refusals are
    /// logged once per spell.
    pub fn accept_connection(&mut self, now: Time) -> Option<ConnId> {
        if self.admission.clients >= self.admission.max {
            self.refused(Refusal::Limit, true);
            return None;
        }
        if let Some((_, n)) = self.admission.spell.take() {
            log!(self.log, Info, "control socket: accepting connections again ({} refused)", n);
        }
        Some(self.open_connection(ConnKind::Socket, now))
    }

    /// Accepting a control-socket client failed for lack of resources
    /// (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`); `refused`: the driver
    /// still took one pending client off the queue and closed it (with a
    /// descriptor it keeps in reserve for this), else the clients wait.
    /// Logged once per spell.
    pub fn handle_accept_failed(&mut self, errno: Errno, refused: bool) {
        self.refused(Refusal::Exhausted(errno), refused);
    }

    /// Counts a refusal (`counted`: a client was turned away), logging the
    /// start of a spell, or a change of reason within one.
    fn refused(&mut self, why: Refusal, counted: bool) {
        let n = u64::from(counted);
        match &mut self.admission.spell {
            Some((reason, count)) if *reason == why => {
                *count += n;
                return;
            }
            Some((reason, count)) => {
                *reason = why;
                *count += n;
            }
            spell @ None => *spell = Some((why, n)),
        }
        match why {
            Refusal::Limit => log!(
                self.log,
                Warning,
                "control socket: connection limit reached ({}, --max-connections): refusing new clients",
                self.admission.max
            ),
            Refusal::Exhausted(e) => {
                log!(self.log, Error, "control socket: accept: {}: refusing new clients until descriptors are freed", e)
            }
        }
    }
}
