//! Numeric check of a derivation's steps ([`check_steps`]): every line that continues the previous
//! one (`   = ...`) must have the same value at random inputs and a random differential `dX`.
//!
//! The lines are plain expressions, so this needs no rewriter: a derivation passes its lines, the
//! symbols of `dX` and `X`, and the definitions of its auxiliary variables (`dY`, `∂f/∂Y`).

use faer::Mat;
use matdiff_expr::{ExprId, ExprPool, Symbol};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::EvalError;
use crate::plan::{Options, Plan};
use crate::values::{Sizes, Values};

/// The outcome of [`check_steps`].
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// Per line: the relative disagreement with the previous line, `None` for a line that starts
    /// a chain. Lines of different shapes disagree by `f64::INFINITY`.
    pub errors: Vec<Option<f64>>,
}

impl StepReport {
    /// The largest disagreement of any line (0 when no line continues another).
    pub fn max_error(&self) -> f64 {
        self.errors.iter().flatten().fold(0.0, |m, &e| m.max(e))
    }

    /// The index of the line that disagrees most with its predecessor, if any line does beyond
    /// `tolerance`.
    pub fn worst_line(&self, tolerance: f64) -> Option<usize> {
        let (line, error) = self
            .errors
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| (i, e)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        (error > tolerance || error.is_nan()).then_some(line)
    }
}

/// Checks the lines of a derivation numerically.
///
/// `lines` are the right-hand sides with whether each continues the previous line;
/// `differential` is `(dX, X)`: a random `dX` of the shape of `X` is drawn from `seed`
/// (symmetric when `X` is declared symmetric); `definitions` give the auxiliary variables their
/// values in order (each may use `dX`, the inputs and earlier definitions); `values` hold the
/// inputs. The disagreement of a line with the previous one is the largest entry-wise
/// difference, relative to the largest entry of any line of the chain.
///
/// ```
/// use faer::mat;
/// use matdiff_expr::{Decl, ExprPool};
/// use matdiff_faer::{check_steps, Options, Values};
/// let mut pool = ExprPool::new();
/// // f = a'*X*b:  df = tr(a'*dX*b) = tr(b*a'*dX); a wrong step: tr(X'*dX).
/// pool.parse("a'*X*b").unwrap();
/// let matrix = Decl::parse("dX: matrix").unwrap();
/// let l1 = pool.parse_with("tr(a'*dX*b)", &[matrix]).unwrap().root;
/// let l2 = pool.parse("tr(b*a'*dX)").unwrap().root;
/// let l3 = pool.parse("tr(X'*dX)").unwrap().root;
/// let x = pool.find_symbol("X").unwrap();
/// let dx = pool.find_symbol("dX").unwrap();
/// let values = Values::new()
///     .with("a", mat![[1.0], [2.0]])
///     .with("b", mat![[3.0], [-1.0], [0.5]])
///     .with("X", mat![[1.0, 0.0, 2.0], [0.5, 1.0, -1.0]]);
/// let lines = [(l1, false), (l2, true), (l3, true)];
/// let report = check_steps(&pool, &lines, (dx, x), &[], &values, &Options::new(), 7).unwrap();
/// assert!(report.errors[1].unwrap() < 1e-14);
/// assert_eq!(report.worst_line(1e-10), Some(2));
/// ```
pub fn check_steps(
    pool: &ExprPool,
    lines: &[(ExprId, bool)],
    differential: (Symbol, Symbol),
    definitions: &[(Symbol, ExprId)],
    values: &Values<f64>,
    options: &Options<f64>,
    seed: u64,
) -> Result<StepReport, EvalError> {
    let (dx, x) = differential;
    let x_name = pool.name(x);
    let x_value = values
        .get(x_name)
        .ok_or_else(|| EvalError::MissingVariable {
            name: x_name.to_string(),
        })?;
    let symmetric = pool.var_info(x).is_some_and(|i| i.symmetric);
    let mut rng = StdRng::seed_from_u64(seed);
    let (rows, cols) = (x_value.nrows(), x_value.ncols());
    let mut d = Mat::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0));
    if symmetric && rows == cols {
        d = Mat::from_fn(rows, cols, |i, j| (d[(i, j)] + d[(j, i)]) / 2.0);
    }
    // A structured variable moves inside its structure.
    let st = pool.var_info(x).map(|i| i.structure).unwrap_or_default();
    d = Mat::from_fn(
        rows,
        cols,
        |i, j| if st.allows(i, j) { d[(i, j)] } else { 0.0 },
    );
    let mut values = values.clone();
    values.insert(pool.name(dx), d);
    for &(symbol, expr) in definitions {
        let sizes = Sizes::from_values(pool, &values)?;
        let mut plan = Plan::compile_with(pool, &[expr], &sizes, options)?;
        let value = plan.run(&values)?.remove(0);
        values.insert(pool.name(symbol), value);
    }
    let sizes = Sizes::from_values(pool, &values)?;
    let roots: Vec<ExprId> = lines.iter().map(|l| l.0).collect();
    let mut plan = Plan::compile_with(pool, &roots, &sizes, options)?;
    let results = plan.run(&values)?;

    let mut errors = vec![None; lines.len()];
    let mut start = 0;
    while start < lines.len() {
        let end = (start + 1..lines.len())
            .find(|&i| !lines[i].1)
            .unwrap_or(lines.len());
        let chain = &results[start..end];
        let scale = chain
            .iter()
            .flat_map(|m| (0..m.ncols()).flat_map(move |j| (0..m.nrows()).map(move |i| m[(i, j)])))
            .fold(f64::MIN_POSITIVE, |s, v| s.max(v.abs()));
        for i in start + 1..end {
            errors[i] = Some(disagreement(&results[i - 1], &results[i]) / scale);
        }
        start = end;
    }
    Ok(StepReport { errors })
}

/// The largest entry-wise difference (infinite for different shapes, NaN when a value is NaN).
fn disagreement(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    if (a.nrows(), a.ncols()) != (b.nrows(), b.ncols()) {
        return f64::INFINITY;
    }
    let mut worst = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let d = (a[(i, j)] - b[(i, j)]).abs();
            if d.is_nan() {
                return f64::NAN;
            }
            worst = worst.max(d);
        }
    }
    worst
}
