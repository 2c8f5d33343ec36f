//! Due starts: which services must be started when.
//!
//! A service in the `start` state has a due time. The schedule keeps them
//! in a min-heap so that finding the next deadline and the due services
//! costs O(log n) per start, not a scan of every service. Entries are not
//! removed when a service leaves the `start` state early (cancelled,
//! deleted, rescheduled): they go stale and are skipped when they come up,
//! and the heap is rebuilt when stale entries outnumber live ones. With a
//! service pool the heap's memory is reserved up front.

use crate::ids::ServiceId;
use crate::time::Time;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Start deadlines by service key.
#[derive(Debug, Default)]
pub struct Schedule {
    heap: BinaryHeap<Reverse<(Time, ServiceId)>>,
    /// Services in the `start` state (live entries).
    live: usize,
}

impl Schedule {
    /// An empty schedule with room for `capacity` services' entries.
    pub fn with_capacity(capacity: usize) -> Schedule {
        let room = if capacity == 0 { 0 } else { capacity * 2 + 64 };
        Schedule { heap: BinaryHeap::with_capacity(room), live: 0 }
    }

    /// Number of services in the `start` state.
    pub fn len(&self) -> usize {
        self.live
    }

    /// A service entered the `start` state, due at `at`.
    pub fn add(&mut self, key: ServiceId, at: Time) {
        self.live += 1;
        self.heap.push(Reverse((at, key)));
    }

    /// A service left the `start` state (its entry goes stale).
    /// `is_live(key, at)` tells whether an entry still stands.
    pub fn remove(&mut self, is_live: impl Fn(ServiceId, Time) -> bool) {
        self.live = self.live.saturating_sub(1);
        if self.heap.len() > 2 * self.live + 64 {
            self.heap.retain(|Reverse((at, key))| is_live(*key, *at));
        }
    }

    /// The earliest live deadline; stale entries on top are dropped.
    pub fn next(&mut self, is_live: impl Fn(ServiceId, Time) -> bool) -> Option<Time> {
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            if is_live(key, at) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes the keys of the live entries due at `now` into `due`, in
    /// deadline order, at most `limit` of them (the rest stay due). A key
    /// may appear twice (a service rescheduled to the same time): the
    /// caller checks each service's state as it starts it.
    pub fn take_due(
        &mut self,
        now: Time,
        limit: usize,
        due: &mut Vec<ServiceId>,
        is_live: impl Fn(ServiceId, Time) -> bool,
    ) {
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            if at > now || due.len() >= limit {
                break;
            }
            self.heap.pop();
            if is_live(key, at) {
                due.push(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: fn(usize) -> ServiceId = ServiceId;

    #[test]
    fn stale_entries_are_skipped_and_due_ones_taken_in_order() {
        let mut s = Schedule::with_capacity(4);
        let t = Time::from_secs;
        s.add(K(1), t(5));
        s.add(K(2), t(3));
        s.add(K(3), t(9));
        let live = |k: ServiceId, at: Time| (k == K(1) && at == t(5)) || (k == K(3) && at == t(9));
        s.remove(live);
        assert_eq!(s.next(live), Some(t(5)));
        let mut due = Vec::new();
        s.take_due(t(6), usize::MAX, &mut due, live);
        assert_eq!(due, [K(1)]);
    }

    #[test]
    fn at_most_the_limit_is_taken_and_the_rest_stays_due() {
        let mut s = Schedule::with_capacity(8);
        let t = Time::from_secs;
        for k in 0..5 {
            s.add(K(k), t(10 - k as u64));
        }
        let mut due = Vec::new();
        s.take_due(t(10), 2, &mut due, |_, _| true);
        assert_eq!(due, [K(4), K(3)]);
        assert_eq!(s.next(|_, _| true), Some(t(8)));
        due.clear();
        s.take_due(t(10), 10, &mut due, |_, _| true);
        assert_eq!(due, [K(2), K(1), K(0)]);
    }
}
