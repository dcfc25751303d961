//! Which `ones` and `I` of an expression take their size from nothing else in it.
//!
//! In `A*ones` the size of `ones` follows from `A`; in `sum(ones*ones')` (the derivative of
//! `sum(alpha + A)` with respect to `alpha`) nothing fixes it. The plain printer writes such a
//! constant with an explicit size, `ones(rows(A))`, so that the printed text evaluates on its own
//! ([`Printer::print`](crate::Printer::print)).

use std::collections::{HashMap, HashSet};

use crate::node::{Dim, ExprId, Node, Reduce};
use crate::pool::ExprPool;

/// The `ones` and `I` nodes under `root` of which some occurrence (as printed: the nodes in
/// `named` print as their names, defined once) has a size that no variable fixes through the
/// shape rules of the expression (products, sums, element-wise operations, square arguments).
pub(crate) fn unsized_constants(
    pool: &ExprPool,
    root: ExprId,
    named: &HashMap<ExprId, String>,
) -> HashSet<ExprId> {
    let mut occ: Vec<ExprId> = Vec::new();
    let mut uf = UnionFind::default();
    let mut definitions: HashMap<ExprId, usize> = HashMap::new();
    let mut stack = vec![new_occurrence(&mut occ, &mut uf, root)];
    if named.contains_key(&root) {
        definitions.insert(root, stack[0]);
    }
    let scalar = |id: ExprId| pool.shape(id).is_scalar();
    while let Some(o) = stack.pop() {
        let id = occ[o];
        // Each child is an occurrence of its own, or the one definition of a named node.
        let mut kids = Vec::new();
        for &c in pool.node(id).children() {
            let k = if named.contains_key(&c) {
                match definitions.get(&c) {
                    Some(&k) => k,
                    None => {
                        let k = new_occurrence(&mut occ, &mut uf, c);
                        definitions.insert(c, k);
                        stack.push(k);
                        k
                    }
                }
            } else {
                let k = new_occurrence(&mut occ, &mut uf, c);
                stack.push(k);
                k
            };
            kids.push(k);
        }
        let (rows, cols) = (2 * o, 2 * o + 1);
        let shape = pool.shape(id);
        if shape.rows == Dim::ONE {
            uf.fix(rows);
        }
        if shape.cols == Dim::ONE {
            uf.fix(cols);
        }
        let same = |uf: &mut UnionFind, k: usize| {
            uf.union(rows, 2 * k);
            uf.union(cols, 2 * k + 1);
        };
        let children = pool.node(id).children();
        match pool.node(id) {
            Node::Var(_) => {
                uf.fix(rows);
                uf.fix(cols);
            }
            Node::Num(_) | Node::Ones(_) => {}
            // Their dimensions are products or quotients of their children's, not the same ones;
            // a commutation matrix prints its sizes.
            Node::Kron(_) | Node::Vectorize(_) | Node::Unvec(..) | Node::Commutation(..) => {}
            Node::Identity(_) => uf.union(rows, cols),
            Node::Transpose(_) => {
                uf.union(rows, 2 * kids[0] + 1);
                uf.union(cols, 2 * kids[0]);
            }
            Node::Neg(_) | Node::Apply { .. } | Node::Div(_) | Node::Pow(_) | Node::HPow(_) => {
                same(&mut uf, kids[0])
            }
            Node::Inv(_) => {
                same(&mut uf, kids[0]);
                uf.union(rows, cols);
            }
            Node::Add(_) | Node::Hadamard(_) | Node::HDiv(_) => {
                // Scalars broadcast; every other operand has the shape of the result.
                for (&c, &k) in children.iter().zip(&kids) {
                    if !scalar(c) {
                        same(&mut uf, k);
                    }
                }
            }
            Node::Mul(_) => {
                // `ones'*ones` prints as the count it is (`rows(A)`): its two occurrences need
                // no size of their own.
                for k in 1..children.len() {
                    if let (Node::Transpose(t), Node::Ones(Dim::Sym(_))) =
                        (pool.node(children[k - 1]), pool.node(children[k]))
                    {
                        if *t == children[k] {
                            uf.fix(2 * kids[k]);
                            uf.fix(2 * kids[k - 1] + 1);
                        }
                    }
                }
                // A chain links neighbours; a part that multiplies out to 1x1 scales what follows.
                let mut run: Option<(ExprId, usize, usize)> = None;
                for (&c, &k) in children.iter().zip(&kids) {
                    if scalar(c) {
                        continue;
                    }
                    run = match run {
                        Some((first, f, last)) if !chain_is_scalar(pool, first, occ[last]) => {
                            uf.union(2 * last + 1, 2 * k);
                            Some((first, f, k))
                        }
                        _ => Some((c, k, k)),
                    };
                }
                if let (Some((_, f, last)), false) = (run, shape.is_scalar()) {
                    uf.union(rows, 2 * f);
                    uf.union(cols, 2 * last + 1);
                }
            }
            Node::Reduce(r, _) => {
                if matches!(r, Reduce::Trace | Reduce::Det | Reduce::LogDet) {
                    uf.union(2 * kids[0], 2 * kids[0] + 1);
                }
            }
            Node::LogSumExpCols(_) => uf.union(cols, 2 * kids[0] + 1),
            Node::Tri(..) => {
                uf.union(rows, 2 * kids[0]);
                uf.union(cols, 2 * kids[0] + 1);
                uf.union(rows, cols);
            }
            Node::Diag(a) => {
                uf.union(rows, 2 * kids[0]);
                if pool.shape(*a).cols == Dim::ONE {
                    uf.union(rows, cols);
                } else {
                    uf.union(2 * kids[0], 2 * kids[0] + 1);
                }
            }
        }
    }
    (0..occ.len())
        .filter(|&o| matches!(pool.node(occ[o]), Node::Ones(_) | Node::Identity(_)))
        .filter(|&o| !uf.is_fixed(2 * o))
        .map(|o| occ[o])
        .collect()
}

fn new_occurrence(occ: &mut Vec<ExprId>, uf: &mut UnionFind, id: ExprId) -> usize {
    occ.push(id);
    uf.grow(2 * occ.len());
    occ.len() - 1
}

/// Whether the product of a run of factors, from `first` to `last`, is 1x1.
fn chain_is_scalar(pool: &ExprPool, first: ExprId, last: ExprId) -> bool {
    pool.shape(first).rows == Dim::ONE && pool.shape(last).cols == Dim::ONE
}

/// Union-find over slots, with a flag per class: fixed by a variable or by the language.
#[derive(Default)]
struct UnionFind {
    parent: Vec<usize>,
    fixed: Vec<bool>,
}

impl UnionFind {
    fn grow(&mut self, n: usize) {
        while self.parent.len() < n {
            self.parent.push(self.parent.len());
            self.fixed.push(false);
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
        let mut out: Vec<String> = super::unsized_constants(&pool, root, &Default::default())
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
        // With known sizes both I are one node, sized by S in one place and by nothing in the
        // other.
        let mut pool = ExprPool::new();
        let decl = crate::Decl::sized("S", 3, 3);
        let root = pool
            .parse_with("sum(diag(tr(S + I)*I))", &[decl])
            .unwrap()
            .root;
        let found = super::unsized_constants(&pool, root, &Default::default());
        assert_eq!(found.len(), 1);
    }
}
