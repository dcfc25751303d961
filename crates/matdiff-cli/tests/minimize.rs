//! `matdiff minimize`: Newton iterations in text and JSON, logistic regression on the breast cancer
//! data against scikit-learn, and errors with exit code 2.

use std::path::PathBuf;
use std::process::Command;

/// Writes a data file in a fresh temporary folder and returns its path.
fn data_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matdiff-minimize-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `matdiff minimize ARGS...` with `--at` a file holding `data` (if any): (exit code,
/// stdout, stderr).
fn minimize(data: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_matdiff"));
    command.arg("minimize").args(args);
    if let Some(data) = data {
        let name = format!("{:x}", {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (data, args).hash(&mut h);
            h.finish()
        });
        command.arg("--at").arg(data_file(&name, data));
    }
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn help_names_the_options() {
    let (code, out, _) = minimize(None, &["--help"]);
    assert_eq!(code, 0);
    for option in [
        "--wrt <NAMES>",
        "--at <DATA.json>",
        "--max-iter <N>",
        "--tol <T>",
        "--format",
    ] {
        assert!(out.contains(option), "{option} missing from:\n{out}");
    }
}

#[test]
fn least_squares_takes_one_newton_step() {
    // X is 4x2, y = X*[2, -1] + r with r orthogonal to the columns of X: the minimiser is [2, -1].
    let data = r#"{"X": [[1, 0], [0, 1], [1, 1], [1, -1]], "y": [2.5, -1.5, 1, 2.5]}"#;
    let (code, out, err) = minimize(Some(data), &["norm2(X*w - y)^2", "--wrt", "w"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "minimize over w (2x1): 2 unknowns, Newton with the dense Hessian (up to 32 unknowns)",
            "Hessian-vector products: derived, the gradient of tr(G'*V) for the derived gradient G"
        ]
    );
    assert!(
        lines[3].ends_with("start") && lines[4].ends_with("newton"),
        "{out}"
    );
    assert!(
        lines[5].starts_with("converged after 1 iterations"),
        "{out}"
    );
    let (code, out, _) = minimize(
        Some(data),
        &["norm2(X*w - y)^2", "--wrt", "w", "--format", "json"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["iterations"], 1);
    let w = numbers(&v["values"]["w"]);
    assert!(
        (w[0] - 2.0).abs() < 1e-12 && (w[1] + 1.0).abs() < 1e-12,
        "{w:?}"
    );
    assert!(v["gradient_norm"].as_f64().unwrap() <= 1e-8);
    assert_eq!(v["method"], "newton");
    assert_eq!(v["hessian_vector_product"], "derived");
}

#[test]
fn logistic_regression_on_breast_cancer_matches_scikit_learn() {
    let csv = matdiff_testkit::data::BREAST_CANCER_CSV;
    let reference: serde_json::Value =
        serde_json::from_str(matdiff_testkit::data::BREAST_CANCER_REFERENCE).unwrap();
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let (n, p) = (rows.len() as f64, rows[0].len() - 1);
    let column = |j: usize| rows.iter().map(move |r| r[j]);
    let mean: Vec<f64> = (0..p).map(|j| column(j).sum::<f64>() / n).collect();
    let std: Vec<f64> = (0..p)
        .map(|j| (column(j).map(|v| (v - mean[j]).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    let z: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| (0..p).map(|j| (r[j] - mean[j]) / std[j]).collect())
        .collect();
    let s: Vec<f64> = rows.iter().map(|r| 2.0 * r[p] - 1.0).collect();
    // b starts at 0 and is thereby a scalar; w starts at zeros of the shape Z fixes.
    let data = serde_json::json!({ "Z": z, "s": s, "b": 0.0 }).to_string();
    let (code, out, err) = minimize(
        Some(&data),
        &[
            "sum(log(1 + exp(-s .* (Z*w + b)))) + 0.5*norm2(w)^2",
            "--wrt",
            "w,b",
            "--format",
            "json",
        ],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["iterations"].as_u64().unwrap() <= 10, "{out}");
    assert!(v["gradient_norm"].as_f64().unwrap() <= 1e-8);
    for (got, want) in numbers(&v["values"]["w"])
        .iter()
        .zip(numbers(&reference["w"]))
    {
        assert!(
            (got - want).abs() <= 1e-6,
            "w: {got} vs scikit-learn {want}"
        );
    }
    let (got, want) = (
        v["values"]["b"].as_f64().unwrap(),
        reference["b"].as_f64().unwrap(),
    );
    assert!(
        (got - want).abs() <= 1e-6,
        "b: {got} vs scikit-learn {want}"
    );
}

#[test]
fn errors_are_worded_with_exit_code_2() {
    let a = r#"{"a": [1, -2, 3]}"#;
    let cases: &[(&str, &[&str], &str)] = &[
        (
            a,
            &["norm2(w - a)^2 +", "--wrt", "w"],
            "error: expected an expression, found end of input\n  norm2(w - a)^2 +\n                  ^\n",
        ),
        (
            a,
            &["w'*a", "--wrt", "w"],
            "error: the objective is unbounded below: at iteration 1 it keeps decreasing along a \
             direction of non-positive curvature (f = -3.848291e12 after a step of length 1.028e12)\n",
        ),
        (
            a,
            &["sum(exp(a - w))", "--wrt", "w", "--max-iter", "3"],
            // No minimiser: each Newton step adds 1 to every entry, so after 3 steps w = 3 and
            // f = e^-2 + e^-5 + e^0, the gradient norm sqrt(e^-4 + e^-10 + 1).
            "error: no convergence after 3 iterations: the gradient norm is 1.009e0, above the \
             tolerance 1e-8 (f = 1.142073e0)\n",
        ),
        (
            r#"{"w": [0, 0]}"#,
            &["-norm2(w)^2", "--wrt", "w"],
            "error: the gradient vanishes (norm 0.000e0) at a point that is not a minimum: the \
             Hessian has a negative eigenvalue there (a saddle point or a maximum); start elsewhere\n",
        ),
        (
            a,
            &["norm2(w - a)^2", "--wrt", "w,q"],
            "error: 'q' does not occur in the objective: there is nothing to minimise over it\n",
        ),
        (
            a,
            &["norm2(w - a)^2", "--wrt", "w,w"],
            "error: the variable 'w' is listed twice\n",
        ),
        (
            a,
            &["norm2(w - a)^2", "--wrt", "w,"],
            "error: --wrt w,: name 2 is empty\n",
        ),
        (
            a,
            &["w - a", "--wrt", "w"],
            "error: the objective is 3x1, not a scalar\n",
        ),
        (
            a,
            &["norm2(v)^2", "--wrt", "v"],
            "error: the shape of 'v' (m x 1) is not fixed: give its value, or values that fix m\n",
        ),
        (
            r#"{"A": [[1, 2], [3, 4]]}"#,
            &["tr(S*A) + norm2(S)^2", "--wrt", "S", "--let", "S: symmetric"],
            "error: 'S' is declared symmetric: minimize works on variables without structure only\n",
        ),
        (
            r#"{"x": [1, 2]}"#,
            &["sum(exp(1000 + x))", "--wrt", "x"],
            "error: the objective is not finite at the starting point (f = inf)\n",
        ),
        (
            a,
            &["norm2(w - a)^2", "--wrt", "w", "--tol=-1"],
            "error: --tol must be a positive number, got -1\n",
        ),
    ];
    for (data, args, want) in cases {
        let (code, out, err) = minimize(Some(data), args);
        assert_eq!(
            (code, out.as_str(), err.as_str()),
            (2, "", *want),
            "{args:?}"
        );
    }
    // With --format json the error is also one JSON object on stdout.
    let (code, out, err) = minimize(Some(a), &["w'*a", "--wrt", "w", "--format", "json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(format!("{}\n", v["error"].as_str().unwrap()), err);
}

#[test]
fn above_32_unknowns_newton_cg_runs() {
    // Ridge in 40 unknowns from 3 equations: x = A'*inv(A*A' + I)*y, so A*x = A*A'*inv(A*A' + I)*y.
    // With A = [I 0] (3x40) that is y/2 in the first three entries and zero elsewhere.
    let a: Vec<Vec<f64>> = (0..3)
        .map(|i| (0..40).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    let data = serde_json::json!({ "A": a, "y": [2.0, -4.0, 6.0] }).to_string();
    let expr = "norm2(A*x - y)^2 + norm2(x)^2";
    let (code, out, err) = minimize(Some(&data), &[expr, "--wrt", "x", "--format", "json"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["method"], "newton-cg");
    assert_eq!(v["history"][1]["direction"], "newton-cg");
    let x = numbers(&v["values"]["x"]);
    for (k, got) in x.iter().enumerate() {
        let want = [1.0, -2.0, 3.0].get(k).copied().unwrap_or(0.0);
        assert!((got - want).abs() < 1e-12, "x[{k}] = {got}, want {want}");
    }
    let (code, out, _) = minimize(Some(&data), &[expr, "--wrt", "x"]);
    assert_eq!(code, 0);
    assert!(out.starts_with(
        "minimize over x (40x1): 40 unknowns, Newton-CG on Hessian-vector products (more than 32 \
         unknowns)\n"
    ));
}
