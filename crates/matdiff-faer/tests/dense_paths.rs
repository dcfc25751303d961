//! The paths that make second-order results fast, against values computed here directly with
//! faer: sums that multiply a vector are distributed (`(A + A')*v` as `A*v + A'*v`), and
//! diagonal, identity and outer-product leaves of a kernel load a column at a time.

mod common;

use common::*;
use faer::Mat;
use matdiff_faer::{Plan, PlanStats, Sizes, Values};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Runs the roots in one plan; returns its statistics and results.
fn run(srcs: &[&str], values: &Values<f64>) -> (PlanStats, Vec<Mat<f64>>) {
    let mut pool = matdiff_expr::ExprPool::new();
    let d = decls(values);
    let roots: Vec<_> = srcs
        .iter()
        .map(|s| pool.parse_with(s, &d).unwrap().root)
        .collect();
    let sizes = Sizes::from_values(&pool, values).unwrap();
    let mut plan = Plan::compile(&pool, &roots, &sizes).unwrap();
    let out = plan.run(values).unwrap();
    (plan.stats(), out)
}

/// Non-square, non-symmetric values: A and C 20x12, B 7x20, S 16x16, v 12, s 16, u' 20,
/// a and c 20.
fn values() -> Values<f64> {
    let mut rng = StdRng::seed_from_u64(18);
    Values::new()
        .with("A", rand_mat(&mut rng, 20, 12, -1.0, 1.0))
        .with("C", rand_mat(&mut rng, 20, 12, -1.0, 1.0))
        .with("B", rand_mat(&mut rng, 7, 20, -1.0, 1.0))
        .with("S", rand_mat(&mut rng, 16, 16, -1.0, 1.0))
        .with("v", rand_mat(&mut rng, 12, 1, -1.0, 1.0))
        .with("s", rand_mat(&mut rng, 16, 1, -1.0, 1.0))
        .with("u", rand_mat(&mut rng, 1, 20, -1.0, 1.0))
        .with("a", rand_mat(&mut rng, 20, 1, -1.0, 1.0))
        .with("c", rand_mat(&mut rng, 20, 1, -1.0, 1.0))
}

#[test]
fn a_sum_times_a_vector_is_distributed() {
    let v = values();
    let (a, c, b, s) = (get(&v, "A"), get(&v, "C"), get(&v, "B"), get(&v, "S"));
    let (x, y, u) = (get(&v, "v"), get(&v, "s"), get(&v, "u"));
    let cases: [(&str, Mat<f64>, usize); 4] = [
        ("(A + C)*v", (&a + &c) * &x, 2),
        ("B*(A + C)*v", &b * ((&a + &c) * &x), 3),
        ("u*(A - 2*C)", &u * (&a - &c * faer::Scale(2.0)), 2),
        ("(S + S')*s", (&s + s.transpose()) * &y, 2),
    ];
    for (src, want, matmuls) in cases {
        let (stats, out) = run(&[src], &v);
        assert_close(&out[0], &want, 1e-13, src);
        assert_eq!(stats.matmuls, matmuls, "{src}: one product per term");
        assert_eq!(stats.kernel_inputs, 2, "{src}: only the thin sum is formed");
    }
}

#[test]
fn a_shared_or_thin_sum_is_formed_once() {
    let v = values();
    let (a, c, b) = (get(&v, "A"), get(&v, "C"), get(&v, "B"));
    let (x, p, q) = (get(&v, "v"), get(&v, "a"), get(&v, "c"));
    // The sum is a root too: formed anyway, so multiplied once.
    let (stats, out) = run(&["(A + C)*v", "A + C"], &v);
    assert_close(&out[0], &((&a + &c) * &x), 1e-13, "(A + C)*v");
    assert_close(&out[1], &(&a + &c), 0.0, "A + C");
    assert_eq!(stats.matmuls, 1);
    // A sum of vectors costs less to form than a second product.
    let (stats, out) = run(&["B*(a + c)"], &v);
    assert_close(&out[0], &(&b * (&p + &q)), 1e-13, "B*(a + c)");
    assert_eq!(stats.matmuls, 1);
}

#[test]
fn diagonal_identity_and_outer_leaves_load_by_columns() {
    // Longer than two kernel chunks, so that columns start inside later chunks.
    let n = 600;
    let mut rng = StdRng::seed_from_u64(7);
    let v = Values::new()
        .with("p", rand_mat(&mut rng, n, 1, -1.0, 1.0))
        .with("q", rand_mat(&mut rng, n, 1, -1.0, 1.0))
        .with("r", rand_mat(&mut rng, 1, n, -1.0, 1.0));
    let (p, q, r) = (get(&v, "p"), get(&v, "q"), get(&v, "r"));
    let delta = |i: usize, j: usize| if i == j { 1.0 } else { 0.0 };
    let cases: [(&str, Mat<f64>); 4] = [
        (
            "diag(p) - p*q'",
            Mat::from_fn(n, n, |i, j| delta(i, j) * p[(i, 0)] - p[(i, 0)] * q[(j, 0)]),
        ),
        (
            "(p*q')' + I",
            Mat::from_fn(n, n, |i, j| q[(i, 0)] * p[(j, 0)] + delta(i, j)),
        ),
        (
            "exp(q*r) .* (diag(q) - p*r)",
            Mat::from_fn(n, n, |i, j| {
                (q[(i, 0)] * r[(0, j)]).exp() * (delta(i, j) * q[(i, 0)] - p[(i, 0)] * r[(0, j)])
            }),
        ),
        (
            "tanh(r'*q' + 2*I)",
            Mat::from_fn(n, n, |i, j| {
                (r[(0, i)] * q[(j, 0)] + 2.0 * delta(i, j)).tanh()
            }),
        ),
    ];
    for (src, want) in cases {
        let (stats, out) = run(&[src], &v);
        assert_close(&out[0], &want, 1e-14, src);
        assert_eq!(
            stats.matmuls, 0,
            "{src}: no outer product is multiplied out"
        );
    }
}

#[test]
fn a_dense_linear_map_reuses_its_runs_and_reports_non_finite_values() {
    let mut rng = StdRng::seed_from_u64(3);
    let a = rand_mat(&mut rng, 9, 9, -1.0, 1.0);
    let mut values = Values::new()
        .with("A", a.clone())
        .with("v", Mat::zeros(9, 1));
    let (pool, root) = parse("(A + A')*v", &values);
    let options = matdiff_faer::Options::new();
    let h = matdiff_faer::dense_linear_map(&pool, root, "v", &values, &options).unwrap();
    assert_close(&h, &(&a + a.transpose()), 1e-15, "the matrix of (A + A')*v");
    values.get_mut("A").unwrap()[(2, 4)] = f64::NAN;
    let err = matdiff_faer::dense_linear_map(&pool, root, "v", &values, &options).unwrap_err();
    assert!(
        matches!(&err, matdiff_faer::EvalError::NonFinite { name, row: 3, col: 5 } if name == "A"),
        "{err}"
    );
}
