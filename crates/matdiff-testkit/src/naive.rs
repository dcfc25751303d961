//! The reference evaluator: a recursive walk over the parsed expression on dense complex
//! matrices, one textbook operation per node (Gauss-Jordan inverse, LU determinant). It shares
//! nothing with the rewriter or with `Plan`; every function is the analytic extension of its
//! real counterpart, so the complex step through it gives the exact derivative.

use std::collections::HashMap;

use matdiff_expr::{Dim, ExprId, ExprPool, Fun, Func, Node, Reduce};
use num_complex::Complex64 as C;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// A dense complex matrix, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Cm {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// The entries, row by row.
    pub data: Vec<C>,
}

/// Why the reference cannot evaluate an expression at these values (the case is drawn again).
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// A function outside its domain (the log or square root of a negative number, the
    /// log-determinant of a matrix with a negative determinant).
    Domain,
    /// A matrix too close to singular for the reference to be trusted.
    IllConditioned,
    /// A construct the reference does not know (an abstract function).
    Unsupported(String),
}

impl Cm {
    /// A matrix from a function of the position.
    pub fn from_fn(rows: usize, cols: usize, f: impl Fn(usize, usize) -> C) -> Cm {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Cm { rows, cols, data }
    }

    /// A 1x1 matrix.
    pub fn scalar(v: C) -> Cm {
        Cm {
            rows: 1,
            cols: 1,
            data: vec![v],
        }
    }

    /// The entry at `(i, j)`.
    pub fn at(&self, i: usize, j: usize) -> C {
        self.data[i * self.cols + j]
    }

    fn is_scalar(&self) -> bool {
        self.rows == 1 && self.cols == 1
    }

    fn map(&self, f: impl Fn(C) -> C) -> Cm {
        Cm {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    fn transpose(&self) -> Cm {
        Cm::from_fn(self.cols, self.rows, |i, j| self.at(j, i))
    }

    fn matmul(&self, b: &Cm) -> Cm {
        assert_eq!(self.cols, b.rows, "inner dimensions");
        Cm::from_fn(self.rows, b.cols, |i, j| {
            (0..self.cols).map(|k| self.at(i, k) * b.at(k, j)).sum()
        })
    }
}

/// `f(a, b)` entry by entry, a 1x1 operand standing in every entry.
fn broadcast(a: &Cm, b: &Cm, f: impl Fn(C, C) -> C) -> Cm {
    let (r, c) = if a.is_scalar() {
        (b.rows, b.cols)
    } else {
        (a.rows, a.cols)
    };
    let get = |m: &Cm, i: usize, j: usize| if m.is_scalar() { m.data[0] } else { m.at(i, j) };
    Cm::from_fn(r, c, |i, j| f(get(a, i, j), get(b, i, j)))
}

/// The sizes of the symbolic dimensions, read off the values of the variables.
fn dims(pool: &ExprPool, values: &HashMap<String, Cm>) -> HashMap<Dim, usize> {
    let mut out = HashMap::new();
    for (sym, info) in pool.vars() {
        if let Some(v) = values.get(pool.name(sym)) {
            out.insert(info.shape.rows, v.rows);
            out.insert(info.shape.cols, v.cols);
        }
    }
    out
}

/// Evaluates `root` at `values` (every variable by name).
pub fn eval(pool: &ExprPool, root: ExprId, values: &HashMap<String, Cm>) -> Result<Cm, Refused> {
    let mut ev = Evaluator {
        pool,
        values,
        dims: dims(pool, values),
        memo: HashMap::new(),
        rounding: None,
    };
    ev.eval(root)
}

/// Evaluates `root` at `values` with the rounding of every step made random: each computed
/// value (every node's but the inputs' and constants') is multiplied entry by entry by
/// `1 + δ`, `δ` drawn uniformly in `±2⁻⁵²` from `seed`. The change from [`eval`] is the size of
/// the rounding error any floating-point evaluation of that formula carries (Monte Carlo
/// arithmetic, node by node): large where terms cancel. No value is refused for its size.
pub fn eval_rounded(
    pool: &ExprPool,
    root: ExprId,
    values: &HashMap<String, Cm>,
    seed: u64,
) -> Result<Cm, Refused> {
    let mut ev = Evaluator {
        pool,
        values,
        dims: dims(pool, values),
        memo: HashMap::new(),
        rounding: Some(SmallRng::seed_from_u64(seed)),
    };
    ev.eval(root)
}

struct Evaluator<'a> {
    pool: &'a ExprPool,
    values: &'a HashMap<String, Cm>,
    dims: HashMap<Dim, usize>,
    memo: HashMap<ExprId, Cm>,
    /// Random rounding of every computed value ([`eval_rounded`]).
    rounding: Option<SmallRng>,
}

impl Evaluator<'_> {
    fn size(&self, d: Dim) -> Result<usize, Refused> {
        match d {
            Dim::Known(k) => Ok(k as usize),
            Dim::Prod(_) if !self.dims.contains_key(&d) => self
                .pool
                .dim_factors(d)
                .into_iter()
                .try_fold(1usize, |n, f| Ok(n * self.size(f)?)),
            d => self
                .dims
                .get(&d)
                .copied()
                .ok_or_else(|| Refused::Unsupported("a dimension no value fixes".into())),
        }
    }

    fn eval(&mut self, id: ExprId) -> Result<Cm, Refused> {
        if let Some(m) = self.memo.get(&id) {
            return Ok(m.clone());
        }
        let mut m = self.node(id)?;
        if m.data
            .iter()
            .any(|z| !z.re.is_finite() || !z.im.is_finite())
        {
            return Err(Refused::Domain);
        }
        if let Some(rng) = &mut self.rounding {
            let exact = matches!(
                self.pool.node(id),
                Node::Var(_) | Node::Num(_) | Node::Ones(_) | Node::Identity(_)
            );
            if !exact {
                for z in &mut m.data {
                    *z *= 1.0 + rng.random_range(-1.0..1.0) * f64::EPSILON;
                }
            }
            self.memo.insert(id, m.clone());
            return Ok(m);
        }
        // Beyond this, rounding in one order of operations or another changes the digits the
        // comparison looks at (sin of a large argument, cancellation in an inverse).
        if m.data.iter().any(|z| z.re.abs() > 1e3) {
            return Err(Refused::IllConditioned);
        }
        self.memo.insert(id, m.clone());
        Ok(m)
    }

    fn node(&mut self, id: ExprId) -> Result<Cm, Refused> {
        let one = C::new(1.0, 0.0);
        Ok(match self.pool.node(id).clone() {
            Node::Var(s) => self.values.get(self.pool.name(s)).cloned().ok_or_else(|| {
                Refused::Unsupported(format!("no value of {}", self.pool.name(s)))
            })?,
            Node::Num(n) => Cm::scalar(C::new(n.get(), 0.0)),
            Node::Identity(d) => {
                let n = self.size(d)?;
                Cm::from_fn(n, n, |i, j| if i == j { one } else { C::new(0.0, 0.0) })
            }
            Node::Ones(d) => Cm::from_fn(self.size(d)?, 1, |_, _| one),
            Node::Neg(a) => self.eval(a)?.map(|x| -x),
            Node::Add(xs) => {
                let mut acc = self.eval(xs[0])?;
                for &x in &xs[1..] {
                    acc = broadcast(&acc, &self.eval(x)?, |p, q| p + q);
                }
                acc
            }
            Node::Hadamard(xs) => {
                let mut acc = self.eval(xs[0])?;
                for &x in &xs[1..] {
                    acc = broadcast(&acc, &self.eval(x)?, |p, q| p * q);
                }
                acc
            }
            Node::Mul(xs) => {
                let mut acc = self.eval(xs[0])?;
                for &x in &xs[1..] {
                    let b = self.eval(x)?;
                    acc = if acc.cols == b.rows {
                        acc.matmul(&b)
                    } else if acc.is_scalar() {
                        b.map(|q| acc.data[0] * q)
                    } else if b.is_scalar() {
                        acc.map(|p| p * b.data[0])
                    } else {
                        unreachable!("shapes are checked by the pool")
                    };
                }
                acc
            }
            Node::Div([a, s]) | Node::HDiv([a, s]) => {
                broadcast(&self.eval(a)?, &self.eval(s)?, |p, q| p / q)
            }
            Node::HPow([a, k]) => {
                let (a, k) = (self.eval(a)?, self.eval(k)?.data[0]);
                let whole = k.im == 0.0 && k.re.fract() == 0.0 && k.re.abs() < 64.0;
                if !whole && a.data.iter().any(|z| z.re <= 0.0) {
                    return Err(Refused::Domain);
                }
                a.map(|z| {
                    if whole {
                        z.powi(k.re as i32)
                    } else {
                        z.powc(k)
                    }
                })
            }
            Node::Pow([a, k]) => {
                let (a, k) = (self.eval(a)?, self.eval(k)?.data[0]);
                let whole = k.im == 0.0 && k.re.fract() == 0.0 && k.re.abs() < 64.0;
                if a.is_scalar() {
                    let z = a.data[0];
                    if !whole && z.re <= 0.0 {
                        return Err(Refused::Domain);
                    }
                    return Ok(Cm::scalar(if whole {
                        z.powi(k.re as i32)
                    } else {
                        z.powc(k)
                    }));
                }
                if !whole {
                    return Err(Refused::Unsupported(
                        "a matrix to a fractional power".into(),
                    ));
                }
                let base = if k.re < 0.0 { inverse(&a)? } else { a.clone() };
                let n = base.rows;
                let mut acc = Cm::from_fn(n, n, |i, j| if i == j { one } else { C::new(0.0, 0.0) });
                for _ in 0..(k.re.abs() as usize) {
                    acc = acc.matmul(&base);
                }
                acc
            }
            Node::Transpose(a) => self.eval(a)?.transpose(),
            Node::Inv(a) => inverse(&self.eval(a)?)?,
            Node::Diag(a) => {
                let a = self.eval(a)?;
                if a.cols == 1 {
                    Cm::from_fn(a.rows, a.rows, |i, j| {
                        if i == j {
                            a.at(i, 0)
                        } else {
                            C::new(0.0, 0.0)
                        }
                    })
                } else {
                    Cm::from_fn(a.rows, 1, |i, _| a.at(i, i))
                }
            }
            Node::LogSumExpCols(a) => {
                // log(sum(exp(x))) of each column, as written (no shift: the reference).
                let a = self.eval(a)?;
                Cm::from_fn(1, a.cols, |_, j| {
                    (0..a.rows).map(|i| a.at(i, j).exp()).sum::<C>().ln()
                })
            }
            // The textbook definitions: block (i, j) of A ⊗ B is A(i, j)*B; vec stacks the
            // columns; K(m, n) moves entry (i, j) of an m x n matrix from i + j*m to j + i*n.
            Node::Kron([a, b]) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let (p, q) = (b.rows, b.cols);
                Cm::from_fn(a.rows * p, a.cols * q, |i, j| {
                    a.at(i / p, j / q) * b.at(i % p, j % q)
                })
            }
            Node::Vectorize(a) => {
                let a = self.eval(a)?;
                Cm::from_fn(a.rows * a.cols, 1, |k, _| a.at(k % a.rows, k / a.rows))
            }
            Node::Unvec(g, m) => {
                let g = self.eval(g)?;
                let m = self.size(m)?;
                Cm::from_fn(m, g.rows / m, |i, j| g.at(i + j * m, 0))
            }
            Node::Commutation(m, n) => {
                let (m, n) = (self.size(m)?, self.size(n)?);
                Cm::from_fn(m * n, m * n, |r, c| {
                    // Row r = j + i*n has its one at column i + j*m.
                    let one = c == r / n + (r % n) * m;
                    C::new(if one { 1.0 } else { 0.0 }, 0.0)
                })
            }
            Node::Tri(t, a) => {
                let a = self.eval(a)?;
                let lower = t == matdiff_expr::Triangle::Lower;
                Cm::from_fn(a.rows, a.cols, |i, j| {
                    if (lower && i >= j) || (!lower && i <= j) {
                        a.at(i, j)
                    } else {
                        C::new(0.0, 0.0)
                    }
                })
            }
            Node::Reduce(r, a) => {
                let a = self.eval(a)?;
                Cm::scalar(match r {
                    Reduce::Trace => (0..a.rows).map(|i| a.at(i, i)).sum(),
                    Reduce::Sum => a.data.iter().sum(),
                    Reduce::Det => determinant(&a)?,
                    Reduce::LogDet => {
                        let d = determinant(&a)?;
                        if d.re <= 0.0 {
                            return Err(Refused::Domain);
                        }
                        d.ln()
                    }
                    Reduce::Norm1 => a.data.iter().map(|&z| abs(z)).sum(),
                    Reduce::LogSumExp => a.data.iter().map(|z| z.exp()).sum::<C>().ln(),
                    Reduce::LogAbsDet => {
                        let d = determinant(&a)?;
                        abs(d).ln()
                    }
                    Reduce::Max | Reduce::Min => {
                        let key = |z: &&C| if r == Reduce::Max { z.re } else { -z.re };
                        let mut sorted: Vec<&C> = a.data.iter().collect();
                        sorted.sort_by(|p, q| key(q).total_cmp(&key(p)));
                        let (first, second) =
                            (sorted[0].re, sorted.get(1).map_or(f64::NAN, |z| z.re));
                        if (first - second).abs() <= 1e-9 * (1.0 + first.abs()) {
                            // A tie (a symmetric matrix has them) or all but one: the
                            // derivative is a convention there, not a reference.
                            return Err(Refused::Domain);
                        }
                        *sorted[0]
                    }
                    Reduce::Norm2 => {
                        let s: C = a.data.iter().map(|&z| z * z).sum();
                        // The 2-norm has no derivative at zero, and a norm of rounding noise
                        // is a zero computed in another order: `log(exp(y)) - y` is 1e-17
                        // here and exactly 0 in matdiff-faer, whose gradient is then 0/0
                        // (seed 7000061324). Refused as the ties of `max` are.
                        if s.re <= 1e-18 {
                            return Err(Refused::Domain);
                        }
                        s.sqrt()
                    }
                })
            }
            Node::Apply { fun, order, arg } => {
                let Fun::Builtin(f) = fun else {
                    return Err(Refused::Unsupported("an abstract function".into()));
                };
                let a = self.eval(arg)?;
                let outside = |z: &C| match f {
                    Func::Log | Func::Sqrt => z.re <= 0.0,
                    Func::Log1p => z.re <= -1.0,
                    Func::Arcsin | Func::Arccos => z.re.abs() >= 1.0,
                    _ => false,
                };
                if a.data.iter().any(outside) {
                    return Err(Refused::Domain);
                }
                let data = a
                    .data
                    .iter()
                    .map(|&z| elementwise(f, order, z))
                    .collect::<Option<Vec<C>>>()
                    .ok_or_else(|| Refused::Unsupported(format!("{f:?} of order {order}")))?;
                Cm { data, ..a }
            }
        })
    }
}

/// The analytic extension of `|x|` (the sign of the real part times z).
fn abs(z: C) -> C {
    if z.re < 0.0 {
        -z
    } else {
        z
    }
}

/// `f^(order)(z)` by the textbook formulas.
fn elementwise(f: Func, order: u8, z: C) -> Option<C> {
    let one = C::new(1.0, 0.0);
    let sigmoid = |z: C| one / (one + (-z).exp());
    Some(match (f, order) {
        (Func::Exp, _) => z.exp(),
        (Func::Log, 0) => z.ln(),
        (Func::Log, 1) => one / z,
        (Func::Log, 2) => -one / (z * z),
        (Func::Sin, 0) => z.sin(),
        (Func::Sin, 1) => z.cos(),
        (Func::Sin, 2) => -z.sin(),
        (Func::Cos, 0) => z.cos(),
        (Func::Cos, 1) => -z.sin(),
        (Func::Cos, 2) => -z.cos(),
        (Func::Tan, 0) => z.tan(),
        (Func::Tan, 1) => one + z.tan() * z.tan(),
        (Func::Tan, 2) => 2.0 * z.tan() * (one + z.tan() * z.tan()),
        (Func::Tanh, 0) => z.tanh(),
        (Func::Tanh, 1) => one - z.tanh() * z.tanh(),
        (Func::Tanh, 2) => -2.0 * z.tanh() * (one - z.tanh() * z.tanh()),
        (Func::Sigmoid, 0) | (Func::Softplus, 1) => sigmoid(z),
        (Func::Sigmoid, 1) | (Func::Softplus, 2) => sigmoid(z) * (one - sigmoid(z)),
        (Func::Sigmoid, 2) => sigmoid(z) * (one - sigmoid(z)) * (one - 2.0 * sigmoid(z)),
        (Func::Softplus, 0) => (one + z.exp()).ln(),
        (Func::Relu, 0) => {
            if z.re > 0.0 {
                z
            } else {
                C::new(0.0, 0.0)
            }
        }
        (Func::Relu, 1) => C::new(if z.re > 0.0 { 1.0 } else { 0.0 }, 0.0),
        (Func::Abs, 0) => abs(z),
        (Func::Abs, 1) => C::new(if z.re < 0.0 { -1.0 } else { 1.0 }, 0.0),
        (Func::Relu | Func::Abs, 2) => C::new(0.0, 0.0),
        (Func::Sign, 0) if z.re == 0.0 => C::new(0.0, 0.0),
        (Func::Sign, 0) => C::new(z.re.signum(), 0.0),
        (Func::Sign, _) => C::new(0.0, 0.0),
        // The inverse trigonometric functions by their first-order expansion: num-complex
        // computes them through logarithms, which lose the tiny imaginary part of a complex
        // step. For the step, the expansion is exact (the second order is below 1e-40).
        (Func::Arcsin, 0) => C::new(z.re.asin(), z.im / (1.0 - z.re * z.re).sqrt()),
        (Func::Arccos, 0) => C::new(z.re.acos(), -z.im / (1.0 - z.re * z.re).sqrt()),
        (Func::Arcsin | Func::Arccos, 1) => {
            let d = one / (one - z * z).sqrt();
            if f == Func::Arcsin {
                d
            } else {
                -d
            }
        }
        (Func::Arcsin | Func::Arccos, 2) => {
            let d = z / (one - z * z).powf(1.5);
            if f == Func::Arcsin {
                d
            } else {
                -d
            }
        }
        (Func::Arctan, 0) => C::new(z.re.atan(), z.im / (1.0 + z.re * z.re)),
        (Func::Arctan, 1) => one / (one + z * z),
        (Func::Arctan, 2) => -2.0 * z / ((one + z * z) * (one + z * z)),
        (Func::Sinh, 0) | (Func::Cosh, 1) | (Func::Sinh, 2) => z.sinh(),
        (Func::Cosh, 0) | (Func::Sinh, 1) | (Func::Cosh, 2) => z.cosh(),
        (Func::Log1p, 0) => (one + z).ln(),
        (Func::Log1p, 1) => one / (one + z),
        (Func::Log1p, 2) => -one / ((one + z) * (one + z)),
        (Func::Expm1, 0) => z.exp() - one,
        (Func::Expm1, _) => z.exp(),
        (Func::Sqrt, 0) => z.sqrt(),
        (Func::Sqrt, 1) => 0.5 / z.sqrt(),
        (Func::Sqrt, 2) => -0.25 / (z * z.sqrt()),
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// LU with partial pivoting: the pivots, or ill-conditioned when their moduli spread by more
/// than 1e8 (the reference would lose too many digits).
fn pivots(a: &Cm) -> Result<(Vec<C>, bool), Refused> {
    let n = a.rows;
    let mut m = a.clone();
    let mut odd = false;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| m.at(i, k).norm().total_cmp(&m.at(j, k).norm()))
            .expect("a row");
        if p != k {
            odd = !odd;
            for j in 0..n {
                m.data.swap(k * n + j, p * n + j);
            }
        }
        let pivot = m.at(k, k);
        out.push(pivot);
        if pivot.norm() == 0.0 {
            return Err(Refused::IllConditioned);
        }
        for i in k + 1..n {
            let f = m.at(i, k) / pivot;
            for j in k..n {
                let v = m.at(k, j);
                m.data[i * n + j] -= f * v;
            }
        }
    }
    let max = out.iter().map(|z| z.norm()).fold(0.0, f64::max);
    let min = out.iter().map(|z| z.norm()).fold(f64::INFINITY, f64::min);
    if min < 1e-4 * max {
        return Err(Refused::IllConditioned);
    }
    Ok((out, odd))
}

fn determinant(a: &Cm) -> Result<C, Refused> {
    // The derivative of a determinant goes through the inverse: the same condition applies.
    inverse(a)?;
    let (p, odd) = pivots(a)?;
    let d: C = p.iter().product();
    Ok(if odd { -d } else { d })
}

/// Gauss-Jordan elimination with partial pivoting.
fn inverse(a: &Cm) -> Result<Cm, Refused> {
    pivots(a)?;
    let n = a.rows;
    let mut m = a.clone();
    let mut inv = Cm::from_fn(n, n, |i, j| C::new(if i == j { 1.0 } else { 0.0 }, 0.0));
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| m.at(i, k).norm().total_cmp(&m.at(j, k).norm()))
            .expect("a row");
        for j in 0..n {
            m.data.swap(k * n + j, p * n + j);
            inv.data.swap(k * n + j, p * n + j);
        }
        let pivot = m.at(k, k);
        for j in 0..n {
            m.data[k * n + j] /= pivot;
            inv.data[k * n + j] /= pivot;
        }
        for i in 0..n {
            if i != k {
                let f = m.at(i, k);
                for j in 0..n {
                    let (mv, iv) = (m.at(k, j), inv.at(k, j));
                    m.data[i * n + j] -= f * mv;
                    inv.data[i * n + j] -= f * iv;
                }
            }
        }
    }
    // An estimate of the condition number: beyond 1e3, the digits the comparison looks at depend
    // on the order of operations.
    let big = |m: &Cm| m.data.iter().map(|z| z.norm()).fold(0.0, f64::max);
    if big(a) * big(&inv) * n as f64 > 1e3 {
        return Err(Refused::IllConditioned);
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(rows: usize, cols: usize, v: &[f64]) -> Cm {
        Cm::from_fn(rows, cols, |i, j| C::new(v[i * cols + j], 0.0))
    }

    #[test]
    fn inverse_and_determinant_of_a_known_matrix() {
        let a = real(2, 2, &[4.0, 7.0, 2.0, 6.0]);
        let inv = inverse(&a).unwrap();
        let expect = real(2, 2, &[0.6, -0.7, -0.2, 0.4]);
        for (x, y) in inv.data.iter().zip(&expect.data) {
            assert!((x - y).norm() < 1e-15);
        }
        assert!((determinant(&a).unwrap() - C::new(10.0, 0.0)).norm() < 1e-14);
        let p = real(2, 2, &[0.0, 1.0, 1.0, 0.0]);
        assert_eq!(determinant(&p).unwrap(), C::new(-1.0, 0.0));
    }

    #[test]
    fn expressions_evaluate_as_written() {
        let mut pool = ExprPool::new();
        let e = pool.parse("sum(1 + y) + 2*A*A + tr(A)").unwrap();
        let values = HashMap::from([
            ("y".to_string(), real(2, 1, &[1.0, 2.0])),
            ("A".to_string(), real(2, 2, &[1.0, 2.0, 3.0, 4.0])),
        ]);
        // sum(1 + y) = 5; 2*A*A = [[14, 20], [30, 44]]; tr(A) = 5; broadcast over 2x2.
        let v = eval(&pool, e.root, &values).unwrap();
        let expect = real(2, 2, &[24.0, 30.0, 40.0, 54.0]);
        assert_eq!(v, expect);
    }
}
