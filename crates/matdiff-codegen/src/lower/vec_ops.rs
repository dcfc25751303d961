//! `kron`, `vec`, `unvec` and the commutation matrix in generated code.

use matdiff_expr::{ExprId, Node};

use super::{Lowered, Lowering, Op};
use crate::CodegenError;

impl Lowering<'_> {
    /// The operation of a node of this module.
    pub(super) fn vec_op(&mut self, id: ExprId) -> Result<Lowered, CodegenError> {
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
