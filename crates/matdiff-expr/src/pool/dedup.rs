//! The hash-consing table of a pool: ids with their hashes, each compared through the pool's
//! nodes, so a node is stored once (in the pool's arena) and interning clones nothing. The hash
//! kept beside each id lets the table grow without reading the nodes again (a long input's
//! nodes do not fit the cache, and rehashing them was a cache miss per node), and a lookup reads
//! a node only when the whole hash matches.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::fxhash::FxHasher;
use crate::node::{ExprId, Node};

type Build = std::hash::BuildHasherDefault<FxHasher>;

/// The ids of a pool's nodes, found by node.
#[derive(Clone, Debug, Default)]
pub(super) struct Dedup {
    /// The id of each node with the low 32 bits of its hash.
    table: HashTable<(ExprId, u32)>,
}

impl Dedup {
    /// A table with room for `n` nodes.
    pub(super) fn with_capacity(n: usize) -> Dedup {
        Dedup {
            table: HashTable::with_capacity(n),
        }
    }

    /// Makes room for `n` more nodes.
    pub(super) fn reserve(&mut self, n: usize) {
        self.table.reserve(n, |&(_, h)| spread(h));
    }

    /// The hash of a node (the same for equal nodes).
    #[inline]
    pub(super) fn hash(node: &Node) -> u64 {
        Build::default().hash_one(node)
    }

    /// The id of `node` (whose hash is `hash`) among `nodes`, if it is there.
    #[inline]
    pub(super) fn find(&self, nodes: &[Node], hash: u64, node: &Node) -> Option<ExprId> {
        let hash = hash as u32;
        self.table
            .find(spread(hash), |&(id, h)| {
                h == hash && &nodes[id.index()] == node
            })
            .map(|&(id, _)| id)
    }

    /// Records `id`, whose node's hash is `hash` and which is not in the table.
    #[inline]
    pub(super) fn insert(&mut self, hash: u64, id: ExprId) {
        let hash = hash as u32;
        self.table
            .insert_unique(spread(hash), (id, hash), |&(_, h)| spread(h));
    }
}

/// A table's hash from the 32 bits kept of a node's: hashbrown takes the bucket from the low
/// bits and a tag from the top seven, so the 32 bits are repeated above themselves.
#[inline]
fn spread(h: u32) -> u64 {
    u64::from(h) << 32 | u64::from(h)
}
