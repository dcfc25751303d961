//! Every operator and function of the language, evaluated by a plan on seeded random non-square,
//! non-symmetric values, against the same computation written directly with faer.

mod common;

use common::*;
use faer::linalg::solvers::DenseSolveCore;
use faer::Mat;
use matdiff_expr::Func;
use matdiff_faer::{Functions, Options, Plan, Scalar, Sizes, Values};

const TOL: f64 = 1e-12;

#[track_caller]
fn check(src: &str, values: &Values<f64>, want: Mat<f64>) {
    let got = eval_src(src, values).unwrap_or_else(|e| panic!("{src}: {e}"));
    assert_close(&got, &want, TOL, src);
}

fn tr(m: &Mat<f64>) -> f64 {
    (0..m.nrows()).map(|i| m[(i, i)]).sum()
}

#[test]
fn sums_products_and_scalars() {
    let v = fixture(1);
    let (a, b, c, d, s) = (
        get(&v, "A"),
        get(&v, "B"),
        get(&v, "C"),
        get(&v, "D"),
        get(&v, "S"),
    );
    let (al, be) = (get(&v, "alpha")[(0, 0)], get(&v, "beta")[(0, 0)]);
    let (va, vb) = (get(&v, "a"), get(&v, "b"));
    check("A + D", &v, &a + &d);
    check("A - D", &v, &a - &d);
    check("-A", &v, -&a);
    check("A - D + A", &v, &(&a - &d) + &a);
    check("A*B", &v, &a * &b);
    check("A*B*C", &v, &(&a * &b) * &c);
    check("A'*D", &v, a.transpose() * &d);
    check("(A*B)'*D", &v, (&a * &b).transpose() * &d);
    check("alpha*A*B", &v, &(&a * &b) * faer::Scale(al));
    check("A*alpha*B*beta", &v, &(&a * &b) * faer::Scale(al * be));
    check("2*A", &v, &a * faer::Scale(2.0));
    check("A/alpha", &v, map(&a, |x| x / al));
    check("a'*A*b", &v, &(va.transpose() * &a) * &vb);
    check(
        "a'*A*b*B'",
        &v,
        b.transpose() * faer::Scale((va.transpose() * &a * &vb)[(0, 0)]),
    );
    check("A*b*b'", &v, &(&a * &vb) * vb.transpose());
    check("-(A*B)*C", &v, -(&(&a * &b) * &c));
    check("S^2", &v, &s * &s);
    check("S^3*b", &v, &(&(&s * &s) * &s) * &vb);
    check("alpha^2", &v, scalar(al * al));
    check("alpha^beta", &v, scalar(al.powf(be)));
    check("alpha + beta*2 - 1", &v, scalar(al + be * 2.0 - 1.0));
}

#[test]
fn element_wise_operators_and_broadcasting() {
    let v = fixture(2);
    let (a, d, p) = (get(&v, "A"), get(&v, "D"), get(&v, "P"));
    let al = get(&v, "alpha")[(0, 0)];
    let va = get(&v, "a");
    check("A .* D", &v, zip(&a, &d, |x, y| x * y));
    check(
        "A .* D .* P",
        &v,
        Mat::from_fn(3, 4, |i, j| a[(i, j)] * d[(i, j)] * p[(i, j)]),
    );
    check("A ./ P", &v, zip(&a, &p, |x, y| x / y));
    check("A .^ 2", &v, map(&a, |x| x * x));
    check("A .^ 3", &v, map(&a, |x| x * x * x));
    check("P .^ 1.5", &v, map(&p, |x| x.powf(1.5)));
    check("P .^ alpha", &v, map(&p, |x| x.powf(al)));
    check("1 - A", &v, map(&a, |x| 1.0 - x));
    check("A + alpha", &v, map(&a, |x| x + al));
    check("1 ./ P", &v, map(&p, |x| 1.0 / x));
    check("alpha .* A", &v, map(&a, |x| al * x));
    check(
        "A' .* D'",
        &v,
        zip(&a, &d, |x, y| x * y).transpose().to_owned(),
    );
    // Broadcasts of vectors by outer products with ones.
    check(
        "A + a*ones'",
        &v,
        Mat::from_fn(3, 4, |i, j| a[(i, j)] + va[(i, 0)]),
    );
    check(
        "A + 2*a*ones'",
        &v,
        Mat::from_fn(3, 4, |i, j| a[(i, j)] + 2.0 * va[(i, 0)]),
    );
    check("A .* (ones*b')", &v, {
        let b = get(&v, "b");
        Mat::from_fn(3, 4, |i, j| a[(i, j)] * b[(j, 0)])
    });
    check("a*ones' + 0*A", &v, Mat::from_fn(3, 4, |i, _| va[(i, 0)]));
    check(
        "A*ones",
        &v,
        Mat::from_fn(3, 1, |i, _| (0..4).map(|j| a[(i, j)]).sum()),
    );
    check(
        "ones'*A",
        &v,
        Mat::from_fn(1, 4, |_, j| (0..3).map(|i| a[(i, j)]).sum()),
    );
}

#[test]
fn identity_diag_and_inverse() {
    let v = fixture(3);
    let (a, b, s, t) = (get(&v, "A"), get(&v, "B"), get(&v, "S"), get(&v, "T"));
    let vv = get(&v, "v");
    let inv = s.partial_piv_lu().inverse();
    check("S + I", &v, &s + Mat::<f64>::identity(4, 4));
    check(
        "S .* I",
        &v,
        Mat::from_fn(4, 4, |i, j| if i == j { s[(i, i)] } else { 0.0 }),
    );
    check("A*I", &v, a.clone());
    check("inv(S)", &v, inv.clone());
    check("inv(S)*B", &v, &inv * &b);
    check("A*inv(S)", &v, &a * &inv);
    check("inv(S)'*B", &v, inv.transpose() * &b);
    check("inv(S')*B", &v, inv.transpose() * &b);
    check(
        "A*inv(S)*T*inv(S)*v",
        &v,
        &(&(&(&a * &inv) * &t) * &inv) * &vv,
    );
    check("S^-2", &v, &inv * &inv);
    check("S^-1*v", &v, &inv * &vv);
    check("inv(S) + T", &v, &inv + &t);
    check(
        "diag(v)",
        &v,
        Mat::from_fn(4, 4, |i, j| if i == j { vv[(i, 0)] } else { 0.0 }),
    );
    check("diag(S)", &v, Mat::from_fn(4, 1, |i, _| s[(i, i)]));
    check(
        "diag(v)*B",
        &v,
        Mat::from_fn(4, 5, |i, j| vv[(i, 0)] * b[(i, j)]),
    );
    check(
        "A*diag(v)",
        &v,
        Mat::from_fn(3, 4, |i, j| a[(i, j)] * vv[(j, 0)]),
    );
    check(
        "A + A*diag(v)",
        &v,
        Mat::from_fn(3, 4, |i, j| a[(i, j)] * (1.0 + vv[(j, 0)])),
    );
    check(
        "S + diag(v)",
        &v,
        Mat::from_fn(4, 4, |i, j| {
            s[(i, j)] + if i == j { vv[(i, 0)] } else { 0.0 }
        }),
    );
    let st = &s * &t;
    check("diag(S*T)", &v, Mat::from_fn(4, 1, |i, _| st[(i, i)]));
    check(
        "diag(S .* T)",
        &v,
        Mat::from_fn(4, 1, |i, _| s[(i, i)] * t[(i, i)]),
    );
    check(
        "diag(S*T) + v",
        &v,
        Mat::from_fn(4, 1, |i, _| st[(i, i)] + vv[(i, 0)]),
    );
}

#[test]
fn reductions() {
    let v = fixture(4);
    let (a, b, s, t) = (get(&v, "A"), get(&v, "B"), get(&v, "S"), get(&v, "T"));
    let ab = &a * &b;
    check("tr(S)", &v, scalar(tr(&s)));
    check("tr(S*T)", &v, scalar(tr(&(&s * &t))));
    check("tr(A'*A*S)", &v, scalar(tr(&(&(a.transpose() * &a) * &s))));
    check(
        "tr(S .* T)",
        &v,
        scalar((0..4).map(|i| s[(i, i)] * t[(i, i)]).sum()),
    );
    check("tr(S + T)", &v, scalar(tr(&s) + tr(&t)));
    check("det(S)", &v, scalar(s.determinant()));
    check("det(T)", &v, scalar(t.determinant()));
    check("logdet(S)", &v, scalar(s.determinant().ln()));
    check(
        "logdet(S'*S)",
        &v,
        scalar((s.transpose() * &s).determinant().ln()),
    );
    check("sum(A)", &v, scalar(a.sum()));
    check("sum(A*B)", &v, scalar(ab.sum()));
    check("sum(A .* A)", &v, scalar(a.norm_l2().powi(2)));
    check("norm1(A)", &v, scalar(map(&a, f64::abs).sum()));
    check(
        "norm1(A - 1)",
        &v,
        scalar(map(&a, |x| (x - 1.0).abs()).sum()),
    );
    check("norm2(A)", &v, scalar(a.norm_l2()));
    check("norm2(A*B)", &v, scalar(ab.norm_l2()));
    check("norm2(2*A)", &v, scalar(2.0 * a.norm_l2()));
    check("tr(A*B*B'*A')", &v, scalar(tr(&(&ab * ab.transpose()))));
}

#[test]
fn norm2_does_not_overflow_and_logdet_of_spd_matches_lu() {
    let big = Values::new().with("x", Mat::from_fn(3, 1, |i, _| 1e300 * (i as f64 + 1.0)));
    let got = eval_src("norm2(x)", &big).unwrap()[(0, 0)];
    assert!((got / (1e300 * 14f64.sqrt()) - 1.0).abs() < 1e-15, "{got}");
    let tiny = Values::new().with("x", Mat::from_fn(3, 1, |i, _| 1e-300 * (i as f64 + 1.0)));
    let got = eval_src("norm2(x)", &tiny).unwrap()[(0, 0)];
    assert!((got / (1e-300 * 14f64.sqrt()) - 1.0).abs() < 1e-15, "{got}");
    // A symmetric positive definite value takes the Cholesky path; a non-symmetric one LU.
    let v = fixture(5);
    let s = get(&v, "S");
    let spd = s.transpose() * &s;
    let vals = Values::new().with("M", spd.clone());
    check("logdet(M)", &vals, scalar(spd.determinant().ln()));
}

#[test]
fn element_wise_functions_and_derivatives() {
    let v = fixture(6);
    let (a, p) = (get(&v, "A"), get(&v, "P"));
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let cases: Vec<(&str, Mat<f64>)> = vec![
        ("exp(A)", map(&a, f64::exp)),
        ("log(P)", map(&p, f64::ln)),
        ("sin(A)", map(&a, f64::sin)),
        ("cos(A)", map(&a, f64::cos)),
        ("tan(A)", map(&a, f64::tan)),
        ("tanh(A)", map(&a, f64::tanh)),
        ("sigmoid(A)", map(&a, sig)),
        ("relu(A)", map(&a, |x| x.max(0.0))),
        ("softplus(A)", map(&a, |x| (1.0 + x.exp()).ln())),
        ("sqrt(P)", map(&p, f64::sqrt)),
        ("abs(A)", map(&a, f64::abs)),
        ("sign(A)", map(&a, f64::signum)),
        ("sign'(A)", map(&a, |_| 0.0)),
        ("arcsin(tanh(A))", map(&a, |x| x.tanh().asin())),
        ("arccos(tanh(A))", map(&a, |x| x.tanh().acos())),
        (
            "arcsin'(tanh(A))",
            map(&a, |x| 1.0 / (1.0 - x.tanh().powi(2)).sqrt()),
        ),
        (
            "arccos''(tanh(A))",
            map(&a, |x| -x.tanh() / (1.0 - x.tanh().powi(2)).powf(1.5)),
        ),
        ("arctan(A)", map(&a, f64::atan)),
        ("arctan'(A)", map(&a, |x| 1.0 / (1.0 + x * x))),
        ("arctan''(A)", map(&a, |x| -2.0 * x / (1.0 + x * x).powi(2))),
        ("sinh(A)", map(&a, f64::sinh)),
        ("sinh'(A)", map(&a, f64::cosh)),
        ("cosh(A)", map(&a, f64::cosh)),
        ("cosh''(A)", map(&a, f64::cosh)),
        ("log1p(A .* A)", map(&a, |x| (x * x).ln_1p())),
        ("log1p'(P)", map(&p, |x| 1.0 / (1.0 + x))),
        ("log1p''(P)", map(&p, |x| -1.0 / (1.0 + x).powi(2))),
        ("expm1(A)", map(&a, f64::exp_m1)),
        ("expm1''(A)", map(&a, f64::exp)),
        ("exp'(A)", map(&a, f64::exp)),
        ("log'(P)", map(&p, |x| 1.0 / x)),
        ("log''(P)", map(&p, |x| -1.0 / (x * x))),
        ("sin'(A)", map(&a, f64::cos)),
        ("sin''(A)", map(&a, |x| -x.sin())),
        ("cos'(A)", map(&a, |x| -x.sin())),
        ("cos''(A)", map(&a, |x| -x.cos())),
        ("tan'(A)", map(&a, |x| 1.0 / (x.cos() * x.cos()))),
        ("tan''(A)", map(&a, |x| 2.0 * x.tan() / (x.cos() * x.cos()))),
        ("tanh'(A)", map(&a, |x| 1.0 - x.tanh().powi(2))),
        (
            "tanh''(A)",
            map(&a, |x| -2.0 * x.tanh() * (1.0 - x.tanh().powi(2))),
        ),
        ("sigmoid'(A)", map(&a, |x| sig(x) * (1.0 - sig(x)))),
        (
            "sigmoid''(A)",
            map(&a, |x| sig(x) * (1.0 - sig(x)) * (1.0 - 2.0 * sig(x))),
        ),
        ("relu'(A)", map(&a, |x| if x > 0.0 { 1.0 } else { 0.0 })),
        ("relu''(A)", map(&a, |_| 0.0)),
        ("softplus'(A)", map(&a, sig)),
        ("softplus''(A)", map(&a, |x| sig(x) * (1.0 - sig(x)))),
        ("sqrt'(P)", map(&p, |x| 0.5 / x.sqrt())),
        ("sqrt''(P)", map(&p, |x| -0.25 / (x * x.sqrt()))),
        ("abs'(A)", map(&a, f64::signum)),
        ("abs''(A)", map(&a, |_| 0.0)),
        (
            "sigmoid(A) .* (1 - sigmoid(A))",
            map(&a, |x| sig(x) * (1.0 - sig(x))),
        ),
        ("exp(A*B)", map(&(&a * &get(&v, "B")), f64::exp)),
    ];
    for (src, want) in cases {
        check(src, &v, want);
    }
}

#[test]
fn abstract_functions_use_the_registry() {
    let v = fixture(7);
    let a = get(&v, "A");
    let (pool, root) = parse("sum(g(A) + 2*g'(A) .* g''(A))", &v);
    let mut functions = Functions::new();
    functions.define("g", |x: f64| x.powi(3), |x| 3.0 * x * x);
    assert!(functions.define_second("g", |x| 6.0 * x));
    let sizes = Sizes::from_values(&pool, &v).unwrap();
    let mut plan =
        Plan::compile_with(&pool, &[root], &sizes, &Options::new().functions(functions)).unwrap();
    let want: f64 = map(&a, |x| x.powi(3) + 2.0 * 3.0 * x * x * 6.0 * x).sum();
    let got = plan.run(&v).unwrap()[0][(0, 0)];
    assert!(
        (got - want).abs() < 1e-12 * want.abs().max(1.0),
        "{got} {want}"
    );
}

#[test]
fn complex_evaluation_equals_real_evaluation_on_real_inputs() {
    let v = fixture(8);
    let c = v.map(|x| matdiff_faer::Complex::new(x, 0.0));
    for src in [
        "tr(A'*A*S) + sum(exp(A*B)) - norm2(A) + norm1(D)",
        "logdet(S) + det(S) + sum(log(P)) + sum(sqrt(P))",
        "inv(S)*B + diag(v)*B - B .^ 3",
        "sigmoid(A) + tanh(A) + softplus(A) + relu(A) + abs(A) + sin(A) .* cos(A) + tan(A)",
        "sigmoid'(A) + relu'(A) + abs'(A) + P .^ alpha + alpha ^ beta",
        "S^-2 + S^3",
    ] {
        let real = eval_src(src, &v).unwrap();
        let complex = eval_src(src, &c).unwrap();
        let re = Mat::from_fn(real.nrows(), real.ncols(), |i, j| complex[(i, j)].re);
        assert_close(&re, &real, 1e-13, src);
        for j in 0..real.ncols() {
            for i in 0..real.nrows() {
                assert_eq!(
                    complex[(i, j)].im,
                    0.0,
                    "{src}: imaginary part at ({i}, {j})"
                );
            }
        }
    }
}

#[test]
fn complex_step_of_every_function_is_its_derivative() {
    let h = 1e-20;
    for f in Func::ALL {
        let points: &[f64] = match f {
            Func::Log | Func::Sqrt => &[0.3, 1.0, 2.5, 40.0],
            Func::Tan => &[-1.2, -0.3, 0.2, 1.0],
            Func::Arcsin | Func::Arccos => &[-0.9, -0.3, 1e-9, 0.2, 0.7, 0.99],
            Func::Log1p => &[-0.9, -0.3, 1e-9, 0.2, 1.0, 30.0],
            _ => &[-30.0, -2.5, -0.3, 0.2, 1.0, 3.0, 30.0],
        };
        for &x in points {
            for order in 0..2u8 {
                let z = matdiff_faer::Complex::new(x, h).apply(f, order);
                let want = x.apply(f, order + 1);
                let got = z.im / h;
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs().max(1e-12),
                    "{}{} at {x}: complex step {got}, derivative {want}",
                    f.name(),
                    "'".repeat(order as usize)
                );
                assert!(
                    (z.re - x.apply(f, order)).abs() <= 1e-13 * z.re.abs().max(1e-300),
                    "{} at {x}: real part",
                    f.name()
                );
            }
        }
    }
}

#[test]
fn f32_evaluation_agrees_with_f64() {
    let v = fixture(9);
    let v32 = v.map(|x| x as f32);
    let src = "tr(A'*sigmoid(A*B)*C*C'*B') + sum(inv(S)*B)";
    let want = eval_src(src, &v).unwrap()[(0, 0)];
    let got = eval_src(src, &v32).unwrap()[(0, 0)];
    assert!(
        (got as f64 - want).abs() < 1e-4 * want.abs().max(1.0),
        "{got} {want}"
    );
}

/// The vectorised `f32` kernels of the plans (native `log`, `log1p`, `expm1`, `tanh`,
/// `softplus`; `sin`, `cos` and their derivatives; `.^` with a non-integer exponent, an integer
/// one from an expression, a negative base to an odd power) within 2 ulps of the `f64` plan
/// rounded, entry by entry; a negative base to a non-integer power is still refused.
#[test]
fn f32_element_wise_kernels_agree_with_f64_rounded() {
    // The f64 reference on the same (rounded) inputs.
    let v = fixture(10).map(|x| x as f32 as f64);
    let v32 = v.map(|x| x as f32);
    for src in [
        "log(P)",
        "log1p(A)",
        "expm1(A)",
        "tanh(A)",
        "softplus(A)",
        "sin(A)",
        "cos(A)",
        "sin'(A)",
        "cos'(A)",
        "sin''(A)",
        "cos''(A)",
        "P .^ 1.5",
        "P .^ alpha",
        "P .^ (-2.25)",
        "A .^ 3",
        "A .^ (beta - beta + 5)",
    ] {
        let want = eval_src(src, &v).unwrap();
        let got = eval_src(src, &v32).unwrap_or_else(|e| panic!("{src}: {e}"));
        for j in 0..want.ncols() {
            for i in 0..want.nrows() {
                let (w, g) = (want[(i, j)] as f32, got[(i, j)]);
                let ulps = (w.to_bits() as i64 - g.to_bits() as i64).abs();
                assert!(w.signum() == g.signum() && ulps <= 2, "{src}: {g} {w}");
            }
        }
    }
    let negative = Values::new().with("X", faer::mat![[1.0f32, -0.5], [2.0, 3.0]]);
    assert!(eval_src("X .^ 0.5", &negative).is_err());
    assert_eq!(eval_src("X .^ 3", &negative).unwrap()[(0, 1)], -0.125);
}
