//! Named handles (protocol.md §3.4): descriptors held by name across service restarts.
//!
//! The supervisor knows a handle's name, what it is (for `fd.state`) and
//! the id of its descriptor; the driver holds the descriptor itself.

use super::action::FdKind;
use super::registry::NameBuf;
use crate::ids::FdId;
use daemonproxy_proto::{FdInfo, OpenFlags, PipeFlags, SocketFlags, Special};

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

/// One named handle.
#[derive(Debug)]
pub struct Handle {
    /// The descriptor (`None` for the `control.*` constants).
    pub fd: Option<FdId>,
    /// What it is.
    pub kind: Kind,
    /// Path, address or `unknown`, as reported (possibly cut in pool mode).
    pub description: Vec<u8>,
}

impl Handle {
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
    /// described by what the driver found out (protocol.md §4.3).
    pub fn introspected(fd: FdId, what: FdKind) -> Handle {
        let kind = match what {
            FdKind::File { read, write, append, nonblock } => {
                Kind::File(OpenFlags { read, write, append, nonblock, ..OpenFlags::default() })
            }
            FdKind::Socket { domain, ty, nonblock } => {
                Kind::Socket(SocketFlags { domain, ty, nonblock, ..SocketFlags::default() })
            }
        };
        Handle { fd: Some(fd), kind, description: b"unknown".to_vec() }
    }
}

/// Stores `text` as a description, cut with `...` to fit a pool object of
/// `obj_size` bytes (protocol.md §8.7: room for the name, the description and two
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
