use super::*;

fn simplified(text: &str) -> String {
    let mut pool = ExprPool::new();
    let e = pool.parse(text).unwrap().root;
    let s = Simplifier::new(&mut pool).simplify(e).unwrap();
    pool.plain(s)
}

/// (input, simplified) for the rules of the canonical form, grouped by rule.
const CASES: &[(&str, &str)] = &[
    // A zero inside a trace is the number 0.
    ("tr(G'*((0*ones*ones') .* X))", "0"),
    // Scalars broadcast into a sum whose matrix terms cancel keep its shape.
    ("(b - b) - (u'*x + 3)", "(-u'*x - 3)*ones(rows(b))"),
    (
        "(B - B) + alpha + 1",
        "(alpha + 1)*ones(rows(B))*ones(cols(B))'",
    ),
    // Terms over one scalar divisor share it; different divisors stay apart.
    ("A*x/(x'*x) + B*x/(x'*x)", "(A + B)*x/(x'*x)"),
    ("2*A/mu + 3*B/mu - C", "(2*A + 3*B)/mu - C"),
    ("a/(b'*x) - x/(b'*x)^2", "a/(b'*x) - x/(b'*x)^2"),
    // Inner products whose element-wise product cancels are sums; others stay.
    ("(y ./ t)'*t", "sum(y)"),
    ("t'*(y ./ t)", "sum(y)"),
    ("x'*x", "x'*x"),
    ("a'*ones", "a'*ones"),
    ("(y .* t)'*t", "(t .* y)'*t"),
    // Sums lead with a positive term and share their number, unless every term is a
    // product that takes the number in for free.
    ("-A + I", "I - A"),
    ("0.5*A + 0.5*A'", "0.5*(A + A')"),
    ("-2*A*B - 2*C*D", "-2*(A*B + C*D)"),
    ("B*(-A - A')*C", "-B*(A + A')*C"),
    ("2*A*B + 2*C*D", "2*A*B + 2*C*D"),
    // Square roots of scalars are half powers.
    ("det(X)/sqrt(det(X))", "sqrt(det(X))"),
    ("x/(x'*x)^0.5", "x/sqrt(x'*x)"),
    // A diagonal is read with the fewest transposes; diag(ones) is I.
    ("diag(A')", "diag(A)"),
    ("diag(B'*A')", "diag(A*B)"),
    ("diag(x)'", "diag(x)"),
    ("diag(ones)", "I"),
];

#[test]
fn canonical_forms() {
    for &(input, expected) in CASES {
        assert_eq!(simplified(input), expected, "{input}");
    }
}

#[test]
fn element_wise_expansion_is_kept_only_when_shorter() {
    let mut pool = ExprPool::new();
    let mut shortened = |text: &str| {
        let e = pool.parse(text).unwrap().root;
        let mut s = Simplifier::new(&mut pool);
        let c = s.canon(e).unwrap();
        let out = s
            .shorten(c)
            .unwrap()
            .map(|(x, rules)| (s.present(x).unwrap(), rules));
        out.map(|(x, rules)| (pool.plain(x), rules))
    };
    assert_eq!(
        shortened("(y ./ (1 - tanh(z).^2) + w) .* tanh'(z)"),
        Some((
            "y + w - w .* tanh(z).^2".to_string(),
            vec![RuleId::F4, RuleId::A]
        ))
    );
    assert_eq!(shortened("(a + b) .* c"), None);
    assert_eq!(shortened("sigmoid'(z) .* w"), None);
}
