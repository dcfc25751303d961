//! The hash-consing table of a pool: ids only, each hashed and compared through the pool's
//! nodes, so a node is stored once (in the pool's arena) and interning clones nothing.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::fxhash::FxHasher;
use crate::node::{ExprId, Node};

type Build = std::hash::BuildHasherDefault<FxHasher>;

/// The ids of a pool's nodes, found by node.
#[derive(Clone, Debug, Default)]
pub(super) struct Dedup {
    table: HashTable<ExprId>,
}

impl Dedup {
    /// A table with room for `n` nodes.
    pub(super) fn with_capacity(n: usize) -> Dedup {
        Dedup {
            table: HashTable::with_capacity(n),
        }
    }

    /// The hash of a node (the same for equal nodes).
    #[inline]
    pub(super) fn hash(node: &Node) -> u64 {
        Build::default().hash_one(node)
    }

    /// The id of `node` (whose hash is `hash`) among `nodes`, if it is there.
    #[inline]
    pub(super) fn find(&self, nodes: &[Node], hash: u64, node: &Node) -> Option<ExprId> {
        self.table
            .find(hash, |id| &nodes[id.index()] == node)
            .copied()
    }

    /// Records `id`, the last of `nodes`, whose hash is `hash` and which is not in the table.
    #[inline]
    pub(super) fn insert(&mut self, nodes: &[Node], hash: u64, id: ExprId) {
        self.table
            .insert_unique(hash, id, |id| Dedup::hash(&nodes[id.index()]));
    }
}
