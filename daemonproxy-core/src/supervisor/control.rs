//! The control socket (protocol.md §3.5): `socket.create`, `socket.delete`, and `-S`.

use super::action::{ActionResult, Step};
use super::log::{log, Lossy};
use super::queue::{Issuer, Pending};
use super::{Res, Supervisor};
use crate::time::Time;

impl Supervisor {
    /// Creates (or re-creates) the control socket at `path`, for the
    /// driver's own front-end (`-S PATH`). Whether it worked shows in
    /// [`Supervisor::control_socket`] once the actions are done; failures
    /// are logged.
    pub fn create_control_socket(&mut self, path: &[u8]) {
        // An unusable path (empty, too long) simply creates nothing.
        let _ = self.socket_create(None, path);
    }

    /// `socket.create PATH`: waits for the listener.
    pub(super) fn socket_create(&mut self, issuer: Option<Issuer>, path: &[u8]) -> Res {
        if path.is_empty() || path.len() > daemonproxy_proto::MAX_UNIX_PATH {
            return self.fail("Failed to create control socket");
        }
        self.socket_delete();
        self.queue.listen(path, Pending::Listen { issuer, path: path.to_vec() });
        if let Some(i) = issuer {
            self.wait_for_result(&i);
        }
        Ok(())
    }

    /// The result of creating the control socket.
    pub(super) fn listening(&mut self, issuer: Option<Issuer>, path: Vec<u8>, r: ActionResult, now: Time) {
        let failed = match r {
            ActionResult::Listener { fd, replaced } => {
                if replaced {
                    log!(self.log, Info, "Unlinked control socket {}", Lossy(&path));
                }
                self.listener = Some((fd, path));
                false
            }
            ActionResult::Failed { step: Step::Unlink, errno } => {
                log!(self.log, Error, "Can't unlink control socket: {}", errno);
                true
            }
            ActionResult::InUse { pid } => {
                match pid {
                    Some(pid) => {
                        log!(self.log, Error, "control socket {}: already running (pid {})", Lossy(&path), pid)
                    }
                    None => log!(self.log, Error, "control socket {}: already running", Lossy(&path)),
                }
                true
            }
            ActionResult::Failed { errno, .. } => {
                log!(self.log, Error, "bind(control_socket, {}): {}", Lossy(&path), errno);
                true
            }
            _ => false,
        };
        if let Some(i) = issuer {
            if failed {
                let _ = self.fail("Failed to create control socket");
                self.report_failure(i, now);
            }
            self.done_waiting(&i, now);
        }
    }

    /// `socket.delete`: closes and unlinks the control socket, if any.
    pub(super) fn socket_delete(&mut self) {
        if let Some((fd, path)) = self.listener.take() {
            self.queue.unlisten(fd, &path);
        }
    }

    /// The control socket's path was removed (or not).
    pub(super) fn unlistened(&mut self, path: &[u8], r: ActionResult) {
        if r == ActionResult::Done {
            log!(self.log, Info, "Unlinked control socket {}", Lossy(path));
        }
    }
}
