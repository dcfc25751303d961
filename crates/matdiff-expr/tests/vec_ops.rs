//! `kron`, `vec`, `unvec` and `commutation`: shapes with product dimensions, the three printed
//! styles, and the plain form parsed again to the same node.

use matdiff_expr::{Decl, ExprPool, Style};

/// `plain | unicode | latex | shape | variables`, then checks the round trip.
fn check(input: &str, decls: &[&str], expected: &str) {
    let decls: Vec<Decl> = decls.iter().map(|d| Decl::parse(d).unwrap()).collect();
    let mut pool = ExprPool::new();
    let e = pool
        .parse_with(input, &decls)
        .unwrap_or_else(|err| panic!("{input:?} does not parse:\n{}", err.render(input)));
    let print = |style| pool.printer(style).with_bindings(&e.bindings).print(e.root);
    let mut vars: Vec<String> = pool
        .vars()
        .into_iter()
        .map(|(s, info)| format!("{}: {}", pool.name(s), pool.shape_str(info.shape)))
        .collect();
    vars.sort();
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
fn kron() {
    check(
        "kron(A, B)",
        &[],
        r"kron(A, B) | A ⊗ B | A \otimes B | m*p x n*q | A: m x n, B: p x q",
    );
    check(
        "kron(A + B, C')*kron(D, E)",
        &["A: 2x3", "C: 4x5", "D: 3x2", "E: 4x2"],
        r"kron(A + B, C')*kron(D, E) | ((A + B) ⊗ Cᵀ)·(D ⊗ E) | \left(\left(A + B\right) \otimes C^T\right) \left(D \otimes E\right) | 10x4 | A: 2x3, B: 2x3, C: 4x5, D: 3x2, E: 4x2",
    );
    // A product of dimensions meets the same product: (m*p) x (n*q) times (n*q) x 1.
    check(
        "kron(A, B)*vec(V)",
        &["A: m x n", "B: p x q", "V: q x n"],
        r"kron(A, B)*vec(V) | (A ⊗ B)·vec(V) | \left(A \otimes B\right) \operatorname{vec}\left(V\right) | m*p x 1 | A: m x n, B: p x q, V: q x n",
    );
    check(
        "tr(kron(A, B))",
        &["A: n x n", "B: p x p"],
        r"tr(kron(A, B)) | tr(A ⊗ B) | \operatorname{tr}\left(A \otimes B\right) | scalar | A: n x n, B: p x p",
    );
    // A scalar factor is a scaling.
    check(
        "kron(alpha, B)",
        &[],
        r"kron(alpha, B) | α ⊗ B | \alpha \otimes B | m x n | B: m x n, alpha: scalar",
    );
}

#[test]
fn vec_and_unvec() {
    check(
        "vec(X)",
        &[],
        r"vec(X) | vec(X) | \operatorname{vec}\left(X\right) | m*n x 1 | X: m x n",
    );
    check(
        "vec(A)'*vec(B)",
        &["A: m x n", "B: m x n"],
        r"vec(A)'*vec(B) | vec(A)ᵀ·vec(B) | \operatorname{vec}\left(A\right)^T \operatorname{vec}\left(B\right) | scalar | A: m x n, B: m x n",
    );
    // The vec of a column is the column.
    check(
        "vec(x) + y",
        &[],
        r"x + y | x + y | x + y | m x 1 | x: m x 1, y: m x 1",
    );
    check(
        "unvec(vec(X), rows(X))",
        &[],
        r"unvec(vec(X), rows(X)) | unvec(vec(X), m) | \operatorname{unvec}_{m}\left(\operatorname{vec}\left(X\right)\right) | m x n | X: m x n",
    );
    // The columns follow from the number of entries.
    check(
        "unvec(g, 3)",
        &["g: 12x1"],
        r"unvec(g, 3) | unvec(g, 3) | \operatorname{unvec}_{3}\left(g\right) | 3x4 | g: 12x1",
    );
    check(
        "unvec(g, rows(A)) + A",
        &[],
        r"unvec(g, rows(A)) + A | unvec(g, m) + A | \operatorname{unvec}_{m}\left(g\right) + A | m x n | A: m x n, g: m*n x 1",
    );
}

#[test]
fn sizes_divide_exactly() {
    // The columns of `unvec(y, 2)` are a quotient no variable has: printed as one.
    check(
        "sum(ones(rows(y)/2)) + sum(unvec(y, 2))",
        &[],
        r"sum(ones(rows(y)/2)) + sum(unvec(y, 2)) | sum(𝟏) + sum(unvec(y, 2)) | \operatorname{sum}\left(\mathbf{1}\right) + \operatorname{sum}\left(\operatorname{unvec}_{2}\left(y\right)\right) | scalar | y: 2*m x 1",
    );
    check(
        "unvec(g, 3) + ones(3)*ones(rows(g)/3)'",
        &["g: 12x1"],
        r"unvec(g, 3) + ones(3)*ones(4)' | unvec(g, 3) + 𝟏·𝟏ᵀ | \operatorname{unvec}_{3}\left(g\right) + \mathbf{1} \mathbf{1}^T | 3x4 | g: 12x1",
    );
}

#[test]
fn commutation() {
    check(
        "commutation(rows(X), cols(X))*vec(X)",
        &[],
        r"commutation(rows(X), cols(X))*vec(X) | K(m,n)·vec(X) | K_{m,n} \operatorname{vec}\left(X\right) | m*n x 1 | X: m x n",
    );
    // K vec(X) = vec(X'): both are m*n x 1.
    check(
        "commutation(rows(X), cols(X))*vec(X) - vec(X')",
        &[],
        r"commutation(rows(X), cols(X))*vec(X) - vec(X') | K(m,n)·vec(X) − vec(Xᵀ) | K_{m,n} \operatorname{vec}\left(X\right) - \operatorname{vec}\left(X^T\right) | m*n x 1 | X: m x n",
    );
    // m*n = p*q does not make m = p: the sizes must be declared.
    check(
        "commutation(2, 3)",
        &[],
        r"commutation(2, 3) | K(2,3) | K_{2,3} | 6x6 | ",
    );
}

#[test]
fn errors_name_the_signature() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("kron(A)", &[], "'kron' takes two arguments: kron(A, B)"),
        ("kron(A, B, C)", &[], "'kron' takes two arguments"),
        (
            "kron + A",
            &[],
            "'kron' is a function and needs arguments: kron(A, B)",
        ),
        ("vec(A, B)", &[], "'vec' takes one argument: vec(X)"),
        ("commutation(A, 2)", &[], "a size is a whole number"),
        (
            "unvec(g, 5)",
            &["g: 12x1"],
            "'unvec' needs a column of 5*n entries",
        ),
        ("unvec(A, 2)", &["A: 4x2"], "'unvec' needs a column"),
        (
            "kron(A, B) + C",
            &["A: 2x2", "B: 3x3", "C: 5x6"],
            "cannot add 6x6 and 5x6",
        ),
        ("kron(A, B) + C", &["C: n x n"], "cannot be shown"),
        ("vec", &[], "'vec' is a function and needs an argument"),
        ("ones(7/2)", &[], "the size 7/2 is not a whole number"),
        (
            "ones(rows(A)/2)",
            &["A: 3x3"],
            "the size 3/2 is not a whole number",
        ),
        (
            "vec(A)'*vec(B)",
            &[],
            "the dimensions m*n and p*q must be equal",
        ),
    ];
    let mut rendered = String::new();
    for (src, decls, expected) in cases {
        let decls: Vec<Decl> = decls.iter().map(|d| Decl::parse(d).unwrap()).collect();
        let mut pool = ExprPool::new();
        let err = match pool.parse_with(src, &decls) {
            Ok(_) => panic!("{src:?} parses"),
            Err(e) => e,
        };
        assert!(err.message.contains(expected), "{src:?}: {}", err.message);
        rendered += &format!("{}\n\n", err.render(src));
    }
    insta::assert_snapshot!(rendered);
}

#[test]
fn infix_kron_is_the_literature_spelling() {
    let decls: Vec<Decl> = ["A: m x n", "B: p x q", "X: n x n"]
        .iter()
        .map(|d| Decl::parse(d).unwrap())
        .collect();
    let mut pool = ExprPool::new();
    let cases = [
        // Looser than `*`, tighter than `+`.
        ("A*A' ⊗ B + kron(A*A', B)", "2*kron(A*A', B)"),
        ("-(inv(X) ⊗ inv(X)')", "-kron(inv(X), inv(X)')"),
        (
            "(A ⊗ B)*vec(B'*ones(rows(B))*ones(rows(A))'*A)",
            "kron(A, B)*vec(B'*ones(rows(B))*ones(rows(A))'*A)",
        ),
        ("eye(cols(X)) ⊗ (X + X')", "kron(eye(cols(X)), X + X')"),
    ];
    for (infix, call) in cases {
        let a = pool
            .parse_with(infix, &decls)
            .unwrap_or_else(|e| panic!("{}", e.render(infix)));
        let b = pool
            .parse_with(call, &decls)
            .unwrap_or_else(|e| panic!("{}", e.render(call)));
        if infix.contains(" + kron") {
            // Both spellings give the same node: the sum of two equal terms.
            let matdiff_expr::Node::Add(xs) = pool.node(a.root) else {
                panic!("a sum")
            };
            assert_eq!(xs[0], xs[1], "{infix}");
            continue;
        }
        assert_eq!(a.root, b.root, "{infix} and {call}");
    }
}

/// The logsumexp of all the entries of a row or a matrix (what the simplifier may make of
/// `logsumexp(r')`) prints as text that reads as that, not as one per column.
#[test]
fn logsumexp_of_all_entries_prints_as_one_reduction() {
    use matdiff_expr::{Node, Reduce};
    let mut pool = ExprPool::new();
    let e = pool.parse("X + unvec(y, 1)'*x'").unwrap().root;
    let (x, r) = match pool.node(e) {
        Node::Add(xs) => (xs[0], pool.parse("unvec(y, 1)").unwrap().root),
        _ => unreachable!(),
    };
    let rt = pool.intern(Node::Transpose(r)).unwrap();
    for (arg, printed) in [
        (x, "logsumexp(vec(X))"),
        (r, "logsumexp(unvec(y, 1)')"),
        (rt, "logsumexp(unvec(y, 1)')"),
    ] {
        let lse = pool.intern(Node::Reduce(Reduce::LogSumExp, arg)).unwrap();
        assert_eq!(pool.plain(lse), printed);
        let again = pool.parse(printed).unwrap().root;
        assert!(pool.shape(again).is_scalar(), "{printed}");
    }
}
