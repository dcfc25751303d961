//! The presentation pass: transposes moved to where they shorten the result.

use matdiff_expr::{ExprError, ExprId, Ids, Node};
use smallvec::SmallVec;

use super::{Forms, Simplifier};

/// How a form of a node is made from the forms of its children: the costs are found first
/// ([`Simplifier::best`]), and only the forms chosen are made (interned) afterwards.
#[derive(Copy, Clone, Debug)]
pub(super) enum Make {
    /// The node as it is.
    Itself,
    /// The transpose of the node as it is (a leaf).
    TransposedLeaf,
    /// A form of the child of a transpose: its transposed form when `true`.
    Child(ExprId, bool),
    /// The node with the best form of each child.
    Keep,
    /// The node with its children flipped: `(F1*...*Fk)' = Fk'*...*F1'`, and element-wise
    /// operators commute with the transpose (scalar operands stay).
    Flip,
    /// The transpose of [`Make::Keep`].
    KeepTransposed,
    /// The transpose of [`Make::Flip`].
    FlipTransposed,
}

impl Simplifier<'_> {
    /// The presentation pass: for each node the cheaper of itself and the transpose of its
    /// transpose, so `A'*B'` may print as `(B*A)'` and `inv(X)'*A'*B'*inv(X)'` as
    /// `(inv(X)*B*A*inv(X))'`.
    pub fn present(&mut self, id: ExprId) -> Result<ExprId, ExprError> {
        self.best(id);
        self.make(id, false)
    }

    /// How the best form of `id` and the best form of `id'` are made, each with its cost
    /// (operators).
    pub(super) fn best(&mut self, id: ExprId) -> Forms {
        if let Some(r) = self.present_memo.get(id) {
            return r;
        }
        let node = self.pool.node(id).clone();
        let symmetric = self.is_scalar(id) || self.pool.is_symmetric(id);
        let leaf = self.opaque.contains(&id) || node.children().is_empty();
        let result = if leaf {
            let t = if symmetric {
                (Make::Itself, 0)
            } else {
                (Make::TransposedLeaf, 1)
            };
            ((Make::Itself, 0), t)
        } else if let Node::Transpose(a) = node {
            let (p, t) = self.best(a);
            ((Make::Child(a, true), t.1), (Make::Child(a, false), p.1))
        } else {
            let forms: SmallVec<[Forms; 4]> =
                node.children().iter().map(|&k| self.best(k)).collect();
            let own = forms.len().saturating_sub(1).max(1) as u64;
            let keep_cost = forms.iter().map(|f| f.0 .1).fold(own, u64::saturating_add);
            let flip_cost = match node {
                Node::Mul(_) => Some(forms.iter().map(|f| f.1 .1).fold(own, u64::saturating_add)),
                Node::Add(_)
                | Node::Hadamard(_)
                | Node::HDiv(_)
                | Node::Neg(_)
                | Node::Apply { .. }
                | Node::Div(_)
                | Node::HPow(_) => Some(
                    node.children()
                        .iter()
                        .zip(&forms)
                        .map(|(&k, f)| if self.is_scalar(k) { f.0 .1 } else { f.1 .1 })
                        .fold(own, u64::saturating_add),
                ),
                _ => None,
            };
            match (flip_cost, symmetric) {
                (_, true) => ((Make::Keep, keep_cost), (Make::Keep, keep_cost)),
                (Some(flip_cost), false) => {
                    // Element-wise functions and signs prefer the transpose outside on a tie:
                    // sigmoid(z)' rather than sigmoid(z').
                    let outside =
                        matches!(node, Node::Apply { .. } | Node::Hadamard(_) | Node::HDiv(_))
                            as u64;
                    let plain = if flip_cost + 1 < keep_cost + outside {
                        (Make::FlipTransposed, flip_cost + 1)
                    } else {
                        (Make::Keep, keep_cost)
                    };
                    let transposed = if keep_cost + 1 < flip_cost {
                        (Make::KeepTransposed, keep_cost + 1)
                    } else {
                        (Make::Flip, flip_cost)
                    };
                    (plain, transposed)
                }
                (None, false) => (
                    (Make::Keep, keep_cost),
                    (Make::KeepTransposed, keep_cost + 1),
                ),
            }
        };
        self.present_memo.insert(id, result);
        result
    }

    /// Makes the best form of `id` (of `id'` when `transposed`), as [`Simplifier::best`] chose.
    fn make(&mut self, id: ExprId, transposed: bool) -> Result<ExprId, ExprError> {
        let made = if transposed {
            &self.made_transposed
        } else {
            &self.made
        };
        if let Some(r) = made.get(id) {
            return Ok(r);
        }
        let forms = self.best(id);
        let how = if transposed { forms.1 .0 } else { forms.0 .0 };
        let r = match how {
            Make::Itself => id,
            Make::TransposedLeaf => self.pool.intern(Node::Transpose(id))?,
            Make::Child(a, t) => self.make(a, t)?,
            Make::Keep => self.rebuild(id, false)?,
            Make::Flip => self.rebuild(id, true)?,
            Make::KeepTransposed => {
                let keep = self.rebuild(id, false)?;
                self.pool.intern(Node::Transpose(keep))?
            }
            Make::FlipTransposed => {
                let flip = self.rebuild(id, true)?;
                self.pool.intern(Node::Transpose(flip))?
            }
        };
        if transposed {
            self.made_transposed.insert(id, r);
        } else {
            self.made.insert(id, r);
        }
        Ok(r)
    }

    /// The node with the best forms of its children, or with its children flipped.
    fn rebuild(&mut self, id: ExprId, flip: bool) -> Result<ExprId, ExprError> {
        let kids = Ids::from(self.pool.node(id).children());
        let mut made: SmallVec<[ExprId; 4]> = SmallVec::with_capacity(kids.len());
        if flip && matches!(self.pool.node(id), Node::Mul(_)) {
            for &k in kids.iter().rev() {
                made.push(self.make(k, true)?);
            }
        } else {
            for &k in kids.iter() {
                let t = flip && !self.is_scalar(k);
                made.push(self.make(k, t)?);
            }
        }
        self.pool.with_children(id, &made)
    }
}
