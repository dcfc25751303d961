//! The second-order differential fuzzer: for each drawn scalar expression, the Hessian-vector
//! product (`hessian --hvp V`) and the Hessian (dense for a vector or scalar variable, the
//! Kronecker form for a matrix), and for each drawn matrix-valued expression its Jacobian (the
//! Kronecker form, and the dense `jacobian` of a column by a vector), each evaluated as derived
//! and as printed (parsed again, with the sizes and derived without them), against references:
//!
//! - second order: the complex step, in the direction `V` (or a unit direction, column by
//!   column), of the derived gradient, itself checked first against the complex step through
//!   the naive evaluator (a gradient that disagrees fails the case, it is never a reference);
//! - Jacobians: the complex step of `F` through the naive evaluator, column by column.
//!
//! A typed refusal of the engine (a kink, a structured variable in Kronecker form, a form it
//! cannot read off, a size no variable names) is counted by its reason, never passed silently.
//! Directions keep the variable's structure (symmetric, lower, diagonal): a Hessian or Jacobian
//! is compared on the columns of the entries the structure leaves free.

use std::collections::{BTreeMap, HashMap};

use matdiff_expr::{Expr, ExprId, ExprPool};
use matdiff_faer::{evaluate_vec_form, Complex, Mat, Plan, Sizes, Values};
use matdiff_rewrite::{
    hessian, hessian_kronecker, hvp, jacobian, jacobian_kronecker, DeriveOptions, KroneckerForm,
    SecondOrder, SecondOrderError,
};
use num_complex::Complex64 as C;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::differential::{
    evaluate, evaluate_printed, reference, rows, sized, sizes_fit, structure_of, symbolic_decls,
    values_for,
};
use crate::fuzz_report::{Failure, Failures, FuzzReport};
use crate::generate::{draw, draw_matrix};
use crate::naive::{self, Cm};

/// Relative tolerance of every comparison: both references are exact to rounding.
pub const TOLERANCE: f64 = 1e-8;

/// The name of the direction of a Hessian-vector product (no drawn expression uses it).
pub const DIRECTION: &str = "V";

/// What is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// `hvp`: the Hessian-vector product in a random direction.
    Hvp,
    /// `hessian` of a vector or scalar variable.
    DenseHessian,
    /// `hessian_kronecker` of a matrix variable.
    KroneckerHessian,
    /// `jacobian` of a column by a vector or scalar.
    DenseJacobian,
    /// `jacobian_kronecker` of a matrix-valued expression.
    KroneckerJacobian,
}

/// How one check of one case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Derived and printed results agree with the reference; `without_sizes` says whether the
    /// result derived without the sizes was checked too, or why not.
    Checked {
        /// `Ok` when checked without the sizes too, else the reason it was not.
        without_sizes: Result<(), String>,
        /// Whether the derived result agrees only to the rounding error its formula carries
        /// (terms that cancel), not to the scale of the function: see [`rounding_floor`].
        at_rounding: bool,
    },
    /// The engine refuses with a typed error: its reason.
    Refused(String),
    /// The reference cannot evaluate at the values (outside a domain, not finite).
    ReferenceRefuses,
    /// A wrong number, or an error where a result was due.
    Failed(String),
}

/// The counts of one kind of check.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Checked with the sizes (derived value and printed text).
    pub checked: usize,
    /// Of those, checked derived without the sizes too.
    pub without_sizes: usize,
    /// Of the checked, those that agree only to the rounding error of their formula.
    pub at_rounding: usize,
    /// Of the checked, not checked without the sizes, by reason.
    pub sized_only: BTreeMap<String, usize>,
    /// Refused by the engine, by reason.
    pub refused: BTreeMap<String, usize>,
    /// Not checked: the reference refuses the values.
    pub reference_refuses: usize,
    /// Wrong numbers and errors.
    pub failed: usize,
    /// The first seed of each reason of refusal.
    pub first_seed: BTreeMap<String, u64>,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases drawn (each a scalar and a matrix-valued expression).
    pub cases: usize,
    /// The counts of each check.
    pub tallies: BTreeMap<Check, Tally>,
    /// The failures.
    pub failures: Failures,
}

impl Report {
    /// Adds the outcomes of one case.
    fn add(&mut self, seed: u64, text: &str, wrt: &str, outcomes: Vec<(Check, Outcome)>) {
        for (check, outcome) in outcomes {
            let t = self.tallies.entry(check).or_default();
            match outcome {
                Outcome::Checked {
                    without_sizes,
                    at_rounding,
                } => {
                    t.checked += 1;
                    t.at_rounding += usize::from(at_rounding);
                    match without_sizes {
                        Ok(()) => t.without_sizes += 1,
                        Err(why) => *t.sized_only.entry(why).or_default() += 1,
                    }
                }
                Outcome::Refused(why) => {
                    t.first_seed.entry(why.clone()).or_insert(seed);
                    *t.refused.entry(why).or_default() += 1;
                }
                Outcome::ReferenceRefuses => t.reference_refuses += 1,
                Outcome::Failed(what) => {
                    t.failed += 1;
                    self.failures.push(Failure {
                        seed,
                        case: format!("{check:?} of {text:?} --wrt {wrt}"),
                        what,
                    });
                }
            }
        }
    }

    /// The counts, one line per check and one per reason.
    pub fn summary(&self) -> String {
        let mut out = format!("{} cases, {} failed\n", self.cases, self.failures.count());
        for (check, t) in &self.tallies {
            out.push_str(&format!(
                "{check:?}: {} checked ({} also without sizes, {} to the rounding of their terms), {} refused, {} refused by the reference, {} failed\n",
                t.checked,
                t.without_sizes,
                t.at_rounding,
                t.refused.values().sum::<usize>(),
                t.reference_refuses,
                t.failed
            ));
            for (why, n) in &t.refused {
                let seed = t.first_seed.get(why).copied().unwrap_or_default();
                out.push_str(&format!("    refused: {n} {why} (first at seed {seed})\n"));
            }
            for (why, n) in &t.sized_only {
                out.push_str(&format!("    with sizes only: {n} {why}\n"));
            }
        }
        out
    }
}

impl FuzzReport for Report {
    fn failures(&self) -> &Failures {
        &self.failures
    }

    fn merge(&mut self, other: Report) {
        self.cases += other.cases;
        self.failures.merge(other.failures);
        for (check, o) in other.tallies {
            let t = self.tallies.entry(check).or_default();
            t.checked += o.checked;
            t.without_sizes += o.without_sizes;
            t.at_rounding += o.at_rounding;
            t.reference_refuses += o.reference_refuses;
            t.failed += o.failed;
            for (why, n) in o.sized_only {
                *t.sized_only.entry(why).or_default() += n;
            }
            for (why, seed) in o.first_seed {
                t.first_seed.entry(why).or_insert(seed);
            }
            for (why, n) in o.refused {
                *t.refused.entry(why).or_default() += n;
            }
        }
    }

    fn progress(&self) -> String {
        format!("{} cases, {} failed,", self.cases, self.failures.count())
    }
}

/// Runs `cases` cases from the seeds `first_seed..`.
pub fn run(first_seed: u64, cases: usize) -> Report {
    let mut report = Report::default();
    for seed in first_seed..first_seed + cases as u64 {
        report.cases += 1;
        let values = values_for(seed);
        let drawn = draw(seed);
        let v = direction_for(seed, &drawn.wrt, &values);
        let outcomes = check_scalar(&drawn.text, &drawn.wrt, &values, &v);
        report.add(seed, &drawn.text, &drawn.wrt, outcomes);
        let drawn = draw_matrix(seed);
        let outcomes = check_matrix(&drawn.text, &drawn.wrt, &values);
        report.add(seed, &drawn.text, &drawn.wrt, outcomes);
    }
    report
}

/// A random direction for the variable `wrt` of the case `seed`, of its shape and structure:
/// symmetric for a symmetric (or spd) variable, lower or diagonal for one that is.
pub fn direction_for(seed: u64, wrt: &str, values: &Values<f64>) -> Mat<f64> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x0d1e_c710_4a11);
    let x = values.get(wrt).expect("a value of the variable");
    let m = Mat::from_fn(x.nrows(), x.ncols(), |_, _| rng.random_range(-1.5..1.5));
    let (r, c) = (m.nrows(), m.ncols());
    match structure_of(wrt) {
        Some("symmetric" | "spd") => Mat::from_fn(r, c, |i, j| (m[(i, j)] + m[(j, i)]) / 2.0),
        _ => Mat::from_fn(r, c, |i, j| if free(wrt, i, j) { m[(i, j)] } else { 0.0 }),
    }
}

/// Whether the structure of `wrt` leaves its entry `(i, j)` free (every entry of a symmetric
/// variable moves, with its mirror).
fn free(wrt: &str, i: usize, j: usize) -> bool {
    match structure_of(wrt) {
        Some("lower") => i >= j,
        Some("diagonal") => i == j,
        _ => true,
    }
}

/// The reason of a refusal, for the counts: the kind of error and, for a derivation's, its
/// first words.
fn reason(e: &SecondOrderError) -> String {
    match e {
        SecondOrderError::Kink { .. } => "kink".into(),
        SecondOrderError::StructuredKronecker { structure, .. } => {
            format!("Kronecker form of a {structure} variable")
        }
        SecondOrderError::NotReadable { .. } => "not readable as a linear map".into(),
        SecondOrderError::Derive(matdiff_rewrite::DeriveError::UnnamedSize { .. }) => {
            "a size no variable names".into()
        }
        SecondOrderError::NotScalar { .. } => "not a scalar".into(),
        SecondOrderError::NeedsKronecker { .. } => "needs a Kronecker form".into(),
        // The name of the error's kind, without its fields.
        other => {
            let debug = format!("{other:?}");
            let kind: String = debug
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '(')
                .collect();
            format!("other: {}", kind.trim_end_matches('('))
        }
    }
}

/// Checks the scalar expression `text` by `wrt` at `values` (every variable) in the direction
/// `v`: the Hessian-vector product, and the dense (vector or scalar `wrt`) or Kronecker
/// (matrix `wrt`) Hessian.
pub fn check_scalar(
    text: &str,
    wrt: &str,
    values: &Values<f64>,
    v: &Mat<f64>,
) -> Vec<(Check, Outcome)> {
    let x = values.get(wrt).expect("a value of the variable");
    let hessian_check = if x.ncols() == 1 {
        Check::DenseHessian
    } else {
        Check::KroneckerHessian
    };
    let both = |o: Outcome| vec![(Check::Hvp, o.clone()), (hessian_check, o)];
    let Some((f0, g_naive)) = reference(text, wrt, values) else {
        return both(Outcome::ReferenceRefuses);
    };
    let mut pool = ExprPool::new();
    let e = match pool.parse_with(text, &sized(values)) {
        Ok(e) => e,
        Err(err) => return both(Outcome::Failed(format!("does not parse: {err}"))),
    };
    let options = DeriveOptions::default();
    let h = match hvp(&mut pool, &e, wrt, DIRECTION, &options) {
        Ok(h) => h,
        Err(err) => return both(Outcome::Refused(reason(&err))),
    };
    // The derived gradient is the reference's function: checked first, against the naive one.
    let gradient = h.first.gradient;
    match evaluate(&pool, &[gradient], values) {
        Ok(g) => {
            let floor = 1e-4 * (1.0 + f0.abs()) / (1.0 + largest(x));
            if let Err(e) = compare("the derived gradient", &g[0], &g_naive, floor) {
                let rounding = rounding_floor(&pool, gradient, values).unwrap_or(0.0);
                if rounding <= floor
                    || compare("the derived gradient", &g[0], &g_naive, rounding).is_err()
                {
                    return both(Outcome::Failed(e));
                }
            }
        }
        Err(e) => {
            return both(Outcome::Failed(format!(
                "the gradient cannot evaluate: {e}"
            )))
        }
    }
    let mut reference = match GradientStep::new(&pool, gradient, wrt, values) {
        Ok(r) => r,
        Err(_) => return both(Outcome::ReferenceRefuses),
    };
    // Second derivatives are compared with rounding noise at the scale of the function per
    // unit of the variable, as gradients are: in a saturated softmax (an argument of ~1e3,
    // seed 1000000058) the Hessian's entries are ~1e-10, and the two ways of computing them
    // (the derived formula, the complex step of the gradient) differ by rounding, 1e-13.
    let floor = 1e-4 * (1.0 + f0.abs()) / (1.0 + largest(x));
    let hvp_outcome = check_hvp(&pool, &h, &mut reference, (text, wrt), values, v, floor);
    let hessian_outcome = match reference.matrix(wrt, x) {
        None => Outcome::ReferenceRefuses,
        Some(want) if hessian_check == Check::DenseHessian => {
            check_dense(&mut pool, &e, (text, wrt), values, &want, floor, hessian)
        }
        Some(want) => check_kronecker(&mut pool, &e, (text, wrt), values, &want, floor, true),
    };
    vec![(Check::Hvp, hvp_outcome), (hessian_check, hessian_outcome)]
}

/// Checks the matrix-valued expression `text` by `wrt` at `values`: its Kronecker-form
/// Jacobian, and its dense Jacobian when it is a column and `wrt` a vector or scalar.
pub fn check_matrix(text: &str, wrt: &str, values: &Values<f64>) -> Vec<(Check, Outcome)> {
    let mut pool = ExprPool::new();
    let e = match pool.parse_with(text, &sized(values)) {
        Ok(e) => e,
        Err(err) => {
            let o = Outcome::Failed(format!("does not parse: {err}"));
            return vec![(Check::KroneckerJacobian, o)];
        }
    };
    let x = values.get(wrt).expect("a value of the variable");
    let dense = pool.shape(e.root).cols == matdiff_expr::Dim::ONE && x.ncols() == 1;
    let checks: &[Check] = if dense {
        &[Check::KroneckerJacobian, Check::DenseJacobian]
    } else {
        &[Check::KroneckerJacobian]
    };
    let Some((want, f_largest)) = naive_jacobian(&pool, e.root, wrt, values) else {
        return checks
            .iter()
            .map(|&c| (c, Outcome::ReferenceRefuses))
            .collect();
    };
    let floor = 1e-4 * (1.0 + f_largest) / (1.0 + largest(x));
    let case = (text, wrt);
    let mut out = vec![(
        Check::KroneckerJacobian,
        check_kronecker(&mut pool, &e, case, values, &want, floor, false),
    )];
    if dense {
        let o = check_dense(&mut pool, &e, case, values, &want, floor, jacobian);
        out.push((Check::DenseJacobian, o));
    }
    out
}

/// The Hessian-vector product: derived, printed, and derived without sizes.
fn check_hvp(
    pool: &ExprPool,
    h: &SecondOrder,
    reference: &mut GradientStep,
    (text, wrt): (&str, &str),
    values: &Values<f64>,
    v: &Mat<f64>,
    floor: f64,
) -> Outcome {
    let Some(want) = reference.directional(v) else {
        return Outcome::ReferenceRefuses;
    };
    let with_v = values.clone().with(DIRECTION, v.clone());
    let attempt = |floor: f64| -> Attempt {
        let got = evaluate(pool, &[h.result], &with_v)
            .map_err(|e| format!("hvp --at cannot evaluate: {e}"))?;
        compare("hvp_value", &got[0], &want, floor)?;
        let printed = match h.complete_result_text(pool) {
            Ok(t) => t,
            Err(e) => return Ok(Err(reason(&e))),
        };
        let got = evaluate_printed(&printed, &with_v)?;
        compare(
            &format!("eval of the printed {printed:?}"),
            &got,
            &want,
            floor,
        )?;
        let same = |m: &Mat<f64>| m.clone();
        Ok(Ok(without_sizes(
            text,
            values,
            &with_v,
            (&want, floor),
            &same,
            |pool, e| {
                let h = hvp(pool, e, wrt, DIRECTION, &DeriveOptions::default())?;
                h.complete_result_text(pool)
            },
        )?))
    };
    conclude(floor, attempt, || rounding_floor(pool, h.result, &with_v))
}

/// A dense Hessian or Jacobian (`derive` is [`hessian`] or [`jacobian`]): derived, printed,
/// and derived without sizes, against `want`.
fn check_dense(
    pool: &mut ExprPool,
    e: &Expr,
    (text, wrt): (&str, &str),
    values: &Values<f64>,
    want: &Mat<f64>,
    floor: f64,
    derive: fn(&mut ExprPool, &Expr, &str, &DeriveOptions) -> Result<SecondOrder, SecondOrderError>,
) -> Outcome {
    let options = DeriveOptions::default();
    let d = match derive(pool, e, wrt, &options) {
        Ok(d) => d,
        Err(err) => return Outcome::Refused(reason(&err)),
    };
    let attempt = |floor: f64| -> Attempt {
        let got =
            evaluate(pool, &[d.result], values).map_err(|e| format!("cannot evaluate: {e}"))?;
        compare("the value", &got[0], want, floor)?;
        let printed = match d.complete_result_text(pool) {
            Ok(t) => t,
            Err(e) => return Ok(Err(reason(&e))),
        };
        let got = evaluate_printed(&printed, values)?;
        compare(
            &format!("eval of the printed {printed:?}"),
            &got,
            want,
            floor,
        )?;
        let same = |m: &Mat<f64>| m.clone();
        Ok(Ok(without_sizes(
            text,
            values,
            values,
            (want, floor),
            &same,
            |pool, e| derive(pool, e, wrt, &DeriveOptions::default())?.complete_result_text(pool),
        )?))
    };
    conclude(floor, attempt, || rounding_floor(pool, d.result, values))
}

/// A Kronecker-form Hessian (`hessian_form`) or Jacobian: its value from its factors, its
/// printed text, and the text derived without sizes, against `want` on the free columns.
fn check_kronecker(
    pool: &mut ExprPool,
    e: &Expr,
    (text, wrt): (&str, &str),
    values: &Values<f64>,
    want: &Mat<f64>,
    floor: f64,
    hessian_form: bool,
) -> Outcome {
    let form_of = move |pool: &mut ExprPool, e: &Expr| {
        let options = DeriveOptions::default();
        if hessian_form {
            hessian_kronecker(pool, e, wrt, &options)
        } else {
            jacobian_kronecker(pool, e, wrt, &options)
        }
    };
    let form = match form_of(pool, e) {
        Ok(f) => f,
        Err(err) => return Outcome::Refused(reason(&err)),
    };
    let x = values.get(wrt).expect("a value of the variable");
    let want = free_columns(wrt, x, want);
    let attempt = |floor: f64| -> Attempt {
        let (got, magnitude) = form_value(pool, &form, values)?;
        // A form is a sum of terms, each exact to rounding: where terms of 1e5 cancel to a
        // Hessian of 1e-54 (a saturated softmax, seed 1000099161), the sum is exact to 1e-11
        // only. Errors are compared with that rounding too, a few ulps of the largest terms.
        let floor = floor.max(16.0 * f64::EPSILON * magnitude / TOLERANCE);
        compare(
            "the form's value",
            &free_columns(wrt, x, &got),
            &want,
            floor,
        )?;
        let printed = match form.complete_text(pool) {
            Ok(t) => t,
            Err(e) => return Ok(Err(reason(&e))),
        };
        let got = evaluate_printed(&printed, values)?;
        let got = free_columns(wrt, x, &got);
        compare(
            &format!("eval of the printed {printed:?}"),
            &got,
            &want,
            floor,
        )?;
        let masked = |m: &Mat<f64>| free_columns(wrt, x, m);
        Ok(Ok(without_sizes(
            text,
            values,
            values,
            (&want, floor),
            &masked,
            |pool, e| form_of(pool, e)?.complete_text(pool),
        )?))
    };
    // The form's formula is its text, an expression of the language.
    let rounding = || {
        let text = form.complete_text(pool).ok()?;
        let mut printed = ExprPool::new();
        let e = printed.parse_with(&text, &sized(values)).ok()?;
        rounding_floor(&printed, e.root, values)
    };
    conclude(floor, attempt, rounding)
}

/// How a check at a floor ended: `Ok(Ok(without_sizes))` when it ran to its end (with how the
/// check without sizes went), `Ok(Err(reason))` when printing was refused, `Err` with a wrong
/// number.
type Attempt = Result<Result<Result<(), String>, String>, String>;

/// The outcome of a check run by `attempt` at `floor`; where it finds a wrong number, run again
/// at the floor of the rounding error the derived formula carries (`rounding`, see
/// [`rounding_floor`]) and counted apart when it agrees there. The wrong number is reported as
/// found at `floor`.
fn conclude(
    floor: f64,
    attempt: impl Fn(f64) -> Attempt,
    rounding: impl FnOnce() -> Option<f64>,
) -> Outcome {
    let (result, at_rounding) = match attempt(floor) {
        Err(wrong) => match rounding() {
            Some(r) if r > floor => match attempt(r) {
                Err(_) => (Err(wrong), false),
                agrees => (agrees, true),
            },
            _ => (Err(wrong), false),
        },
        result => (result, false),
    };
    match result {
        Ok(Ok(without_sizes)) => Outcome::Checked {
            without_sizes,
            at_rounding,
        },
        Ok(Err(refused_printing)) => Outcome::Refused(refused_printing),
        Err(wrong) => Outcome::Failed(wrong),
    }
}

/// The floor of a comparison with the derived formula `root` at `values` that accounts for the
/// rounding error any floating-point evaluation of it carries: 16 times the largest change of
/// an entry when every step's rounding is made random (four draws of
/// [`naive::eval_rounded`]), over [`TOLERANCE`]. Where terms cancel (a saturated softmax,
/// `p .* u - (p'*u)*p` with `p` within rounding of a unit vector, seed 11000062803; the
/// Hessian of `norm2` of a multiple of one direction near its kink, seed 11000071860) the
/// formula is right but its value is exact only to a few ulps of its terms.
/// `None` when the naive evaluator cannot evaluate it.
pub fn rounding_floor(pool: &ExprPool, root: ExprId, values: &Values<f64>) -> Option<f64> {
    let values = naive_values(values);
    let draws: Vec<Cm> = (0..5)
        .map(|seed| naive::eval_rounded(pool, root, &values, seed).ok())
        .collect::<Option<_>>()?;
    let spread = draws[1..]
        .iter()
        .flat_map(|d| {
            d.data
                .iter()
                .zip(&draws[0].data)
                .map(|(a, b)| (a.re - b.re).abs())
        })
        .fold(0.0, f64::max);
    Some(16.0 * spread / TOLERANCE)
}

/// The values as the naive evaluator takes them.
fn naive_values(values: &Values<f64>) -> HashMap<String, Cm> {
    values
        .iter()
        .map(|(n, m)| {
            let c = Cm::from_fn(m.nrows(), m.ncols(), |i, j| C::new(m[(i, j)], 0.0));
            (n.to_string(), c)
        })
        .collect()
}

/// The result derived without the sizes (scalars and structures declared only, as a user of
/// the command line writes), printed, and evaluated with the sizes (`at`, which holds the
/// direction of a product), compared with `want` through `mask`: `Ok(Ok(()))` when it agrees,
/// `Ok(Err(reason))` when it was not checked, `Err` with the disagreement.
fn without_sizes(
    text: &str,
    values: &Values<f64>,
    at: &Values<f64>,
    (want, floor): (&Mat<f64>, f64),
    mask: &dyn Fn(&Mat<f64>) -> Mat<f64>,
    print: impl Fn(&mut ExprPool, &Expr) -> Result<String, SecondOrderError>,
) -> Result<Result<(), String>, String> {
    let mut pool = ExprPool::new();
    let Ok(e) = pool.parse_with(text, &symbolic_decls(values)) else {
        return Ok(Err("refused without sizes by the parser".into()));
    };
    if !sizes_fit(&pool, values) {
        return Ok(Err("read at other sizes without sizes".into()));
    }
    let printed = match print(&mut pool, &e) {
        Ok(p) => p,
        Err(e) => return Ok(Err(format!("without sizes: {}", reason(&e)))),
    };
    let got = evaluate_printed(&printed, at).map_err(|e| format!("printed without sizes: {e}"))?;
    let what = format!("eval of the printed (without sizes) {printed:?}");
    compare(&what, &mask(&got), want, floor)?;
    Ok(Ok(()))
}

/// The complex step of a derived gradient, compiled once: `Im G(X + i h V) / h`.
struct GradientStep {
    plan: Plan<Complex<f64>>,
    values: Values<Complex<f64>>,
    wrt: String,
}

impl GradientStep {
    fn new(
        pool: &ExprPool,
        gradient: ExprId,
        wrt: &str,
        values: &Values<f64>,
    ) -> Result<GradientStep, matdiff_faer::EvalError> {
        let sizes = Sizes::from_values(pool, values)?;
        Ok(GradientStep {
            plan: Plan::compile(pool, &[gradient], &sizes)?,
            values: values.map(|a| Complex::new(a, 0.0)),
            wrt: wrt.to_string(),
        })
    }

    /// The derivative of the gradient in the direction `v`; `None` when it is not finite or
    /// cannot be evaluated.
    fn directional(&mut self, v: &Mat<f64>) -> Option<Mat<f64>> {
        let h = 1e-20;
        let mut values = self.values.clone();
        let x = values.get_mut(&self.wrt).expect("a value of the variable");
        for j in 0..x.ncols() {
            for i in 0..x.nrows() {
                x[(i, j)].im = h * v[(i, j)];
            }
        }
        let out = self.plan.run(&values).ok()?.remove(0);
        let d = Mat::from_fn(out.nrows(), out.ncols(), |i, j| out[(i, j)].im / h);
        all_finite(&d).then_some(d)
    }

    /// The matrix of the map `V -> directional(V)` on the unit directions the structure of
    /// `wrt` leaves free (the others' columns zero), in the vec layout.
    fn matrix(&mut self, wrt: &str, x: &Mat<f64>) -> Option<Mat<f64>> {
        let (r, c) = (x.nrows(), x.ncols());
        let mut columns = Vec::with_capacity(r * c);
        for k in 0..r * c {
            let (i, j) = (k % r, k / r);
            if !free(wrt, i, j) {
                columns.push(None);
                continue;
            }
            let mut e = Mat::zeros(r, c);
            e[(i, j)] = 1.0;
            columns.push(Some(self.directional(&e)?));
        }
        Some(stack(&columns, r * c))
    }
}

/// The Jacobian `∂vec(F)/∂vec(X)'` of `f` by the complex step through the naive evaluator, on
/// the free entries of `wrt`, with the largest entry of F; `None` when the reference refuses.
fn naive_jacobian(
    pool: &ExprPool,
    f: ExprId,
    wrt: &str,
    values: &Values<f64>,
) -> Option<(Mat<f64>, f64)> {
    let values = naive_values(values);
    let f0 = naive::eval(pool, f, &values).ok()?;
    let f_largest = f0.data.iter().fold(0.0f64, |m, z| m.max(z.re.abs()));
    if !f_largest.is_finite() {
        return None;
    }
    let x = &values[wrt];
    let h = 1e-20;
    let mut columns = Vec::with_capacity(x.rows * x.cols);
    for k in 0..x.rows * x.cols {
        let (i, j) = (k % x.rows, k / x.rows);
        if !free(wrt, i, j) {
            columns.push(None);
            continue;
        }
        let mut v = values.clone();
        v.get_mut(wrt).expect("the variable has a value").data[i * x.cols + j] += C::new(0.0, h);
        let fx = naive::eval(pool, f, &v).ok()?;
        let d = Mat::from_fn(fx.rows, fx.cols, |p, q| fx.data[p * fx.cols + q].im / h);
        if !all_finite(&d) {
            return None;
        }
        columns.push(Some(d));
    }
    Some((stack(&columns, x.rows * x.cols), f_largest))
}

/// The matrix whose k-th column is `vec` of the k-th matrix (zero where there is none).
fn stack(columns: &[Option<Mat<f64>>], n: usize) -> Mat<f64> {
    let rows = columns
        .iter()
        .flatten()
        .next()
        .map_or(0, |c| c.nrows() * c.ncols());
    let mut m = Mat::zeros(rows, n);
    for (k, c) in columns.iter().enumerate() {
        if let Some(c) = c {
            for q in 0..rows {
                m[(q, k)] = c[(q % c.nrows(), q / c.nrows())];
            }
        }
    }
    m
}

/// `m` with the columns of the entries the structure of `wrt` fixes set to zero.
fn free_columns(wrt: &str, x: &Mat<f64>, m: &Mat<f64>) -> Mat<f64> {
    let r = x.nrows();
    Mat::from_fn(m.nrows(), m.ncols(), |p, k| {
        if k < x.nrows() * x.ncols() && free(wrt, k % r, k / r) {
            m[(p, k)]
        } else {
            0.0
        }
    })
}

/// The dense value of a Kronecker form at the values, from its factors' matrices (what `matdiff
/// hessian --at` reports), and the sum of its terms' largest entries.
fn form_value(
    pool: &ExprPool,
    form: &KroneckerForm,
    values: &Values<f64>,
) -> Result<(Mat<f64>, f64), String> {
    let dense = evaluate_vec_form(pool, &form.terms, form.dense_shape(pool), values)
        .map_err(|e| e.to_string())?;
    let magnitude = dense.terms.iter().map(largest).sum();
    Ok((dense.total, magnitude))
}

/// Compares `got` with `want` entry by entry, relative to the largest entry of `want` and at
/// least to `floor` (so that a result that is zero, or all but zero, is compared with rounding
/// noise at the scale of the function rather than with itself).
fn compare(what: &str, got: &Mat<f64>, want: &Mat<f64>, floor: f64) -> Result<(), String> {
    if (got.nrows(), got.ncols()) != (want.nrows(), want.ncols()) {
        return Err(format!(
            "{what} is {}x{}, the reference {}x{}",
            got.nrows(),
            got.ncols(),
            want.nrows(),
            want.ncols()
        ));
    }
    let scale = largest(want).max(floor);
    let mut worst = 0.0f64;
    for j in 0..got.ncols() {
        for i in 0..got.nrows() {
            let e = (got[(i, j)] - want[(i, j)]).abs() / scale;
            worst = if e.is_nan() { f64::NAN } else { worst.max(e) };
        }
    }
    if worst > TOLERANCE || worst.is_nan() {
        return Err(format!(
            "{what} {:?} differs from the reference {:?} (relative error {worst:.1e})",
            rows(got),
            rows(want)
        ));
    }
    Ok(())
}

fn largest(m: &Mat<f64>) -> f64 {
    (0..m.ncols())
        .flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)].abs()))
        .fold(0.0, f64::max)
}

fn all_finite(m: &Mat<f64>) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))
}
