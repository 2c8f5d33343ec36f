//! Service and handle names (protocol.md §3.1).
//!
//! Names are the keys of everything daemonproxy holds, so they are validated
//! once, at the edge, and carried afterwards as a [`Name`] that cannot hold
//! anything else.

use core::fmt;

/// Longest valid name, in bytes.
pub const MAX_NAME_LEN: usize = 31;

/// A validated service or handle name: 1 to 31 bytes of `A-Z a-z 0-9 . _ -`.
///
/// Ordering is byte-wise, a prefix sorting first, which is the `statedump`
/// order.
///
/// ```
/// use daemonproxy_proto::Name;
/// assert!(Name::new(b"web-1.main").is_some());
/// assert!(Name::new(b"bad name").is_none());
/// assert!(Name::new(b"").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name<'a>(&'a str);

/// Whether `b` may appear in a name.
#[inline]
pub fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'
}

/// Whether every byte may appear in a name and the length is at most 31.
/// The empty string passes (a `service.fds` entry may be empty).
#[inline]
pub(crate) fn is_name_or_empty(bytes: &[u8]) -> bool {
    bytes.len() <= MAX_NAME_LEN && bytes.iter().all(|&b| is_name_byte(b))
}

impl<'a> Name<'a> {
    /// Validates `bytes` as a name.
    pub fn new(bytes: &'a [u8]) -> Option<Name<'a>> {
        if bytes.is_empty() || !is_name_or_empty(bytes) {
            return None;
        }
        // Only ASCII bytes passed the check above.
        core::str::from_utf8(bytes).ok().map(Name)
    }

    /// Validates a `&str` as a name.
    pub fn from_text(s: &'a str) -> Option<Name<'a>> {
        Name::new(s.as_bytes())
    }

    /// The name as text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The name as bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl AsRef<str> for Name<'_> {
    fn as_ref(&self) -> &str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        for ok in [&b"a"[..], b"-", b".", b"..", b"Z_9.-", &[b'n'; 31]] {
            assert!(Name::new(ok).is_some(), "{:?}", ok);
        }
        for bad in [&b""[..], b"a b", b"a\t", b"\xc3\xa9", b"foo\r", &[b'n'; 32]] {
            assert!(Name::new(bad).is_none(), "{:?}", bad);
        }
    }

    #[test]
    fn order_is_bytewise_prefix_first() {
        let mut v = [b"fd_9", &b"fd_10"[..], b"a", b"Z", b"fd_1"].map(|b| Name::new(b).unwrap());
        v.sort();
        let s: Vec<_> = v.iter().map(|n| n.as_str()).collect();
        assert_eq!(s, ["Z", "a", "fd_1", "fd_10", "fd_9"]);
    }
}
