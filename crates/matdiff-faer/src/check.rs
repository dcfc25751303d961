//! Gradient checks: complex step, central finite differences, and a symbolic gradient against both.

use faer::Mat;
use matdiff_expr::{ExprId, ExprPool, Structure};
use num_complex::Complex;

use crate::error::EvalError;
use crate::plan::{Options, Plan};
use crate::values::{Sizes, Values};

/// Options of the gradient checks: how to evaluate in real and in complex numbers (threads,
/// numeric definitions of abstract functions for both).
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Evaluation in `f64` (finite differences, the symbolic gradient).
    pub real: Options<f64>,
    /// Evaluation in `Complex<f64>` (the complex step).
    pub complex: Options<Complex<f64>>,
}

/// A symbolic gradient compared with the complex step and with finite differences.
#[derive(Clone, Debug)]
pub struct GradientCheck {
    /// The value of the symbolic gradient, when one was given.
    pub symbolic: Option<Mat<f64>>,
    /// The complex-step gradient (exact to rounding).
    pub complex_step: Mat<f64>,
    /// The central finite-difference gradient (about 1e-10 relative).
    pub finite_difference: Mat<f64>,
    /// Per-entry relative error of the symbolic gradient against the complex step (without a
    /// symbolic gradient: of finite differences against the complex step); see [`relative_errors`].
    pub errors: Mat<f64>,
    /// Largest relative error of the symbolic gradient against the complex step (0 without one).
    pub max_error_complex_step: f64,
    /// Largest relative error of the symbolic gradient (or of the complex step, without one)
    /// against finite differences.
    pub max_error_finite_difference: f64,
    /// `|f| / max |x|`, the scale of one gradient entry. A gradient whose complex step is below
    /// 1e-12 of it is zero to rounding (`tr(X*inv(X'*X)*X')` is constant), and its errors are
    /// then measured against 1e-4 of it rather than against the rounding noise itself.
    pub scale: f64,
    /// The largest entry of the variable in magnitude.
    pub largest_input: f64,
}

impl GradientCheck {
    /// This check with `symbolic` as the symbolic gradient, its errors recomputed: for a gradient
    /// known in another form (a symmetric variable's `(G + G')/2`, say).
    pub fn with_symbolic(mut self, symbolic: Mat<f64>) -> GradientCheck {
        let floor = self.zero_floor();
        self.errors = errors_with_floor(&symbolic, &self.complex_step, floor);
        self.max_error_complex_step = max_entry(&self.errors);
        self.max_error_finite_difference = max_entry(&errors_with_floor(
            &symbolic,
            &self.finite_difference,
            floor,
        ));
        self.symbolic = Some(symbolic);
        self
    }

    /// Largest relative error of finite differences against the complex step: how far apart
    /// the two numeric references are.
    pub fn max_error_references(&self) -> f64 {
        max_entry(&errors_with_floor(
            &self.finite_difference,
            &self.complex_step,
            self.zero_floor(),
        ))
    }

    /// The error floor: 1e-4 of the scale when the gradient is zero to rounding, else none.
    /// A function that is itself zero to rounding (`sum(W*C' - C*W')`) has no scale of its
    /// own: its gradient is measured against that of a function of order one at these inputs.
    fn zero_floor(&self) -> f64 {
        let largest = max_entry(&self.complex_step.as_ref().map(|v| v.abs()));
        let scale = self
            .scale
            .max(1.0 / self.largest_input.max(f64::MIN_POSITIVE));
        if scale.is_finite() && largest <= 1e-12 * scale {
            1e-4 * scale
        } else {
            0.0
        }
    }
}

/// Per-entry relative errors `|a - b| / max(|a|, |b|, floor)` where `floor` is 1e-3 times the
/// largest entry of `b` in magnitude, so that entries that are zero (or tiny next to the others)
/// are measured against the scale of the gradient rather than against themselves.
pub fn relative_errors(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    errors_with_floor(a, b, 0.0)
}

/// [`relative_errors`] with the floor at least `floor`.
fn errors_with_floor(a: &Mat<f64>, b: &Mat<f64>, floor: f64) -> Mat<f64> {
    let scale = (0..b.ncols())
        .flat_map(|j| (0..b.nrows()).map(move |i| (i, j)))
        .map(|(i, j)| b[(i, j)].abs())
        .fold(0.0f64, f64::max);
    let floor = (1e-3 * scale).max(floor).max(f64::MIN_POSITIVE);
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| {
        let (x, y) = (a[(i, j)], b[(i, j)]);
        if x == y {
            0.0
        } else {
            (x - y).abs() / x.abs().max(y.abs()).max(floor)
        }
    })
}

fn max_entry(m: &Mat<f64>) -> f64 {
    (0..m.ncols())
        .flat_map(|j| (0..m.nrows()).map(move |i| (i, j)))
        .map(|(i, j)| m[(i, j)])
        .fold(0.0f64, |a, b| {
            if b.is_nan() || a.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            }
        })
}

fn check_scalar(pool: &ExprPool, f: ExprId) -> Result<(), EvalError> {
    let shape = pool.shape(f);
    if shape.is_scalar() {
        Ok(())
    } else {
        Err(EvalError::NotScalar {
            node: pool.plain(f).chars().take(200).collect(),
            shape: pool.shape_str(shape),
        })
    }
}

fn wrt_value<'v>(values: &'v Values<f64>, wrt: &str) -> Result<&'v Mat<f64>, EvalError> {
    values.get(wrt).ok_or_else(|| EvalError::MissingVariable {
        name: wrt.to_string(),
    })
}

/// How the entries of a variable move together in a numeric gradient: as declared in the pool.
///
/// A symmetric variable (`symmetric`, `spd`) moves its entries `(i, j)` and `(j, i)` together by
/// half a step each, so the numeric gradient is the symmetric `(G + G')/2` (that of `f((S + S')/2)`
/// in a free `S`); a diagonal one moves its diagonal only, so the gradient is `I .* G`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Perturbation {
    /// Every entry on its own: the plain gradient.
    #[default]
    Entries,
    /// Pairs of mirrored entries: the symmetric gradient.
    Symmetric,
    /// Diagonal entries only: the diagonal gradient.
    Diagonal,
    /// Entries on or below the diagonal only: the lower triangular gradient.
    Lower,
    /// Entries on or above the diagonal only: the upper triangular gradient.
    Upper,
}

impl Perturbation {
    /// The perturbation the declaration of the variable `name` calls for (plain when undeclared).
    ///
    /// ```
    /// use matdiff_expr::{Decl, ExprPool};
    /// use matdiff_faer::Perturbation;
    /// let mut pool = ExprPool::new();
    /// pool.parse_with("tr(S*X)", &[Decl::parse("S: symmetric").unwrap()]).unwrap();
    /// assert_eq!(Perturbation::declared(&pool, "S"), Perturbation::Symmetric);
    /// assert_eq!(Perturbation::declared(&pool, "X"), Perturbation::Entries);
    /// ```
    pub fn declared(pool: &ExprPool, name: &str) -> Perturbation {
        match pool.find_symbol(name).and_then(|s| pool.var_info(s)) {
            Some(info) if info.structure == Structure::Diagonal => Perturbation::Diagonal,
            Some(info) if info.structure == Structure::Lower => Perturbation::Lower,
            Some(info) if info.structure == Structure::Upper => Perturbation::Upper,
            Some(info) if info.symmetric => Perturbation::Symmetric,
            _ => Perturbation::Entries,
        }
    }

    /// The entries that move for the gradient entry `(i, j)`, each with its share of the step;
    /// empty where the gradient is zero by structure. Only `i <= j` is visited for a symmetric
    /// variable (the mirror gets the same value).
    fn moves(self, i: usize, j: usize) -> &'static [(bool, f64)] {
        // (whether the entry is the mirrored (j, i), share of the step)
        match self {
            Perturbation::Entries => &[(false, 1.0)],
            Perturbation::Diagonal if i != j => &[],
            Perturbation::Diagonal => &[(false, 1.0)],
            Perturbation::Lower if i < j => &[],
            Perturbation::Upper if i > j => &[],
            Perturbation::Lower | Perturbation::Upper => &[(false, 1.0)],
            Perturbation::Symmetric if i == j => &[(false, 1.0)],
            Perturbation::Symmetric => &[(false, 0.5), (true, 0.5)],
        }
    }

    /// Whether the gradient entry `(i, j)` is computed (rather than mirrored or zero).
    fn visits(self, i: usize, j: usize) -> bool {
        !(self == Perturbation::Symmetric && i > j)
    }
}

/// One directional derivative per gradient entry, by `derivative(moves)` where `moves` lists the
/// entries to move with their shares of the step; mirrored for a symmetric variable.
fn entrywise(
    x: &Mat<f64>,
    perturbation: Perturbation,
    mut derivative: impl FnMut(&[((usize, usize), f64)]) -> Result<f64, EvalError>,
) -> Result<Mat<f64>, EvalError> {
    let mut g = Mat::zeros(x.nrows(), x.ncols());
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            if !perturbation.visits(i, j) {
                continue;
            }
            let moves: Vec<((usize, usize), f64)> = perturbation
                .moves(i, j)
                .iter()
                .map(|&(mirror, share)| (if mirror { (j, i) } else { (i, j) }, share))
                .collect();
            if moves.is_empty() {
                continue;
            }
            g[(i, j)] = derivative(&moves)?;
            if perturbation == Perturbation::Symmetric && i != j {
                g[(j, i)] = g[(i, j)];
            }
        }
    }
    Ok(g)
}

/// The gradient of the scalar `f` with respect to the variable `wrt` by the complex step:
/// `Im f(x + ih e_k) / h` with `h = 1e-20`, one evaluation of a compiled complex plan per entry;
/// a structured variable moves as its declaration says ([`Perturbation`]).
///
/// ```
/// use faer::mat;
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::{complex_step, Options, Values};
/// let mut pool = ExprPool::new();
/// let f = pool.parse("a'*exp(X*b)").unwrap();
/// let values = Values::new()
///     .with("a", mat![[1.0], [2.0]])
///     .with("X", mat![[0.5, -1.0], [0.25, 2.0]])
///     .with("b", mat![[1.0], [0.5]]);
/// let g = complex_step(&pool, f.root, "X", &values, &Options::new()).unwrap();
/// // d/dX a'exp(Xb) = (a .* exp(Xb)) b'
/// let e0 = (0.5f64 - 0.5).exp();
/// assert!((g[(0, 1)] - 1.0 * e0 * 0.5).abs() < 1e-14);
/// ```
pub fn complex_step(
    pool: &ExprPool,
    f: ExprId,
    wrt: &str,
    values: &Values<f64>,
    options: &Options<Complex<f64>>,
) -> Result<Mat<f64>, EvalError> {
    check_scalar(pool, f)?;
    let x = wrt_value(values, wrt)?.clone();
    let sizes = Sizes::from_values(pool, values)?;
    let mut plan = Plan::<Complex<f64>>::compile_with(pool, &[f], &sizes, options)?;
    let mut cvalues = values.map(|v| Complex::new(v, 0.0));
    let h = 1e-20;
    entrywise(&x, Perturbation::declared(pool, wrt), |moves| {
        let set = |cvalues: &mut Values<Complex<f64>>, step: f64| {
            let m = cvalues.get_mut(wrt).expect("present");
            for &(at, share) in moves {
                m[at].im = share * step;
            }
        };
        set(&mut cvalues, h);
        let out = plan.run(&cvalues);
        set(&mut cvalues, 0.0);
        Ok(out?[0][(0, 0)].im / h)
    })
}

/// The gradient of the scalar `f` with respect to `wrt` by central finite differences, with the
/// step `cbrt(eps) * max(1, |x|)` per entry; a structured variable moves as its declaration says
/// ([`Perturbation`]).
pub fn finite_difference(
    pool: &ExprPool,
    f: ExprId,
    wrt: &str,
    values: &Values<f64>,
    options: &Options<f64>,
) -> Result<Mat<f64>, EvalError> {
    check_scalar(pool, f)?;
    let x = wrt_value(values, wrt)?.clone();
    let sizes = Sizes::from_values(pool, values)?;
    let mut plan = Plan::<f64>::compile_with(pool, &[f], &sizes, options)?;
    let mut v = values.clone();
    entrywise(&x, Perturbation::declared(pool, wrt), |moves| {
        let x0 = x[moves[0].0];
        // A step that is exact in binary, so that the difference quotient divides by the true width.
        let h = (x0 + f64::EPSILON.cbrt() * x0.abs().max(1.0)) - x0;
        let mut at = |step: f64| -> Result<f64, EvalError> {
            let m = v.get_mut(wrt).expect("present");
            for &(at, share) in moves {
                m[at] = x[at] + share * step;
            }
            let r = plan.run(&v);
            let m = v.get_mut(wrt).expect("present");
            for &(at, _) in moves {
                m[at] = x[at];
            }
            Ok(r?[0][(0, 0)])
        };
        let (up, down) = (at(h)?, at(-h)?);
        Ok((up - down) / (2.0 * h))
    })
}

/// Checks a gradient numerically: the complex step and finite differences of the scalar `f`
/// with respect to `wrt`, compared with the value of the symbolic `gradient` when given.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::{check_gradient, random_values, CheckOptions};
/// let mut pool = ExprPool::new();
/// let f = pool.parse("tr(X'*A*X)").unwrap();
/// let g = pool.parse("A*X + A'*X").unwrap();
/// let values = random_values(&pool, f.root, 7);
/// let check = check_gradient(&pool, f.root, "X", Some(g.root), &values, &CheckOptions::default()).unwrap();
/// assert!(check.max_error_complex_step < 1e-12);
/// assert!(check.max_error_finite_difference < 1e-6);
/// ```
pub fn check_gradient(
    pool: &ExprPool,
    f: ExprId,
    wrt: &str,
    gradient: Option<ExprId>,
    values: &Values<f64>,
    options: &CheckOptions,
) -> Result<GradientCheck, EvalError> {
    let cs = complex_step(pool, f, wrt, values, &options.complex)?;
    let fd = finite_difference(pool, f, wrt, values, &options.real)?;
    let sizes = Sizes::from_values(pool, values)?;
    let value = Plan::<f64>::compile_with(pool, &[f], &sizes, &options.real)?
        .run(values)?
        .remove(0);
    let largest_x = values
        .get(wrt)
        .map_or(0.0, |x| max_entry(&x.as_ref().map(|v| v.abs())));
    let check = GradientCheck {
        symbolic: None,
        errors: relative_errors(&fd, &cs),
        max_error_complex_step: 0.0,
        max_error_finite_difference: 0.0,
        complex_step: cs,
        finite_difference: fd,
        scale: value[(0, 0)].abs() / largest_x,
        largest_input: largest_x,
    };
    let Some(g) = gradient else {
        let max_fd = max_entry(&check.errors);
        return Ok(GradientCheck {
            max_error_finite_difference: max_fd,
            ..check
        });
    };
    let mut plan = Plan::<f64>::compile_with(pool, &[g], &sizes, &options.real)?;
    let symbolic = plan.run(values)?.remove(0);
    if symbolic.shape() != check.complex_step.shape() {
        return Err(EvalError::ShapeMismatch {
            name: wrt.to_string(),
            got: format!(
                "{}x{}",
                check.complex_step.nrows(),
                check.complex_step.ncols()
            ),
            expected: format!(
                "the gradient {} is {}x{}",
                pool.plain(g).chars().take(200).collect::<String>(),
                symbolic.nrows(),
                symbolic.ncols()
            ),
        });
    }
    Ok(check.with_symbolic(symbolic))
}
