//! Gradient checks against gradients from the Matrix Cookbook, and the random values they use.

use matdiff_expr::{Decl, ExprId, ExprPool};
use matdiff_faer::{
    check_gradient, random_values, random_values_where, CheckOptions, Functions, Options, Plan,
    Sizes, Values,
};

/// (expression, variable, gradient, declarations)
const CASES: &[(&str, &str, &str, &[&str])] = &[
    ("tr(X'*A*X)", "X", "A*X + A'*X", &[]),
    ("a'*X*b", "X", "a*b'", &[]),
    ("a'*exp(X*b)", "X", "(a .* exp(X*b))*b'", &[]),
    ("logdet(X)", "X", "inv(X)'", &[]),
    ("det(X)", "X", "det(X)*inv(X)'", &[]),
    ("tr(inv(X)*A)", "X", "-(inv(X)*A*inv(X))'", &[]),
    ("norm2(X*b - y)", "b", "X'*(X*b - y)/norm2(X*b - y)", &[]),
    ("sum(log(X))", "X", "1 ./ X", &[]),
    ("sum(sqrt(X) .* A)", "X", "A .* sqrt'(X)", &[]),
    (
        "tr(Y'*M*Y) where Y = sigmoid(W*X)",
        "X",
        "W'*((2*M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)",
        &["M: symmetric"],
    ),
    (
        "tr(Y'*M*Y) where Y = sigmoid(W*X)",
        "W",
        "((2*M*Y) .* sigmoid'(W*X))*X' where Y = sigmoid(W*X)",
        &["M: symmetric"],
    ),
    (
        "sum(softplus(W*x + b) .* tanh(W*x))",
        "b",
        "sigmoid(W*x + b) .* tanh(W*x)",
        &[],
    ),
    ("tr(X^3)", "X", "3*(X^2)'", &[]),
    ("norm1(X - A)", "X", "abs'(X - A)", &[]),
    ("sum(g(W*x))", "x", "W'*g'(W*x)", &[]),
];

#[test]
fn cookbook_gradients_agree_with_complex_step_and_finite_differences() {
    let options = CheckOptions {
        real: Options::new().functions(Functions::new().with(
            "g",
            |x: f64| x.sin() * x,
            |x| x.cos() * x + x.sin(),
        )),
        complex: Options::new().functions(Functions::new().with(
            "g",
            |x: num_complex::Complex<f64>| x.sin() * x,
            |x| x.cos() * x + x.sin(),
        )),
    };
    for &(f, wrt, g, decls) in CASES {
        let mut pool = ExprPool::new();
        let decls: Vec<Decl> = decls.iter().map(|d| Decl::parse(d).unwrap()).collect();
        let fe = pool.parse_with(f, &decls).unwrap();
        let ge = pool.parse_with(g, &decls).unwrap();
        let values = random_values(&pool, fe.root, 42);
        let check = check_gradient(&pool, fe.root, wrt, Some(ge.root), &values, &options)
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(
            check.max_error_complex_step < 1e-10,
            "{f} wrt {wrt}: symbolic vs complex step {:e}",
            check.max_error_complex_step
        );
        assert!(
            check.max_error_finite_difference < 1e-5,
            "{f} wrt {wrt}: symbolic vs finite differences {:e}",
            check.max_error_finite_difference
        );
    }
}

#[test]
fn a_wrong_gradient_is_caught() {
    let mut pool = ExprPool::new();
    let f = pool.parse("tr(X'*A*X)").unwrap();
    let wrong = pool.parse("2*A*X").unwrap(); // right only for a symmetric A
    let values = random_values(&pool, f.root, 3);
    let check = check_gradient(
        &pool,
        f.root,
        "X",
        Some(wrong.root),
        &values,
        &CheckOptions::default(),
    )
    .unwrap();
    assert!(
        check.max_error_complex_step > 1e-3,
        "{}",
        check.max_error_complex_step
    );
    assert!(check.max_error_finite_difference > 1e-3);
    // Without a symbolic gradient, finite differences are compared with the complex step.
    let check =
        check_gradient(&pool, f.root, "X", None, &values, &CheckOptions::default()).unwrap();
    assert!(check.max_error_finite_difference < 1e-6);
    assert_eq!(check.errors.nrows(), values.get("X").unwrap().nrows());
}

/// Values at which every root evaluates to finite numbers below 1e8 (a nearly singular matrix
/// gives entries near 1e16).
fn evaluable(pool: &ExprPool, roots: &[ExprId], seed: u64) -> Values<f64> {
    random_values_where(pool, roots[0], seed, |v| {
        let sizes = Sizes::from_values(pool, v).unwrap();
        let mut plan = Plan::<f64>::compile(pool, roots, &sizes).unwrap();
        plan.run(v).is_ok_and(|out| {
            out.iter()
                .all(|m| m.col_iter().all(|c| c.iter().all(|v| v.abs() < 1e8)))
        })
    })
}

/// Cookbook identities that need `X` taller than wide (`X'*X` invertible) get such values, and
/// the checks pass there.
#[test]
fn evaluable_values_make_tall_matrices_where_needed() {
    let cases = [
        ("logdet(X'*X)", "2*X*inv(X'*X)"),
        ("det(X'*X)", "2*det(X'*X)*X*inv(X'*X)"),
        ("tr(inv(X'*X))", "-2*X*inv(X'*X)^2"),
        ("logdet(X'*A*X)", "A*X*inv(X'*A*X) + A'*X*inv(X'*A*X)'"),
    ];
    for (f, g) in cases {
        for seed in 0..4 {
            let mut pool = ExprPool::new();
            let fe = pool.parse(f).unwrap();
            let ge = pool.parse(g).unwrap();
            let values = evaluable(&pool, &[fe.root, ge.root], seed);
            let x = values.get("X").unwrap();
            assert!(x.nrows() > x.ncols(), "{f}, seed {seed}: {:?}", x.shape());
            let check = check_gradient(
                &pool,
                fe.root,
                "X",
                Some(ge.root),
                &values,
                &CheckOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(check.max_error_complex_step < 1e-10, "{f}, seed {seed}");
        }
    }
}

/// `tr(X*inv(X'*X)*X')` is the constant `n`: its gradient is zero, and every numeric gradient
/// is rounding noise. Errors are then measured against the scale `|f| / max |x|`: the derived
/// form (zero up to rounding) passes, a gradient off by 1e-6 of the scale does not.
#[test]
fn a_zero_gradient_is_measured_against_the_scale() {
    let mut pool = ExprPool::new();
    let f = pool.parse("tr(X*inv(X'*X)*X')").unwrap();
    let derived = pool.parse("(2*I - 2*X*inv(X'*X)*X')*X*inv(X'*X)").unwrap();
    let wrong = pool.parse("1e-6*X").unwrap();
    let values = evaluable(&pool, &[f.root, derived.root], 1);
    let options = CheckOptions::default();
    let check = check_gradient(&pool, f.root, "X", Some(derived.root), &values, &options).unwrap();
    assert!(check.scale > 0.5, "{}", check.scale);
    assert!(
        check.max_error_complex_step < 1e-9,
        "{}",
        check.max_error_complex_step
    );
    assert!(check.max_error_finite_difference < 1e-5);
    let check = check_gradient(&pool, f.root, "X", Some(wrong.root), &values, &options).unwrap();
    assert!(
        check.max_error_complex_step > 1e-4,
        "{}",
        check.max_error_complex_step
    );
}

#[test]
fn random_values_respect_domains_and_shapes() {
    let mut pool = ExprPool::new();
    let e = pool
        .parse_with(
            "logdet(S) + tr(inv(T)*A*B) + sum(log(P)) + tr(M)",
            &[
                Decl::parse("M: symmetric").unwrap(),
                Decl::parse("P: 2x7").unwrap(),
            ],
        )
        .unwrap();
    let v = random_values(&pool, e.root, 5);
    let (s, t, a, b, p, m) = (
        v.get("S").unwrap(),
        v.get("T").unwrap(),
        v.get("A").unwrap(),
        v.get("B").unwrap(),
        v.get("P").unwrap(),
        v.get("M").unwrap(),
    );
    // Distinct symbolic dimensions get distinct sizes; declared ones are kept.
    assert_ne!(a.nrows(), a.ncols());
    assert_eq!((p.nrows(), p.ncols()), (2, 7));
    assert_eq!(b.ncols(), t.nrows());
    // Positive where log needs it, dominant where inv and logdet need it, symmetric as declared.
    for j in 0..7 {
        for i in 0..2 {
            assert!(p[(i, j)] > 0.0);
        }
    }
    for x in [s, t] {
        for i in 0..x.nrows() {
            let off: f64 = (0..x.ncols())
                .filter(|&j| j != i)
                .map(|j| x[(i, j)].abs())
                .sum();
            assert!(x[(i, i)] > off);
        }
    }
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            assert_eq!(m[(i, j)], m[(j, i)]);
        }
    }
    // Seeded: the same seed gives the same values.
    let again = random_values(&pool, e.root, 5);
    assert_eq!(again.get("A").unwrap(), a);
}

/// The verdict on `gradient` of `f` with respect to `wrt`, at random values.
fn verdict(f: &str, wrt: &str, gradient: &str, decls: &[&str]) -> matdiff_faer::Verdict {
    let decls: Vec<Decl> = decls.iter().map(|d| Decl::parse(d).unwrap()).collect();
    let mut pool = ExprPool::new();
    let f = pool.parse_with(f, &decls).unwrap();
    let g = pool.parse_with(gradient, &decls).unwrap();
    let options = matdiff_faer::VerifyOptions::default();
    matdiff_faer::verify_gradient(&pool, f.root, wrt, g.root, None, &options).unwrap()
}

#[test]
fn a_symmetric_variable_is_perturbed_in_mirrored_pairs() {
    // d tr(A*S*B) = tr(B*A dS): the plain gradient is (B*A)', the symmetric one its symmetric
    // part; A and B are not square, B*A not symmetric.
    let decls = ["S: symmetric", "A: 3x4", "B: 4x3"];
    let sym = verdict("tr(A*S*B)", "S", "(B*A + (B*A)')/2", &decls);
    assert!(sym.ok && sym.finite(), "{:?}", sym.check);
    assert!(sym.check.max_error_complex_step < 1e-12);
    assert!(sym.check.max_error_finite_difference < 1e-8);
    let plain = verdict("tr(A*S*B)", "S", "(B*A)'", &decls);
    assert!(!plain.ok);
    assert!(plain.check.max_error_complex_step > 1e-3);
}

#[test]
fn a_diagonal_variable_is_perturbed_on_its_diagonal() {
    let decls = ["D: diagonal", "A: 3x4", "B: 4x3"];
    let diag = verdict("tr(A*D*B)", "D", "I .* (B*A)'", &decls);
    assert!(diag.ok && diag.finite(), "{:?}", diag.check);
    assert!(diag.check.max_error_complex_step < 1e-12);
    let full = verdict("tr(A*D*B)", "D", "(B*A)'", &decls);
    assert!(!full.ok);
}

#[test]
fn verify_redraws_where_the_references_disagree_and_keeps_given_values() {
    // inv(X'*X) is singular for a wide X: the first draw (X 3x4) is rejected, a later one kept.
    let v = verdict("tr(inv(X'*X))", "X", "-2*X*inv(X'*X)*inv(X'*X)", &[]);
    assert!(v.ok && v.references_agree, "{:?}", v.check);
    let x = v.values.get("X").unwrap();
    assert!(x.nrows() > x.ncols());
    assert!(v.draw > 1);
    // Given values are used as they are (draw 0).
    let mut pool = ExprPool::new();
    let f = pool.parse("a'*X*b").unwrap();
    let g = pool.parse("a*b'").unwrap();
    let values = random_values(&pool, f.root, 3);
    let options = matdiff_faer::VerifyOptions::default();
    let v =
        matdiff_faer::verify_gradient(&pool, f.root, "X", g.root, Some(&values), &options).unwrap();
    assert_eq!(v.draw, 0);
    assert_eq!(v.values.get("X"), values.get("X"));
    assert!(v.ok);
}
