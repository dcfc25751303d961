//! A rewrite before compilation: a sum of matrices that multiplies a vector is distributed over
//! the vector, so `(A + A')*v` runs as `A*v + A'*v`. A matrix-vector product is bound by memory:
//! forming the sum reads every term and writes and reads the sum (a transposed term read
//! across), while the distributed form reads each term once. Only a sum used once is
//! distributed (a shared one is formed anyway), and only one whose both sides are at least
//! [`MIN_SIDE`] (forming a thin sum is cheaper than a second product).

use std::collections::HashMap;

use matdiff_expr::{ExprId, ExprPool, Node};

use crate::values::Sizes;

/// The smallest side of a sum worth distributing.
const MIN_SIDE: usize = 8;

/// The roots rewritten in a copy of the pool, or `None` when nothing is distributed.
pub(super) fn distribute(
    pool: &ExprPool,
    roots: &[ExprId],
    sizes: &Sizes,
) -> Option<(ExprPool, Vec<ExprId>)> {
    // A root counts as a use: it is formed anyway.
    let mut uses: HashMap<ExprId, u32> = HashMap::new();
    for &r in roots {
        *uses.entry(r).or_default() += 1;
    }
    let mut stack = roots.to_vec();
    let mut seen = HashMap::new();
    while let Some(id) = stack.pop() {
        if seen.insert(id, ()).is_none() {
            for &c in pool.node(id).children() {
                *uses.entry(c).or_default() += 1;
                stack.push(c);
            }
        }
    }
    let candidate = |id: &ExprId| match pool.node(*id) {
        Node::Mul(xs) => xs.iter().any(|x| wide_sum(pool, sizes, *x, &uses)),
        _ => false,
    };
    if !seen.keys().any(candidate) {
        return None;
    }
    let mut rewriter = Rewriter {
        pool: pool.clone(),
        sizes,
        uses,
        done: HashMap::new(),
    };
    let new_roots = roots
        .iter()
        .map(|&r| rewriter.rewrite(r))
        .collect::<Option<Vec<_>>>()?;
    Some((rewriter.pool, new_roots))
}

/// Whether `id` is a sum of matrices, used once, with both sides at least [`MIN_SIDE`].
fn wide_sum(pool: &ExprPool, sizes: &Sizes, id: ExprId, uses: &HashMap<ExprId, u32>) -> bool {
    matches!(pool.node(id), Node::Add(_))
        && uses.get(&id).copied().unwrap_or(0) <= 1
        && dims(pool, sizes, id).is_some_and(|(r, c)| r.min(c) >= MIN_SIDE)
}

fn dims(pool: &ExprPool, sizes: &Sizes, id: ExprId) -> Option<(usize, usize)> {
    sizes.shape(pool, pool.shape(id)).ok()
}

struct Rewriter<'s> {
    pool: ExprPool,
    sizes: &'s Sizes,
    /// Uses in the original DAG (new nodes are used once).
    uses: HashMap<ExprId, u32>,
    done: HashMap<ExprId, ExprId>,
}

impl Rewriter<'_> {
    /// `id` with every qualifying product distributed (children first); `None` when a node
    /// cannot be built, and the caller then compiles the original.
    fn rewrite(&mut self, id: ExprId) -> Option<ExprId> {
        if let Some(&d) = self.done.get(&id) {
            return Some(d);
        }
        let children: Vec<ExprId> = self.pool.node(id).children().to_vec();
        let mut new_children = Vec::with_capacity(children.len());
        for c in &children {
            new_children.push(self.rewrite(*c)?);
        }
        let rebuilt = if new_children == children {
            id
        } else {
            self.pool.with_children(id, &new_children).ok()?
        };
        let out = self.product(rebuilt)?;
        self.done.insert(id, out);
        Some(out)
    }

    /// A product `P*(S1 + ... + Sk)*Q` whose result is a column, with `Q` not empty, becomes
    /// `P*(S1*Q + ... + Sk*Q)` (a row likewise from the left), again until no sum qualifies.
    fn product(&mut self, id: ExprId) -> Option<ExprId> {
        let Node::Mul(xs) = self.pool.node(id).clone() else {
            return Some(id);
        };
        let (rows, cols) = dims(&self.pool, self.sizes, id)?;
        let wide = |r: &Self, x: ExprId| wide_sum(&r.pool, r.sizes, x, &r.uses);
        let found = if cols == 1 {
            xs.iter().rposition(|&x| wide(self, x)).map(|i| (i, true))
        } else if rows == 1 {
            xs.iter().position(|&x| wide(self, x)).map(|i| (i, false))
        } else {
            None
        };
        let Some((i, right)) = found else {
            return Some(id);
        };
        if (right && i + 1 == xs.len()) || (!right && i == 0) {
            return Some(id);
        }
        let Node::Add(terms) = self.pool.node(xs[i]).clone() else {
            return Some(id);
        };
        let (outer, vector) = if right {
            (&xs[..i], &xs[i + 1..])
        } else {
            (&xs[i + 1..], &xs[..i])
        };
        let mut products = Vec::with_capacity(terms.len());
        for &t in terms.iter() {
            let factors: Vec<ExprId> = if right {
                std::iter::once(t).chain(vector.iter().copied()).collect()
            } else {
                vector.iter().copied().chain(std::iter::once(t)).collect()
            };
            products.push(self.pool.intern(Node::Mul(factors.into())).ok()?);
        }
        let sum = self.pool.intern(Node::Add(products.into())).ok()?;
        if outer.is_empty() {
            return Some(sum);
        }
        let factors: Vec<ExprId> = if right {
            outer.iter().copied().chain(std::iter::once(sum)).collect()
        } else {
            std::iter::once(sum).chain(outer.iter().copied()).collect()
        };
        let rest = self.pool.intern(Node::Mul(factors.into())).ok()?;
        self.product(rest)
    }
}
