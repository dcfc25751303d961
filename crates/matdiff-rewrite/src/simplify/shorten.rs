//! Expansion of element-wise products over sums, kept only where it shortens the result.

use matdiff_expr::FxHashSet as HashSet;

use matdiff_expr::{ExprError, ExprId, Fun, Func, Node, Shape};
use smallvec::{smallvec, SmallVec};

use crate::rules::RuleId;

use super::Simplifier;

impl Simplifier<'_> {
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
        if !self.may_shorten(id) {
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
        let cost = |s: &mut Self, id: ExprId| s.best(id).0 .1;
        if cost(self, expanded) >= cost(self, id) {
            return Ok(None);
        }
        rules.push(RuleId::A);
        Ok(Some((expanded, rules)))
    }

    /// Whether the expansion can change `id`: an element-wise quotient, a `sigmoid'` or `tanh'`,
    /// an element-wise product whose factors `hadamard` would rewrite, or an element-wise product
    /// together with a sum occurs in `id` outside function arguments. Without any of them the
    /// expansion only rebuilds the same form, so it is not tried.
    pub(super) fn may_shorten(&self, id: ExprId) -> bool {
        // Room for a short expression's nodes: growing from empty reallocates and rehashes.
        const NODES: usize = 16;
        let mut stack: SmallVec<[ExprId; NODES]> = smallvec![id];
        let mut seen = HashSet::with_capacity_and_hasher(NODES, Default::default());
        let (mut product, mut sum) = (false, false);
        while let Some(x) = stack.pop() {
            if !seen.insert(x) || self.opaque.contains(&x) {
                continue;
            }
            match self.pool.node(x) {
                Node::HDiv(_) => return true,
                Node::Apply {
                    fun: Fun::Builtin(Func::Sigmoid | Func::Tanh),
                    order: 1,
                    ..
                } => return true,
                Node::Hadamard(xs) => {
                    if !self.plain_factors(xs) {
                        return true;
                    }
                    product = true;
                    stack.extend(xs.iter().copied());
                }
                Node::Add(xs) => {
                    sum = true;
                    stack.extend(xs.iter().copied());
                }
                Node::Mul(xs) => stack.extend(xs.iter().copied()),
                Node::Neg(a) | Node::Transpose(a) | Node::Div([a, _]) => stack.push(*a),
                _ => {}
            }
            if product && sum {
                return true;
            }
        }
        false
    }

    /// The terms of `id` with products distributed over sums; with `rules`, element-wise
    /// products and quotients too, after cancelling (the rules used are added). `None` beyond
    /// 64 terms.
    pub(super) fn expand_terms(
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
    pub(super) fn elementwise_factors(
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
    pub(super) fn distribute(
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
}
