//! Which `ones` and `I` of an expression take their size from nothing else in it.
//!
//! In `A*ones` the size of `ones` follows from `A`; in `sum(ones*ones')` (the derivative of
//! `sum(alpha + A)` with respect to `alpha`) nothing fixes it. The plain printer writes such a
//! constant with an explicit size, `ones(rows(A))`, so that the printed text evaluates on its own
//! ([`Printer::with_explicit_sizes`](crate::Printer::with_explicit_sizes)).

use std::collections::{HashMap, HashSet};

use crate::node::{Dim, ExprId, Node, Reduce};
use crate::pool::ExprPool;

/// The `ones` and `I` nodes under `root` whose size no variable fixes through the shape rules of
/// the expression (products, sums, element-wise operations, square arguments).
pub(crate) fn unsized_constants(pool: &ExprPool, root: ExprId) -> HashSet<ExprId> {
    let nodes = reachable(pool, root);
    let index: HashMap<ExprId, usize> = nodes.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    // Two slots per node, its rows (2i) and its columns (2i + 1).
    let mut uf = UnionFind::new(2 * nodes.len());
    let rows = |id: ExprId| 2 * index[&id];
    let cols = |id: ExprId| 2 * index[&id] + 1;
    let scalar = |id: ExprId| pool.shape(id).is_scalar();
    for &id in &nodes {
        let shape = pool.shape(id);
        if shape.rows == Dim::ONE {
            uf.fix(rows(id));
        }
        if shape.cols == Dim::ONE {
            uf.fix(cols(id));
        }
        let same = |uf: &mut UnionFind, a: ExprId| {
            uf.union(rows(id), rows(a));
            uf.union(cols(id), cols(a));
        };
        match pool.node(id) {
            Node::Var(_) | Node::Num(_) | Node::Ones(_) => {
                if matches!(pool.node(id), Node::Var(_)) {
                    uf.fix(rows(id));
                    uf.fix(cols(id));
                }
            }
            Node::Identity(_) => uf.union(rows(id), cols(id)),
            Node::Transpose(a) => {
                uf.union(rows(id), cols(*a));
                uf.union(cols(id), rows(*a));
            }
            Node::Neg(a) | Node::Apply { arg: a, .. } | Node::Div([a, _]) => same(&mut uf, *a),
            Node::Pow([a, _]) | Node::HPow([a, _]) => same(&mut uf, *a),
            Node::Inv(a) => {
                same(&mut uf, *a);
                uf.union(rows(id), cols(id));
            }
            Node::Add(xs) | Node::Hadamard(xs) => {
                // Scalars broadcast; every other operand has the shape of the result.
                for &x in xs.iter().filter(|&&x| !scalar(x)) {
                    same(&mut uf, x);
                }
            }
            Node::HDiv([a, b]) => {
                for x in [*a, *b].into_iter().filter(|&x| !scalar(x)) {
                    same(&mut uf, x);
                }
            }
            Node::Mul(xs) => {
                // A chain links neighbours; a part that multiplies out to 1x1 scales what follows.
                let mut run: Option<(ExprId, ExprId)> = None;
                for &x in xs.iter().filter(|&&x| !scalar(x)) {
                    run = match run {
                        Some((first, last)) if !chain_is_scalar(pool, first, last) => {
                            uf.union(cols(last), rows(x));
                            Some((first, x))
                        }
                        _ => Some((x, x)),
                    };
                }
                if let Some((first, last)) = run {
                    if !shape.is_scalar() {
                        uf.union(rows(id), rows(first));
                        uf.union(cols(id), cols(last));
                    }
                }
            }
            Node::Reduce(r, a) => {
                if matches!(r, Reduce::Trace | Reduce::Det | Reduce::LogDet) {
                    uf.union(rows(*a), cols(*a));
                }
            }
            Node::Diag(a) => {
                if pool.shape(*a).cols == Dim::ONE {
                    uf.union(rows(id), cols(id));
                    uf.union(rows(id), rows(*a));
                } else {
                    uf.union(rows(*a), cols(*a));
                    uf.union(rows(id), rows(*a));
                }
            }
        }
    }
    nodes
        .iter()
        .copied()
        .filter(|&id| matches!(pool.node(id), Node::Ones(_) | Node::Identity(_)))
        .filter(|&id| !uf.is_fixed(rows(id)))
        .collect()
}

/// Whether the product of a run of factors, from `first` to `last`, is 1x1.
fn chain_is_scalar(pool: &ExprPool, first: ExprId, last: ExprId) -> bool {
    pool.shape(first).rows == Dim::ONE && pool.shape(last).cols == Dim::ONE
}

/// The nodes under `root`, each once.
fn reachable(pool: &ExprPool, root: ExprId) -> Vec<ExprId> {
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    let mut out = Vec::new();
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            out.push(id);
            stack.extend(pool.node(id).children().iter().copied());
        }
    }
    out
}

/// Union-find over slots, with a flag per class: fixed by a variable or by the language.
struct UnionFind {
    parent: Vec<usize>,
    fixed: Vec<bool>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n).collect(),
            fixed: vec![false; n],
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a] = b;
            self.fixed[b] |= self.fixed[a];
        }
    }

    fn fix(&mut self, x: usize) {
        let r = self.find(x);
        self.fixed[r] = true;
    }

    fn is_fixed(&mut self, x: usize) -> bool {
        let r = self.find(x);
        self.fixed[r]
    }
}

#[cfg(test)]
mod tests {
    use crate::ExprPool;

    fn free(text: &str) -> Vec<String> {
        let mut pool = ExprPool::new();
        let root = pool.parse(text).unwrap().root;
        let mut out: Vec<String> = super::unsized_constants(&pool, root)
            .into_iter()
            .map(|id| pool.plain(id))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn constants_sized_by_their_neighbours_are_not_listed() {
        for text in [
            "A*ones",
            "ones'*A*ones",
            "I*X + X",
            "X .* (ones*ones')",
            "2*I + A*B",
        ] {
            assert!(free(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn constants_nothing_sizes_are_listed() {
        assert_eq!(free("sum(ones*ones')"), ["ones"]);
        assert_eq!(free("2*(1 + sum(y))*ones"), ["ones"]);
        assert_eq!(free("tr(I) + x'*x"), ["I"]);
        // A 1x1 part of a chain does not link what is on either side of it.
        assert_eq!(free("y'*y*ones"), ["ones"]);
    }
}
