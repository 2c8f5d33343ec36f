//! Resource limits of `service.rlimit`: `RESOURCE=SOFT:HARD` entries.

use crate::fields::{list_items, parse_u64, push_u64};
use crate::ParseError;

macro_rules! resources {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// A resource `service.rlimit` can limit (the `RLIMIT_*` of
        /// setrlimit(2) with the same name).
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub enum Resource {
            $(#[doc = concat!("`", $name, "`: ", $doc)] $variant,)*
        }

        impl Resource {
            /// Every resource, in name order.
            pub const ALL: &'static [Resource] = &[$(Resource::$variant,)*];

            /// The name on the wire.
            pub fn name(self) -> &'static str {
                match self {
                    $(Resource::$variant => $name,)*
                }
            }
        }
    };
}

resources! {
    As => "as": "address space, bytes",
    Core => "core": "core file size, bytes",
    Cpu => "cpu": "CPU time, seconds",
    Data => "data": "data segment, bytes",
    Fsize => "fsize": "file size, bytes",
    Memlock => "memlock": "locked memory, bytes",
    Nofile => "nofile": "open descriptors",
    Nproc => "nproc": "processes of the user",
    Stack => "stack": "stack size, bytes",
}

impl Resource {
    /// Looks up an exact, lower-case name.
    pub fn from_name(name: &[u8]) -> Option<Resource> {
        Resource::ALL.iter().copied().find(|r| r.name().as_bytes() == name)
    }
}

/// One side of a limit.
///
/// Ordered as the kernel compares them: `Unlimited` above every number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Limit {
    /// A number, below 18446744073709551615 (which is `RLIM_INFINITY`,
    /// written `unlimited`).
    Finite(u64),
    /// `unlimited`.
    Unlimited,
}

impl Limit {
    /// Reads `unlimited` or a decimal number below 2⁶⁴−1.
    pub fn parse(text: &[u8]) -> Option<Limit> {
        match text {
            b"unlimited" => Some(Limit::Unlimited),
            _ => parse_u64(text).filter(|&v| v != u64::MAX).map(Limit::Finite),
        }
    }

    /// Appends `unlimited` or the number.
    pub fn write_to(self, out: &mut Vec<u8>) {
        match self {
            Limit::Finite(v) => push_u64(out, v),
            Limit::Unlimited => out.extend_from_slice(b"unlimited"),
        }
    }
}

/// One `RESOURCE=SOFT:HARD` entry, soft never above hard.
///
/// ```
/// use daemonproxy_proto::{Limit, ParseError, Resource, Rlimit};
/// let r = Rlimit::parse(b"nofile=1024:unlimited").unwrap();
/// assert_eq!((r.resource, r.soft, r.hard), (Resource::Nofile, Limit::Finite(1024), Limit::Unlimited));
/// assert_eq!(Rlimit::parse(b"nofile=9:8"), Err((ParseError::RlimitSoftAboveHard, &b"nofile"[..])));
/// assert_eq!(Rlimit::parse(b"files=1:2"), Err((ParseError::UnknownRlimitResource, &b"files"[..])));
/// assert_eq!(Rlimit::parse(b"core=0"), Err((ParseError::InvalidRlimit, &b"core=0"[..])));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Rlimit {
    /// The resource.
    pub resource: Resource,
    /// The soft limit (what the service gets).
    pub soft: Limit,
    /// The hard limit (how far the service may raise it).
    pub hard: Limit,
}

impl Rlimit {
    /// Reads one entry. Errors, with the offending item:
    /// [`ParseError::InvalidRlimit`] (the entry: no `=` or `:`, or a bad
    /// number), [`ParseError::UnknownRlimitResource`] (the name),
    /// [`ParseError::RlimitSoftAboveHard`] (the name).
    pub fn parse(entry: &[u8]) -> Result<Rlimit, (ParseError, &[u8])> {
        let invalid = (ParseError::InvalidRlimit, entry);
        let eq = entry.iter().position(|&b| b == b'=').ok_or(invalid)?;
        let (name, values) = (&entry[..eq], &entry[eq + 1..]);
        let resource = Resource::from_name(name).ok_or((ParseError::UnknownRlimitResource, name))?;
        let colon = values.iter().position(|&b| b == b':').ok_or(invalid)?;
        let soft = Limit::parse(&values[..colon]).ok_or(invalid)?;
        let hard = Limit::parse(&values[colon + 1..]).ok_or(invalid)?;
        if soft > hard {
            return Err((ParseError::RlimitSoftAboveHard, name));
        }
        Ok(Rlimit { resource, soft, hard })
    }

    /// Appends `RESOURCE=SOFT:HARD`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.resource.name().as_bytes());
        out.push(b'=');
        self.soft.write_to(out);
        out.push(b':');
        self.hard.write_to(out);
    }
}

/// A `service.rlimit` list as stored: raw TAB-separated valid entries,
/// each resource at most once. Empty means the inherited limits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Rlimits<'a>(&'a [u8]);

impl<'a> Rlimits<'a> {
    /// No limits set (the setting cleared).
    pub const NONE: Rlimits<'static> = Rlimits(b"");

    /// Checks a raw list; the error is that of the first bad entry (see
    /// [`Rlimit::parse`]; an empty field inside a non-empty list is
    /// invalid), or [`ParseError::DuplicateRlimit`] with the name.
    ///
    /// ```
    /// use daemonproxy_proto::{ParseError, Rlimits};
    /// let l = Rlimits::new(b"nofile=1024:4096\tcore=0:0").unwrap();
    /// assert_eq!(l.iter().count(), 2);
    /// assert_eq!(Rlimits::new(b"core=0:0\tcore=1:1"), Err((ParseError::DuplicateRlimit, &b"core"[..])));
    /// ```
    pub fn new(raw: &'a [u8]) -> Result<Rlimits<'a>, (ParseError, &'a [u8])> {
        let mut seen = 0u16;
        for entry in list_items(raw) {
            let r = Rlimit::parse(entry)?;
            let bit = 1 << r.resource as u16;
            if seen & bit != 0 {
                return Err((ParseError::DuplicateRlimit, r.resource.name().as_bytes()));
            }
            seen |= bit;
        }
        Ok(Rlimits(raw))
    }

    /// The list as stored and printed.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = Rlimit> + 'a {
        list_items(self.0).filter_map(|e| Rlimit::parse(e).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(Resource::ALL.len(), 9);
        for &r in Resource::ALL {
            assert_eq!(Resource::from_name(r.name().as_bytes()), Some(r));
        }
        assert_eq!(Resource::from_name(b"NOFILE"), None);
    }

    #[test]
    fn limits() {
        assert_eq!(Limit::parse(b"18446744073709551614"), Some(Limit::Finite(u64::MAX - 1)));
        for bad in [&b"18446744073709551615"[..], b"", b"-1", b"+1", b"infinity", b"Unlimited", b"1k"] {
            assert_eq!(Limit::parse(bad), None, "{bad:?}");
        }
        assert!(Limit::Finite(u64::MAX - 1) < Limit::Unlimited);
        assert_eq!(Rlimit::parse(b"cpu=unlimited:5"), Err((ParseError::RlimitSoftAboveHard, &b"cpu"[..])));
        let mut v = Vec::new();
        Rlimit::parse(b"stack=008:unlimited").unwrap().write_to(&mut v);
        assert_eq!(v, b"stack=8:unlimited");
    }
}
