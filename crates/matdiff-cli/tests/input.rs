//! Where EXPR comes from (`-` for standard input, `@path` for a file), names the language does
//! not know, and variables that do not occur.

use std::path::PathBuf;

/// Runs matdiff with `stdin` on its standard input; returns (exit code, stdout, stderr).
fn matdiff(args: &[&str], stdin: &str) -> (i32, String, String) {
    matdiff_testkit::cli::run(env!("CARGO_BIN_EXE_matdiff"), args, stdin)
}

fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matdiff-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// One case: arguments, standard input, the exit code, and text stdout (then stderr) contains.
fn check(args: &[&str], stdin: &str, code: i32, contains: &[&str]) {
    let (got, stdout, stderr) = matdiff(args, stdin);
    let text = format!("{stdout}{stderr}");
    assert_eq!(got, code, "matdiff {args:?}\n{text}");
    for c in contains {
        assert!(
            text.contains(c),
            "matdiff {args:?}: output lacks {c:?}:\n{text}"
        );
    }
}

/// A network as a file would hold it: bindings over lines, comments.
const NETWORK: &str = "# two layers, as in the seed's section 1.2
norm2(a2 - y)^2   # the loss
where
  a2 = g(W2*a1 + b2),   # the output layer
  a1 = g(W1*x + b1)     # the hidden layer
";

#[test]
fn every_subcommand_reads_expr_from_stdin_and_files() {
    let net = file("network.txt", NETWORK);
    let at = format!("@{}", net.display());
    let values = file("values.json", r#"{"A": [[1, 2], [3, 4]]}"#);
    let values = values.to_str().unwrap();
    let g = "2*(g'(W2*a1 + b2) .* (a2 - y)) where a2 = g(W2*a1 + b2), a1 = g(W1*x + b1)";
    check(&["grad", "-", "--wrt", "b2"], NETWORK, 0, &[g]);
    check(&["grad", &at, "--wrt", "b2"], "", 0, &[g]);
    check(&["parse", "-"], "tr(A) # the trace\n", 0, &["tr(A)"]);
    check(
        &["eval", "-", "--at", values],
        "tr(A)  # 1 + 4\n",
        0,
        &["5"],
    );
    check(&["check", "-", "--wrt", "X"], "tr(A*X)\n", 0, &[]);
    check(
        &["solve", "-", "--wrt", "w"],
        "norm2(X*w - y)^2\n",
        0,
        &["X'*X*w = X'*y"],
    );
}

#[test]
fn bad_sources_are_clear_errors() {
    check(
        &["parse", "@/no/such/file"],
        "",
        2,
        &["cannot read the expression from '/no/such/file'"],
    );
    check(&["parse", "-"], "", 2, &["the input is empty"]);
    // The comment takes the rest of its line, the comma with it.
    check(
        &["parse", "-"],
        "f where\n  a = x # first,\n  b = y\n",
        2,
        &["expected ',' or end of input, found 'b'", "  b = y"],
    );
    let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    check(
        &["parse", "-"],
        &deep,
        2,
        &["the expression nests deeper than 2048 levels"],
    );
}

#[test]
fn long_input_from_stdin() {
    let terms = 300_000;
    let sum: Vec<String> = (0..terms).map(|k| format!("a{k}'*x")).collect();
    let (code, stdout, stderr) = matdiff(&["parse", "-", "--format", "json"], &sum.join(" + "));
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["variables"].as_object().unwrap().len(), terms + 1);
    let mut net = String::from("sum(h2000) where h1 = tanh(W1*x),\n");
    for k in 2..=2000 {
        let comma = if k < 2000 { "," } else { "" };
        net.push_str(&format!(
            "  h{k} = tanh(W{k}*h{}){comma}  # layer {k}\n",
            k - 1
        ));
    }
    check(&["parse", "-"], &net, 0, &["h2000 = tanh(W2000*h1999)"]);
}

#[test]
fn unknown_names_are_errors_with_suggestions() {
    check(
        &["grad", "softmx(x)'*y", "--wrt", "x"],
        "",
        2,
        &[
            "unknown function 'softmx': did you mean softmax?",
            "--let 'softmx: function'",
            "^^^^^^",
        ],
    );
    // The real softmax: not element-wise (the answer the issue expects, numerically checked).
    check(
        &["grad", "softmax(x)'*y", "--wrt", "x"],
        "",
        0,
        &["y .* softmax(x) - ((y .* softmax(x))'*ones)*softmax(x)\n"],
    );
    check(
        &["check", "softmax(x)'*y", "--wrt", "x"],
        "",
        0,
        &["ok: the derived gradient agrees"],
    );
    check(
        &["grad", "logsumexp(W*x) - y'*W*x", "--wrt", "W"],
        "",
        0,
        &["(softmax(W*x) - y)*x'\n"],
    );
    check(
        &["grad", "sum(Y .* log(softmax(X)))", "--wrt", "X"],
        "",
        0,
        &["Y - (ones*ones'*Y) .* softmax(X)\n"],
    );
    check(
        &["grad", "sum(kron(A))", "--wrt", "A"],
        "",
        2,
        &["'kron' takes two arguments: kron(A, B)"],
    );
    check(
        &[
            "grad",
            "tr(kron(A, B))",
            "--wrt",
            "A",
            "--let",
            "A: n x n",
            "--let",
            "B: p x p",
        ],
        "",
        0,
        &["tr(B)*eye(rows(A))\n"],
    );
    check(
        &["grad", "tr(X, Y)", "--wrt", "X"],
        "",
        2,
        &["'tr' takes one argument: tr(X)"],
    );
    check(
        &["grad", "X(1,2)", "--wrt", "X"],
        "",
        2,
        &["matdiff has no indexing"],
    );
    check(
        &["grad", "tr(X)", "--wrt", "X", "--let", "X: lowr"],
        "",
        2,
        &[
            "unknown word 'lowr' in a declaration (did you mean lower?)",
            "diagonal, lower, upper, spd, integer, function",
        ],
    );
    check(
        &["grad", "tr(X)", "--wrt", "X", "--let", "X: diagnal"],
        "",
        2,
        &["unknown word 'diagnal'", "integer, function"],
    );
    // Declared, any name is an abstract element-wise function.
    check(
        &[
            "grad",
            "sum(act(W*x))",
            "--wrt",
            "x",
            "--let",
            "act: function",
        ],
        "",
        0,
        &["W'*act'(W*x)"],
    );
}

#[test]
fn a_variable_that_does_not_occur_has_a_zero_gradient() {
    let note = "note: 'y' does not occur in the expression: its gradient is zero";
    check(
        &["grad", "x'*A*x", "--wrt", "y"],
        "",
        0,
        &["0*ones(rows(y))\n", note],
    );
    check(
        &["grad", "x'*A*x", "--wrt", "Y"],
        "",
        0,
        &["0*ones(rows(Y))*ones(cols(Y))'\n"],
    );
    check(&["grad", "x'*A*x", "--wrt", "beta"], "", 0, &["0\n"]);
    check(
        &["grad", "x'*A*x", "--wrt", "y", "--steps"],
        "",
        0,
        &["df = 0", "D9", "∂f/∂y = 0*ones"],
    );
    check(
        &["check", "x'*A*x", "--wrt", "y"],
        "",
        0,
        &[note, "nothing to check"],
    );
    check(
        &["solve", "x'*A*x", "--wrt", "y"],
        "",
        2,
        &["nothing to solve"],
    );
    let (code, stdout, _) = matdiff(&["grad", "x'*A*x", "--wrt", "y", "--format", "json"], "");
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["gradient"], "0*ones(rows(y))");
    assert!(v["note"].as_str().unwrap().contains("does not occur"));
}

#[test]
fn new_functions_differentiate_and_refuse_values_outside_their_domains() {
    check(
        &["grad", "sum(arcsin(W*x))", "--wrt", "x"],
        "",
        0,
        &["W'*(1 ./ sqrt(1 - (W*x).^2))"],
    );
    for f in [
        "sign", "arcsin", "arccos", "arctan", "sinh", "cosh", "log1p", "expm1",
    ] {
        // The random values of `check` respect the domains (small under arcsin, arccos, log1p).
        let e = format!("sum({f}(W*x))");
        check(
            &["check", &e, "--wrt", "W"],
            "",
            0,
            &["ok: the derived gradient agrees"],
        );
    }
    let values = file("outside.json", r#"{"x": [0.5, 2]}"#);
    let values = values.to_str().unwrap();
    check(
        &["eval", "sum(arcsin(x))", "--at", values],
        "",
        2,
        &["arcsin of an entry outside [-1, 1] (2) in arcsin(x)"],
    );
    check(
        &["eval", "sum(log1p(-x))", "--at", values],
        "",
        2,
        &["log1p of an entry not above -1 (-2) in log1p(-x)"],
    );
}

#[test]
fn logabsdet_at_a_negative_determinant() {
    // det X = -1: log|det X| = 0, gradient inv(X)' = X for this permutation.
    let values = file("negative.json", r#"{"X": [[0, 1], [1, 0]]}"#);
    let values = values.to_str().unwrap();
    check(
        &["grad", "logabsdet(X)", "--wrt", "X", "--at", values],
        "",
        0,
        &[
            "inv(X)'\n",
            "value: 0",
            "gradient value: [[0.0,1.0],[1.0,0.0]]",
        ],
    );
    check(
        &["check", "logabsdet(X)", "--wrt", "X", "--at", values],
        "",
        0,
        &["ok: the derived gradient agrees"],
    );
    check(
        &["check", "logdet(X)", "--wrt", "X", "--at", values],
        "",
        2,
        &["determinant"],
    );
    let singular = file("singular.json", r#"{"X": [[1, 1], [1, 1]]}"#);
    check(
        &["eval", "logabsdet(X)", "--at", singular.to_str().unwrap()],
        "",
        2,
        &["singular matrix in logabsdet(X)"],
    );
}

#[test]
fn max_and_min_share_the_gradient_evenly_at_ties() {
    let values = file("ties.json", r#"{"x": [1, 3, 3, 2]}"#);
    let values = values.to_str().unwrap();
    check(
        &["grad", "max(x)", "--wrt", "x", "--at", values],
        "",
        0,
        &["value: 3", "gradient value: [0.0,0.5,0.5,0.0]"],
    );
    check(
        &["grad", "min(x)", "--wrt", "x", "--at", values],
        "",
        0,
        &["value: 1", "gradient value: [1.0,0.0,0.0,0.0]"],
    );
    check(
        &["check", "max(A*x)^2", "--wrt", "x"],
        "",
        0,
        &["ok: the derived gradient agrees"],
    );
}

#[test]
fn structured_variables_have_gradients_in_their_structure() {
    check(
        &["grad", "tr(A*X)", "--wrt", "X", "--let", "X: diagonal"],
        "",
        0,
        &[
            "(A .* I)'\n",
            "note: X is declared diagonal: this is the diagonal part I .* G",
        ],
    );
    check(
        &[
            "check",
            "a'*D*D*b + sum(exp(D))",
            "--wrt",
            "D",
            "--let",
            "D: diagonal",
        ],
        "",
        0,
        &["ok: the derived gradient agrees"],
    );
    check(
        &[
            "grad",
            "logdet(S) + y'*inv(S)*y",
            "--wrt",
            "S",
            "--let",
            "S: spd",
        ],
        "",
        0,
        &["note: S is declared spd (symmetric positive definite): this is the symmetric gradient"],
    );
    check(
        &["check", "tr(inv(S)*A)", "--wrt", "S", "--let", "S: spd"],
        "",
        0,
        &["ok: the derived gradient agrees"],
    );
    check(
        &["grad", "a'*L*b", "--wrt", "L", "--let", "L: lower"],
        "",
        0,
        &[
            "tril(a*b')\n",
            "note: L is declared lower triangular: this is the lower triangle tril(G) of the gradient",
        ],
    );
    check(
        &["grad", "tr(inv(U))", "--wrt", "U", "--let", "U: upper"],
        "",
        0,
        &[
            "-triu(inv(U)'^2)\n",
            "note: U is declared upper triangular: this is the upper triangle triu(G) of the gradient",
        ],
    );
    check(
        &[
            "check",
            "x'*L*L'*x - 2*logdet(L) + sum(exp(L))",
            "--wrt",
            "L",
            "--let",
            "L: lower",
        ],
        "",
        0,
        &["ok: the derived gradient agrees"],
    );
    check(
        &[
            "check",
            "norm2(U*x - y)^2 + tr(inv(U))",
            "--wrt",
            "U",
            "--let",
            "U: upper",
        ],
        "",
        0,
        &["ok: the derived gradient agrees"],
    );
    check(
        &["grad", "tr(X)", "--wrt", "X", "--let", "X: 2x3 lower"],
        "",
        2,
        &["'X' is declared lower but has shape 2x3"],
    );
    check(
        &[
            "parse",
            "tr(D*S)",
            "--let",
            "D: diagonal",
            "--let",
            "S: spd",
        ],
        "",
        0,
        &["D: m x m, diagonal", "S: m x m, spd"],
    );
}

#[test]
fn powers_by_an_integer_symbol() {
    let k = "k: integer";
    check(
        &["grad", "tr(X^k)", "--wrt", "X", "--let", k],
        "",
        0,
        &["k*X'^(k - 1)\n"],
    );
    check(
        &[
            "check",
            "tr((A*X)^k) + tr(X^(-k))",
            "--wrt",
            "X",
            "--let",
            k,
        ],
        "",
        0,
        &["ok: the derived gradient agrees"],
    );
    check(
        &["grad", "sum(X^k)", "--wrt", "X", "--let", k],
        "",
        2,
        &["no closed form; only tr(X^k) is differentiated"],
    );
    check(
        &["grad", "tr(X^k)", "--wrt", "k", "--let", k],
        "",
        2,
        &["an integer exponent has no derivative"],
    );
    let values = file("power.json", r#"{"X": [[1, 2], [3, 4]], "k": 2.5}"#);
    check(
        &[
            "eval",
            "tr(X^k)",
            "--let",
            k,
            "--at",
            values.to_str().unwrap(),
        ],
        "",
        2,
        &["a matrix power whose exponent is not an integer (2.5) in X^k"],
    );
}

#[test]
fn maximum_and_minimum_are_exact_and_split_ties() {
    let values = file(
        "extreme.json",
        r#"{"X": [[1, 5], [3, -2]], "Y": [[2, 5], [-1e17, 0]]}"#,
    );
    let values = values.to_str().unwrap();
    check(
        &["eval", "maximum(X, Y)", "--at", values],
        "",
        0,
        &["2  5\n3  0\n"],
    );
    check(
        &["grad", "sum(maximum(X, Y))", "--wrt", "X", "--at", values],
        "",
        0,
        &["gradient value: [[0.0,0.5],[1.0,0.0]]"],
    );
    check(
        &[
            "check",
            "sum(maximum(A*X, Y).^2) + sum(minimum(X, 0.1))",
            "--wrt",
            "X",
        ],
        "",
        0,
        &["ok: the derived gradient agrees"],
    );
}
