//! `matdiff grad`, `matdiff check` and `matdiff solve` as a user runs them.

/// Runs matdiff; returns (exit code, stdout, stderr).
fn matdiff(args: &[&str]) -> (i32, String, String) {
    matdiff_testkit::cli::run(env!("CARGO_BIN_EXE_matdiff"), args, "")
}

/// One case: arguments, expected exit code, and text the output (stdout, or stderr on failure)
/// must contain.
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

#[test]
fn grad_prints_the_gradient() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["grad", "a'*X*b", "--wrt", "X"], &["a*b'\n"]),
        (
            &["grad", "tr(A*X*B)", "--wrt", "X", "--format", "unicode"],
            &["(B·A)ᵀ"],
        ),
        (
            &[
                "grad",
                "norm2(X*w - y)^2",
                "--wrt",
                "w",
                "--format",
                "latex",
            ],
            &["2 X^T \\left(X w - y\\right)"],
        ),
        // An expression that begins with '-' is the expression, not an option.
        (&["grad", "-tr(X'*A)", "--wrt", "X"], &["-A\n"]),
        (
            &[
                "grad",
                "tr(Y'*M*Y) where Y = sigmoid(W*X)",
                "--wrt",
                "X",
                "--let",
                "M: symmetric",
            ],
            &["2*W'*((M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)"],
        ),
        (
            &["grad", "g(W*a + b)", "--wrt", "W", "--upstream", "G"],
            &["(G .* g'(W*a + b))*a'"],
        ),
        (
            &["grad", "log(det(X))", "--wrt", "X", "--let", "X: symmetric"],
            &["inv(X)", "note: X is declared symmetric"],
        ),
    ];
    for (args, contains) in cases {
        check(args, 0, contains);
    }
}

#[test]
fn grad_steps_read_like_the_seed() {
    check(
        &["grad", "a'*exp(X*b)", "--wrt", "X", "--steps"],
        0,
        &[
            "df = a'*(exp(X*b) .* (dX*b))",
            "= tr(a'*(exp(X*b) .* (dX*b)))",
            "T1 scalar as trace",
            "= tr((a .* exp(X*b))'*dX*b)",
            "T5 Hadamard swap",
            "= tr(b*(a .* exp(X*b))'*dX)",
            "T4 cyclic property",
            "∂f/∂X = (a .* exp(X*b))*b'",
            "C core relationship",
        ],
    );
    check(
        &["grad", "a'*X*b", "--wrt", "X", "--format", "markdown"],
        0,
        &["\\begin{aligned}", "\\mathrm{d}f"],
    );
}

#[test]
fn grad_json_with_values() {
    let dir = std::env::temp_dir().join(format!("matdiff-grad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let at = dir.join("values.json");
    std::fs::write(&at, r#"{"a": [1, 2], "X": [[1, 2], [3, 4]], "b": [1, -1]}"#).unwrap();
    let (code, stdout, stderr) = matdiff(&[
        "grad",
        "a'*X*b",
        "--wrt",
        "X",
        "--at",
        at.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["gradient"], "a*b'");
    assert_eq!(v["latex"], "a b^T");
    // f = a'*X*b = [1 2] * [[1 2] [3 4]] * [1 -1]' = [1 2] * [-1 -1]' = -3; the gradient a*b'.
    assert_eq!(v["value"], -3.0);
    assert_eq!(
        v["gradient_value"],
        serde_json::json!([[1.0, -1.0], [2.0, -2.0]])
    );
    let steps = v["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "T4" && r["name"] == "cyclic property")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grad_errors_are_clear() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["grad", "X*b", "--wrt", "X"],
            "not a scalar: give --upstream G",
        ),
        (&["grad", "tr(X)", "--wrt", "tr"], "'tr' is not a variable"),
        (
            &["grad", "tr(Y) where Y = X*X", "--wrt", "Y"],
            "it is a 'where' binding",
        ),
        (&["grad", "g(x)", "--wrt", "g"], "it is a function"),
        (&["grad", "tr(X", "--wrt", "X"], "expected ')'"),
        (&["grad", "a'*X*b", "--wrt", "X", "--format", "json"], ""),
    ];
    for (args, message) in &cases[..cases.len() - 1] {
        check(args, 2, &[message]);
    }
    let (code, stdout, _) = matdiff(&["grad", "X*b", "--wrt", "X", "--format", "json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("not a scalar"));
}

#[test]
fn check_compares_with_the_complex_step() {
    check(
        &[
            "check",
            "tr(Y'*M*Y) where Y = sigmoid(W*X)",
            "--wrt",
            "X",
            "--seed",
            "3",
        ],
        0,
        &["ok: the derived gradient agrees"],
    );
    check(
        &["check", "logdet(X) + sum(log(A*b))", "--wrt", "A"],
        0,
        &["derived vs complex step"],
    );
    check(
        &["check", "x'*A*x", "--wrt", "A", "--let", "A: symmetric"],
        0,
        &["ok"],
    );
    let (code, stdout, _) = matdiff(&["check", "sum(exp(X))", "--wrt", "X", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert!(v["max_relative_error_complex_step"].as_f64().unwrap() < 1e-12);
    // Random values suit the expression: X taller than wide where X'*X must be invertible; a
    // gradient that is zero (a constant function) is judged against the function's scale.
    check(
        &["check", "logdet(X'*X)", "--wrt", "X"],
        0,
        &["at random values (seed 0, draw 2: sizes or values redrawn"],
    );
    for expr in ["logdet(X'*X)", "det(X'*A*X)", "tr(X*inv(X'*X)*X')"] {
        for seed in ["0", "1", "2"] {
            check(
                &["check", expr, "--wrt", "X", "--seed", seed],
                0,
                &["ok: the derived gradient agrees"],
            );
        }
    }
    // A function outside its domain, or one that overflows at every draw, has no reference
    // gradient: a clear error, not a mismatch.
    check(
        &["check", "sum(sqrt(-exp(X)))", "--wrt", "X"],
        2,
        &["square root of a negative entry"],
    );
    check(
        &["check", "sum(exp(exp(exp(X + 10))))", "--wrt", "X"],
        2,
        &[
            "the function is not finite at random values (seed 0)",
            "overflows",
            "--at",
        ],
    );
    // An abstract function has no numeric definition: a clear error.
    check(
        &["check", "sum(g(X))", "--wrt", "X"],
        2,
        &["'g' has no numeric definition"],
    );
}

/// Issue 17: where central differences cannot follow (a saturated tanh at values given with
/// --at) the complex step decides; a function that is zero to rounding has a zero gradient.
#[test]
fn check_trusts_the_complex_step_where_the_references_disagree() {
    let dir = std::env::temp_dir().join(format!("matdiff-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let at = dir.join("saturated.json");
    std::fs::write(&at, r#"{"alpha": 9}"#).unwrap();
    let at = at.to_str().unwrap();
    check(
        &["check", "tanh(alpha)", "--wrt", "alpha", "--at", at],
        0,
        &[
            "note: central differences disagree with the complex step",
            "ok: the derived gradient agrees",
        ],
    );
    let (code, stdout, _) = matdiff(&[
        "check",
        "tanh(alpha)",
        "--wrt",
        "alpha",
        "--at",
        at,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (v["ok"].clone(), v["references_agree"].clone()),
        (true.into(), false.into())
    );
    // sum(W*C') and sum(C*W') are equal: the function is zero to rounding, and so is its
    // gradient (it was reported as a mismatch of relative error 1).
    check(
        &["check", "sum(W*C' - C*W')", "--wrt", "W", "--let", "C: 3x2"],
        0,
        &["gradient: 0*", "ok: the derived gradient agrees"],
    );
}

/// Issue 17: printed gradients evaluate on their own; sizes nothing else fixes are written.
#[test]
fn printed_gradients_carry_the_sizes_nothing_else_fixes() {
    check(
        &["grad", "sum(alpha + A)", "--wrt", "alpha"],
        0,
        &["rows(A)", "cols(A)"],
    );
    check(&["grad", "tr(X)", "--wrt", "X"], 0, &["eye(rows(X))"]);
    check(
        &["grad", "sum(1 + y)^2", "--wrt", "y"],
        0,
        &["2*(rows(y) + sum(y))*ones(rows(y))"],
    );
    check(&["grad", "sum(tanh''(y))", "--wrt", "y"], 0, &["tanh"]);
    check(&["grad", "y'*((C + 1) ./ C)*b", "--wrt", "b"], 0, &["C"]);
    // The columns of unvec(y, 2), which no variable has, as a quotient.
    check(
        &["grad", "sum(unvec(y.^2, 2))", "--wrt", "y"],
        0,
        &["2*(y .* vec(ones(2)*ones(rows(y)/2)'))\n"],
    );
    // A size nothing names: refused, not printed as text that would not evaluate.
    for expr in ["alpha*sum(ones)", "alpha*tr(I)"] {
        check(
            &["grad", expr, "--wrt", "alpha"],
            2,
            &[
                "has a size that no variable of the expression names",
                "ones(3)",
            ],
        );
    }
    // Every subcommand and format that shows the gradient refuses it the same way.
    let unnamed = "the gradient with respect to alpha has a size that no variable";
    for format in ["text", "unicode", "latex", "markdown", "json"] {
        check(
            &[
                "grad",
                "alpha*sum(ones)",
                "--wrt",
                "alpha",
                "--format",
                format,
            ],
            2,
            &[unnamed],
        );
    }
    for args in [
        &["check", "alpha*sum(ones)", "--wrt", "alpha"][..],
        &["codegen", "alpha*sum(ones)", "--wrt", "alpha"],
        &["solve", "sum((w - alpha*sum(ones)).^2)", "--wrt", "w"],
    ] {
        let unnamed = unnamed.replace(" alpha ", &format!(" {} ", args[3]));
        check(args, 2, &[&unnamed]);
    }
    // The same commands with a size the text names succeed.
    check(
        &["check", "alpha*sum(ones(3))", "--wrt", "alpha"],
        0,
        &["agrees"],
    );
    check(
        &["solve", "sum((w - alpha*sum(ones(3))).^2)", "--wrt", "w"],
        0,
        &["solution: w = "],
    );
}

#[test]
fn solve_gives_the_normal_equation() {
    check(
        &["solve", "norm2(X*w - y)^2", "--wrt", "w", "--steps"],
        0,
        &[
            "∂f/∂w = 2*X'*(X*w - y)",
            "stationary equation: X'*X*w = X'*y",
            "solution: w = inv(X'*X)*X'*y",
        ],
    );
    check(
        &[
            "solve",
            "norm2(X*w - y)^2 + lambda*norm2(w)^2",
            "--wrt",
            "w",
        ],
        0,
        &["(X'*X + lambda*I)*w = X'*y"],
    );
    check(
        &[
            "solve",
            "(X*w - y)'*D*(X*w - y)",
            "--wrt",
            "w",
            "--let",
            "D: symmetric",
        ],
        0,
        &["X'*D*X*w = X'*D*y"],
    );
    check(
        &["solve", "norm2(W*X - Y)^2", "--wrt", "W"],
        0,
        &["W*X*X' = Y*X'", "W = Y*X'*inv(X*X')"],
    );
    check(
        &["solve", "sum(log(1 + exp(-y .* (X*w))))", "--wrt", "w"],
        2,
        &["not affine"],
    );
}

/// A 300-layer network written with `where` (beyond the library's default height of 512): the
/// derivation goes through one stage per layer and the gradient agrees with the complex step.
#[test]
fn deep_networks_derive_and_check() {
    let layers = 300;
    let defs: Vec<String> = (1..=layers)
        .map(|i| {
            let below = if i == 1 {
                "X".to_string()
            } else {
                format!("H{}", i - 1)
            };
            format!("H{i} = tanh(W{i}*{below})")
        })
        .collect();
    let expr = format!("sum(H{layers}) where {}", defs.join(", "));
    check(
        &["check", &expr, "--wrt", "W1"],
        0,
        &["ok: the derived gradient agrees"],
    );
    let (code, stdout, stderr) = matdiff(&["grad", &expr, "--wrt", "W150", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["gradient"].as_str().unwrap().contains("tanh'(W150*H149)"));
}
