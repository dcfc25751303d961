//! The expression language, case by case: each input parses, prints in the three styles, infers
//! its shapes and prints again to the same node.
//!
//! A case is `(input, declarations, expected)` where `expected` is
//! `plain | unicode | latex | shape | variables` and the variables are `name: shape` sorted by
//! name. The expectations are written from the language definition (the README, `matdiff parse`).

use matdiff_expr::{Decl, ExprPool, Style};

/// Parses `input` with the declarations `decls` into a new pool and checks the result against
/// `expected`; then checks that the plain form parses again to the same node.
fn check(input: &str, decls: &[&str], expected: &str) {
    let decls: Vec<Decl> = decls
        .iter()
        .map(|d| Decl::parse(d).unwrap_or_else(|e| panic!("{}", e.render(d))))
        .collect();
    check_with(input, &decls, expected);
}

fn check_with(input: &str, decls: &[Decl], expected: &str) {
    let mut pool = ExprPool::new();
    let e = pool
        .parse_with(input, decls)
        .unwrap_or_else(|err| panic!("{input:?} does not parse:\n{}", err.render(input)));
    let print = |style| pool.printer(style).with_bindings(&e.bindings).print(e.root);
    let vars: Vec<String> = pool
        .vars()
        .into_iter()
        .map(|(s, info)| {
            let sym = if info.symmetric { " symmetric" } else { "" };
            format!("{}: {}{sym}", pool.name(s), pool.shape_str(info.shape))
        })
        .collect();
    let actual = format!(
        "{} | {} | {} | {} | {}",
        print(Style::Plain),
        print(Style::Unicode),
        print(Style::Latex),
        pool.shape_str(pool.shape(e.root)),
        vars.join(", ")
    );
    assert_eq!(actual, expected, "input {input:?}");
    let plain = print(Style::Plain);
    let again = pool
        .parse(&plain)
        .unwrap_or_else(|err| panic!("{plain:?} does not parse:\n{}", err.render(&plain)));
    assert_eq!(again.root, e.root, "{input:?} printed as {plain:?}");
}

#[test]
fn operators() {
    let cases: &[(&str, &str)] = &[
        (
            "A + B",
            r"A + B | A + B | A + B | m x n | A: m x n, B: m x n",
        ),
        (
            "A - B",
            r"A - B | A − B | A - B | m x n | A: m x n, B: m x n",
        ),
        (
            "A + B - C",
            r"A + B - C | A + B − C | A + B - C | m x n | A: m x n, B: m x n, C: m x n",
        ),
        (
            "A - (B - C)",
            r"A - (B - C) | A − (B − C) | A - \left(B - C\right) | m x n | A: m x n, B: m x n, C: m x n",
        ),
        (
            "(A + B) + C",
            r"A + B + C | A + B + C | A + B + C | m x n | A: m x n, B: m x n, C: m x n",
        ),
        ("-A", r"-A | −A | -A | m x n | A: m x n"),
        (
            "--A",
            r"-(-A) | −(−A) | -\left(-A\right) | m x n | A: m x n",
        ),
        (
            "A - -B",
            r"A - (-B) | A − (−B) | A - \left(-B\right) | m x n | A: m x n, B: m x n",
        ),
        ("-2*X", r"-2*X | −2·X | -2 X | m x n | X: m x n"),
        ("(-2)*X", r"(-2)*X | −2·X | -2 X | m x n | X: m x n"),
        ("A*B", r"A*B | A·B | A B | m x p | A: m x n, B: n x p"),
        (
            "A*B*C",
            r"A*B*C | A·B·C | A B C | m x q | A: m x n, B: n x p, C: p x q",
        ),
        (
            "(A*B)*C",
            r"A*B*C | A·B·C | A B C | m x q | A: m x n, B: n x p, C: p x q",
        ),
        ("-A*B", r"-A*B | −A·B | -A B | m x p | A: m x n, B: n x p"),
        (
            "(-A)*B",
            r"(-A)*B | (−A)·B | \left(-A\right) B | m x p | A: m x n, B: n x p",
        ),
        (
            "A*-B",
            r"A*(-B) | A·(−B) | A \left(-B\right) | m x p | A: m x n, B: n x p",
        ),
        (
            "(A + B)*C",
            r"(A + B)*C | (A + B)·C | \left(A + B\right) C | m x p | A: m x n, B: m x n, C: n x p",
        ),
        ("X/2", r"X/2 | X/2 | \frac{X}{2} | m x n | X: m x n"),
        (
            "x/(2*alpha)",
            r"x/(2*alpha) | x/(2·α) | \frac{x}{2 \alpha} | m x 1 | alpha: scalar, x: m x 1",
        ),
        (
            "x/2/3",
            r"x/2/3 | x/2/3 | \frac{\frac{x}{2}}{3} | m x 1 | x: m x 1",
        ),
        ("X^2", r"X^2 | X² | X^{2} | m x m | X: m x m"),
        ("X^-1", r"X^-1 | X⁻¹ | X^{-1} | m x m | X: m x m"),
        ("X^(-2)", r"X^-2 | X⁻² | X^{-2} | m x m | X: m x m"),
        (
            "(A*B)^3",
            r"(A*B)^3 | (A·B)³ | \left(A B\right)^{3} | m x m | A: m x n, B: n x m",
        ),
        (
            "alpha^beta",
            r"alpha^beta | α^β | \alpha^{\beta} | scalar | alpha: scalar, beta: scalar",
        ),
        ("2^-1", r"2^-1 | 2⁻¹ | 2^{-1} | scalar | "),
        ("-x'*x", r"-x'*x | −xᵀ·x | -x^T x | scalar | x: m x 1"),
        ("X^T", r"X' | Xᵀ | X^T | n x m | X: m x n"),
        ("X'", r"X' | Xᵀ | X^T | n x m | X: m x n"),
        ("X''", r"X'' | Xᵀᵀ | {X^T}^T | m x n | X: m x n"),
        ("X'^2", r"X'^2 | Xᵀ² | {X^T}^{2} | m x m | X: m x m"),
        (
            "(A*B)'",
            r"(A*B)' | (A·B)ᵀ | \left(A B\right)^T | p x m | A: m x n, B: n x p",
        ),
        ("-X'", r"-X' | −Xᵀ | -X^T | n x m | X: m x n"),
        (
            "A .* B",
            r"A .* B | A ⊙ B | A \odot B | m x n | A: m x n, B: m x n",
        ),
        (
            "A ⊙ B",
            r"A .* B | A ⊙ B | A \odot B | m x n | A: m x n, B: m x n",
        ),
        (
            "A .* B .* C",
            r"A .* B .* C | A ⊙ B ⊙ C | A \odot B \odot C | m x n | A: m x n, B: m x n, C: m x n",
        ),
        (
            "(A .* B)*C",
            r"(A .* B)*C | (A ⊙ B)·C | \left(A \odot B\right) C | m x p | A: m x n, B: m x n, C: n x p",
        ),
        (
            "A .* (B*C)",
            r"A .* (B*C) | A ⊙ (B·C) | A \odot \left(B C\right) | m x n | A: m x n, B: m x p, C: p x n",
        ),
        (
            "A ./ B",
            r"A ./ B | A ⊘ B | A \oslash B | m x n | A: m x n, B: m x n",
        ),
        ("X .^ 2", r"X.^2 | X^∘2 | X^{\circ 2} | m x n | X: m x n"),
        (
            "X .^ alpha",
            r"X.^alpha | X^∘α | X^{\circ \alpha} | m x n | X: m x n, alpha: scalar",
        ),
        (
            "Xᵀ·Y − Z",
            r"X'*Y - Z | Xᵀ·Y − Z | X^T Y - Z | n x p | X: m x n, Y: m x p, Z: n x p",
        ),
        (
            "0.5*X + 1e-3",
            r"0.5*X + 0.001 | 0.5·X + 0.001 | 0.5 X + 0.001 | m x n | X: m x n",
        ),
        (
            "2.5e-7*x",
            r"2.5e-7*x | 2.5e-7·x | 2.5 \cdot 10^{-7} x | m x 1 | x: m x 1",
        ),
    ];
    for (input, expected) in cases {
        check(input, &[], expected);
    }
}

#[test]
fn functions() {
    let cases: &[(&str, &str)] = &[
        (
            "exp(X)",
            r"exp(X) | exp(X) | \exp\left(X\right) | m x n | X: m x n",
        ),
        (
            "log(X)",
            r"log(X) | log(X) | \log\left(X\right) | m x n | X: m x n",
        ),
        (
            "sin(x)",
            r"sin(x) | sin(x) | \sin\left(x\right) | m x 1 | x: m x 1",
        ),
        (
            "cos(x)",
            r"cos(x) | cos(x) | \cos\left(x\right) | m x 1 | x: m x 1",
        ),
        (
            "tan(x)",
            r"tan(x) | tan(x) | \tan\left(x\right) | m x 1 | x: m x 1",
        ),
        (
            "tanh(W*x)",
            r"tanh(W*x) | tanh(W·x) | \tanh\left(W x\right) | m x 1 | W: m x n, x: n x 1",
        ),
        (
            "sigmoid(Z)",
            r"sigmoid(Z) | σ(Z) | \sigma\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "σ(Z)",
            r"sigmoid(Z) | σ(Z) | \sigma\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "relu(Z)",
            r"relu(Z) | relu(Z) | \operatorname{relu}\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "softplus(Z)",
            r"softplus(Z) | softplus(Z) | \operatorname{softplus}\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "sqrt(Z)",
            r"sqrt(Z) | sqrt(Z) | \operatorname{sqrt}\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "abs(Z)",
            r"abs(Z) | abs(Z) | \operatorname{abs}\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "exp(X)'",
            r"exp(X)' | exp(X)ᵀ | \exp\left(X\right)^T | n x m | X: m x n",
        ),
        (
            "tr(X)",
            r"tr(X) | tr(X) | \operatorname{tr}\left(X\right) | scalar | X: m x m",
        ),
        (
            "tr(A*B)",
            r"tr(A*B) | tr(A·B) | \operatorname{tr}\left(A B\right) | scalar | A: m x n, B: n x m",
        ),
        (
            "det(X)",
            r"det(X) | det(X) | \det\left(X\right) | scalar | X: m x m",
        ),
        // MATLAB's and NumPy's spellings.
        (
            "trace(A*B)",
            r"tr(A*B) | tr(A·B) | \operatorname{tr}\left(A B\right) | scalar | A: m x n, B: n x m",
        ),
        ("inverse(X)", r"inv(X) | X⁻¹ | X^{-1} | m x m | X: m x m"),
        (
            "logdet(X)",
            r"logdet(X) | log det(X) | \log\det\left(X\right) | scalar | X: m x m",
        ),
        (
            "sum(X)",
            r"sum(X) | sum(X) | \operatorname{sum}\left(X\right) | scalar | X: m x n",
        ),
        (
            "norm1(X)",
            r"norm1(X) | ‖X‖₁ | \left\|X\right\|_1 | scalar | X: m x n",
        ),
        (
            "norm2(x)",
            r"norm2(x) | ‖x‖₂ | \left\|x\right\|_2 | scalar | x: m x 1",
        ),
        (
            "norm2(X*w - y)^2",
            r"norm2(X*w - y)^2 | ‖X·w − y‖₂² | \left\|X w - y\right\|_2^{2} | scalar | X: m x n, w: n x 1, y: m x 1",
        ),
        ("inv(X)", r"inv(X) | X⁻¹ | X^{-1} | m x m | X: m x m"),
        (
            "inv(X'*X)*X'*y",
            r"inv(X'*X)*X'*y | (Xᵀ·X)⁻¹·Xᵀ·y | \left(X^T X\right)^{-1} X^T y | n x 1 | X: m x n, y: m x 1",
        ),
        (
            "inv(X')",
            r"inv(X') | (Xᵀ)⁻¹ | \left(X^T\right)^{-1} | m x m | X: m x m",
        ),
        (
            "diag(x)",
            r"diag(x) | diag(x) | \operatorname{diag}\left(x\right) | m x m | x: m x 1",
        ),
        (
            "diag(X)",
            r"diag(X) | diag(X) | \operatorname{diag}\left(X\right) | m x 1 | X: m x m",
        ),
        (
            "diag(diag(X))",
            r"diag(diag(X)) | diag(diag(X)) | \operatorname{diag}\left(\operatorname{diag}\left(X\right)\right) | m x m | X: m x m",
        ),
        ("X + eye", r"X + I | X + I | X + I | m x m | X: m x m"),
        ("I*X", r"I*X | I·X | I X | m x n | X: m x n"),
        ("X*ones", r"X*ones | X·𝟏 | X \mathbf{1} | m x 1 | X: m x n"),
        (
            "ones'*x",
            r"ones'*x | 𝟏ᵀ·x | \mathbf{1}^T x | scalar | x: m x 1",
        ),
        (
            "tr(I)",
            r"tr(I) | tr(I) | \operatorname{tr}\left(I\right) | scalar | ",
        ),
        // The sizes that nothing constrains are one dimension.
        (
            "tr(I) + sum(ones)",
            r"tr(I) + sum(ones) | tr(I) + sum(𝟏) | \operatorname{tr}\left(I\right) + \operatorname{sum}\left(\mathbf{1}\right) | scalar | ",
        ),
        (
            "g(W*x + b)",
            r"g(W*x + b) | g(W·x + b) | g\left(W x + b\right) | m x 1 | W: m x n, b: m x 1, x: n x 1",
        ),
        (
            "g'(Z)",
            r"g'(Z) | g′(Z) | g'\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "g''(Z)",
            r"g''(Z) | g′′(Z) | g''\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "sigmoid'(Z)",
            r"sigmoid'(Z) | σ′(Z) | \sigma'\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "tanh'(Z) .* relu'(Z)",
            r"tanh'(Z) .* relu'(Z) | tanh′(Z) ⊙ relu′(Z) | \tanh'\left(Z\right) \odot \operatorname{relu}'\left(Z\right) | m x n | Z: m x n",
        ),
        (
            "a'*exp(X*b)",
            r"a'*exp(X*b) | aᵀ·exp(X·b) | a^T \exp\left(X b\right) | scalar | X: m x n, a: m x 1, b: n x 1",
        ),
        (
            "(a .* exp(X*b))*b'",
            r"(a .* exp(X*b))*b' | (a ⊙ exp(X·b))·bᵀ | \left(a \odot \exp\left(X b\right)\right) b^T | m x n | X: m x n, a: m x 1, b: n x 1",
        ),
    ];
    for (input, expected) in cases {
        check(input, &[], expected);
    }
}

#[test]
fn broadcasting() {
    let cases: &[(&str, &str)] = &[
        ("1 - X", r"1 - X | 1 − X | 1 - X | m x n | X: m x n"),
        ("X + 1", r"X + 1 | X + 1 | X + 1 | m x n | X: m x n"),
        ("1 ./ X", r"1 ./ X | 1 ⊘ X | 1 \oslash X | m x n | X: m x n"),
        ("X ./ 2", r"X ./ 2 | X ⊘ 2 | X \oslash 2 | m x n | X: m x n"),
        ("2 .* X", r"2 .* X | 2 ⊙ X | 2 \odot X | m x n | X: m x n"),
        (
            "alpha*X + beta",
            r"alpha*X + beta | α·X + β | \alpha X + \beta | m x n | X: m x n, alpha: scalar, beta: scalar",
        ),
        (
            "sum(X) - X",
            r"sum(X) - X | sum(X) − X | \operatorname{sum}\left(X\right) - X | m x n | X: m x n",
        ),
        (
            "x'*y*X",
            r"x'*y*X | xᵀ·y·X | x^T y X | n x p | X: n x p, x: m x 1, y: m x 1",
        ),
        (
            "X*(a'*b)",
            r"X*(a'*b) | X·(aᵀ·b) | X \left(a^T b\right) | m x n | X: m x n, a: p x 1, b: p x 1",
        ),
        (
            "sigmoid(Z) .* (1 - sigmoid(Z))",
            r"sigmoid(Z) .* (1 - sigmoid(Z)) | σ(Z) ⊙ (1 − σ(Z)) | \sigma\left(Z\right) \odot \left(1 - \sigma\left(Z\right)\right) | m x n | Z: m x n",
        ),
        (
            "lambda*x + α*x",
            r"lambda*x + α*x | λ·x + α·x | \lambda x + \alpha x | m x 1 | lambda: scalar, x: m x 1, α: scalar",
        ),
    ];
    for (input, expected) in cases {
        check(input, &[], expected);
    }
}

/// Sizes: `rows(E)` and `cols(E)` count (as `ones'*ones`), `ones(N)` and `eye(N)` take an
/// explicit size, so that a constant nothing else sizes can say how large it is.
#[test]
fn sizes() {
    let cases: &[(&str, &str)] = &[
        (
            "rows(A)*cols(A)",
            r"rows(A)*cols(A) | rows(A)·cols(A) | \operatorname{rows}(A) \operatorname{cols}(A) | scalar | A: m x n",
        ),
        (
            "sum(ones(rows(A))*ones(cols(A))')",
            r"sum(ones(rows(A))*ones(cols(A))') | sum(𝟏·𝟏ᵀ) | \operatorname{sum}\left(\mathbf{1} \mathbf{1}^T\right) | scalar | A: m x n",
        ),
        (
            "eye(rows(X)) + X",
            r"I + X | I + X | I + X | m x m | X: m x m",
        ),
        ("2*ones(3)", r"2*ones(3) | 2·𝟏 | 2 \mathbf{1} | 3x1 | "),
        ("rows(x')", r"1 | 1 | 1 | scalar | x: m x 1"),
        ("eye(1) + 2", r"1 + 2 | 1 + 2 | 1 + 2 | scalar | "),
    ];
    for (input, expected) in cases {
        check(input, &[], expected);
    }
}

#[test]
fn where_bindings() {
    let cases: &[(&str, &str)] = &[
        // As in a file: bindings over several lines, with comments.
        (
            "# the warm-up\ntr(Y'*M*Y)  # the loss\nwhere\n  Y = sigmoid(W*X),  # a layer\n  M = A + A'\n",
            r"tr(Y'*M*Y) where Y = sigmoid(W*X), M = A + A' | tr(Yᵀ·M·Y) where Y = σ(W·X), M = A + Aᵀ | \operatorname{tr}\left(Y^T M Y\right) \quad \text{where} \quad Y = \sigma\left(W X\right),\; M = A + A^T | scalar | A: m x m, W: m x n, X: n x p",
        ),
        (
            "tr(Y'*M*Y) where Y = sigmoid(W*X)",
            r"tr(Y'*M*Y) where Y = sigmoid(W*X) | tr(Yᵀ·M·Y) where Y = σ(W·X) | \operatorname{tr}\left(Y^T M Y\right) \quad \text{where} \quad Y = \sigma\left(W X\right) | scalar | M: m x m, W: m x n, X: n x p",
        ),
        // Out of order: Z uses Y, which is bound after it. Products are n-ary, so `Y*Z` is the
        // product of A, B and Z and prints so.
        (
            "Y*Z where Z = Y', Y = A*B",
            r"A*B*Z where Z = Y', Y = A*B | A·B·Z where Z = Yᵀ, Y = A·B | A B Z \quad \text{where} \quad Z = Y^T,\; Y = A B | m x m | A: m x n, B: n x p",
        ),
        (
            "Z + Y where Z = Y', Y = exp(X)",
            r"Z + Y where Z = Y', Y = exp(X) | Z + Y where Z = Yᵀ, Y = exp(X) | Z + Y \quad \text{where} \quad Z = Y^T,\; Y = \exp\left(X\right) | m x m | X: m x m",
        ),
        // Chained: the root is a binding, which uses another binding.
        (
            "f where f = a'*sigmoid(y), y = X*b",
            r"f where f = a'*sigmoid(y), y = X*b | f where f = aᵀ·σ(y), y = X·b | f \quad \text{where} \quad f = a^T \sigma\left(y\right),\; y = X b | scalar | X: m x n, a: m x 1, b: n x 1",
        ),
        // A binding to a product is spliced into a product that uses it.
        (
            "f where f = a'*y, y = X*b",
            r"f where f = a'*X*b, y = X*b | f where f = aᵀ·X·b, y = X·b | f \quad \text{where} \quad f = a^T X b,\; y = X b | scalar | X: m x n, a: m x 1, b: n x 1",
        ),
        // Shapes unify through the binding: T is m x 1, so a is too.
        (
            "a .* T where T = exp(X*b)",
            r"a .* T where T = exp(X*b) | a ⊙ T where T = exp(X·b) | a \odot T \quad \text{where} \quad T = \exp\left(X b\right) | m x 1 | X: m x n, a: m x 1, b: n x 1",
        ),
        // The seed's backprop notation: an abstract function and its derivative.
        (
            "(W2'*d) .* g'(z) where z = W1*x + b1",
            r"(W2'*d) .* g'(z) where z = W1*x + b1 | (W₂ᵀ·d) ⊙ g′(z) where z = W₁·x + b₁ | \left(W_{2}^T d\right) \odot g'\left(z\right) \quad \text{where} \quad z = W_{1} x + b_{1} | m x 1 | W1: m x n, W2: p x m, b1: m x 1, d: p x 1, x: n x 1",
        ),
    ];
    for (input, expected) in cases {
        check(input, &[], expected);
    }
}

#[test]
fn default_shapes() {
    let cases: &[(&str, &str)] = &[
        ("X", r"X | X | X | m x n | X: m x n"),
        ("W1", r"W1 | W₁ | W_{1} | m x n | W1: m x n"),
        ("x", r"x | x | x | m x 1 | x: m x 1"),
        ("b_1", r"b_1 | b₁ | b_{1} | m x 1 | b_1: m x 1"),
        ("alpha", r"alpha | α | \alpha | scalar | alpha: scalar"),
        (
            "lambda2",
            r"lambda2 | λ₂ | \lambda_{2} | scalar | lambda2: scalar",
        ),
        ("σ2", r"σ2 | σ₂ | \sigma_{2} | scalar | σ2: scalar"),
        ("2", r"2 | 2 | 2 | scalar | "),
        (
            "a'*X*b",
            r"a'*X*b | aᵀ·X·b | a^T X b | scalar | X: m x n, a: m x 1, b: n x 1",
        ),
        ("x*y'", r"x*y' | x·yᵀ | x y^T | m x n | x: m x 1, y: n x 1"),
    ];
    for (input, expected) in cases {
        check(input, &[], expected);
    }
}

#[test]
fn declarations() {
    let cases: &[(&str, &[&str], &str)] = &[
        // softmax is exp(x - logsumexp(x)), printed back as softmax.
        (
            "softmax(W*x)'*y + logsumexp(x)",
            &[],
            r"softmax(W*x)'*y + logsumexp(x) | softmax(W·x)ᵀ·y + logsumexp(x) | \operatorname{softmax}\left(W x\right)^T y + \operatorname{logsumexp}\left(x\right) | scalar | W: m x n, x: n x 1, y: m x 1",
        ),
        // maximum and minimum are written exactly with sign and printed back.
        (
            "maximum(X, Y)*A + minimum(x, 0)'*b",
            &[],
            r"maximum(X, Y)*A + minimum(x, 0)'*b | maximum(X, Y)·A + minimum(x, 0)ᵀ·b | \operatorname{maximum}\left(X, Y\right) A + \operatorname{minimum}\left(x, 0\right)^T b | m x p | A: n x p, X: m x n, Y: m x n, b: q x 1, x: q x 1",
        ),
        // A declared abstract function of any name; one-letter ones need no declaration.
        (
            "sum(act(W*x))",
            &["act: function"],
            r"sum(act(W*x)) | sum(act(W·x)) | \operatorname{sum}\left(\mathit{act}\left(W x\right)\right) | scalar | W: m x n, x: n x 1",
        ),
        (
            "sum(φ(W*x) + g'(x))",
            &["W: n x n"],
            r"sum(φ(W*x) + g'(x)) | sum(φ(W·x) + g′(x)) | \operatorname{sum}\left(\phi\left(W x\right) + g'\left(x\right)\right) | scalar | W: n x n, x: n x 1",
        ),
        (
            "X*y",
            &["X: 3x4"],
            r"X*y | X·y | X y | 3x1 | X: 3x4, y: 4x1",
        ),
        (
            "X*y",
            &["X: 3 x 4"],
            r"X*y | X·y | X y | 3x1 | X: 3x4, y: 4x1",
        ),
        (
            "X*y",
            &["X: 3×4"],
            r"X*y | X·y | X y | 3x1 | X: 3x4, y: 4x1",
        ),
        (
            "X*y",
            &["X: m x n"],
            r"X*y | X·y | X y | m x 1 | X: m x n, y: n x 1",
        ),
        (
            "X*y",
            &["X: k x 2"],
            r"X*y | X·y | X y | k x 1 | X: k x 2, y: 2x1",
        ),
        (
            "c*X",
            &["c: scalar"],
            r"c*X | c·X | c X | m x n | X: m x n, c: scalar",
        ),
        (
            "M + M'",
            &["M: symmetric"],
            r"M + M' | M + Mᵀ | M + M^T | m x m | M: m x m symmetric",
        ),
        (
            "M*x",
            &["M: n x n symmetric"],
            r"M*x | M·x | M x | n x 1 | M: n x n symmetric, x: n x 1",
        ),
        ("x'*x", &["x: 5"], r"x'*x | xᵀ·x | x^T x | scalar | x: 5x1"),
        (
            "x'*x",
            &["x: n"],
            r"x'*x | xᵀ·x | x^T x | scalar | x: n x 1",
        ),
        (
            "a*b",
            &["a: matrix"],
            r"a*b | a·b | a b | m x 1 | a: m x n, b: n x 1",
        ),
        (
            "S'*S",
            &["S: vector"],
            r"S'*S | Sᵀ·S | S^T S | scalar | S: m x 1",
        ),
        (
            "beta*X",
            &["beta: matrix"],
            r"beta*X | β·X | \beta X | m x p | X: n x p, beta: m x n",
        ),
        (
            "A*B",
            &["A, B: n x n"],
            r"A*B | A·B | A B | n x n | A: n x n, B: n x n",
        ),
        (
            "A*B",
            &["A: m x k", "B: k x n"],
            r"A*B | A·B | A B | m x n | A: m x k, B: k x n",
        ),
        (
            "tr(A)",
            &["A: 2x2", "A: 2 x 2"],
            r"tr(A) | tr(A) | \operatorname{tr}\left(A\right) | scalar | A: 2x2",
        ),
        (
            "y - X*w",
            &["X: 100x3"],
            r"y - X*w | y − X·w | y - X w | 100x1 | X: 100x3, w: 3x1, y: 100x1",
        ),
        // A declared variable that the expression does not use is still declared.
        ("x", &["Z: 2x2"], r"x | x | x | m x 1 | Z: 2x2, x: m x 1"),
    ];
    for (input, decls, expected) in cases {
        check(input, decls, expected);
    }
    // Sizes that come from values.
    check_with(
        "A*x",
        &[Decl::sized("A", 2, 3)],
        r"A*x | A·x | A x | 2x1 | A: 2x3, x: 3x1",
    );
}

#[test]
fn pool_keeps_shapes_across_parses() {
    let mut pool = ExprPool::new();
    let first = pool.parse("a'*X*b").unwrap();
    // X keeps its shape m x n, so `X*X` no longer multiplies.
    let err = pool.parse("X*X").unwrap_err();
    assert_eq!(
        err.message,
        "cannot multiply m x n by m x n: inner dimensions n and m differ"
    );
    // The same text is the same node.
    assert_eq!(pool.parse("a' * X * b").unwrap().root, first.root);
    // An `I` that nothing constrains is the same node each time, whatever the pool holds.
    let trace = pool.parse("tr(I)").unwrap().root;
    pool.parse("C*D").unwrap();
    assert_eq!(pool.parse("tr(eye)").unwrap().root, trace);
    // Shared subexpressions are one node.
    let sum = pool.parse("a'*X*b + a'*X*b").unwrap();
    assert_eq!(pool.node(sum.root).children(), &[first.root, first.root]);
}
