//! `tril` and `triu` in canonical form (the triangle of a triangle, of a diagonal matrix and of
//! a scalar are simpler expressions), and the triangle of a triangular variable.

use matdiff_expr::{Dim, ExprError, ExprId, Node, Structure, Triangle};

use crate::simplify::Simplifier;

/// `tril(a)` or `triu(a)` for a canonical `a`, canonical.
pub(crate) fn tri(s: &mut Simplifier, t: Triangle, a: ExprId) -> Result<ExprId, ExprError> {
    let shape = s.pool.shape(a);
    if shape.is_scalar() {
        return Ok(a);
    }
    match *s.pool.node(a) {
        Node::Tri(u, _) if u == t => Ok(a),
        // The lower triangle of the upper one is the diagonal.
        Node::Tri(_, b) => {
            let eye = s.pool.intern(Node::Identity(shape.rows))?;
            s.hadamard(&[eye, b], &[])
        }
        Node::Identity(_) => Ok(a),
        Node::Diag(v) if s.pool.shape(v).cols == Dim::ONE => Ok(a),
        Node::Hadamard(ref xs)
            if xs
                .iter()
                .any(|&x| matches!(s.pool.node(x), Node::Identity(_))) =>
        {
            Ok(a)
        }
        Node::Neg(b) => {
            let b = tri(s, t, b)?;
            s.neg(b)
        }
        // Scalar factors come out: tril(c*A) = c*tril(A).
        Node::Mul(ref xs) if xs.iter().filter(|&&x| !s.pool.shape(x).is_scalar()).count() == 1 => {
            let xs = xs.clone();
            let mut factors = Vec::with_capacity(xs.len());
            for &x in xs.iter() {
                factors.push(if s.pool.shape(x).is_scalar() {
                    x
                } else {
                    tri(s, t, x)?
                });
            }
            s.mul(&factors)
        }
        _ => s.pool.intern(Node::Tri(t, a)),
    }
}

/// The triangle a variable of this structure is declared to be (`lower`, `upper`), if any.
pub(crate) fn of_structure(structure: Structure) -> Option<Triangle> {
    match structure {
        Structure::Lower => Some(Triangle::Lower),
        Structure::Upper => Some(Triangle::Upper),
        _ => None,
    }
}
