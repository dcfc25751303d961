//! `matdiff eval`: values from VALUES.json, text and JSON output, errors with exit code 2.

use std::ffi::OsStr;
use std::path::PathBuf;

/// Writes a values file in a fresh temporary folder and returns its path.
fn values_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matdiff-eval-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `matdiff eval EXPR --at FILE ARGS...`: (exit code, stdout, stderr).
fn eval(expr: &str, values: &str, args: &[&str]) -> (i32, String, String) {
    let name = format!("{:x}", {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (expr, values, args).hash(&mut h);
        h.finish()
    });
    let path = values_file(&name, values);
    let args = [
        OsStr::new("eval"),
        OsStr::new(expr),
        OsStr::new("--at"),
        path.as_os_str(),
    ]
    .into_iter()
    .chain(args.iter().map(OsStr::new));
    matdiff_testkit::cli::run(env!("CARGO_BIN_EXE_matdiff"), args, "")
}

const SEED_VALUES: &str = r#"{"a": [1, 2], "X": [[0, 1], [1, 0]], "b": [0.5, 0]}"#;

#[test]
fn scalar_value_in_text_and_json() {
    // a'*exp(X*b) = 1*exp(0) + 2*exp(0.5)
    let want = 1.0 + 2.0 * 0.5f64.exp();
    let (code, out, err) = eval("a'*exp(X*b)", SEED_VALUES, &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, format!("{want}\n"));
    let (code, out, _) = eval("a'*exp(X*b)", SEED_VALUES, &["--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["value"].as_f64(), Some(want));
}

#[test]
fn matrices_and_vectors_are_encoded_like_the_inputs() {
    let values = r#"{"A": [[1, 2, 3], [4, 5, 6]], "x": [1, 0, -1], "alpha": 2}"#;
    let (code, out, _) = eval("alpha*A'", values, &[]);
    assert_eq!(code, 0);
    assert_eq!(out, "2   8\n4  10\n6  12\n");
    let (_, out, _) = eval("alpha*A'", values, &["--format", "json"]);
    assert_eq!(out.trim(), r#"{"value":[[2.0,8.0],[4.0,10.0],[6.0,12.0]]}"#);
    let (_, out, _) = eval("A*x", values, &["--format", "json"]);
    assert_eq!(out.trim(), r#"{"value":[-2.0,-2.0]}"#);
    let (_, out, _) = eval("A*x", values, &[]);
    assert_eq!(out, "-2\n-2\n");
    // --let declarations combine with the shapes of the values.
    let (code, out, err) = eval(
        "tr(M*A'*A)",
        r#"{"A": [[1, 0], [0, 1]], "M": [[1, 2], [2, 1]]}"#,
        &["--let", "M: symmetric"],
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "2\n");
}

#[test]
fn bad_values_files() {
    let (code, out, err) = eval("sum(X)", "{\"X\": [[1, 2],\n [3, 4}", &[]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("malformed JSON at line 2, column"), "{err}");
    let (code, _, err) = eval("sum(X)", r#"{"X": [[1, 2], [3]]}"#, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("'X': row 1 has 1 entries, row 0 has 2"),
        "{err}"
    );
    let (code, _, err) = eval("sum(X)", r#"{"X": [[1, "two"]]}"#, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("not a number"), "{err}");
    let (code, _, err) = eval("sum(X)", r#"[1, 2]"#, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("expected one JSON object"), "{err}");
    let (code, out, _) = eval("sum(X)", r#"{"X": [[1, 2], [3]]}"#, &["--format", "json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["error"].as_str().unwrap().contains("row 1"));
}

#[test]
fn values_that_do_not_fit_the_expression() {
    // Shapes contradict: the parse error points at the operator.
    let (code, _, err) = eval("A*x", r#"{"A": [[1, 2], [3, 4]], "x": [1, 2, 3]}"#, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot multiply 2x2 by 3x1"), "{err}");
    let (code, _, err) = eval("A*x", r#"{"A": [[1, 2], [3, 4]]}"#, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no value for the variable 'x'"), "{err}");
    let (code, _, err) = eval("g(A)", r#"{"A": [[1, 2], [3, 4]]}"#, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("the function 'g' has no numeric definition"),
        "{err}"
    );
}

#[test]
fn numeric_failures_name_the_node() {
    let (code, _, err) = eval(
        "sum(inv(A)*b)",
        r#"{"A": [[1, 2], [2, 4]], "b": [1, 1]}"#,
        &[],
    );
    assert_eq!(code, 2);
    assert_eq!(err.trim(), "error: singular matrix in inv(A)");
    let (code, _, err) = eval("logdet(A)", r#"{"A": [[0, 1], [1, 0]]}"#, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "error: logdet of a matrix with a non-positive determinant in logdet(A)"
    );
    let (code, _, err) = eval("sum(log(x))", r#"{"x": [1, -2]}"#, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        "error: log of a non-positive entry (-2) in log(x)"
    );
}

/// Issue 17: repeated product chains with numbers, and a transposed number in a chain.
#[test]
fn repeated_chains_and_transposed_numbers() {
    let values = r#"{"A": [[1, 2], [3, 4]], "y": [1, 2]}"#;
    // 2*A^2 + 3*A^3, with A^2 = [[7, 10], [15, 22]] and A^3 = [[37, 54], [81, 118]].
    let (code, out, err) = eval("2*A*A + A*A*A + 2*A*A*A", values, &["--format", "json"]);
    assert_eq!((code, err.as_str()), (0, ""));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let want = [
        [2.0 * 7.0 + 3.0 * 37.0, 2.0 * 10.0 + 3.0 * 54.0],
        [2.0 * 15.0 + 3.0 * 81.0, 2.0 * 22.0 + 3.0 * 118.0],
    ];
    assert_eq!(v["value"], serde_json::json!(want));
    let (code, out, err) = eval("2'*y'*y", values, &[]);
    assert_eq!((code, out.as_str(), err.as_str()), (0, "10\n", ""));
}
