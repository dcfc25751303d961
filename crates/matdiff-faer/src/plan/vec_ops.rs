//! Roles and instructions of `kron`, `vec`, `unvec` and the commutation matrix; a product
//! `kron(L, R)*v` of a Kronecker product and a column is `vec(R*V*L')`, never formed.

use super::*;
use crate::exec::VecOp;

impl<T: Scalar> Compiler<'_, T> {
    /// `(L, R, v)` when `id` is the product `kron(L, R)*v` of a Kronecker product and a column.
    pub(super) fn kron_times_vec(&self, id: ExprId) -> Option<(ExprId, ExprId, ExprId)> {
        let Node::Mul(xs) = self.pool.node(id) else {
            return None;
        };
        match (&xs[..], xs.first().map(|&k| self.pool.node(k))) {
            ([k, v], Some(Node::Kron([l, r]))) if self.pool.shape(*v).cols == Dim::ONE => {
                let _ = k;
                Some((*l, *r, *v))
            }
            _ => None,
        }
    }

    /// Whether `id` is a node of this module (or `kron(L, R)*v`); its operands are flagged.
    pub(super) fn vec_op_role(&mut self, id: ExprId, needed: bool) -> bool {
        let operands: Vec<ExprId> = match self.pool.node(id) {
            Node::Kron([a, b]) => vec![*a, *b],
            Node::Vectorize(a) | Node::Unvec(a, _) => vec![*a],
            Node::Commutation(..) => Vec::new(),
            Node::Mul(_) => match self.kron_times_vec(id) {
                Some((l, r, v)) => vec![l, r, v],
                None => return false,
            },
            _ => return false,
        };
        if needed {
            for x in operands {
                let xl = self.li(x);
                self.flags[xl] |= OPERAND;
            }
        }
        true
    }

    /// The instruction of a node of this module (or `kron(L, R)*v`).
    pub(super) fn emit_vec_op(&mut self, li: usize, id: ExprId) {
        let (rows, cols) = self.dims[li];
        let op = match *self.pool.node(id) {
            Node::Kron([a, b]) => VecOp::Kron {
                a: self.operand(a),
                b: self.operand(b),
            },
            Node::Vectorize(a) | Node::Unvec(a, _) => VecOp::Reshape {
                src: self.operand(a),
                rows,
                cols,
            },
            Node::Commutation(m, n) => VecOp::Commutation {
                m: self.sizes.dim(self.pool, m).expect("sized with the plan"),
                n: self.sizes.dim(self.pool, n).expect("sized with the plan"),
            },
            _ => {
                let (l, r, v) = self.kron_times_vec(id).expect("a node of this module");
                let (lr, lc) = self.dims[self.li(l)];
                let (rr, rc) = self.dims[self.li(r)];
                self.stats.flops += 2 * (rr * rc * lc + rr * lc * lr) as u64;
                VecOp::KronTimesVec {
                    l: self.operand(l),
                    r: self.operand(r),
                    v: self.operand(v),
                }
            }
        };
        let dst = self.node_slot(li);
        self.instrs.push(Instr::VecOp { dst, op });
    }
}
