//! Named records in a slab, with a sorted name index.
//!
//! Services and handles are both "a record per name, listed in name order".
//! The slab gives stable keys for the reactor and the pid index; the sorted
//! index gives `statedump` order and lets a dump resume after the last name
//! it emitted. With a pool limit the capacity is reserved up front, so
//! inserting and removing never allocate.

use daemonproxy_proto::{Name, MAX_NAME_LEN};
use slab::Slab;
use std::fmt;

/// A name stored inline (no heap allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameBuf {
    len: u8,
    bytes: [u8; MAX_NAME_LEN],
}

impl NameBuf {
    /// Copies a validated name.
    pub fn new(name: Name<'_>) -> NameBuf {
        let mut bytes = [0; MAX_NAME_LEN];
        let src = name.as_bytes();
        bytes[..src.len()].copy_from_slice(src);
        NameBuf { len: src.len() as u8, bytes }
    }

    /// A constant name of the daemon's own (`stderr`, `null`...).
    pub fn from_static(text: &'static str) -> NameBuf {
        NameBuf::new(Name::from_text(text).unwrap_or_else(|| unreachable!("{text} is a valid name")))
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The name as a validated [`Name`].
    pub fn name(&self) -> Name<'_> {
        // Only validated names are ever stored.
        Name::new(self.as_bytes()).unwrap_or_else(|| unreachable!("NameBuf holds a validated name"))
    }
}

impl PartialOrd for NameBuf {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NameBuf {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.name().as_str(), f)
    }
}

impl fmt::Display for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().as_str())
    }
}

/// Records of type `T` by name, with an optional fixed capacity.
#[derive(Debug)]
pub struct Registry<T> {
    slab: Slab<T>,
    /// (name, slab key), sorted by name.
    index: Vec<(NameBuf, usize)>,
    limit: Option<usize>,
}

impl<T> Registry<T> {
    /// An empty registry; `limit` reserves and caps its capacity.
    pub fn new(limit: Option<usize>) -> Self {
        let cap = limit.unwrap_or(0);
        Registry { slab: Slab::with_capacity(cap), index: Vec::with_capacity(cap), limit }
    }

    /// Whether another record fits (`extra` more besides).
    pub fn has_room(&self, extra: usize) -> bool {
        self.limit.is_none_or(|l| self.slab.len() + extra < l)
    }

    fn position(&self, name: &[u8]) -> Result<usize, usize> {
        self.index.binary_search_by(|(n, _)| n.as_bytes().cmp(name))
    }

    /// The key of `name`.
    pub fn key(&self, name: &[u8]) -> Option<usize> {
        self.position(name).ok().map(|i| self.index[i].1)
    }

    /// The record with this key.
    pub fn get(&self, key: usize) -> Option<&T> {
        self.slab.get(key)
    }

    /// The record with this key, mutably.
    pub fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        self.slab.get_mut(key)
    }

    /// The record called `name`.
    pub fn by_name(&self, name: &[u8]) -> Option<&T> {
        self.key(name).and_then(|k| self.slab.get(k))
    }

    /// Adds a record under a name that is not in use; `Err` gives the value
    /// back when the registry is full.
    pub fn insert(&mut self, name: NameBuf, value: T) -> Result<usize, T> {
        if !self.has_room(0) {
            return Err(value);
        }
        let pos = match self.position(name.as_bytes()) {
            Ok(_) => unreachable!("insert of a name in use"),
            Err(p) => p,
        };
        let key = self.slab.insert(value);
        self.index.insert(pos, (name, key));
        Ok(key)
    }

    /// Stores `value` under `name`, returning the record it replaces. The
    /// new record is allocated before the old one is released, so a full
    /// registry refuses even a replacement (as the original's pools do).
    pub fn put(&mut self, name: NameBuf, value: T) -> Result<(usize, Option<T>), T> {
        if !self.has_room(0) {
            return Err(value);
        }
        match self.position(name.as_bytes()) {
            Ok(i) => {
                let key = self.slab.insert(value);
                let old_key = std::mem::replace(&mut self.index[i].1, key);
                Ok((key, Some(self.slab.remove(old_key))))
            }
            Err(_) => self.insert(name, value).map(|k| (k, None)),
        }
    }

    /// Removes the record called `name`.
    pub fn remove(&mut self, name: &[u8]) -> Option<T> {
        let i = self.position(name).ok()?;
        let (_, key) = self.index.remove(i);
        Some(self.slab.remove(key))
    }

    /// The first record (in name order) whose name is greater than `after`
    /// (or the first of all): its name, key and position in name order.
    /// `after` carries the position where that name was last seen; when it
    /// is still there (nothing was added or removed before it), no search
    /// is needed, which keeps a long statedump linear.
    pub fn next_after(&self, after: Option<(&NameBuf, usize)>) -> Option<(NameBuf, usize, usize)> {
        let i = match after {
            None => 0,
            Some((n, hint)) if self.index.get(hint).is_some_and(|(m, _)| m == n) => hint + 1,
            Some((n, _)) => match self.position(n.as_bytes()) {
                Ok(i) => i + 1,
                Err(i) => i,
            },
        };
        self.index.get(i).map(|&(n, k)| (n, k, i))
    }

    /// All records in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&NameBuf, usize, &T)> {
        self.index.iter().map(|(n, k)| (n, *k, &self.slab[*k]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nb(s: &str) -> NameBuf {
        NameBuf::new(Name::from_text(s).unwrap())
    }

    #[test]
    fn order_resume_and_limits() {
        let mut r = Registry::new(Some(3));
        r.insert(nb("b"), 2).unwrap();
        r.insert(nb("a"), 1).unwrap();
        r.insert(nb("c"), 3).unwrap();
        assert_eq!(r.insert(nb("d"), 4), Err(4));
        assert_eq!(r.put(nb("a"), 9), Err(9), "replacement needs a free slot");
        let order: Vec<_> = r.iter().map(|(_, _, v)| *v).collect();
        assert_eq!(order, [1, 2, 3]);
        assert_eq!(r.next_after(Some((&nb("a"), 0))).map(|(n, _, _)| n), Some(nb("b")));
        assert_eq!(r.next_after(Some((&nb("a"), 7))).map(|(n, _, i)| (n, i)), Some((nb("b"), 1)));
        assert_eq!(r.next_after(Some((&nb("bb"), 1))).map(|(n, _, _)| n), Some(nb("c")));
        assert_eq!(r.remove(b"b"), Some(2));
        let (_, old) = r.put(nb("a"), 10).unwrap();
        assert_eq!(old, Some(1));
        assert_eq!(r.by_name(b"a"), Some(&10));
    }
}
