//! Regression tests for the bugs found while finishing issue 2 (named after the issue).

use matdiff_expr::{ExprPool, Node};

/// Nested products are spliced into their parent in one pass, only where the factors still
/// multiply (the rewrite of the quadratic splice kept its meaning).
#[test]
fn issue_2_product_flattening() {
    let mut pool = ExprPool::new();
    let flat = pool.parse("A*B*C*D").unwrap().root;
    assert_eq!(pool.parse("(A*B)*(C*D)").unwrap().root, flat);
    assert_eq!(pool.parse("A*(B*C)*D").unwrap().root, flat);
    assert_eq!(pool.node(flat).children().len(), 4);
    // `X*(a'*b)` would not multiply as `X*a'*b`: it stays nested.
    let nested = pool.parse("X*(a'*b)").unwrap().root;
    assert_eq!(pool.node(nested).children().len(), 2);
    // A scalar product stays one factor of a matrix product: `x*(u'*v)` scales x.
    let scaled = pool.parse("x*(u'*v)").unwrap().root;
    assert_ne!(pool.parse("x*u'*v").unwrap().root, scaled);
    assert_eq!(pool.node(scaled).children().len(), 2);
    // Scalar factors and a product: one product of four factors.
    let product = pool.parse("alpha*beta*(C*D)").unwrap().root;
    assert!(matches!(pool.node(product), Node::Mul(xs) if xs.len() == 4));
    // Long products of products (quadratic before): 2,000 factors of two.
    let long = vec!["(E*F)"; 1000].join("*");
    let e = pool.parse(&long).unwrap();
    assert_eq!(pool.node(e.root).children().len(), 2000);
}

/// The hash-consing hasher put every number whose `f64` bits differ only in high bits (the
/// integers) in one bucket: `1 + 2 + ... + n` interned in quadratic time. Distinct numbers must
/// spread over the low bits of the hash.
#[test]
fn issue_2_numbers_spread_over_the_hash_table() {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let build = BuildHasherDefault::<matdiff_expr::FxHasher>::default();
    let mut low: Vec<u64> = (1..=1000)
        .map(|k| build.hash_one(Node::Num(matdiff_expr::Num::new(k as f64).unwrap())) & 0xfff)
        .collect();
    low.sort_unstable();
    low.dedup();
    assert!(low.len() > 700, "only {} distinct low parts", low.len());
}

/// `tr(I)` used to get a new dimension at each parse, so its plain form parsed to another node.
#[test]
fn issue_2_unconstrained_identity_parses_to_the_same_node() {
    let mut pool = ExprPool::new();
    let e = pool.parse("tr(I) + sum(ones) + ones'*ones").unwrap();
    let plain = pool.plain(e.root);
    assert_eq!(pool.parse(&plain).unwrap().root, e.root);
}

/// `---x` was accepted but its plain form `-(-(-x))` nested too deeply to parse again, and deep
/// syntax trees overflowed a 2 MiB stack in a debug build.
#[test]
fn issue_2_deep_negation_round_trip() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut pool = ExprPool::new();
            let src = format!("{}x", "-".repeat(200));
            let e = pool.parse(&src).unwrap();
            let plain = pool.plain(e.root);
            assert!(plain.starts_with("-(-(-("));
            assert_eq!(pool.parse(&plain).unwrap().root, e.root);
        })
        .unwrap()
        .join()
        .unwrap();
}
