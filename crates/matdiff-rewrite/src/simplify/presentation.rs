//! The presentation pass: transposes moved to where they shorten the result.

use matdiff_expr::{ExprError, ExprId, Ids, Node};
use smallvec::SmallVec;

use super::{Forms, Simplifier};

impl Simplifier<'_> {
    /// The presentation pass: for each node the cheaper of itself and the transpose of its
    /// transpose, so `A'*B'` may print as `(B*A)'` and `inv(X)'*A'*B'*inv(X)'` as
    /// `(inv(X)*B*A*inv(X))'`.
    pub fn present(&mut self, id: ExprId) -> Result<ExprId, ExprError> {
        Ok(self.best(id)?.0 .0)
    }

    /// The best form of `id` with its cost (operators), and the best form of `id'`.
    pub(super) fn best(&mut self, id: ExprId) -> Result<Forms, ExprError> {
        if let Some(r) = self.present_memo.get(id) {
            return Ok(r);
        }
        let node = self.pool.node(id).clone();
        let symmetric = self.is_scalar(id) || self.pool.is_symmetric(id);
        let leaf = self.opaque.contains(&id) || node.children().is_empty();
        let result = if leaf {
            let t = if symmetric {
                (id, 0)
            } else {
                (self.pool.intern(Node::Transpose(id))?, 1)
            };
            ((id, 0), t)
        } else if let Node::Transpose(a) = node {
            let (p, t) = self.best(a)?;
            (t, p)
        } else {
            let kids = Ids::from(node.children());
            let forms = kids
                .iter()
                .map(|&k| self.best(k))
                .collect::<Result<SmallVec<[Forms; 4]>, _>>()?;
            let own = kids.len().saturating_sub(1).max(1) as u64;
            let keep: SmallVec<[ExprId; 4]> = forms.iter().map(|f| f.0 .0).collect();
            let keep_cost = forms.iter().map(|f| f.0 .1).fold(own, u64::saturating_add);
            let keep_id = self.pool.with_children(id, &keep)?;
            let flip = match node {
                // (F1*...*Fk)' = Fk'*...*F1'.
                Node::Mul(_) => Some(
                    forms
                        .iter()
                        .rev()
                        .map(|f| f.1)
                        .collect::<SmallVec<[_; 4]>>(),
                ),
                // Element-wise operators commute with the transpose; scalar operands stay.
                Node::Add(_)
                | Node::Hadamard(_)
                | Node::HDiv(_)
                | Node::Neg(_)
                | Node::Apply { .. }
                | Node::Div(_)
                | Node::HPow(_) => Some(
                    kids.iter()
                        .zip(&forms)
                        .map(|(&k, f)| if self.is_scalar(k) { f.0 } else { f.1 })
                        .collect(),
                ),
                _ => None,
            };
            match (flip, symmetric) {
                (_, true) => ((keep_id, keep_cost), (keep_id, keep_cost)),
                (Some(flip), false) => {
                    let flip_cost = flip.iter().map(|f| f.1).fold(own, u64::saturating_add);
                    let ids: SmallVec<[ExprId; 4]> = flip.iter().map(|f| f.0).collect();
                    let flip_id = self.pool.with_children(id, &ids)?;
                    // Element-wise functions and signs prefer the transpose outside on a tie:
                    // sigmoid(z)' rather than sigmoid(z').
                    let outside =
                        matches!(node, Node::Apply { .. } | Node::Hadamard(_) | Node::HDiv(_))
                            as u64;
                    let plain = if flip_cost + 1 < keep_cost + outside {
                        (self.pool.intern(Node::Transpose(flip_id))?, flip_cost + 1)
                    } else {
                        (keep_id, keep_cost)
                    };
                    let transposed = if keep_cost + 1 < flip_cost {
                        (self.pool.intern(Node::Transpose(keep_id))?, keep_cost + 1)
                    } else {
                        (flip_id, flip_cost)
                    };
                    (plain, transposed)
                }
                (None, false) => (
                    (keep_id, keep_cost),
                    (self.pool.intern(Node::Transpose(keep_id))?, keep_cost + 1),
                ),
            }
        };
        self.present_memo.insert(id, result);
        Ok(result)
    }
}
