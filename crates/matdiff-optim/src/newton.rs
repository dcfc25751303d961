//! Newton's method with a backtracking (Armijo) line search: the dense Hessian for small
//! problems, truncated conjugate gradients on Hessian-vector products (Newton-CG) for large ones.

use faer::{Mat, Side};

use crate::{OptimError, SecondOrder};

/// The settings of [`minimize`].
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The most Newton iterations (default 100).
    pub max_iterations: usize,
    /// Converged when the Euclidean norm of the gradient is at most this (default 1e-8).
    pub tolerance: f64,
    /// Up to this many unknowns the dense Hessian is formed (one Hessian-vector product per
    /// unknown) and factored (Cholesky), and a zero gradient is checked to be a minimum; above it,
    /// Newton-CG solves the Newton system by conjugate gradients on Hessian-vector products
    /// (default 32: Newton-CG needs fewer products on well-conditioned problems, see
    /// `benches/optim.rs`, while the dense path is exact and cheap in absolute terms when small).
    pub dense_limit: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_iterations: 100,
            tolerance: 1e-8,
            dense_limit: 32,
        }
    }
}

/// How the step of an iteration was found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The starting point (no step).
    Start,
    /// The Newton step of the dense Hessian, factored by Cholesky.
    Newton,
    /// The Newton step of truncated conjugate gradients, after this many Hessian-vector products.
    NewtonCg(usize),
    /// The steepest-descent step: the Hessian is not positive definite along the Newton direction.
    Gradient,
}

impl Direction {
    /// A short name: `start`, `newton`, `newton-cg`, `gradient`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Start => "start",
            Direction::Newton => "newton",
            Direction::NewtonCg(_) => "newton-cg",
            Direction::Gradient => "gradient",
        }
    }
}

/// One iterate of [`minimize`].
#[derive(Clone, Debug, PartialEq)]
pub struct Iteration {
    /// The objective.
    pub value: f64,
    /// The Euclidean norm of the gradient.
    pub gradient_norm: f64,
    /// The step length along the direction (1 is the full Newton step; 0 at the start).
    pub step: f64,
    /// The Euclidean norm of the step taken.
    pub step_norm: f64,
    /// How the direction was found.
    pub direction: Direction,
}

/// A minimiser found by [`minimize`].
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// The stacked unknowns.
    pub x: Vec<f64>,
    /// The objective there.
    pub value: f64,
    /// The gradient norm there (at most the tolerance).
    pub gradient_norm: f64,
    /// Every iterate, the starting point first: `history.len() - 1` iterations.
    pub history: Vec<Iteration>,
}

impl Solution {
    /// The number of Newton iterations (steps) taken.
    pub fn iterations(&self) -> usize {
        self.history.len() - 1
    }
}

/// The sufficient decrease constant of the Armijo condition.
const ARMIJO: f64 = 1e-4;

/// Minimises `f` from `x0` by Newton's method with a backtracking line search, stopping when the
/// gradient norm is at most `options.tolerance`.
///
/// Where the Hessian is not positive definite the step falls back to steepest descent (dense) or
/// to the last CG iterate before negative curvature; along a direction of non-positive curvature
/// the line search expands the step, and one that keeps decreasing without end is reported as
/// [`OptimError::Unbounded`]. A gradient that vanishes where the dense Hessian has a negative
/// eigenvalue is [`OptimError::NotAMinimum`] (this last check is made for dense problems only).
///
/// ```
/// use matdiff_expr::{Decl, ExprPool};
/// use matdiff_faer::{Mat, Values};
/// use matdiff_optim::{minimize, Derived, Options};
/// let mut pool = ExprPool::new();
/// let e = pool.parse_with("sum(exp(x)) - 2*sum(x)", &[Decl::sized("x", 3, 1)]).unwrap();
/// let mut f = Derived::new(&mut pool, &e, &["x"], &Values::new()).unwrap();
/// let x0 = f.start();
/// let s = minimize(&mut f, x0, &Options::default()).unwrap();
/// assert!(s.x.iter().all(|v| (v - 2f64.ln()).abs() < 1e-12));
/// assert!(s.iterations() <= 6);
/// ```
pub fn minimize(
    f: &mut impl SecondOrder,
    x0: Vec<f64>,
    options: &Options,
) -> Result<Solution, OptimError> {
    let mut x = x0;
    let (mut value, mut g) = f.value_and_gradient(&x)?;
    if !value.is_finite() {
        return Err(OptimError::NotFinite { value });
    }
    let mut history = vec![Iteration {
        value,
        gradient_norm: norm(&g),
        step: 0.0,
        step_norm: 0.0,
        direction: Direction::Start,
    }];
    loop {
        let gradient_norm = norm(&g);
        if gradient_norm <= options.tolerance {
            if x.len() <= options.dense_limit && !positive_semidefinite(&f.hessian(&x)?) {
                return Err(OptimError::NotAMinimum { gradient_norm });
            }
            return Ok(Solution {
                x,
                value,
                gradient_norm,
                history,
            });
        }
        let iteration = history.len();
        if iteration > options.max_iterations {
            return Err(OptimError::NotConverged {
                iterations: options.max_iterations,
                gradient_norm,
                tolerance: options.tolerance,
                value,
            });
        }
        let (p, direction, curvature) = if x.len() <= options.dense_limit {
            dense_direction(f, &x, &g)?
        } else {
            cg_direction(f, &x, &g)?
        };
        let search = Search {
            x: &x,
            value,
            slope: dot(&g, &p),
            p: &p,
            iteration,
        };
        let start = match (direction, curvature) {
            (Direction::Gradient, Some(c)) if c > 0.0 => -search.slope / c,
            _ => 1.0,
        };
        let expand = direction == Direction::Gradient && curvature.is_none_or(|c| c <= 0.0);
        let step = match search.backtrack(f, start)? {
            Some(a) if expand => search.expand(f, a)?,
            Some(a) => a,
            None => {
                return Err(OptimError::LineSearch {
                    iteration,
                    gradient_norm,
                    tolerance: options.tolerance,
                })
            }
        };
        for (xi, pi) in x.iter_mut().zip(&p) {
            *xi += step * pi;
        }
        (value, g) = f.value_and_gradient(&x)?;
        history.push(Iteration {
            value,
            gradient_norm: norm(&g),
            step,
            step_norm: step * norm(&p),
            direction,
        });
    }
}

/// The Newton direction of the dense Hessian, or steepest descent with its curvature `g'Hg`
/// where the Hessian is not positive definite.
fn dense_direction(
    f: &mut impl SecondOrder,
    x: &[f64],
    g: &[f64],
) -> Result<(Vec<f64>, Direction, Option<f64>), OptimError> {
    let h = f.hessian(x)?;
    if let Ok(llt) = h.llt(Side::Lower) {
        let rhs = Mat::from_fn(g.len(), 1, |i, _| -g[i]);
        let p = faer::linalg::solvers::Solve::solve(&llt, &rhs);
        let p: Vec<f64> = (0..g.len()).map(|i| p[(i, 0)]).collect();
        if p.iter().all(|v| v.is_finite()) && dot(g, &p) < 0.0 {
            return Ok((p, Direction::Newton, None));
        }
    }
    let hg = &h * Mat::from_fn(g.len(), 1, |i, _| g[i]);
    let curvature = (0..g.len()).map(|i| g[i] * hg[(i, 0)]).sum::<f64>();
    Ok((
        g.iter().map(|v| -v).collect(),
        Direction::Gradient,
        Some(curvature),
    ))
}

/// Truncated conjugate gradients on `H p = -g` (Nocedal and Wright, Algorithm 7.1): stops when
/// the residual is below `min(1/2, |g|) |g|` (quadratic convergence near the minimum), or at the
/// first direction of non-positive curvature, returning the iterate so far (steepest descent if
/// that is the first direction, with its curvature).
fn cg_direction(
    f: &mut impl SecondOrder,
    x: &[f64],
    g: &[f64],
) -> Result<(Vec<f64>, Direction, Option<f64>), OptimError> {
    let n = g.len();
    let g_norm = norm(g);
    let forcing = g_norm.min(0.5) * g_norm;
    let mut z = vec![0.0; n];
    let mut r = g.to_vec();
    let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
    let mut rr = dot(&r, &r);
    for j in 0..n {
        let hd = f.hessian_vector(x, &d)?;
        let curvature = dot(&d, &hd);
        if curvature <= f64::EPSILON * dot(&d, &d) * g_norm.max(1.0) || !curvature.is_finite() {
            if j == 0 {
                return Ok((d, Direction::Gradient, Some(curvature)));
            }
            return Ok((z, Direction::NewtonCg(j + 1), None));
        }
        let a = rr / curvature;
        for k in 0..n {
            z[k] += a * d[k];
            r[k] += a * hd[k];
        }
        let rr_next = dot(&r, &r);
        if rr_next.sqrt() <= forcing {
            return Ok((z, Direction::NewtonCg(j + 1), None));
        }
        let beta = rr_next / rr;
        for k in 0..n {
            d[k] = -r[k] + beta * d[k];
        }
        rr = rr_next;
    }
    Ok((z, Direction::NewtonCg(n), None))
}

/// The line search of one iteration along `p` from `x`.
struct Search<'a> {
    x: &'a [f64],
    value: f64,
    /// The directional derivative `g'p` (negative).
    slope: f64,
    p: &'a [f64],
    iteration: usize,
}

impl Search<'_> {
    /// The objective at `x + a p`; infinite outside the domain or where it is not finite.
    fn at(&self, f: &mut impl SecondOrder, a: f64) -> Result<f64, OptimError> {
        let trial: Vec<f64> = self.x.iter().zip(self.p).map(|(x, p)| x + a * p).collect();
        match f.value(&trial) {
            Ok(v) if v.is_nan() => Ok(f64::INFINITY),
            Ok(v) => Ok(v),
            Err(e) if e.is_outside_domain() => Ok(f64::INFINITY),
            Err(e) => Err(e),
        }
    }

    fn armijo(&self, a: f64, value: f64) -> bool {
        value <= self.value + ARMIJO * a * self.slope
    }

    /// The first of `a, a/2, a/4, ...` with sufficient decrease, or none before the step is
    /// lost in rounding.
    fn backtrack(&self, f: &mut impl SecondOrder, mut a: f64) -> Result<Option<f64>, OptimError> {
        if self.slope >= 0.0 || !self.slope.is_finite() {
            return Ok(None);
        }
        let x_norm = norm(self.x).max(1.0);
        let p_norm = norm(self.p);
        while a * p_norm > f64::EPSILON * x_norm {
            let v = self.at(f, a)?;
            if v == f64::NEG_INFINITY {
                return Err(self.unbounded(a, v));
            }
            if self.armijo(a, v) {
                return Ok(Some(a));
            }
            a *= 0.5;
        }
        Ok(None)
    }

    /// Along a direction of non-positive curvature: doubles an accepted step while the decrease
    /// stays sufficient; a step that grows past `1e12 * max(1, |x|)` is the objective unbounded.
    fn expand(&self, f: &mut impl SecondOrder, mut a: f64) -> Result<f64, OptimError> {
        let far = 1e12 * norm(self.x).max(1.0);
        let p_norm = norm(self.p);
        let mut best = self.at(f, a)?;
        loop {
            let v = self.at(f, 2.0 * a)?;
            if !(self.armijo(2.0 * a, v) && v < best) {
                return Ok(a);
            }
            (a, best) = (2.0 * a, v);
            if a * p_norm > far || v == f64::NEG_INFINITY {
                return Err(self.unbounded(a, v));
            }
        }
    }

    fn unbounded(&self, a: f64, value: f64) -> OptimError {
        OptimError::Unbounded {
            iteration: self.iteration,
            value,
            step_norm: a * norm(self.p),
        }
    }
}

/// Whether a symmetric matrix is positive semidefinite to rounding: the Cholesky factorisation of
/// `H + t I` succeeds with `t` a small multiple of its largest entry.
fn positive_semidefinite(h: &Mat<f64>) -> bool {
    let n = h.nrows();
    let largest = (0..n)
        .flat_map(|j| (0..n).map(move |i| (i, j)))
        .map(|(i, j)| h[(i, j)].abs())
        .fold(0.0f64, f64::max);
    let shift = 1e-8 * largest.max(f64::MIN_POSITIVE);
    let shifted = Mat::from_fn(n, n, |i, j| h[(i, j)] + if i == j { shift } else { 0.0 });
    shifted.llt(Side::Lower).is_ok()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}
