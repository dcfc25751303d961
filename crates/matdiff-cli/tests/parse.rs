//! `matdiff parse`: canonical form, shapes and LaTeX in every format; bad input gives the
//! rendered error on stderr and exit code 2 (and `{"error": ...}` on stdout with json).

/// Runs `matdiff parse ARGS...`: (exit code, stdout, stderr).
fn parse(args: &[&str]) -> (i32, String, String) {
    let args = std::iter::once("parse").chain(args.iter().copied());
    matdiff_testkit::cli::run(env!("CARGO_BIN_EXE_matdiff"), args, "")
}

/// Checks a successful run against its whole output.
fn check(args: &[&str], expected: &str) {
    let (code, stdout, stderr) = parse(args);
    assert_eq!((code, stderr.as_str()), (0, ""), "matdiff parse {args:?}");
    assert_eq!(stdout, expected, "matdiff parse {args:?}");
}

/// Checks a failing run: exit code 2, nothing on stdout, the rendered error on stderr.
fn check_error(args: &[&str], expected_stderr: &str) {
    let (code, stdout, stderr) = parse(args);
    assert_eq!(code, 2, "matdiff parse {args:?}");
    assert_eq!(stdout, "", "matdiff parse {args:?}");
    assert_eq!(stderr, expected_stderr, "matdiff parse {args:?}");
}

#[test]
fn text() {
    check(
        &["a'*X*b"],
        "a'*X*b

shape: scalar
variables:
  X: m x n
  a: m x 1
  b: n x 1

latex: a^T X b
",
    );
    check(
        &["tr(Y'*M*Y) where Y = sigmoid(W*X)", "--let", "M: symmetric"],
        r"tr(Y'*M*Y) where Y = sigmoid(W*X)

shape: scalar
variables:
  M: m x m, symmetric
  W: m x n
  X: n x p

latex: \operatorname{tr}\left(Y^T M Y\right) \quad \text{where} \quad Y = \sigma\left(W X\right)
",
    );
    check(
        &["2*(3 + 4)"],
        "2*(3 + 4)

shape: scalar
variables: none

latex: 2 \\left(3 + 4\\right)
",
    );
}

#[test]
fn declarations_give_concrete_and_symbolic_sizes() {
    check(
        &["y - X*w", "--let", "X: 100x3", "--let", "y: vector"],
        "y - X*w

shape: 100x1
variables:
  X: 100x3
  w: 3x1
  y: 100x1

latex: y - X w
",
    );
    check(
        &["A*B + C", "--let", "A, B: n x n", "--let", "c: scalar"],
        "A*B + C

shape: n x n
variables:
  A: n x n
  B: n x n
  C: n x n

latex: A B + C
",
    );
}

#[test]
fn an_expression_may_begin_with_a_minus() {
    check(
        &["-2*X"],
        "-2*X

shape: m x n
variables:
  X: m x n

latex: -2 X
",
    );
    let (code, stdout, _) = parse(&["-x'*x"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("-x'*x\n"), "{stdout}");
    let (code, stdout, _) = parse(&["--", "-A"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("-A\n"), "{stdout}");
}

#[test]
fn formats() {
    check(
        &["(a .* exp(X*b))*b'", "--format", "unicode"],
        r"(a ⊙ exp(X·b))·bᵀ

shape: m x n
variables:
  X: m x n
  a: m x 1
  b: n x 1

latex: \left(a \odot \exp\left(X b\right)\right) b^T
",
    );
    check(
        &["inv(X'*X)*X'*y", "--format", "latex"],
        r"\left(X^T X\right)^{-1} X^T y

shape: n x 1
variables:
  X: m x n
  y: m x 1
",
    );
    check(
        &["norm2(X*w - y)^2", "--format", "markdown"],
        r"$$
\left\|X w - y\right\|_2^{2}
$$

- shape: scalar
- `X`: m x n
- `w`: n x 1
- `y`: m x 1
",
    );
    let (code, stdout, stderr) = parse(&["M*x", "--let", "M: 2x2 symmetric", "--format", "json"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "canonical": "M*x",
            "unicode": "M·x",
            "latex": "M x",
            "shape": "2x1",
            "variables": {
                "M": {"shape": "2x2", "symmetric": true},
                "x": {"shape": "2x1", "symmetric": false},
            },
        })
    );
}

#[test]
fn errors() {
    check_error(
        &["A*B", "--let", "A: 2x3", "--let", "B: 4x5"],
        "error: cannot multiply 2x3 by 4x5: inner dimensions 3 and 4 differ
  A*B
   ^
",
    );
    check_error(
        &["tr(A*X*B"],
        "error: '(' is never closed: expected ')' before the end of input
  tr(A*X*B
    ^
",
    );
    check_error(
        &["exp'"],
        "error: cannot transpose the function name 'exp': write exp(X)' to transpose its value
  exp'
  ^^^^
",
    );
    check_error(
        &[""],
        "error: expected an expression, found end of input (the input is empty)
  \n  ^
",
    );
    // An error in a declaration points into the declaration.
    check_error(
        &["X", "--let", "X: 3x"],
        "error: in --let: expected a size after 'x'
  X: 3x
      ^
",
    );
    check_error(
        &["tr(X)", "--let", "X: 3x4"],
        "error: 'tr' needs a square matrix, got a matrix of shape 3x4
  tr(X)
  ^^
",
    );
    // Hostile input: a clear error, no crash (one argument holds at most 128 kB).
    let deep = format!("{}x{}", "(".repeat(50_000), ")".repeat(50_000));
    let (code, stdout, stderr) = parse(&[&deep]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.starts_with("error: the expression nests deeper than 2048 levels\n"),
        "{stderr}"
    );
}

#[test]
fn json_errors_are_also_on_stdout() {
    let (code, stdout, stderr) = parse(&["A % B", "--format", "json"]);
    assert_eq!(code, 2);
    assert_eq!(stderr, "error: unknown operator '%'\n  A % B\n    ^\n");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["error"], "error: unknown operator '%'\n  A % B\n    ^");
}

#[test]
fn usage_errors() {
    // No expression: clap's usage error, not a panic.
    let (code, _, stderr) = parse(&[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("Usage"), "{stderr}");
    let (code, _, stderr) = parse(&["X", "--format", "yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value 'yaml'"), "{stderr}");
}
