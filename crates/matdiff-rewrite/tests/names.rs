//! The names the engine gives shared subexpressions: `T_1`, `T_2`, ... (no rule id has an
//! underscore), never the name of a variable of the user's.

use matdiff_expr::ExprPool;
use matdiff_faer::{verify_gradient, VerifyOptions};
use matdiff_rewrite::{derive, DeriveOptions};

fn names(src: &str) -> Vec<String> {
    let mut pool = ExprPool::new();
    let e = pool.parse(src).unwrap();
    let d = derive(&mut pool, &e, "X", &DeriveOptions::default()).unwrap();
    // The derived gradient is right (non-square A, B, C: X is m x n with m != n).
    let v = verify_gradient(
        &pool,
        d.function,
        "X",
        d.gradient,
        None,
        &VerifyOptions::default(),
    )
    .unwrap();
    assert!(v.ok, "{src}: {:?}", v.check);
    d.names.into_iter().map(|n| n.0).collect()
}

#[test]
fn shared_subexpressions_are_named_t_underscore_k() {
    let got = names("tr((A*X*B + C)*(A*X*B + C)')");
    assert_eq!(got, ["T_1"]);
}

#[test]
fn a_user_variable_keeps_its_name() {
    // T_1 is the user's, of the very shape of the shared subexpression.
    let got = names("tr((A*X*B + C)*(A*X*B + C)') + tr(T_1'*(A*X*B + C))");
    assert_eq!(got, ["T_1_1"]);
}
