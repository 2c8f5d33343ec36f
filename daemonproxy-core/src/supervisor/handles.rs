//! Named handles: `fd.open`, `fd.pipe`, `fd.socket`, `fd.take`,
//! `fd.delete` (protocol.md §3.4), and what a replaced or deleted handle leaves behind.

use super::action::{ActionResult, Step};
use super::handle::{self, Handle, Kind};
use super::queue::{Issuer, Pending};
use super::registry::NameBuf;
use super::{Res, Supervisor};
use crate::ids::{ConnId, FdId};
use crate::time::Time;
use daemonproxy_proto::{Event, FdInfo, Name, OpenFlags, PipeFlags, SocketAddr, SocketFlags};

/// The message of a handle pool that is full.
const POOL_FULL: &str = "Unable to allocate new file descriptor object";

impl Supervisor {
    /// `fd.open NAME FLAGS PATH`: waits for the open.
    pub(super) fn fd_open(&mut self, issuer: Issuer, name: Name<'_>, flags: OpenFlags, path: &[u8]) -> Res {
        if !self.handles.has_room(0) {
            return self.fail(POOL_FULL);
        }
        let description = handle::description(path, name.as_bytes().len(), self.fd_obj);
        self.queue.open(path, flags, Pending::Open { issuer, name: NameBuf::new(name), flags, description });
        self.wait_for_result(&issuer);
        Ok(())
    }

    /// The result of `fd.open`.
    pub(super) fn opened(
        &mut self,
        issuer: Issuer,
        name: NameBuf,
        flags: OpenFlags,
        description: Vec<u8>,
        r: ActionResult,
        now: Time,
    ) {
        match r {
            ActionResult::Fd(fd) => {
                let h = Handle { fd: Some(fd), kind: Kind::File(flags), description };
                self.store_handle(issuer, name, h, POOL_FULL, now);
            }
            ActionResult::Failed { errno, .. } => self.report_errno(issuer, "open failed: ", errno, now),
            _ => {}
        }
        self.done_waiting(&issuer, now);
    }

    /// `fd.pipe READ WRITE [FLAGS]`: waits for the pipe.
    pub(super) fn fd_pipe(&mut self, issuer: Issuer, read: Name<'_>, write: Name<'_>, flags: PipeFlags) -> Res {
        if !self.handles.has_room(1) {
            return self.fail("failed to create pipe");
        }
        let (read, write) = (NameBuf::new(read), NameBuf::new(write));
        self.queue.pipe(flags, Pending::Pipe { issuer, read, write, flags });
        self.wait_for_result(&issuer);
        Ok(())
    }

    /// The result of `fd.pipe`.
    pub(super) fn piped(
        &mut self,
        issuer: Issuer,
        (read, write): (NameBuf, NameBuf),
        flags: PipeFlags,
        r: ActionResult,
        now: Time,
    ) {
        match r {
            ActionResult::Pair(r, w) => {
                let end = |fd, read_end, peer| Handle {
                    fd: Some(fd),
                    kind: Kind::Pipe { flags, read_end, peer: Some(peer) },
                    description: Vec::new(),
                };
                if self.put_handle(read, end(r, true, write)).is_err() {
                    self.queue.close(w);
                    let _ = self.fail("failed to create pipe");
                    self.report_failure(issuer, now);
                } else if self.put_handle(write, end(w, false, read)).is_err() {
                    let _ = self.fail("failed to create pipe");
                    self.report_failure(issuer, now);
                    self.emit_handle(None, read.as_bytes(), now);
                } else {
                    // Replacing one end may have marked the other new end's
                    // peer as gone.
                    for (n, peer) in [(read, write), (write, read)] {
                        if let Some(Handle { kind: Kind::Pipe { peer: p, .. }, .. }) = self.handle_mut(n) {
                            *p = Some(peer);
                        }
                    }
                    self.emit_handle(None, read.as_bytes(), now);
                    self.emit_handle(None, write.as_bytes(), now);
                }
            }
            ActionResult::Failed { step, errno } => {
                let prefix = if step == Step::Socketpair { "socketpair() failed: " } else { "pipe() failed: " };
                self.report_errno(issuer, prefix, errno, now);
            }
            _ => {}
        }
        self.done_waiting(&issuer, now);
    }

    /// `fd.socket NAME FLAGS [ADDRESS]`: waits for the socket.
    pub(super) fn fd_socket(
        &mut self,
        issuer: Issuer,
        name: Name<'_>,
        flags: SocketFlags,
        addr: Option<SocketAddr<'_>>,
    ) -> Res {
        if !self.handles.has_room(0) {
            return self.fail(POOL_FULL);
        }
        let text = addr.map_or(&b""[..], |a| a.text);
        let description = handle::description(text, name.as_bytes().len(), self.fd_obj);
        let then = Pending::Socket { issuer, name: NameBuf::new(name), flags, description };
        self.queue.socket(flags, addr.map(|a| a.text), then);
        self.wait_for_result(&issuer);
        Ok(())
    }

    /// The result of `fd.socket`.
    pub(super) fn socket_made(
        &mut self,
        issuer: Issuer,
        name: NameBuf,
        flags: SocketFlags,
        description: Vec<u8>,
        r: ActionResult,
        now: Time,
    ) {
        match r {
            ActionResult::Fd(fd) => {
                let h = Handle { fd: Some(fd), kind: Kind::Socket(flags), description };
                self.store_handle(issuer, name, h, POOL_FULL, now);
            }
            ActionResult::Failed { step, errno } => {
                let prefix = match step {
                    Step::Setsockopt => "setsockopt: ",
                    Step::Bind => "bind: ",
                    Step::Listen => "listen: ",
                    _ => "socket: ",
                };
                self.report_errno(issuer, prefix, errno, now);
            }
            _ => {}
        }
        self.done_waiting(&issuer, now);
    }

    /// `fd.take NAME`: the oldest descriptor received on this connection.
    pub(super) fn fd_take(&mut self, id: ConnId, name: Name<'_>, now: Time) -> Res {
        let Some((fd, what)) = self.conns.get_mut(id.0).and_then(|c| c.ancillary.pop_front()) else {
            return self.fail("No ancillary file descriptor received");
        };
        let what = match what {
            Ok(w) => w,
            Err(errno) => {
                self.queue.close(fd);
                return self.fail_errno("fd.take: ", errno);
            }
        };
        if self.put_handle(NameBuf::new(name), Handle::introspected(fd, what)).is_err() {
            self.queue.close(fd);
            return self.fail(POOL_FULL);
        }
        self.emit_handle(None, name.as_bytes(), now);
        Ok(())
    }

    /// `fd.delete NAME`.
    pub(super) fn fd_delete(&mut self, name: Name<'_>, now: Time) -> Res {
        let Some(old) = self.handles.remove(name.as_bytes()) else {
            return self.fail("No such file descriptor");
        };
        self.forget_handle(name, old);
        self.emit(None, Event::FdState { name, info: FdInfo::Deleted }, now);
        Ok(())
    }

    /// Stores a new handle made for a command and broadcasts it; a full
    /// pool fails the command and closes the new descriptor.
    fn store_handle(&mut self, issuer: Issuer, name: NameBuf, h: Handle, full: &str, now: Time) {
        let fd = h.fd;
        if self.put_handle(name, h).is_err() {
            if let Some(fd) = fd {
                self.queue.close(fd);
            }
            let _ = self.fail(full);
            self.report_failure(issuer, now);
        } else {
            self.emit_handle(None, name.as_bytes(), now);
        }
    }

    /// Stores a handle under `name`, dealing with what a replaced one
    /// leaves behind. `Err(())` when the pool is full.
    fn put_handle(&mut self, name: NameBuf, h: Handle) -> Result<(), ()> {
        match self.handles.put(name, h) {
            Ok((_, Some(old))) => {
                self.forget_handle(name.name(), old);
                Ok(())
            }
            Ok((_, None)) => Ok(()),
            Err(_) => Err(()),
        }
    }

    fn handle_mut(&mut self, name: NameBuf) -> Option<&mut Handle> {
        let k = self.handles.key(name.as_bytes())?;
        self.handles.get_mut(k)
    }

    /// A handle was deleted or replaced: its pipe peer shows `?`, the log
    /// stops writing to its descriptor, and the descriptor is closed.
    pub(super) fn forget_handle(&mut self, name: Name<'_>, old: Handle) {
        if let Kind::Pipe { peer: Some(peer), .. } = old.kind {
            if let Some(Handle { kind: Kind::Pipe { peer: p, .. }, .. }) = self.handle_mut(peer) {
                if p.is_some_and(|p| p.as_bytes() == name.as_bytes()) {
                    *p = None;
                }
            }
        }
        if let Some(fd) = old.fd {
            self.log.detach(fd);
            self.queue.close(fd);
        }
    }

    /// Sends a handle's state.
    pub(super) fn emit_handle(&mut self, to: Option<ConnId>, name: &[u8], now: Time) {
        let Some(h) = self.handles.by_name(name) else { return };
        let Some(name) = Name::new(name) else { return };
        self.scratch.clear();
        Event::FdState { name, info: h.info() }.encode(&mut self.scratch);
        self.deliver(to, now);
    }

    /// The descriptor a handle holds, by name.
    pub(super) fn handle_fd(&self, name: &[u8]) -> Option<Option<FdId>> {
        self.handles.by_name(name).map(|h| h.fd)
    }
}
