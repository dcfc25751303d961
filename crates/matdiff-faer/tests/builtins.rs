//! The function table of the language (`matdiff_expr::BUILTINS`, which the README shows): the
//! derivative written for each element-wise function equals `f'(x)` as the backend evaluates
//! it, at points inside each domain.

use faer::Mat;
use matdiff_expr::{ExprPool, Func, BUILTINS};
use matdiff_faer::{Plan, Sizes, Values};

/// Evaluates `src` at the column vector `x`.
fn eval(src: &str, x: &Mat<f64>) -> Mat<f64> {
    let mut pool = ExprPool::new();
    let e = pool
        .parse(src)
        .unwrap_or_else(|e| panic!("{}", e.render(src)));
    let mut values = Values::new();
    values.insert("x", x.clone());
    let sizes = Sizes::from_values(&pool, &values).unwrap();
    let mut plan = Plan::<f64>::compile(&pool, &[e.root], &sizes).unwrap();
    plan.run(&values)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .remove(0)
}

#[test]
fn the_written_derivatives_agree_with_the_backend() {
    let x = Mat::from_fn(6, 1, |i, _| [-0.9, -0.4, 0.1, 0.3, 0.7, 0.95][i]);
    let positive = Mat::from_fn(6, 1, |i, _| 0.2 + 0.3 * i as f64);
    let mut checked = 0;
    for b in BUILTINS {
        let Some(f) = Func::from_name(b.name) else {
            continue; // not element-wise
        };
        if b.derivative.contains(':') {
            continue; // described in words (relu, abs, sign)
        }
        let at = if matches!(f, Func::Log | Func::Sqrt) {
            &positive
        } else {
            &x
        };
        let written = eval(b.derivative, at);
        let backend = eval(&format!("{}'(x)", b.name), at);
        for i in 0..6 {
            let (w, g) = (written[(i, 0)], backend[(i, 0)]);
            assert!(
                (w - g).abs() <= 1e-14 * g.abs().max(1.0),
                "{}'({}): the table says {w}, the backend {g}",
                b.name,
                at[(i, 0)]
            );
        }
        checked += 1;
    }
    assert_eq!(
        checked, 16,
        "element-wise functions with a written derivative"
    );
}

#[test]
fn logsumexp_and_softmax_are_stable_for_large_entries() {
    let x = Mat::from_fn(3, 1, |i, _| [1000.0, 1001.0, -1000.0][i]);
    let lse = eval("logsumexp(x)", &x)[(0, 0)];
    let want = 1001.0 + (-1.0f64).exp().ln_1p();
    assert!((lse - want).abs() <= 1e-15 * want, "{lse} against {want}");
    let s = eval("softmax(x)", &x);
    let e = (-1.0f64).exp();
    for (i, want) in [e / (1.0 + e), 1.0 / (1.0 + e), 0.0]
        .into_iter()
        .enumerate()
    {
        assert!(
            (s[(i, 0)] - want).abs() <= 1e-13,
            "softmax {i}: {}",
            s[(i, 0)]
        );
    }
    let small = Mat::from_fn(3, 1, |i, _| [-1000.0, -1001.0, -1002.0][i]);
    assert!(eval("logsumexp(x)", &small)[(0, 0)].is_finite());
}

/// `logsumexp` of a matrix is one per column, with each column's maximum shifted out: finite at
/// entries whose exponentials overflow, and analytic under the complex step (its derivative is
/// each column's softmax).
#[test]
fn logsumexp_of_a_matrix_is_shifted_per_column() {
    let mut pool = ExprPool::new();
    let e = pool.parse("logsumexp(X)").unwrap();
    let x = faer::mat![[1000.0, -1000.0, 0.5], [1000.0, -999.0, -0.25]];
    let mut values = Values::new();
    values.insert("X", x.clone());
    let sizes = Sizes::from_values(&pool, &values).unwrap();
    let out = Plan::<f64>::compile(&pool, &[e.root], &sizes)
        .unwrap()
        .run(&values)
        .unwrap()
        .remove(0);
    assert_eq!(out.shape(), (1, 3));
    let expected = [
        1000.0 + 2f64.ln(),
        -999.0 + (1.0 + (-1f64).exp()).ln(),
        0.5 + (1.0 + (-0.75f64).exp()).ln(),
    ];
    for (j, want) in expected.iter().enumerate() {
        assert!((out[(0, j)] - want).abs() <= 1e-13 * want.abs().max(1.0));
    }
    // The complex step in entry (1, 1): d logsumexp(X)[1] / dX[1, 1] = softmax of column 1.
    let h = 1e-20;
    let mut z = Values::<matdiff_faer::Complex<f64>>::new();
    z.insert(
        "X",
        Mat::from_fn(2, 3, |i, j| {
            matdiff_faer::Complex::new(x[(i, j)], if (i, j) == (1, 1) { h } else { 0.0 })
        }),
    );
    let out = Plan::<matdiff_faer::Complex<f64>>::compile(&pool, &[e.root], &sizes)
        .unwrap()
        .run(&z)
        .unwrap()
        .remove(0);
    let softmax = 1.0 / (1.0 + (-1f64).exp());
    assert!((out[(0, 1)].im / h - softmax).abs() < 1e-15);
    assert_eq!(out[(0, 0)].im, 0.0);
}
