//! Sums: terms split into a coefficient and a core, like terms collected, common factors pulled out.

use matdiff_expr::{ExprError, ExprId, Node, Shape};
use smallvec::SmallVec;

use super::small_map::SmallMap;
use super::Simplifier;

impl Simplifier<'_> {
    /// Splits a canonical term into a number and the rest (`None` for a bare number).
    pub(super) fn split_coef(&mut self, id: ExprId) -> Result<(f64, Option<ExprId>), ExprError> {
        if self.opaque.contains(&id) {
            return Ok((1.0, Some(id)));
        }
        Ok(match self.pool.node(id).clone() {
            Node::Num(n) => (n.get(), None),
            Node::Neg(x) => {
                let (c, core) = self.split_coef(x)?;
                (-c, core)
            }
            Node::Mul(xs) => match self.num_of(xs[0]) {
                Some(c) if xs.len() == 2 => (c, Some(xs[1])),
                Some(c) => (c, Some(self.pool.intern(Node::Mul(xs[1..].into()))?)),
                None => (1.0, Some(id)),
            },
            Node::Div([a, s]) => {
                let (c, core) = self.split_coef(a)?;
                let num = match core {
                    Some(core) => core,
                    None => self.num(1.0),
                };
                (c, Some(self.pool.intern(Node::Div([num, s]))?))
            }
            _ => (1.0, Some(id)),
        })
    }

    /// A number times a core, canonical (`c == 0` gives the zero of `shape`).
    pub(super) fn build_term(
        &mut self,
        c: f64,
        core: Option<ExprId>,
        shape: Shape,
    ) -> Result<ExprId, ExprError> {
        let Some(core) = core else {
            return Ok(self.num(c));
        };
        if c == 0.0 {
            return self.zero(shape);
        }
        let body = if c.abs() == 1.0 {
            core
        } else {
            let k = self.num(c.abs());
            match self.pool.node(core).clone() {
                // The number goes into the numerator: 2*A/s, not 2*(A/s).
                Node::Div([a, s]) if !self.opaque.contains(&core) => {
                    let scaled = self.pool.intern(Node::Mul([k, a].into()))?;
                    self.pool.intern(Node::Div([scaled, s]))?
                }
                _ => self.pool.intern(Node::Mul([k, core].into()))?,
            }
        };
        if c < 0.0 {
            self.pool.intern(Node::Neg(body))
        } else {
            Ok(body)
        }
    }

    /// A sum, canonical: nested sums flattened, like terms collected, common factors pulled out.
    /// Scalars broadcast into a matrix sum keep its shape when the matrix terms cancel.
    pub fn add(&mut self, xs: &[ExprId]) -> Result<ExprId, ExprError> {
        // One term without a number to split off or a sum to splice is its own sum.
        if let &[x] = xs {
            let plain = match self.pool.node(x) {
                Node::Num(_) | Node::Neg(_) | Node::Div(_) | Node::Add(_) => false,
                Node::Mul(ys) => self.num_of(ys[0]).is_none(),
                _ => true,
            };
            if !self.is_zero(x) && (plain || self.opaque.contains(&x)) {
                return Ok(x);
            }
        }
        let sum = self.add_terms(xs)?;
        let shape = self.shape_of_sum(xs);
        if self.is_scalar(sum) && !shape.is_scalar() {
            let ones = self.all_ones(shape)?;
            return self.mul(&[sum, ones]);
        }
        Ok(sum)
    }

    /// The shape of a sum: that of its first non-scalar term.
    pub(super) fn shape_of_sum(&self, xs: &[ExprId]) -> Shape {
        xs.iter()
            .map(|&x| self.shape(x))
            .find(|s| !s.is_scalar())
            .unwrap_or(Shape::SCALAR)
    }

    pub(super) fn add_terms(&mut self, xs: &[ExprId]) -> Result<ExprId, ExprError> {
        let shape = self.shape_of_sum(xs);
        let mut coefs: SmallMap<Option<ExprId>, f64> = SmallMap::new();
        let mut stack: SmallVec<[(f64, ExprId); 8]> = xs.iter().rev().map(|&x| (1.0, x)).collect();
        while let Some((sign, x)) = stack.pop() {
            if self.is_zero(x) {
                continue;
            }
            let (c, core) = self.split_coef(x)?;
            if let Some(core) = core {
                // Nested sums are spliced in, unless a number multiplies them: 2*(a - y) stays.
                if let (Node::Add(ys), true) = (self.pool.node(core).clone(), c.abs() == 1.0) {
                    if !self.opaque.contains(&core) {
                        for &y in ys.iter().rev() {
                            stack.push((sign * c, y));
                        }
                        continue;
                    }
                }
            }
            *coefs.entry(core, || 0.0) += sign * c;
        }
        let mut terms: Vec<(f64, Option<ExprId>)> = Vec::new();
        for (core, c) in coefs.into_entries() {
            if c != 0.0 {
                terms.push((c, core));
            }
        }
        match terms.len() {
            0 => self.zero(shape),
            1 => {
                let (c, core) = terms[0];
                self.build_term(c, core, shape)
            }
            _ => {
                // A positive term leads: I - A rather than -A + I.
                if terms[0].0 < 0.0 {
                    if let Some(i) = terms.iter().position(|t| t.0 > 0.0) {
                        let first = terms.remove(i);
                        terms.insert(0, first);
                    }
                }
                // A number common to every term comes out: 0.5*A + 0.5*A' is 0.5*(A + A'), and
                // -2*A - 2*B is -2*(A + B); not where every term is a product that takes the
                // number in for free (2*X'*r + 2*lambda*w stays), unless all are negative.
                let same_sign = terms.iter().all(|t| t.0.signum() == terms[0].0.signum());
                let k = if same_sign {
                    terms[0].0
                } else {
                    terms[0].0.abs()
                };
                let absorbs = |s: &Self, core: ExprId| match s.pool.node(core) {
                    Node::Mul(_) => true,
                    Node::Div([a, _]) => matches!(s.pool.node(*a), Node::Mul(_)),
                    _ => false,
                };
                if (k.abs() != 1.0 || k == -1.0)
                    && terms.iter().all(|t| t.0.abs() == k.abs() && t.1.is_some())
                    && (k < 0.0 || !terms.iter().all(|t| absorbs(self, t.1.expect("a core"))))
                {
                    let unit = terms.iter().map(|&(c, core)| (c / k, core)).collect();
                    let sum = self.factor_sum(unit, shape)?;
                    return self.scale(k, sum);
                }
                self.factor_sum(terms, shape)
            }
        }
    }

    /// Builds a sum of collected terms, pulling out a matrix factor shared by the last (or
    /// first) places of several terms: `A*x + B*x` is `(A + B)*x`.
    pub(super) fn factor_sum(
        &mut self,
        terms: Vec<(f64, Option<ExprId>)>,
        shape: Shape,
    ) -> Result<ExprId, ExprError> {
        if let Some(sum) = self.sum_over_divisor(&terms, shape)? {
            return Ok(sum);
        }
        for last in [true, false] {
            let mut groups: SmallMap<ExprId, SmallVec<[usize; 4]>> = SmallMap::new();
            for (i, (_, core)) in terms.iter().enumerate() {
                let Some(core) = core else { continue };
                let Some(f) = self.end_factor(*core, last) else {
                    continue;
                };
                if matches!(self.pool.node(f), Node::Identity(_)) {
                    continue;
                }
                groups.entry(f, SmallVec::new).push(i);
            }
            // The other factors of each member, summed, times the shared one; when every member
            // has only scalars besides it, the sum is a scalar: (alpha + beta)*F. A quotient is
            // not factored where that would take an identity: a/s - b*c*a/t stays, rather than
            // (I/s - b*c/t)*a.
            let mut chosen = None;
            for (f, members) in groups.into_entries().filter(|g| g.1.len() >= 2) {
                let rests: Vec<Vec<ExprId>> = members
                    .iter()
                    .map(|&i| {
                        self.without_end(terms[i].1.expect("grouped terms have cores"), f, last)
                    })
                    .collect::<Result<_, _>>()?;
                let scalar_rest = |s: &Self, r: &[ExprId]| s.product_is_scalar(r);
                let all_scalar = rests.iter().all(|r| scalar_rest(self, r));
                let padded = !all_scalar && rests.iter().any(|r| scalar_rest(self, r));
                let quotient = members
                    .iter()
                    .any(|&i| matches!(self.pool.node(terms[i].1.expect("a core")), Node::Div(_)));
                if !(padded && quotient) {
                    chosen = Some((f, members, rests, all_scalar));
                    break;
                }
            }
            let Some((f, members, rests, all_scalar)) = chosen else {
                continue;
            };
            let fs = self.shape(f);
            let eye_dim = if last { fs.rows } else { fs.cols };
            let mut inner = Vec::new();
            for (&i, rest) in members.iter().zip(rests) {
                let mut factors = rest;
                if !all_scalar && self.product_is_scalar(&factors) {
                    factors.push(self.pool.intern(Node::Identity(eye_dim))?);
                }
                let num = self.num(terms[i].0);
                factors.insert(0, num);
                inner.push(self.mul(&factors)?);
            }
            let sum = self.add(&inner)?;
            let factored = if last {
                self.mul(&[sum, f])?
            } else {
                self.mul(&[f, sum])?
            };
            let mut out = vec![factored];
            let mut grouped = vec![false; terms.len()];
            for &i in &members {
                grouped[i] = true;
            }
            for (i, &(c, core)) in terms.iter().enumerate() {
                if !grouped[i] {
                    out.push(self.build_term(c, core, shape)?);
                }
            }
            return if out.len() == 1 {
                Ok(out[0])
            } else {
                self.pool.intern(Node::Add(out.into()))
            };
        }
        let mut out = Vec::with_capacity(terms.len());
        for (c, core) in terms {
            out.push(self.build_term(c, core, shape)?);
        }
        self.pool.intern(Node::Add(out.into()))
    }

    /// Terms divided by the same scalar summed over it: `a/s + b/s - c` is `(a + b)/s - c`, so
    /// that their numerators can share factors in turn. `None` when no two terms share a divisor.
    pub(super) fn sum_over_divisor(
        &mut self,
        terms: &[(f64, Option<ExprId>)],
        shape: Shape,
    ) -> Result<Option<ExprId>, ExprError> {
        let divisor = |id: Option<ExprId>, me: &Self| match id.map(|id| (id, me.pool.node(id))) {
            Some((id, Node::Div([a, s]))) if !me.opaque.contains(&id) => Some((*a, *s)),
            _ => None,
        };
        let Some(shared) = terms.iter().enumerate().find_map(|(i, t)| {
            let (_, s) = divisor(t.1, self)?;
            terms[i + 1..]
                .iter()
                .any(|u| divisor(u.1, self).is_some_and(|(_, z)| z == s))
                .then_some(s)
        }) else {
            return Ok(None);
        };
        let mut over = Vec::new();
        let mut out = Vec::new();
        for &(c, core) in terms {
            match divisor(core, self) {
                Some((a, s)) if s == shared => {
                    let num = self.num(c);
                    over.push(self.mul(&[num, a])?);
                }
                _ => out.push(self.build_term(c, core, shape)?),
            }
        }
        let numerator = self.add(&over)?;
        let inverse = self.pow_scalar(shared, -1.0)?;
        out.insert(0, self.mul(&[numerator, inverse])?);
        self.add(&out).map(Some)
    }

    /// Whether the product of `factors` is 1x1 (a scalar, or a chain such as `y'*A*x`); an
    /// empty product is the number 1.
    pub(super) fn product_is_scalar(&self, factors: &[ExprId]) -> bool {
        let mut shape = Shape::SCALAR;
        for &x in factors {
            let s = self.shape(x);
            if s.is_scalar() {
                continue;
            }
            shape = if shape.is_scalar() {
                s
            } else {
                match matdiff_expr::mul_shape(shape, s) {
                    Some(p) => p,
                    None => return false,
                }
            };
        }
        shape.is_scalar()
    }

    /// The last (or first) non-scalar factor of a product, or the node itself when it is a
    /// non-scalar matrix that is not a product.
    pub(super) fn end_factor(&self, core: ExprId, last: bool) -> Option<ExprId> {
        if self.is_scalar(core) {
            return None;
        }
        match self.pool.node(core) {
            Node::Mul(xs) if !self.opaque.contains(&core) => {
                let mut it = xs.iter().copied().filter(|&x| !self.is_scalar(x));
                if last {
                    it.next_back()
                } else {
                    it.next()
                }
            }
            // The end of a quotient's numerator: (A*x)/s ends in x.
            Node::Div([a, _]) if !self.opaque.contains(&core) => self.end_factor(*a, last),
            Node::Add(_) | Node::Neg(_) | Node::Div(_) => None,
            _ => Some(core),
        }
    }

    /// The factors of a product without its last (or first) non-scalar factor `f`.
    pub(super) fn without_end(
        &mut self,
        core: ExprId,
        f: ExprId,
        last: bool,
    ) -> Result<Vec<ExprId>, ExprError> {
        if core == f {
            return Ok(Vec::new());
        }
        let xs = match self.pool.node(core).clone() {
            Node::Div([a, s]) => {
                let mut rest = self.without_end(a, f, last)?;
                rest.push(self.pow_scalar(s, -1.0)?);
                return Ok(rest);
            }
            Node::Mul(xs) => xs,
            _ => return Ok(Vec::new()),
        };
        let pos = if last {
            xs.iter().rposition(|&x| x == f)
        } else {
            xs.iter().position(|&x| x == f)
        }
        .expect("the factor is in the product");
        Ok(xs
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != pos)
            .map(|(_, &x)| x)
            .collect())
    }
}
