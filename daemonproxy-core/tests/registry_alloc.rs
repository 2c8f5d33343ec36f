//! With a pool limit, the registry never allocates once it is created:
//! a counting global allocator watches inserts, replacements, refusals,
//! removals, lookups and walks in name order on a registry kept near full.
//!
//! The registry is a private module of the library, so this test compiles
//! its source file into the test itself (its unit tests then run here too).

// The library may call parts of the registry that this test does not.
#[allow(dead_code)]
#[path = "../src/supervisor/registry.rs"]
mod registry;

use daemonproxy_core::proto::Name;
use registry::{NameBuf, Registry};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

#[test]
fn a_limited_registry_never_allocates() {
    const LIMIT: usize = 64;
    let names: Vec<NameBuf> =
        (0..200).map(|i| NameBuf::new(Name::from_text(&format!("n{:03}", (i * 37) % 200)).unwrap())).collect();
    let mut r: Registry<usize, usize> = Registry::new(Some(LIMIT));
    assert_eq!(allocations(|| drop(Box::new(1))), 1, "the counter counts");
    let (mut refused, mut replaced, mut walked) = (0, 0, 0);
    let n = allocations(|| {
        for round in 0..10 {
            // Fill up to the limit; the rest is refused.
            for (i, name) in names.iter().enumerate() {
                if r.key(name.as_bytes()).is_none() {
                    refused += usize::from(r.insert(*name, i).is_err());
                }
            }
            refused += usize::from(r.put(names[0], 0).is_err());
            // Free some room, then replace and add until full again.
            for name in names.iter().skip(round % 2).step_by(2) {
                r.remove(name.as_bytes());
            }
            for (i, name) in names.iter().enumerate() {
                match r.put(*name, i) {
                    Ok((_, old)) => replaced += usize::from(old.is_some()),
                    Err(_) => refused += 1,
                }
            }
            let mut after = None;
            while let Some((name, key)) = r.next_after(after.as_ref().map(|(n, k)| (n, *k))) {
                walked += usize::from(r.get(key).is_some() && r.by_name(name.as_bytes()).is_some());
                after = Some((name, key));
            }
            walked += r.iter().count();
            for name in &names {
                r.remove(name.as_bytes());
            }
        }
    });
    assert!(refused > 0 && replaced > 0 && walked > 0, "{refused} refused, {replaced} replaced, {walked} walked");
    assert_eq!(n, 0, "{n} allocations");
}
