//! Entries by request id that left the front of a window: what a queue
//! or a channel keeps for requests held far longer than the ones after
//! them (a program that never collects some of its requests, as AVEO's
//! Test 3 does with all but the last).
//!
//! They leave the window oldest first, so their ids ascend: a vector in id
//! order takes each one with a push (no hashing, no rehash of everything
//! kept so far when it grows, sequential memory), finds one by binary
//! search, and forgets one by leaving a hole that a later compaction
//! removes. A program forgetting a request per call pays a push per call;
//! a hash map paid a hash, a probe and, as it grew, a rehash of every
//! forgotten request at once, in the middle of some later call.

/// Entries in ascending id order; a taken one leaves a hole (`None`).
#[derive(Debug)]
pub(crate) struct Spilled<V> {
    entries: Vec<(u64, Option<V>)>,
    /// Entries that are not holes.
    live: usize,
}

impl<V> Default for Spilled<V> {
    fn default() -> Self {
        Spilled {
            entries: Vec::new(),
            live: 0,
        }
    }
}

impl<V> Spilled<V> {
    /// Whether nothing is kept.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Keeps `v` for `id`, an id not kept yet. Ids normally come in
    /// ascending order (one push); one below the last is put in its place.
    pub(crate) fn insert(&mut self, id: u64, v: V) {
        match self.entries.last() {
            Some(&(last, _)) if last >= id => {
                let at = self.entries.partition_point(|&(k, _)| k < id);
                match self.entries.get_mut(at) {
                    // The hole of a taken entry of the same id.
                    Some((k, slot @ None)) if *k == id => *slot = Some(v),
                    Some((k, Some(_))) if *k == id => return,
                    _ => self.entries.insert(at, (id, Some(v))),
                }
            }
            _ => self.entries.push((id, Some(v))),
        }
        self.live += 1;
    }

    fn position(&self, id: u64) -> Option<usize> {
        self.entries.binary_search_by_key(&id, |&(k, _)| k).ok()
    }

    pub(crate) fn get(&self, id: u64) -> Option<&V> {
        self.entries[self.position(id)?].1.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        let at = self.position(id)?;
        self.entries[at].1.as_mut()
    }

    /// Takes the entry of `id`. Holes are dropped once they are most of
    /// the vector, so taking is O(1) amortised and the vector stays at
    /// most twice the entries kept.
    pub(crate) fn remove(&mut self, id: u64) -> Option<V> {
        let at = self.position(id)?;
        let v = self.entries[at].1.take()?;
        self.live -= 1;
        if self.live == 0 {
            self.entries.clear();
        } else if self.live < self.entries.len() / 2 {
            self.entries.retain(|(_, v)| v.is_some());
        }
        Some(v)
    }

    /// The ids kept, in ascending order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|&(k, _)| k)
    }

    /// Whether `id` is kept.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.get(id).is_some()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.live = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_pushed_in_order_are_found_taken_once_and_listed_in_order() {
        let mut s = Spilled::default();
        for id in (10..1000).step_by(3) {
            s.insert(id, id * 2);
        }
        assert_eq!(s.get(13), Some(&26));
        assert_eq!(s.get(14), None);
        for id in (10..1000).step_by(6) {
            assert_eq!(s.remove(id), Some(id * 2));
            assert_eq!(s.remove(id), None, "taken once");
        }
        // Half of them taken: the holes were dropped, the rest stay.
        assert!(s.entries.len() <= 2 * s.live);
        assert_eq!(
            s.ids().collect::<Vec<_>>(),
            (13..1000).step_by(6).collect::<Vec<_>>()
        );
        *s.get_mut(19).unwrap() = 7;
        assert_eq!(s.remove(19), Some(7));
        for id in (13..1000).step_by(6) {
            s.remove(id);
        }
        assert!(s.is_empty());
        assert!(s.entries.is_empty(), "no holes kept once empty");
    }

    #[test]
    fn an_id_below_the_last_goes_in_its_place() {
        let mut s = Spilled::default();
        s.insert(5, 'a');
        s.insert(9, 'b');
        s.insert(7, 'c');
        s.insert(1, 'd');
        assert_eq!(s.ids().collect::<Vec<_>>(), [1, 5, 7, 9]);
        // Into the hole of a taken id, without a second entry.
        s.insert(20, 'e');
        assert_eq!(s.remove(7), Some('c'));
        s.insert(7, 'f');
        assert_eq!(s.entries.len(), 5);
        assert_eq!(s.get(7), Some(&'f'));
        // An id kept already keeps its entry.
        s.insert(5, 'x');
        assert_eq!(s.get(5), Some(&'a'));
        assert_eq!(s.ids().count(), 5);
        s.clear();
        assert!(s.is_empty() && s.get(5).is_none());
    }
}
