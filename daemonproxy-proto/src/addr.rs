//! `fd.socket` addresses (protocol.md §3.4): a unix path, or `*`/dotted quad with an
//! optional `:PORT` for inet. IPv6 addresses are not supported.

use crate::flags::Domain;
use crate::ParseError;

/// Longest unix socket path accepted, in bytes (the path must be shorter
/// than `sun_path`, 108 bytes).
pub const MAX_UNIX_PATH: usize = 107;

/// A validated `fd.socket` address, borrowing the text as given (which is
/// what `fd.state` reports).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SocketAddr<'a> {
    /// The address exactly as given.
    pub text: &'a [u8],
    /// What it means.
    pub kind: AddrKind<'a>,
}

/// The meaning of a [`SocketAddr`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AddrKind<'a> {
    /// A unix socket path (1..=107 bytes).
    Unix(&'a [u8]),
    /// An IPv4 address (`None` for `*`, any address) and port (0 when
    /// none was given: ephemeral).
    Inet {
        /// The IPv4 address, or `None` for `*`.
        ip: Option<[u8; 4]>,
        /// The port.
        port: u16,
    },
}

impl<'a> SocketAddr<'a> {
    /// Parses an address for a socket of `domain`.
    pub fn parse(domain: Domain, text: &'a [u8]) -> Result<SocketAddr<'a>, ParseError> {
        let kind = match domain {
            Domain::Unix if !text.is_empty() && text.len() <= MAX_UNIX_PATH => AddrKind::Unix(text),
            Domain::Inet => parse_inet(text).ok_or(ParseError::InvalidAddress)?,
            _ => return Err(ParseError::InvalidAddress),
        };
        Ok(SocketAddr { text, kind })
    }
}

fn parse_inet(text: &[u8]) -> Option<AddrKind<'_>> {
    let (host, port) = match text.iter().position(|&b| b == b':') {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let ip = if host == b"*" { None } else { Some(parse_quad(host)?) };
    let port = match port {
        None => 0,
        Some(p) => u16::try_from(crate::fields::parse_u64(p)?).ok()?,
    };
    Some(AddrKind::Inet { ip, port })
}

fn parse_quad(host: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = host.split(|&b| b == b'.');
    for slot in &mut out {
        let p = parts.next()?;
        if p.len() > 3 {
            return None;
        }
        *slot = u8::try_from(crate::fields::parse_u64(p)?).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet() {
        fn k(s: &'static str) -> Result<AddrKind<'static>, ParseError> {
            SocketAddr::parse(Domain::Inet, s.as_bytes()).map(|a| a.kind)
        }
        assert_eq!(k("*:11203"), Ok(AddrKind::Inet { ip: None, port: 11203 }));
        assert_eq!(k("127.0.0.1"), Ok(AddrKind::Inet { ip: Some([127, 0, 0, 1]), port: 0 }));
        assert_eq!(k("10.1.2.3:65535"), Ok(AddrKind::Inet { ip: Some([10, 1, 2, 3]), port: 65535 }));
        for bad in [
            "",
            "*:99999",
            "*:-1",
            ":80",
            "localhost:80",
            "1.2.3:4",
            "1.2.3.4.5",
            "1.2.3.256",
            "1.2.3.4:",
            "1.2.3.4x",
            "*:8x",
        ] {
            assert_eq!(k(bad), Err(ParseError::InvalidAddress), "{bad}");
        }
    }

    #[test]
    fn unix_and_inet6() {
        assert!(SocketAddr::parse(Domain::Unix, b"/a/b/c").is_ok());
        assert!(SocketAddr::parse(Domain::Unix, &[b'x'; 107]).is_ok());
        assert_eq!(SocketAddr::parse(Domain::Unix, &[b'x'; 108]), Err(ParseError::InvalidAddress));
        assert_eq!(SocketAddr::parse(Domain::Unix, b""), Err(ParseError::InvalidAddress));
        assert_eq!(SocketAddr::parse(Domain::Inet6, b"::1"), Err(ParseError::InvalidAddress));
    }
}
