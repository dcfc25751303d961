//! Helpers of the rewriter's numeric tests: random values and the complex-step gradient.
#![allow(dead_code)]

use matdiff_expr::{Dim, ExprId, ExprPool, Node};
use matdiff_faer::{eval, Complex, Mat, Values};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Random values in [-1, 1] for every variable under `root` (sizes from `sizes`, symmetric
/// where declared), seeded.
pub(crate) fn random_values(
    pool: &ExprPool,
    roots: &[ExprId],
    sizes: &[(&str, usize)],
    seed: u64,
) -> Values<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut values = Values::new();
    let mut stack: Vec<ExprId> = roots.to_vec();
    let mut seen = std::collections::HashSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        if let Node::Var(s) = pool.node(id) {
            let info = pool.var_info(*s).expect("declared");
            let factor = |d: Dim| match d {
                Dim::Sym(v) => sizes
                    .iter()
                    .find(|x| x.0 == pool.dim_name(v))
                    .map_or(3, |x| x.1),
                Dim::Known(k) => k as usize,
                Dim::Prod(_) => unreachable!("the factors of a product are not products"),
            };
            let dim = |d: Dim| {
                pool.dim_factors(d)
                    .into_iter()
                    .map(factor)
                    .product::<usize>()
            };
            let (r, c) = (dim(info.shape.rows), dim(info.shape.cols));
            let mut m = Mat::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0));
            if info.symmetric {
                // Symmetric positive definite, so logdet and inv of forms in it are defined.
                m = Mat::from_fn(r, c, |i, j| {
                    (0..c).map(|k| m[(i, k)] * m[(j, k)]).sum::<f64>()
                        + if i == j { 1.0 } else { 0.0 }
                });
            }
            if matches!(
                info.structure,
                matdiff_expr::Structure::Diagonal
                    | matdiff_expr::Structure::Lower
                    | matdiff_expr::Structure::Upper
            ) {
                // Away from singular: a diagonal between 1/2 and 3/2, zeros outside the structure.
                let st = info.structure;
                m = Mat::from_fn(r, c, |i, j| match (i == j, st.allows(i, j)) {
                    (true, _) => 1.0 + 0.5 * m[(i, j)],
                    (false, true) => m[(i, j)],
                    (false, false) => 0.0,
                });
            }
            values.insert(pool.name(*s).to_string(), m);
        }
        stack.extend_from_slice(pool.node(id).children());
    }
    values
}

/// The gradient of the scalar `f` with respect to `var` by the complex step of the numeric
/// backend (`matdiff_faer::complex_step`: structured variables moved as declared).
pub(crate) fn complex_step(
    pool: &ExprPool,
    f: ExprId,
    var: &str,
    values: &Values<f64>,
    functions: matdiff_faer::Functions<Complex<f64>>,
) -> Mat<f64> {
    let options = matdiff_faer::Options::new().functions(functions);
    matdiff_faer::complex_step(pool, f, var, values, &options)
        .unwrap_or_else(|e| panic!("complex step of {}: {e}", pool.plain(f)))
}

/// The largest entry-wise difference relative to the largest entry of `reference`.
pub(crate) fn relative_error(got: &Mat<f64>, reference: &Mat<f64>) -> f64 {
    assert_eq!(
        (got.nrows(), got.ncols()),
        (reference.nrows(), reference.ncols()),
        "shapes differ"
    );
    let mut diff: f64 = 0.0;
    let mut scale: f64 = 0.0;
    for i in 0..got.nrows() {
        for j in 0..got.ncols() {
            diff = diff.max((got[(i, j)] - reference[(i, j)]).abs());
            scale = scale.max(reference[(i, j)].abs());
        }
    }
    // A gradient that vanishes analytically is only zero up to rounding: below 1e-6 the error
    // is measured against 1e-6 (so 1e-9 relative is an absolute 1e-15 there).
    diff / scale.max(1e-6)
}

/// Evaluates in f64.
pub(crate) fn value(pool: &ExprPool, id: ExprId, values: &Values<f64>) -> Mat<f64> {
    eval::<f64>(pool, id, values)
        .unwrap_or_else(|e| panic!("cannot evaluate {}: {e}", pool.plain(id)))
}

/// Operators in the tree under `id`, with nodes in `leaves` (named bindings) counted as leaves;
/// an n-ary operator counts n - 1.
pub(crate) fn operators(pool: &ExprPool, id: ExprId, leaves: &[ExprId]) -> usize {
    if leaves.contains(&id) {
        return 0;
    }
    let kids = pool.node(id).children();
    let own = match pool.node(id) {
        Node::Add(xs) | Node::Mul(xs) | Node::Hadamard(xs) => xs.len() - 1,
        _ if kids.is_empty() => 0,
        _ => 1,
    };
    own + kids
        .iter()
        .map(|&k| operators(pool, k, leaves))
        .sum::<usize>()
}
