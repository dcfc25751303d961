//! Names in bulk: [`NameTable`] numbers distinct names densely, in the order they first appear.
//!
//! A long input has hundreds of thousands of names. They are kept in one string (no allocation
//! per name, nothing to free one by one), and found through a table of indices, each with its
//! name's hash, so that growing the table reads no name again (the names of a long input do not
//! fit the cache) and a lookup compares a name only when the whole hash matches.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::fxhash::FxHasher;

type Build = std::hash::BuildHasherDefault<FxHasher>;

/// Distinct names, each numbered by its position.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameTable {
    /// The names, one after another.
    text: String,
    /// Where each name ends in `text` (and the next begins).
    ends: Vec<u32>,
    /// The number of each name with the low 32 bits of its hash.
    index: HashTable<(u32, u32)>,
}

impl NameTable {
    /// A table with room for `n` names.
    pub(crate) fn with_capacity(n: usize) -> NameTable {
        NameTable {
            text: String::with_capacity(8 * n),
            ends: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
        }
    }

    /// The number of names.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Makes room for `n` more names of `bytes` bytes in all.
    pub(crate) fn reserve(&mut self, n: usize, bytes: usize) {
        self.text.reserve(bytes);
        self.ends.reserve(n);
        self.index.reserve(n, |&(_, h)| spread(h));
    }

    /// The name numbered `i`.
    #[inline]
    pub(crate) fn name(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    /// The number of `name`, if it is there.
    pub(crate) fn get(&self, name: &str) -> Option<usize> {
        self.find(name, hash(name))
    }

    /// The number of `name`, numbered next if it is new.
    pub(crate) fn intern(&mut self, name: &str) -> usize {
        let h = hash(name);
        if let Some(i) = self.find(name, h) {
            return i;
        }
        let i = self.ends.len();
        self.text.push_str(name);
        self.ends.push(self.text.len() as u32);
        self.index
            .insert_unique(spread(h), (i as u32, h), |&(_, h)| spread(h));
        i
    }

    /// The names in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.name(i))
    }

    fn find(&self, name: &str, h: u32) -> Option<usize> {
        self.index
            .find(spread(h), |&(i, hi)| {
                hi == h && self.name(i as usize) == name
            })
            .map(|&(i, _)| i as usize)
    }
}

fn hash(name: &str) -> u32 {
    Build::default().hash_one(name) as u32
}

/// The table's hash from the 32 bits kept: hashbrown takes the bucket from the low bits and a
/// tag from the top seven, so the 32 bits are repeated above themselves.
fn spread(h: u32) -> u64 {
    u64::from(h) << 32 | u64::from(h)
}

#[cfg(test)]
mod tests {
    use super::NameTable;

    #[test]
    fn names_are_numbered_in_order_of_first_appearance() {
        let mut t = NameTable::default();
        let words = ["W1", "x", "", "αβ", "x", "W1", "b"];
        let numbers: Vec<usize> = words.iter().map(|w| t.intern(w)).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 1, 0, 4]);
        assert_eq!(t.iter().collect::<Vec<_>>(), ["W1", "x", "", "αβ", "b"]);
        assert_eq!((t.get("αβ"), t.get("y")), (Some(3), None));
    }

    #[test]
    fn many_names_survive_growth() {
        let mut t = NameTable::with_capacity(2);
        for k in 0..10_000 {
            assert_eq!(t.intern(&format!("a{k}")), k);
        }
        t.reserve(5, 10);
        for k in (0..10_000).rev() {
            assert_eq!(t.get(&format!("a{k}")), Some(k));
            assert_eq!(t.name(k), format!("a{k}"));
        }
    }
}
