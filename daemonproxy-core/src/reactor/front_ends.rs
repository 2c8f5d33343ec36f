//! The built-in front-ends: the interactive session, config files, the
//! control socket, and the daemonized state.

use super::conn_io::ConnIo;
use super::{Reactor, LISTENER};
use crate::error::{Error, ErrorKind};
use crate::ids::{ConnId, FdId};
use crate::proto::Event;
use crate::supervisor::ConnKind;
use crate::sys;
use crate::time::Time;
use mio::unix::SourceFd;
use std::io;

impl Reactor {
    /// Uses stdin/stdout as a controller (`-i`): both become non-blocking,
    /// the `stdin`/`stdout` handles are re-pointed to /dev/null, and
    /// `banner` is sent to it as `info` lines.
    pub fn add_interactive(&mut self, banner: &[&str]) -> Result<ConnId, Error> {
        let unusable = |e: io::Error| Error::io(ErrorKind::FrontEnd, 3, "stdin/stdout are not usable", e);
        sys::fd::set_nonblocking(sys::raw::borrow(0), true).map_err(unusable)?;
        sys::fd::set_nonblocking(sys::raw::borrow(1), true).map_err(unusable)?;
        self.repoint_to_null("stdin").map_err(unusable)?;
        self.repoint_to_null("stdout").map_err(unusable)?;
        let id = self.add_conn(ConnKind::Interactive, ConnIo::borrowed(Some(0), Some(1)), None);
        let mut lines = Vec::new();
        for line in banner {
            Event::Info { text: line.as_bytes() }.encode(&mut lines);
        }
        self.sup.greet(id, &lines);
        self.drain(Time::now());
        Ok(id)
    }

    /// Reads commands from a config file (`-c FILE`), or from stdin when
    /// `path` is `-`. Logs the original's error on failure.
    pub fn add_config(&mut self, path: &[u8]) -> Result<ConnId, Error> {
        let io = if path == b"-" {
            let interactive = self
                .conns
                .iter()
                .enumerate()
                .any(|(i, c)| c.is_some() && self.sup.connection_kind(ConnId(i)) == Some(ConnKind::Interactive));
            if !sys::fd::scan_inherited(0, 0).contains(&0) || interactive {
                self.log(crate::proto::LogLevel::Error, format_args!("stdin not available"));
                return Err(Error::new(ErrorKind::FrontEnd, 3, "stdin not available"));
            }
            let _ = sys::fd::set_nonblocking(sys::raw::borrow(0), true);
            let _ = self.repoint_to_null("stdin");
            ConnIo::borrowed(Some(0), None)
        } else {
            match sys::fd::open(path, libc::O_RDONLY | libc::O_NONBLOCK, 0) {
                Ok(fd) => ConnIo::file(fd),
                Err(e) => {
                    let path = String::from_utf8_lossy(path).into_owned();
                    let why = super::text(&e);
                    self.log(
                        crate::proto::LogLevel::Error,
                        format_args!("Failed to open config file \"{path}\": {why}"),
                    );
                    return Err(Error::io(ErrorKind::FrontEnd, 3, format!("{path}: {why}"), e));
                }
            }
        };
        let source: &[u8] = if path == b"-" { b"stdin" } else { path };
        Ok(self.add_conn(ConnKind::Config, io, Some(source)))
    }

    /// Creates the control socket (`-S PATH`); the details of a failure
    /// are in the log.
    pub fn create_control_socket(&mut self, path: &[u8]) -> Result<(), Error> {
        self.read_wall_clock();
        self.sup.create_control_socket(path);
        self.drain(Time::now());
        match self.sup.control_socket() {
            Some((_, p)) if p == path => Ok(()),
            _ => Err(Error::new(ErrorKind::FrontEnd, 3, "Can't create controller socket")),
        }
    }

    /// After `--daemonize`: the standard handles now refer to /dev/null
    /// and the log discards its messages until `log.dest` (protocol.md §8.2).
    pub fn daemonized(&mut self) {
        for name in ["stdin", "stdout", "stderr"] {
            let _ = self.repoint_to_null(name);
        }
        self.sup.discard_log();
        self.drain(Time::now());
    }

    /// Points a standard handle at a private duplicate of /dev/null; the
    /// descriptor it held stays open for whoever uses it directly.
    fn repoint_to_null(&mut self, name: &str) -> io::Result<()> {
        let null = self.fds.get(self.null).ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        let dup = self.fds.insert(sys::fd::dup_cloexec(null)?);
        if let Some(old) = self.sup.replace_handle_fd(name, dup) {
            self.fds.release(old);
        }
        self.drain(Time::now());
        Ok(())
    }

    /// Starts accepting on a new control socket (after `Listen`).
    pub(super) fn watch_listener(&mut self, fd: FdId) {
        self.unwatch_listener();
        if let Some(raw) = self.fds.raw(fd) {
            if self.poll.registry().register(&mut SourceFd(&raw), LISTENER, mio::Interest::READABLE).is_ok() {
                self.listener = Some(raw);
                self.listener_ready = true;
            }
        }
    }

    /// Stops accepting on the control socket, and gives back the spare
    /// descriptor kept for it.
    pub(super) fn unwatch_listener(&mut self) {
        if let Some(old) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut SourceFd(&old));
        }
        self.spare = None;
        self.accept_retry = None;
    }
}
