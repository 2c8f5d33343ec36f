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
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    /// Count only on the test's own thread (the harness allocates on others).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the
// bookkeeping touches only const-initialised thread-locals, which never
// allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note() {
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = COUNT.try_with(|n| n.set(n.get() + 1));
        }
    });
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

#[test]
fn a_limited_registry_never_allocates() {
    const LIMIT: usize = 64;
    let names: Vec<NameBuf> =
        (0..200).map(|i| NameBuf::new(Name::from_text(&format!("n{:03}", (i * 37) % 200)).unwrap())).collect();
    let mut r = Registry::new(Some(LIMIT));
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
