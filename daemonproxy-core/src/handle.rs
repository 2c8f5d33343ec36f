//! Named handles (§8): descriptors held by name across service restarts.

use crate::registry::NameBuf;
use crate::sys::fd::{FdDescription, SockDomain, SockType as SysSockType};
use daemonproxy_proto::{Domain, FdInfo, OpenFlags, PipeFlags, SockType, SocketFlags, Special};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// What a handle is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A file (opened, inherited or taken).
    File(OpenFlags),
    /// One end of a pipe or socketpair; `peer` is `None` once the other end
    /// was deleted or replaced.
    Pipe {
        /// Flags of the pair.
        flags: PipeFlags,
        /// Whether this is the read end of a plain pipe.
        read_end: bool,
        /// The other end.
        peer: Option<NameBuf>,
    },
    /// A socket (made, inherited or taken).
    Socket(SocketFlags),
    /// A constant handle.
    Special(Special),
}

/// The descriptor a handle holds.
#[derive(Debug)]
pub enum HeldFd {
    /// A descriptor the daemon created or took over.
    Owned(OwnedFd),
    /// One of 0..2 as found at start-up. Closed when its handle is deleted
    /// or replaced (as in the original), but not when the supervisor is
    /// dropped: a program embedding the library keeps its standard
    /// descriptors.
    Std(RawFd),
}

impl HeldFd {
    /// The descriptor number.
    pub fn raw(&self) -> RawFd {
        match self {
            HeldFd::Owned(fd) => fd.as_raw_fd(),
            HeldFd::Std(fd) => *fd,
        }
    }

    /// Closes the descriptor (the handle was deleted or replaced).
    pub fn close(self) {
        match self {
            HeldFd::Owned(fd) => drop(fd),
            HeldFd::Std(fd) => crate::sys::raw::close_std(fd),
        }
    }
}

impl From<OwnedFd> for HeldFd {
    fn from(fd: OwnedFd) -> HeldFd {
        HeldFd::Owned(fd)
    }
}

/// One named handle.
#[derive(Debug)]
pub struct Handle {
    /// The descriptor (`None` for the `control.*` constants).
    pub fd: Option<HeldFd>,
    /// What it is.
    pub kind: Kind,
    /// Path, address or `unknown`, as reported (possibly cut in pool mode).
    pub description: Vec<u8>,
}

impl Handle {
    /// The descriptor number, if any.
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.fd.as_ref().map(HeldFd::raw)
    }

    /// The `fd.state` payload.
    pub fn info(&self) -> FdInfo<'_> {
        match self.kind {
            Kind::File(flags) => FdInfo::File { flags, description: &self.description },
            Kind::Pipe { flags, read_end, ref peer } => {
                FdInfo::Pipe { flags, read_end, peer: peer.as_ref().map(NameBuf::name) }
            }
            Kind::Socket(flags) => FdInfo::Socket { flags, description: &self.description },
            Kind::Special(s) => FdInfo::Special(s),
        }
    }

    /// A handle for a descriptor of unknown origin (inherited or taken),
    /// described by introspection (§6.7).
    pub fn introspected(fd: HeldFd, what: FdDescription) -> Handle {
        let kind = match what {
            FdDescription::File { read, write, append, nonblock } => {
                Kind::File(OpenFlags { read, write, append, nonblock, ..OpenFlags::default() })
            }
            FdDescription::Socket { domain, ty, nonblock } => Kind::Socket(SocketFlags {
                domain: match domain {
                    SockDomain::Unix => Domain::Unix,
                    SockDomain::Inet => Domain::Inet,
                    SockDomain::Inet6 => Domain::Inet6,
                },
                ty: match ty {
                    SysSockType::Stream => SockType::Stream,
                    SysSockType::Dgram => SockType::Dgram,
                    SysSockType::Seqpacket => SockType::Seqpacket,
                },
                nonblock,
                ..SocketFlags::default()
            }),
        };
        Handle { fd: Some(fd), kind, description: b"unknown".to_vec() }
    }
}

/// Stores `text` as a description, cut with `...` to fit a pool object of
/// `obj_size` bytes (§13.1: room for the name, the description and two
/// terminators in `32 + M` bytes).
pub fn description(text: &[u8], name_len: usize, obj_size: Option<usize>) -> Vec<u8> {
    let Some(m) = obj_size else { return text.to_vec() };
    let room = (32 + m).saturating_sub(name_len + 2);
    if text.len() <= room {
        return text.to_vec();
    }
    let mut v = text[..room.saturating_sub(3)].to_vec();
    v.extend_from_slice(b"...");
    v
}
