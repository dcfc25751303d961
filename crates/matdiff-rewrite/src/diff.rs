//! (a) The differential: `d(e)` by the rules D1-D19, linear in the differentials of the variable
//! and of the named subexpressions the derivation goes through.

use matdiff_expr::{ExprId, Fun, Func, Ids, Node, Reduce};
use smallvec::SmallVec;

use crate::derive::Engine;
use crate::error::DeriveError;
use crate::rules::RuleId;

type Differential = Result<Option<ExprId>, DeriveError>;

/// The terms of a differential, or the factors of a product: a few, on the stack.
type Terms = SmallVec<[ExprId; 4]>;

impl Engine<'_> {
    /// The differential of `id`, or `None` when it is zero (`id` does not depend on the variable).
    /// Named subexpressions other than `self.stage` stop at their own differential variable.
    pub(crate) fn d(&mut self, id: ExprId) -> Differential {
        if id == self.wrt_node {
            return Ok(Some(self.dx));
        }
        if !self.depends(id) {
            return Ok(None);
        }
        if id != self.stage {
            if let Some(b) = self.boundaries.get(&id) {
                return Ok(Some(b.dvar));
            }
            if let Some(&m) = self.dmemo.get(&id) {
                return Ok(m);
            }
        }
        let r = self.d_node(id)?;
        if id != self.stage {
            self.dmemo.insert(id, r);
        }
        Ok(r)
    }

    fn use_rule(&mut self, id: RuleId) {
        if !self.line_rules.contains(&id) {
            self.line_rules.push(id);
        }
    }

    fn raw(&mut self, node: Node) -> Result<ExprId, DeriveError> {
        Ok(self.s.pool.intern(node)?)
    }

    fn sum_of(&mut self, terms: Terms) -> Differential {
        Ok(match terms.len() {
            0 => None,
            1 => Some(terms[0]),
            _ => Some(self.raw(Node::Add(Ids::from(&terms[..])))?),
        })
    }

    fn d_node(&mut self, id: ExprId) -> Differential {
        let node = self.s.pool.node(id).clone();
        let scalar = |e: &Self, x: ExprId| e.s.pool.shape(x).is_scalar();
        match node {
            Node::Var(_) | Node::Num(_) | Node::Identity(_) | Node::Ones(_) => Ok(None),
            Node::Neg(a) => {
                self.use_rule(RuleId::D1);
                match self.d(a)? {
                    Some(da) => Ok(Some(self.raw(Node::Neg(da))?)),
                    None => Ok(None),
                }
            }
            Node::Add(xs) => {
                self.use_rule(RuleId::D1);
                let mut terms = Terms::new();
                let shape = self.s.pool.shape(id);
                for &x in xs.iter() {
                    match self.d(x)? {
                        // A broadcast scalar keeps its broadcast: d(x + beta) = dx + dbeta*ones.
                        Some(dx) if self.s.pool.shape(dx).is_scalar() && !shape.is_scalar() => {
                            let mut factors = vec![dx, self.raw(Node::Ones(shape.rows))?];
                            if shape.cols != matdiff_expr::Dim::ONE {
                                let ones = self.raw(Node::Ones(shape.cols))?;
                                factors.push(self.raw(Node::Transpose(ones))?);
                            }
                            terms.push(self.raw(Node::Mul(factors.into()))?);
                        }
                        Some(dx) => terms.push(dx),
                        None => self.use_rule(RuleId::D9),
                    }
                }
                self.sum_of(terms)
            }
            Node::Mul(xs) | Node::Hadamard(xs) => {
                let hadamard = matches!(self.s.pool.node(id), Node::Hadamard(_));
                self.use_rule(if hadamard { RuleId::D7 } else { RuleId::D2 });
                let mut terms = Terms::new();
                for (i, &x) in xs.iter().enumerate() {
                    let Some(dx) = self.d(x)? else {
                        self.use_rule(RuleId::D9);
                        continue;
                    };
                    let mut factors = Terms::from_slice(&xs);
                    factors[i] = dx;
                    let factors = Ids::from(&factors[..]);
                    let t = if hadamard {
                        Node::Hadamard(factors)
                    } else {
                        Node::Mul(factors)
                    };
                    terms.push(self.raw(t)?);
                }
                self.sum_of(terms)
            }
            Node::Div([a, s]) => {
                self.use_rule(RuleId::D19);
                let mut terms = Terms::new();
                if let Some(da) = self.d(a)? {
                    terms.push(self.raw(Node::Div([da, s]))?);
                }
                if let Some(ds) = self.d(s)? {
                    let two = self.s.pool.num(2.0);
                    let sq = self.raw(Node::Pow([s, two]))?;
                    let top = self.raw(Node::Mul([a, ds].into()))?;
                    let q = self.raw(Node::Div([top, sq]))?;
                    terms.push(self.raw(Node::Neg(q))?);
                }
                self.sum_of(terms)
            }
            Node::HDiv([a, b]) => {
                self.use_rule(RuleId::D12);
                let mut terms = Terms::new();
                if let Some(da) = self.d(a)? {
                    terms.push(self.raw(Node::HDiv([da, b]))?);
                }
                if let Some(db) = self.d(b)? {
                    let two = self.s.pool.num(2.0);
                    let sq = self.raw(Node::HPow([b, two]))?;
                    let top = self.raw(Node::Hadamard([a, db].into()))?;
                    let q = self.raw(Node::HDiv([top, sq]))?;
                    terms.push(self.raw(Node::Neg(q))?);
                }
                self.sum_of(terms)
            }
            Node::Pow([a, k]) => self.d_pow(id, a, k),
            Node::HPow([a, c]) => {
                self.use_rule(RuleId::D13);
                let mut terms = Terms::new();
                if let Some(da) = self.d(a)? {
                    let cv = match self.s.pool.node(c) {
                        Node::Num(n) => Some(n.get()),
                        _ => None,
                    };
                    let lower = match cv {
                        Some(2.0) => a,
                        Some(v) => {
                            let k = self.s.pool.num(v - 1.0);
                            self.raw(Node::HPow([a, k]))?
                        }
                        None => {
                            let one = self.s.pool.num(1.0);
                            let minus = self.raw(Node::Neg(one))?;
                            let k = self.raw(Node::Add([c, minus].into()))?;
                            self.raw(Node::HPow([a, k]))?
                        }
                    };
                    let had = self.raw(Node::Hadamard([lower, da].into()))?;
                    terms.push(self.raw(Node::Mul([c, had].into()))?);
                }
                if let Some(dc) = self.d(c)? {
                    let log = self.raw(Node::Apply {
                        fun: Fun::Builtin(matdiff_expr::Func::Log),
                        order: 0,
                        arg: a,
                    })?;
                    let had = self.raw(Node::Hadamard([id, log].into()))?;
                    terms.push(self.raw(Node::Mul([dc, had].into()))?);
                }
                self.sum_of(terms)
            }
            Node::Transpose(a) => {
                self.use_rule(RuleId::D3);
                match self.d(a)? {
                    Some(da) => Ok(Some(self.raw(Node::Transpose(da))?)),
                    None => Ok(None),
                }
            }
            Node::Apply { fun, order, arg } => {
                let Some(da) = self.d(arg)? else {
                    return Ok(None);
                };
                if fun == Fun::Builtin(matdiff_expr::Func::Sign) {
                    // Piecewise constant: d sign(X) = 0 (also at 0, a subgradient).
                    self.use_rule(RuleId::F5);
                    let _ = da;
                    return Ok(None);
                }
                let deriv = self.derivative_of(id, fun, order, arg)?;
                if scalar(self, arg) {
                    self.use_rule(RuleId::D11);
                    Ok(Some(self.raw(Node::Mul([deriv, da].into()))?))
                } else {
                    self.use_rule(RuleId::D8);
                    Ok(Some(self.raw(Node::Hadamard([deriv, da].into()))?))
                }
            }
            Node::Reduce(Reduce::Trace, p) if self.symbolic_power(p).is_some() => {
                // d tr(M^k) = k tr(M^(k-1) dM) for an integer symbol k (Matrix Cookbook 121).
                let (m, k) = self.symbolic_power(p).expect("checked");
                if self.d(k)?.is_some() {
                    return Err(self.integer_exponent(id));
                }
                let Some(dm) = self.d(m)? else {
                    return Ok(None);
                };
                self.use_rule(RuleId::D23);
                let minus_one = self.s.pool.num(-1.0);
                let k1 = self.raw(Node::Add([k, minus_one].into()))?;
                let lower = self.raw(Node::Pow([m, k1]))?;
                let prod = self.raw(Node::Mul([lower, dm].into()))?;
                let t = self.raw(Node::Reduce(Reduce::Trace, prod))?;
                Ok(Some(self.raw(Node::Mul([k, t].into()))?))
            }
            Node::Reduce(r, a) => {
                let Some(da) = self.d(a)? else {
                    return Ok(None);
                };
                let vector = self.s.pool.shape(a).cols == matdiff_expr::Dim::ONE;
                Ok(Some(match r {
                    Reduce::Trace => {
                        self.use_rule(RuleId::D4);
                        self.raw(Node::Reduce(Reduce::Trace, da))?
                    }
                    Reduce::Sum => {
                        self.use_rule(RuleId::D14);
                        self.raw(Node::Reduce(Reduce::Sum, da))?
                    }
                    Reduce::Det => {
                        self.use_rule(RuleId::D6);
                        let inv = self.raw(Node::Inv(a))?;
                        let p = self.raw(Node::Mul([inv, da].into()))?;
                        let t = self.raw(Node::Reduce(Reduce::Trace, p))?;
                        self.raw(Node::Mul([id, t].into()))?
                    }
                    Reduce::LogDet | Reduce::LogAbsDet => {
                        self.use_rule(if r == Reduce::LogDet {
                            RuleId::D10
                        } else {
                            RuleId::D21
                        });
                        let inv = self.raw(Node::Inv(a))?;
                        let p = self.raw(Node::Mul([inv, da].into()))?;
                        self.raw(Node::Reduce(Reduce::Trace, p))?
                    }
                    Reduce::Norm1 => {
                        self.use_rule(RuleId::D15);
                        let sign = self.raw(Node::Apply {
                            fun: Fun::Builtin(matdiff_expr::Func::Abs),
                            order: 1,
                            arg: a,
                        })?;
                        let h = self.raw(Node::Hadamard([sign, da].into()))?;
                        self.raw(Node::Reduce(Reduce::Sum, h))?
                    }
                    Reduce::Norm2 => {
                        self.use_rule(RuleId::D16);
                        let inner = self.inner_product(a, da, vector)?;
                        self.raw(Node::Div([inner, id]))?
                    }
                    Reduce::Max | Reduce::Min => {
                        // The indicator of the extreme entries (sign(max(X) - X) is 0 exactly
                        // there), shared evenly at ties.
                        // The gap max(X) - X (min(X) - X) keeps X whole, never spliced into
                        // a sum of its terms: computed from one value of X it is exactly 0 at
                        // the extreme entries and of one sign elsewhere (the derivation names
                        // X when it is not a variable, for the same reason).
                        self.use_rule(RuleId::D22);
                        let neg_a = self.raw(Node::Neg(a))?;
                        let gap = self.raw(Node::Add([id, neg_a].into()))?;
                        let sign = self.raw(Node::Apply {
                            fun: Fun::Builtin(matdiff_expr::Func::Sign),
                            order: 0,
                            arg: gap,
                        })?;
                        // All ones of the shape of X, written out (not a broadcast 1): the
                        // count of extreme entries is then sum(ones - sign(...)).
                        let shape = self.s.pool.shape(a);
                        let mut ones = Vec::new();
                        for (d, transposed) in [(shape.rows, false), (shape.cols, true)] {
                            if d != matdiff_expr::Dim::ONE {
                                let o = self.raw(Node::Ones(d))?;
                                ones.push(if transposed {
                                    self.raw(Node::Transpose(o))?
                                } else {
                                    o
                                });
                            }
                        }
                        let one = match ones.len() {
                            0 => self.s.pool.num(1.0),
                            1 => ones[0],
                            _ => self.raw(Node::Mul(ones.into()))?,
                        };
                        // 1 - sign(max(X) - X), 1 + sign(min(X) - X): 1 at the extreme entries.
                        let signed = if r == Reduce::Max {
                            self.raw(Node::Neg(sign))?
                        } else {
                            sign
                        };
                        let ind = self.raw(Node::Add([one, signed].into()))?;
                        let count = self.raw(Node::Reduce(Reduce::Sum, ind))?;
                        let w = self.raw(Node::Div([ind, count]))?;
                        let h = self.raw(Node::Hadamard([w, da].into()))?;
                        self.raw(Node::Reduce(Reduce::Sum, h))?
                    }
                    Reduce::LogSumExp => {
                        // d logsumexp(x) = softmax(x)'*dx, softmax(x) = exp(x - logsumexp(x)).
                        self.use_rule(RuleId::D20);
                        let neg = self.raw(Node::Neg(id))?;
                        let shifted = self.raw(Node::Add([a, neg].into()))?;
                        let softmax = self.raw(Node::Apply {
                            fun: Fun::Builtin(matdiff_expr::Func::Exp),
                            order: 0,
                            arg: shifted,
                        })?;
                        self.inner_product(softmax, da, true)?
                    }
                }))
            }
            Node::Inv(a) => {
                self.use_rule(RuleId::D5);
                let Some(da) = self.d(a)? else {
                    return Ok(None);
                };
                let p = self.raw(Node::Mul([id, da, id].into()))?;
                Ok(Some(self.raw(Node::Neg(p))?))
            }
            Node::Diag(a) => {
                self.use_rule(RuleId::D17);
                let Some(da) = self.d(a)? else {
                    return Ok(None);
                };
                Ok(Some(self.raw(Node::Diag(da))?))
            }
            Node::LogSumExpCols(a) => {
                // One per column: d logsumexp(X) = ones'*(softmax(X) .* dX), the softmax of
                // each column exp(X - ones*logsumexp(X)).
                self.use_rule(RuleId::D20);
                let Some(da) = self.d(a)? else {
                    return Ok(None);
                };
                let rows = self.s.pool.shape(a).rows;
                let ones = self.raw(Node::Ones(rows))?;
                let broadcast = self.raw(Node::Mul([ones, id].into()))?;
                let neg = self.raw(Node::Neg(broadcast))?;
                let shifted = self.raw(Node::Add([a, neg].into()))?;
                let softmax = self.raw(Node::Apply {
                    fun: Fun::Builtin(matdiff_expr::Func::Exp),
                    order: 0,
                    arg: shifted,
                })?;
                let weighted = self.raw(Node::Hadamard([softmax, da].into()))?;
                let ones_t = self.raw(Node::Transpose(ones))?;
                Ok(Some(self.raw(Node::Mul([ones_t, weighted].into()))?))
            }
            Node::Tri(t, a) => {
                self.use_rule(RuleId::D24);
                let Some(da) = self.d(a)? else {
                    return Ok(None);
                };
                Ok(Some(self.raw(Node::Tri(t, da))?))
            }
            Node::Commutation(..) => Ok(None),
            Node::Kron([a, b]) => {
                self.use_rule(RuleId::D25);
                let (da, db) = (self.d(a)?, self.d(b)?);
                let mut terms = Terms::new();
                if let Some(da) = da {
                    terms.push(self.raw(Node::Kron([da, b]))?);
                }
                if let Some(db) = db {
                    terms.push(self.raw(Node::Kron([a, db]))?);
                }
                self.sum_of(terms)
            }
            Node::Vectorize(a) => {
                self.use_rule(RuleId::D26);
                let Some(da) = self.d(a)? else {
                    return Ok(None);
                };
                Ok(Some(self.raw(Node::Vectorize(da))?))
            }
            Node::Unvec(g, m) => {
                self.use_rule(RuleId::D26);
                let Some(dg) = self.d(g)? else {
                    return Ok(None);
                };
                Ok(Some(self.raw(Node::Unvec(dg, m))?))
            }
        }
    }

    /// `a'*b` for vectors, `tr(a'*b)` for matrices.
    fn inner_product(&mut self, a: ExprId, b: ExprId, vector: bool) -> Result<ExprId, DeriveError> {
        let at = self.raw(Node::Transpose(a))?;
        let p = self.raw(Node::Mul([at, b].into()))?;
        if vector {
            Ok(p)
        } else {
            Ok(self.raw(Node::Reduce(Reduce::Trace, p))?)
        }
    }

    /// `(M, k)` of a matrix power `M^k` by a symbol (not a number).
    fn symbolic_power(&self, id: ExprId) -> Option<(ExprId, ExprId)> {
        match self.s.pool.node(id) {
            Node::Pow([m, k])
                if !self.s.pool.shape(*m).is_scalar()
                    && !matches!(self.s.pool.node(*k), Node::Num(_)) =>
            {
                Some((*m, *k))
            }
            _ => None,
        }
    }

    fn integer_exponent(&self, id: ExprId) -> DeriveError {
        DeriveError::Unsupported {
            expr: self.s.pool.plain(id),
            wrt: self.s.pool.plain(self.wrt_node),
            why: "an integer exponent has no derivative",
        }
    }

    fn d_pow(&mut self, id: ExprId, a: ExprId, k: ExprId) -> Differential {
        let kv = match self.s.pool.node(k) {
            Node::Num(n) => Some(n.get()),
            _ => None,
        };
        if self.symbolic_power(id).is_some() {
            if self.d(k)?.is_some() {
                return Err(self.integer_exponent(id));
            }
            if self.d(a)?.is_some() {
                return Err(DeriveError::Unsupported {
                    expr: self.s.pool.plain(id),
                    wrt: self.s.pool.plain(self.wrt_node),
                    why: "the differential of X^k for an integer symbol k is a sum of k terms with no closed form; only tr(X^k) is differentiated (k*(X^(k-1))')",
                });
            }
            return Ok(None);
        }
        let da = self.d(a)?;
        let dk = self.d(k)?;
        let mut terms = Terms::new();
        if let Some(da) = da {
            if self.s.pool.shape(a).is_scalar() {
                // d ||v||^2 = 2 v' dv: the squared norm without a square root.
                if let (Some(2.0), Node::Reduce(Reduce::Norm2, v)) =
                    (kv, self.s.pool.node(a).clone())
                {
                    if let Some(dv) = self.d(v)? {
                        self.use_rule(RuleId::D16);
                        let vector = self.s.pool.shape(v).cols == matdiff_expr::Dim::ONE;
                        let inner = self.inner_product(v, dv, vector)?;
                        let two = self.s.pool.num(2.0);
                        terms.push(self.raw(Node::Mul([two, inner].into()))?);
                        return self.sum_of(terms);
                    }
                }
                self.use_rule(RuleId::D11);
                let lower = match kv {
                    Some(2.0) => a,
                    Some(v) => {
                        let k1 = self.s.pool.num(v - 1.0);
                        self.raw(Node::Pow([a, k1]))?
                    }
                    None => {
                        let one = self.s.pool.num(-1.0);
                        let k1 = self.raw(Node::Add([k, one].into()))?;
                        self.raw(Node::Pow([a, k1]))?
                    }
                };
                terms.push(self.raw(Node::Mul([k, lower, da].into()))?);
            } else {
                self.use_rule(RuleId::D18);
                let kv = kv.expect("matrix powers have number exponents") as i64;
                let (base, dbase, count) = if kv >= 0 {
                    (a, da, kv)
                } else {
                    self.use_rule(RuleId::D5);
                    let inv = self.raw(Node::Inv(a))?;
                    let p = self.raw(Node::Mul([inv, da, inv].into()))?;
                    (inv, self.raw(Node::Neg(p))?, -kv)
                };
                for i in 0..count {
                    let mut factors = Vec::new();
                    if i > 0 {
                        factors.push(self.power(base, i)?);
                    }
                    factors.push(dbase);
                    if count - 1 - i > 0 {
                        factors.push(self.power(base, count - 1 - i)?);
                    }
                    terms.push(if factors.len() == 1 {
                        factors[0]
                    } else {
                        self.raw(Node::Mul(factors.into()))?
                    });
                }
            }
        }
        if let Some(dk) = dk {
            self.use_rule(RuleId::D11);
            let log = self.raw(Node::Apply {
                fun: Fun::Builtin(matdiff_expr::Func::Log),
                order: 0,
                arg: a,
            })?;
            terms.push(self.raw(Node::Mul([log, id, dk].into()))?);
        }
        self.sum_of(terms)
    }

    fn power(&mut self, base: ExprId, k: i64) -> Result<ExprId, DeriveError> {
        if k == 1 {
            return Ok(base);
        }
        let k = self.s.pool.num(k as f64);
        self.raw(Node::Pow([base, k]))
    }

    /// `f'''(z)` written with `f`, `f'` and `f''` of `z` (`tanh'''(z)` is
    /// `-2*(tanh'(z).^2 + tanh(z) .* tanh''(z))`), for the built-in functions: the derivative of
    /// the language's highest order. Only values appear in it, so no differential flows
    /// through it.
    fn third_derivative(&mut self, f: Func, z: ExprId) -> Differential {
        let call = |e: &mut Self, order: u8| {
            e.raw(Node::Apply {
                fun: Fun::Builtin(f),
                order,
                arg: z,
            })
        };
        let num = |e: &mut Self, v: f64| e.s.pool.num(v);
        Ok(Some(match f {
            // sigmoid''' = sigmoid' .* (1 - 6*sigmoid')
            Func::Sigmoid => {
                let (ds, one, six) = (call(self, 1)?, num(self, 1.0), num(self, -6.0));
                let scaled = self.raw(Node::Mul([six, ds].into()))?;
                let rest = self.raw(Node::Add([one, scaled].into()))?;
                self.raw(Node::Hadamard([ds, rest].into()))?
            }
            // tanh''' = -2*(tanh'.^2 + tanh .* tanh''), tan''' = 2*(tan'.^2 + tan .* tan'')
            Func::Tanh | Func::Tan => {
                let (t, dt, ddt) = (call(self, 0)?, call(self, 1)?, call(self, 2)?);
                let two = num(self, 2.0);
                let sq = self.raw(Node::HPow([dt, two]))?;
                let prod = self.raw(Node::Hadamard([t, ddt].into()))?;
                let sum = self.raw(Node::Add([sq, prod].into()))?;
                let k = num(self, if f == Func::Tanh { -2.0 } else { 2.0 });
                self.raw(Node::Mul([k, sum].into()))?
            }
            // sqrt''' = 0.375 * z.^(-2.5), log''' = 2 * z.^(-3)
            Func::Sqrt | Func::Log => {
                let (k, e) = if f == Func::Sqrt {
                    (num(self, 0.375), num(self, -2.5))
                } else {
                    (num(self, 2.0), num(self, -3.0))
                };
                let p = self.raw(Node::HPow([z, e]))?;
                self.raw(Node::Mul([k, p].into()))?
            }
            Func::Exp => call(self, 0)?,
            // sin''' = -cos, cos''' = sin
            Func::Sin | Func::Cos => {
                let other = self.raw(Node::Apply {
                    fun: Fun::Builtin(if f == Func::Sin { Func::Cos } else { Func::Sin }),
                    order: 0,
                    arg: z,
                })?;
                if f == Func::Sin {
                    self.raw(Node::Neg(other))?
                } else {
                    other
                }
            }
            // softplus''' = sigmoid''
            Func::Softplus => self.raw(Node::Apply {
                fun: Fun::Builtin(Func::Sigmoid),
                order: 2,
                arg: z,
            })?,
            // relu''', abs''' and sign''' are zero wherever they are defined.
            Func::Relu | Func::Abs | Func::Sign => num(self, 0.0),
            // sinh''' = cosh, cosh''' = sinh, expm1''' = exp
            Func::Sinh | Func::Cosh | Func::Expm1 => {
                let g = match f {
                    Func::Sinh => Func::Cosh,
                    Func::Cosh => Func::Sinh,
                    _ => Func::Exp,
                };
                self.raw(Node::Apply {
                    fun: Fun::Builtin(g),
                    order: 0,
                    arg: z,
                })?
            }
            // log1p''' = 2*(1 + z).^(-3)
            Func::Log1p => {
                let (one, k, e) = (num(self, 1.0), num(self, 2.0), num(self, -3.0));
                let base = self.raw(Node::Add([one, z].into()))?;
                let p = self.raw(Node::HPow([base, e]))?;
                self.raw(Node::Mul([k, p].into()))?
            }
            // arctan''' = (6*z.^2 - 2) ./ (1 + z.^2).^3
            Func::Arctan => {
                let (one, two, three, six) = (
                    num(self, 1.0),
                    num(self, 2.0),
                    num(self, 3.0),
                    num(self, 6.0),
                );
                let sq = self.raw(Node::HPow([z, two]))?;
                let six_sq = self.raw(Node::Mul([six, sq].into()))?;
                let minus_two = num(self, -2.0);
                let top = self.raw(Node::Add([six_sq, minus_two].into()))?;
                let base = self.raw(Node::Add([one, sq].into()))?;
                let bottom = self.raw(Node::HPow([base, three]))?;
                self.raw(Node::HDiv([top, bottom]))?
            }
            // arcsin''' = (1 + 2*z.^2) ./ (1 - z.^2).^2.5, arccos''' its negative
            Func::Arcsin | Func::Arccos => {
                let (one, two, power) = (num(self, 1.0), num(self, 2.0), num(self, 2.5));
                let sq = self.raw(Node::HPow([z, two]))?;
                let two_sq = self.raw(Node::Mul([two, sq].into()))?;
                let top = self.raw(Node::Add([one, two_sq].into()))?;
                let minus_sq = self.raw(Node::Neg(sq))?;
                let base = self.raw(Node::Add([one, minus_sq].into()))?;
                let bottom = self.raw(Node::HPow([base, power]))?;
                let q = self.raw(Node::HDiv([top, bottom]))?;
                if f == Func::Arcsin {
                    q
                } else {
                    self.raw(Node::Neg(q))?
                }
            }
            #[allow(unreachable_patterns)]
            _ => return Ok(None),
        }))
    }

    /// `f'(arg)` (or the next order) for an element-wise function: a registered derivative, or
    /// the derivative notation written out where the language has a closed form.
    fn derivative_of(
        &mut self,
        id: ExprId,
        fun: Fun,
        order: u8,
        arg: ExprId,
    ) -> Result<ExprId, DeriveError> {
        if let (Fun::Abstract(sym), 0) = (fun, order) {
            let name = self.s.pool.name(sym).to_string();
            if let Some(template) = self.functions.derivative(&name).map(str::to_string) {
                return self.instantiate(&name, &template, arg);
            }
        }
        if let (Fun::Builtin(f), 2) = (fun, order) {
            if let Some(third) = self.third_derivative(f, arg)? {
                return Ok(third);
            }
        }
        if order >= 2 {
            return Err(DeriveError::Order {
                expr: self.s.pool.plain(id),
            });
        }
        Ok(self.s.apply(fun, order + 1, arg)?)
    }
}
