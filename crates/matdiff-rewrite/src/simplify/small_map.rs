//! [`SmallMap`]: a map in insertion order for the simplifier's collections, which mostly hold a
//! few entries (the terms of a sum): it searches a short list, and indexes the list by a hash
//! map once it is long, so that collecting stays linear in the number of terms.

use std::hash::Hash;

use matdiff_expr::FxHashMap as HashMap;
use smallvec::SmallVec;

/// Entries searched one by one up to this many.
const SHORT: usize = 8;

/// A map whose entries keep the order of their insertion.
pub(super) struct SmallMap<K, V> {
    entries: SmallVec<[(K, V); SHORT]>,
    /// The position of each key, once there are more than `SHORT` entries.
    index: Option<HashMap<K, usize>>,
}

impl<K: Copy + Eq + Hash, V> SmallMap<K, V> {
    pub(super) fn new() -> Self {
        SmallMap {
            entries: SmallVec::new(),
            index: None,
        }
    }

    fn position(&self, key: &K) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|e| &e.0 == key),
        }
    }

    /// The value of `key`, inserted by `make` if absent.
    pub(super) fn entry(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.position(&key) {
            Some(at) => at,
            None => {
                let at = self.entries.len();
                self.entries.push((key, make()));
                match &mut self.index {
                    Some(index) => {
                        index.insert(key, at);
                    }
                    None if self.entries.len() > SHORT => {
                        let index = self.entries.iter().enumerate().map(|(i, e)| (e.0, i));
                        self.index = Some(index.collect());
                    }
                    None => {}
                }
                at
            }
        };
        &mut self.entries[at].1
    }

    /// The entries, in the order their keys were first inserted.
    pub(super) fn into_entries(self) -> impl Iterator<Item = (K, V)> {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_insertion_order_past_the_short_list() {
        let mut m = SmallMap::new();
        let keys: Vec<u32> = (0..40).map(|i| (i * 7) % 20).collect();
        for &k in &keys {
            *m.entry(k, || 0) += 1;
        }
        let entries: Vec<(u32, i32)> = m.into_entries().collect();
        let mut first: Vec<u32> = Vec::new();
        for &k in &keys {
            if !first.contains(&k) {
                first.push(k);
            }
        }
        assert_eq!(entries.iter().map(|e| e.0).collect::<Vec<_>>(), first);
        assert!(entries.iter().all(|e| e.1 == 2));
    }
}
