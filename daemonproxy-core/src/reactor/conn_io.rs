//! The descriptors behind a connection, and moving its bytes.
//!
//! Every front-end (the interactive session, a config file, control-socket
//! clients, service control connections) is an input and/or an output
//! descriptor. Sockets also carry descriptors (SCM_RIGHTS) and are written
//! with MSG_NOSIGNAL. Descriptors that epoll refuses (regular files) are
//! "always ready", as `select()` reports them.

use crate::supervisor::Written;
use crate::sys;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// Where a custom front-end's output goes: takes bytes, says how many it
/// took (or that it would block, or that the reader is gone).
pub type Writer = Box<dyn FnMut(&[u8]) -> Written>;

/// A connection's descriptors.
pub(crate) struct ConnIo {
    /// An owned descriptor (socket, socket pair end, config file), closed
    /// with the connection.
    _owned: Option<OwnedFd>,
    /// Where commands are read from.
    pub input: Option<RawFd>,
    /// Where events are written.
    pub output: Option<RawFd>,
    /// Sockets: receive descriptors, send without SIGPIPE.
    socket: bool,
    /// A FIFO opened by path: until a writer opens it, a read says 0 bytes
    /// without it being the end.
    fifo: bool,
    /// Input readiness not yet consumed (edge-triggered polling), or an
    /// input that cannot be polled.
    pub in_ready: bool,
    /// The input cannot be polled: it is always ready until its end.
    pub always_ready: bool,
    /// A custom front-end's output.
    writer: Option<Writer>,
}

impl fmt::Debug for ConnIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnIo").field("input", &self.input).field("output", &self.output).finish_non_exhaustive()
    }
}

/// What a read brought.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// This many bytes.
    Data(usize),
    /// Nothing now.
    WouldBlock,
    /// End of input.
    Eof,
}

impl ConnIo {
    /// No descriptor (in-process connections).
    pub fn none() -> ConnIo {
        ConnIo {
            _owned: None,
            input: None,
            output: None,
            socket: false,
            fifo: false,
            in_ready: false,
            always_ready: false,
            writer: None,
        }
    }

    /// Output through the embedding program's writer; input pushed by it.
    pub fn writer(writer: Writer) -> ConnIo {
        ConnIo { writer: Some(writer), ..ConnIo::none() }
    }

    /// Borrowed descriptors (stdin/stdout), never closed by the reactor.
    pub fn borrowed(input: Option<RawFd>, output: Option<RawFd>) -> ConnIo {
        ConnIo { input, output, in_ready: input.is_some(), ..ConnIo::none() }
    }

    /// A socket used both ways.
    pub fn socket(fd: OwnedFd) -> ConnIo {
        let raw = fd.as_raw_fd();
        ConnIo { _owned: Some(fd), input: Some(raw), output: Some(raw), socket: true, in_ready: true, ..ConnIo::none() }
    }

    /// A file read for commands only. A FIFO ends when its writers have
    /// come and gone, not while none has opened it yet (the original's
    /// blocking open waited for one; here the loop goes on meanwhile).
    pub fn file(fd: OwnedFd) -> ConnIo {
        let raw = fd.as_raw_fd();
        let fifo = sys::fd::is_fifo(fd.as_fd());
        ConnIo { _owned: Some(fd), input: Some(raw), fifo, in_ready: true, ..ConnIo::none() }
    }

    /// Whether the connection is a socket (owned, used both ways).
    pub fn is_socket(&self) -> bool {
        self.socket
    }

    /// Reads into `buf`; descriptors received with the bytes go to `fds`.
    pub fn read(&self, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<Read> {
        let Some(fd) = self.input else { return Ok(Read::WouldBlock) };
        loop {
            let r = if self.socket {
                sys::fd::recv_with_fds(sys::raw::borrow(fd), buf, fds)
            } else {
                sys::fd::read(sys::raw::borrow(fd), buf)
            };
            return match r {
                Ok(0) if self.fifo && !sys::fd::hung_up(sys::raw::borrow(fd)) => Ok(Read::WouldBlock),
                Ok(0) => Ok(Read::Eof),
                Ok(n) => Ok(Read::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Read::WouldBlock),
                Err(e) => Err(e),
            };
        }
    }

    /// Writes `bytes` (one system call, retried on EINTR).
    pub fn write(&mut self, bytes: &[u8]) -> Written {
        if let Some(w) = &mut self.writer {
            return w(bytes);
        }
        let Some(fd) = self.output else { return Written::Closed };
        loop {
            let r = if self.socket {
                sys::fd::send_nosignal(sys::raw::borrow(fd), bytes)
            } else {
                sys::fd::write(sys::raw::borrow(fd), bytes)
            };
            return match r {
                Ok(0) => Written::WouldBlock,
                Ok(n) => Written::Bytes(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Written::WouldBlock,
                Err(_) => Written::Closed,
            };
        }
    }
}
