//! The differential fuzzer: for each drawn expression, what `matdiff grad --at` reports (the
//! value and the gradient value), and the printed gradient parsed again and evaluated (as
//! `matdiff eval` would), against the complex step through the naive evaluator of the original
//! expression.

use std::collections::HashMap;

use matdiff_expr::{Decl, Dim, DimVar, ExprPool};
use matdiff_faer::{Mat, Plan, Sizes, Values};
use matdiff_rewrite::{derive, DeriveOptions};
use num_complex::Complex64 as C;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::fuzz_report::{Failure, Failures, FuzzReport};
use crate::generate::{draw, STRUCTURED, VARIABLES};
use crate::naive::{self, Cm};

/// Relative tolerance of every comparison: the reference is exact to rounding, and so should
/// be the derived gradient on these small, well-conditioned inputs.
pub const TOLERANCE: f64 = 1e-8;

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Cases drawn.
    pub cases: usize,
    /// Cases the reference could evaluate, all of them checked.
    pub checked: usize,
    /// Of the checked cases, those matdiff refuses without sizes, with a clear error (the
    /// shapes need a product of dimensions to equal a number or another product, as in
    /// `vec(A)'*vec(X)`): checked with the sizes the values fix only.
    pub refused_without_sizes: usize,
    /// Of the checked cases, those whose text without sizes reads as a function of other sizes
    /// (`diag(unvec(y, 2))` is square, so `y` has 4 entries): checked with the sizes only.
    pub other_sizes_without_sizes: usize,
    /// Cases drawn outside a domain or too ill-conditioned for the reference (not checked).
    pub refused_by_reference: usize,
    /// The disagreements.
    pub failures: Failures,
}

impl Report {
    /// The last line of a long run: `N passed, N failed, N skipped`.
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.checked,
            self.failures.count(),
            self.refused_by_reference
        )
    }
}

impl FuzzReport for Report {
    fn failures(&self) -> &Failures {
        &self.failures
    }

    fn merge(&mut self, other: Report) {
        self.cases += other.cases;
        self.checked += other.checked;
        self.refused_without_sizes += other.refused_without_sizes;
        self.other_sizes_without_sizes += other.other_sizes_without_sizes;
        self.refused_by_reference += other.refused_by_reference;
        self.failures.merge(other.failures);
    }

    fn progress(&self) -> String {
        format!(
            "{} cases ({} checked, {} of them refused without sizes, {} read at other sizes without them, {} refused by the reference, {} failed)",
            self.cases,
            self.checked,
            self.refused_without_sizes,
            self.other_sizes_without_sizes,
            self.refused_by_reference,
            self.failures.count()
        )
    }
}

/// Runs `cases` cases from the seeds `first_seed..`.
pub fn run(first_seed: u64, cases: usize) -> Report {
    let mut report = Report::default();
    for seed in first_seed..first_seed + cases as u64 {
        report.cases += 1;
        match check_case(seed) {
            Ok(Checked::Fully) => report.checked += 1,
            Ok(Checked::WithSizesOnly) => {
                report.checked += 1;
                report.refused_without_sizes += 1;
            }
            Ok(Checked::OtherSizesWithoutSizes) => {
                report.checked += 1;
                report.other_sizes_without_sizes += 1;
            }
            Ok(Checked::RefusedByReference) => report.refused_by_reference += 1,
            Err(f) => report.failures.push(f),
        }
    }
    report
}

/// The values of the case `seed`: entries between -1.5 and 1.5, the shapes of
/// [`VARIABLES`].
pub fn values_for(seed: u64) -> Values<f64> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x05ee_d0f7_a1e5);
    let mut values = Values::new();
    for &(name, r, c) in VARIABLES {
        let m = Mat::from_fn(r, c, |_, _| rng.random_range(-1.5..1.5));
        let m = match structure_of(name) {
            Some("symmetric") => Mat::from_fn(r, c, |i, j| (m[(i, j)] + m[(j, i)]) / 2.0),
            Some("lower") => Mat::from_fn(r, c, |i, j| if i >= j { m[(i, j)] } else { 0.0 }),
            Some("diagonal") => Mat::from_fn(r, c, |i, j| if i == j { m[(i, j)] } else { 0.0 }),
            // Positive definite: M*M' + I.
            Some(_) => Mat::from_fn(r, c, |i, j| {
                let mm: f64 = (0..c).map(|k| m[(i, k)] * m[(j, k)]).sum();
                mm + f64::from(u8::from(i == j))
            }),
            None => m,
        };
        values.insert(name, m);
    }
    values
}

/// The structure of a variable of [`STRUCTURED`], as declared.
pub(crate) fn structure_of(name: &str) -> Option<&'static str> {
    STRUCTURED.iter().find(|s| s.0 == name).map(|s| s.1)
}

/// The gradient of a variable of that structure, from the entry-wise one: `(G + G')/2` for a
/// symmetric (or spd) variable, `tril(G)` for a lower, `I .* G` for a diagonal one.
fn project(name: &str, g: Mat<f64>) -> Mat<f64> {
    let (r, c) = (g.nrows(), g.ncols());
    match structure_of(name) {
        Some("symmetric" | "spd") => Mat::from_fn(r, c, |i, j| (g[(i, j)] + g[(j, i)]) / 2.0),
        Some("lower") => Mat::from_fn(r, c, |i, j| if i >= j { g[(i, j)] } else { 0.0 }),
        Some("diagonal") => Mat::from_fn(r, c, |i, j| if i == j { g[(i, j)] } else { 0.0 }),
        _ => g,
    }
}

/// Declarations of the sizes the values fix, as `matdiff grad --at` makes them.
pub(crate) fn sized(values: &Values<f64>) -> Vec<Decl> {
    values
        .iter()
        .map(|(n, m)| match structure_of(n) {
            Some(s) => Decl::parse(&format!("{n}: {}x{} {s}", m.nrows(), m.ncols()))
                .expect("a declaration"),
            None => Decl::sized(n, m.nrows() as u64, m.ncols() as u64),
        })
        .collect()
}

/// The value and the complex-step gradient of the original expression; `None` when the
/// reference refuses the values.
pub(crate) fn reference(text: &str, wrt: &str, values: &Values<f64>) -> Option<(f64, Mat<f64>)> {
    let values: HashMap<String, Cm> = values
        .iter()
        .map(|(n, m)| {
            let c = Cm::from_fn(m.nrows(), m.ncols(), |i, j| C::new(m[(i, j)], 0.0));
            (n.to_string(), c)
        })
        .collect();
    let mut pool = ExprPool::new();
    let decls: Vec<Decl> = values
        .iter()
        .map(|(n, m)| Decl::sized(n, m.rows as u64, m.cols as u64))
        .collect();
    let e = pool.parse_with(text, &decls).ok()?;
    let f = naive::eval(&pool, e.root, &values).ok()?;
    let x = &values[wrt];
    let h = 1e-20;
    let mut g = Mat::zeros(x.rows, x.cols);
    for i in 0..x.rows {
        for j in 0..x.cols {
            let mut v = values.clone();
            let m = v.get_mut(wrt).expect("the variable has a value");
            m.data[i * x.cols + j] += C::new(0.0, h);
            let fx = naive::eval(&pool, e.root, &v).ok()?;
            g[(i, j)] = fx.data[0].im / h;
        }
    }
    let value = f.data[0].re;
    (value.is_finite() && g.col_iter().all(|c| c.iter().all(|v| v.is_finite())))
        .then(|| (value, project(wrt, g)))
}

/// How a case that matdiff gets right was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// With the sizes the values fix, and with symbolic sizes.
    Fully,
    /// With the sizes the values fix; without them matdiff refuses with a clear error.
    WithSizesOnly,
    /// With the sizes the values fix; without them the language's defaults read the text at
    /// other sizes (a symbolic dimension is not 1, so `diag` of `2 x n` is of a square).
    OtherSizesWithoutSizes,
    /// Not checked: the reference refuses the values (outside a domain, ill-conditioned).
    RefusedByReference,
}

/// Checks one drawn case.
pub fn check_case(seed: u64) -> Result<Checked, Failure> {
    let drawn = draw(seed);
    check_expression(&drawn.text, &drawn.wrt, &values_for(seed)).map_err(|what| Failure {
        seed,
        case: format!("grad {:?} --wrt {}", drawn.text, drawn.wrt),
        what,
    })
}

/// Checks the scalar expression `text` by `wrt` at `values` (every variable, which fix the
/// sizes) as a user of the command line would see it: the value and gradient value of `grad
/// --at`, and the printed gradient of `grad` (with and without the sizes) evaluated by `eval`.
pub fn check_expression(text: &str, wrt: &str, values: &Values<f64>) -> Result<Checked, String> {
    let Some((f0, g0)) = reference(text, wrt, values) else {
        return Ok(Checked::RefusedByReference);
    };
    let scale = gradient_scale(f0, &g0, values, wrt);
    let compare = |what: &str, g: &Mat<f64>| -> Result<(), String> {
        if (g.nrows(), g.ncols()) != (g0.nrows(), g0.ncols()) {
            return Err(format!(
                "{what} is {}x{}, the variable {}x{}",
                g.nrows(),
                g.ncols(),
                g0.nrows(),
                g0.ncols()
            ));
        }
        let mut worst = 0.0f64;
        for j in 0..g.ncols() {
            for i in 0..g.nrows() {
                worst = worst.max((g[(i, j)] - g0[(i, j)]).abs() / scale);
            }
        }
        if worst > TOLERANCE || worst.is_nan() {
            return Err(format!(
                "{what} {:?} differs from the complex step {:?} (relative error {worst:.1e})",
                rows(g),
                rows(&g0)
            ));
        }
        Ok(())
    };

    // `matdiff grad EXPR --wrt X --at VALUES.json`: sizes declared from the values.
    let mut pool = ExprPool::new();
    let e = pool
        .parse_with(text, &sized(values))
        .map_err(|e| format!("does not parse: {}", e.render(text)))?;
    let d = derive(&mut pool, &e, wrt, &DeriveOptions::default())
        .map_err(|e| format!("grad refuses: {e}"))?;
    let out = evaluate(&pool, &[d.function, d.gradient], values)
        .map_err(|e| format!("grad --at cannot evaluate: {e}"))?;
    let v = out[0][(0, 0)];
    if (v - f0).abs() > TOLERANCE * (1.0 + f0.abs()) || v.is_nan() {
        return Err(format!("value {v} differs from {f0}"));
    }
    compare("gradient_value", &out[1])?;
    let printed_at = d
        .complete_gradient_text(&pool)
        .map_err(|e| format!("grad --at refuses: {e}"))?;
    let g = evaluate_printed(&printed_at, values).map_err(|e| format!("printed with --at: {e}"))?;
    compare(&format!("eval of the printed {printed_at:?}"), &g)?;

    // `matdiff grad EXPR --wrt X`, then `matdiff eval GRADIENT --at VALUES.json`. Only the
    // scalars and the structures need declaring: the other names have the default shapes of
    // the language.
    let scalars = symbolic_decls(values);
    // Shapes that hold only for some sizes (a product of dimensions equal to a number or to
    // another product, a `1 x m` that is a scalar only when m = 1) are refused without the
    // sizes, with an error that asks for them: a refusal, not a wrong answer.
    let mut pool = ExprPool::new();
    let Ok(e) = pool.parse_with(text, &scalars) else {
        return Ok(Checked::WithSizesOnly);
    };
    if !sizes_fit(&pool, values) {
        return Ok(Checked::OtherSizesWithoutSizes);
    }
    let d = match derive(&mut pool, &e, wrt, &DeriveOptions::default()) {
        Ok(d) => d,
        Err(e) if e.to_string().contains("not a scalar") => return Ok(Checked::WithSizesOnly),
        Err(e) => return Err(format!("grad (symbolic sizes) refuses: {e}")),
    };
    let Ok(printed) = d.complete_gradient_text(&pool) else {
        return Ok(Checked::WithSizesOnly);
    };
    let g = evaluate_printed(&printed, values).map_err(|e| format!("printed: {e}"))?;
    compare(&format!("eval of the printed {printed:?}"), &g)?;
    Ok(Checked::Fully)
}

/// What gradient errors are relative to: the largest gradient entry, and at least 1e-4 of |f|
/// per unit of the variable: a gradient that is zero, or all but zero (a saturated softmax), is
/// compared with rounding noise at the scale of the function rather than with itself.
pub(crate) fn gradient_scale(f0: f64, g0: &Mat<f64>, values: &Values<f64>, wrt: &str) -> f64 {
    let largest_x = values.get(wrt).map_or(0.0, |x| {
        x.col_iter()
            .flat_map(|c| c.iter().copied().collect::<Vec<_>>())
            .fold(0.0, |m: f64, v| m.max(v.abs()))
    });
    g0.col_iter()
        .flat_map(|c| c.iter().copied().collect::<Vec<_>>())
        .fold(1e-4 * (1.0 + f0.abs()) / (1.0 + largest_x), |m, v| {
            m.max(v.abs())
        })
}

/// Declarations of the scalars and the structures only, as a user of `matdiff grad` without
/// sizes writes them: the other names have the default shapes of the language.
pub(crate) fn symbolic_decls(values: &Values<f64>) -> Vec<Decl> {
    values
        .iter()
        .filter_map(|(n, m)| match structure_of(n) {
            Some(s) => Some(format!("{n}: {s}")),
            None => ((m.nrows(), m.ncols()) == (1, 1)).then(|| format!("{n}: scalar")),
        })
        .map(|d| Decl::parse(&d).expect("a declaration"))
        .collect()
}

/// Whether the values have the shapes the pool reads the text at: every symbolic dimension
/// takes one size throughout (a product, the product of its factors' sizes), a known one its own.
pub(crate) fn sizes_fit(pool: &ExprPool, values: &Values<f64>) -> bool {
    let mut sizes: HashMap<DimVar, u64> = HashMap::new();
    let mut products = Vec::new();
    for (name, m) in values.iter() {
        let Some(info) = pool.find_symbol(name).and_then(|s| pool.var_info(s)) else {
            continue;
        };
        for (d, k) in [(info.shape.rows, m.nrows()), (info.shape.cols, m.ncols())] {
            let k = k as u64;
            match d {
                Dim::Known(n) if n != k => return false,
                Dim::Known(_) => {}
                Dim::Sym(v) => {
                    if *sizes.entry(v).or_insert(k) != k {
                        return false;
                    }
                }
                Dim::Prod(_) => products.push((d, k)),
            }
        }
    }
    // A product fits when its factors' sizes multiply to it; a factor no variable has alone
    // takes what is left (one per product).
    products.into_iter().all(|(d, k)| {
        let mut known = 1u64;
        let mut open = Vec::new();
        for f in pool.dim_factors(d) {
            match f {
                Dim::Known(n) => known *= n,
                Dim::Sym(v) => match sizes.get(&v) {
                    Some(&n) => known *= n,
                    None => open.push(v),
                },
                Dim::Prod(_) => unreachable!("the factors of a product are not products"),
            }
        }
        match open[..] {
            [] => known == k,
            [v] if k % known == 0 => *sizes.entry(v).or_insert(k / known) == k / known,
            _ => true,
        }
    })
}

/// Parses printed text as `matdiff eval` does (sizes from the values) and evaluates it.
pub(crate) fn evaluate_printed(text: &str, values: &Values<f64>) -> Result<Mat<f64>, String> {
    let mut pool = ExprPool::new();
    let e = pool
        .parse_with(text, &sized(values))
        .map_err(|e| format!("{text:?} does not parse: {}", e.render(text)))?;
    let mut out =
        evaluate(&pool, &[e.root], values).map_err(|e| format!("eval of {text:?}: {e}"))?;
    Ok(out.remove(0))
}

pub(crate) fn evaluate(
    pool: &ExprPool,
    roots: &[matdiff_expr::ExprId],
    values: &Values<f64>,
) -> Result<Vec<Mat<f64>>, matdiff_faer::EvalError> {
    let sizes = Sizes::from_values(pool, values)?;
    let mut plan = Plan::<f64>::compile(pool, roots, &sizes)?;
    plan.run(values)
}

pub(crate) fn rows(m: &Mat<f64>) -> Vec<Vec<f64>> {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect())
        .collect()
}
