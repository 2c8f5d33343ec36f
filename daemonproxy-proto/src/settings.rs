//! The per-service process settings of `service.env`, `service.user`,
//! `service.umask` and `service.notify`, and the fields of a readiness
//! message: validated values that borrow from the line.
//!
//! Each is checked once, at the edge, so that the daemon and the
//! controller work with values that cannot be malformed. The resource
//! limits live in [`crate::rlimit`].

use crate::fields::{list_items, parse_u64, push_u64, Fields};
use crate::ParseError;
use core::fmt;

/// One entry of a `service.env` list.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EnvEntry<'a> {
    /// `VAR=VALUE`: set VAR (VALUE may be empty).
    Set {
        /// The variable name: non-empty, without `=`.
        var: &'a [u8],
        /// Everything after the first `=`.
        value: &'a [u8],
    },
    /// `-VAR`: remove VAR from the inherited environment.
    Remove {
        /// The variable name: non-empty, without `=`.
        var: &'a [u8],
    },
}

impl<'a> EnvEntry<'a> {
    /// Reads one entry. A leading `-` always means removal, so `-A=B` is
    /// invalid rather than setting a variable named `-A`. NUL is refused
    /// anywhere (it cannot be in an environment string).
    ///
    /// ```
    /// use daemonproxy_proto::EnvEntry;
    /// assert_eq!(EnvEntry::parse(b"LANG=C"), Some(EnvEntry::Set { var: b"LANG", value: b"C" }));
    /// assert_eq!(EnvEntry::parse(b"EMPTY="), Some(EnvEntry::Set { var: b"EMPTY", value: b"" }));
    /// assert_eq!(EnvEntry::parse(b"-TZ"), Some(EnvEntry::Remove { var: b"TZ" }));
    /// for bad in [&b"FOO"[..], b"=x", b"-", b"-A=B", b""] {
    ///     assert_eq!(EnvEntry::parse(bad), None);
    /// }
    /// ```
    pub fn parse(entry: &'a [u8]) -> Option<EnvEntry<'a>> {
        if entry.contains(&0) {
            return None;
        }
        if let Some(var) = entry.strip_prefix(b"-") {
            return (!var.is_empty() && !var.contains(&b'=')).then_some(EnvEntry::Remove { var });
        }
        match entry.iter().position(|&b| b == b'=') {
            Some(eq) if eq > 0 => Some(EnvEntry::Set { var: &entry[..eq], value: &entry[eq + 1..] }),
            _ => None,
        }
    }
}

/// A `service.env` list as stored: the raw TAB-separated entries, each a
/// valid [`EnvEntry`]. Empty means no changes to the inherited environment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct EnvList<'a>(&'a [u8]);

impl<'a> EnvList<'a> {
    /// The empty list (the setting cleared).
    pub const NONE: EnvList<'static> = EnvList(b"");

    /// Checks a raw list; the error is the first invalid entry (an empty
    /// field inside a non-empty list is one).
    ///
    /// ```
    /// use daemonproxy_proto::{EnvEntry, EnvList};
    /// let env = EnvList::new(b"LANG=C\t-TZ").unwrap();
    /// assert_eq!(env.iter().nth(1), Some(EnvEntry::Remove { var: b"TZ" }));
    /// assert_eq!(EnvList::new(b"LANG=C\tFOO"), Err(&b"FOO"[..]));
    /// assert_eq!(EnvList::new(b""), Ok(EnvList::NONE));
    /// ```
    pub fn new(raw: &'a [u8]) -> Result<EnvList<'a>, &'a [u8]> {
        match list_items(raw).find(|e| EnvEntry::parse(e).is_none()) {
            Some(bad) => Err(bad),
            None => Ok(EnvList(raw)),
        }
    }

    /// The list as stored and printed.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// Whether the list is empty (the setting cleared).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries, in order (later ones win over earlier ones).
    pub fn iter(&self) -> impl Iterator<Item = EnvEntry<'a>> {
        list_items(self.0).filter_map(EnvEntry::parse)
    }
}

/// A user or group id: decimal digits for a value below 4294967295
/// (`(uid_t)-1` means "unchanged" to the kernel, so it is refused).
pub(crate) fn parse_id(field: &[u8]) -> Option<u32> {
    parse_u64(field).and_then(|v| u32::try_from(v).ok()).filter(|&v| v != u32::MAX)
}

/// Supplementary group ids as stored: raw TAB-separated decimal ids.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Groups<'a>(&'a [u8]);

impl<'a> Groups<'a> {
    /// No supplementary groups.
    pub const NONE: Groups<'static> = Groups(b"");

    /// Checks one or more TAB-separated ids; the error is the first field
    /// that is not one (so `""` is an error: use [`Groups::NONE`]).
    ///
    /// ```
    /// use daemonproxy_proto::Groups;
    /// assert_eq!(Groups::new(b"10\t20").unwrap().iter().collect::<Vec<_>>(), [10, 20]);
    /// assert_eq!(Groups::new(b"10\twheel"), Err(&b"wheel"[..]));
    /// assert_eq!(Groups::new(b""), Err(&b""[..]));
    /// ```
    pub fn new(raw: &'a [u8]) -> Result<Groups<'a>, &'a [u8]> {
        match raw.split(|&b| b == b'\t').find(|g| parse_id(g).is_none()) {
            Some(bad) => Err(bad),
            None => Ok(Groups(raw)),
        }
    }

    /// The ids as stored and printed.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ids, in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        list_items(self.0).filter_map(parse_id)
    }
}

/// The ids of `service.user`: numeric only, so the child never reads
/// passwd or group files.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct UserIds<'a> {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// Supplementary groups (the child's list is exactly these).
    pub groups: Groups<'a>,
}

impl<'a> UserIds<'a> {
    /// Parses `UID GID [GID]...` (the non-empty text after the service
    /// name). Errors, with the offending field: [`ParseError::InvalidUid`],
    /// [`ParseError::MissingGid`] (no item), [`ParseError::InvalidGid`].
    ///
    /// ```
    /// use daemonproxy_proto::{ParseError, UserIds};
    /// let ids = UserIds::parse(b"65534\t65534\t100").unwrap();
    /// assert_eq!((ids.uid, ids.gid), (65534, 65534));
    /// assert_eq!(ids.groups.iter().collect::<Vec<_>>(), [100]);
    /// assert_eq!(UserIds::parse(b"nobody\t1"), Err((ParseError::InvalidUid, &b"nobody"[..])));
    /// assert_eq!(UserIds::parse(b"0"), Err((ParseError::MissingGid, &b""[..])));
    /// ```
    pub fn parse(raw: &'a [u8]) -> Result<UserIds<'a>, (ParseError, &'a [u8])> {
        let mut f = Fields::new(Some(raw));
        let uid = f.next_field().unwrap_or(b"");
        let uid = parse_id(uid).ok_or((ParseError::InvalidUid, uid))?;
        let gid = f.next_field().ok_or((ParseError::MissingGid, &b""[..]))?;
        let gid = parse_id(gid).ok_or((ParseError::InvalidGid, gid))?;
        let groups = match f.rest() {
            None => Groups::NONE,
            Some(raw) => Groups::new(raw).map_err(|bad| (ParseError::InvalidGid, bad))?,
        };
        Ok(UserIds { uid, gid, groups })
    }

    /// Appends `UID\tGID[\tGROUPS]`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        push_u64(out, u64::from(self.uid));
        out.push(b'\t');
        push_u64(out, u64::from(self.gid));
        if !self.groups.is_empty() {
            out.push(b'\t');
            out.extend_from_slice(self.groups.raw());
        }
    }
}

/// A `service.umask` mode: 0 to 0o777.
///
/// Commands accept any number of octal digits (`27`, `0027`); events and
/// encoded commands print exactly three digits (`027`, `000`, `777`).
///
/// ```
/// use daemonproxy_proto::Umask;
/// let m = Umask::parse(b"0027").unwrap();
/// assert_eq!((m.bits(), m.to_string()), (0o27, "027".to_owned()));
/// assert_eq!(Umask::new(0).unwrap().to_string(), "000");
/// assert!(Umask::parse(b"9").is_none() && Umask::parse(b"1000").is_none() && Umask::new(0o1000).is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Umask(u16);

impl Umask {
    /// The mode with these permission bits, if they are at most 0o777.
    pub fn new(bits: u16) -> Option<Umask> {
        (bits <= 0o777).then_some(Umask(bits))
    }

    /// The permission bits.
    pub fn bits(self) -> u16 {
        self.0
    }

    /// Reads one or more octal digits for a value of at most 0o777.
    pub fn parse(text: &[u8]) -> Option<Umask> {
        if text.is_empty() {
            return None;
        }
        let mut v: u16 = 0;
        for &b in text {
            if !(b'0'..=b'7').contains(&b) {
                return None;
            }
            v = v * 8 + u16::from(b - b'0');
            if v > 0o777 {
                return None;
            }
        }
        Some(Umask(v))
    }

    /// Appends the printed form: exactly three octal digits.
    pub fn write_to(self, out: &mut Vec<u8>) {
        out.extend([6, 3, 0].map(|shift| b'0' + ((self.0 >> shift) & 7) as u8));
    }
}

impl fmt::Display for Umask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03o}", self.0)
    }
}

/// Descriptors a `service.notify NAME fd N` pipe may use: 3 (after the
/// standard ones) to 1023. Whether N is inside the service's
/// `service.fds` list is the daemon's check.
pub const NOTIFY_FDS: core::ops::Range<u32> = 3..1024;

/// How a service tells the daemon it is ready (`service.notify`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum NotifyMode {
    /// `fd N` (s6 style): the child writes a line to descriptor N, one of
    /// [`NOTIFY_FDS`].
    Fd(u32),
    /// `socket` (systemd style): the child gets `NOTIFY_SOCKET`.
    Socket,
}

impl NotifyMode {
    /// Reads the mode fields of `service.notify` after the service name:
    /// none or one empty field (off), `socket`, or `fd N`. Extra fields are
    /// left in `f`.
    pub(crate) fn parse_fields<'a>(f: &mut Fields<'a>) -> Result<Option<NotifyMode>, (ParseError, &'a [u8])> {
        let mode = match f.next_field() {
            None => return Ok(None),
            Some(b"") if !f.has_more() => return Ok(None),
            Some(mode) => mode,
        };
        Ok(Some(match mode {
            b"socket" => NotifyMode::Socket,
            b"fd" => {
                let n = f.next_field().ok_or((ParseError::MissingArgument, &b""[..]))?;
                let fd = parse_u64(n).and_then(|v| u32::try_from(v).ok()).filter(|v| NOTIFY_FDS.contains(v));
                NotifyMode::Fd(fd.ok_or((ParseError::InvalidNotifyFd, n))?)
            }
            other => return Err((ParseError::UnknownNotifyMode, other)),
        }))
    }

    /// Appends `fd\tN` or `socket`.
    pub fn write_to(self, out: &mut Vec<u8>) {
        match self {
            NotifyMode::Fd(n) => {
                out.extend_from_slice(b"fd\t");
                push_u64(out, u64::from(n));
            }
            NotifyMode::Socket => out.extend_from_slice(b"socket"),
        }
    }
}

/// The fields of a readiness-protocol message (`READY=1`, `STATUS=...`)
/// as the service sent them: one or more non-empty TAB-separated fields
/// without NUL.
///
/// ```
/// use daemonproxy_proto::NotifyFields;
/// let f = NotifyFields::new(b"READY=1\tSTATUS=listening on :80").unwrap();
/// assert_eq!(f.get(b"STATUS"), Some(&b"listening on :80"[..]));
/// assert_eq!(f.get(b"MAINPID"), None);
/// assert_eq!(f.iter().count(), 2);
/// assert!(NotifyFields::new(b"").is_none() && NotifyFields::new(b"A=1\t").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NotifyFields<'a>(&'a [u8]);

impl<'a> NotifyFields<'a> {
    /// Checks a raw field list.
    pub fn new(raw: &'a [u8]) -> Option<NotifyFields<'a>> {
        let ok = !raw.contains(&0) && raw.split(|&b| b == b'\t').all(|f| !f.is_empty());
        ok.then_some(NotifyFields(raw))
    }

    /// The fields as sent and printed.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> {
        self.0.split(|&b| b == b'\t')
    }

    /// The value of the first `VAR=VALUE` field for `var`.
    pub fn get(&self, var: &[u8]) -> Option<&'a [u8]> {
        self.iter().find_map(|f| f.strip_prefix(var)?.strip_prefix(b"="))
    }
}
