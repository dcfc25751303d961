//! Logistic regression on the breast cancer data set against scikit-learn's
//! `LogisticRegression(C=1, solver='newton-cg', tol=1e-12)` (reference computed once by
//! `data/breast_cancer_reference.py`, committed as `data/breast_cancer_reference.json`).

use matdiff_expr::{Decl, ExprPool};
use matdiff_faer::{Mat, Values};
use matdiff_optim::{minimize, Derived, Direction, Options, SecondOrder};

use matdiff_testkit::data::{BREAST_CANCER_CSV as CSV, BREAST_CANCER_REFERENCE as REFERENCE};
const OBJECTIVE: &str = "sum(log(1 + exp(-s .* (Z*w + b)))) + 0.5*norm2(w)^2";

/// The features standardised with the population standard deviation, and `s = 2*malignant - 1`.
fn standardised() -> (Vec<String>, Mat<f64>, Mat<f64>) {
    let mut lines = CSV.lines();
    let names: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let (n, p) = (rows.len(), names.len() - 1);
    assert_eq!(names[p], "malignant");
    let mean: Vec<f64> = (0..p)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    let std: Vec<f64> = (0..p)
        .map(|j| (rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n as f64).sqrt())
        .collect();
    let z = Mat::from_fn(n, p, |i, j| (rows[i][j] - mean[j]) / std[j]);
    let s = Mat::from_fn(n, 1, |i, _| 2.0 * rows[i][p] - 1.0);
    (names[..p].to_vec(), z, s)
}

#[test]
fn newton_matches_scikit_learn_within_ten_iterations() {
    let r: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    assert_eq!(r["csv_equals_sklearn_bundled_data"], true);
    let (names, z, s) = standardised();
    assert_eq!((z.nrows(), z.ncols()), (569, 30));
    assert_eq!(
        names,
        r["feature_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect::<Vec<_>>()
    );
    let mut pool = ExprPool::new();
    let decls = [
        Decl::sized("Z", 569, 30),
        Decl::sized("s", 569, 1),
        Decl::parse("b: scalar").unwrap(),
    ];
    let e = pool.parse_with(OBJECTIVE, &decls).unwrap();
    let data = Values::new().with("Z", z).with("s", s);
    let mut f = Derived::new(&mut pool, &e, &["w", "b"], &data).unwrap();
    assert_eq!(f.dimension(), 31);
    let x0 = f.start();
    assert!(x0.iter().all(|&v| v == 0.0));
    let solution = minimize(&mut f, x0, &Options::default()).unwrap();

    assert!(solution.iterations() <= 10, "{:#?}", solution.history);
    assert!(solution.history[1..]
        .iter()
        .all(|it| it.direction == Direction::Newton));
    // Objective decreasing at every step, gradient norm below the tolerance at the end.
    assert!(solution.history.windows(2).all(|w| w[1].value < w[0].value));
    assert!(solution.gradient_norm <= 1e-8);

    let want_w: Vec<f64> = r["w"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want_b = r["b"].as_f64().unwrap();
    let values = f.unstack(&solution.x);
    let (w, b) = (&values[0].1, values[1].1[(0, 0)]);
    for (k, want) in want_w.iter().enumerate() {
        let got = w[(k, 0)];
        assert!(
            (got - want).abs() <= 1e-6,
            "w[{k}] ({}): {got} vs scikit-learn {want}",
            names[k]
        );
    }
    assert!(
        (b - want_b).abs() <= 1e-6,
        "b: {b} vs scikit-learn {want_b}"
    );
    let want_objective = r["objective"].as_f64().unwrap();
    assert!(
        (solution.value - want_objective).abs() <= 1e-10 * want_objective,
        "objective {} vs scikit-learn {want_objective}",
        solution.value
    );
}
