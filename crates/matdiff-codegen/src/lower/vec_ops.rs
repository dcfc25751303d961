//! `kron`, `vec`, `unvec` and the commutation matrix in generated code.

use matdiff_expr::{ExprId, Node};

use super::{Ew, Lowered, Lowering, Op};
use crate::CodegenError;

impl Lowering<'_> {
    /// The operation of a node of this module.
    pub(super) fn vec_op(&mut self, id: ExprId) -> Result<Lowered, CodegenError> {
        // Scalars are numbers in generated code, not 1 x 1 matrices: `kron` by a scalar is a
        // scaling, and `vec`, `unvec` of a scalar are the scalar.
        let scalar = |x: ExprId| self.pool.shape(x).is_scalar();
        match *self.pool.node(id) {
            Node::Kron([a, b]) if scalar(a) || scalar(b) => {
                return Ok(Lowered::Ew(Ew::Mul(vec![self.ew(a)?, self.ew(b)?])));
            }
            Node::Vectorize(a) | Node::Unvec(a, _) if scalar(a) => {
                return Ok(Lowered::Ew(self.ew(a)?));
            }
            _ => {}
        }
        let op = match *self.pool.node(id) {
            Node::Kron([a, b]) => Op::Kron(self.operand(a)?, self.operand(b)?),
            Node::Vectorize(a) => Op::Vec(self.operand(a)?),
            Node::Unvec(a, rows) => Op::Unvec(self.operand(a)?, self.size(rows)?),
            Node::Commutation(m, n) => Op::Commutation(self.size(m)?, self.size(n)?),
            _ => unreachable!("not a node of this module"),
        };
        self.op(id, op)
    }
}
