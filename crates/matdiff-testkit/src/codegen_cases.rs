//! The catalog entries with random values and matdiff-faer's evaluation of the function and the
//! gradient: what the generated code of every target must reproduce.

use std::collections::BTreeSet;

use std::fmt::Write;

use matdiff_codegen::{ArgumentKind, Lang, Options as CodegenOptions, Program};
use matdiff_expr::{Dim, DimVar, ExprId, ExprPool, Node, Symbol};
use matdiff_faer::{Mat, Options, Plan, Sizes, Values};
use matdiff_rewrite::Derivation;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::catalog;

/// Largest relative error accepted between generated code and matdiff-faer.
pub const TOLERANCE: f64 = 1e-10;

/// Catalog entries the generators refuse, each with the reason (`codegen_excluded.txt`): the
/// tests check that they are still refused, so that the list stays true.
pub fn excluded() -> Vec<(&'static str, &'static str)> {
    include_str!("codegen_excluded.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_once("  ").unwrap_or((l, "")))
        .collect()
}

/// One catalog entry ready to run.
pub struct Case {
    pub name: String,
    pub pool: ExprPool,
    pub derivation: Derivation,
    pub program: Program,
    /// The inputs, by name.
    pub values: Values<f64>,
    /// The abstract functions, sorted by name (the catalog's stand-ins `tanh(a*x) + x^2/10`).
    pub functions: Vec<String>,
    /// matdiff-faer's value of the function and of the gradient.
    pub value: f64,
    pub gradient: Mat<f64>,
}

/// Every catalog entry, derived, lowered and evaluated; an entry that fails to lower is
/// returned with its error.
pub fn cases() -> Vec<Result<Case, (String, String)>> {
    catalog::catalog_files()
        .iter()
        .map(|path| {
            let entry = catalog::read_entry(path).expect("a catalog entry");
            case(&entry).map_err(|e| (entry.name.clone(), e))
        })
        .collect()
}

fn case(entry: &catalog::Entry) -> Result<Case, String> {
    let (pool, d, _) = catalog::derive_entry(entry)?;
    let program =
        Program::new(&pool, &d.bindings, std::slice::from_ref(&d)).map_err(|e| e.to_string())?;
    let aux: BTreeSet<Symbol> = d
        .definitions
        .iter()
        .map(|x| x.0)
        .chain([d.differential])
        .collect();
    let mut inputs = variables(&pool, &[d.function, d.gradient]);
    inputs.retain(|s| !aux.contains(s));
    let functions = catalog::abstract_functions(&pool, d.function);
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
    let seed = entry
        .name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut choices: Vec<usize> = (2..=6).collect();
    choices.shuffle(&mut rng);
    let mut sizes = Sizes::new();
    for (k, &dim) in dims.iter().enumerate() {
        sizes.set(dim, choices[k % choices.len()]);
    }
    let mut values = Values::<f64>::new();
    for &s in &inputs {
        let info = pool.var_info(s).expect("a variable");
        let (r, c) = sizes.shape(&pool, info.shape).map_err(|e| e.to_string())?;
        let name = pool.name(s);
        let mut value = catalog::random_value(
            &mut rng,
            r,
            c,
            info.shape.rows == info.shape.cols,
            info.symmetric,
            entry.positive.iter().any(|p| p == name),
        );
        // An integer symbol (`k: integer`, an exponent) takes a whole value, as in the catalog.
        if info.structure == matdiff_expr::Structure::Integer {
            value = Mat::from_fn(1, 1, |_, _| rng.random_range(2..=5) as f64);
        }
        // A diagonal or triangular variable: zero outside its structure.
        let st = info.structure;
        value = Mat::from_fn(value.nrows(), value.ncols(), |i, j| {
            if st.allows(i, j) {
                value[(i, j)]
            } else {
                0.0
            }
        });
        values.insert(name, value);
    }
    let sizes = Sizes::from_values(&pool, &values).map_err(|e| e.to_string())?;
    let options = Options::new()
        .threads(1)
        .functions(catalog::make_functions::<f64>(&functions));
    let mut plan = Plan::compile_with(&pool, &[d.function, d.gradient], &sizes, &options)
        .map_err(|e| e.to_string())?;
    let mut results = plan.run(&values).map_err(|e| e.to_string())?;
    let gradient = results.pop().expect("the gradient");
    let value = results.pop().expect("the value")[(0, 0)];
    Ok(Case {
        name: entry.name.clone(),
        pool,
        derivation: d,
        program,
        values,
        functions,
        value,
        gradient,
    })
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

/// The largest entry-wise difference relative to the largest entry of the reference.
pub fn relative_error(a: &[f64], reference: &[f64]) -> f64 {
    if a.len() != reference.len() {
        return f64::INFINITY;
    }
    let mut diff = 0.0f64;
    let mut scale = f64::MIN_POSITIVE;
    for (x, r) in a.iter().zip(reference) {
        let d = (x - r).abs();
        if d.is_nan() {
            return f64::NAN;
        }
        diff = diff.max(d);
        scale = scale.max(r.abs());
    }
    diff / scale
}

/// A matrix's entries, column by column.
pub fn entries(m: &Mat<f64>) -> Vec<f64> {
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            out.push(m[(i, j)]);
        }
    }
    out
}

/// The Rust function `name` of `program` and a wrapper `run_NAME` with one signature for all
/// (the values and the element-wise functions by name in, the value and the gradient out), as
/// the code generators' test crate compiles them.
pub fn rust_function(name: &str, program: &Program) -> String {
    let options = CodegenOptions {
        name: name.to_string(),
        ..CodegenOptions::default()
    };
    let mut out = program.print(Lang::Rust, &options).expect("rust code");
    let args: Vec<String> = program
        .arguments()
        .iter()
        .map(|a| match a.kind {
            ArgumentKind::Scalar => format!("v[{:?}][(0, 0)]", a.name),
            ArgumentKind::Matrix => format!("v[{:?}].as_ref()", a.name),
            ArgumentKind::Function => format!("f({:?})", a.name),
        })
        .collect();
    let _ = writeln!(
        out,
        "\n#[allow(unused_variables)]\nfn run_{name}(v: &crate::Values, f: &crate::Functions<'_>) -> (f64, faer::Mat<f64>) {{\n    let (value, gradient) = {name}({});\n    (value, crate::IntoMat::into_mat(gradient))\n}}\n",
        args.join(", ")
    );
    out
}

/// Values as JSON by name: a scalar as a number, a column as a list, a matrix as a list of rows.
pub fn inputs_json(values: &Values<f64>) -> serde_json::Map<String, Value> {
    values
        .iter()
        .map(|(name, m)| {
            let v = if (m.nrows(), m.ncols()) == (1, 1) {
                json!(m[(0, 0)])
            } else if m.ncols() == 1 {
                json!((0..m.nrows()).map(|i| m[(i, 0)]).collect::<Vec<_>>())
            } else {
                json!((0..m.nrows())
                    .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect::<Vec<_>>())
                    .collect::<Vec<_>>())
            };
            (name.to_string(), v)
        })
        .collect()
}
