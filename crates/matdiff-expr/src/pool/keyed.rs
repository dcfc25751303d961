//! The nodes found without hashing: a variable by its symbol and a transpose by its child, each
//! in a vector indexed by that key. A long input has a variable and a transpose or two per term;
//! kept out of the hash-consing table, they leave it a third of the size (it stays in the cache
//! longer), and their lookups read the vectors in about the order the nodes were made.

use crate::node::{ExprId, Node};

/// No node yet for this key.
const NONE: u32 = u32::MAX;

/// The variable and transpose nodes of a pool, by key.
#[derive(Clone, Debug, Default)]
pub(super) struct Keyed {
    /// The node `Var(s)`, by symbol `s`.
    vars: Vec<u32>,
    /// The node `Transpose(c)`, by child `c`.
    transposes: Vec<u32>,
}

impl Keyed {
    /// Room for the variables of `symbols` symbols and the transposes of `nodes` nodes.
    pub(super) fn with_capacity(symbols: usize, nodes: usize) -> Keyed {
        Keyed {
            vars: Vec::with_capacity(symbols),
            transposes: Vec::with_capacity(nodes),
        }
    }

    /// The slot of a node kept here (`None` for the other nodes, which the hash table keeps).
    #[inline]
    fn slot(&self, node: &Node) -> Option<(bool, usize)> {
        match *node {
            Node::Var(s) => Some((true, s.0 as usize)),
            Node::Transpose(c) => Some((false, c.index())),
            _ => None,
        }
    }

    /// Whether this table, not the hash table, keeps `node`.
    #[inline]
    pub(super) fn keeps(&self, node: &Node) -> bool {
        self.slot(node).is_some()
    }

    /// The id of `node`, a variable or a transpose, if it is there.
    #[inline]
    pub(super) fn find(&self, node: &Node) -> Option<ExprId> {
        let (var, i) = self.slot(node)?;
        let table = if var { &self.vars } else { &self.transposes };
        table.get(i).copied().filter(|&id| id != NONE).map(ExprId)
    }

    /// Records `id` as the node of `node`, a variable or a transpose.
    #[inline]
    pub(super) fn insert(&mut self, node: &Node, id: ExprId) {
        let (var, i) = self.slot(node).expect("a variable or a transpose");
        let table = if var {
            &mut self.vars
        } else {
            &mut self.transposes
        };
        if i >= table.len() {
            table.resize(i + 1, NONE);
        }
        table[i] = id.0;
    }
}
