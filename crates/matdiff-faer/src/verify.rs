//! The verdict on a derived gradient: the checks of [`check_gradient`] at given values or at
//! random draws, with the tolerances and the redraw policy every front end shares.

use faer::Mat;
use matdiff_expr::{ExprId, ExprPool};

use crate::check::{check_gradient, CheckOptions, GradientCheck};
use crate::error::EvalError;
use crate::random::random_values_where;
use crate::values::Values;

/// Largest accepted relative errors of a derived gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerances {
    /// Against the complex step, which is exact to rounding (default 1e-8).
    pub complex_step: f64,
    /// Against central differences, whose truncation and rounding errors are about 1e-10 to 1e-8
    /// of the gradient's scale (default 1e-6); also how far apart the two references may be for
    /// a random draw to be kept.
    pub finite_difference: f64,
}

impl Default for Tolerances {
    fn default() -> Tolerances {
        Tolerances {
            complex_step: 1e-8,
            finite_difference: 1e-6,
        }
    }
}

/// Options of [`verify_gradient`].
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// How to evaluate (threads, numeric definitions of abstract functions).
    pub check: CheckOptions,
    /// The accepted errors.
    pub tolerances: Tolerances,
    /// Seed of the random values (when no values are given).
    pub seed: u64,
}

/// The outcome of [`verify_gradient`].
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The comparison at the values used.
    pub check: GradientCheck,
    /// The values used.
    pub values: Values<f64>,
    /// Which random draw was used, from 1 (a later one where the numeric references disagreed at
    /// the first); 0 for given values.
    pub draw: usize,
    /// Whether central differences agree with the complex step within
    /// [`Tolerances::finite_difference`]. Where they do not (across a saturated `tanh`, at a
    /// point the caller fixed), the complex step, exact to rounding, decides alone.
    pub references_agree: bool,
    /// Whether the derived gradient agrees with the references.
    pub ok: bool,
}

impl Verdict {
    /// Whether the function and its complex-step gradient are finite at the values used: without
    /// a finite reference there is nothing to compare with (a function evaluated outside its
    /// domain, an overflow), and `ok` means nothing.
    pub fn finite(&self) -> bool {
        self.function_finite() && all_finite(&self.check.complex_step)
    }

    /// Whether the function is finite at the values used.
    pub fn function_finite(&self) -> bool {
        self.check.scale.is_finite()
    }
}

fn all_finite(m: &Mat<f64>) -> bool {
    m.col_iter().all(|c| c.iter().all(|v| v.is_finite()))
}

/// Checks the derived `gradient` of the scalar `f` with respect to `wrt` against the complex
/// step and central differences, at the values `at` or else at random values: the first of up to
/// 12 draws ([`random_values_where`]) at which the two numeric references agree (elsewhere, say
/// `X'*X` singular for a wide `X`, the point itself is ill-conditioned), or the first draw.
/// A symmetric or diagonal variable is perturbed as declared ([`crate::Perturbation`]).
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_faer::{verify_gradient, VerifyOptions};
/// let mut pool = ExprPool::new();
/// let f = pool.parse("tr(X'*A*X)").unwrap();
/// let right = pool.parse("A*X + A'*X").unwrap();
/// let wrong = pool.parse("2*A*X").unwrap();
/// let options = VerifyOptions::default();
/// let v = verify_gradient(&pool, f.root, "X", right.root, None, &options).unwrap();
/// assert!(v.ok && v.finite() && v.draw == 1);
/// assert!(v.values.get("A").unwrap().nrows() > 1);
/// let v = verify_gradient(&pool, f.root, "X", wrong.root, None, &options).unwrap();
/// assert!(!v.ok);
/// ```
pub fn verify_gradient(
    pool: &ExprPool,
    f: ExprId,
    wrt: &str,
    gradient: ExprId,
    at: Option<&Values<f64>>,
    options: &VerifyOptions,
) -> Result<Verdict, EvalError> {
    let tolerances = options.tolerances;
    let check_at =
        |values: &Values<f64>| check_gradient(pool, f, wrt, Some(gradient), values, &options.check);
    let (check, values, draw) = match at {
        Some(values) => (check_at(values)?, values.clone(), 0),
        None => {
            let (mut draws, mut accepted) = (0, None);
            let values = random_values_where(pool, f, options.seed, |v| {
                draws += 1;
                match check_at(v) {
                    Ok(c) if c.max_error_references() <= tolerances.finite_difference => {
                        accepted = Some((c, draws));
                        true
                    }
                    _ => false,
                }
            });
            match accepted {
                Some((c, draw)) => (c, values, draw),
                None => (check_at(&values)?, values, 1),
            }
        }
    };
    let references_agree = check.max_error_references() <= tolerances.finite_difference;
    let ok = check.max_error_complex_step <= tolerances.complex_step
        && (check.max_error_finite_difference <= tolerances.finite_difference || !references_agree);
    Ok(Verdict {
        check,
        values,
        draw,
        references_agree,
        ok,
    })
}
