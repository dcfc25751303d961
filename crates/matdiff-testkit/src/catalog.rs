//! The derivation catalog: reading its entries and checking each one numerically.
//!
//! The entries are the `.txt` files of `crates/matdiff-rewrite/tests/derivations/`. Shared by that
//! crate's `tests/derivations.rs` (which also snapshot-tests the derivation text), `cargo xtask
//! check-derivations` (which prints the table) and the code generators' tests, so all check the
//! same things:
//! the derived gradient against the complex-step gradient at three random size draws, the
//! literature form against the same, and every step of the derivation (`check_steps`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use matdiff_expr::{Decl, Dim, DimVar, ExprId, ExprPool, Fun, Node, Style, Symbol};
use matdiff_faer::{
    check_steps, complex_step, Complex, Functions, Mat, Options, Plan, Scalar, Sizes, Values,
};
use matdiff_rewrite::{derive, Derivation, DeriveOptions};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Largest relative error accepted for gradients, literature forms and steps.
pub const TOLERANCE: f64 = 1e-8;

/// Random size draws per entry.
pub const DRAWS: u64 = 3;

/// One catalog entry, as written in its `.txt` file.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// The file stem (and the `name:` line).
    pub name: String,
    /// Where the derivation comes from: `seed 2.5.2`, `Matrix Cookbook (69)`, `ML: ridge`.
    pub source: String,
    /// The scalar function (or a matrix one with `upstream`).
    pub expr: String,
    /// The variable.
    pub wrt: String,
    /// Declarations (`M: symmetric`).
    pub decls: Vec<String>,
    /// The upstream gradient's name, for a matrix-valued EXPR.
    pub upstream: Option<String>,
    /// Variables drawn with positive entries (for `log`, `sqrt` and the like).
    pub positive: Vec<String>,
    /// The closed form of the literature, in the expression language.
    pub literature: String,
}

/// The result of checking one entry.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The entry's name.
    pub name: String,
    /// The step-by-step derivation text (`Style::Plain`), what the snapshot pins down.
    pub text: String,
    /// The number of step lines.
    pub steps: usize,
    /// The gradient, re-parseable.
    pub gradient: String,
    /// The literature form, as written in the entry.
    pub literature: String,
    /// Operators in the gradient and in the literature form (DAG nodes that are not leaves).
    pub ops: (usize, usize),
    /// The largest relative error of the gradient against the complex step, over the draws.
    pub gradient_error: f64,
    /// The same for the literature form.
    pub literature_error: f64,
    /// The largest relative disagreement of consecutive derivation steps, over the draws.
    pub step_error: f64,
    /// The time `derive` took.
    pub time: Duration,
    /// What went wrong, if anything.
    pub failures: Vec<String>,
}

impl Outcome {
    /// The largest of the three errors.
    pub fn max_error(&self) -> f64 {
        self.gradient_error
            .max(self.literature_error)
            .max(self.step_error)
    }

    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The catalog directory.
pub fn catalog_dir() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    loop {
        let catalog = dir.join("crates/matdiff-rewrite/tests/derivations");
        if catalog.is_dir() {
            return catalog;
        }
        dir = dir.parent().expect("the catalog is in the workspace");
    }
}

/// The catalog files, sorted by name.
pub fn catalog_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(catalog_dir())
        .expect("the catalog directory is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
}

/// Reads an entry file: `key: value` lines (`let:` repeatable), `#` comments.
pub fn read_entry(path: &Path) -> Result<Entry, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let entry = parse_entry(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if entry.name != stem {
        return Err(format!(
            "{}: name '{}' differs from the file name",
            path.display(),
            entry.name
        ));
    }
    Ok(entry)
}

/// Parses the text of an entry.
pub fn parse_entry(text: &str) -> Result<Entry, String> {
    let mut e = Entry::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(format!("line {}: expected 'key: value'", n + 1));
        };
        let value = value.trim().to_string();
        match key.trim() {
            "name" => e.name = value,
            "source" => e.source = value,
            "expr" => e.expr = value,
            "wrt" => e.wrt = value,
            "let" => e.decls.push(value),
            "upstream" => e.upstream = Some(value),
            "positive" => e
                .positive
                .extend(value.split(',').map(|s| s.trim().to_string())),
            "literature" => e.literature = value,
            other => return Err(format!("line {}: unknown key '{other}'", n + 1)),
        }
    }
    for (key, value) in [
        ("name", &e.name),
        ("source", &e.source),
        ("expr", &e.expr),
        ("wrt", &e.wrt),
        ("literature", &e.literature),
    ] {
        if value.is_empty() {
            return Err(format!("missing '{key}:'"));
        }
    }
    Ok(e)
}

/// Derives an entry: the pool, the derivation and the time `derive` took.
pub fn derive_entry(entry: &Entry) -> Result<(ExprPool, Derivation, Duration), String> {
    let mut pool = ExprPool::new();
    let decls = decls(entry)?;
    let expr = pool
        .parse_with(&entry.expr, &decls)
        .map_err(|e| format!("expr: {}", e.render(&entry.expr)))?;
    let options = DeriveOptions {
        upstream: entry.upstream.clone(),
        ..DeriveOptions::default()
    };
    let start = Instant::now();
    let d = derive(&mut pool, &expr, &entry.wrt, &options).map_err(|e| format!("derive: {e}"))?;
    Ok((pool, d, start.elapsed()))
}

/// Derives an entry and checks it numerically.
pub fn check_entry(entry: &Entry) -> Outcome {
    let mut out = Outcome {
        name: entry.name.clone(),
        literature: entry.literature.clone(),
        ..Outcome::default()
    };
    let (mut pool, d, time) = match derive_entry(entry) {
        Ok(x) => x,
        Err(e) => {
            out.failures.push(e);
            return out;
        }
    };
    out.time = time;
    out.text = d.display(&pool, Style::Plain);
    out.steps = d.steps.len();
    out.gradient = d.gradient_text(&pool, Style::Plain);
    let literature = match decls(entry).and_then(|decls| {
        pool.parse_with(&entry.literature, &decls)
            .map_err(|e| format!("literature: {}", e.render(&entry.literature)))
    }) {
        Ok(l) => l.root,
        Err(e) => {
            out.failures.push(e);
            return out;
        }
    };
    out.ops = (operators(&pool, d.gradient), operators(&pool, literature));
    if let Err(e) = numeric_checks(&pool, &d, literature, entry, &mut out) {
        out.failures.push(e);
    }
    // Keep the pool alive to here (the literature was parsed into it).
    let _ = &mut pool;
    out
}

fn decls(entry: &Entry) -> Result<Vec<Decl>, String> {
    entry
        .decls
        .iter()
        .map(|d| Decl::parse(d).map_err(|e| format!("let '{d}': {e}")))
        .collect()
}

/// Operators of an expression: its DAG nodes that are not leaves.
pub fn operators(pool: &ExprPool, root: ExprId) -> usize {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    let mut count = 0;
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let children = pool.node(id).children();
        if !children.is_empty() {
            count += 1;
        }
        stack.extend_from_slice(children);
    }
    count
}

fn numeric_checks(
    pool: &ExprPool,
    d: &Derivation,
    literature: ExprId,
    entry: &Entry,
    out: &mut Outcome,
) -> Result<(), String> {
    let wrt = pool
        .find_symbol(&entry.wrt)
        .ok_or_else(|| format!("no variable '{}'", entry.wrt))?;
    let aux: BTreeSet<Symbol> = d
        .definitions
        .iter()
        .map(|x| x.0)
        .chain([d.differential])
        .collect();
    let mut inputs = variables(pool, &[d.function, literature]);
    inputs.retain(|s| !aux.contains(s));
    let functions = abstract_functions(pool, d.function);
    let options_f64 = Options::new()
        .threads(1)
        .functions(make_functions::<f64>(&functions));
    let options_c64 = Options::new()
        .threads(1)
        .functions(make_functions::<Complex<f64>>(&functions));
    let dims: BTreeSet<DimVar> = inputs
        .iter()
        .flat_map(|&s| {
            let shape = pool.var_info(s).expect("a variable").shape;
            [shape.rows, shape.cols]
        })
        .flat_map(|d| pool.dim_factors(d))
        .filter_map(|d| match d {
            Dim::Sym(v) => Some(v),
            _ => None,
        })
        .collect();
    let seed = entry.name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let symmetric = pool.var_info(wrt).is_some_and(|i| i.symmetric);
    let structure = pool.var_info(wrt).map(|i| i.structure).unwrap_or_default();
    let positive: BTreeSet<&str> = entry.positive.iter().map(String::as_str).collect();
    for draw in 0..DRAWS {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(draw));
        // Distinct sizes for distinct dimensions, where there are enough of them: non-square
        // wherever the entry allows.
        let mut sizes = Sizes::new();
        let mut choices: Vec<usize> = (2..=6).collect();
        choices.shuffle(&mut rng);
        for (k, &dim) in dims.iter().enumerate() {
            sizes.set(dim, choices[k % choices.len()]);
        }
        let mut values = Values::<f64>::new();
        for &s in &inputs {
            let info = pool.var_info(s).expect("a variable");
            let (r, c) = sizes.shape(pool, info.shape).map_err(|e| e.to_string())?;
            let name = pool.name(s);
            let mut value = random_value(
                &mut rng,
                r,
                c,
                info.shape.rows == info.shape.cols,
                info.symmetric,
                positive.contains(name),
            );
            let st = info.structure;
            value = Mat::from_fn(
                r,
                c,
                |i, j| if st.allows(i, j) { value[(i, j)] } else { 0.0 },
            );
            if info.structure == matdiff_expr::Structure::Integer {
                value = Mat::from_fn(1, 1, |_, _| rng.random_range(2..=5) as f64);
            }
            values.insert(name, value);
        }
        let mut sizes = Sizes::from_values(pool, &values).map_err(|e| e.to_string())?;
        // Dimensions of the literature form that no variable fixes (`ones`) are those of X.
        let x_shape = pool.var_info(wrt).expect("a variable").shape;
        let l_shape = pool.shape(literature);
        for (l, x) in [(l_shape.rows, x_shape.rows), (l_shape.cols, x_shape.cols)] {
            if let Dim::Sym(v) = l {
                if sizes.get(v).is_none() {
                    sizes.set(v, sizes.dim(pool, x).map_err(|e| e.to_string())?);
                }
            }
        }
        let at = |what: &str, e: matdiff_faer::EvalError| format!("{what} (draw {draw}): {e}");
        let mut plan = Plan::compile_with(pool, &[d.gradient, literature], &sizes, &options_f64)
            .map_err(|e| at("compiling the gradient", e))?;
        let results = plan
            .run(&values)
            .map_err(|e| at("evaluating the gradient", e))?;
        let (gradient, mut lit) = (&results[0], results[1].clone());
        // Structured variables are moved as declared: the reference is the symmetric,
        // diagonal or triangular gradient, and the literature's form (the unstructured G) is
        // masked to the structure.
        let reference = complex_step(pool, d.function, &entry.wrt, &values, &options_c64)
            .map_err(|e| at("complex step", e))?;
        lit = Mat::from_fn(lit.nrows(), lit.ncols(), |i, j| {
            if structure.allows(i, j) {
                lit[(i, j)]
            } else {
                0.0
            }
        });
        if symmetric {
            lit = Mat::from_fn(lit.nrows(), lit.ncols(), |i, j| {
                (lit[(i, j)] + lit[(j, i)]) / 2.0
            });
        }
        let g_err = relative_error(gradient, &reference);
        let l_err = relative_error(&lit, &reference);
        let lines: Vec<(ExprId, bool)> = d.steps.iter().map(|s| (s.expr, s.continues)).collect();
        let report = check_steps(
            pool,
            &lines,
            (d.differential, wrt),
            &d.definitions,
            &values,
            &options_f64,
            seed ^ draw,
        )
        .map_err(|e| at("checking the steps", e))?;
        let s_err = report.max_error();
        out.gradient_error = out.gradient_error.max(g_err);
        out.literature_error = out.literature_error.max(l_err);
        out.step_error = out.step_error.max(s_err);
        if !within_tolerance(g_err) {
            out.failures.push(format!(
                "gradient differs from the complex step by {g_err:.1e} (draw {draw})"
            ));
        }
        if !within_tolerance(l_err) {
            out.failures.push(format!(
                "literature form differs from the complex step by {l_err:.1e} (draw {draw})"
            ));
        }
        if let Some(line) = report.worst_line(TOLERANCE) {
            out.failures.push(format!(
                "step {} disagrees with the previous one by {:.1e} (draw {draw})",
                line + 1,
                report.errors[line].unwrap_or(f64::NAN)
            ));
        }
    }
    Ok(())
}

/// Whether an error is at most the tolerance (NaN is not).
fn within_tolerance(error: f64) -> bool {
    error <= TOLERANCE
}

/// The variables under the roots, sorted.
fn variables(pool: &ExprPool, roots: &[ExprId]) -> Vec<Symbol> {
    let mut seen = BTreeSet::new();
    let mut vars = BTreeSet::new();
    let mut stack = roots.to_vec();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Node::Var(s) = pool.node(id) {
            vars.insert(*s);
        }
        stack.extend_from_slice(pool.node(id).children());
    }
    vars.into_iter().collect()
}

/// The names of the abstract functions under a root.
pub fn abstract_functions(pool: &ExprPool, root: ExprId) -> Vec<String> {
    let mut names = BTreeSet::new();
    for id in pool.ids().take(root.index() + 1) {
        if let Node::Apply {
            fun: Fun::Abstract(s),
            ..
        } = pool.node(id)
        {
            names.insert(pool.name(*s).to_string());
        }
    }
    names.into_iter().collect()
}

/// Numeric stand-ins for the abstract functions: `g(x) = tanh(a*x) + x^2/10`, with `a` per name.
pub fn make_functions<T: Scalar>(names: &[String]) -> Functions<T> {
    let mut functions = Functions::new();
    for (k, name) in names.iter().enumerate() {
        let a = T::from_f64(0.5 + 0.25 * k as f64);
        let (c1, c2, c10) = (T::from_f64(1.0), T::from_f64(2.0), T::from_f64(10.0));
        let c5 = T::from_f64(5.0);
        functions.define(
            name,
            move |x: T| (a * x).tanh() + x * x / c10,
            move |x: T| {
                let t = (a * x).tanh();
                a * (c1 - t * t) + x / c5
            },
        );
        functions.define_second(name, move |x: T| {
            let t = (a * x).tanh();
            -(c2 * a * a * t * (c1 - t * t)) + c1 / c5
        });
    }
    functions
}

/// A random value: near the identity for square matrices (well conditioned, positive
/// determinant), symmetric where declared, in (0.5, 1.5) for positive ones and scalars, else in
/// (-1, 1).
pub fn random_value(
    rng: &mut StdRng,
    r: usize,
    c: usize,
    square: bool,
    symmetric: bool,
    positive: bool,
) -> Mat<f64> {
    if positive || (r == 1 && c == 1) {
        let m = Mat::from_fn(r, c, |_, _| rng.random_range(0.5..1.5));
        return if symmetric {
            Mat::from_fn(r, c, |i, j| {
                (m[(i, j)] + m[(j, i)]) / 2.0 + if i == j { r as f64 } else { 0.0 }
            })
        } else {
            m
        };
    }
    if square && r > 1 {
        let scale = 0.5 / (r as f64).sqrt();
        let m = Mat::from_fn(r, c, |_, _| rng.random_range(-scale..scale));
        return Mat::from_fn(r, c, |i, j| {
            let v = if symmetric {
                (m[(i, j)] + m[(j, i)]) / 2.0
            } else {
                m[(i, j)]
            };
            v + if i == j { 1.0 } else { 0.0 }
        });
    }
    Mat::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0))
}

/// The largest entry-wise difference relative to the largest entry of the reference.
fn relative_error(a: &Mat<f64>, reference: &Mat<f64>) -> f64 {
    if (a.nrows(), a.ncols()) != (reference.nrows(), reference.ncols()) {
        return f64::INFINITY;
    }
    let mut diff = 0.0f64;
    let mut scale = f64::MIN_POSITIVE;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let d = (a[(i, j)] - reference[(i, j)]).abs();
            if d.is_nan() {
                return f64::NAN;
            }
            diff = diff.max(d);
            scale = scale.max(reference[(i, j)].abs());
        }
    }
    diff / scale
}
