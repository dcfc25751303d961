//! Accuracy of the in-memory fits: agreement with QR on random problems, first-order optimality,
//! ill-conditioned data under `auto` against the plain normal equation, rank-deficient data.

use faer::{Col, ColRef, Mat, MatRef};
use matdiff_linreg::{fit, fit_weighted, Fit, FitError, Method, Options};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random(rng: &mut StdRng, rows: usize, cols: usize, offset: f64) -> Mat<f64> {
    Mat::from_fn(rows, cols, |_, _| offset + rng.random_range(-1.0..1.0))
}

fn options(method: Method, intercept: bool, ridge: f64) -> Options {
    Options {
        method,
        ridge,
        intercept,
        threads: 2,
    }
}

/// `|a - b| / |b|` over the coefficients, and the intercept's error relative to the scale of
/// the problem.
fn errors(a: &Fit, b: &Fit) -> (f64, f64) {
    let diff: f64 = a
        .coefficients
        .iter()
        .zip(&b.coefficients)
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let norm: f64 = b.coefficients.iter().map(|y| y * y).sum();
    let scale = norm.sqrt().max(b.intercept.abs());
    (
        (diff / norm).sqrt(),
        (a.intercept - b.intercept).abs() / scale,
    )
}

/// Gradient of `sum w (y - c - x'b)^2 + alpha |b|^2` in `b` and `c`, relative to the size of
/// its terms: about `eps` at a minimiser.
fn relative_gradient(
    x: MatRef<f64>,
    y: ColRef<f64>,
    w: Option<ColRef<f64>>,
    o: &Options,
    f: &Fit,
) -> f64 {
    let (n, d) = x.shape();
    let b = Col::from_fn(d, |j| f.coefficients[j]);
    let mut g = vec![0.0; d + 1];
    let mut size = vec![0.0; d + 1];
    for i in 0..n {
        let wi = w.map_or(1.0, |w| w[i]);
        let pred: f64 = f.intercept + (0..d).map(|j| x[(i, j)] * b[j]).sum::<f64>();
        let r = wi * (pred - y[i]);
        for j in 0..d {
            g[j] += r * x[(i, j)];
            size[j] += (wi * (pred.abs() + y[i].abs()) * x[(i, j)]).abs();
        }
        if o.intercept {
            g[d] += r;
            size[d] += wi * (pred.abs() + y[i].abs());
        }
    }
    for j in 0..d {
        g[j] += o.ridge * b[j];
        size[j] += (o.ridge * b[j]).abs();
    }
    g.iter()
        .zip(&size)
        .map(|(g, s)| if *s > 0.0 { g.abs() / s } else { 0.0 })
        .fold(0.0, f64::max)
}

/// `sum w y^2`, about the weighted mean with an intercept.
fn weighted_squares(y: ColRef<f64>, w: Option<ColRef<f64>>, centred: bool) -> f64 {
    let weight = |i: usize| w.map_or(1.0, |w| w[i]);
    let total: f64 = (0..y.nrows()).map(weight).sum();
    let mean = if centred {
        (0..y.nrows()).map(|i| weight(i) * y[i]).sum::<f64>() / total
    } else {
        0.0
    };
    (0..y.nrows())
        .map(|i| weight(i) * (y[i] - mean).powi(2))
        .sum()
}

#[test]
fn random_problems_agree_with_qr() {
    let mut rng = StdRng::seed_from_u64(7);
    for (n, d, offset) in [(40, 3, 0.0), (200, 7, 5.0), (3000, 12, -2.0)] {
        let x = random(&mut rng, n, d, offset);
        let y = Col::from_fn(n, |i| {
            (0..d).map(|j| (j as f64 - 2.0) * x[(i, j)]).sum::<f64>()
                + 4.0
                + rng.random_range(-0.5..0.5)
        });
        let w = Col::from_fn(n, |_| rng.random_range(0.0..3.0));
        for (intercept, ridge, weighted) in [
            (true, 0.0, false),
            (false, 0.0, false),
            (true, 0.3, false),
            (true, 0.0, true),
            (false, 2.0, true),
        ] {
            let solve = |method| {
                let o = options(method, intercept, ridge);
                if weighted {
                    fit_weighted(x.as_ref(), y.as_ref(), w.as_ref(), &o)
                } else {
                    fit(x.as_ref(), y.as_ref(), &o)
                }
                .unwrap()
            };
            let qr = solve(Method::Qr);
            assert_eq!(qr.method, Method::Qr);
            let o = options(Method::Qr, intercept, ridge);
            let grad = relative_gradient(
                x.as_ref(),
                y.as_ref(),
                weighted.then_some(w.as_ref()),
                &o,
                &qr,
            );
            assert!(
                grad < 1e-13,
                "QR is not a minimiser: relative gradient {grad:e}"
            );
            for method in [Method::Normal, Method::Svd, Method::Auto] {
                let other = solve(method);
                let (eb, ec) = errors(&other, &qr);
                let case = format!(
                    "n {n} d {d} intercept {intercept} ridge {ridge} weighted {weighted} {method}"
                );
                assert!(
                    eb < 1e-12 && ec < 1e-12,
                    "{case}: coefficients {eb:e}, intercept {ec:e}"
                );
                // The normal equation's RSS is y'y - |inv(L) X'y|^2: exact to about eps * y'y.
                let rss_tolerance = match other.method {
                    Method::Svd => 1e-12 * qr.rss,
                    _ => {
                        1e-14
                            * weighted_squares(
                                y.as_ref(),
                                weighted.then_some(w.as_ref()),
                                intercept,
                            )
                    }
                };
                assert!(
                    (other.rss - qr.rss).abs() <= rss_tolerance,
                    "{case}: rss {} vs {}",
                    other.rss,
                    qr.rss
                );
                assert!(
                    (other.r2 - qr.r2).abs() <= rss_tolerance / qr.rss * (1.0 - qr.r2),
                    "{case}: r2"
                );
                assert_eq!(other.rank, d);
            }
            assert_eq!(solve(Method::Auto).method, Method::Normal);
        }
    }
}

#[test]
fn rss_and_r2_match_the_residuals() {
    let mut rng = StdRng::seed_from_u64(8);
    let (n, d) = (150, 4);
    let x = random(&mut rng, n, d, 1.0);
    let y = Col::from_fn(n, |i| {
        x[(i, 0)] - 2.0 * x[(i, 3)] + rng.random_range(-1.0..1.0)
    });
    for method in [Method::Normal, Method::Qr, Method::Svd] {
        let f = fit(x.as_ref(), y.as_ref(), &options(method, true, 0.0)).unwrap();
        let residual = |i: usize| {
            y[i] - f.intercept - (0..d).map(|j| x[(i, j)] * f.coefficients[j]).sum::<f64>()
        };
        let rss: f64 = (0..n).map(|i| residual(i).powi(2)).sum();
        let mean = y.iter().sum::<f64>() / n as f64;
        let tss: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
        assert!(
            (f.rss - rss).abs() < 1e-12 * tss,
            "{method}: {} vs {rss}",
            f.rss
        );
        assert!((f.r2 - (1.0 - rss / tss)).abs() < 1e-12, "{method}");
    }
}

/// Polynomial fit of degree 14 on 50 points in [0, 1]: the centred Vandermonde matrix has
/// condition number about 1.5e10, so the normal equation works with cond^2 > 1/eps.
#[test]
fn ill_conditioned_vandermonde_auto_stays_accurate() {
    let (n, degree) = (50, 14);
    let x = Mat::from_fn(n, degree, |i, j| {
        (i as f64 / (n - 1) as f64).powi(j as i32 + 1)
    });
    let truth = vec![1.0; degree];
    let y = Col::from_fn(n, |i| {
        3.0 + (0..degree).map(|j| x[(i, j)] * truth[j]).sum::<f64>()
    });
    let exact_condition = {
        let mean: Vec<f64> = (0..degree)
            .map(|j| x.col(j).iter().sum::<f64>() / n as f64)
            .collect();
        let s = Mat::from_fn(n, degree, |i, j| x[(i, j)] - mean[j])
            .singular_values()
            .unwrap();
        s[0] / s[degree - 1]
    };
    assert!(
        (1e9..1e11).contains(&exact_condition),
        "test matrix has condition {exact_condition:e}"
    );
    let error = |f: &Fit| {
        let d: f64 = f
            .coefficients
            .iter()
            .zip(&truth)
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        (d / degree as f64).sqrt()
    };

    let auto = fit(x.as_ref(), y.as_ref(), &options(Method::Auto, true, 0.0)).unwrap();
    assert_eq!(auto.method, Method::Qr);
    assert!(
        auto.condition <= exact_condition * 1.000001 && auto.condition >= exact_condition / 2.0,
        "condition estimate {:e}, exact {exact_condition:e}",
        auto.condition
    );
    // Backward-stable QR: forward error about cond * eps.
    let bound = 10.0 * exact_condition * f64::EPSILON;
    assert!(
        error(&auto) < bound,
        "auto error {:e} above {bound:e}",
        error(&auto)
    );
    assert!((auto.intercept - 3.0).abs() < bound * 3.0);

    // The plain normal equation squares the condition number: it either fails outright or
    // returns coefficients without a correct digit.
    match fit(x.as_ref(), y.as_ref(), &options(Method::Normal, true, 0.0)) {
        Err(e) => assert!(matches!(e, FitError::NotPositiveDefinite { .. }), "{e}"),
        Ok(normal) => assert!(
            error(&normal) > 0.1,
            "normal equation error {:e}",
            error(&normal)
        ),
    }
}

/// Läuchli: columns `[1; e; 0; 0]`, `[1; 0; e; 0]`, `[1; 0; 0; e]` with `e = 1e-10`: `1 + e^2`
/// rounds to 1, so `X'X` is singular in floating point while `X` has condition about 1.7e10.
#[test]
fn ill_conditioned_lauchli_auto_stays_accurate() {
    let e = 1e-10;
    let d = 3;
    let x = Mat::from_fn(d + 1, d, |i, j| {
        if i == 0 {
            1.0
        } else if i == j + 1 {
            e
        } else {
            0.0
        }
    });
    let truth = [1.0, -2.0, 0.5];
    let y = Col::from_fn(d + 1, |i| (0..d).map(|j| x[(i, j)] * truth[j]).sum::<f64>());
    let normal = fit(x.as_ref(), y.as_ref(), &options(Method::Normal, false, 0.0));
    assert!(
        matches!(normal, Err(FitError::NotPositiveDefinite { .. })),
        "{normal:?}"
    );
    let auto = fit(x.as_ref(), y.as_ref(), &options(Method::Auto, false, 0.0)).unwrap();
    assert_eq!(auto.method, Method::Qr);
    assert!(
        (1e10..1e11).contains(&auto.condition),
        "{:e}",
        auto.condition
    );
    for (a, b) in auto.coefficients.iter().zip(truth) {
        assert!(
            (a - b).abs() < 10.0 * auto.condition * f64::EPSILON,
            "{a} vs {b}"
        );
    }
}

/// `X = A B` with `A` 60 x 3 and `B` 3 x 6 has rank 3: the SVD gives the minimum-norm solution,
/// which lies in the row space of `X` and satisfies the normal equation, and equals the
/// pseudo-inverse solution computed from the SVD of the whole centred matrix.
#[test]
fn rank_deficient_gets_minimum_norm_solution() {
    let mut rng = StdRng::seed_from_u64(9);
    let (n, r, d) = (60, 3, 6);
    let a = random(&mut rng, n, r, 0.5);
    let b = random(&mut rng, r, d, 0.0);
    let x = &a * &b;
    let y = Col::from_fn(n, |i| {
        x[(i, 0)] + 2.0 * x[(i, 4)] + 1.0 + rng.random_range(-0.1..0.1)
    });
    for method in [Method::Svd, Method::Auto] {
        let f = fit(x.as_ref(), y.as_ref(), &options(method, true, 0.0)).unwrap();
        assert_eq!((f.method, f.rank), (Method::Svd, r), "{method}");
        assert!(f.condition > 1e12, "{:e}", f.condition);

        // Reference: b = pinv(Xc) yc from the thin SVD of the centred data.
        let mean: Vec<f64> = (0..=d).map(|j| if j < d { x.col(j).iter().sum::<f64>() } else { y.iter().sum() } / n as f64).collect();
        let xc = Mat::from_fn(n, d, |i, j| x[(i, j)] - mean[j]);
        let yc = Col::from_fn(n, |i| y[i] - mean[d]);
        let svd = xc.thin_svd().unwrap();
        let s = svd.S().column_vector();
        let uy = svd.U().transpose() * &yc;
        let mut reference = Col::<f64>::zeros(d);
        for k in 0..d {
            if s[k] > 1e-10 * s[0] {
                reference += svd.V().col(k) * (uy[k] / s[k]);
            }
        }
        let got = Col::from_fn(d, |j| f.coefficients[j]);
        let err = (&got - &reference).norm_l2() / reference.norm_l2();
        assert!(err < 1e-10, "{method}: min-norm error {err:e}");
        let icpt = mean[d] - (0..d).map(|j| mean[j] * reference[j]).sum::<f64>();
        assert!((f.intercept - icpt).abs() < 1e-10 * icpt.abs().max(1.0));
        let residual = &yc - &xc * &reference;
        assert!((f.rss - residual.squared_norm_l2()).abs() < 1e-10 * f.rss);
    }
    assert!(matches!(
        fit(x.as_ref(), y.as_ref(), &options(Method::Qr, true, 0.0)),
        Err(FitError::RankDeficient { .. })
    ));
    // A ridge penalty makes the same problem well posed.
    let ridge = fit(x.as_ref(), y.as_ref(), &options(Method::Auto, true, 0.5)).unwrap();
    assert_eq!(ridge.rank, d);
    let o = options(Method::Auto, true, 0.5);
    assert!(relative_gradient(x.as_ref(), y.as_ref(), None, &o, &ridge) < 1e-12);
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = Mat::from_fn(3, 3, |i, j| (i * 3 + j) as f64);
    let y = Col::from_fn(3, |i| i as f64);
    let o = Options::default();
    assert!(matches!(
        fit(x.as_ref(), y.as_ref(), &o),
        Err(FitError::TooFewRows {
            rows: 3,
            unknowns: 4,
            ..
        })
    ));
    let mut bad = x.clone();
    bad[(1, 2)] = f64::NAN;
    let x4 = Mat::from_fn(5, 2, |i, j| ((i + 1) * (j + 2)) as f64 + (i * i) as f64);
    let y4 = Col::from_fn(5, |i| i as f64);
    let mut nan = x4.clone();
    nan[(3, 1)] = f64::NAN;
    for method in [Method::Auto, Method::Normal, Method::Qr, Method::Svd] {
        let e = fit(nan.as_ref(), y4.as_ref(), &o.clone().with_method(method)).unwrap_err();
        assert!(
            matches!(&e, FitError::NonFinite { row: 4, column, .. } if column == "2"),
            "{method}: {e}"
        );
    }
    let w = Col::from_fn(5, |i| if i == 2 { -1.0 } else { 1.0 });
    let e = fit_weighted(x4.as_ref(), y4.as_ref(), w.as_ref(), &o).unwrap_err();
    assert_eq!(
        e,
        FitError::BadWeight {
            row: 3,
            value: -1.0
        }
    );
    let ridge = Options {
        ridge: -1.0,
        ..Options::default()
    };
    assert_eq!(
        fit(x4.as_ref(), y4.as_ref(), &ridge).unwrap_err(),
        FitError::BadRidge(-1.0)
    );
    assert!(matches!(
        fit(x4.as_ref(), y.as_ref(), &o),
        Err(FitError::Shape { .. })
    ));
    // Fewer rows than unknowns is fine with a ridge penalty.
    let ridge = Options {
        ridge: 0.1,
        ..Options::default()
    };
    assert!(fit(x.as_ref(), y.as_ref(), &ridge).is_ok());
}
