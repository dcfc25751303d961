//! The variables of an expression found by name: a table of indices into the list of variables,
//! each with its name's hash, so that growing the table reads no name again (the names of a long
//! input do not fit the cache) and a lookup compares a name only when the whole hash matches.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::fxhash::FxHasher;

type Build = std::hash::BuildHasherDefault<FxHasher>;

/// Indices of names in a list that the caller keeps (`name_of(i)` is the name at index `i`).
#[derive(Default)]
pub(super) struct NameIndex {
    /// The index of each name with the low 32 bits of its hash.
    table: HashTable<(u32, u32)>,
}

impl NameIndex {
    /// The index of `name`, if it is there.
    pub(super) fn get<'n>(&self, name: &str, name_of: impl Fn(usize) -> &'n str) -> Option<usize> {
        let h = hash(name);
        self.table
            .find(spread(h), |&(i, hi)| hi == h && name_of(i as usize) == name)
            .map(|&(i, _)| i as usize)
    }

    /// Records that `name`, which is not there yet, is at index `i`.
    pub(super) fn insert(&mut self, name: &str, i: usize) {
        let h = hash(name);
        self.table
            .insert_unique(spread(h), (i as u32, h), |&(_, h)| spread(h));
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
