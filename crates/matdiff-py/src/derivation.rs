//! `grad`, `evaluate`, `solve`: derivations with their steps, evaluated on NumPy arrays.

use std::sync::{Mutex, OnceLock};

use faer::{Mat, MatRef};
use matdiff_expr::{Decl, Dim, Expr, ExprId, ExprPool, Style};
use matdiff_faer::{verify_gradient, EvalError, Plan, Sizes, Values, VerifyOptions};
use matdiff_rewrite::{derive, stationary, DeriveOptions};
use numpy::PyUntypedArrayMethods;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::{self, Array};
use crate::errors;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Derivation>()?;
    m.add_class::<Step>()?;
    m.add_class::<Check>()?;
    m.add_class::<Solution>()?;
    m.add_function(wrap_pyfunction!(grad, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(solve, m)?)?;
    Ok(())
}

/// Parses `source` with the declarations `lets` into a fresh pool.
fn parse(source: &str, lets: &[String]) -> PyResult<(ExprPool, Expr)> {
    let decls = lets
        .iter()
        .enumerate()
        .map(|(k, text)| {
            Decl::parse(text).map_err(|e| {
                let e = matdiff_expr::ParseError { decl: Some(k), ..e };
                errors::parse_error(&e, text, lets)
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let mut pool = ExprPool::new();
    let expr = pool
        .parse_with(source, &decls)
        .map_err(|e| errors::parse_error(&e, source, lets))?;
    Ok((pool, expr))
}

/// Roots of one pool compiled into a plan for the sizes of the last call's arrays.
struct Evaluator {
    pool: ExprPool,
    roots: Vec<ExprId>,
    plan: Mutex<Option<(Sizes, Plan<f64>)>>,
}

impl Evaluator {
    fn new(pool: ExprPool, roots: Vec<ExprId>) -> Evaluator {
        Evaluator {
            pool,
            roots,
            plan: Mutex::new(None),
        }
    }

    /// Evaluates the roots at the arrays, read in place, with the GIL released.
    fn run(&self, py: Python<'_>, arrays: &[(String, Array<'_>)]) -> PyResult<Vec<Mat<f64>>> {
        let views = arrays
            .iter()
            .map(|(name, a)| Ok((name.as_str(), arrays::view(name, a)?)))
            .collect::<PyResult<Vec<(&str, MatRef<'_, f64>)>>>()?;
        let sizes = Sizes::from_shapes(&self.pool, views.iter().map(|(n, m)| (*n, m.shape())))
            .map_err(|e| errors::eval_error(&e))?;
        py.detach(|| {
            let mut cache = self.plan.lock().unwrap_or_else(|p| p.into_inner());
            if cache.as_ref().is_none_or(|(s, _)| *s != sizes) {
                let plan = Plan::compile(&self.pool, &self.roots, &sizes)?;
                *cache = Some((sizes, plan));
            }
            let (_, plan) = cache.as_mut().expect("a plan was just compiled");
            let mut out = Vec::new();
            plan.run_into(&views[..], &mut out)?;
            // A non-finite result from a non-finite input is an error that names the input (as
            // `Plan::run` reports it); valid runs pay only the scan of their results.
            let finite = |m: MatRef<'_, f64>| m.col_iter().all(|c| c.iter().all(|v| v.is_finite()));
            if !out.iter().all(|m| finite(m.as_ref())) {
                if let Some(e) = views.iter().find_map(|(name, m)| non_finite(name, *m)) {
                    return Err(e);
                }
            }
            Ok(out)
        })
        .map_err(|e| errors::eval_error(&e))
    }

    /// The number of dimensions a result of `root` is returned with: 0 for a scalar, 1 for a
    /// column vector, 2 otherwise.
    fn ndim(&self, root: ExprId) -> usize {
        let shape = self.pool.shape(root);
        match (shape.rows, shape.cols) {
            (Dim::Known(1), Dim::Known(1)) => 0,
            (_, Dim::Known(1)) => 1,
            _ => 2,
        }
    }
}

/// The first non-finite entry of the value of `name`, as an error.
fn non_finite(name: &str, m: MatRef<'_, f64>) -> Option<EvalError> {
    (0..m.ncols()).find_map(|j| {
        (0..m.nrows())
            .find(|&i| !m[(i, j)].is_finite())
            .map(|i| EvalError::NonFinite {
                name: name.to_string(),
                row: i + 1,
                col: j + 1,
            })
    })
}

/// One line of a derivation.
#[pyclass(module = "matdiff", frozen, get_all)]
pub(crate) struct Step {
    /// The left-hand side: `f`, `df`, `∂f/∂Y`.
    lhs: String,
    /// The right-hand side in the input syntax.
    text: String,
    /// The right-hand side with Unicode symbols.
    unicode: String,
    /// The right-hand side in LaTeX.
    latex: String,
    /// The rules this line used, as `(id, name)` pairs: `("T4", "cyclic property")`.
    rules: Vec<(String, String)>,
    /// Whether this line equals the previous one (`   = ...`).
    continues: bool,
}

#[pymethods]
impl Step {
    fn __repr__(&self) -> String {
        let ids: Vec<&str> = self.rules.iter().map(|(id, _)| id.as_str()).collect();
        format!("Step({} = {}  [{}])", self.lhs, self.text, ids.join(", "))
    }
}

/// A gradient and its derivation. Call it with arrays to evaluate the gradient.
#[pyclass(module = "matdiff", frozen)]
pub(crate) struct Derivation {
    evaluator: Evaluator,
    /// The gradient, derived without its steps (derived again when `steps` is first read).
    derivation: matdiff_rewrite::Derivation,
    expr: String,
    lets: Vec<String>,
    options: DeriveOptions,
    /// The derivation with its steps, in a pool of its own, once one was asked for.
    with_steps: OnceLock<(ExprPool, matdiff_rewrite::Derivation)>,
}

/// Derives the gradient of `expr` with respect to `wrt` (see `matdiff.grad`).
#[pyfunction]
#[pyo3(signature = (expr, wrt, lets, upstream=None))]
fn grad(
    expr: &str,
    wrt: &str,
    lets: Vec<String>,
    upstream: Option<String>,
) -> PyResult<Derivation> {
    let (mut pool, parsed) = parse(expr, &lets)?;
    let options = DeriveOptions {
        upstream,
        ..DeriveOptions::default()
    };
    let gradient_only = DeriveOptions {
        gradient_only: true,
        ..options.clone()
    };
    let derivation =
        derive(&mut pool, &parsed, wrt, &gradient_only).map_err(|e| errors::derive_error(&e))?;
    // A gradient whose text could not name a size is refused, not shown unevaluable.
    derivation
        .complete_gradient_text(&pool)
        .map_err(|e| errors::derive_error(&e))?;
    let roots = vec![derivation.gradient, derivation.function];
    Ok(Derivation {
        evaluator: Evaluator::new(pool, roots),
        derivation,
        expr: expr.to_string(),
        lets,
        options,
        with_steps: OnceLock::new(),
    })
}

impl Derivation {
    fn pool(&self) -> &ExprPool {
        &self.evaluator.pool
    }

    /// The derivation again, with its steps, in a pool of its own, derived on the first call
    /// and kept (`grad` derives the gradient only: most callers never read the steps).
    fn with_steps(&self) -> PyResult<&(ExprPool, matdiff_rewrite::Derivation)> {
        if let Some(done) = self.with_steps.get() {
            return Ok(done);
        }
        let (mut pool, parsed) = parse(&self.expr, &self.lets)?;
        let d = derive(&mut pool, &parsed, &self.derivation.wrt, &self.options)
            .map_err(|e| errors::derive_error(&e))?;
        // Two threads may derive at once: both results are the same, the first is kept.
        Ok(self.with_steps.get_or_init(|| (pool, d)))
    }

    fn values(arrays: &[(String, Array<'_>)]) -> PyResult<Values<f64>> {
        let mut values = Values::new();
        for (name, a) in arrays {
            values.insert(name.clone(), arrays::view(name, a)?.to_owned());
        }
        Ok(values)
    }
}

#[pymethods]
impl Derivation {
    /// The NumPy source of `def NAME(...)` returning the value and the gradient (matdiff's
    /// code generator), with a `check_gradient(...)` against central differences if asked.
    #[pyo3(signature = (name = "f_and_grad", check_gradient = false))]
    fn numpy_source(&self, name: &str, check_gradient: bool) -> PyResult<String> {
        let d = &self.derivation;
        let options = matdiff_codegen::Options {
            name: name.to_string(),
            check_gradient,
            ..matdiff_codegen::Options::default()
        };
        matdiff_codegen::Program::new(self.pool(), &d.bindings, std::slice::from_ref(d))
            .and_then(|p| p.print(matdiff_codegen::Lang::NumPy, &options))
            .map_err(|e| errors::DerivationError::new_err(e.to_string()))
    }

    /// The gradient in the input syntax (it parses back).
    #[getter]
    fn text(&self) -> String {
        self.derivation.gradient_text(self.pool(), Style::Plain)
    }

    /// The gradient with Unicode symbols (ᵀ, ⊙, σ).
    #[getter]
    fn unicode(&self) -> String {
        self.derivation.gradient_text(self.pool(), Style::Unicode)
    }

    /// The gradient in LaTeX.
    #[getter]
    fn latex(&self) -> String {
        self.derivation.gradient_text(self.pool(), Style::Latex)
    }

    /// The variable.
    #[getter]
    fn wrt(&self) -> &str {
        &self.derivation.wrt
    }

    /// The expression as given.
    #[getter]
    fn expr(&self) -> &str {
        &self.expr
    }

    /// Whether the variable is declared symmetric, so that this is the symmetric gradient
    /// `(G + G')/2`.
    #[getter]
    fn symmetric(&self) -> bool {
        self.derivation.symmetric
    }

    /// The derivation, one `Step` per line (derived again, with the steps, when first asked for).
    #[getter]
    fn steps(&self) -> PyResult<Vec<Step>> {
        let (pool, d) = self.with_steps()?;
        let print = |style, id| d.printer(pool, style).print_body(id);
        Ok(d.steps
            .iter()
            .map(|s| Step {
                lhs: s.lhs.to_string(),
                text: print(Style::Plain, s.expr),
                unicode: print(Style::Unicode, s.expr),
                latex: print(Style::Latex, s.expr),
                rules: s
                    .rules
                    .iter()
                    .map(|id| (id.to_string(), id.rule().name.to_string()))
                    .collect(),
                continues: s.continues,
            })
            .collect())
    }

    /// Evaluates the gradient at the arrays (every variable of the expression, by name): an
    /// array of the shape of the variable's value, or a float for a scalar variable.
    #[pyo3(signature = (**arrays))]
    fn __call__(&self, py: Python<'_>, arrays: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        let arrays = arrays::borrow_all(arrays)?;
        let out = self.evaluator.run(py, &arrays)?;
        let ndim = arrays
            .iter()
            .find(|(name, _)| *name == self.derivation.wrt)
            .map_or(2, |(_, a)| a.ndim());
        arrays::to_python(py, &out[0], ndim)
    }

    /// The value of the function at the arrays (a float).
    #[pyo3(signature = (**arrays))]
    fn value(&self, py: Python<'_>, arrays: Option<&Bound<'_, PyDict>>) -> PyResult<f64> {
        let arrays = arrays::borrow_all(arrays)?;
        Ok(self.evaluator.run(py, &arrays)?[1][(0, 0)])
    }

    /// Checks the gradient against the complex step and central differences, at the arrays
    /// given, or at random values (seed 0) that respect domains when none are given, with the
    /// tolerances and redraws of `matdiff check` (`verify_gradient`). The gradient in a symmetric
    /// variable is checked by moving mirrored entries together.
    #[pyo3(signature = (**arrays))]
    fn check(&self, py: Python<'_>, arrays: Option<&Bound<'_, PyDict>>) -> PyResult<Check> {
        let arrays = arrays::borrow_all(arrays)?;
        let given = Derivation::values(&arrays)?;
        let random = given.iter().next().is_none();
        let d = &self.derivation;
        let verdict = py
            .detach(|| {
                verify_gradient(
                    self.pool(),
                    d.function,
                    &d.wrt,
                    d.gradient,
                    (!random).then_some(&given),
                    &VerifyOptions::default(),
                )
            })
            .map_err(|e| errors::eval_error(&e))?;
        Ok(Check {
            max_error_complex_step: verdict.check.max_error_complex_step,
            max_error_finite_difference: verdict.check.max_error_finite_difference,
            ok: verdict.ok,
            random,
        })
    }

    fn __repr__(&self) -> String {
        format!("Derivation(∂f/∂{} = {})", self.derivation.wrt, self.text())
    }

    /// The derivation step by step, in the input syntax (as `matdiff grad --steps`).
    fn __str__(&self) -> PyResult<String> {
        let (pool, d) = self.with_steps()?;
        Ok(d.display(pool, Style::Plain))
    }

    /// The derivation for Jupyter: every step in LaTeX, then the gradient.
    fn _repr_markdown_(&self) -> PyResult<String> {
        let (pool, d) = self.with_steps()?;
        Ok(format!(
            "Gradient of $f = {}$ with respect to ${}$:\n\n{}\n$$\\frac{{\\partial f}}{{\\partial {}}} = {}$$\n",
            d.printer(pool, Style::Latex).print(d.function),
            d.wrt,
            d.markdown(pool),
            d.wrt,
            self.latex()
        ))
    }
}

/// The result of `Derivation.check`: relative errors against the two numeric references.
#[pyclass(module = "matdiff", frozen, get_all)]
pub(crate) struct Check {
    /// Largest relative error of the derived gradient against the complex step.
    max_error_complex_step: f64,
    /// Largest relative error against central differences.
    max_error_finite_difference: f64,
    /// Whether the gradient agrees: within 1e-8 of the complex step and 1e-6 of central
    /// differences (the complex step alone decides where the two references disagree).
    ok: bool,
    /// Whether the values were drawn at random.
    random: bool,
}

#[pymethods]
impl Check {
    fn __bool__(&self) -> bool {
        self.ok
    }

    fn __repr__(&self) -> String {
        format!(
            "Check(ok={}, max_error_complex_step={:.1e}, max_error_finite_difference={:.1e})",
            if self.ok { "True" } else { "False" },
            self.max_error_complex_step,
            self.max_error_finite_difference
        )
    }
}

/// Evaluates `expr` at the arrays (see `matdiff.evaluate`).
#[pyfunction]
#[pyo3(signature = (expr, lets, arrays))]
fn evaluate(
    py: Python<'_>,
    expr: &str,
    lets: Vec<String>,
    arrays: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let arrays = arrays::borrow_all(arrays)?;
    let (pool, parsed) = parse(expr, &lets)?;
    let evaluator = Evaluator::new(pool, vec![parsed.root]);
    let out = evaluator.run(py, &arrays)?;
    arrays::to_python(py, &out[0], evaluator.ndim(parsed.root))
}

/// The stationary point of an expression whose gradient is affine in the variable.
#[pyclass(module = "matdiff", frozen)]
pub(crate) struct Solution {
    evaluator: Evaluator,
    lhs: ExprId,
    rhs: ExprId,
    bindings: Vec<(String, ExprId)>,
    wrt: String,
    gradient: String,
}

/// Finds the stationary point of `expr` in `wrt` (see `matdiff.solve`).
#[pyfunction]
#[pyo3(signature = (expr, wrt, lets))]
fn solve(expr: &str, wrt: &str, lets: Vec<String>) -> PyResult<Solution> {
    let (mut pool, parsed) = parse(expr, &lets)?;
    let d = derive(&mut pool, &parsed, wrt, &DeriveOptions::default())
        .map_err(|e| errors::derive_error(&e))?;
    let s = stationary(&mut pool, &parsed, &d).map_err(|e| errors::derive_error(&e))?;
    let gradient = d
        .complete_gradient_text(&pool)
        .map_err(|e| errors::derive_error(&e))?;
    Ok(Solution {
        evaluator: Evaluator::new(pool, vec![s.solution]),
        lhs: s.lhs,
        rhs: s.rhs,
        bindings: parsed.bindings,
        wrt: wrt.to_string(),
        gradient,
    })
}

impl Solution {
    fn print(&self, style: Style, id: ExprId) -> String {
        self.evaluator
            .pool
            .printer(style)
            .with_bindings(&self.bindings)
            .print_body(id)
    }
}

#[pymethods]
impl Solution {
    /// The solution `inv(X'*X)*X'*y`, in the input syntax.
    #[getter]
    fn text(&self) -> String {
        self.print(Style::Plain, self.evaluator.roots[0])
    }

    /// The solution in LaTeX.
    #[getter]
    fn latex(&self) -> String {
        self.print(Style::Latex, self.evaluator.roots[0])
    }

    /// The stationary equation `X'*X*w = X'*y`.
    #[getter]
    fn equation(&self) -> String {
        format!(
            "{} = {}",
            self.print(Style::Plain, self.lhs),
            self.print(Style::Plain, self.rhs)
        )
    }

    /// The gradient whose zero this is.
    #[getter]
    fn gradient(&self) -> &str {
        &self.gradient
    }

    /// The variable.
    #[getter]
    fn wrt(&self) -> &str {
        &self.wrt
    }

    /// Evaluates the solution at the arrays (every other variable, by name).
    #[pyo3(signature = (**arrays))]
    fn __call__(&self, py: Python<'_>, arrays: Option<&Bound<'_, PyDict>>) -> PyResult<Py<PyAny>> {
        let arrays = arrays::borrow_all(arrays)?;
        let out = self.evaluator.run(py, &arrays)?;
        arrays::to_python(py, &out[0], self.evaluator.ndim(self.evaluator.roots[0]))
    }

    fn __repr__(&self) -> String {
        format!("Solution({} = {})", self.wrt, self.text())
    }

    fn _repr_markdown_(&self) -> String {
        format!("$${} = {}$$", self.wrt, self.latex())
    }
}
