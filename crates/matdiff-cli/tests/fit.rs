//! `matdiff fit`: the diabetes data against scikit-learn, text and JSON output, options, and bad
//! input (a clear error naming line and column, exit code 2).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

fn diabetes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../matdiff-linreg/data/diabetes.csv")
}

/// Writes `text` to a fresh file named `name` and returns its path.
fn data_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matdiff-fit-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `matdiff fit FILE ARGS...`: (exit code, stdout, stderr).
fn fit(file: &Path, args: &[&str]) -> (i32, String, String) {
    let args = [OsStr::new("fit"), file.as_os_str()]
        .into_iter()
        .chain(args.iter().map(OsStr::new));
    matdiff_testkit::cli::run(env!("CARGO_BIN_EXE_matdiff"), args, "")
}

fn json(file: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let (code, out, err) = fit(file, &all);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn diabetes_matches_scikit_learn_for_every_method() {
    let reference: serde_json::Value = serde_json::from_str(include_str!(
        "../../matdiff-linreg/data/diabetes_reference.json"
    ))
    .unwrap();
    for method in ["auto", "normal", "qr", "svd"] {
        let v = json(&diabetes(), &["--target", "target", "--method", method]);
        let names = reference["feature_names"].as_array().unwrap();
        for (k, name) in names.iter().enumerate() {
            let got = v["coefficients"][name.as_str().unwrap()].as_f64().unwrap();
            let want = reference["coef"][k].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-10 * want.abs(),
                "{method} {name}: {got} vs {want}"
            );
        }
        let (got, want) = (
            v["intercept"].as_f64().unwrap(),
            reference["intercept"].as_f64().unwrap(),
        );
        assert!(
            (got - want).abs() <= 1e-10 * want.abs(),
            "{method}: intercept"
        );
        let (got, want) = (v["r2"].as_f64().unwrap(), reference["r2"].as_f64().unwrap());
        assert!((got - want).abs() <= 1e-10 * want.abs(), "{method}: r2");
        assert_eq!(v["rows"], 442);
        assert_eq!(v["rank"], 10);
        let expected = if method == "auto" { "normal" } else { method };
        assert_eq!(v["method"], expected);
        assert_eq!(v["requested_method"], method);
    }
}

#[test]
fn text_output_has_a_coefficient_table() {
    let (code, out, err) = fit(&diabetes(), &["--target", "target"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("least squares fit of 'target' on 10 features, 442 rows\n"),
        "{out}"
    );
    for line in [
        "method     normal (chosen by auto)",
        "rank       10 of 10",
        "R^2        0.517748",
        "term              coefficient",
        "(intercept)        152.133484",
        "bmi                 519.84592",
        "s1                -792.175639",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing line {line:?} in\n{out}"
        );
    }
    let condition = out
        .lines()
        .find_map(|l| l.strip_prefix("condition  "))
        .unwrap();
    assert!(condition.parse::<f64>().unwrap() > 1.0, "{condition}");
}

#[test]
fn ridge_and_no_intercept() {
    let plain = json(&diabetes(), &["--target", "target"]);
    let ridge = json(&diabetes(), &["--target", "target", "--ridge", "0.1"]);
    assert_eq!(ridge["ridge"], 0.1);
    // The penalty shrinks the coefficients and costs some fit.
    let norm = |v: &serde_json::Value| -> f64 {
        v["coefficients"]
            .as_object()
            .unwrap()
            .values()
            .map(|c| c.as_f64().unwrap().powi(2))
            .sum()
    };
    assert!(norm(&ridge) < norm(&plain));
    assert!(ridge["r2"].as_f64().unwrap() < plain["r2"].as_f64().unwrap());
    // Same ridge through every method.
    for method in ["normal", "qr", "svd"] {
        let other = json(
            &diabetes(),
            &["--target", "target", "--ridge", "0.1", "--method", method],
        );
        for (name, c) in ridge["coefficients"].as_object().unwrap() {
            let (a, b) = (
                c.as_f64().unwrap(),
                other["coefficients"][name].as_f64().unwrap(),
            );
            assert!(
                (a - b).abs() <= 1e-10 * a.abs(),
                "{method} {name}: {a} vs {b}"
            );
        }
    }
    let through_origin = json(&diabetes(), &["--target", "target", "--no-intercept"]);
    assert!(through_origin.get("intercept").is_none());
    // The features are centred, so only the intercept changes; R^2 (about the mean) collapses.
    assert!(through_origin["r2"].as_f64().unwrap() < 0.0);
}

#[test]
fn rank_deficient_data_through_svd() {
    let path = data_file(
        "rank.csv",
        "a,b,c,y\n1,2,3,1\n2,4,1,2\n3,6,4,2\n4,8,1,5\n5,10,9,4\n",
    );
    let v = json(&path, &["--target", "y"]);
    assert_eq!(
        (v["method"].as_str(), v["rank"].as_u64()),
        (Some("svd"), Some(2))
    );
    // Minimum norm: b = 2 a exactly, so the two coefficients split as 1 : 2.
    let (a, b) = (
        v["coefficients"]["a"].as_f64().unwrap(),
        v["coefficients"]["b"].as_f64().unwrap(),
    );
    assert!((b - 2.0 * a).abs() < 1e-12 * b.abs(), "{a} {b}");
    let (code, _, err) = fit(&path, &["--target", "y", "--method", "qr"]);
    assert_eq!(code, 2);
    assert!(err.contains("rank-deficient"), "{err}");
}

#[test]
fn bad_input_is_a_clear_error_with_exit_code_2() {
    let cases: &[(&str, &str, &[&str], &str)] = &[
        (
            "missing.csv",
            "a,b\n1,2\n3,4\n5,7\n",
            &["--target", "y"],
            "no column named 'y' (columns: a, b)",
        ),
        (
            "text.csv",
            "a,y\n1,2\n2,3\n3,oops\n",
            &["--target", "y"],
            "line 4, column 'y': 'oops' is not a finite number",
        ),
        (
            "nan.csv",
            "a,y\n1,2\nNaN,3\n3,4\n",
            &["--target", "y"],
            "line 3, column 'a': 'NaN' is not a finite number",
        ),
        (
            "inf.csv",
            "a,y\n1,2\n2,inf\n3,4\n",
            &["--target", "y"],
            "line 3, column 'y': 'inf' is not a finite number",
        ),
        (
            "blank.csv",
            "a,y\n1,2\n2,\n3,4\n",
            &["--target", "y"],
            "line 3, column 'y': an empty cell is not a finite number",
        ),
        (
            "ragged.csv",
            "a,b,y\n1,2,3\n4,5\n",
            &["--target", "y"],
            "line 3: 2 cells, but the header has 3 columns",
        ),
        (
            "empty.csv",
            "",
            &["--target", "y"],
            "no data: the file is empty",
        ),
        (
            "header.csv",
            "a,y\n",
            &["--target", "y"],
            "no data: the file has a header but no data rows",
        ),
        (
            "few.csv",
            "a,b,c,y\n1,2,3,4\n5,6,7,9\n1,0,0,1\n",
            &["--target", "y"],
            "3 rows for 4 unknowns (3 features, plus the intercept)",
        ),
        (
            "twice.csv",
            "a,a,y\n1,2,3\n",
            &["--target", "y"],
            "column 'a' appears twice in the header",
        ),
        (
            "only.csv",
            "y\n1\n2\n",
            &["--target", "y"],
            "no feature columns",
        ),
    ];
    for (name, text, args, message) in cases {
        let path = data_file(name, text);
        let (code, out, err) = fit(&path, args);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(
            err.starts_with("error: ") && err.contains(name) && err.contains(message),
            "{name}: {err}"
        );
        let mut with_json = args.to_vec();
        with_json.extend(["--format", "json"]);
        let (code, out, _) = fit(&path, &with_json);
        assert_eq!(code, 2);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(
            v["error"].as_str().unwrap().contains(message),
            "{name}: {out}"
        );
    }
    // A ridge penalty makes fewer rows than unknowns well posed.
    let path = data_file("few-ridge.csv", "a,b,c,y\n1,2,3,4\n5,6,7,9\n1,0,0,1\n");
    assert_eq!(fit(&path, &["--target", "y", "--ridge", "0.5"]).0, 0);
    let (code, _, err) = fit(&path, &["--target", "y", "--ridge", "-2"]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "error: --ridge: invalid ridge penalty -2: it must be finite and >= 0"
    );
    let (code, _, err) = fit(Path::new("/nonexistent/data.csv"), &["--target", "y"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: /nonexistent/data.csv: cannot read"),
        "{err}"
    );
}
