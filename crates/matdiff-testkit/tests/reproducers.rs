//! The wrong answers of issue 17, each checked as the fuzzer checks a drawn case: the value and
//! gradient value of `grad --at`, and the printed gradient evaluated again, against the complex
//! step through the naive evaluator, at the issue's values.

use matdiff_faer::{Mat, Values};
use matdiff_testkit::differential::{check_expression, values_for, Checked};

/// The values of the issue: `A` 2x2, `C` 2x3, `W` 2x2, `y` of 2, `b`, `u`, `x` of 3, scalars.
fn values() -> Values<f64> {
    let m = |r: usize, c: usize, v: &[f64]| Mat::from_fn(r, c, |i, j| v[i * c + j]);
    Values::new()
        .with("A", m(2, 2, &[1.0, 2.0, 3.0, 4.0]))
        .with("C", m(2, 3, &[1.0, 2.0, 5.0, 3.0, 4.0, 1.0]))
        .with("W", m(2, 2, &[0.1, 0.2, 0.3, -0.1]))
        .with("y", m(2, 1, &[1.0, 2.0]))
        .with("b", m(3, 1, &[1.0, 2.0, 3.0]))
        .with("u", m(3, 1, &[1.0, -1.0, 2.0]))
        .with("x", m(3, 1, &[1.0, 2.0, 3.0]))
        .with("alpha", m(1, 1, &[0.5]))
        .with("c", m(1, 1, &[0.5]))
}

#[test]
fn the_reproducers_of_issue_17_agree_with_the_complex_step() {
    let cases = [
        // sum or tr of scalar + matrix kept the entry count out of the gradient.
        ("sum(1 + y)^2", "y"),
        ("norm2(alpha + A)", "alpha"),
        ("tr(1 + A)^2", "A"),
        ("sum(alpha + A)", "alpha"),
        ("sum(c + C)^2", "C"),
        // Repeated product chains with number coefficients.
        ("tr(2*A*A + A*A*A + 2*A*A*A)", "A"),
        ("norm2(inv(Y*Y')*Y) where Y = 2*W", "W"),
        // A 1x1 product counted as a matrix when factoring.
        ("y'*y*(ones'*A*ones)", "y"),
        ("(y'*y)*(u'*u)", "u"),
        ("sum(exp(W*A') + log(exp(W*A')))", "W"),
        // A transposed number in a chain.
        ("2'*y'*y", "y"),
        ("y'*y*2'", "y"),
        // Valid input that was refused.
        ("sum(tanh''(y))", "y"),
        (
            "sum(sigmoid''(W*y)) + sum(Y .* Y) where Y = sigmoid''(A) .* sigmoid(A)",
            "A",
        ),
        ("y'*((C + 1) ./ C)*b", "b"),
        ("(tr(diag(x) + I) + u - u)'*diag(S)", "x"),
        ("(tr(diag(x) + I) + u - u)'*diag(S)", "S"),
        // Printed gradients that did not evaluate on their own.
        ("a'*(x ./ x)", "x"),
        ("sum(A*W' - W*A')", "W"),
        ("tr(A)", "A"),
        ("sum(A)", "A"),
        // `unvec` of a column of known size refused (`2*m = 2` left unsolved).
        ("vec(S)'*vec(unvec(kron(x, -2*x), 3))", "x"),
        ("sum(Y .* Y) where Y = unvec(y, 2)", "y"),
    ];
    let mut values = values();
    values.insert("a", Mat::from_fn(3, 1, |i, _| [0.5, -1.0, 2.0][i]));
    values.insert(
        "S",
        Mat::from_fn(3, 3, |i, j| [1.0, 2.0, 0.5][i] - j as f64),
    );
    let mut failures = Vec::new();
    for (text, wrt) in cases {
        match check_expression(text, wrt, &values) {
            Ok(Checked::Fully | Checked::WithSizesOnly | Checked::OtherSizesWithoutSizes) => {}
            Ok(Checked::RefusedByReference) => {
                failures.push(format!("{text}: the reference refuses the values"))
            }
            Err(e) => failures.push(format!("{text} wrt {wrt}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The cases the differential fuzzer found when it first drew `kron`, `vec` and `unvec`, each at
/// the values of its seed, with how it must be checked: `Fully` where the gradient printed
/// without sizes must evaluate right (it named `unvec`'s column count after a differential,
/// `rows(dT_1)`, or not at all, `ones'`), `WithSizesOnly` where `grad` refused with an internal
/// shape error (`unvec(kron(L, R)*vec(X))` read `X` at its own rows, not `cols(R)`) and the text
/// without sizes is ambiguous, `OtherSizesWithoutSizes` where the text without sizes is of other
/// sizes (`diag(unvec(y, 2))` of a square).
#[test]
fn the_kron_vec_reproducers_agree_with_the_complex_step() {
    use Checked::{Fully, OtherSizesWithoutSizes as OtherSizes, WithSizesOnly};
    let cases = [
        (62, "(2' .* ((sum((unvec(x, 3)) ⊗ A) - (logdet((S*S')*(S*S')' + I))*(arcsin(0.5*tanh(c))))))", "x", Fully),
        (296, "max((alpha + (unvec(A'*y, 3))'))", "alpha", Fully),
        (435, "sum(kron(((D'*C'*C)*b)', unvec((x' ⊗ W)*vec(A), 1)))", "A", WithSizesOnly),
        (532, "sum(unvec(((y')').^2, 2))", "y", Fully),
        (794, "vec(norm2((((W' - W') - (c ./ exp(alpha)))) ⊗ (((unvec(b, 2)) .* (unvec(b, 2))))))", "b", Fully),
        (1051, "tr((diag(unvec(A'*y, 3))) ⊗ W)", "A", OtherSizes),
        (1712, "(2*(sum(c*c + (x' - u'))) - (sum(unvec(b, 2)))')", "b", Fully),
        (2238, "norm2(kron((unvec(A'*y, 3))', A')) + norm2(Y)^2 where Y = ((y + y) - vec(y')'*vec(y'))", "y", Fully),
        (4236, "(det(unvec(kron(C', x')*vec(S'), 2)) - (((alpha^2) ./ (((1.5 - 2)).^2 + 1)))^2)", "S", WithSizesOnly),
        (7176, "(sum(kron((u')', unvec(x, 3))))' + sum(Y .* Y) where Y = D'", "u", Fully),
        (11066, "vec(unvec((y.^2 - (y .* y)), 2))'*vec((((y'*W)' - y'*y) + alpha*y))", "W", Fully),
        (11744, "((logdet((unvec((b - b), 2))*(unvec((b - b), 2))' + I)) ./ exp(0.5*c))", "c", Fully),
        (12938, "c + sum(Y)*sum(Y) where Y = diag(unvec(y, 2))", "y", OtherSizes),
        (14436, "(unvec((kron(A, W)*vec(D'*C') - tanh''(-1)), 1))*(0.5*((2'*b + (C'*C)*b)))", "C", WithSizesOnly),
        (14490, "sum(kron(((y')').^2, diag(unvec(y, 2))))", "y", OtherSizes),
        (15813, "sum((A'*y) ⊗ (unvec(y, 2))) + norm2(Y)^2 where Y = (D.^2)*(expm1(0.5*tanh(y)))", "A", Fully),
        (19873, "sum((unvec(b, 2)) ⊗ W')", "b", Fully),
        // The long run: the logsumexp of all the entries of a row printed as `logsumexp(row)`,
        // which reads as one per column (and `softmax(row)` likewise).
        (1000012982, "((((vec(c) - vec(alpha))) .* ((((-1) .* 1.5) - alpha^2))))*(logsumexp((unvec(y, 1))'))", "alpha", Fully),
        (1000065786, "logsumexp((unvec(x, 1))')", "x", Fully),
        (1000077244, "softmax((unvec((b')', 1))')'*((C'*x).^2)", "x", Fully),
        (1000195267, "logsumexp((unvec(diag(G'), 1))')", "G", Fully),
        (1000360415, "vec(logsumexp((unvec(x, 1))'))'*vec(((tr(P')) .* ((y'*D')*(tanh'(b)))))", "P", Fully),
        (1000656302, "softmax((unvec(sin(x), 1))')'*((P' ⊗ (y'*A))*vec(S))", "A", WithSizesOnly),
    ];
    let mut failures = Vec::new();
    for (seed, text, wrt, expected) in cases {
        match check_expression(text, wrt, &values_for(seed)) {
            Ok(how) if how == expected => {}
            Ok(how) => failures.push(format!("{text} wrt {wrt}: {how:?}, not {expected:?}")),
            Err(e) => failures.push(format!("{text} wrt {wrt}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
