//! `matdiff codegen` as a user runs it; the generated NumPy is run by python3 (numpy from
//! `requirements-test.txt`) and compared with `matdiff eval` of the same gradient.

use std::process::Command;

/// Runs matdiff; returns (exit code, stdout, stderr).
fn matdiff(args: &[&str]) -> (i32, String, String) {
    matdiff_testkit::cli::run(env!("CARGO_BIN_EXE_matdiff"), args, "")
}

const SEED: &str = "tr(Y'*M*Y) where Y = sigmoid(W*X)";

#[test]
fn codegen_prints_each_language() {
    let cases: &[(&str, &[&str])] = &[
        (
            "numpy",
            &[
                "import numpy as np",
                "def f_and_grad(M, W, X):",
                "Y = _sigmoid(t1)",
                "return value, grad_X, grad_W",
            ],
        ),
        (
            "jax",
            &["import jax.numpy as jnp", "jnp.sum(Y * t2)", "grad_X = 2.0 * (W.T @ t3)"],
        ),
        (
            "rust",
            &[
                "pub fn f_and_grad(M: faer::MatRef<'_, f64>, W: faer::MatRef<'_, f64>, X: faer::MatRef<'_, f64>) -> (f64, faer::Mat<f64>, faer::Mat<f64>)",
                "faer::linalg::matmul::matmul",
            ],
        ),
    ];
    for (lang, contains) in cases {
        let (code, out, err) = matdiff(&[
            "codegen",
            SEED,
            "--wrt",
            "X,W",
            "--lang",
            lang,
            "--let",
            "M: symmetric",
        ]);
        assert_eq!(code, 0, "{err}");
        for c in *contains {
            assert!(out.contains(c), "{lang}: lacks {c:?}:\n{out}");
        }
    }
}

#[test]
fn codegen_refuses_bad_input_with_a_caret() {
    let (code, _, err) = matdiff(&["codegen", "tr(X*", "--wrt", "X"]);
    assert_eq!(code, 2);
    assert!(err.contains("error:") && err.contains('^'), "{err}");
    let (code, _, err) = matdiff(&["codegen", "tr(X)", "--wrt", "Y"]);
    assert_eq!(code, 2);
    assert!(err.contains("error:"), "{err}");
    let (code, _, err) = matdiff(&["codegen", "tr(X)", "--wrt", "X", "--name", "no good"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a valid function name"), "{err}");
}

/// The generated NumPy of the seed's example, run, equals `matdiff eval` of its gradient.
#[test]
fn codegen_numpy_runs_and_agrees_with_eval() {
    let (code, source, err) = matdiff(&[
        "codegen",
        SEED,
        "--wrt",
        "X",
        "--let",
        "M: symmetric",
        "--check-gradient",
    ]);
    assert_eq!(code, 0, "{err}");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let values = dir.join("codegen_layer.json");
    std::fs::write(
        &values,
        r#"{"W": [[1, -0.5, 0], [0.25, 2, -1]], "X": [[0.5, 1], [-1, 0], [2, 0.5]], "M": [[2, 1], [1, 3]]}"#,
    )
    .unwrap();
    let values = values.to_str().unwrap();
    let (_, gradient, err) = matdiff(&[
        "grad",
        SEED,
        "--wrt",
        "X",
        "--let",
        "M: symmetric",
        "--at",
        values,
        "--format",
        "json",
    ]);
    let expected: serde_json::Value = serde_json::from_str(&gradient).expect(&err);
    let script = format!(
        "{source}\nimport json\nv = json.load(open({values:?}))\nf, g = f_and_grad(**v)\n\
         print(json.dumps({{\"value\": float(f), \"gradient\": g.tolist(), \"check\": check_gradient(**v)[\"X\"]}}))\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs (install it, with requirements-test.txt)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    assert!(close(
        got["value"].as_f64().unwrap(),
        expected["value"].as_f64().unwrap()
    ));
    let (g, e) = (&got["gradient"], &expected["gradient_value"]);
    for i in 0..3 {
        for j in 0..2 {
            assert!(
                close(g[i][j].as_f64().unwrap(), e[i][j].as_f64().unwrap()),
                "{g} {e}"
            );
        }
    }
    assert!(got["check"].as_f64().unwrap() < 1e-6, "{got}");
}

/// The README's "Use the result in your code" shows the current output.
#[test]
fn readme_shows_the_generated_numpy() {
    let (code, source, err) = matdiff(&["codegen", SEED, "--wrt", "X", "--let", "M: symmetric"]);
    assert_eq!(code, 0, "{err}");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    assert!(
        readme.contains(&source),
        "README.md: update the generated NumPy of 'Use the result in your code' to:\n{source}"
    );
}
