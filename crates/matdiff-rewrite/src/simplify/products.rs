//! Products: factors flattened, scalars grouped in front, powers merged, inner products cancelled.

use matdiff_expr::{Dim, ExprError, ExprId, Fun, Func, Ids, Node, Num, Reduce};

use smallvec::{smallvec, SmallVec};

use super::Simplifier;

impl Simplifier<'_> {
    /// A product, canonical: numbers multiplied into one coefficient in front, scalar factors
    /// next (powers combined, sorted), identities dropped, equal neighbours made powers.
    pub fn mul(&mut self, xs: &[ExprId]) -> Result<ExprId, ExprError> {
        // One factor that is no number, sign, product, quotient, or scalar power or function
        // (which the loop below takes apart) is its own product.
        if let &[x] = xs {
            let kept = match self.pool.node(x) {
                Node::Num(_) => false,
                Node::Neg(_) | Node::Mul(_) | Node::Div(_) => self.opaque.contains(&x),
                Node::Pow(_) | Node::Apply { .. } => !self.is_scalar(x) || self.opaque.contains(&x),
                _ => true,
            };
            if kept {
                return Ok(x);
            }
        }
        let mut shape = self.shape(xs[0]);
        for &x in &xs[1..] {
            let s = self.shape(x);
            shape = matdiff_expr::mul_shape(shape, s).ok_or_else(|| ExprError::InnerMismatch {
                left: self.pool.shape_str(shape),
                right: self.pool.shape_str(s),
                inner_left: self.pool.dim_str(shape.cols),
                inner_right: self.pool.dim_str(s.rows),
            })?;
        }
        let mut coef = 1.0;
        let mut scalars: SmallVec<[(ExprId, f64); 4]> = SmallVec::new();
        let mut matrices: SmallVec<[ExprId; 8]> = SmallVec::with_capacity(xs.len());
        let mut stack: SmallVec<[(ExprId, f64); 8]> = xs.iter().rev().map(|&x| (x, 1.0)).collect();
        let mut identity = None;
        while let Some((x, e)) = stack.pop() {
            let opaque = self.opaque.contains(&x);
            let node = self.pool.node(x).clone();
            if self.is_scalar(x) {
                // Signs and negative numbers come out only under integer powers.
                let integer = e.fract() == 0.0;
                match node {
                    Node::Num(n) if integer || n.get() > 0.0 => coef *= n.get().powf(e),
                    Node::Neg(y) if !opaque && integer => {
                        coef *= (-1.0f64).powf(e);
                        stack.push((y, e));
                    }
                    Node::Mul(ys) if !opaque && ys.iter().all(|&y| self.is_scalar(y)) => {
                        stack.extend(ys.iter().rev().map(|&y| (y, e)));
                    }
                    Node::Div([a, s]) if !opaque => {
                        stack.push((s, -e));
                        stack.push((a, e));
                    }
                    Node::Pow([b, k]) if !opaque && self.num_of(k).is_some() => {
                        let k = self.num_of(k).expect("a number");
                        stack.push((b, e * k));
                    }
                    // sqrt(s) is s^0.5, so that det(X)/sqrt(det(X)) is sqrt(det(X)).
                    Node::Apply {
                        fun: Fun::Builtin(Func::Sqrt),
                        order: 0,
                        arg,
                    } if !opaque => stack.push((arg, e * 0.5)),
                    _ => match scalars.iter_mut().find(|s| s.0 == x) {
                        Some(s) => s.1 += e,
                        None => scalars.push((x, e)),
                    },
                }
                continue;
            }
            match node {
                Node::Neg(y) if !opaque => {
                    coef = -coef;
                    stack.push((y, e));
                }
                Node::Mul(ys) if !opaque => {
                    let ys = self.group_scalar_prefix(&ys)?;
                    stack.extend(ys.iter().rev().map(|&y| (y, e)))
                }
                Node::Div([a, s]) if !opaque => {
                    stack.push((s, -e));
                    stack.push((a, e));
                }
                Node::Identity(_) => identity = Some(x),
                _ => {
                    // Equal neighbours become a power; an inverse next to its matrix cancels.
                    if let Some(&prev) = matrices.last() {
                        if let Some(merged) = self.merge_factors(prev, x)? {
                            matrices.pop();
                            if let Some(m) = merged {
                                matrices.push(m);
                            }
                            continue;
                        }
                    }
                    matrices.push(x);
                }
            }
        }
        if coef == 0.0 {
            return self.zero(shape);
        }
        scalars.retain(|s| s.1 != 0.0);
        let idx = self.sort_order(scalars.iter().map(|s| s.0));
        let mut factors: SmallVec<[ExprId; 8]> = SmallVec::new();
        if coef.abs() != 1.0 {
            factors.push(self.num(coef.abs()));
        }
        let mut dens: SmallVec<[ExprId; 4]> = SmallVec::new();
        for i in idx {
            let (s, e) = scalars[i];
            let f = self.pow_scalar(s, e.abs())?;
            if e > 0.0 {
                factors.push(f);
            } else {
                dens.push(f);
            }
        }
        if matrices.is_empty() && !shape.is_scalar() {
            // Only identities (times scalars) were left.
            matrices.push(match identity {
                Some(i) => i,
                None => self.pool.intern(Node::Identity(shape.rows))?,
            });
        }
        // An inner product whose element-wise product cancels is a sum: (y ./ t)'*t is sum(y).
        if shape.is_scalar() && matrices.len() == 2 {
            if let Some(sum) = self.cancelled_inner_product(matrices[0], matrices[1])? {
                matrices = smallvec![sum];
            }
        }
        // ones'*M*ones is sum(M).
        if shape.is_scalar() && matrices.len() >= 3 {
            let first_ones_t = matches!(self.pool.node(matrices[0]), Node::Transpose(o) if matches!(self.pool.node(*o), Node::Ones(_)));
            let last_ones = matches!(self.pool.node(matrices[matrices.len() - 1]), Node::Ones(_));
            if first_ones_t && last_ones {
                let inner = &matrices[1..matrices.len() - 1];
                let m = if inner.len() == 1 {
                    inner[0]
                } else {
                    self.pool.intern(Node::Mul(inner.into()))?
                };
                matrices = smallvec![self.pool.intern(Node::Reduce(Reduce::Sum, m))?];
            }
        }
        factors.extend_from_slice(&matrices);
        let mut body = match factors.len() {
            0 => self.num(1.0),
            1 => factors[0],
            _ => self.pool.intern(Node::Mul(Ids::from(&factors[..])))?,
        };
        if !dens.is_empty() {
            let den = if dens.len() == 1 {
                dens[0]
            } else {
                self.pool.intern(Node::Mul(Ids::from(&dens[..])))?
            };
            body = self.pool.intern(Node::Div([body, den]))?;
        }
        if coef < 0.0 {
            body = self.pool.intern(Node::Neg(body))?;
        }
        Ok(body)
    }

    /// `sum(p .* q)` for the inner product `p'*q` of column vectors when their element-wise
    /// product has fewer factors than `p` and `q` together (a quotient cancelled), else `None`.
    pub(super) fn cancelled_inner_product(
        &mut self,
        left: ExprId,
        q: ExprId,
    ) -> Result<Option<ExprId>, ExprError> {
        let column = |s: &Self, x: ExprId| s.shape(x).cols == Dim::ONE && !s.is_scalar(x);
        let row = self.shape(left).rows == Dim::ONE && !self.is_scalar(left);
        if !(row && column(self, q)) || self.opaque.contains(&left) {
            return Ok(None);
        }
        let p = self.transpose(left)?;
        if self.is_all_ones(p) || self.is_all_ones(q) {
            return Ok(None);
        }
        // Factors that `hadamard` keeps as they are cancel nothing.
        let mut factors: SmallVec<[ExprId; 8]> = SmallVec::new();
        for x in [p, q] {
            match self.pool.node(x) {
                Node::Hadamard(ys) if !self.opaque.contains(&x) => factors.extend_from_slice(ys),
                _ => factors.push(x),
            }
        }
        if self.plain_factors(&factors) {
            return Ok(None);
        }
        // Factors counted with their powers: x .* x = x.^2 cancels nothing.
        let count = |s: &Self, x: ExprId| -> f64 {
            let mut stack = vec![(x, 1.0)];
            let mut n = 0.0;
            while let Some((y, e)) = stack.pop() {
                let opaque = s.opaque.contains(&y);
                match s.pool.node(y) {
                    Node::Hadamard(ys) if !opaque => stack.extend(ys.iter().map(|&y| (y, e))),
                    Node::HDiv(ab) if !opaque => stack.extend(ab.iter().map(|&y| (y, e))),
                    Node::HPow([b, c]) if !opaque && s.num_of(*c).is_some() => {
                        stack.push((*b, e * s.num_of(*c).expect("a number").abs()))
                    }
                    _ => n += e,
                }
            }
            n
        };
        let product = self.hadamard(&[p, q], &[])?;
        if count(self, product) >= count(self, p) + count(self, q) {
            return Ok(None);
        }
        Ok(Some(self.pool.intern(Node::Reduce(Reduce::Sum, product))?))
    }

    /// The factors of a product with a leading run whose product is a scalar that scales the rest
    /// (`a'*b` in `a'*b*X`, as the parser writes it) made one factor of its own.
    pub(crate) fn group_scalar_prefix(&mut self, fs: &[ExprId]) -> Result<Ids, ExprError> {
        let mut acc = self.shape(fs[0]);
        for (k, &x) in fs.iter().enumerate().skip(1) {
            let s = self.shape(x);
            if acc.is_scalar() && k >= 2 && s.rows != Dim::ONE {
                let head = self.pool.intern(Node::Mul(fs[..k].into()))?;
                return Ok(std::iter::once(head)
                    .chain(fs[k..].iter().copied())
                    .collect());
            }
            match matdiff_expr::mul_shape(acc, s) {
                Some(next) => acc = next,
                None => break,
            }
        }
        Ok(fs.into())
    }

    /// `a*b` for neighbouring factors when it folds: `X*X = X^2`, `X^j*X^k = X^(j+k)`,
    /// `inv(X)*X = I` (`Some(None)`: both vanish). `None` when nothing folds.
    pub(super) fn merge_factors(
        &mut self,
        a: ExprId,
        b: ExprId,
    ) -> Result<Option<Option<ExprId>>, ExprError> {
        if let Some(m) = self.mixed_product(a, b)? {
            return Ok(Some(Some(m)));
        }
        let (ba, ka) = self.power_parts(a);
        let (bb, kb) = self.power_parts(b);
        if ba == bb && self.shape(ba).is_square() {
            let k = ka + kb;
            if k == 0 {
                return Ok(Some(None));
            }
            let kk = self.num(k as f64);
            return Ok(Some(Some(self.pow(ba, kk)?)));
        }
        Ok(None)
    }

    /// A factor as base and integer power: `X^3` is (X, 3), `inv(X)` is (X, -1), `X` is (X, 1).
    pub(super) fn power_parts(&mut self, x: ExprId) -> (ExprId, i64) {
        // Only powers, inverses and transposes can have parts; most factors are none of them.
        let kind = self.pool.node(x);
        if !matches!(kind, Node::Pow(_) | Node::Inv(_) | Node::Transpose(_))
            || self.opaque.contains(&x)
        {
            return (x, 1);
        }
        // inv(X)' is X'^-1, so that it folds with X'.
        if let Node::Transpose(t) = *self.pool.node(x) {
            if let Node::Inv(c) = *self.pool.node(t) {
                if let Ok(ct) = self.pool.intern(Node::Transpose(c)) {
                    return (ct, -1);
                }
            }
        }
        if let Node::Pow([b, k]) = *self.pool.node(x) {
            if let (Node::Transpose(t), Some(k)) = (
                self.pool.node(b),
                self.num_of(k).and_then(|v| Num::new(v)?.as_integer()),
            ) {
                if let Node::Inv(c) = *self.pool.node(*t) {
                    if let Ok(ct) = self.pool.intern(Node::Transpose(c)) {
                        return (ct, -k);
                    }
                }
            }
        }
        match self.pool.node(x) {
            Node::Pow([b, k]) => match self.num_of(*k).and_then(|v| Num::new(v)?.as_integer()) {
                Some(k) => match self.pool.node(*b) {
                    Node::Inv(c) if !self.opaque.contains(b) => (*c, -k),
                    _ => (*b, k),
                },
                None => (x, 1),
            },
            Node::Inv(c) => (*c, -1),
            _ => (x, 1),
        }
    }

    /// The order of scalar factors and of element-wise factors (indices into `ids`): by rank
    /// (numbers, names, transposed names, powers, the rest), then by the start of the plain form
    /// (in time bounded by its length, so deep expressions sort in linear time), then by id. Only
    /// factors that share their rank and the first byte of their plain form are printed:
    /// printing is the costly part.
    pub(super) fn sort_order(
        &mut self,
        ids: impl ExactSizeIterator<Item = ExprId>,
    ) -> SmallVec<[usize; 4]> {
        let mut idx: SmallVec<[usize; 4]> = (0..ids.len()).collect();
        if idx.len() < 2 {
            return idx;
        }
        let ranks: SmallVec<[(u8, ExprId); 4]> = ids.map(|id| (self.rank(id), id)).collect();
        let pool = &*self.pool;
        // The first byte of each plain form, used where every factor of the same rank has one
        // (else none of them is, and all of them are printed).
        let shares = |rank: u8| ranks.iter().filter(|r| r.0 == rank).nth(1).is_some();
        let bytes: SmallVec<[Option<u8>; 4]> = ranks
            .iter()
            .map(|r| shares(r.0).then(|| pool.plain_first_byte(r.1)).flatten())
            .collect();
        let firsts: SmallVec<[Option<u8>; 4]> = ranks
            .iter()
            .zip(&bytes)
            .map(|(&(rank, _), &byte)| {
                let known = ranks
                    .iter()
                    .zip(&bytes)
                    .all(|(r, b)| r.0 != rank || b.is_some());
                byte.filter(|_| known)
            })
            .collect();
        // Rank, that first byte, the printed start when another factor shares both, id.
        type Key = (u8, Option<u8>, Option<std::sync::Arc<str>>, ExprId);
        let mut keys: SmallVec<[Key; 4]> = SmallVec::with_capacity(ranks.len());
        for (i, &(rank, id)) in ranks.iter().enumerate() {
            let shared = ranks
                .iter()
                .zip(&firsts)
                .filter(|(r, f)| r.0 == rank && **f == firsts[i])
                .count()
                > 1;
            let text = shared.then(|| {
                self.sort_keys
                    .entry(id)
                    .or_insert_with(|| pool.plain_prefix(id, 96).into())
                    .clone()
            });
            keys.push((rank, firsts[i], text, id));
        }
        idx.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        idx
    }

    fn rank(&self, id: ExprId) -> u8 {
        match self.pool.node(id) {
            Node::Num(_) => 0,
            Node::Var(_) => 1,
            Node::Transpose(x) if matches!(self.pool.node(*x), Node::Var(_)) => 2,
            Node::Pow(_) => 3,
            _ => 4,
        }
    }
}
