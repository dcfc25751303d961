//! The simplifier: a canonical form (transposes at the leaves, scalars in front, like terms
//! collected, common factors pulled out) and then a presentation pass that moves transposes to
//! where they shorten the result.

use matdiff_expr::{FxHashMap as HashMap, FxHashSet as HashSet};

use matdiff_expr::{Dim, ExprError, ExprId, ExprPool, Fun, Func, Node, Num, Reduce, Shape};

use crate::rules::RuleId;

type R = Result<ExprId, ExprError>;

/// Simplifies expressions of one pool. Nodes listed as opaque (named bindings) are kept as they
/// are, so that results can refer to them by name.
pub struct Simplifier<'p> {
    pub(crate) pool: &'p mut ExprPool,
    memo: HashMap<ExprId, ExprId>,
    present_memo: HashMap<ExprId, Forms>,
    opaque: HashSet<ExprId>,
    /// The printed prefixes that order factors (`sort_key`), by id: printing is the costly part.
    sort_keys: HashMap<ExprId, std::sync::Arc<str>>,
    /// Ids of the function identities applied since last taken (F1, F2).
    pub(crate) applied: Vec<RuleId>,
}

impl<'p> Simplifier<'p> {
    /// A simplifier of `pool`.
    pub fn new(pool: &'p mut ExprPool) -> Simplifier<'p> {
        Simplifier {
            pool,
            memo: HashMap::default(),
            present_memo: HashMap::default(),
            opaque: HashSet::default(),
            sort_keys: HashMap::default(),
            applied: Vec::new(),
        }
    }

    /// Keeps these nodes as they are (they are printed by name).
    pub fn set_opaque(&mut self, ids: impl IntoIterator<Item = ExprId>) {
        self.opaque.extend(ids);
    }

    /// The compact form of an expression: canonical, then transposes placed where they are
    /// fewest.
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_rewrite::Simplifier;
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("(a*b')' + 0*X' + ((X*X)')'*I + X'' - X*X").unwrap().root;
    /// let s = Simplifier::new(&mut pool).simplify(e).unwrap();
    /// assert_eq!(pool.plain(s), "b*a' + X");
    /// ```
    pub fn simplify(&mut self, id: ExprId) -> R {
        let c = self.canon(id)?;
        self.present(c)
    }

    /// The canonical form (transposes pushed to the leaves).
    pub fn canon(&mut self, id: ExprId) -> R {
        if let Some(&r) = self.memo.get(&id) {
            return Ok(r);
        }
        if self.opaque.contains(&id) {
            return Ok(id);
        }
        let node = self.pool.node(id).clone();
        let r = match node {
            Node::Var(_) | Node::Num(_) | Node::Identity(_) | Node::Ones(_) => id,
            Node::Neg(a) => {
                let a = self.canon(a)?;
                self.scale(-1.0, a)?
            }
            Node::Transpose(a) => {
                let a = self.canon(a)?;
                self.transpose(a)?
            }
            Node::Add(xs) => {
                let xs = self.canon_all(&xs)?;
                self.add(&xs)?
            }
            Node::Mul(xs) => {
                let xs = self.canon_all(&xs)?;
                self.mul(&xs)?
            }
            Node::Hadamard(xs) => {
                let xs = self.canon_all(&xs)?;
                self.hadamard(&xs, &[])?
            }
            Node::Div([a, s]) => {
                let (a, s) = (self.canon(a)?, self.canon(s)?);
                let inv = self.pow_scalar(s, -1.0)?;
                self.mul(&[a, inv])?
            }
            Node::HDiv([a, b]) => {
                let (a, b) = (self.canon(a)?, self.canon(b)?);
                self.hdiv(a, b)?
            }
            Node::Pow([a, k]) => {
                let (a, k) = (self.canon(a)?, self.canon(k)?);
                self.pow(a, k)?
            }
            Node::HPow([a, c]) => {
                let (a, c) = (self.canon(a)?, self.canon(c)?);
                self.hpow(a, c)?
            }
            Node::Apply { fun, order, arg } => {
                let arg = self.canon(arg)?;
                self.apply(fun, order, arg)?
            }
            Node::Reduce(r, a) => {
                let a = self.canon(a)?;
                self.reduce(r, a)?
            }
            Node::Inv(a) => {
                let a = self.canon(a)?;
                self.inv(a)?
            }
            Node::Diag(a) => {
                let mut a = self.canon(a)?;
                // A square matrix and its transpose have the same diagonal: diag(A') is diag(A).
                if self.shape(a).is_square() && !self.shape(a).is_scalar() {
                    let t = self.transpose(a)?;
                    if self.transposes(t) < self.transposes(a) {
                        a = t;
                    }
                }
                match *self.pool.node(a) {
                    // diag(ones) is the identity.
                    Node::Ones(n) => self.pool.intern(Node::Identity(n))?,
                    _ => self.pool.intern(Node::Diag(a))?,
                }
            }
            Node::Tri(t, a) => {
                let a = self.canon(a)?;
                crate::triangle::tri(self, t, a)?
            }
            Node::LogSumExpCols(a) => {
                let a = self.canon(a)?;
                self.pool.intern(Node::LogSumExpCols(a))?
            }
        };
        self.memo.insert(id, r);
        self.memo.insert(r, r);
        Ok(r)
    }

    /// The number of distinct transposed nodes in `id`.
    fn transposes(&self, id: ExprId) -> usize {
        let mut stack = vec![id];
        let mut seen = HashSet::default();
        let mut n = 0;
        while let Some(x) = stack.pop() {
            if !seen.insert(x) {
                continue;
            }
            let node = self.pool.node(x);
            n += usize::from(matches!(node, Node::Transpose(_)));
            stack.extend(node.children().iter().copied());
        }
        n
    }

    fn canon_all(&mut self, xs: &[ExprId]) -> Result<Vec<ExprId>, ExprError> {
        xs.iter().map(|&x| self.canon(x)).collect()
    }

    fn shape(&self, id: ExprId) -> Shape {
        self.pool.shape(id)
    }

    fn is_scalar(&self, id: ExprId) -> bool {
        self.shape(id).is_scalar()
    }

    fn num(&mut self, v: f64) -> ExprId {
        self.pool.num(v)
    }

    fn num_of(&self, id: ExprId) -> Option<f64> {
        match self.pool.node(id) {
            Node::Num(n) => Some(n.get()),
            _ => None,
        }
    }

    /// The zero of a shape: `0`, `0*ones` or `0*ones*ones'`.
    pub fn zero(&mut self, shape: Shape) -> R {
        let zero = self.num(0.0);
        if shape.is_scalar() {
            return Ok(zero);
        }
        let mut factors = vec![zero];
        if shape.rows != Dim::ONE {
            factors.push(self.pool.intern(Node::Ones(shape.rows))?);
        }
        if shape.cols != Dim::ONE {
            let ones = self.pool.intern(Node::Ones(shape.cols))?;
            factors.push(self.pool.intern(Node::Transpose(ones))?);
        }
        self.pool.intern(Node::Mul(factors.into()))
    }

    /// Whether a node is a zero made by [`Simplifier::zero`].
    pub fn is_zero(&self, id: ExprId) -> bool {
        match self.pool.node(id) {
            Node::Num(n) => n.get() == 0.0,
            Node::Mul(xs) => self.num_of(xs[0]) == Some(0.0),
            _ => false,
        }
    }

    /// The all-ones matrix or vector of a shape (`ones*ones'`, `ones`), recognised for removal.
    fn is_all_ones(&self, id: ExprId) -> bool {
        match self.pool.node(id) {
            Node::Ones(_) => true,
            Node::Num(n) => n.get() == 1.0,
            Node::Mul(xs) if xs.len() == 2 => {
                matches!(self.pool.node(xs[0]), Node::Ones(_))
                    && matches!(self.pool.node(xs[1]), Node::Transpose(o) if matches!(self.pool.node(*o), Node::Ones(_)))
            }
            Node::Transpose(o) => matches!(self.pool.node(*o), Node::Ones(_)),
            _ => false,
        }
    }

    /// `c * a`, canonical.
    pub fn scale(&mut self, c: f64, a: ExprId) -> R {
        let k = self.num(c);
        self.mul(&[k, a])
    }

    /// `-a`, canonical.
    pub fn neg(&mut self, a: ExprId) -> R {
        self.scale(-1.0, a)
    }

    fn pow_scalar(&mut self, s: ExprId, k: f64) -> R {
        if let Some(v) = self.num_of(s) {
            return Ok(self.num(v.powf(k)));
        }
        if k == 1.0 {
            return Ok(s);
        }
        if k == 0.5 {
            return self.pool.intern(Node::Apply {
                fun: Fun::Builtin(Func::Sqrt),
                order: 0,
                arg: s,
            });
        }
        let k = self.num(k);
        self.pool.intern(Node::Pow([s, k]))
    }

    /// `a'`, canonical: transposes go to the leaves; scalars and symmetric matrices lose them.
    pub fn transpose(&mut self, a: ExprId) -> R {
        if self.is_scalar(a) || self.pool.is_symmetric(a) {
            return Ok(a);
        }
        let node = self.pool.node(a).clone();
        if self.opaque.contains(&a) {
            return self.pool.intern(Node::Transpose(a));
        }
        match node {
            Node::Transpose(b) => Ok(b),
            Node::Mul(xs) => {
                let xs = self.group_scalar_prefix(&xs)?;
                let mut ts = Vec::with_capacity(xs.len());
                for &x in xs.iter().rev() {
                    ts.push(self.transpose(x)?);
                }
                self.mul(&ts)
            }
            Node::Add(xs) => {
                let ts = xs
                    .iter()
                    .map(|&x| self.transpose(x))
                    .collect::<Result<Vec<_>, _>>()?;
                self.add(&ts)
            }
            Node::Hadamard(xs) => {
                let ts = xs
                    .iter()
                    .map(|&x| self.transpose(x))
                    .collect::<Result<Vec<_>, _>>()?;
                self.hadamard(&ts, &[])
            }
            Node::HDiv([x, y]) => {
                let (x, y) = (self.transpose(x)?, self.transpose(y)?);
                self.hdiv(x, y)
            }
            Node::Div([x, s]) => {
                let x = self.transpose(x)?;
                self.pool.intern(Node::Div([x, s]))
            }
            Node::Neg(x) => {
                let x = self.transpose(x)?;
                self.neg(x)
            }
            Node::Apply { fun, order, arg } => {
                let arg = self.transpose(arg)?;
                self.pool.intern(Node::Apply { fun, order, arg })
            }
            Node::Tri(t, b) => {
                // tril(B)' = triu(B').
                let b = self.transpose(b)?;
                crate::triangle::tri(self, t.flipped(), b)
            }
            Node::Pow([b, k]) => {
                let b = self.transpose(b)?;
                self.pow(b, k)
            }
            Node::HPow([b, c]) => {
                let b = self.transpose(b)?;
                self.hpow(b, c)
            }
            _ => self.pool.intern(Node::Transpose(a)),
        }
    }

    /// Splits a canonical term into a number and the rest (`None` for a bare number).
    fn split_coef(&mut self, id: ExprId) -> Result<(f64, Option<ExprId>), ExprError> {
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
    fn build_term(&mut self, c: f64, core: Option<ExprId>, shape: Shape) -> R {
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
                    let scaled = self.pool.intern(Node::Mul(vec![k, a].into()))?;
                    self.pool.intern(Node::Div([scaled, s]))?
                }
                _ => self.pool.intern(Node::Mul(vec![k, core].into()))?,
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
    pub fn add(&mut self, xs: &[ExprId]) -> R {
        let sum = self.add_terms(xs)?;
        let shape = self.shape_of_sum(xs);
        if self.is_scalar(sum) && !shape.is_scalar() {
            let ones = self.all_ones(shape)?;
            return self.mul(&[sum, ones]);
        }
        Ok(sum)
    }

    /// The shape of a sum: that of its first non-scalar term.
    fn shape_of_sum(&self, xs: &[ExprId]) -> Shape {
        xs.iter()
            .map(|&x| self.shape(x))
            .find(|s| !s.is_scalar())
            .unwrap_or(Shape::SCALAR)
    }

    fn add_terms(&mut self, xs: &[ExprId]) -> R {
        let shape = self.shape_of_sum(xs);
        let mut order: Vec<Option<ExprId>> = Vec::new();
        let mut coefs: HashMap<Option<ExprId>, f64> = HashMap::default();
        let mut stack: Vec<(f64, ExprId)> = xs.iter().rev().map(|&x| (1.0, x)).collect();
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
            let e = coefs.entry(core).or_insert_with(|| {
                order.push(core);
                0.0
            });
            *e += sign * c;
        }
        let mut terms: Vec<(f64, Option<ExprId>)> = Vec::new();
        for core in order {
            let c = coefs[&core];
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
    fn factor_sum(&mut self, terms: Vec<(f64, Option<ExprId>)>, shape: Shape) -> R {
        if let Some(sum) = self.sum_over_divisor(&terms, shape)? {
            return Ok(sum);
        }
        for last in [true, false] {
            let mut groups: Vec<(ExprId, Vec<usize>)> = Vec::new();
            let mut group_of: HashMap<ExprId, usize> = HashMap::default();
            for (i, (_, core)) in terms.iter().enumerate() {
                let Some(core) = core else { continue };
                let Some(f) = self.end_factor(*core, last) else {
                    continue;
                };
                if matches!(self.pool.node(f), Node::Identity(_)) {
                    continue;
                }
                match group_of.get(&f) {
                    Some(&g) => groups[g].1.push(i),
                    None => {
                        group_of.insert(f, groups.len());
                        groups.push((f, vec![i]));
                    }
                }
            }
            // The other factors of each member, summed, times the shared one; when every member
            // has only scalars besides it, the sum is a scalar: (alpha + beta)*F. A quotient is
            // not factored where that would take an identity: a/s - b*c*a/t stays, rather than
            // (I/s - b*c/t)*a.
            let mut chosen = None;
            for (f, members) in groups.into_iter().filter(|g| g.1.len() >= 2) {
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
    fn sum_over_divisor(
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
    fn product_is_scalar(&self, factors: &[ExprId]) -> bool {
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
    fn end_factor(&self, core: ExprId, last: bool) -> Option<ExprId> {
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
    fn without_end(
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

    /// A product, canonical: numbers multiplied into one coefficient in front, scalar factors
    /// next (powers combined, sorted), identities dropped, equal neighbours made powers.
    pub fn mul(&mut self, xs: &[ExprId]) -> R {
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
        let mut scalars: Vec<(ExprId, f64)> = Vec::new();
        let mut matrices: Vec<ExprId> = Vec::new();
        let mut stack: Vec<(ExprId, f64)> = xs.iter().rev().map(|&x| (x, 1.0)).collect();
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
        let keys: Vec<_> = scalars.iter().map(|s| self.sort_key(s.0)).collect();
        let mut idx: Vec<usize> = (0..scalars.len()).collect();
        idx.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        let mut factors: Vec<ExprId> = Vec::new();
        if coef.abs() != 1.0 {
            factors.push(self.num(coef.abs()));
        }
        let mut dens = Vec::new();
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
                matrices = vec![sum];
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
                matrices = vec![self.pool.intern(Node::Reduce(Reduce::Sum, m))?];
            }
        }
        factors.extend(matrices);
        let mut body = match factors.len() {
            0 => self.num(1.0),
            1 => factors[0],
            _ => self.pool.intern(Node::Mul(factors.into()))?,
        };
        if !dens.is_empty() {
            let den = if dens.len() == 1 {
                dens[0]
            } else {
                self.pool.intern(Node::Mul(dens.into()))?
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
    fn cancelled_inner_product(
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
    pub(crate) fn group_scalar_prefix(&mut self, fs: &[ExprId]) -> Result<Vec<ExprId>, ExprError> {
        let mut acc = self.shape(fs[0]);
        for (k, &x) in fs.iter().enumerate().skip(1) {
            let s = self.shape(x);
            if acc.is_scalar() && k >= 2 && s.rows != Dim::ONE {
                let head = self.pool.intern(Node::Mul(fs[..k].into()))?;
                let mut out = vec![head];
                out.extend_from_slice(&fs[k..]);
                return Ok(out);
            }
            match matdiff_expr::mul_shape(acc, s) {
                Some(next) => acc = next,
                None => break,
            }
        }
        Ok(fs.to_vec())
    }

    /// `a*b` for neighbouring factors when it folds: `X*X = X^2`, `X^j*X^k = X^(j+k)`,
    /// `inv(X)*X = I` (`Some(None)`: both vanish). `None` when nothing folds.
    fn merge_factors(&mut self, a: ExprId, b: ExprId) -> Result<Option<Option<ExprId>>, ExprError> {
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
    fn power_parts(&mut self, x: ExprId) -> (ExprId, i64) {
        if self.opaque.contains(&x) {
            return (x, 1);
        }
        // inv(X)' is X'^-1, so that it folds with X'.
        if let Node::Transpose(t) = self.pool.node(x).clone() {
            if let Node::Inv(c) = self.pool.node(t).clone() {
                if let Ok(ct) = self.pool.intern(Node::Transpose(c)) {
                    return (ct, -1);
                }
            }
        }
        if let Node::Pow([b, k]) = self.pool.node(x).clone() {
            if let (Node::Transpose(t), Some(k)) = (
                self.pool.node(b).clone(),
                self.num_of(k).and_then(|v| Num::new(v)?.as_integer()),
            ) {
                if let Node::Inv(c) = self.pool.node(t).clone() {
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

    /// Order of scalar factors and of element-wise factors: names first, then by text.
    /// The order of factors in a canonical product: rank, then the start of the plain form (in
    /// time bounded by its length, so deep expressions sort in linear time), then the id.
    fn sort_key(&mut self, id: ExprId) -> (u8, std::sync::Arc<str>, ExprId) {
        let rank = match self.pool.node(id) {
            Node::Num(_) => 0,
            Node::Var(_) => 1,
            Node::Transpose(x) if matches!(self.pool.node(*x), Node::Var(_)) => 2,
            Node::Pow(_) => 3,
            _ => 4,
        };
        let pool = &*self.pool;
        let text = self
            .sort_keys
            .entry(id)
            .or_insert_with(|| pool.plain_prefix(id, 96).into());
        (rank, text.clone(), id)
    }

    /// A Hadamard product `nums ./ dens`, canonical: scalars pulled out in front, all-ones
    /// factors dropped, equal factors made powers, `exp(z) ./ (1 + exp(z))` made `sigmoid(z)`.
    pub fn hadamard(&mut self, nums: &[ExprId], dens: &[ExprId]) -> R {
        let shape = nums
            .iter()
            .chain(dens)
            .map(|&x| self.shape(x))
            .find(|s| !s.is_scalar())
            .unwrap_or(Shape::SCALAR);
        let mut scalars: Vec<ExprId> = Vec::new();
        let mut num: Vec<(ExprId, f64)> = Vec::new();
        let mut stack: Vec<(ExprId, f64)> = dens.iter().rev().map(|&x| (x, -1.0)).collect();
        stack.extend(nums.iter().rev().map(|&x| (x, 1.0)));
        while let Some((x, e)) = stack.pop() {
            let opaque = self.opaque.contains(&x);
            if self.is_scalar(x)
                && (e.fract() == 0.0 || !matches!(self.pool.node(x), Node::Num(n) if n.get() < 0.0))
            {
                scalars.push(self.pow_scalar(x, e)?);
                continue;
            }
            match self.pool.node(x).clone() {
                Node::Hadamard(ys) if !opaque => stack.extend(ys.iter().rev().map(|&y| (y, e))),
                Node::HDiv([a, b]) if !opaque => {
                    stack.push((b, -e));
                    stack.push((a, e));
                }
                // (-x).^e = (-1)^e * x.^e for an integer e.
                Node::Neg(y) if !opaque && e.fract() == 0.0 => {
                    scalars.push(self.num((-1.0f64).powf(e)));
                    stack.push((y, e));
                }
                Node::Mul(ys)
                    if !opaque && e.fract() == 0.0 && ys.iter().any(|&y| self.is_scalar(y)) =>
                {
                    // Scalars of a product factor come out: (2*M*Y) .* Z = 2*((M*Y) .* Z).
                    let (s, m): (Vec<ExprId>, Vec<ExprId>) =
                        ys.iter().partition(|&&y| self.is_scalar(y));
                    for y in s {
                        scalars.push(self.pow_scalar(y, e)?);
                    }
                    let m = if m.len() == 1 {
                        m[0]
                    } else {
                        self.pool.intern(Node::Mul(m.into()))?
                    };
                    stack.push((m, e));
                }
                Node::Div([a, s]) if !opaque && e.fract() == 0.0 => {
                    scalars.push(self.pow_scalar(s, -e)?);
                    stack.push((a, e));
                }
                Node::HPow([b, c]) if !opaque && self.num_of(c).is_some() => {
                    let c = self.num_of(c).expect("a number");
                    stack.push((b, e * c));
                }
                _ if self.is_all_ones(x) => {}
                _ => match num.iter_mut().find(|f| f.0 == x) {
                    Some(f) => f.1 += e,
                    None => num.push((x, e)),
                },
            }
        }
        self.fold_sigmoid(&mut num)?;
        num.retain(|f| f.1 != 0.0);
        let keys: Vec<_> = num.iter().map(|f| self.sort_key(f.0)).collect();
        let mut idx: Vec<usize> = (0..num.len()).collect();
        idx.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        let mut top = Vec::new();
        let mut bottom = Vec::new();
        for i in idx {
            let (x, e) = num[i];
            let f = if e.abs() == 1.0 {
                x
            } else {
                let c = self.num(e.abs());
                self.pool.intern(Node::HPow([x, c]))?
            };
            if e > 0.0 {
                top.push(f);
            } else {
                bottom.push(f);
            }
        }
        let mut body = match top.len() {
            0 if bottom.is_empty() && !shape.is_scalar() => self.all_ones(shape)?,
            0 => self.num(1.0),
            1 => top[0],
            _ => self.pool.intern(Node::Hadamard(top.into()))?,
        };
        if !bottom.is_empty() {
            let den = if bottom.len() == 1 {
                bottom[0]
            } else {
                self.pool.intern(Node::Hadamard(bottom.into()))?
            };
            body = self.pool.intern(Node::HDiv([body, den]))?;
        }
        if scalars.is_empty() {
            return Ok(body);
        }
        scalars.push(body);
        self.mul(&scalars)
    }

    /// `exp(z) ./ (1 + exp(z))` is `sigmoid(z)` (rule F2).
    fn fold_sigmoid(&mut self, num: &mut Vec<(ExprId, f64)>) -> Result<(), ExprError> {
        let mut i = 0;
        while i < num.len() {
            let (x, e) = num[i];
            if e == 1.0 {
                if let Node::Apply {
                    fun: Fun::Builtin(Func::Exp),
                    order: 0,
                    arg,
                } = self.pool.node(x).clone()
                {
                    let one = self.num(1.0);
                    let one_plus = self.pool.intern(Node::Add(vec![one, x].into()))?;
                    let plus_one = self.pool.intern(Node::Add(vec![x, one].into()))?;
                    if let Some(j) = num
                        .iter()
                        .position(|f| (f.0 == one_plus || f.0 == plus_one) && f.1 == -1.0)
                    {
                        self.applied.push(RuleId::F2);
                        let s = self.pool.intern(Node::Apply {
                            fun: Fun::Builtin(Func::Sigmoid),
                            order: 0,
                            arg,
                        })?;
                        num[i] = (s, 1.0);
                        num.remove(j);
                        if j < i {
                            i -= 1;
                        }
                    }
                }
            }
            i += 1;
        }
        Ok(())
    }

    /// The all-ones value of a shape: `1`, `ones`, `ones'` or `ones*ones'`.
    fn all_ones(&mut self, shape: Shape) -> R {
        let mut factors = Vec::with_capacity(2);
        if shape.rows != Dim::ONE {
            factors.push(self.pool.intern(Node::Ones(shape.rows))?);
        }
        if shape.cols != Dim::ONE {
            let cols = self.pool.intern(Node::Ones(shape.cols))?;
            factors.push(self.pool.intern(Node::Transpose(cols))?);
        }
        match factors[..] {
            [] => Ok(self.num(1.0)),
            [one] => Ok(one),
            _ => self.pool.intern(Node::Mul(factors.into())),
        }
    }

    /// `a ./ b`, canonical.
    pub fn hdiv(&mut self, a: ExprId, b: ExprId) -> R {
        if self.is_scalar(b) {
            let inv = self.pow_scalar(b, -1.0)?;
            return self.mul(&[a, inv]);
        }
        self.hadamard(&[a], &[b])
    }

    /// `a^k`, canonical.
    pub fn pow(&mut self, a: ExprId, k: ExprId) -> R {
        let Some(kv) = self.num_of(k) else {
            return self.pool.intern(Node::Pow([a, k]));
        };
        if kv == 1.0 {
            return Ok(a);
        }
        if self.is_scalar(a) {
            if let Some(av) = self.num_of(a) {
                return Ok(self.num(av.powf(kv)));
            }
            if kv == 0.0 {
                return Ok(self.num(1.0));
            }
            return self.pool.intern(Node::Pow([a, k]));
        }
        if kv == 0.0 {
            return self.pool.intern(Node::Identity(self.shape(a).rows));
        }
        let (base, j) = self.power_parts(a);
        let total = j * kv as i64;
        if total == 1 {
            return Ok(base);
        }
        if total < 0 {
            let inv = self.inv(base)?;
            if total == -1 {
                return Ok(inv);
            }
            let k = self.num((-total) as f64);
            return self.pool.intern(Node::Pow([inv, k]));
        }
        let k = self.num(total as f64);
        self.pool.intern(Node::Pow([base, k]))
    }

    /// `a .^ c`, canonical.
    pub fn hpow(&mut self, a: ExprId, c: ExprId) -> R {
        match self.num_of(c) {
            Some(1.0) => Ok(a),
            _ if self.is_scalar(a) => self.pow(a, c),
            _ => self.pool.intern(Node::HPow([a, c])),
        }
    }

    /// An element-wise function, canonical: derivatives of built-ins written out where the
    /// language has a closed form (`exp' = exp`, `log'(x) = 1 ./ x`, `softplus' = sigmoid`, ...);
    /// `log(1 + exp(z))` is `softplus(z)` (rule F1).
    pub fn apply(&mut self, fun: Fun, order: u8, arg: ExprId) -> R {
        let Fun::Builtin(f) = fun else {
            return self.pool.intern(Node::Apply { fun, order, arg });
        };
        if let Some(d) = self.written_derivative(f, order, arg)? {
            return Ok(d);
        }
        let call = |s: &mut Self, f: Func, order: u8| {
            s.pool.intern(Node::Apply {
                fun: Fun::Builtin(f),
                order,
                arg,
            })
        };
        match (f, order) {
            (Func::Log, 0) => {
                if let Node::Add(xs) = self.pool.node(arg).clone() {
                    if xs.len() == 2 {
                        for (a, b) in [(xs[0], xs[1]), (xs[1], xs[0])] {
                            if self.num_of(a) == Some(1.0) {
                                if let Node::Apply {
                                    fun: Fun::Builtin(Func::Exp),
                                    order: 0,
                                    arg: z,
                                } = self.pool.node(b).clone()
                                {
                                    self.applied.push(RuleId::F1);
                                    return self.pool.intern(Node::Apply {
                                        fun: Fun::Builtin(Func::Softplus),
                                        order: 0,
                                        arg: z,
                                    });
                                }
                            }
                        }
                    }
                }
                call(self, f, 0)
            }
            (Func::Exp, _) => call(self, Func::Exp, 0),
            (Func::Log, 1) => {
                let one = self.num(1.0);
                self.hdiv(one, arg)
            }
            (Func::Log, 2) => {
                let minus_one = self.num(-1.0);
                let two = self.num(2.0);
                let sq = self.hpow(arg, two)?;
                self.hdiv(minus_one, sq)
            }
            (Func::Sin, 1) => call(self, Func::Cos, 0),
            (Func::Sin, 2) | (Func::Cos, 1) => {
                let s = call(self, Func::Sin, 0)?;
                self.neg(s)
            }
            (Func::Cos, 2) => {
                let c = call(self, Func::Cos, 0)?;
                self.neg(c)
            }
            (Func::Softplus, 1) => call(self, Func::Sigmoid, 0),
            (Func::Softplus, 2) => call(self, Func::Sigmoid, 1),
            (Func::Sqrt, 1) => {
                let half = self.num(0.5);
                let s = call(self, Func::Sqrt, 0)?;
                self.hdiv(half, s)
            }
            _ => call(self, f, order),
        }
    }

    /// A reduction to a scalar, canonical: numbers and signs pulled out, traces of sums split,
    /// transposes dropped under `tr`, `det`, `logdet`, `sum` and norms.
    pub fn reduce(&mut self, r: Reduce, a: ExprId) -> R {
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
    pub fn count(&mut self, d: Dim) -> R {
        if let Dim::Known(k) = d {
            return Ok(self.num(k as f64));
        }
        let ones = self.pool.intern(Node::Ones(d))?;
        let row = self.pool.intern(Node::Transpose(ones))?;
        self.pool.intern(Node::Mul(vec![row, ones].into()))
    }

    /// The number of terms a reduction adds for a broadcast scalar: every entry of `shape` for
    /// `sum`, every diagonal entry for `tr`.
    fn entries(&mut self, r: Reduce, shape: Shape) -> R {
        let rows = self.count(shape.rows)?;
        if r == Reduce::Trace {
            return Ok(rows);
        }
        let cols = self.count(shape.cols)?;
        self.mul(&[rows, cols])
    }

    /// `inv(a)`, canonical.
    pub fn inv(&mut self, a: ExprId) -> R {
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

    /// The canonical form with products distributed over sums (`(A + B)*C` is `A*C + B*C`), to
    /// compare expressions that differ by factoring; `None` when that would make more than 64
    /// terms.
    pub fn expand(&mut self, id: ExprId) -> Result<Option<ExprId>, ExprError> {
        let c = self.canon(id)?;
        let terms = match self.expand_terms(c, None)? {
            Some(t) => t,
            None => return Ok(None),
        };
        if terms.is_empty() {
            let shape = self.shape(c);
            return Ok(Some(self.zero(shape)?));
        }
        Ok(Some(self.add(&terms)?))
    }

    /// The shorter of `id` (canonical) and its element-wise expansion, with the rules the
    /// expansion used, or `None` when the expansion is not shorter. The expansion cancels common
    /// factors of element-wise products and quotients, then distributes them over sums, writing
    /// `sigmoid'(z)` as `sigmoid(z) .* (1 - sigmoid(z))` (rule F3) and `tanh'(z)` as
    /// `1 - tanh(z).^2` (F4), and collects like terms: the gradient of the logistic loss
    /// `X'*((-y ./ s + (1 - y) ./ (1 - s)) .* sigmoid'(X*w))` becomes `X'*(s - y)`.
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_rewrite::{RuleId, Simplifier};
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("(-y ./ sigmoid(z) + (1 - y) ./ (1 - sigmoid(z))) .* sigmoid'(z)").unwrap().root;
    /// let mut s = Simplifier::new(&mut pool);
    /// let c = s.canon(e).unwrap();
    /// let (short, rules) = s.shorten(c).unwrap().unwrap();
    /// let shown = s.present(short).unwrap();
    /// assert_eq!(pool.plain(shown), "sigmoid(z) - y");
    /// assert_eq!(rules, [RuleId::F3, RuleId::A]);
    /// ```
    pub fn shorten(&mut self, id: ExprId) -> Result<Option<(ExprId, Vec<RuleId>)>, ExprError> {
        if !self.has_elementwise_product(id) {
            return Ok(None);
        }
        let mut rules = Vec::new();
        let Some(terms) = self.expand_terms(id, Some(&mut rules))? else {
            return Ok(None);
        };
        // Positive terms first: s - y rather than -y + s.
        let mut signed = Vec::with_capacity(terms.len());
        for t in terms {
            signed.push((self.split_coef(t)?.0 < 0.0, t));
        }
        signed.sort_by_key(|t| t.0);
        let terms: Vec<ExprId> = signed.into_iter().map(|t| t.1).collect();
        let expanded = if terms.is_empty() {
            let shape = self.shape(id);
            self.zero(shape)?
        } else {
            self.add(&terms)?
        };
        let cost = |s: &mut Self, id: ExprId| s.best(id).map(|f| f.0 .1);
        if cost(self, expanded)? >= cost(self, id)? {
            return Ok(None);
        }
        rules.push(RuleId::A);
        Ok(Some((expanded, rules)))
    }

    /// Whether an element-wise product or quotient, or a `sigmoid'` or `tanh'`, occurs in `id`
    /// outside function arguments: only then is the expansion tried.
    fn has_elementwise_product(&self, id: ExprId) -> bool {
        let mut stack = vec![id];
        let mut seen = HashSet::default();
        while let Some(x) = stack.pop() {
            if !seen.insert(x) || self.opaque.contains(&x) {
                continue;
            }
            match self.pool.node(x) {
                Node::Hadamard(_) | Node::HDiv(_) => return true,
                Node::Apply {
                    fun: Fun::Builtin(Func::Sigmoid | Func::Tanh),
                    order: 1,
                    ..
                } => return true,
                Node::Add(xs) | Node::Mul(xs) => stack.extend(xs.iter().copied()),
                Node::Neg(a) | Node::Transpose(a) | Node::Div([a, _]) => stack.push(*a),
                _ => {}
            }
        }
        false
    }

    /// The terms of `id` with products distributed over sums; with `rules`, element-wise
    /// products and quotients too, after cancelling (the rules used are added). `None` beyond
    /// 64 terms.
    fn expand_terms(
        &mut self,
        id: ExprId,
        mut rules: Option<&mut Vec<RuleId>>,
    ) -> Result<Option<Vec<ExprId>>, ExprError> {
        const LIMIT: usize = 64;
        if self.opaque.contains(&id) {
            return Ok(Some(vec![id]));
        }
        match self.pool.node(id).clone() {
            Node::Add(xs) => {
                let shape = self.shape(id);
                let mut out = Vec::new();
                for &x in xs.iter() {
                    let Some(mut t) = self.expand_terms(x, rules.as_deref_mut())? else {
                        return Ok(None);
                    };
                    if self.is_scalar(x) && !shape.is_scalar() {
                        let ones = self.all_ones(shape)?;
                        t = t
                            .into_iter()
                            .map(|s| self.mul(&[s, ones]))
                            .collect::<Result<_, _>>()?;
                    }
                    out.extend(t);
                    if out.len() > LIMIT {
                        return Ok(None);
                    }
                }
                Ok(Some(out))
            }
            Node::Neg(x) => Ok(self
                .expand_terms(x, rules)?
                .map(|t| {
                    t.into_iter()
                        .map(|t| self.neg(t))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?),
            Node::Mul(xs) => {
                let mut acc: Vec<Vec<ExprId>> = vec![Vec::new()];
                for &x in xs.iter() {
                    let Some(t) = self.expand_terms(x, rules.as_deref_mut())? else {
                        return Ok(None);
                    };
                    if acc.len() * t.len() > LIMIT {
                        return Ok(None);
                    }
                    acc = acc
                        .iter()
                        .flat_map(|a| t.iter().map(move |&f| [a.as_slice(), &[f]].concat()))
                        .collect();
                }
                Ok(Some(
                    acc.iter()
                        .map(|fs| self.mul(fs))
                        .collect::<Result<_, _>>()?,
                ))
            }
            Node::Hadamard(_) | Node::HDiv(_) | Node::Apply { order: 1, .. } => match rules {
                Some(rules) => {
                    let (mut nums, mut dens) = (Vec::new(), Vec::new());
                    self.elementwise_factors(id, 1, &mut nums, &mut dens, rules)?;
                    let shape = self.shape(id);
                    self.distribute(nums, dens, shape, rules)
                }
                None => Ok(Some(vec![id])),
            },
            _ => Ok(Some(vec![id])),
        }
    }

    /// The factors of an element-wise product or quotient, `sigmoid'` and `tanh'` written out.
    fn elementwise_factors(
        &mut self,
        id: ExprId,
        sign: i8,
        nums: &mut Vec<ExprId>,
        dens: &mut Vec<ExprId>,
        rules: &mut Vec<RuleId>,
    ) -> Result<(), ExprError> {
        let push = |f: ExprId, nums: &mut Vec<ExprId>, dens: &mut Vec<ExprId>| {
            if sign > 0 {
                nums.push(f)
            } else {
                dens.push(f)
            }
        };
        if self.opaque.contains(&id) {
            push(id, nums, dens);
            return Ok(());
        }
        match self.pool.node(id).clone() {
            Node::Hadamard(xs) => {
                for &x in xs.iter() {
                    self.elementwise_factors(x, sign, nums, dens, rules)?;
                }
            }
            Node::HDiv([a, b]) => {
                self.elementwise_factors(a, sign, nums, dens, rules)?;
                self.elementwise_factors(b, -sign, nums, dens, rules)?;
            }
            // Signs and scalar factors stay in the product (as scalars, which `hadamard` takes).
            Node::Neg(x) if sign > 0 => {
                let minus = self.num(-1.0);
                nums.push(minus);
                self.elementwise_factors(x, sign, nums, dens, rules)?;
            }
            Node::Mul(xs) if sign > 0 && xs.iter().any(|&x| self.is_scalar(x)) => {
                let (scalars, rest): (Vec<ExprId>, Vec<ExprId>) =
                    xs.iter().partition(|&&x| self.is_scalar(x));
                nums.extend(scalars);
                let rest = if rest.len() == 1 {
                    rest[0]
                } else {
                    self.pool.intern(Node::Mul(rest.into()))?
                };
                self.elementwise_factors(rest, sign, nums, dens, rules)?;
            }
            Node::Div([a, k]) if sign > 0 => {
                let inverse = self.pow_scalar(k, -1.0)?;
                nums.push(inverse);
                self.elementwise_factors(a, sign, nums, dens, rules)?;
            }
            Node::Apply {
                fun: Fun::Builtin(f @ (Func::Sigmoid | Func::Tanh)),
                order: 1,
                arg,
            } => {
                let value = self.pool.intern(Node::Apply {
                    fun: Fun::Builtin(f),
                    order: 0,
                    arg,
                })?;
                let one = self.num(1.0);
                let (subtracted, rule) = if f == Func::Sigmoid {
                    push(value, nums, dens);
                    (value, RuleId::F3)
                } else {
                    let two = self.num(2.0);
                    (self.pool.intern(Node::HPow([value, two]))?, RuleId::F4)
                };
                let minus = self.neg(subtracted)?;
                let rest = self.add(&[one, minus])?;
                push(rest, nums, dens);
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
            _ => push(id, nums, dens),
        }
        Ok(())
    }

    /// The terms of `nums ./ dens` (element-wise, of `shape`): common factors cancelled, then the
    /// first sum among `nums` (one with a quotient in it, if any) distributed, and so on.
    fn distribute(
        &mut self,
        mut nums: Vec<ExprId>,
        mut dens: Vec<ExprId>,
        shape: Shape,
        rules: &mut Vec<RuleId>,
    ) -> Result<Option<Vec<ExprId>>, ExprError> {
        dens.retain(|d| match nums.iter().position(|n| n == d) {
            Some(i) => {
                nums.remove(i);
                false
            }
            None => true,
        });
        let is_sum = |s: &Self, x: ExprId| {
            !s.opaque.contains(&x) && !s.is_scalar(x) && matches!(s.pool.node(x), Node::Add(_))
        };
        let has_quotient = |s: &Self, x: ExprId| match s.pool.node(x) {
            Node::Add(ts) => ts
                .iter()
                .any(|&t| matches!(s.pool.node(t), Node::HDiv(_) | Node::Div(_))),
            _ => false,
        };
        let pick = nums
            .iter()
            .position(|&x| is_sum(self, x) && has_quotient(self, x))
            .or_else(|| nums.iter().position(|&x| is_sum(self, x)));
        let Some(i) = pick else {
            // What is left may be scalars only (`C ./ C` is 1): it keeps the shape.
            let mut term = self.hadamard(&nums, &dens)?;
            if self.is_scalar(term) && !shape.is_scalar() {
                let ones = self.all_ones(shape)?;
                term = self.mul(&[term, ones])?;
            }
            return Ok(Some(vec![term]));
        };
        let sum = nums.remove(i);
        let Some(terms) = self.expand_terms(sum, Some(rules))? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for t in terms {
            let (mut n, mut d) = (nums.clone(), dens.clone());
            self.elementwise_factors(t, 1, &mut n, &mut d, rules)?;
            let Some(ts) = self.distribute(n, d, shape, rules)? else {
                return Ok(None);
            };
            out.extend(ts);
            if out.len() > 64 {
                return Ok(None);
            }
        }
        Ok(Some(out))
    }

    /// The presentation pass: for each node the cheaper of itself and the transpose of its
    /// transpose, so `A'*B'` may print as `(B*A)'` and `inv(X)'*A'*B'*inv(X)'` as
    /// `(inv(X)*B*A*inv(X))'`.
    pub fn present(&mut self, id: ExprId) -> R {
        Ok(self.best(id)?.0 .0)
    }

    /// The best form of `id` with its cost (operators), and the best form of `id'`.
    fn best(&mut self, id: ExprId) -> Result<Forms, ExprError> {
        if let Some(&r) = self.present_memo.get(&id) {
            return Ok(r);
        }
        let node = self.pool.node(id).clone();
        let symmetric = self.is_scalar(id) || self.pool.is_symmetric(id);
        let leaf = self.opaque.contains(&id) || node.children().is_empty();
        let result = if leaf {
            let t = if symmetric {
                (id, 0)
            } else {
                (self.pool.intern(Node::Transpose(id))?, 1)
            };
            ((id, 0), t)
        } else if let Node::Transpose(a) = node {
            let (p, t) = self.best(a)?;
            (t, p)
        } else {
            let kids = node.children().to_vec();
            let forms = kids
                .iter()
                .map(|&k| self.best(k))
                .collect::<Result<Vec<_>, _>>()?;
            let own = kids.len().saturating_sub(1).max(1) as u64;
            let keep: Vec<ExprId> = forms.iter().map(|f| f.0 .0).collect();
            let keep_cost = forms.iter().map(|f| f.0 .1).fold(own, u64::saturating_add);
            let keep_id = self.pool.with_children(id, &keep)?;
            let flip = match node {
                // (F1*...*Fk)' = Fk'*...*F1'.
                Node::Mul(_) => Some(forms.iter().rev().map(|f| f.1).collect::<Vec<_>>()),
                // Element-wise operators commute with the transpose; scalar operands stay.
                Node::Add(_)
                | Node::Hadamard(_)
                | Node::HDiv(_)
                | Node::Neg(_)
                | Node::Apply { .. }
                | Node::Div(_)
                | Node::HPow(_) => Some(
                    kids.iter()
                        .zip(&forms)
                        .map(|(&k, f)| if self.is_scalar(k) { f.0 } else { f.1 })
                        .collect(),
                ),
                _ => None,
            };
            match (flip, symmetric) {
                (_, true) => ((keep_id, keep_cost), (keep_id, keep_cost)),
                (Some(flip), false) => {
                    let flip_cost = flip.iter().map(|f| f.1).fold(own, u64::saturating_add);
                    let ids: Vec<ExprId> = flip.iter().map(|f| f.0).collect();
                    let flip_id = self.pool.with_children(id, &ids)?;
                    // Element-wise functions and signs prefer the transpose outside on a tie:
                    // sigmoid(z)' rather than sigmoid(z').
                    let outside =
                        matches!(node, Node::Apply { .. } | Node::Hadamard(_) | Node::HDiv(_))
                            as u64;
                    let plain = if flip_cost + 1 < keep_cost + outside {
                        (self.pool.intern(Node::Transpose(flip_id))?, flip_cost + 1)
                    } else {
                        (keep_id, keep_cost)
                    };
                    let transposed = if keep_cost + 1 < flip_cost {
                        (self.pool.intern(Node::Transpose(keep_id))?, keep_cost + 1)
                    } else {
                        (flip_id, flip_cost)
                    };
                    (plain, transposed)
                }
                (None, false) => (
                    (keep_id, keep_cost),
                    (self.pool.intern(Node::Transpose(keep_id))?, keep_cost + 1),
                ),
            }
        };
        self.present_memo.insert(id, result);
        Ok(result)
    }
}

/// The best form of a node and of its transpose, each with its cost.
type Forms = ((ExprId, u64), (ExprId, u64));

#[cfg(test)]
mod tests {
    use super::*;

    fn simplified(text: &str) -> String {
        let mut pool = ExprPool::new();
        let e = pool.parse(text).unwrap().root;
        let s = Simplifier::new(&mut pool).simplify(e).unwrap();
        pool.plain(s)
    }

    /// (input, simplified) for the rules of the canonical form, grouped by rule.
    const CASES: &[(&str, &str)] = &[
        // A zero inside a trace is the number 0.
        ("tr(G'*((0*ones*ones') .* X))", "0"),
        // Scalars broadcast into a sum whose matrix terms cancel keep its shape.
        ("(b - b) - (u'*x + 3)", "(-u'*x - 3)*ones(rows(b))"),
        (
            "(B - B) + alpha + 1",
            "(alpha + 1)*ones(rows(B))*ones(cols(B))'",
        ),
        // Terms over one scalar divisor share it; different divisors stay apart.
        ("A*x/(x'*x) + B*x/(x'*x)", "(A + B)*x/(x'*x)"),
        ("2*A/mu + 3*B/mu - C", "(2*A + 3*B)/mu - C"),
        ("a/(b'*x) - x/(b'*x)^2", "a/(b'*x) - x/(b'*x)^2"),
        // Inner products whose element-wise product cancels are sums; others stay.
        ("(y ./ t)'*t", "sum(y)"),
        ("t'*(y ./ t)", "sum(y)"),
        ("x'*x", "x'*x"),
        ("a'*ones", "a'*ones"),
        ("(y .* t)'*t", "(t .* y)'*t"),
        // Sums lead with a positive term and share their number, unless every term is a
        // product that takes the number in for free.
        ("-A + I", "I - A"),
        ("0.5*A + 0.5*A'", "0.5*(A + A')"),
        ("-2*A*B - 2*C*D", "-2*(A*B + C*D)"),
        ("B*(-A - A')*C", "-B*(A + A')*C"),
        ("2*A*B + 2*C*D", "2*A*B + 2*C*D"),
        // Square roots of scalars are half powers.
        ("det(X)/sqrt(det(X))", "sqrt(det(X))"),
        ("x/(x'*x)^0.5", "x/sqrt(x'*x)"),
        // A diagonal is read with the fewest transposes; diag(ones) is I.
        ("diag(A')", "diag(A)"),
        ("diag(B'*A')", "diag(A*B)"),
        ("diag(x)'", "diag(x)"),
        ("diag(ones)", "I"),
    ];

    #[test]
    fn canonical_forms() {
        for &(input, expected) in CASES {
            assert_eq!(simplified(input), expected, "{input}");
        }
    }

    #[test]
    fn element_wise_expansion_is_kept_only_when_shorter() {
        let mut pool = ExprPool::new();
        let mut shortened = |text: &str| {
            let e = pool.parse(text).unwrap().root;
            let mut s = Simplifier::new(&mut pool);
            let c = s.canon(e).unwrap();
            let out = s
                .shorten(c)
                .unwrap()
                .map(|(x, rules)| (s.present(x).unwrap(), rules));
            out.map(|(x, rules)| (pool.plain(x), rules))
        };
        assert_eq!(
            shortened("(y ./ (1 - tanh(z).^2) + w) .* tanh'(z)"),
            Some((
                "y + w - w .* tanh(z).^2".to_string(),
                vec![RuleId::F4, RuleId::A]
            ))
        );
        assert_eq!(shortened("(a + b) .* c"), None);
        assert_eq!(shortened("sigmoid'(z) .* w"), None);
    }
}
