//! Typed errors that name the failing node.

mod common;

use common::*;
use faer::Mat;
use matdiff_expr::ExprPool;
use matdiff_faer::{eval, EvalError, Plan, Sizes, Values};

fn err(src: &str, values: &Values<f64>) -> EvalError {
    match eval_src(src, values) {
        Ok(v) => panic!("{src}: expected an error, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn singular_matrices() {
    let values = Values::new().with("S", Mat::from_fn(3, 3, |i, j| (i + j) as f64));
    let e = err("inv(S)*ones", &values);
    assert_eq!(e.to_string(), "singular matrix in inv(S)");
    let e = err("inv(S) + S", &values);
    assert!(matches!(e, EvalError::Singular { .. }), "{e}");
    let e = err("S^-2", &values);
    assert_eq!(e.to_string(), "singular matrix in S^-2");
    let e = err("logdet(S)", &values);
    assert_eq!(
        e.to_string(),
        "logdet of a matrix with a non-positive determinant in logdet(S)"
    );
    // The determinant of a singular matrix is a value: zero.
    assert_eq!(eval_src("det(S)", &values).unwrap()[(0, 0)], 0.0);
}

#[test]
fn logdet_of_a_negative_determinant() {
    let values = Values::new().with("S", faer::mat![[0.0, 1.0], [1.0, 0.0]]);
    let e = err("logdet(S)", &values);
    assert!(matches!(e, EvalError::NonPositiveDeterminant { .. }), "{e}");
    assert_eq!(eval_src("det(S)", &values).unwrap()[(0, 0)], -1.0);
}

#[test]
fn domains_of_functions() {
    let values = Values::new().with("X", faer::mat![[1.0, -0.5], [2.0, 3.0]]);
    let e = err("sum(log(X))", &values);
    assert_eq!(
        e.to_string(),
        "log of a non-positive entry (-0.5) in log(X)"
    );
    let e = err("sqrt(X) + X", &values);
    assert_eq!(
        e.to_string(),
        "square root of a negative entry (-0.5) in sqrt(X)"
    );
    let e = err("X .^ 0.5", &values);
    assert!(matches!(e, EvalError::Domain { .. }), "{e}");
    // Integer powers of negative entries are fine.
    assert_eq!(eval_src("X .^ 3", &values).unwrap()[(0, 1)], -0.125);
}

#[test]
fn values_that_contradict_the_expression() {
    let mut pool = ExprPool::new();
    let e = pool.parse("A*x").unwrap();
    let values = Values::new()
        .with("A", Mat::<f64>::zeros(3, 4))
        .with("x", Mat::zeros(5, 1));
    let err = Sizes::from_values(&pool, &values).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the value of 'x' is 5x1, but it is n x 1 in the expression and n = 4 from the value of 'A'"
    );
    let values = Values::new().with("A", Mat::<f64>::zeros(3, 4));
    let err = eval(&pool, e.root, &values).unwrap_err();
    assert_eq!(err.to_string(), "no value for the variable 'x'");
    // A plan compiled for some sizes refuses values of others.
    let good = Values::new()
        .with("A", Mat::<f64>::zeros(3, 4))
        .with("x", Mat::zeros(4, 1));
    let sizes = Sizes::from_values(&pool, &good).unwrap();
    let mut plan = Plan::<f64>::compile(&pool, &[e.root], &sizes).unwrap();
    let bad = Values::new()
        .with("A", Mat::<f64>::zeros(3, 5))
        .with("x", Mat::zeros(5, 1));
    let err = plan.run(&bad).unwrap_err();
    assert!(matches!(err, EvalError::ShapeMismatch { .. }), "{err}");
}

#[test]
fn non_finite_and_non_symmetric_inputs() {
    let values = Values::new().with("X", faer::mat![[1.0, f64::NAN], [2.0, 3.0]]);
    let e = err("sum(X)", &values);
    assert_eq!(
        e.to_string(),
        "the value of 'X' has a non-finite entry at row 1, column 2"
    );
    // A NaN is found even where relu or a sign would have hidden it.
    for src in ["sum(relu(X))", "sum(abs'(X))", "inv(X)*ones"] {
        let e = err(src, &values);
        assert!(
            matches!(e, EvalError::NonFinite { row: 1, col: 2, .. }),
            "{src}: {e}"
        );
    }
    let mut pool = ExprPool::new();
    let m = pool
        .parse_with(
            "tr(M)",
            &[matdiff_expr::Decl::parse("M: symmetric").unwrap()],
        )
        .unwrap();
    let values = Values::new().with("M", faer::mat![[1.0, 2.0], [3.0, 4.0]]);
    let e = eval(&pool, m.root, &values).unwrap_err();
    assert!(matches!(e, EvalError::NotSymmetric { .. }), "{e}");
}

#[test]
fn unbound_functions_and_free_dimensions() {
    let values = Values::new().with("X", faer::mat![[1.0]]);
    let e = err("g(X)", &values);
    assert_eq!(
        e.to_string(),
        "the function 'g' has no numeric definition of order 0 (used in g(X))"
    );
    let values = Values::new().with("a", Mat::from_fn(3, 1, |i, _| i as f64));
    let e = err("a*ones'", &values);
    assert!(matches!(e, EvalError::UnknownDimension { .. }), "{e}");
}
