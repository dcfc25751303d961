//! Property: a random well-shaped expression parses; its plain form parses again, in the same
//! pool, to the same node; the Unicode and LaTeX printers do not panic.

use matdiff_expr::{ExprPool, Style};
use matdiff_testkit::random_expr::Gen;
use proptest::prelude::*;

fn round_trip(seed: u64, budget: usize) -> Result<(), TestCaseError> {
    let src = Gen::new(seed).expression(budget).text;
    let mut pool = ExprPool::new();
    let e = pool
        .parse(&src)
        .map_err(|e| TestCaseError::fail(format!("{src:?} does not parse:\n{}", e.render(&src))))?;
    let print = |style| pool.printer(style).with_bindings(&e.bindings).print(e.root);
    let plain = print(Style::Plain);
    let _ = print(Style::Unicode);
    let _ = print(Style::Latex);
    // Without the bindings too (every node written out).
    let _ = pool.printer(Style::Unicode).print(e.root);
    let _ = pool.printer(Style::Latex).print(e.root);
    let again = pool.parse(&plain).map_err(|e| {
        TestCaseError::fail(format!(
            "{src:?} prints as {plain:?}, which does not parse:\n{}",
            e.render(&plain)
        ))
    })?;
    prop_assert_eq!(again.root, e.root, "{:?} prints as {:?}", src, plain);
    // The plain form is a fixed point.
    let twice = pool
        .printer(Style::Plain)
        .with_bindings(&again.bindings)
        .print(again.root);
    prop_assert_eq!(twice, plain);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_gives_the_same_node(seed in any::<u64>(), budget in 1usize..40) {
        round_trip(seed, budget)?;
    }
}

#[test]
fn the_generator_covers_the_language() {
    // Over a few hundred cases, every operator and function occurs.
    let mut text = String::new();
    for seed in 0..300 {
        text.push_str(&Gen::new(seed).expression(30).text);
        text.push('\n');
    }
    for needle in [
        " + ",
        " - ",
        "-(",
        "*",
        "/",
        " .* ",
        " ⊙ ",
        " ./ ",
        ".^",
        "'",
        "^T",
        "^2",
        "^-1",
        "exp(",
        "log(",
        "sin(",
        "cos(",
        "tan(",
        "tanh(",
        "sigmoid(",
        "σ(",
        "relu(",
        "softplus(",
        "sqrt(",
        "abs(",
        "tr(",
        "det(",
        "logdet(",
        "sum(",
        "norm1(",
        "norm2(",
        "inv(",
        "diag(",
        "tril(",
        "triu(",
        "logsumexp(",
        "softmax(",
        "I",
        "ones",
        "g(",
        "g'(",
        "h''(",
        "sigmoid'(",
        "where",
        "alpha",
        "2",
    ] {
        assert!(
            text.contains(needle),
            "no {needle:?} in the generated expressions"
        );
    }
}
