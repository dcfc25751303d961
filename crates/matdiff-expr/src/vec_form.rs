//! The data of a Kronecker (vec) form: a sum of [`VecTerm`]s, each a scale times a product of
//! [`VecFactor`]s whose matrices are expressions of the pool. matdiff-rewrite reads forms off
//! (the algebra lives there); matdiff-faer evaluates them densely.

use crate::node::{Dim, ExprId};

/// One factor of a vec-form linear map, a matrix acting on `vec(M)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VecFactor {
    /// `left ⊗ right`: maps `vec(M)` to `vec(right*M*left')`.
    Kron {
        /// The left factor (`B'` in `vec(A*M*B)`).
        left: ExprId,
        /// The right factor (`A` in `vec(A*M*B)`).
        right: ExprId,
    },
    /// `diag(vec(P))`: maps `vec(M)` to `vec(P .* M)`.
    DiagVec(ExprId),
    /// `vec(col)*vec(row)'`: maps `vec(M)` to `vec(col)*tr(row'*M)`, the matrix of a scalar
    /// linear form times a matrix.
    Outer {
        /// The matrix the form scales.
        col: ExprId,
        /// The gradient of the form.
        row: ExprId,
    },
    /// The commutation matrix `commutation(rows, cols)`: maps `vec(M)` to `vec(M')` for `M` of
    /// `rows` x `cols`.
    Commutation {
        /// Rows of the matrix it transposes.
        rows: Dim,
        /// Columns of the matrix it transposes.
        cols: Dim,
    },
}

/// One term of a vec form: `scale` times the product of `factors`, left to right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VecTerm {
    /// A scalar expression.
    pub scale: ExprId,
    /// The factors, left to right; never empty.
    pub factors: Vec<VecFactor>,
}

impl VecFactor {
    /// The expressions of the factor's matrices, in the order they appear (none for a
    /// commutation matrix, which only has sizes).
    ///
    /// ```
    /// use matdiff_expr::{ExprPool, VecFactor};
    /// let mut pool = ExprPool::new();
    /// let (a, b) = (pool.parse("A").unwrap().root, pool.parse("B").unwrap().root);
    /// assert_eq!(VecFactor::Kron { left: a, right: b }.matrices(), vec![a, b]);
    /// ```
    pub fn matrices(&self) -> Vec<ExprId> {
        match *self {
            VecFactor::Kron { left, right } => vec![left, right],
            VecFactor::DiagVec(p) => vec![p],
            VecFactor::Outer { col, row } => vec![col, row],
            VecFactor::Commutation { .. } => Vec::new(),
        }
    }
}
