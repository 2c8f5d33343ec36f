//! The readiness notification socket (`service.notify NAME socket`): one
//! datagram socket for every service that asks, named in their
//! environment as `NOTIFY_SOCKET` (systemd's protocol). Its senders'
//! credentials tell which service a message is from.

use super::{text, NOTIFY};
use crate::sys;
use mio::unix::SourceFd;
use mio::Poll;
use std::os::fd::{AsRawFd, OwnedFd};

/// The socket and what children are told about it.
pub(crate) struct NotifySocket {
    pub fd: OwnedFd,
    /// `NOTIFY_SOCKET=...` for the children's environment.
    pub env: Vec<u8>,
    /// Datagrams may be waiting.
    pub ready: bool,
}

/// Creates the socket (at `path`, or in the abstract namespace as
/// `daemonproxy/notify/PID`) and watches it; the error says why not.
pub(crate) fn open(slot: &mut Option<NotifySocket>, poll: &Poll, path: Option<&[u8]>) -> Result<(), String> {
    let (path, abstract_name) = match path {
        Some(p) => (p.to_vec(), false),
        None => (format!("daemonproxy/notify/{}", std::process::id()).into_bytes(), true),
    };
    if !abstract_name {
        let _ = sys::fd::unlink_stale_socket(&path);
    }
    let shown = String::from_utf8_lossy(&path).into_owned();
    let trouble = |e: std::io::Error| format!("notify socket {shown}: {}", text(&e));
    let fd = sys::fd::notify_socket(&path, abstract_name).map_err(trouble)?;
    let mut env = b"NOTIFY_SOCKET=".to_vec();
    if abstract_name {
        env.push(b'@');
    }
    env.extend_from_slice(&path);
    *slot = Some(watch(poll, fd, env).map_err(trouble)?);
    Ok(())
}

/// Watches an open notification socket (also one handed over by `reexec`).
pub(crate) fn watch(poll: &Poll, fd: OwnedFd, env: Vec<u8>) -> std::io::Result<NotifySocket> {
    poll.registry().register(&mut SourceFd(&fd.as_raw_fd()), NOTIFY, mio::Interest::READABLE)?;
    Ok(NotifySocket { fd, env, ready: true })
}
