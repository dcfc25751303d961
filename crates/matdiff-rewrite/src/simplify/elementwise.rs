//! Element-wise products, quotients and powers, and element-wise functions.

use matdiff_expr::{Dim, ExprError, ExprId, Fun, Func, Ids, Node, Num, Shape};
use smallvec::SmallVec;

use crate::rules::RuleId;

use super::Simplifier;

/// The factors of an element-wise product with their exponents.
pub(super) type Powers = SmallVec<[(ExprId, f64); 8]>;

impl Simplifier<'_> {
    /// A Hadamard product `nums ./ dens`, canonical: scalars pulled out in front, all-ones
    /// factors dropped, equal factors made powers, `exp(z) ./ (1 + exp(z))` made `sigmoid(z)`.
    pub fn hadamard(&mut self, nums: &[ExprId], dens: &[ExprId]) -> Result<ExprId, ExprError> {
        let shape = nums
            .iter()
            .chain(dens)
            .map(|&x| self.shape(x))
            .find(|s| !s.is_scalar())
            .unwrap_or(Shape::SCALAR);
        let mut scalars: SmallVec<[ExprId; 4]> = SmallVec::new();
        let mut num: Powers = SmallVec::with_capacity(nums.len() + dens.len());
        let mut stack: SmallVec<[(ExprId, f64); 8]> =
            dens.iter().rev().map(|&x| (x, -1.0)).collect();
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
                    let (s, m): (SmallVec<[ExprId; 4]>, SmallVec<[ExprId; 4]>) =
                        ys.iter().copied().partition(|&y| self.is_scalar(y));
                    for y in s {
                        scalars.push(self.pow_scalar(y, e)?);
                    }
                    let m = if m.len() == 1 {
                        m[0]
                    } else {
                        self.pool.intern(Node::Mul(Ids::from(&m[..])))?
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
        let idx = self.sort_order(num.iter().map(|f| f.0));
        let mut top: SmallVec<[ExprId; 4]> = SmallVec::new();
        let mut bottom: SmallVec<[ExprId; 4]> = SmallVec::new();
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
            _ => self.pool.intern(Node::Hadamard(Ids::from(&top[..])))?,
        };
        if !bottom.is_empty() {
            let den = if bottom.len() == 1 {
                bottom[0]
            } else {
                self.pool.intern(Node::Hadamard(Ids::from(&bottom[..])))?
            };
            body = self.pool.intern(Node::HDiv([body, den]))?;
        }
        if scalars.is_empty() {
            return Ok(body);
        }
        scalars.push(body);
        self.mul(&scalars)
    }

    /// Whether [`Simplifier::hadamard`] keeps these factors as they are: none of them a scalar,
    /// a sign, a quotient, a power, an all-ones matrix or a product with a scalar factor, and
    /// none repeated.
    pub(super) fn plain_factors(&self, xs: &[ExprId]) -> bool {
        xs.iter().enumerate().all(|(i, &x)| {
            !xs[..i].contains(&x)
                && !self.is_scalar(x)
                && !self.is_all_ones(x)
                && !self.opaque.contains(&x)
                && match self.pool.node(x) {
                    Node::Neg(_) | Node::Div(_) | Node::HPow(_) | Node::HDiv(_) => false,
                    Node::Hadamard(_) => false,
                    Node::Mul(ys) => !ys.iter().any(|&y| self.is_scalar(y)),
                    _ => true,
                }
        })
    }

    /// `exp(z) ./ (1 + exp(z))` is `sigmoid(z)` (rule F2).
    pub(super) fn fold_sigmoid(&mut self, num: &mut Powers) -> Result<(), ExprError> {
        // Only a factor with the power -1 can be the denominator `1 + exp(z)`.
        if !num.iter().any(|f| f.1 == -1.0) {
            return Ok(());
        }
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
                    // A factor `1 + exp(z)` is a node of the pool already: look, do not make.
                    let one = Node::Num(Num::new(1.0).expect("finite"));
                    let sums = self.pool.find(&one).map(|one| {
                        let one_plus = self.pool.find(&Node::Add([one, x].into()));
                        let plus_one = self.pool.find(&Node::Add([x, one].into()));
                        [one_plus, plus_one]
                    });
                    let denominator = |f: &(ExprId, f64)| {
                        f.1 == -1.0 && sums.is_some_and(|s| s.contains(&Some(f.0)))
                    };
                    if let Some(j) = num.iter().position(denominator) {
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
    pub(super) fn all_ones(&mut self, shape: Shape) -> Result<ExprId, ExprError> {
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
    pub fn hdiv(&mut self, a: ExprId, b: ExprId) -> Result<ExprId, ExprError> {
        if self.is_scalar(b) {
            let inv = self.pow_scalar(b, -1.0)?;
            return self.mul(&[a, inv]);
        }
        self.hadamard(&[a], &[b])
    }

    /// `a^k`, canonical.
    pub fn pow(&mut self, a: ExprId, k: ExprId) -> Result<ExprId, ExprError> {
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
    pub fn hpow(&mut self, a: ExprId, c: ExprId) -> Result<ExprId, ExprError> {
        match self.num_of(c) {
            Some(1.0) => Ok(a),
            _ if self.is_scalar(a) => self.pow(a, c),
            _ => self.pool.intern(Node::HPow([a, c])),
        }
    }

    /// An element-wise function, canonical: derivatives of built-ins written out where the
    /// language has a closed form (`exp' = exp`, `log'(x) = 1 ./ x`, `softplus' = sigmoid`, ...);
    /// `log(1 + exp(z))` is `softplus(z)` (rule F1).
    pub fn apply(&mut self, fun: Fun, order: u8, arg: ExprId) -> Result<ExprId, ExprError> {
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
}
