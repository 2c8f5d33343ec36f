//! Flag sets of `fd.open`, `fd.pipe` and `fd.socket` and their `fd.state`
//! spellings (protocol.md §3.4, §4.3).
//!
//! Each set parses from the comma-separated command argument and writes
//! itself in the fixed order `fd.state` uses, whatever the input order.

use crate::ParseError;

/// Socket address family.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Domain {
    /// AF_UNIX (the default).
    #[default]
    Unix,
    /// AF_INET.
    Inet,
    /// AF_INET6.
    Inet6,
}

impl Domain {
    /// The protocol's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Domain::Unix => "unix",
            Domain::Inet => "inet",
            Domain::Inet6 => "inet6",
        }
    }
}

/// Socket type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum SockType {
    /// SOCK_STREAM (the default).
    #[default]
    Stream,
    /// SOCK_DGRAM.
    Dgram,
    /// SOCK_SEQPACKET.
    Seqpacket,
}

impl SockType {
    /// The protocol's spelling.
    pub fn name(self) -> &'static str {
        match self {
            SockType::Stream => "stream",
            SockType::Dgram => "dgram",
            SockType::Seqpacket => "seqpacket",
        }
    }
}

/// Splits a comma-separated flag argument, skipping empty items.
fn items(arg: &[u8]) -> impl Iterator<Item = &[u8]> {
    arg.split(|&b| b == b',').filter(|i| !i.is_empty())
}

/// Appends `,item` (or `item` at the start of a field).
fn push_item(out: &mut Vec<u8>, first: &mut bool, item: &str) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.extend_from_slice(item.as_bytes());
}

/// Flags of `fd.open`, and the access flags of inherited and taken files.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct OpenFlags {
    /// `read` (set by [`OpenFlags::parse`] whenever `write` is not given)
    pub read: bool,
    /// `write` (with `read`: read/write; neither: read-only)
    pub write: bool,
    /// `append`: O_APPEND
    pub append: bool,
    /// `create`: O_CREAT, mode 0600
    pub create: bool,
    /// `trunc`: O_TRUNC
    pub trunc: bool,
    /// `nonblock`: O_NONBLOCK
    pub nonblock: bool,
    /// `mkdir`: create missing parent directories first
    pub mkdir: bool,
}

impl OpenFlags {
    /// Parses the `fd.open` flag argument; the error carries the unknown item.
    ///
    /// Without `write`, `read` is set even when not given (read-only is the
    /// default access), so that a parsed value equals the one parsed back
    /// from its [`OpenFlags::write_to`] spelling.
    pub fn parse(arg: &[u8]) -> Result<OpenFlags, &[u8]> {
        let mut f = OpenFlags::default();
        for item in items(arg) {
            let slot = match item {
                b"read" => &mut f.read,
                b"write" => &mut f.write,
                b"append" => &mut f.append,
                b"create" => &mut f.create,
                b"trunc" => &mut f.trunc,
                b"nonblock" => &mut f.nonblock,
                b"mkdir" => &mut f.mkdir,
                other => return Err(other),
            };
            *slot = true;
        }
        f.read |= !f.write;
        Ok(f)
    }

    /// Whether the file is opened for reading (`read`, or no access flag).
    pub fn readable(&self) -> bool {
        self.read || !self.write
    }

    /// Appends `ACCESS[,append][,create][,trunc][,nonblock][,mkdir]`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut first = true;
        if self.readable() {
            push_item(out, &mut first, "read");
        }
        if self.write {
            push_item(out, &mut first, "write");
        }
        for (on, name) in [
            (self.append, "append"),
            (self.create, "create"),
            (self.trunc, "trunc"),
            (self.nonblock, "nonblock"),
            (self.mkdir, "mkdir"),
        ] {
            if on {
                push_item(out, &mut first, name);
            }
        }
    }
}

/// Flags of `fd.pipe`: a plain pipe, or a socketpair of some domain and type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct PipeFlags {
    /// Both ends O_NONBLOCK.
    pub nonblock: bool,
    /// `Some` for a socketpair (any socket-related flag was given).
    pub socket: Option<(Domain, SockType)>,
}

impl PipeFlags {
    /// Parses the `fd.pipe` flag argument (`-` and empty items ignored);
    /// the error carries the unknown item.
    pub fn parse(arg: &[u8]) -> Result<PipeFlags, &[u8]> {
        let mut f = PipeFlags::default();
        for item in items(arg) {
            if matches!(item, b"-" | b"nonblock") {
                f.nonblock |= item == b"nonblock";
                continue;
            }
            let (d, t) = f.socket.get_or_insert((Domain::Unix, SockType::Stream));
            match item {
                b"unix" => *d = Domain::Unix,
                b"inet" => *d = Domain::Inet,
                b"inet6" => *d = Domain::Inet6,
                b"tcp" => (*d, *t) = (Domain::Inet, SockType::Stream),
                b"udp" => (*d, *t) = (Domain::Inet, SockType::Dgram),
                b"stream" => *t = SockType::Stream,
                b"dgram" => *t = SockType::Dgram,
                b"seqpacket" => *t = SockType::Seqpacket,
                other => return Err(other),
            }
        }
        Ok(f)
    }

    /// Appends the `fd.state` flags of one end: `[nonblock,]from|to` for a
    /// pipe, `DOMAIN,TYPE,[nonblock,]to` for a socketpair.
    pub fn write_to(&self, read_end: bool, out: &mut Vec<u8>) {
        let mut first = true;
        if let Some((d, t)) = self.socket {
            push_item(out, &mut first, d.name());
            push_item(out, &mut first, t.name());
        }
        if self.nonblock {
            push_item(out, &mut first, "nonblock");
        }
        let dir = if read_end && self.socket.is_none() { "from" } else { "to" };
        push_item(out, &mut first, dir);
    }
}

/// Flags of `fd.socket`, and of inherited or taken sockets.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct SocketFlags {
    /// Address family.
    pub domain: Domain,
    /// Socket type.
    pub ty: SockType,
    /// Bind to the address (implied by an address and by `listen`).
    pub bind: bool,
    /// Listen with this backlog (1..=65535).
    pub listen: Option<u16>,
    /// Create missing parent directories of a unix socket path.
    pub mkdir: bool,
    /// O_NONBLOCK.
    pub nonblock: bool,
}

/// Default `listen` backlog.
pub const DEFAULT_LISTEN_BACKLOG: u16 = 32;

impl SocketFlags {
    /// Parses the `fd.socket` flag argument left to right (later flags
    /// override earlier ones). Errors carry the offending item: an unknown
    /// flag, a `=VALUE` on a flag other than `listen`, or a bad backlog.
    pub fn parse(arg: &[u8]) -> Result<SocketFlags, (ParseError, &[u8])> {
        let mut f = SocketFlags::default();
        for item in items(arg) {
            if let Some(value) = item.strip_prefix(b"listen") {
                let n = match value {
                    b"" => DEFAULT_LISTEN_BACKLOG,
                    [b'=', digits @ ..] => parse_backlog(digits).ok_or((ParseError::InvalidListenQueue, item))?,
                    _ => return Err((ParseError::UnknownFlag, item)),
                };
                f.listen = Some(n);
                f.bind = true;
                continue;
            }
            match item {
                b"unix" => f.domain = Domain::Unix,
                b"inet" => f.domain = Domain::Inet,
                b"inet6" if f.domain != Domain::Inet => f.domain = Domain::Inet6,
                b"inet6" => {}
                b"tcp" => (f.domain, f.ty) = (Domain::Inet, SockType::Stream),
                b"udp" => (f.domain, f.ty) = (Domain::Inet, SockType::Dgram),
                b"stream" => f.ty = SockType::Stream,
                b"dgram" => f.ty = SockType::Dgram,
                b"seqpacket" => f.ty = SockType::Seqpacket,
                b"nonblock" => f.nonblock = true,
                b"mkdir" => f.mkdir = true,
                b"bind" => f.bind = true,
                other => return Err((ParseError::UnknownFlag, other)),
            }
        }
        Ok(f)
    }

    /// Appends `DOMAIN,TYPE[,bind][,listen=N][,mkdir][,nonblock]`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut first = true;
        push_item(out, &mut first, self.domain.name());
        push_item(out, &mut first, self.ty.name());
        if self.bind || self.listen.is_some() {
            push_item(out, &mut first, "bind");
        }
        if let Some(n) = self.listen {
            out.extend_from_slice(b",listen=");
            crate::fields::push_u64(out, u64::from(n));
        }
        if self.mkdir {
            push_item(out, &mut first, "mkdir");
        }
        if self.nonblock {
            push_item(out, &mut first, "nonblock");
        }
    }
}

/// A listen backlog: digits only, 1..=65535.
fn parse_backlog(digits: &[u8]) -> Option<u16> {
    let n = crate::fields::parse_u64(digits)?;
    u16::try_from(n).ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(s: &str) -> String {
        let mut v = Vec::new();
        OpenFlags::parse(s.as_bytes()).unwrap().write_to(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn open_flags() {
        assert_eq!(open("write,read,,append"), "read,write,append");
        assert_eq!(open("create"), "read,create");
        assert_eq!(open(""), "read");
        assert_eq!(open("write"), "write");
        assert_eq!(open("mkdir,nonblock,trunc,create,append,write"), "write,append,create,trunc,nonblock,mkdir");
        assert_eq!(OpenFlags::parse(b"read,truncate"), Err(&b"truncate"[..]));
        assert_eq!(OpenFlags::parse(b"read=1"), Err(&b"read=1"[..]));
    }

    fn pipe(s: &str, read_end: bool) -> String {
        let mut v = Vec::new();
        PipeFlags::parse(s.as_bytes()).unwrap().write_to(read_end, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn pipe_flags() {
        assert_eq!(pipe("", true), "from");
        assert_eq!(pipe("", false), "to");
        assert_eq!(pipe("nonblock", true), "nonblock,from");
        assert_eq!(pipe("-", true), "from");
        assert_eq!(pipe("unix,dgram", true), "unix,dgram,to");
        assert_eq!(pipe("seqpacket,nonblock", false), "unix,seqpacket,nonblock,to");
        assert_eq!(pipe("udp", true), "inet,dgram,to");
        assert_eq!(PipeFlags::parse(b"fifo"), Err(&b"fifo"[..]));
    }

    fn sock(s: &str) -> String {
        let mut v = Vec::new();
        SocketFlags::parse(s.as_bytes()).unwrap().write_to(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn socket_flags() {
        assert_eq!(sock("unix"), "unix,stream");
        assert_eq!(sock("tcp,listen=11"), "inet,stream,bind,listen=11");
        assert_eq!(sock("tcp,listen"), "inet,stream,bind,listen=32");
        assert_eq!(sock("tcp,unix"), "unix,stream");
        assert_eq!(sock("inet,inet6"), "inet,stream");
        assert_eq!(sock("inet6,dgram"), "inet6,dgram");
        assert_eq!(sock("unix,nonblock,mkdir"), "unix,stream,mkdir,nonblock");
        assert_eq!(SocketFlags::parse(b"listen=0"), Err((ParseError::InvalidListenQueue, &b"listen=0"[..])));
        assert_eq!(SocketFlags::parse(b"listen=65536"), Err((ParseError::InvalidListenQueue, &b"listen=65536"[..])));
        assert_eq!(SocketFlags::parse(b"listen=5x"), Err((ParseError::InvalidListenQueue, &b"listen=5x"[..])));
        assert_eq!(SocketFlags::parse(b"bogus,listen=0"), Err((ParseError::UnknownFlag, &b"bogus"[..])));
        assert_eq!(SocketFlags::parse(b"unix=1"), Err((ParseError::UnknownFlag, &b"unix=1"[..])));
    }
}
