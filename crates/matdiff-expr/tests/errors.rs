//! Bad input, case by case: each gives the intended error, rendered with a caret under the
//! place (one combined insta snapshot of every rendering). Hostile inputs (deep nesting, long
//! chains, a megabyte of text) fail with a clear error within the stack of a 2 MiB thread.

use matdiff_expr::{Decl, ExprPool, ParseError};

/// One bad input: a label for the snapshot, the source, declarations, and a part of the
/// message that says the intended error.
struct Case {
    label: String,
    src: String,
    decls: Vec<&'static str>,
    expected: &'static str,
}

fn case(src: &str, decls: &[&'static str], expected: &'static str) -> Case {
    let label = if decls.is_empty() {
        format!("{src:?}")
    } else {
        format!("{src:?} with {decls:?}")
    };
    Case {
        label,
        src: src.to_string(),
        decls: decls.to_vec(),
        expected,
    }
}

fn big(label: &str, src: String, expected: &'static str) -> Case {
    Case {
        label: label.to_string(),
        src,
        decls: Vec::new(),
        expected,
    }
}

/// The error of a case, rendered against the text it points into.
fn render(c: &Case) -> String {
    let mut decls = Vec::new();
    for text in &c.decls {
        match Decl::parse(text) {
            Ok(d) => decls.push(d),
            Err(e) => return check(c, &e, text),
        }
    }
    let mut pool = ExprPool::new();
    match pool.parse_with(&c.src, &decls) {
        Ok(e) => panic!(
            "{} parses, to {}",
            c.label,
            pool.printer(matdiff_expr::Style::Plain).print(e.root)
        ),
        Err(e) => match e.decl {
            Some(k) => check(c, &e, c.decls[k]),
            None => check(c, &e, &c.src),
        },
    }
}

fn check(c: &Case, e: &ParseError, text: &str) -> String {
    assert!(
        e.message.contains(c.expected),
        "{}: expected an error with {:?}, got {:?}",
        c.label,
        c.expected,
        e.message
    );
    assert!(
        e.span.start <= e.span.end && e.span.end <= text.len() + 1,
        "{}: span {:?} outside the text",
        c.label,
        e.span
    );
    e.render(text)
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        // Parentheses, both ways.
        case("(A", &[], "'(' is never closed"),
        case("((A + B)", &[], "'(' is never closed"),
        case("tr(A*X*B", &[], "'(' is never closed"),
        case("A)", &[], "unmatched ')'"),
        case("A + B))", &[], "unmatched ')'"),
        case(")(", &[], "unmatched ')'"),
        case("(A + )", &[], "expected an expression, found ')'"),
        case(
            "(A B)",
            &[],
            "expected ')' to close the '(' at byte 0, found 'B'",
        ),
        case("()", &[], "expected an expression inside '()'"),
        // Operators and tokens.
        case("A % B", &[], "unknown operator '%'"),
        case("A ** B", &[], "unknown operator '**'"),
        case("A .+ B", &[], "unknown operator '.'"),
        case("A @ B", &[], "unknown operator '@'"),
        case("A \u{7} B", &[], "unexpected character U+0007"),
        case("A B", &[], "write '*' for a product"),
        case("2 X", &[], "write '*' for a product"),
        case("A +", &[], "expected an expression, found end of input"),
        case(
            "A = B",
            &[],
            "expected an operator or end of input, found '='",
        ),
        case("1e999", &[], "number '1e999' is too large"),
        case("", &[], "the input is empty"),
        case("   ", &[], "the input is empty"),
        // Functions.
        case("exp'", &[], "cannot transpose the function name 'exp'"),
        case("exp' * X", &[], "cannot transpose the function name 'exp'"),
        case(
            "sigmoid",
            &[],
            "'sigmoid' is a function and needs an argument",
        ),
        case("norm(x)", &[], "'norm' is ambiguous: write norm2"),
        case("trace", &[], "'trace' is a function and needs an argument"),
        case("tr(X, Y)", &[], "'tr' takes one argument: tr(X), trace of a square matrix"),
        case("softmx(x)'*y", &[], "unknown function 'softmx': did you mean softmax?"),
        case("sigmod(W*x)", &[], "unknown function 'sigmod': did you mean sigmoid"),
        case("foo(x)", &[], "unknown function 'foo' (an abstract element-wise function is one letter"),
        case("act(x, y)", &[], "unknown function 'act'"),
        // logsumexp of a matrix is a row, one per column.
        case("tr(logsumexp(A*B))", &[], "'tr' needs a square matrix, got a matrix of shape 1 x m"),
        case("logsumexp(X) + X", &[], "cannot add 1 x m and n x m"),
        case("softmax'(x)", &[], "'softmax' is not an element-wise function"),
        case("kron(A)", &[], "'kron' takes two arguments: kron(A, B), the Kronecker product"),
        case("maximum(X)", &[], "'maximum' takes two arguments: maximum(X, Y), element-wise"),
        case("minimum(X, Y, Z)", &[], "'minimum' takes two arguments: minimum(X, Y), element-wise"),
        case("maximum(X, y)", &["X: 3x4"], "cannot take the maximum of 3x4 and"),
        case("maximum + X", &[], "'maximum' is a function and needs arguments: maximum(X, Y)"),
        case("X(1, 2)", &[], "'X' is an abstract element-wise function and takes one argument; matdiff has no indexing"),
        case("g(x, y)", &[], "'g' is an abstract element-wise function and takes one argument"),
        case("tr()", &[], "'tr' needs an argument"),
        case("exp'''(X)", &[], "derivatives of order above 2"),
        case("tr'(X)", &[], "'tr' is not an element-wise function"),
        case(
            "eye(x)",
            &[],
            "a size is a whole number, rows(E) or cols(E)",
        ),
        case(
            "ones(0)",
            &[],
            "a size is a whole number, rows(E) or cols(E)",
        ),
        case(
            "ones(2.5)",
            &[],
            "a size is a whole number, rows(E) or cols(E)",
        ),
        case("rows", &[], "'rows' is a function and needs an argument"),
        case("where", &[], "expected an expression, found 'where'"),
        // Shapes.
        case(
            "A*B",
            &["A: 2x3", "B: 4x5"],
            "cannot multiply 2x3 by 4x5: inner dimensions 3 and 4 differ",
        ),
        case("a + b'", &[], "cannot add m x 1 and 1 x n"),
        case(
            "A .* B",
            &["A: 2x3", "B: 3x2"],
            "cannot multiply element-wise 2x3 and 3x2",
        ),
        case("x ./ y'", &[], "cannot divide m x 1 by 1 x n element-wise"),
        case(
            "tr(X)",
            &["X: 3x4"],
            "'tr' needs a square matrix, got a matrix of shape 3x4",
        ),
        case(
            "det(x)",
            &[],
            "'det' needs a square matrix, got a vector of shape m x 1",
        ),
        case(
            "logdet(A*B)",
            &["A: 2x3", "B: 3x4"],
            "'logdet' needs a square matrix",
        ),
        case("inv(x)", &[], "'inv' needs a square matrix, got m x 1"),
        case(
            "diag(X)",
            &["X: 2x3"],
            "'diag' needs a vector or a square matrix, got 2x3",
        ),
        case(
            "X^2",
            &["X: 2x3"],
            "a matrix power needs a square matrix, got 2x3",
        ),
        case("X^0.5", &[], "a matrix power needs an integer exponent"),
        case("X^alpha", &[], "a matrix power needs an integer exponent"),
        case("X^Y", &[], "the exponent must be a scalar, got m x n"),
        case("x .^ y", &[], "the exponent must be a scalar, got m x 1"),
        case("X/Y", &[], "cannot divide by a matrix of shape m x n"),
        case("X*X", &["X: 2x3"], "inner dimensions 3 and 2 differ"),
        // Names.
        case(
            "g(x) + g",
            &[],
            "'g' is used both as a function and as a variable",
        ),
        case(
            "g + g(x)",
            &[],
            "'g' is used both as a function and as a variable",
        ),
        case(
            "g(x)",
            &["g: scalar"],
            "'g' is used both as a function and as a variable",
        ),
        // Bindings.
        case("A where", &[], "expected a name to bind after 'where'"),
        case("A where B", &[], "expected '=' after 'B'"),
        case(
            "A where I = B",
            &[],
            "'I' is a reserved word and cannot be bound",
        ),
        case("a where a = x, a = y", &[], "'a' is bound twice"),
        case("A*B where A = B*A", &[], "the binding 'A' refers to itself"),
        case(
            "a where a = b, b = c, c = a",
            &[],
            "the bindings 'a', 'b', 'c' refer to each other in a cycle",
        ),
        case("Y + X where Y = X'", &["X: 2x3"], "cannot add 3x2 and 2x3"),
        // Declarations.
        case("X", &["X 3x4"], "expected 'NAME: SHAPE'"),
        case("X", &["X: 3x"], "expected a size after 'x'"),
        case("X", &["X: 0x3"], "a size must be at least 1"),
        case("X", &["X: 3x4 5"], "the declaration gives two shapes"),
        case("X", &["3X: 2x2"], "expected a name to declare, found '3X'"),
        case("X", &["X: 2 by 3"], "unknown word 'by' in a declaration"),
        case("X", &["X: 2x3 lower"], "'X' is declared lower but has shape 2x3"),
        case("X", &["X: uper"], "unknown word 'uper' in a declaration (did you mean upper?)"),
        case("X^alpha", &[], "a matrix power needs an integer exponent: a number, or a symbol declared --let 'k: integer'"),
        case("X^k", &["k: 3 integer"], "an integer is a scalar"),
        case("x", &["x: diagonal"], "'x' is declared diagonal but has shape m x 1"),
        case("X", &["X: 3x4 spd"], "'X' is declared spd but has shape 3x4"),
        case("X", &["X: diagnal"], "unknown word 'diagnal' in a declaration"),
        case("act(x)", &["act: 3x4 function"], "a function has no shape"),
        case("act(x) + act", &["act: function"], "'act' is used both as a function and as a variable"),
        case("x", &["tr: function"], "'tr' is a reserved word and cannot be declared"),
        case("X", &["X:"], "expected a shape or an assumption after ':'"),
        case(
            "X",
            &["X: 3x4", "X: 4x3"],
            "'X' has shape 3x4 and is declared 4x3",
        ),
        case(
            "tr(X)",
            &["tr: scalar"],
            "'tr' is a reserved word and cannot be declared",
        ),
        case(
            "M",
            &["M: 2x3 symmetric"],
            "'M' is declared symmetric but has shape 2x3",
        ),
        case("x'*y", &["x: 3", "y: 4"], "inner dimensions 3 and 4 differ"),
    ];
    // Hostile sizes.
    let n = 100_000;
    cases.push(big(
        "100,000 nested parentheses",
        format!("{}x{}", "(".repeat(n), ")".repeat(n)),
        "the expression nests deeper than 256 levels",
    ));
    cases.push(big(
        "100,000 unclosed parentheses",
        "(".repeat(n),
        "the expression nests deeper than 256 levels",
    ));
    cases.push(big(
        "50,000 nested calls",
        format!("{}x{}", "exp(".repeat(n / 2), ")".repeat(n / 2)),
        "the expression nests deeper than 256 levels",
    ));
    cases.push(big(
        "x/2/2/... 100,000 times",
        format!("x{}", "/2".repeat(n)),
        "the expression nests deeper than 256 levels",
    ));
    cases.push(big(
        "x.^2.^2... 80,000 times",
        format!("x{}", ".^2".repeat(80_000)),
        "the expression nests deeper than 256 levels",
    ));
    cases.push(big(
        "100,000 minus signs",
        format!("{}x", "-".repeat(n)),
        "the expression nests deeper than 256 levels",
    ));
    cases.push(big(
        "100,000 transposes",
        format!("X{}", "'".repeat(n)),
        "the expression nests deeper than 256 levels",
    ));
    cases.push(big(
        "A*B.*C*D... alternating 100,000 times",
        format!("A{}", "*B.*C".repeat(n / 2)),
        "the expression nests deeper than 256 levels",
    ));
    cases.push(big(
        "a 1 MB input",
        format!("x{}", " + x".repeat(1 << 18)),
        "the input is 1048577 bytes long; the limit is 262144 bytes",
    ));
    cases.push(big(
        "a 200 kB input with an error at its end",
        format!("x{} + (x", " + x".repeat(50_000)),
        "'(' is never closed",
    ));
    cases
}

#[test]
fn bad_inputs() {
    // The test harness's threads have 2 MiB of stack; make it explicit.
    let rendered = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let cases = cases();
            assert!(cases.len() >= 30);
            let mut out = String::new();
            for c in &cases {
                out.push_str(&format!("### {}\n{}\n\n", c.label, render(c)));
            }
            out
        })
        .expect("a thread")
        .join()
        .expect("no case panics");
    insta::assert_snapshot!("bad_inputs", rendered);
}

#[test]
fn deep_but_within_the_limits() {
    // At the limits, parsing, printing every style and parsing the plain form again fit in the
    // stack of a 2 MiB thread.
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let n = 255;
            let sources = [
                format!("{}x{}", "(".repeat(n), ")".repeat(n)),
                format!("{}x{}", "exp(".repeat(n), ")".repeat(n)),
                format!("x{}", "/2".repeat(n)),
                format!("x{}", ".^2".repeat(n)),
                format!("{}x", "-".repeat(n)),
                format!("X{}", "'".repeat(n)),
                format!("A{}", "*B.*C".repeat(n / 2)),
            ];
            for src in &sources {
                let mut pool = ExprPool::new();
                let e = pool.parse(src).unwrap_or_else(|e| panic!("{}", e.message));
                for style in [
                    matdiff_expr::Style::Plain,
                    matdiff_expr::Style::Unicode,
                    matdiff_expr::Style::Latex,
                ] {
                    let _ = pool.printer(style).print(e.root);
                }
                let plain = pool.plain(e.root);
                let again = pool
                    .parse(&plain)
                    .unwrap_or_else(|e| panic!("{}", e.message));
                assert_eq!(again.root, e.root);
            }
        })
        .expect("a thread")
        .join()
        .expect("no overflow, no panic");
}
