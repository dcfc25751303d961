//! Newton's method on random, non-square, non-symmetric problems, each against an independent
//! reference: closed forms solved with faer, the complex step of the objective, the dense path
//! against the Newton-CG path.

use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, Side};
use matdiff_expr::{Decl, Expr, ExprPool};
use matdiff_faer::{complex_step, Options as PlanOptions, Values};
use matdiff_optim::{
    minimize, Derived, Direction, HvpRoute, OptimError, Options, SecondOrder, Solution,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn random(rows: usize, cols: usize, rng: &mut SmallRng) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0))
}

/// Parses `src` with the sizes of the values and the extra declarations.
fn parse(pool: &mut ExprPool, src: &str, values: &Values<f64>, extra: &[&str]) -> Expr {
    let mut decls: Vec<Decl> = values
        .iter()
        .map(|(name, m)| Decl::sized(name, m.nrows() as u64, m.ncols() as u64))
        .collect();
    decls.extend(extra.iter().map(|d| Decl::parse(d).unwrap()));
    pool.parse_with(src, &decls).unwrap()
}

/// A solution and its unknowns as one matrix per variable.
type Solved = (Solution, Vec<(String, Mat<f64>)>);

/// Minimises `src` over `wrt` from the values given (zeros for the others).
fn solve(
    src: &str,
    wrt: &[&str],
    values: &Values<f64>,
    extra: &[&str],
    options: &Options,
) -> Result<Solved, OptimError> {
    let mut pool = ExprPool::new();
    let e = parse(&mut pool, src, values, extra);
    let mut f = Derived::new(&mut pool, &e, wrt, values)?;
    let x0 = f.start();
    let s = minimize(&mut f, x0, options)?;
    let unstacked = f.unstack(&s.x);
    Ok((s, unstacked))
}

/// The solution of the symmetric positive definite system `A x = b`.
fn spd_solve(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {
    a.llt(Side::Lower).unwrap().solve(b)
}

fn max_relative_error(got: &Mat<f64>, want: &Mat<f64>) -> f64 {
    assert_eq!((got.nrows(), got.ncols()), (want.nrows(), want.ncols()));
    let scale = (0..want.ncols())
        .flat_map(|j| (0..want.nrows()).map(move |i| (i, j)))
        .map(|(i, j)| want[(i, j)].abs())
        .fold(0.0, f64::max);
    (0..want.ncols())
        .flat_map(|j| (0..want.nrows()).map(move |i| (i, j)))
        .map(|(i, j)| (got[(i, j)] - want[(i, j)]).abs() / scale)
        .fold(0.0, f64::max)
}

fn column(v: &[f64]) -> Mat<f64> {
    Mat::from_fn(v.len(), 1, |i, _| v[i])
}

#[test]
fn least_squares_is_one_newton_step_to_the_normal_equation() {
    let mut rng = SmallRng::seed_from_u64(1);
    let (x, y) = (random(30, 6, &mut rng), random(30, 1, &mut rng));
    let values = Values::new().with("X", x.clone()).with("y", y.clone());
    let (s, w) = solve(
        "norm2(X*w - y)^2",
        &["w"],
        &values,
        &[],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(s.iterations(), 1);
    assert_eq!(s.history[1].direction, Direction::Newton);
    assert_eq!(s.history[1].step, 1.0);
    let want = spd_solve(&(x.transpose() * &x), &(x.transpose() * &y));
    assert!(max_relative_error(&w[0].1, &want) < 1e-10);
}

#[test]
fn least_squares_with_an_intercept_stacks_w_and_b() {
    let mut rng = SmallRng::seed_from_u64(2);
    let (x, y) = (random(25, 4, &mut rng), random(25, 1, &mut rng));
    let values = Values::new().with("X", x.clone()).with("y", y.clone());
    let (s, wb) = solve(
        "norm2(X*w + b - y)^2",
        &["w", "b"],
        &values,
        &["b: scalar"],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(s.iterations(), 1);
    assert_eq!((wb[0].0.as_str(), wb[1].0.as_str()), ("w", "b"));
    assert_eq!((wb[1].1.nrows(), wb[1].1.ncols()), (1, 1));
    // [X 1] [w; b] = y in the least-squares sense.
    let x1 = Mat::from_fn(25, 5, |i, j| if j < 4 { x[(i, j)] } else { 1.0 });
    let want = spd_solve(&(x1.transpose() * &x1), &(x1.transpose() * &y));
    let got = Mat::from_fn(5, 1, |i, _| {
        if i < 4 {
            wb[0].1[(i, 0)]
        } else {
            wb[1].1[(0, 0)]
        }
    });
    assert!(max_relative_error(&got, &want) < 1e-10);
}

#[test]
fn ridge_on_a_wide_matrix_matches_its_closed_form() {
    let mut rng = SmallRng::seed_from_u64(3);
    let (x, y) = (random(6, 10, &mut rng), random(6, 1, &mut rng));
    let c = 0.7;
    let values = Values::new()
        .with("X", x.clone())
        .with("y", y.clone())
        .with_scalar("c", c);
    let (s, w) = solve(
        "norm2(X*w - y)^2 + c*norm2(w)^2",
        &["w"],
        &values,
        &[],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(s.iterations(), 1);
    let gram = Mat::from_fn(10, 10, |i, j| {
        (x.transpose() * &x)[(i, j)] + if i == j { c } else { 0.0 }
    });
    let want = spd_solve(&gram, &(x.transpose() * &y));
    assert!(max_relative_error(&w[0].1, &want) < 1e-10);
}

#[test]
fn a_matrix_variable_in_a_product_solves_the_kronecker_normal_equation() {
    let mut rng = SmallRng::seed_from_u64(4);
    let (a, b, c) = (
        random(7, 3, &mut rng),
        random(4, 5, &mut rng),
        random(7, 5, &mut rng),
    );
    let values = Values::new()
        .with("A", a.clone())
        .with("B", b.clone())
        .with("C", c.clone());
    let (s, x) = solve(
        "tr((A*X*B - C)'*(A*X*B - C))",
        &["X"],
        &values,
        &[],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(s.iterations(), 1);
    assert_eq!((x[0].1.nrows(), x[0].1.ncols()), (3, 4));
    // vec(A*X*B) = (B' ⊗ A) vec(X), written out entry by entry.
    let k = Mat::from_fn(35, 12, |r, q| b[(q / 3, r / 7)] * a[(r % 7, q % 3)]);
    let vec_c = Mat::from_fn(35, 1, |r, _| c[(r % 7, r / 7)]);
    let want = spd_solve(&(k.transpose() * &k), &(k.transpose() * &vec_c));
    let got = Mat::from_fn(12, 1, |q, _| x[0].1[(q % 3, q / 3)]);
    assert!(max_relative_error(&got, &want) < 1e-10);
}

#[test]
fn hessian_vector_products_match_closed_forms() {
    let mut rng = SmallRng::seed_from_u64(5);
    // tr(X'*A*X): H[V] = (A + A')*V.
    let a = random(4, 4, &mut rng);
    let values = Values::new()
        .with("A", a.clone())
        .with("X", random(4, 3, &mut rng));
    let mut pool = ExprPool::new();
    let e = parse(&mut pool, "tr(X'*A*X)", &values, &[]);
    let mut f = Derived::new(&mut pool, &e, &["X"], &values).unwrap();
    let v = random(4, 3, &mut rng);
    let hv = f
        .hessian_vector(
            &f.start(),
            &(0..12).map(|q| v[(q % 4, q / 4)]).collect::<Vec<_>>(),
        )
        .unwrap();
    let want = (&a + a.transpose()) * &v;
    let want = Mat::from_fn(12, 1, |q, _| want[(q % 4, q / 4)]);
    assert!(max_relative_error(&column(&hv), &want) < 1e-13);

    // logdet(X): H[V] = -(inv(X)*V*inv(X))'.
    let x = Mat::from_fn(4, 4, |i, j| {
        rng.random_range(-0.5..0.5) + if i == j { 3.0 } else { 0.0 }
    });
    let values = Values::new().with("X", x.clone());
    let mut pool = ExprPool::new();
    let e = parse(&mut pool, "logdet(X)", &values, &[]);
    let mut f = Derived::new(&mut pool, &e, &["X"], &values).unwrap();
    let v = random(4, 4, &mut rng);
    let hv = f
        .hessian_vector(
            &f.start(),
            &(0..16).map(|q| v[(q % 4, q / 4)]).collect::<Vec<_>>(),
        )
        .unwrap();
    let inv = x.partial_piv_lu().inverse();
    let want = -(&inv * &v * &inv).transpose();
    let want = Mat::from_fn(16, 1, |q, _| want[(q % 4, q / 4)]);
    assert!(max_relative_error(&column(&hv), &want) < 1e-12);
}

#[test]
fn logistic_hessian_over_w_and_b_keeps_the_squared_labels() {
    // Labels that are not ±1: the Hessian is [Z 1]' diag(y.^2 .* p .* (1 - p)) [Z 1] + diag(1, .., 1, 0)
    // with p = sigmoid(-y .* (Z*w + b)).
    let mut rng = SmallRng::seed_from_u64(6);
    let (n, d) = (40, 5);
    let z = random(n, d, &mut rng);
    let y = Mat::from_fn(n, 1, |_, _| rng.random_range(0.5..2.0));
    let w = random(d, 1, &mut rng);
    let b = 0.3;
    let values = Values::new()
        .with("Z", z.clone())
        .with("y", y.clone())
        .with("w", w.clone())
        .with_scalar("b", b);
    let mut pool = ExprPool::new();
    let e = parse(
        &mut pool,
        "sum(log(1 + exp(-y .* (Z*w + b)))) + 0.5*norm2(w)^2",
        &values,
        &[],
    );
    let mut f = Derived::new(&mut pool, &e, &["w", "b"], &values).unwrap();
    let h = f.hessian(&f.start()).unwrap();
    let z1 = Mat::from_fn(n, d + 1, |i, j| if j < d { z[(i, j)] } else { 1.0 });
    let weights: Vec<f64> = (0..n)
        .map(|i| {
            let m = (0..d).map(|j| z[(i, j)] * w[(j, 0)]).sum::<f64>() + b;
            let p = 1.0 / (1.0 + (y[(i, 0)] * m).exp());
            y[(i, 0)].powi(2) * p * (1.0 - p)
        })
        .collect();
    let dz = Mat::from_fn(n, d + 1, |i, j| weights[i] * z1[(i, j)]);
    let mut want = z1.transpose() * &dz;
    for j in 0..d {
        want[(j, j)] += 1.0;
    }
    assert!(max_relative_error(&h, &want) < 1e-12);
}

/// `logsumexp(W*x_k) - y_k'*W*x_k` summed over samples, plus `0.5*sum(W .* W)`.
fn softmax_cross_entropy(samples: usize, classes: usize, features: usize) -> (String, Values<f64>) {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut values = Values::new();
    let mut terms = Vec::new();
    for k in 1..=samples {
        values.insert(format!("x{k}"), random(features, 1, &mut rng));
        let label = rng.random_range(0..classes);
        values.insert(
            format!("y{k}"),
            Mat::from_fn(classes, 1, |i, _| if i == label { 1.0 } else { 0.0 }),
        );
        terms.push(format!("logsumexp(W*x{k}) - y{k}'*W*x{k}"));
    }
    let mut src = terms.join(" + ");
    src.push_str(" + 0.5*sum(W .* W)");
    (src, values)
}

#[test]
fn softmax_cross_entropy_newton_cg_agrees_with_dense_newton() {
    let (src, mut values) = softmax_cross_entropy(6, 4, 40);
    values.insert("W", Mat::zeros(4, 40));
    // 160 unknowns: above the default dense limit, so Newton-CG.
    let (cg, w_cg) = solve(&src, &["W"], &values, &[], &Options::default()).unwrap();
    assert!(cg.history[1..]
        .iter()
        .all(|it| matches!(it.direction, Direction::NewtonCg(_))));
    let dense_options = Options {
        dense_limit: 1000,
        ..Options::default()
    };
    let (dense, w_dense) = solve(&src, &["W"], &values, &[], &dense_options).unwrap();
    assert!(dense.history[1..]
        .iter()
        .all(|it| it.direction == Direction::Newton));
    assert!(dense.iterations() <= 10 && cg.iterations() <= 15);
    assert!(max_relative_error(&w_cg[0].1, &w_dense[0].1) < 1e-8);
    // The gradient at the solution by the complex step of the objective itself (not the
    // derived gradient) vanishes.
    let mut pool = ExprPool::new();
    let e = parse(&mut pool, &src, &values, &[]);
    let mut at = values.clone();
    at.insert("W", w_cg[0].1.clone());
    let g = complex_step(&pool, e.root, "W", &at, &PlanOptions::new()).unwrap();
    let g_norm = (0..40)
        .flat_map(|j| (0..4).map(move |i| (i, j)))
        .map(|(i, j)| g[(i, j)].powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(g_norm < 1e-8, "gradient norm {g_norm}");
}

#[test]
fn negative_curvature_falls_back_to_the_gradient_in_both_paths() {
    // sum(w.^4 - 2*w.^2) is concave near 0 and has its minima at ±1.
    let values = Values::new().with("w", column(&[0.1, 0.2, -0.3]));
    for dense_limit in [32, 0] {
        let options = Options {
            dense_limit,
            ..Options::default()
        };
        let (s, w) = solve("sum(w.^4 - 2*w.^2)", &["w"], &values, &[], &options).unwrap();
        assert_eq!(s.history[1].direction, Direction::Gradient);
        assert!(max_relative_error(&w[0].1, &column(&[1.0, 1.0, -1.0])) < 1e-10);
        assert!((s.value + 3.0).abs() < 1e-12);
    }
}

#[test]
fn steps_out_of_the_domain_are_cut_back() {
    // From x = 5 the Newton step of x - log(x) lands at x = -15, outside the domain of log.
    let values = Values::new().with("x", column(&[5.0, 0.1, 3.0]));
    let (s, x) = solve(
        "sum(x) - sum(log(x))",
        &["x"],
        &values,
        &[],
        &Options::default(),
    )
    .unwrap();
    assert!(s.history[1].step < 1.0);
    assert!(max_relative_error(&x[0].1, &column(&[1.0, 1.0, 1.0])) < 1e-9);
}

#[test]
fn failures_are_typed() {
    let a = Values::new().with("a", column(&[1.0, -2.0, 3.0]));
    for dense_limit in [32, 0] {
        let options = Options {
            dense_limit,
            ..Options::default()
        };
        let r = solve("w'*a", &["w"], &a, &[], &options);
        assert!(
            matches!(r, Err(OptimError::Unbounded { iteration: 1, value, .. }) if value < -1e12),
            "{r:?}"
        );
    }
    let few = Options {
        max_iterations: 3,
        ..Options::default()
    };
    let r = solve("sum(exp(a - w))", &["w"], &a, &[], &few);
    assert!(
        matches!(r, Err(OptimError::NotConverged { iterations: 3, .. })),
        "{r:?}"
    );
    let w0 = Values::new().with("w", column(&[0.0, 0.0]));
    let r = solve("-norm2(w)^2", &["w"], &w0, &[], &Options::default());
    assert!(matches!(r, Err(OptimError::NotAMinimum { .. })), "{r:?}");
    let r = solve(
        "sum(exp(1000 + a + w))",
        &["w"],
        &a,
        &[],
        &Options::default(),
    );
    assert!(matches!(r, Err(OptimError::NotFinite { .. })), "{r:?}");
    let r = solve("norm2(w - a)^2", &[], &a, &[], &Options::default());
    assert_eq!(r.unwrap_err(), OptimError::NoVariables);
    let r = solve("norm2(w - a)^2", &["w", "q"], &a, &[], &Options::default());
    assert_eq!(r.unwrap_err(), OptimError::Absent { name: "q".into() });
    let r = solve(
        "tr(D*D)",
        &["D"],
        &Values::new(),
        &["D: diagonal"],
        &Options::default(),
    );
    assert!(
        matches!(
            r,
            Err(OptimError::Structured {
                structure: "diagonal",
                ..
            })
        ),
        "{r:?}"
    );
}

/// Central differences of the derived gradient in the direction `v`: a third reference for
/// `H v`, independent of both routes (about 1e-8 relative).
fn gradient_difference(f: &mut Derived, x: &[f64], v: &[f64]) -> Vec<f64> {
    let x_norm = x.iter().map(|a| a * a).sum::<f64>().sqrt().max(1.0);
    let v_norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let h = f64::EPSILON.cbrt() * x_norm / v_norm;
    let at = |t: f64| -> Vec<f64> { x.iter().zip(v).map(|(a, b)| a + t * b).collect() };
    let (_, up) = f.value_and_gradient(&at(h)).unwrap();
    let (_, down) = f.value_and_gradient(&at(-h)).unwrap();
    up.iter()
        .zip(&down)
        .map(|(a, b)| (a - b) / (2.0 * h))
        .collect()
}

/// An objective, its variables, the values of the others and extra declarations.
type Case<'a> = (&'a str, Vec<&'a str>, Values<f64>, Vec<&'a str>);

#[test]
fn derived_hessian_vector_products_agree_with_the_complex_step_and_differences() {
    let mut rng = SmallRng::seed_from_u64(8);
    let (softmax, softmax_values) = softmax_cross_entropy(3, 3, 5);
    let cases: Vec<Case> = vec![
        (
            "sum(log(1 + exp(-y .* (Z*w + b)))) + 0.5*norm2(w)^2",
            vec!["w", "b"],
            Values::new()
                .with("Z", random(12, 4, &mut rng))
                .with("y", random(12, 1, &mut rng)),
            vec!["b: scalar"],
        ),
        (&softmax, vec!["W"], softmax_values, vec!["W: 3x5"]),
        (
            "tr(X'*A*X*B) + sum(exp(X*c))",
            vec!["X", "c"],
            Values::new()
                .with("A", random(4, 4, &mut rng))
                .with("B", random(3, 3, &mut rng)),
            vec!["X: 4x3", "c: 3x1"],
        ),
        (
            "norm2(tanh(W*u) - t)^2 + sum(u .* u .* u)",
            vec!["W", "u"],
            Values::new().with("t", random(5, 1, &mut rng)),
            vec!["W: 5x3", "u: 3x1"],
        ),
    ];
    for (src, wrt, values, extra) in cases {
        let mut pool = ExprPool::new();
        let e = parse(&mut pool, src, &values, &extra);
        let mut derived = Derived::new(&mut pool, &e, &wrt, &values).unwrap();
        assert_eq!(derived.route(), HvpRoute::Derived, "{src}");
        let mut pool = ExprPool::new();
        let e = parse(&mut pool, src, &values, &extra);
        let mut complex = Derived::new(&mut pool, &e, &wrt, &values)
            .unwrap()
            .with_complex_step();
        assert_eq!(complex.route(), HvpRoute::ComplexStep);
        let n = derived.dimension();
        for _ in 0..3 {
            let x: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let by_rule = column(&derived.hessian_vector(&x, &v).unwrap());
            let by_step = column(&complex.hessian_vector(&x, &v).unwrap());
            let by_difference = column(&gradient_difference(&mut derived, &x, &v));
            let e = max_relative_error(&by_rule, &by_step);
            assert!(e < 1e-12, "{src}: derived vs complex step {e:e}");
            let e = max_relative_error(&by_rule, &by_difference);
            assert!(e < 1e-6, "{src}: derived vs central differences {e:e}");
        }
    }
}

#[test]
fn where_the_gradient_cannot_be_derived_again_the_complex_step_stands_in() {
    // The gradient of tr(X^k) is k*(X^(k-1))', and X^k outside a trace has no differential rule:
    // the Hessian-vector product falls back to the complex step of the gradient plan.
    let mut rng = SmallRng::seed_from_u64(9);
    let values = Values::new()
        .with("X", random(3, 3, &mut rng))
        .with_scalar("k", 3.0);
    let mut pool = ExprPool::new();
    let e = parse(&mut pool, "tr(X^k)", &values, &["k: integer"]);
    let mut f = Derived::new(&mut pool, &e, &["X"], &values).unwrap();
    assert_eq!(f.route(), HvpRoute::ComplexStep);
    let x = f.start();
    let v: Vec<f64> = (0..9).map(|_| rng.random_range(-1.0..1.0)).collect();
    let hv = column(&f.hessian_vector(&x, &v).unwrap());
    // H[V] = 3*(X*V + V*X)' for k = 3.
    let xm = Mat::from_fn(3, 3, |i, j| x[i + 3 * j]);
    let vm = Mat::from_fn(3, 3, |i, j| v[i + 3 * j]);
    let want = (&xm * &vm + &vm * &xm).transpose() * 3.0;
    let want = Mat::from_fn(9, 1, |q, _| want[(q % 3, q / 3)]);
    assert!(max_relative_error(&hv, &want) < 1e-13);
}
