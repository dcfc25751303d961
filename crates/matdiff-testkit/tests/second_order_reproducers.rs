//! The failures the second-order differential fuzzer found, each checked as the fuzzer checks
//! its case (at the values and direction of its seed): the derived result, the printed one and
//! the one derived without sizes (where it is read off) must all agree with the reference.

use matdiff_expr::{Decl, ExprPool};
use matdiff_faer::{Plan, Sizes};
use matdiff_testkit::differential::values_for;
use matdiff_testkit::second_differential::{
    check_matrix, check_scalar, direction_for, rounding_floor, Check, Outcome, TOLERANCE,
};

/// Checks each case and returns the descriptions of those not fully checked.
fn failures(cases: &[(u64, &str, &str, Check)]) -> Vec<String> {
    let mut out = Vec::new();
    for &(seed, text, wrt, check) in cases {
        let values = values_for(seed);
        let outcomes = match check {
            Check::Hvp | Check::DenseHessian | Check::KroneckerHessian => {
                check_scalar(text, wrt, &values, &direction_for(seed, wrt, &values))
            }
            Check::DenseJacobian | Check::KroneckerJacobian => check_matrix(text, wrt, &values),
        };
        let outcome = outcomes.into_iter().find(|(c, _)| *c == check).map(|o| o.1);
        // Checked (a wrong number without the sizes would be a failure); some texts are not
        // read off without the sizes, a counted refusal.
        if !matches!(outcome, Some(Outcome::Checked { .. })) {
            out.push(format!(
                "seed {seed}: {check:?} of {text} wrt {wrt}: {outcome:?}"
            ));
        }
    }
    out
}

#[test]
fn the_kronecker_reproducers_agree_with_the_complex_step() {
    let cases = [
        // `K*diag(vec(P))` became `diag(vec(P'))*K` with K's sizes swapped: the Jacobian of
        // `C'.^2` was `2*diag(vec(C'))*commutation(cols(C), rows(C))`.
        (51, "(alpha*C').^2", "C", Check::KroneckerJacobian),
        (211, "((D)').^2", "D", Check::KroneckerJacobian),
        (98, "tanh''(log(exp(((A)'))))", "A", Check::KroneckerJacobian),
        (
            126,
            "((C'*C)*(C'.^2) - C')",
            "C",
            Check::KroneckerJacobian,
        ),
        // A commutation matrix of a product of sizes printed `commutation(rows(x), q*q)`,
        // which does not parse: now `rows(Q)*rows(Q)`.
        (
            207,
            "((alpha^2) ./ ((((x'*C)*((y ⊗ Q)*vec(y)))').^2 + 1))",
            "C",
            Check::KroneckerHessian,
        ),
        // `vec(C' - C')` was kept as `vec(0*ones*ones')`, whose sizes the printed text cannot
        // name; `vec`, `unvec` and `kron` of a zero are now zero.
        (
            217,
            "((tr((softmax(x)'*x) ⊗ 3) - 2') - ((((b' ./ (b'.^2 + 1)))*(b.^2)) ./ ((vec((C'*C*C' + C'))'*vec((C' - C'))).^2 + 1)))",
            "C",
            Check::KroneckerHessian,
        ),
        // The `where` list of a Kronecker form was printed after the function, which holds
        // none of its bindings, so `kron(ones', I)` named no size: now after `H[V]`.
        (
            1328,
            "norm2(((((2' + y'*Q)) .* (exp(y') ./ exp(y')))) ⊗ (((A .* (W'*A)) - (Q'*Q)*A)))",
            "A",
            Check::KroneckerHessian,
        ),
        // A term's scale `0.5*b'*b` printed before `eye(3)` ran on into it.
        (2000004798, "0.5*((unvec(x, 3))*(b'*b))", "x", Check::KroneckerJacobian),
        // A factor `(Q*A) .* (A*P)` printed bare among the factors of a term.
        (
            1000014424,
            "softmax(kron(alpha, (((P'*A') .* (A'*Q'))))*vec(((D'*b) ./ exp(y))))'*((u - x)) + tr(Y'*Y) where Y = ((unvec(kron(u, y), 2)) ./ (A.^2 + 1))",
            "D",
            Check::KroneckerHessian,
        ),
        // The read-off's simplifier spliced the argument of `min` into the gap,
        // `min(c + (D*y)') - c - D*y`, which rounds away from 0 at the minimum: a tie counted
        // that is not one, the Jacobian halved. The arguments of `min` and `max` are kept whole.
        (
            1000094303,
            "(((log1p((L').^2)) .* (2'*(A*A'))) - min(c + y'*D'))",
            "D",
            Check::KroneckerJacobian,
        ),
        // A failure of the comparison, fixed there: terms of 1e5 that cancel to a Hessian of
        // 1e-54 (a saturated softmax) sum to 1e-11, rounding at the scale of the terms.
        (
            1000099161,
            "sum(softmax((((D*D'*D).^2) .* ((((D .* D)) .* ((D + D)))))) .* D)",
            "D",
            Check::KroneckerHessian,
        ),
        // A zero Jacobian printed the derivation's `where` bindings twice after its zero.
        (
            253,
            "((((0.5*u) .* ((u .* (exp(x) ./ exp(x)))))) - (((0.5*u) .* ((u .* (exp(x) ./ exp(x)))))))",
            "x",
            Check::KroneckerJacobian,
        ),
        // A commutation matrix's sizes were named after the Jacobian's direction `U`, which
        // no printed text declares: `commutation(2*cols(U), 2*cols(U))` did not parse without
        // the sizes. They are named as every other size is: `commutation(rows(L), rows(L))`.
        (
            7000042534,
            "kron((unvec(y, 2)), (((L'*y) .* y)))*vec(-1)",
            "L",
            Check::KroneckerJacobian,
        ),
    ];
    let failed = failures(&cases);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// A failure of the reference, fixed there: `log(exp(y)) - y` is exactly zero in matdiff-faer
/// (its gradient through `norm2` is 0/0) and 1e-17 in the naive evaluator, whose derivative
/// there is of rounding noise. A norm of rounding noise is the 2-norm's kink: refused.
#[test]
fn a_norm_of_rounding_noise_is_refused_by_the_reference() {
    let (seed, text, wrt) = (7000061324, "norm2(kron((log(exp(y)) - y), A))", "A");
    let values = values_for(seed);
    let outcomes = check_scalar(text, wrt, &values, &direction_for(seed, wrt, &values));
    assert_eq!(
        outcomes,
        vec![
            (Check::Hvp, Outcome::ReferenceRefuses),
            (Check::KroneckerHessian, Outcome::ReferenceRefuses)
        ]
    );
    // Away from the kink the same expression is checked.
    let text = "norm2(kron((log(exp(y)) - 0.5*y), A))";
    let outcomes = check_scalar(text, wrt, &values, &direction_for(seed, wrt, &values));
    assert!(
        outcomes
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Checked { .. })),
        "{outcomes:?}"
    );
}

/// Failures of the comparison, fixed there: right formulas whose terms cancel, so that their
/// value is exact only to a few ulps of the terms (a saturated softmax, `p .* u - (p'*u)*p`
/// with entries of `u` of 1e5; `norm2` of a multiple of one direction near its kink). They are
/// compared at the rounding error their formula carries, measured by random rounding of
/// every step, and counted apart.
#[test]
fn cancelling_terms_are_compared_to_the_rounding_of_their_formula() {
    let cases = [
        (7000063756, "softmax((((2'*y) .* (2*y))).^2)'*y", "y", Check::Hvp),
        (7000063756, "softmax((((2'*y) .* (2*y))).^2)'*y", "y", Check::DenseHessian),
        (
            11000062803,
            "softmax(((((y')') ./ exp((W' ⊗ c)*vec(y'*W')))).^2)'*y",
            "y",
            Check::DenseHessian,
        ),
        (11000071860, "norm2(kron(A', 2*(b'*(D*y))))", "b", Check::Hvp),
        // A Kronecker form, whose formula is its text: entries of 2 + 3e-9 where the
        // reference has 2.
        (
            7000018704,
            "sum(softmax((-2*D')*((0.5*(D*D')*(D*D') + (D*D')*(D*D')*(D*D') + 1*(D*D')*(D*D')*(D*D')))) .* ((D' .* D'))) + tr(Y'*Y) where Y = ((A)')*((0.5 + W'))",
            "D",
            Check::KroneckerHessian,
        ),
        (
            7000083410,
            "-1 + norm2(Y)^2 where Y = inv(((b*b')^2)*((b*b')^2)' + I)",
            "b",
            Check::Hvp,
        ),
        // The first-order gradient of a saturated softmax of a polynomial of degree 6.
        (
            11000073860,
            "softmax(((kron(C', ((3 + u')))*vec((0.5*(P*S')*(P*S') + (P*S')*(P*S')*(P*S') + 2*(P*S')*(P*S')*(P*S')))) .* b))'*((b')')",
            "P",
            Check::Hvp,
        ),
    ];
    for (seed, text, wrt, check) in cases {
        let values = values_for(seed);
        let outcomes = check_scalar(text, wrt, &values, &direction_for(seed, wrt, &values));
        let outcome = outcomes.into_iter().find(|(c, _)| *c == check).map(|o| o.1);
        assert!(
            matches!(
                outcome,
                Some(Outcome::Checked {
                    at_rounding: true,
                    ..
                })
            ),
            "seed {seed}: {check:?}: {outcome:?}"
        );
    }
}

/// The rounding floor of a formula without cancellation lets only its rounding through: a
/// result wrong by 1e-12 of its scale still fails.
#[test]
fn the_rounding_floor_of_a_formula_without_cancellation_is_its_rounding() {
    let values = values_for(5);
    let mut pool = ExprPool::new();
    let decls: Vec<Decl> = values
        .iter()
        .map(|(n, m)| Decl::sized(n, m.nrows() as u64, m.ncols() as u64))
        .collect();
    let plain = pool.parse_with("A*exp(x) + b'*b*y", &decls).unwrap();
    let sizes = Sizes::from_values(&pool, &values).unwrap();
    let value = Plan::<f64>::compile(&pool, &[plain.root], &sizes)
        .unwrap()
        .run(&values)
        .unwrap()
        .remove(0);
    let scale = (0..value.nrows()).fold(0.0f64, |m, i| m.max(value[(i, 0)].abs()));
    let floor = rounding_floor(&pool, plain.root, &values).unwrap();
    assert!(floor * TOLERANCE < 1e-12 * scale, "{floor:e} at {scale}");
    // Terms of 1e8 that cancel: their rounding, 1e-8, is let through.
    let cancelling = pool
        .parse_with("(100000000 + x'*x)*x - 100000000*x", &decls)
        .unwrap();
    let floor = rounding_floor(&pool, cancelling.root, &values).unwrap();
    assert!(floor * TOLERANCE > 1e-9, "{floor:e}");
}

#[test]
fn vec_and_unvec_of_a_vector_are_the_vector_or_its_transpose() {
    // `vec` of a column is the column and of a row its transpose; `unvec(x, 1)` is `x'`. Kept
    // as they were, the HVP of `logsumexp(unvec(x, 1)')` failed with an internal shape error
    // and its dense Hessian (and those of the two others) could not be read off.
    let mut cases = Vec::new();
    for text in [
        "logsumexp(unvec(x, 1)')",
        "sum(exp(unvec(x, 1)))",
        "logsumexp(vec(x'))",
        "sum(log1p(vec(x').^2) .* vec(unvec(u, rows(u))))",
    ] {
        cases.push((7, text, "x", Check::Hvp));
        cases.push((7, text, "x", Check::DenseHessian));
    }
    cases.push((
        7,
        "exp(unvec(x, 1)) ⊗ vec(y')",
        "x",
        Check::KroneckerJacobian,
    ));
    let failed = failures(&cases);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn diag_and_triangles_are_read_off_as_linear_maps() {
    // `diag(u) = I .* (u*ones')` and `diag(A) = (I .* A)*ones`, `tril(A) = tril(ones*ones') .* A`:
    // Kronecker forms and Hessians through them were refused as not readable.
    let cases = [
        (3, "diag(x)*C", "x", Check::KroneckerJacobian),
        (3, "diag(W)", "W", Check::KroneckerJacobian),
        (4, "diag(diag(W))", "W", Check::KroneckerJacobian),
        (5, "tril(W)*A", "W", Check::KroneckerJacobian),
        (6, "A'*diag(W*y)*triu(W')", "W", Check::KroneckerJacobian),
        (
            7,
            "diag(C'*x)*exp(diag(D*A*C))",
            "x",
            Check::KroneckerJacobian,
        ),
        (8, "sum(diag(W)'*W*diag(W))", "W", Check::KroneckerHessian),
        (
            9,
            "norm2(tril(W)*y)^2 + sum(exp(diag(W)))",
            "W",
            Check::KroneckerHessian,
        ),
        (10, "sum(exp(diag(x)*C))", "x", Check::Hvp),
    ];
    let failed = failures(&cases);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn dense_hessians_through_a_matrix_fall_back_to_the_kronecker_read_off() {
    // `sum(exp(diag(x)*C))`: the HVP holds the matrix `diag(v)*C`, which the dense read-off
    // (columns only) refused; the Kronecker read-off, multiplied out, gives the matrix.
    let cases = [
        (12, "sum(exp(diag(x)*C))", "x", Check::DenseHessian),
        (13, "sum(diag(x*x').^2)", "x", Check::DenseHessian),
        (
            14,
            "sum(tril(x*u').^2) + x'*diag(x)*u",
            "x",
            Check::DenseHessian,
        ),
        (15, "exp(C'*diag(x)*x)", "x", Check::DenseJacobian),
    ];
    let failed = failures(&cases);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
