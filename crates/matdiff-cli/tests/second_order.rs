//! `matdiff hessian`, `matdiff jacobian` and `matdiff check --hessian | --hvp | --jacobian` as a
//! user runs them.

use std::process::Command;

/// Runs matdiff; returns (exit code, stdout, stderr).
fn matdiff(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .args(args)
        .output()
        .expect("matdiff runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8"),
        String::from_utf8(out.stderr).expect("utf-8"),
    )
}

/// One case: arguments, expected exit code, and text the output must contain.
fn check(args: &[&str], code: i32, contains: &[&str]) {
    let (got, stdout, stderr) = matdiff(args);
    assert_eq!(
        got, code,
        "matdiff {args:?}\nstdout: {stdout}\nstderr: {stderr}"
    );
    let text = format!("{stdout}{stderr}");
    for c in contains {
        assert!(
            text.contains(c),
            "matdiff {args:?}: output lacks {c:?}:\n{text}"
        );
    }
}

fn values(name: &str, json: &str) -> String {
    let dir = std::env::temp_dir().join(format!("matdiff-second-order-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, json).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn hessians_and_jacobians_print_their_closed_forms() {
    let cases: &[(&[&str], &str)] = &[
        (&["hessian", "norm2(X*w - y)^2", "--wrt", "w"], "2*X'*X\n"),
        (
            &["hessian", "sum(log(1 + exp(-y .* (X*w))))", "--wrt", "w"],
            "X'*diag(y.^2 .* sigmoid'(-y .* (X*w)))*X\n",
        ),
        (
            &["hessian", "logsumexp(z) - y'*z", "--wrt", "z"],
            "diag(softmax(z)) - softmax(z)*softmax(z)'\n",
        ),
        (
            &["hessian", "tr(X'*A*X)", "--wrt", "X", "--hvp", "V"],
            "(A + A')*V\n",
        ),
        (
            &["hessian", "logdet(X)", "--wrt", "X", "--hvp", "V"],
            "-(inv(X)*V*inv(X))'\n",
        ),
        (&["jacobian", "A*x", "--wrt", "x"], "A\n"),
        (
            &["hessian", "sum(g(W*x))", "--wrt", "x"],
            "W'*diag(g''(W*x))*W\n",
        ),
        (
            &["jacobian", "sigmoid(W*x)", "--wrt", "x"],
            "diag(sigmoid'(W*x))*W\n",
        ),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = matdiff(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert_eq!(&stdout, expected, "{args:?}");
    }
}

#[test]
fn steps_show_both_derivations_and_the_read_off() {
    check(
        &["hessian", "x'*A*x", "--wrt", "x", "--steps"],
        0,
        &[
            "∂f/∂x = ",
            "h = tr((∂f/∂x)'*v)",
            "∂h/∂x = ",
            "∂²f/∂x∂x' = A + A'",
            "V1 vec of a product",
        ],
    );
}

#[test]
fn values_at_come_as_rows_of_the_stated_layout() {
    let at = values("quadratic.json", r#"{"A": [[1, 2], [3, 4]], "x": [1, -1]}"#);
    let (code, stdout, stderr) = matdiff(&[
        "hessian", "x'*A*x", "--wrt", "x", "--at", &at, "--format", "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["hessian"], "A + A'");
    assert_eq!(
        v["hessian_value"],
        serde_json::json!([[2.0, 5.0], [5.0, 8.0]])
    );
    let at = values(
        "linear.json",
        r#"{"A": [[1, 2], [3, 4], [5, 6]], "x": [1, -1]}"#,
    );
    let (code, stdout, stderr) = matdiff(&[
        "jacobian", "A*x", "--wrt", "x", "--at", &at, "--format", "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["jacobian"], "A");
    assert_eq!(
        v["jacobian_value"],
        serde_json::json!([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    );
    // The HVP at a given direction: (A + A')*V with V from the values.
    let at = values(
        "hvp.json",
        r#"{"A": [[1, 2], [3, 4]], "X": [[1, 0, 2], [0, 1, 1]], "V": [[1, 0, 0], [0, 0, 1]]}"#,
    );
    let (code, stdout, stderr) = matdiff(&[
        "hessian",
        "tr(X'*A*X)",
        "--wrt",
        "X",
        "--hvp",
        "V",
        "--at",
        &at,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["hvp_value"],
        serde_json::json!([[2.0, 0.0, 5.0], [5.0, 0.0, 8.0]])
    );
}

#[test]
fn check_compares_with_the_complex_step_of_the_gradient() {
    let cases: &[&[&str]] = &[
        &[
            "check",
            "sum(log(1 + exp(-y .* (X*w))))",
            "--wrt",
            "w",
            "--hessian",
        ],
        &["check", "logdet(X)", "--wrt", "X", "--hvp", "V"],
        &[
            "check",
            "tr(inv(X)*A)",
            "--wrt",
            "X",
            "--hvp",
            "V",
            "--seed",
            "3",
        ],
        &["check", "softmax(z)", "--wrt", "z", "--jacobian"],
        &["check", "tanh(W*x + b)", "--wrt", "b", "--jacobian"],
        // Structured variables: the direction keeps the structure.
        &[
            "check",
            "logdet(X)",
            "--wrt",
            "X",
            "--hvp",
            "V",
            "--let",
            "X: spd",
        ],
        &[
            "check",
            "tr(D*A*D*B)",
            "--wrt",
            "D",
            "--hvp",
            "V",
            "--let",
            "D: diagonal",
        ],
        // Through a `where` binding.
        &[
            "check",
            "sum(log(1 + exp(-z))) where z = y .* (X*w)",
            "--wrt",
            "w",
            "--hessian",
        ],
    ];
    for args in cases {
        check(args, 0, &["ok: the derived", "max relative error"]);
    }
}

#[test]
fn refusals_are_clear_errors() {
    check(
        &["jacobian", "X*Y", "--wrt", "X", "--format", "json"],
        0,
        &["\"jacobian\": \"Y' ⊗ eye(rows(X))\""],
    );
    check(&["jacobian", "a'*x", "--wrt", "x"], 2, &["use grad"]);
    check(
        &["hessian", "sum(relu(W*x))", "--wrt", "x"],
        2,
        &["kink", "relu(W*x)"],
    );
    check(&["hessian", "A*x", "--wrt", "x"], 2, &["not a scalar"]);
    check(
        &["hessian", "tr(X*V)", "--wrt", "X", "--hvp", "V"],
        2,
        &["already a name"],
    );
    check(&["hessian", "x'*A*", "--wrt", "x"], 2, &["^"]);
    let (_, stdout, _) = matdiff(&["hessian", "max(x)", "--wrt", "x", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("kink"));
}

/// A variable that does not occur: zero of the result's shape, with a note, exit 0 (as `grad`).
#[test]
fn variables_that_do_not_occur_have_zero_second_derivatives() {
    let note =
        |what: &str| format!("note: 'y' does not occur in the expression: its {what} is zero");
    check(
        &["hessian", "x'*A*x", "--wrt", "y"],
        0,
        &["0*ones(rows(y))*ones(rows(y))'\n", &note("Hessian")],
    );
    check(
        &["jacobian", "A*x", "--wrt", "y"],
        0,
        &["0*ones(rows(A))*ones(rows(y))'\n", &note("Jacobian")],
    );
    let at = values(
        "absent.json",
        r#"{"A": [[1, 2, 3], [4, 5, 6]], "x": [1, 2, 3], "y": [1, 2]}"#,
    );
    check(
        &["hessian", "x'*A'*A*x", "--wrt", "y", "--at", &at],
        0,
        &["hessian value: [[0.0,0.0],[0.0,0.0]]", &note("Hessian")],
    );
    check(
        &["jacobian", "A*x", "--wrt", "y", "--at", &at],
        0,
        &["jacobian value: [[0.0,0.0],[0.0,0.0]]", &note("Jacobian")],
    );
    let (code, stdout, _) = matdiff(&["jacobian", "A*x", "--wrt", "y", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["jacobian"], "0*ones(rows(A))*ones(rows(y))'");
    assert!(v["note"].as_str().unwrap().contains("does not occur"));
    // A matrix variable that does not occur: the Kronecker form, zero of its shape.
    check(
        &["jacobian", "inv(X)", "--wrt", "Y"],
        0,
        &[
            "0*ones(rows(X)*rows(X))*ones(rows(Y)*cols(Y))'\n",
            "note: 'Y' does not occur in the expression: its Jacobian is zero",
        ],
    );
}

/// A Hessian with respect to a matrix has no closed form yet, but its value at given values
/// comes from the derived HVP in the vec layout: here `I ⊗ (A + A')` and, for `logdet`,
/// `H[(i,j),(k,l)] = -inv(X)[j,k]*inv(X)[l,i]`.
#[test]
fn dense_hessians_of_matrices_come_from_the_hvp() {
    let at = values(
        "kron.json",
        r#"{"A": [[1, 2], [3, 4]], "X": [[1, 0, 2], [0, 1, 1]]}"#,
    );
    let (code, stdout, stderr) = matdiff(&[
        "hessian",
        "tr(X'*A*X)",
        "--wrt",
        "X",
        "--at",
        &at,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let h = &v["hessian_value"];
    let block = [[2.0, 5.0], [5.0, 8.0]];
    for p in 0..6 {
        for q in 0..6 {
            let expected = if p / 2 == q / 2 {
                block[p % 2][q % 2]
            } else {
                0.0
            };
            assert_eq!(h[p][q].as_f64().unwrap(), expected, "({p}, {q})");
        }
    }
    let at = values("logdet.json", r#"{"X": [[2, 1], [0, 1]]}"#);
    let (code, stdout, stderr) = matdiff(&[
        "hessian",
        "logdet(X)",
        "--wrt",
        "X",
        "--at",
        &at,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let y = [[0.5, -0.5], [0.0, 1.0]];
    for p in 0..4 {
        for q in 0..4 {
            let (i, j, k, l) = (p % 2, p / 2, q % 2, q / 2);
            let expected = -y[j][k] * y[l][i];
            let got = v["hessian_value"][p][q].as_f64().unwrap();
            assert!(
                (got - expected).abs() < 1e-14,
                "({p}, {q}): {got} vs {expected}"
            );
        }
    }
}

/// Without --at, a Hessian with respect to a matrix and a Jacobian of a matrix-valued F print
/// their Kronecker forms; --steps ends with the read-off line and its rules.
#[test]
fn matrix_variables_print_kronecker_forms() {
    check(
        &["hessian", "tr(X'*A*X)", "--wrt", "X"],
        0,
        &["eye(cols(X)) ⊗ (A + A')"],
    );
    check(
        &["hessian", "logdet(X)", "--wrt", "X", "--steps"],
        0,
        &[
            "∂h/∂X = -(inv(X)*V*inv(X))'",
            "∂²f/∂vec(X)∂vec(X)' = -(inv(X) ⊗ inv(X)')*commutation(",
            "V4 vec of a transpose",
        ],
    );
    check(&["jacobian", "A*X*B", "--wrt", "X"], 0, &["B' ⊗ A"]);
    check(
        &["hessian", "logdet(X)", "--wrt", "X", "--format", "latex"],
        0,
        &["-(X^{-1} \\otimes {X^{-1}}^T) K_{\\operatorname{rows}(X),\\operatorname{rows}(X)}"],
    );
    check(
        &[
            "hessian",
            "logdet(X)",
            "--wrt",
            "X",
            "--steps",
            "--format",
            "markdown",
        ],
        0,
        &[
            "whose gradient is the Hessian-vector product",
            "Read off with the vec identities (V1, V4, V5)",
            "\\otimes",
        ],
    );
    check(
        &["jacobian", "A*X*B", "--wrt", "X", "--format", "unicode"],
        0,
        &["Bᵀ ⊗ A"],
    );
    check(
        &["jacobian", "X .* Y", "--wrt", "X", "--format", "markdown"],
        0,
        &["$$\n\\operatorname{diag}(\\operatorname{vec}(Y))\n$$"],
    );
    check(&["jacobian", "X'", "--wrt", "X"], 0, &["commutation("]);
    let (code, stdout, _) = matdiff(&["jacobian", "X .* Y", "--wrt", "X", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["jacobian"], "diag(vec(Y))");
    assert!(v["layout"]
        .as_str()
        .unwrap()
        .starts_with("∂vec(F)/∂vec(X)'"));
}

/// With --at, a Kronecker form gives its dense value in the stated layout: `X'` of a 2 x 3 X is
/// the commutation matrix, `A*X` is `I ⊗ A`.
#[test]
fn kronecker_forms_have_dense_values() {
    let at = values(
        "kron.json",
        r#"{"A": [[1, 2], [3, 4]], "X": [[1, 0, 2], [0, 1, 1]]}"#,
    );
    let (code, stdout, stderr) = matdiff(&[
        "jacobian", "X'", "--wrt", "X", "--at", &at, "--format", "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["jacobian"], "commutation(2, 3)");
    // vec(X) = [X11 X21 X12 X22 X13 X23], vec(X') = [X11 X12 X13 X21 X22 X23].
    let expected: Vec<Vec<f64>> = [0, 2, 4, 1, 3, 5]
        .iter()
        .map(|&k| (0..6).map(|j| if j == k { 1.0 } else { 0.0 }).collect())
        .collect();
    assert_eq!(v["jacobian_value"], serde_json::json!(expected));
    let (code, stdout, stderr) = matdiff(&["jacobian", "A*X", "--wrt", "X", "--at", &at]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("eye(3) ⊗ A\njacobian value: [[1.0,2.0,0.0,0.0,0.0,0.0],[3.0,4.0,0.0,0.0,0.0,0.0],[0.0,0.0,1.0,2.0"), "{stdout}");
}

/// `check --hessian | --jacobian` of Kronecker forms against the complex step, at random
/// values and at given ones.
#[test]
fn check_compares_kronecker_forms_with_the_complex_step() {
    let cases: &[&[&str]] = &[
        &["check", "logdet(X)", "--wrt", "X", "--hessian"],
        &["check", "det(X)", "--wrt", "X", "--hessian"],
        &["check", "tr(A*X*B*X)", "--wrt", "X", "--hessian"],
        &["check", "inv(X)", "--wrt", "X", "--jacobian"],
        &["check", "X*X", "--wrt", "X", "--jacobian"],
        &["check", "tanh(W*H)", "--wrt", "W", "--jacobian"],
        &["check", "X/norm2(X)", "--wrt", "X", "--jacobian"],
        // The zero form: a linear function's Hessian, a constant's Jacobian.
        &["check", "tr(A*X)", "--wrt", "X", "--hessian"],
        &["check", "A*B + 0*X", "--wrt", "X", "--jacobian"],
    ];
    for args in cases {
        check(args, 0, &["ok: the derived", "max relative error"]);
    }
    let at = values(
        "kron_check.json",
        r#"{"A": [[1, 2], [3, 4]], "X": [[1, 0, 2], [0, 1, 1]]}"#,
    );
    let (code, stdout, stderr) = matdiff(&[
        "check",
        "tr(X'*A*X)",
        "--wrt",
        "X",
        "--hessian",
        "--at",
        &at,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["hessian"], "eye(3) ⊗ (A + A')");
}

/// A Kronecker form with respect to a symmetric or diagonal matrix would be one of its free
/// entries: refused, pointing at the Hessian-vector product.
#[test]
fn structured_matrices_refuse_kronecker_forms() {
    for structure in ["X: symmetric", "X: spd", "X: diagonal"] {
        check(
            &["hessian", "tr(X*A*X)", "--wrt", "X", "--let", structure],
            2,
            &["not written in Kronecker form", "--hvp V"],
        );
        check(
            &[
                "check",
                "logdet(X)",
                "--wrt",
                "X",
                "--hessian",
                "--let",
                structure,
            ],
            2,
            &["not written in Kronecker form"],
        );
    }
    check(
        &["jacobian", "X*X", "--wrt", "X", "--let", "X: symmetric"],
        2,
        &["symmetric matrix X", "--upstream"],
    );
}

/// A Kronecker form printed for a matrix variable is an expression of the language: `matdiff
/// eval` of the printed form gives the value `--at` reports (the Hessian's from the derived HVP,
/// the Jacobian's from the form made dense).
#[test]
fn kronecker_forms_evaluate_with_matdiff_eval() {
    let at = values(
        "kronecker.json",
        r#"{"X": [[2, 0.5, 0.1], [0.3, 1.5, -0.2], [0.1, 0.4, 3]], "A": [[1, 2, 0], [0, 1, 3], [4, 0, 1]], "Y": [[1, -2, 0.5], [0, 3, 1], [2, 1, -1]]}"#,
    );
    let cases = [
        ("hessian", "logdet(X)"),
        ("hessian", "tr(X'*A*X)"),
        ("hessian", "det(X)"),
        ("jacobian", "inv(X)"),
        ("jacobian", "X*X"),
        ("jacobian", "X .* Y"),
        ("jacobian", "X'"),
        // Zero forms: a zero of the vec layout's shape, not a bare 0.
        ("hessian", "tr(A'*X)"),
        ("jacobian", "A*Y"),
    ];
    for (kind, expr) in cases {
        let json = |args: &[&str]| {
            let (code, stdout, stderr) = matdiff(args);
            assert_eq!(code, 0, "{args:?}: {stderr}");
            serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
        };
        let printed = json(&[kind, expr, "--wrt", "X", "--format", "json"]);
        let form = printed[kind].as_str().expect("the form").to_string();
        let valued = json(&[kind, expr, "--wrt", "X", "--at", &at, "--format", "json"]);
        let want = &valued[format!("{kind}_value")];
        let (code, stdout, stderr) = matdiff(&["eval", &form, "--at", &at, "--format", "json"]);
        assert_eq!(code, 0, "eval {form}: {stderr}");
        let got: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let (got, want) = (got["value"].as_array().unwrap(), want.as_array().unwrap());
        assert_eq!(got.len(), want.len(), "{form}");
        for (g, w) in got.iter().zip(want) {
            for (a, b) in g.as_array().unwrap().iter().zip(w.as_array().unwrap()) {
                let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                assert!(
                    (a - b).abs() <= 1e-10 * (1.0 + b.abs()),
                    "{form}: {a} vs {b}"
                );
            }
        }
    }
}

/// A result whose text would need a size that no variable names is refused, in every format
/// and by `check`, as `grad` refuses such a gradient; named sizes print.
#[test]
fn results_that_cannot_name_a_size_are_refused() {
    let unnamed = "has a size that no variable of the expression names";
    for (args, what) in [
        (
            &["hessian", "alpha^2*sum(ones)", "--wrt", "alpha"][..],
            "Hessian",
        ),
        (
            &[
                "hessian",
                "alpha^2*sum(ones)",
                "--wrt",
                "alpha",
                "--hvp",
                "V",
            ],
            "Hessian-vector product",
        ),
        (&["jacobian", "alpha*ones", "--wrt", "alpha"], "Jacobian"),
        (
            &[
                "hessian",
                "alpha^2*tr(I)",
                "--wrt",
                "alpha",
                "--format",
                "latex",
            ],
            "Hessian",
        ),
    ] {
        check(
            args,
            2,
            &[unnamed, &format!("the {what} with respect to alpha")],
        );
    }
    let (code, stdout, _) = matdiff(&[
        "jacobian",
        "alpha*ones",
        "--wrt",
        "alpha",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains(unnamed), "{v}");
    // Sizes a variable names: printed as before.
    check(&["jacobian", "alpha*x", "--wrt", "alpha"], 0, &["x\n"]);
    check(
        &["hessian", "alpha^2*sum(ones(3))", "--wrt", "alpha"],
        0,
        &["6\n"],
    );
}
