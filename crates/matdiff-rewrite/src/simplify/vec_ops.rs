//! The canonical forms of `kron`, `vec`, `unvec` and the commutation matrix.

use matdiff_expr::{Dim, ExprError, ExprId, Node};

use crate::rules::RuleId;

use super::Simplifier;

impl Simplifier<'_> {
    /// `kron(a, b)`; a scalar factor scales (`kron(s, B) = s*B`) and the product of two
    /// identities is the identity of the product of their sizes.
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_rewrite::Simplifier;
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("kron(2, B)").unwrap().root;
    /// let s = Simplifier::new(&mut pool).simplify(e).unwrap();
    /// assert_eq!(pool.plain(s), "2*B");
    /// let e = pool.parse("kron(A, B)'").unwrap().root;
    /// let s = Simplifier::new(&mut pool).simplify(e).unwrap();
    /// assert_eq!(pool.plain(s), "kron(A', B')");
    /// let e = pool.parse("kron(eye(2), eye(3))").unwrap().root;
    /// let s = Simplifier::new(&mut pool).simplify(e).unwrap();
    /// assert_eq!(pool.plain(s), "eye(6)");
    /// ```
    pub fn kron(&mut self, a: ExprId, b: ExprId) -> Result<ExprId, ExprError> {
        if self.is_scalar(a) {
            return self.mul(&[a, b]);
        }
        if self.is_scalar(b) {
            return self.mul(&[b, a]);
        }
        if let (&Node::Identity(m), &Node::Identity(n)) = (self.pool.node(a), self.pool.node(b)) {
            let size = self.pool.dim_product(m, n);
            return self.pool.intern(Node::Identity(size));
        }
        let k = self.pool.intern(Node::Kron([a, b]))?;
        self.zero_if_of_zero(k, &[a, b])
    }

    /// The zero of `id`'s shape when one of `operands` is zero (`vec`, `unvec` and `kron` of a
    /// zero are zero), else `id`: the zero's `ones` then name their sizes, which a zero inside
    /// `vec(0*ones*ones')` cannot.
    fn zero_if_of_zero(&mut self, id: ExprId, operands: &[ExprId]) -> Result<ExprId, ExprError> {
        if operands.iter().any(|&x| self.is_zero(x)) {
            let shape = self.shape(id);
            return self.zero(shape);
        }
        Ok(id)
    }

    /// `vec(a)`; `vec(unvec(g, m))` is `g`, the vec of a column is the column and the vec of a
    /// row its transpose.
    pub fn vec(&mut self, a: ExprId) -> Result<ExprId, ExprError> {
        if let Node::Unvec(g, _) = *self.pool.node(a) {
            return Ok(g);
        }
        let sa = self.shape(a);
        if sa.cols == Dim::ONE {
            return Ok(a);
        }
        if sa.rows == Dim::ONE {
            return self.transpose(a);
        }
        let v = self.pool.intern(Node::Vectorize(a))?;
        self.zero_if_of_zero(v, &[a])
    }

    /// `unvec(g, rows)`; `unvec(s*vec(X), rows(X))` is `s*X`, `unvec(vec(r), cols(r))` of a
    /// row `r` is `r'`; `unvec(g, rows(g))` is `g` and `unvec(g, 1)` is `g'`.
    pub fn unvec(&mut self, g: ExprId, rows: Dim) -> Result<ExprId, ExprError> {
        if self.shape(g).rows == rows {
            return Ok(g);
        }
        if rows == Dim::ONE {
            return self.transpose(g);
        }
        let (mut scalars, v) = match self.pool.node(g) {
            Node::Mul(xs) => {
                let (s, m): (Vec<ExprId>, Vec<ExprId>) =
                    xs.iter().partition(|&&x| self.is_scalar(x));
                (s, if m.len() == 1 { m[0] } else { g })
            }
            _ => (Vec::new(), g),
        };
        if let Node::Vectorize(x) = *self.pool.node(v) {
            let sx = self.shape(x);
            if sx.rows == rows {
                scalars.push(x);
                return self.mul(&scalars);
            }
            // The vec of a row is its transpose.
            if sx.rows == Dim::ONE && sx.cols == rows {
                scalars.push(self.transpose(x)?);
                return self.mul(&scalars);
            }
        }
        if let Some(m) = self.unvec_kron_times_vec(v, rows)? {
            scalars.push(m);
            return self.mul(&scalars);
        }
        let u = self.pool.intern(Node::Unvec(g, rows))?;
        self.zero_if_of_zero(u, &[g])
    }

    /// `unvec(K*vec(V), rows)` with `K` a Kronecker product or a sum of them: `kron(L, R)*vec(V)`
    /// is `vec(R*V*L')` (`V` the matrix of `cols(R)` rows whose vec is `vec(X)`), so each term
    /// is `R*V*L'` when `R` has `rows` rows.
    fn unvec_kron_times_vec(&mut self, g: ExprId, rows: Dim) -> Result<Option<ExprId>, ExprError> {
        let Node::Mul(xs) = self.pool.node(g) else {
            return Ok(None);
        };
        let [k, v] = xs[..] else {
            return Ok(None);
        };
        // `vec(X)`, or a column, its own vec.
        let x = match *self.pool.node(v) {
            Node::Vectorize(x) => x,
            _ if self.shape(v).cols == Dim::ONE && !self.is_scalar(v) => v,
            _ => return Ok(None),
        };
        // commutation(m, n)*vec(X) = vec(X') for X of m x n.
        if let Node::Commutation(m, n) = *self.pool.node(k) {
            let sx = self.shape(x);
            if (sx.rows, sx.cols) == (m, n) && rows == n {
                return Ok(Some(self.transpose(x)?));
            }
            return Ok(None);
        }
        let terms: Vec<ExprId> = match self.pool.node(k) {
            Node::Add(ts) => ts.to_vec(),
            _ => vec![k],
        };
        let mut parts = Vec::with_capacity(terms.len());
        for t in terms {
            let (mut scalars, kron) = match self.pool.node(t) {
                Node::Mul(fs) => {
                    let (s, m): (Vec<ExprId>, Vec<ExprId>) =
                        fs.iter().partition(|&&f| self.is_scalar(f));
                    match m[..] {
                        [kron] => (s, kron),
                        _ => return Ok(None),
                    }
                }
                _ => (Vec::new(), t),
            };
            let Node::Kron([l, r]) = *self.pool.node(kron) else {
                return Ok(None);
            };
            if self.shape(r).rows != rows {
                return Ok(None);
            }
            // `V` is `vec(X)` as a matrix of `cols(R)` rows: `X` itself only when it has them
            // (`kron(x', W)*vec(A')` with `A'` a 1 x 2 row reads it as a 2 x 1 column).
            let cols_r = self.shape(r).cols;
            let v = if self.shape(x).rows == cols_r {
                x
            } else {
                self.unvec(v, cols_r)?
            };
            let lt = self.transpose(l)?;
            scalars.extend([r, v, lt]);
            parts.push(self.mul(&scalars)?);
        }
        Ok(Some(self.add(&parts)?))
    }

    /// The mixed product (rule V5) of two neighbouring factors: `kron(A, B)*kron(C, D)` is
    /// `kron(A*C, B*D)` when `A*C` and `B*D` are defined (not only their sizes' products).
    ///
    /// ```
    /// use matdiff_expr::{Decl, ExprPool};
    /// use matdiff_rewrite::Simplifier;
    /// let mut pool = ExprPool::new();
    /// let decls: Vec<Decl> = ["A: 2x3", "C: 3x2", "B: 4x5", "D: 5x4"]
    ///     .iter()
    ///     .map(|d| Decl::parse(d).unwrap())
    ///     .collect();
    /// let e = pool.parse_with("kron(A, B)*kron(C, D)", &decls).unwrap().root;
    /// let s = Simplifier::new(&mut pool).simplify(e).unwrap();
    /// assert_eq!(pool.plain(s), "kron(A*C, B*D)");
    /// ```
    pub(super) fn mixed_product(
        &mut self,
        a: ExprId,
        b: ExprId,
    ) -> Result<Option<ExprId>, ExprError> {
        let (&Node::Kron([p, q]), &Node::Kron([r, s])) = (self.pool.node(a), self.pool.node(b))
        else {
            return Ok(None);
        };
        if self.opaque.contains(&a) || self.opaque.contains(&b) {
            return Ok(None);
        }
        if self.shape(p).cols != self.shape(r).rows || self.shape(q).cols != self.shape(s).rows {
            return Ok(None);
        }
        let (pr, qs) = (self.mul(&[p, r])?, self.mul(&[q, s])?);
        self.applied.push(RuleId::V5);
        Ok(Some(self.kron(pr, qs)?))
    }

    /// The canonical form of a node of this module, its children canonical.
    pub(super) fn canon_vec_op(&mut self, node: Node) -> Result<ExprId, ExprError> {
        match node {
            Node::Kron([a, b]) => self.kron(a, b),
            Node::Vectorize(a) => self.vec(a),
            Node::Unvec(g, m) => self.unvec(g, m),
            other => self.pool.intern(other),
        }
    }

    /// The transpose of a node of this module: `kron(A, B)' = kron(A', B')`,
    /// `commutation(m, n)' = commutation(n, m)`; `None` for the others.
    pub(super) fn transpose_vec_op(&mut self, node: &Node) -> Option<Result<ExprId, ExprError>> {
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
