//! Helpers shared by the integration tests: seeded values, parsing with value shapes, comparison.

#![allow(dead_code)]

use faer::Mat;
use matdiff_expr::{Decl, ExprPool};
use matdiff_faer::{eval, EvalError, Scalar, Values};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub(crate) fn rand_mat(rng: &mut StdRng, r: usize, c: usize, lo: f64, hi: f64) -> Mat<f64> {
    Mat::from_fn(r, c, |_, _| rng.random_range(lo..hi))
}

/// Non-square, non-symmetric values: A 3x4, B 4x5, C 5x2, D 3x4, S and T 4x4 (S well
/// conditioned), P 3x4 positive, a 3, b 4, c 5, v 4, alpha and beta scalars.
pub(crate) fn fixture(seed: u64) -> Values<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut s = rand_mat(&mut rng, 4, 4, -1.0, 1.0);
    for i in 0..4 {
        s[(i, i)] += 4.0;
    }
    Values::new()
        .with("A", rand_mat(&mut rng, 3, 4, -1.0, 1.0))
        .with("B", rand_mat(&mut rng, 4, 5, -1.0, 1.0))
        .with("C", rand_mat(&mut rng, 5, 2, -1.0, 1.0))
        .with("D", rand_mat(&mut rng, 3, 4, -1.0, 1.0))
        .with("S", s)
        .with("T", rand_mat(&mut rng, 4, 4, -1.0, 1.0))
        .with("P", rand_mat(&mut rng, 3, 4, 0.5, 1.5))
        .with("a", rand_mat(&mut rng, 3, 1, -1.0, 1.0))
        .with("b", rand_mat(&mut rng, 4, 1, -1.0, 1.0))
        .with("c", rand_mat(&mut rng, 5, 1, -1.0, 1.0))
        .with("v", rand_mat(&mut rng, 4, 1, -1.0, 1.0))
        .with("alpha", rand_mat(&mut rng, 1, 1, 0.5, 1.5))
        .with("beta", rand_mat(&mut rng, 1, 1, -1.0, 1.0))
}

/// Declarations that fix every variable to the shape of its value.
pub(crate) fn decls<T: Scalar>(values: &Values<T>) -> Vec<Decl> {
    values
        .iter()
        .map(|(n, m)| Decl::sized(n, m.nrows() as u64, m.ncols() as u64))
        .collect()
}

pub(crate) fn parse<T: Scalar>(src: &str, values: &Values<T>) -> (ExprPool, matdiff_expr::ExprId) {
    let mut pool = ExprPool::new();
    let e = pool
        .parse_with(src, &decls(values))
        .unwrap_or_else(|e| panic!("{}", e.render(src)));
    (pool, e.root)
}

pub(crate) fn eval_src<T: Scalar>(src: &str, values: &Values<T>) -> Result<Mat<T>, EvalError> {
    let (pool, root) = parse(src, values);
    eval(&pool, root, values)
}

/// Asserts entry-wise agreement to `tol`, relative to the largest entry (at least 1).
#[track_caller]
pub(crate) fn assert_close(got: &Mat<f64>, want: &Mat<f64>, tol: f64, what: &str) {
    assert_eq!(
        (got.nrows(), got.ncols()),
        (want.nrows(), want.ncols()),
        "{what}: shapes differ"
    );
    let mut scale = 1.0f64;
    for j in 0..want.ncols() {
        for i in 0..want.nrows() {
            scale = scale.max(want[(i, j)].abs());
        }
    }
    for j in 0..want.ncols() {
        for i in 0..want.nrows() {
            let (g, w) = (got[(i, j)], want[(i, j)]);
            assert!(
                (g - w).abs() <= tol * scale,
                "{what}: entry ({i}, {j}) is {g}, expected {w}"
            );
        }
    }
}

pub(crate) fn get(values: &Values<f64>, name: &str) -> Mat<f64> {
    values.get(name).unwrap().clone()
}

pub(crate) fn scalar(x: f64) -> Mat<f64> {
    Mat::from_fn(1, 1, |_, _| x)
}

pub(crate) fn map(m: &Mat<f64>, f: impl Fn(f64) -> f64) -> Mat<f64> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| f(m[(i, j)]))
}

pub(crate) fn zip(a: &Mat<f64>, b: &Mat<f64>, f: impl Fn(f64, f64) -> f64) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| f(a[(i, j)], b[(i, j)]))
}
