//! Product dimensions (`m*p`): made by sizes such as `ones(rows(A)*rows(B))`, equal to the same
//! product in any order, to a number when their factors are numbers, and to nothing else.

use matdiff_expr::{Decl, Dim, ExprPool, Style};

fn parse(src: &str, decls: &[&str]) -> (ExprPool, Result<matdiff_expr::Expr, String>) {
    let decls: Vec<Decl> = decls.iter().map(|d| Decl::parse(d).unwrap()).collect();
    let mut pool = ExprPool::new();
    let e = pool.parse_with(src, &decls).map_err(|e| e.render(src));
    (pool, e)
}

/// The shape of the root and of every variable, then the plain form parsed again is the same id.
fn shapes(src: &str, decls: &[&str]) -> String {
    let (mut pool, e) = parse(src, decls);
    let e = e.unwrap_or_else(|m| panic!("{src:?} does not parse:\n{m}"));
    let mut vars: Vec<String> = pool
        .vars()
        .into_iter()
        .map(|(s, info)| format!("{}: {}", pool.name(s), pool.shape_str(info.shape)))
        .collect();
    vars.sort();
    let plain = pool.printer(Style::Plain).print(e.root);
    let again = pool
        .parse(&plain)
        .unwrap_or_else(|m| panic!("{plain:?}: {}", m.render(&plain)));
    assert_eq!(again.root, e.root, "{src:?} printed as {plain:?}");
    format!(
        "{} | {}",
        pool.shape_str(pool.shape(e.root)),
        vars.join(", ")
    )
}

#[test]
fn a_product_is_a_multiset_of_factors() {
    let mut pool = ExprPool::new();
    let (m, p) = (Dim::Sym(pool.dim_named("m")), Dim::Sym(pool.dim_named("p")));
    let mp = pool.dim_product(m, p);
    assert_eq!(pool.dim_product(p, m), mp);
    let two_mp = pool.dim_product(Dim::Known(2), mp);
    let two_p = pool.dim_product(p, Dim::Known(2));
    assert_eq!(pool.dim_product(two_p, m), two_mp);
    assert_eq!(pool.dim_str(two_mp), "2*m*p");
    assert_ne!(two_mp, mp);
    assert_eq!(
        pool.dim_product(Dim::Known(3), Dim::Known(4)),
        Dim::Known(12)
    );
    assert_eq!(pool.dim_product(Dim::ONE, p), p);
    assert_eq!(pool.dim_factors(two_mp), vec![Dim::Known(2), m, p]);
}

#[test]
fn products_in_sizes() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("ones(rows(A)*rows(B))", &[], "m*p x 1 | A: m x n, B: p x q"),
        // The order of the factors does not matter.
        (
            "ones(rows(A)*rows(B)) + ones(rows(B)*rows(A))",
            &[],
            "m*p x 1 | A: m x n, B: p x q",
        ),
        // A variable takes a product shape.
        (
            "ones(rows(A)*cols(B)) + x",
            &[],
            "m*q x 1 | A: m x n, B: p x q, x: m*q x 1",
        ),
        // Numbers fold.
        (
            "ones(rows(A)*rows(B)) + ones(6)",
            &["A: 2x2", "B: 3x5"],
            "6x1 | A: 2x2, B: 3x5",
        ),
        ("ones(2*rows(A))", &[], "2*m x 1 | A: m x n"),
        // A common factor cancels: m*p = m*r gives p = r.
        (
            "ones(rows(A)*rows(B)) + ones(rows(A)*rows(C))",
            &[],
            "m*p x 1 | A: m x n, B: p x q, C: p x r",
        ),
        // A free dimension takes the quotient of numbers.
        ("ones(2*rows(A)) + ones(6)", &[], "6x1 | A: 3 x m"),
        (
            "eye(rows(A)*rows(B)) * ones(rows(B)*rows(A))",
            &[],
            "m*p x 1 | A: m x n, B: p x q",
        ),
        // Equal powers of sizes: m*m = n*n gives m = n (the trace of kron(X, X)).
        ("tr(kron(X, X))", &[], "scalar | X: m x m"),
        (
            "kron(X, X) + eye(rows(Y)*rows(Y))",
            &[],
            "m*m x m*m | X: m x m, Y: m x n",
        ),
        (
            "kron(X, X) + eye(rows(Y)*rows(Y))",
            &["Y: 3x2"],
            "9x9 | X: 3x3, Y: 3x2",
        ),
        // A square size of a number: m*m = 9 gives m = 3.
        ("kron(X, X) + eye(9)", &[], "9x9 | X: 3x3"),
    ];
    for (src, decls, expected) in cases {
        assert_eq!(shapes(src, decls), *expected, "{src:?} with {decls:?}");
    }
}

#[test]
fn a_product_meets_nothing_else() {
    let cases: &[(&str, &[&str], &str)] = &[
        // Known factors fold at once: the usual message.
        (
            "ones(rows(A)*rows(B)) + ones(7)",
            &["A: 2x2", "B: 3x3"],
            "cannot add 6x1 and 7x1",
        ),
        (
            "ones(rows(A)*rows(B)) + ones(rows(C))",
            &["C: n x n"],
            "m*p and n",
        ),
        (
            "ones(rows(A)*rows(B)) + ones(rows(C)*rows(D))",
            &[],
            "m*n and p*q",
        ),
        (
            "ones(rows(A)*rows(B)) + ones(rows(A))",
            &[],
            "must be equal",
        ),
        ("ones(rows(A)*rows(B)) + ones(6)", &[], "m*n and 6"),
    ];
    let mut rendered = String::new();
    for (src, decls, expected) in cases {
        let (_, e) = parse(src, decls);
        let message = e.err().unwrap_or_else(|| panic!("{src:?} parses"));
        assert!(message.contains(expected), "{src:?}: {message}");
        rendered += &format!("{src} with {decls:?}\n{message}\n\n");
    }
    insta::assert_snapshot!(rendered);
}
