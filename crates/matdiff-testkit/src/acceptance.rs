//! The acceptance table of issue 4: expressions, their variables and the closed forms of the
//! literature, shared by the rewriter's acceptance test and the derivation bench.

/// EXPR, variable, declarations, upstream name, the closed form of the literature.
pub type Case = (
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
    &'static str,
);

#[rustfmt::skip]
/// The table.
pub const CASES: &[Case] = &[
    ("a'*X*b", "X", &[], None, "a*b'"),
    ("a'*X'*b", "X", &[], None, "b*a'"),
    ("tr(A*X*B)", "X", &[], None, "A'*B'"),
    ("tr(X'*A)", "X", &[], None, "A"),
    ("a'*exp(X*b)", "X", &[], None, "(a .* exp(X*b))*b'"),
    ("tr(Y'*M*Y) where Y = sigmoid(W*X)", "X", &["M: symmetric"], None, "W'*((2*M*Y) .* sigmoid'(W*X))"),
    ("tr(Y'*M*Y) where Y = sigmoid(W*X)", "X", &[], None, "W'*(((M + M')*Y) .* sigmoid'(W*X))"),
    ("norm2(X*w - y)^2", "w", &[], None, "2*X'*(X*w - y)"),
    ("x'*A*x", "x", &[], None, "(A + A')*x"),
    ("x'*A*x", "x", &["A: symmetric"], None, "2*A*x"),
    ("log(det(X))", "X", &[], None, "inv(X)'"),
    ("logdet(X)", "X", &[], None, "inv(X)'"),
    ("det(X)", "X", &[], None, "det(X)*inv(X)'"),
    ("tr(inv(X))", "X", &[], None, "-(inv(X)^2)'"),
    ("tr(A*inv(X)*B)", "X", &[], None, "-(inv(X)*B*A*inv(X))'"),
    ("a'*inv(X)*b", "X", &[], None, "-inv(X)'*a*b'*inv(X)'"),
    ("tr(A*X'*B*X*C)", "X", &[], None, "B*X*C*A + B'*X*A'*C'"),
    ("tr(X^3)", "X", &[], None, "3*(X^2)'"),
    ("sum(exp(X))", "X", &[], None, "exp(X)"),
    ("norm2(X)^2", "X", &[], None, "2*X"),
    ("lambda*norm2(w)^2 + norm2(X*w - y)^2", "w", &[], None, "2*lambda*w + 2*X'*(X*w - y)"),
    ("sum(log(1 + exp(-y .* (X*w))))", "w", &[], None, "-X'*(y .* sigmoid(-y .* (X*w)))"),
    ("logdet(X'*A*X)", "X", &["A: symmetric"], None, "2*A*X*inv(X'*A*X)"),
    ("alpha^2*tr(X)", "alpha", &[], None, "2*alpha*tr(X)"),
    ("sum((X .* A)*b)", "X", &[], None, "A .* (ones*b')"),
    ("g(W*a + b)", "W", &[], Some("G"), "(G .* g'(W*a + b))*a'"),
    ("g(W*a + b)", "b", &[], Some("G"), "G .* g'(W*a + b)"),
    ("g(W*a + b)", "a", &[], Some("G"), "W'*(G .* g'(W*a + b))"),
    (
        "norm2(a2 - y)^2 where a2 = g2(W2*a1 + b2), a1 = g1(W1*x + b1)", "W1", &[], None,
        "((W2'*((2*(a2 - y)) .* g2'(W2*a1 + b2))) .* g1'(W1*x + b1))*x'",
    ),
];
