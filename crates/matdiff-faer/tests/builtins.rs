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
