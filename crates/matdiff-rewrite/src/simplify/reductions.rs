//! Reductions (sums, traces), entry counts and the inverse.

use matdiff_expr::{Dim, ExprError, ExprId, Fun, Func, Node, Reduce, Shape};

use super::Simplifier;

impl Simplifier<'_> {
    /// A reduction to a scalar, canonical: numbers and signs pulled out, traces of sums split,
    /// transposes dropped under `tr`, `det`, `logdet`, `sum` and norms.
    pub fn reduce(&mut self, r: Reduce, a: ExprId) -> Result<ExprId, ExprError> {
        if self.opaque.contains(&a) {
            return self.pool.intern(Node::Reduce(r, a));
        }
        if self.is_scalar(a) {
            return match r {
                Reduce::Trace
                | Reduce::Det
                | Reduce::Sum
                | Reduce::LogSumExp
                | Reduce::Max
                | Reduce::Min => Ok(a),
                Reduce::LogDet => self.apply(Fun::Builtin(Func::Log), 0, a),
                Reduce::LogAbsDet => {
                    let abs = self.apply(Fun::Builtin(Func::Abs), 0, a)?;
                    self.apply(Fun::Builtin(Func::Log), 0, abs)
                }
                Reduce::Norm1 | Reduce::Norm2 => self.apply(Fun::Builtin(Func::Abs), 0, a),
            };
        }
        let shape = self.shape(a);
        match (r, self.pool.node(a).clone()) {
            (Reduce::Trace | Reduce::Sum, Node::Add(xs)) => {
                let mut parts = Vec::with_capacity(xs.len());
                for &x in xs.iter() {
                    let part = self.reduce(r, x)?;
                    parts.push(if self.is_scalar(x) {
                        // A broadcast scalar stands in every entry: sum(c + E) = c*m*n + sum(E),
                        // tr(c + E) = c*n + tr(E).
                        let n = self.entries(r, shape)?;
                        self.mul(&[part, n])?
                    } else {
                        part
                    });
                }
                self.add(&parts)
            }
            (Reduce::Trace | Reduce::Sum, Node::Identity(d)) => self.count(d),
            (Reduce::Sum, _) if self.is_all_ones(a) => self.entries(r, shape),
            (Reduce::Trace | Reduce::Sum, Node::Neg(x)) => {
                let t = self.reduce(r, x)?;
                self.neg(t)
            }
            (Reduce::Norm1 | Reduce::Norm2, Node::Neg(x)) => self.reduce(r, x),
            (Reduce::Trace | Reduce::Sum, Node::Div([x, k])) => {
                let t = self.reduce(r, x)?;
                let inv = self.pow_scalar(k, -1.0)?;
                self.mul(&[t, inv])
            }
            (_, Node::Transpose(x)) => self.reduce(r, x),
            (Reduce::Trace | Reduce::Sum, Node::Mul(xs)) => {
                let (scal, mats): (Vec<ExprId>, Vec<ExprId>) =
                    xs.iter().partition(|&&x| self.is_scalar(x));
                if !scal.is_empty() {
                    let m = if mats.len() == 1 {
                        mats[0]
                    } else {
                        self.pool.intern(Node::Mul(mats.into()))?
                    };
                    let t = self.reduce(r, m)?;
                    let mut all = scal;
                    all.push(t);
                    return self.mul(&all);
                }
                if r == Reduce::Trace {
                    // tr(u*...) with a column vector u is a scalar product: rotate it.
                    if let Some(k) = (0..mats.len())
                        .find(|&k| self.shape(mats[k]).cols == Dim::ONE && k + 1 < mats.len())
                    {
                        let rotated: Vec<ExprId> =
                            mats[k + 1..].iter().chain(&mats[..=k]).copied().collect();
                        return self.mul(&rotated);
                    }
                }
                self.pool.intern(Node::Reduce(r, a))
            }
            _ => self.pool.intern(Node::Reduce(r, a)),
        }
    }

    /// The number of entries along a dimension: a number when it is known, else `ones'*ones`
    /// (printed `rows(A)` or `cols(A)` after a variable of that size).
    pub fn count(&mut self, d: Dim) -> Result<ExprId, ExprError> {
        if let Dim::Known(k) = d {
            return Ok(self.num(k as f64));
        }
        let ones = self.pool.intern(Node::Ones(d))?;
        let row = self.pool.intern(Node::Transpose(ones))?;
        self.pool.intern(Node::Mul([row, ones].into()))
    }

    /// The number of terms a reduction adds for a broadcast scalar: every entry of `shape` for
    /// `sum`, every diagonal entry for `tr`.
    pub(super) fn entries(&mut self, r: Reduce, shape: Shape) -> Result<ExprId, ExprError> {
        let rows = self.count(shape.rows)?;
        if r == Reduce::Trace {
            return Ok(rows);
        }
        let cols = self.count(shape.cols)?;
        self.mul(&[rows, cols])
    }

    /// `inv(a)`, canonical.
    pub fn inv(&mut self, a: ExprId) -> Result<ExprId, ExprError> {
        if self.is_scalar(a) {
            return self.pow_scalar(a, -1.0);
        }
        if self.opaque.contains(&a) {
            return self.pool.intern(Node::Inv(a));
        }
        match self.pool.node(a).clone() {
            Node::Inv(b) => Ok(b),
            Node::Identity(_) => Ok(a),
            // inv(X^k) = inv(X)^k, so that X*inv(X^2) folds to inv(X).
            Node::Pow([b, k]) if self.num_of(k).is_some_and(|v| v.fract() == 0.0) => {
                let ib = self.inv(b)?;
                self.pow(ib, k)
            }
            Node::Transpose(b) => {
                let i = self.inv(b)?;
                self.transpose(i)
            }
            Node::Neg(b) => {
                let i = self.inv(b)?;
                self.neg(i)
            }
            _ => self.pool.intern(Node::Inv(a)),
        }
    }
}
