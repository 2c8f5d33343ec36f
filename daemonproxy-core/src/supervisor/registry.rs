//! Named records in a slab, indexed by a balanced tree that lives in the slab.
//!
//! Services and handles are both "a record per name, listed in name order".
//! The slab gives stable keys for the reactor and the pid index. Each slab
//! entry also holds the record's node in a weight-balanced search tree over
//! the names (so adding, removing and finding a name cost O(log n) in any
//! order, where a sorted index costs O(n) per change) and its link to the
//! next record in name order (so listing all records is a walk). The tree
//! lives entirely in the slab: with a pool limit the capacity is reserved
//! up front, and inserting and removing never allocate.

use daemonproxy_proto::{Name, MAX_NAME_LEN};
use slab::Slab;
use std::cmp::Ordering;
use std::fmt;
use std::marker::PhantomData;

/// A name stored inline (no heap allocation).
///
/// The bytes are padded with zeros, which no name contains, and the length
/// sits in the last byte: the padded arrays sort as the names do (a prefix
/// first) and differ exactly where the names differ, so comparing them is
/// four word comparisons, the tree's innermost step, instead of a call to
/// `memcmp` for two slices of unknown length.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameBuf {
    bytes: [u8; NAME_BUF_LEN],
}

/// The bytes of a [`NameBuf`]: the longest name and its length.
const NAME_BUF_LEN: usize = MAX_NAME_LEN + 1;
const _: () = assert!(NAME_BUF_LEN % 8 == 0, "NameBuf::cmp compares whole words");

impl NameBuf {
    /// Copies a validated name.
    pub fn new(name: Name<'_>) -> NameBuf {
        NameBuf::padded(name.as_bytes()).unwrap_or_else(|| unreachable!("a name fits in a NameBuf"))
    }

    /// The bytes of a would-be name padded for comparison with stored
    /// names, if they are not too long for one.
    fn padded(src: &[u8]) -> Option<NameBuf> {
        if src.len() > MAX_NAME_LEN {
            return None;
        }
        let mut bytes = [0; NAME_BUF_LEN];
        bytes[..src.len()].copy_from_slice(src);
        bytes[MAX_NAME_LEN] = src.len() as u8;
        Some(NameBuf { bytes })
    }

    /// A constant name of the daemon's own (`stderr`, `null`...).
    pub fn from_static(text: &'static str) -> NameBuf {
        NameBuf::new(Name::from_text(text).unwrap_or_else(|| unreachable!("{text} is a valid name")))
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.bytes[MAX_NAME_LEN])]
    }

    /// The name as a validated [`Name`].
    pub fn name(&self) -> Name<'_> {
        // Only validated names are ever stored.
        Name::new(self.as_bytes()).unwrap_or_else(|| unreachable!("NameBuf holds a validated name"))
    }
}

impl PartialOrd for NameBuf {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NameBuf {
    fn cmp(&self, other: &Self) -> Ordering {
        let word = |chunk: &[u8]| u64::from_be_bytes(chunk.try_into().unwrap_or_else(|_| unreachable!("8 bytes")));
        for (a, b) in self.bytes.chunks_exact(8).zip(other.bytes.chunks_exact(8)) {
            match word(a).cmp(&word(b)) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        Ordering::Equal
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

/// An absent link (no child, no next record).
const NIL: u32 = u32::MAX;

/// Links are `u32` to keep nodes small; a registry holds fewer records than
/// this, so every slab key fits in a link and none is `NIL`.
const MAX_RECORDS: usize = NIL as usize;

/// Balance parameters of the tree (Adams' weight-balanced trees with the
/// (3, 2) parameters, proven correct for insertion and deletion by Straka
/// and by Hirai and Yamamoto): no subtree holds more than `DELTA` times as
/// many records as its sibling, which bounds the height by about
/// 2.4·log2(n); `RATIO` chooses between a single and a double rotation.
const DELTA: u64 = 3;
const RATIO: u64 = 2;

/// Nodes on a path from the root: more than the height a tree of
/// `MAX_RECORDS` records can reach (about 78, see `checks::height_bound`).
const MAX_DEPTH: usize = 96;

/// A record with its place in the tree and in name order.
#[derive(Debug)]
struct Node<T> {
    name: NameBuf,
    /// The subtrees of smaller (`[0]`) and greater (`[1]`) names.
    kids: [u32; 2],
    /// Records in the subtree rooted here: it keeps the tree balanced.
    size: u32,
    /// The next record in name order (`NIL` after the last).
    next: u32,
    value: T,
}

impl<T> Node<T> {
    /// A record not yet in the tree.
    fn leaf(name: NameBuf, value: T) -> Self {
        Node { name, kids: [NIL; 2], size: 1, next: NIL, value }
    }
}

/// The key a registry hands out for its records (a typed id wrapping the
/// slab key), so a service key is never taken for a handle's.
pub trait RecordKey: Copy {
    /// The key of slab entry `key`.
    fn from_slab(key: usize) -> Self;
    /// The slab entry.
    fn slab(self) -> usize;
}

/// Plain slab keys, for the registry's own tests.
#[cfg(test)]
impl RecordKey for usize {
    fn from_slab(key: usize) -> usize {
        key
    }
    fn slab(self) -> usize {
        self
    }
}

/// Records of type `T` by name, keyed by `K`, with an optional fixed
/// capacity.
#[derive(Debug)]
pub struct Registry<K, T> {
    slab: Slab<Node<T>>,
    root: u32,
    /// The record with the smallest name, where name order starts.
    first: u32,
    /// The record with the greatest name: names added in ascending order
    /// (a generated configuration) go after it without a comparison on the
    /// way down.
    last: u32,
    /// The record last added or found by [`Registry::key_or_insert`]: a
    /// service is usually defined by several lines in a row, and each looks
    /// its name up again.
    recent: u32,
    limit: Option<usize>,
    key: PhantomData<K>,
}

/// Where a missing name goes: the nodes from the root down to the empty
/// subtree it belongs in, with the side taken at each, and the record
/// before it in name order.
struct Path {
    nodes: [u32; MAX_DEPTH],
    sides: [u8; MAX_DEPTH],
    len: usize,
    /// The last node where the way went to the greater side (`NIL` if
    /// none): the greatest name below the missing one.
    prev: u32,
}

impl Path {
    fn new() -> Path {
        Path { nodes: [NIL; MAX_DEPTH], sides: [0; MAX_DEPTH], len: 0, prev: NIL }
    }

    fn push(&mut self, at: u32, side: usize) {
        self.nodes[self.len] = at;
        self.sides[self.len] = side as u8;
        self.len += 1;
        if side == 1 {
            self.prev = at;
        }
    }
}

/// The slab key `key` as a link.
fn link(key: usize) -> u32 {
    u32::try_from(key).ok().filter(|&l| l != NIL).unwrap_or_else(|| unreachable!("has_room keeps keys below NIL"))
}

/// A pair of subtrees with `light` on the side opposite `heavy` and
/// `toward` on side `heavy`, so rotations are written once for both sides.
fn sided(heavy: usize, light: u32, toward: u32) -> [u32; 2] {
    let mut kids = [light; 2];
    kids[heavy] = toward;
    kids
}

impl<K: RecordKey, T> Registry<K, T> {
    /// An empty registry; `limit` reserves and caps its capacity.
    pub fn new(limit: Option<usize>) -> Self {
        Registry {
            slab: Slab::with_capacity(limit.unwrap_or(0)),
            root: NIL,
            first: NIL,
            last: NIL,
            recent: NIL,
            limit,
            key: PhantomData,
        }
    }

    /// Whether another record fits (`extra` more besides).
    pub fn has_room(&self, extra: usize) -> bool {
        self.slab.len() + extra < self.limit.map_or(MAX_RECORDS, |l| l.min(MAX_RECORDS))
    }

    /// The key of `name`.
    pub fn key(&self, name: &[u8]) -> Option<K> {
        let name = NameBuf::padded(name)?;
        self.search(&name, |_, _| {}).map(|at| K::from_slab(at as usize))
    }

    /// The key of `name`, adding a record made by `make` if there is none
    /// (one search for both); `None` when it is missing and the registry is
    /// full.
    pub fn key_or_insert(&mut self, name: Name<'_>, make: impl FnOnce(NameBuf) -> T) -> Option<K> {
        let name = NameBuf::new(name);
        let mut path = Path::new();
        if let Some(at) = self.locate(&name, &mut path) {
            self.recent = at;
            return Some(K::from_slab(at as usize));
        }
        if !self.has_room(0) {
            return None;
        }
        Some(K::from_slab(self.add(name, make, &path)))
    }

    /// The record with this key.
    pub fn get(&self, key: K) -> Option<&T> {
        self.slab.get(key.slab()).map(|n| &n.value)
    }

    /// The record with this key, mutably.
    pub fn get_mut(&mut self, key: K) -> Option<&mut T> {
        self.slab.get_mut(key.slab()).map(|n| &mut n.value)
    }

    /// The record called `name`.
    pub fn by_name(&self, name: &[u8]) -> Option<&T> {
        self.key(name).and_then(|k| self.get(k))
    }

    /// Adds a record under a name that is not in use; `Err` gives the value
    /// back when the registry is full.
    pub fn insert(&mut self, name: NameBuf, value: T) -> Result<K, T> {
        if !self.has_room(0) {
            return Err(value);
        }
        let mut path = Path::new();
        if self.locate(&name, &mut path).is_some() {
            unreachable!("insert of a name in use");
        }
        Ok(K::from_slab(self.add(name, |_| value, &path)))
    }

    /// Stores `value` under `name`, returning the record it replaces. The
    /// new record is allocated before the old one is released, so a full
    /// registry refuses even a replacement (as the original's pools do).
    pub fn put(&mut self, name: NameBuf, value: T) -> Result<(K, Option<T>), T> {
        if !self.has_room(0) {
            return Err(value);
        }
        let new = self.slab.insert(Node::leaf(name, value));
        let old = self.unlink(&name);
        let mut path = Path::new();
        if self.locate(&name, &mut path).is_some() {
            unreachable!("the old record is out of the tree");
        }
        self.link_in(link(new), &path);
        Ok((K::from_slab(new), old.map(|l| self.slab.remove(l as usize).value)))
    }

    /// Removes the record called `name`.
    pub fn remove(&mut self, name: &[u8]) -> Option<T> {
        let gone = self.unlink(&NameBuf::padded(name)?)?;
        Some(self.slab.remove(gone as usize).value)
    }

    /// The first record (in name order) whose name is greater than `after`
    /// (or the first of all): its name and key. `after` carries the key the
    /// name had when it was returned: while that record is still there, the
    /// next one is found through its link in O(1), so a walk over every
    /// record (statedump) stays linear; otherwise (it was removed or
    /// replaced meanwhile) the search takes O(log n).
    pub fn next_after(&self, after: Option<(&NameBuf, K)>) -> Option<(NameBuf, K)> {
        let entry = |at: u32| (self.node(at).name, K::from_slab(at as usize));
        let Some((name, hint)) = after else {
            return (self.first != NIL).then(|| entry(self.first));
        };
        if let Some(node) = self.slab.get(hint.slab()) {
            if node.name == *name {
                return (node.next != NIL).then(|| entry(node.next));
            }
        }
        let (mut at, mut found) = (self.root, None);
        while at != NIL {
            let node = self.node(at);
            if node.name > *name {
                found = Some(entry(at));
                at = node.kids[0];
            } else {
                at = node.kids[1];
            }
        }
        found
    }

    /// All records in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&NameBuf, K, &T)> {
        let start = (self.first != NIL).then_some(self.first);
        std::iter::successors(start, |&at| Some(self.node(at).next).filter(|&l| l != NIL)).map(|at| {
            let node = self.node(at);
            (&node.name, K::from_slab(at as usize), &node.value)
        })
    }

    fn node(&self, at: u32) -> &Node<T> {
        &self.slab[at as usize]
    }

    fn node_mut(&mut self, at: u32) -> &mut Node<T> {
        &mut self.slab[at as usize]
    }

    fn size(&self, at: u32) -> u32 {
        if at == NIL {
            0
        } else {
            self.node(at).size
        }
    }

    /// Looks `name` up, telling `visit` each node passed and the side taken
    /// there; returns the node called `name`, if any. The most recent and
    /// the last record are tried first: a name after the last takes the
    /// greater side all the way down without comparing.
    fn search(&self, name: &NameBuf, mut visit: impl FnMut(u32, usize)) -> Option<u32> {
        if self.recent != NIL && self.node(self.recent).name == *name {
            return Some(self.recent);
        }
        let mut at = self.root;
        if self.last != NIL && *name > self.node(self.last).name {
            while at != NIL {
                visit(at, 1);
                at = self.node(at).kids[1];
            }
            return None;
        }
        while at != NIL {
            let node = self.node(at);
            let side = match name.cmp(&node.name) {
                Ordering::Less => 0,
                Ordering::Greater => 1,
                Ordering::Equal => return Some(at),
            };
            visit(at, side);
            at = node.kids[side];
        }
        None
    }

    /// The node called `name`; if there is none, `path` (empty before)
    /// tells where it would go.
    fn locate(&self, name: &NameBuf, path: &mut Path) -> Option<u32> {
        self.search(name, |at, side| path.push(at, side))
    }

    /// Stores a record whose name `locate` found missing along `path` (the
    /// tree unchanged since); returns its key. The record is made in its
    /// slot rather than moved there: a service is a large value.
    fn add(&mut self, name: NameBuf, make: impl FnOnce(NameBuf) -> T, path: &Path) -> usize {
        let new = self.slab.insert(Node::leaf(name, make(name)));
        self.link_in(link(new), path);
        new
    }

    /// Puts the slab entry `new`, whose name `locate` found missing along
    /// `path` (the tree unchanged since), into the tree and into name order.
    fn link_in(&mut self, new: u32, path: &Path) {
        let prev = path.prev;
        let prev_next = if prev == NIL { &mut self.first } else { &mut self.node_mut(prev).next };
        let next = std::mem::replace(prev_next, new);
        self.node_mut(new).next = next;
        if next == NIL {
            self.last = new;
        }
        self.recent = new;
        // Every subtree on the path has grown by one record, from the
        // bottom up; only the grown side can have become too heavy.
        // `sub` is the grown subtree, `grown` its size.
        let (mut sub, mut grown) = (new, 1);
        for (&at, &side) in path.nodes[..path.len].iter().zip(&path.sides).rev() {
            let side = usize::from(side);
            let node = self.node_mut(at);
            // The subtree at `at` held itself, `grown - 1` and `other`.
            let other = node.size - grown;
            let heavy = grown + other > 1 && u64::from(grown) > DELTA * u64::from(other);
            grown += other + 1;
            if heavy {
                let mut kids = node.kids;
                kids[side] = sub;
                sub = self.balance(at, kids);
            } else {
                node.kids[side] = sub;
                node.size = grown;
                sub = at;
            }
        }
        self.root = sub;
    }

    /// The record with the greatest name below `name`, or `NIL`.
    fn last_below(&self, name: &NameBuf) -> u32 {
        let (mut at, mut found) = (self.root, NIL);
        while at != NIL {
            let node = self.node(at);
            if node.name < *name {
                found = at;
                at = node.kids[1];
            } else {
                at = node.kids[0];
            }
        }
        found
    }

    /// Takes the record called `name` out of the tree and out of name
    /// order, leaving it in the slab; returns its key.
    fn unlink(&mut self, name: &NameBuf) -> Option<u32> {
        let (root, gone) = self.detach(self.root, name);
        self.root = root;
        if gone == NIL {
            return None;
        }
        let next = self.node(gone).next;
        let prev = self.last_below(name);
        match prev {
            NIL => self.first = next,
            prev => self.node_mut(prev).next = next,
        }
        if gone == self.last {
            self.last = prev;
        }
        if gone == self.recent {
            self.recent = NIL;
        }
        Some(gone)
    }

    /// Takes the node called `name` out of the subtree at `at`; returns the
    /// subtree's new root and the node taken (`NIL` if there was none).
    fn detach(&mut self, at: u32, name: &NameBuf) -> (u32, u32) {
        if at == NIL {
            return (NIL, NIL);
        }
        let mut kids = self.node(at).kids;
        let side = match name.cmp(&self.node(at).name) {
            Ordering::Less => 0,
            Ordering::Greater => 1,
            Ordering::Equal => return (self.glue(kids), at),
        };
        let (sub, gone) = self.detach(kids[side], name);
        if gone == NIL {
            return (at, NIL);
        }
        kids[side] = sub;
        (self.balance(at, kids), gone)
    }

    /// Takes the node with the smallest name out of the subtree at `at`,
    /// which is not empty; returns the subtree's new root and the node taken.
    fn detach_first(&mut self, at: u32) -> (u32, u32) {
        let [small, great] = self.node(at).kids;
        if small == NIL {
            return (great, at);
        }
        let (sub, gone) = self.detach_first(small);
        (self.balance(at, [sub, great]), gone)
    }

    /// Joins the subtrees of a removed node: the first node of the greater
    /// subtree takes its place, which is a removal from that subtree, so one
    /// rebalancing step suffices as for any other removal. Returns the new
    /// root.
    fn glue(&mut self, kids: [u32; 2]) -> u32 {
        match kids {
            [NIL, only] | [only, NIL] => only,
            [small, great] => {
                let (rest, top) = self.detach_first(great);
                self.balance(top, [small, rest])
            }
        }
    }

    /// Makes `kids` the children of `at`, which were balanced before one
    /// record was added to or removed from one of them, rotating if one
    /// side has grown too heavy; returns the subtree's new root.
    fn balance(&mut self, at: u32, kids: [u32; 2]) -> u32 {
        let heavy = match kids.map(|k| u64::from(self.size(k))) {
            [small, great] if small + great > 1 && great > DELTA * small => 1,
            [small, great] if small + great > 1 && small > DELTA * great => 0,
            _ => return self.join(at, kids),
        };
        let light = kids[1 - heavy];
        let top = kids[heavy];
        let [inner, outer] = [self.node(top).kids[1 - heavy], self.node(top).kids[heavy]];
        if u64::from(self.size(inner)) < RATIO * u64::from(self.size(outer)) {
            // Single rotation: `top` rises, `at` takes its inner subtree.
            let at = self.join(at, sided(heavy, light, inner));
            self.join(top, sided(heavy, at, outer))
        } else {
            // Double rotation: `inner` rises between `at` and `top`.
            let [in_light, in_heavy] = [self.node(inner).kids[1 - heavy], self.node(inner).kids[heavy]];
            let at = self.join(at, sided(heavy, light, in_light));
            let top = self.join(top, sided(heavy, in_heavy, outer));
            self.join(inner, sided(heavy, at, top))
        }
    }

    /// Sets the children of `at` and its size; returns `at`.
    fn join(&mut self, at: u32, kids: [u32; 2]) -> u32 {
        let size = self.size(kids[0]) + self.size(kids[1]) + 1;
        let node = self.node_mut(at);
        node.kids = kids;
        node.size = size;
        at
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
        assert_eq!(r.next_after(Some((&nb("a"), 0))).map(|(n, _)| n), Some(nb("b")));
        let b_key = r.key(b"b").unwrap();
        assert_eq!(r.next_after(Some((&nb("a"), 7))), Some((nb("b"), b_key)));
        assert_eq!(r.next_after(Some((&nb("bb"), 1))).map(|(n, _)| n), Some(nb("c")));
        assert_eq!(r.remove(b"b"), Some(2));
        let (_, old) = r.put(nb("a"), 10).unwrap();
        assert_eq!(old, Some(1));
        assert_eq!(r.by_name(b"a"), Some(&10));
    }
}

/// The tree checked against its invariants and against a model, and run at
/// the scale that used to be quadratic.
#[cfg(test)]
mod checks {
    use super::*;
    use std::collections::BTreeMap;
    use std::ops::Bound;
    use std::time::Instant;

    fn nb(s: &[u8]) -> NameBuf {
        NameBuf::new(Name::new(s).unwrap())
    }

    /// A small deterministic generator (splitmix64), so failures replay.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// A name from a small alphabet, so that names collide and share
        /// prefixes often; now and then a name of the greatest length.
        fn name(&mut self) -> NameBuf {
            const ALPHABET: &[u8] = b"-.0Z_az";
            let len = if self.below(16) == 0 { MAX_NAME_LEN } else { 1 + self.below(3) };
            let bytes: Vec<u8> = (0..len).map(|_| ALPHABET[self.below(ALPHABET.len())]).collect();
            nb(&bytes)
        }
    }

    /// The largest height a tree of `n` records may reach: each subtree
    /// holds at most DELTA/(DELTA+1) of its parent's records.
    fn height_bound(n: usize) -> f64 {
        let shrink = (DELTA + 1) as f64 / DELTA as f64;
        ((n + 1) as f64).ln() / shrink.ln() + 1.0
    }

    /// Checks every invariant of the tree and of the name order; returns
    /// the tree's height.
    fn check<T>(r: &Registry<usize, T>) -> usize {
        /// Checks the subtree at `at` (whose names all lie strictly between
        /// `low` and `high`) and lists its nodes in order; returns its height.
        fn walk<T>(
            r: &Registry<usize, T>,
            at: u32,
            low: Option<NameBuf>,
            high: Option<NameBuf>,
            out: &mut Vec<u32>,
        ) -> usize {
            if at == NIL {
                return 0;
            }
            let node = r.node(at);
            assert!(
                low.is_none_or(|l| l < node.name) && high.is_none_or(|h| node.name < h),
                "order at {:?}",
                node.name
            );
            let [small, great] = node.kids.map(|k| r.size(k));
            assert_eq!(node.size, small + great + 1, "size at {:?}", node.name);
            assert!(
                small + great <= 1
                    || (u64::from(small) <= DELTA * u64::from(great) && u64::from(great) <= DELTA * u64::from(small)),
                "balance at {:?}: {small} vs {great}",
                node.name
            );
            let hl = walk(r, node.kids[0], low, Some(node.name), out);
            out.push(at);
            let hr = walk(r, node.kids[1], Some(node.name), high, out);
            1 + hl.max(hr)
        }
        let mut in_order = Vec::new();
        let height = walk(r, r.root, None, None, &mut in_order);
        assert_eq!(in_order.len(), r.slab.len(), "every record is in the tree");
        assert_eq!(r.size(r.root) as usize, r.slab.len());
        let listed: Vec<u32> = r.iter().map(|(_, k, _)| link(k)).collect();
        assert_eq!(listed, in_order, "the next links follow name order");
        assert!((height as f64) <= height_bound(r.slab.len()), "height {height} for {}", r.slab.len());
        assert_eq!(r.last, in_order.last().copied().unwrap_or(NIL), "the last record");
        assert!(r.recent == NIL || r.slab.contains(r.recent as usize), "the recent record is there");
        height
    }

    #[test]
    fn paths_are_long_enough() {
        assert!(height_bound(MAX_RECORDS) < MAX_DEPTH as f64);
    }

    /// Name order is byte order, a prefix first, whatever the lengths.
    #[test]
    fn names_compare_as_bytes() {
        let mut rng = Rng(3);
        for _ in 0..20_000 {
            let (a, b) = (rng.name(), rng.name());
            assert_eq!(a.cmp(&b), a.as_bytes().cmp(b.as_bytes()), "{a:?} vs {b:?}");
            assert_eq!(a == b, a.as_bytes() == b.as_bytes());
        }
        let long = [b'z'; MAX_NAME_LEN + 1];
        let r: Registry<usize, ()> = Registry::new(None);
        assert_eq!((r.key(&long), r.key(b"")), (None, None));
    }

    /// Random inserts, puts, removes, lookups and resumed walks, compared
    /// with a `BTreeMap` after every step.
    fn against_model(seed: u64, limit: Option<usize>, steps: usize) {
        let mut rng = Rng(seed);
        let mut r = Registry::new(limit);
        let capacity = r.slab.capacity();
        // name -> (value, key)
        let mut model: BTreeMap<NameBuf, (u64, usize)> = BTreeMap::new();
        let full = |model: &BTreeMap<_, _>| limit.is_some_and(|l| model.len() >= l);
        for step in 0..steps {
            let name = rng.name();
            let value = rng.next();
            match rng.below(9) {
                8 => {
                    let key = r.key_or_insert(name.name(), |n| {
                        assert_eq!(n, name, "step {step}: made under its name");
                        value
                    });
                    match (key, model.get(&name)) {
                        (Some(key), Some(&(_, k))) => assert_eq!(key, k, "step {step}: found"),
                        (Some(key), None) => {
                            assert!(!full(&model), "step {step}: insert beyond the limit");
                            assert!(model.values().all(|&(_, k)| k != key), "step {step}: key {key} reused");
                            model.insert(name, (value, key));
                        }
                        (None, found) => assert!(found.is_none() && full(&model), "step {step}: refused"),
                    }
                }
                0..=2 if !model.contains_key(&name) => match r.insert(name, value) {
                    Ok(key) => {
                        assert!(!full(&model), "step {step}: insert beyond the limit");
                        assert!(model.values().all(|&(_, k)| k != key), "step {step}: key {key} reused");
                        model.insert(name, (value, key));
                    }
                    Err(v) => assert!(full(&model) && v == value, "step {step}: insert refused"),
                },
                0..=3 => match r.put(name, value) {
                    Ok((key, old)) => {
                        assert!(!full(&model), "step {step}: put beyond the limit");
                        assert!(model.values().all(|&(_, k)| k != key), "step {step}: key {key} reused");
                        let before = model.insert(name, (value, key));
                        assert_eq!(old, before.map(|(v, _)| v), "step {step}: put returns the old record");
                    }
                    Err(v) => assert!(full(&model) && v == value, "step {step}: put refused"),
                },
                4..=5 => assert_eq!(r.remove(name.as_bytes()), model.remove(&name).map(|(v, _)| v), "step {step}"),
                _ => {
                    let stale = rng.below(r.slab.len() + 2);
                    let hint = if rng.below(2) == 0 { None } else { Some((&name, stale)) };
                    let want = match hint {
                        None => model.iter().next(),
                        Some(_) => model.range((Bound::Excluded(name), Bound::Unbounded)).next(),
                    }
                    .map(|(n, &(_, k))| (*n, k));
                    assert_eq!(r.next_after(hint), want, "step {step}: after {hint:?}");
                }
            }
            let found = model.get(&name);
            assert_eq!(r.key(name.as_bytes()), found.map(|&(_, k)| k), "step {step}");
            assert_eq!(r.by_name(name.as_bytes()), found.map(|(v, _)| v), "step {step}");
            if let Some(&(v, k)) = found {
                assert_eq!(r.get(k), Some(&v));
                *r.get_mut(k).unwrap() = v;
            }
            assert_eq!(r.has_room(0), !full(&model), "step {step}");
            check(&r);
            let listed: Vec<_> = r.iter().map(|(n, k, v)| (*n, (*v, k))).collect();
            assert!(listed.iter().copied().eq(model.iter().map(|(n, x)| (*n, *x))), "step {step}: iteration order");
        }
        if limit.is_some() {
            assert_eq!(r.slab.capacity(), capacity, "a limited registry never grows its slab");
        }
    }

    #[test]
    fn matches_a_model() {
        for seed in 0..12 {
            against_model(seed, None, 3000);
            against_model(seed, Some(1 + seed as usize * 7), 2000);
        }
    }

    #[test]
    fn stays_balanced_in_any_order() {
        let n = 5000;
        let names: Vec<NameBuf> = (0..n).map(|i| nb(format!("n{i:05}").as_bytes())).collect();
        let mut rng = Rng(7);
        let mut shuffled = names.clone();
        for i in (1..n).rev() {
            shuffled.swap(i, rng.below(i + 1));
        }
        let zigzag: Vec<NameBuf> =
            (0..n).map(|i| if i % 2 == 0 { names[i / 2] } else { names[n - 1 - i / 2] }).collect();
        let reversed: Vec<NameBuf> = names.iter().rev().copied().collect();
        for order in [&names, &reversed, &shuffled, &zigzag] {
            let mut r = Registry::new(None);
            for (i, name) in order.iter().enumerate() {
                r.insert(*name, i).unwrap();
                if i.is_power_of_two() {
                    check(&r);
                }
            }
            check(&r);
            for (i, name) in order.iter().enumerate() {
                assert!(r.remove(name.as_bytes()).is_some());
                if i % 512 == 0 {
                    check(&r);
                }
            }
            assert_eq!((r.root, r.first, r.slab.len()), (NIL, NIL, 0));
        }
    }

    /// 50k, 100k and 200k services created in reverse name order and deleted
    /// in name order, the two orders a sorted index made quadratic. The
    /// times are printed (`--nocapture`), not asserted.
    #[test]
    fn scales_to_200k_records_in_adverse_order() {
        for n in [50_000, 100_000, 200_000] {
            let names: Vec<NameBuf> = (0..n).map(|i| nb(format!("service-{i:07}").as_bytes())).collect();
            let mut r = Registry::new(Some(n + 1));
            let start = Instant::now();
            for (i, name) in names.iter().enumerate().rev() {
                r.insert(*name, i).unwrap();
            }
            let inserted = start.elapsed();
            let height = check(&r);
            assert!(r.iter().map(|(n, _, &v)| (*n, v)).eq(names.iter().copied().zip(0..)));
            let (mut after, mut walked) = (None, 0);
            while let Some((name, key)) = r.next_after(after.as_ref().map(|(n, k)| (n, *k))) {
                assert_eq!((name, r.get(key)), (names[walked], Some(&walked)));
                after = Some((name, key));
                walked += 1;
            }
            assert_eq!(walked, n);
            let start = Instant::now();
            for (i, name) in names.iter().enumerate() {
                assert_eq!(r.remove(name.as_bytes()), Some(i));
            }
            let removed = start.elapsed();
            assert_eq!((r.root, r.first, r.slab.len()), (NIL, NIL, 0));
            eprintln!(
                "registry of {n}: reverse insert {inserted:.2?}, ascending delete {removed:.2?}, height {height}"
            );
        }
        eprintln!("bytes per record besides its value: {}", std::mem::size_of::<Node<()>>());
    }
}
