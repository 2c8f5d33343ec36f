//! `ctl follow`: every line the daemon sends, each prefixed with the local
//! time it was received (`2024-05-01T12:34:56.789`, then a TAB), until the
//! daemon closes the connection or `ctl` is interrupted.
//!
//! The first lines are the `signal` events every new connection receives
//! for pending signals (docs/protocol.md §4.5). After `overflow` some
//! events are missing; the stream goes on.

use std::time::SystemTime;

use super::clock::timestamp;
use super::conn::{Conn, Next};
use super::{print, warn, Failure, EXIT_OK};

/// `ctl follow`.
pub(super) fn run(conn: &mut Conn) -> Result<i32, Failure> {
    loop {
        match conn.next(None, None)? {
            Next::Event(ev) => {
                let stamp = timestamp(SystemTime::now());
                print(&[stamp.as_bytes(), b"\t", ev.line(), b"\n"].concat())?;
                if ev.line() == b"overflow" {
                    warn("events were lost (overflow): the daemon dropped some for this connection");
                }
            }
            Next::Closed => {
                warn("the daemon closed the connection");
                return Ok(EXIT_OK);
            }
            // No deadline and no mark: neither can happen.
            Next::Waited | Next::Synced => {}
        }
    }
}
