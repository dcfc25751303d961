//! The canonical forms of `kron`, `vec`, `unvec` and the commutation matrix.

use matdiff_expr::{Dim, ExprId, Node};

use super::{Simplifier, R};

impl Simplifier<'_> {
    /// `kron(a, b)`; a scalar factor scales (`kron(s, B) = s*B`).
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_rewrite::Simplifier;
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("kron(2, B) + kron(A, B)'").unwrap().root;
    /// let s = Simplifier::new(&mut pool).simplify(e).unwrap();
    /// assert_eq!(pool.plain(s), "2*B + kron(A', B')");
    /// ```
    pub fn kron(&mut self, a: ExprId, b: ExprId) -> R {
        if self.is_scalar(a) {
            return self.mul(&[a, b]);
        }
        if self.is_scalar(b) {
            return self.mul(&[b, a]);
        }
        self.pool.intern(Node::Kron([a, b]))
    }

    /// `vec(a)`; `vec(unvec(g, m))` is `g`.
    pub fn vec(&mut self, a: ExprId) -> R {
        if let Node::Unvec(g, _) = *self.pool.node(a) {
            return Ok(g);
        }
        self.pool.intern(Node::Vectorize(a))
    }

    /// `unvec(g, rows)`; `unvec(vec(X), rows(X))` is `X`.
    pub fn unvec(&mut self, g: ExprId, rows: Dim) -> R {
        if let Node::Vectorize(x) = *self.pool.node(g) {
            if self.shape(x).rows == rows {
                return Ok(x);
            }
        }
        self.pool.intern(Node::Unvec(g, rows))
    }

    /// The canonical form of a node of this module, its children canonical.
    pub(super) fn canon_vec_op(&mut self, node: Node) -> R {
        match node {
            Node::Kron([a, b]) => self.kron(a, b),
            Node::Vectorize(a) => self.vec(a),
            Node::Unvec(g, m) => self.unvec(g, m),
            other => self.pool.intern(other),
        }
    }

    /// The transpose of a node of this module: `kron(A, B)' = kron(A', B')`,
    /// `commutation(m, n)' = commutation(n, m)`; `None` for the others.
    pub(super) fn transpose_vec_op(&mut self, node: &Node) -> Option<R> {
        Some(match *node {
            Node::Kron([a, b]) => (|| {
                let (a, b) = (self.transpose(a)?, self.transpose(b)?);
                self.kron(a, b)
            })(),
            Node::Commutation(m, n) => self.pool.intern(Node::Commutation(n, m)),
            _ => return None,
        })
    }
}
