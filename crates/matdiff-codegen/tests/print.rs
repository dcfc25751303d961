//! The generated text of a few functions in each language (reviewed snapshots), and the errors.

use matdiff_codegen::{codegen, CodegenError, Lang, Options};

/// The generated source of `src` with respect to `wrt` (comma-separated) in `lang`.
fn check(src: &str, wrt: &str, decls: &[&str], lang: Lang) -> String {
    let wrt: Vec<&str> = wrt.split(',').collect();
    codegen(src, &wrt, decls, lang, &Options::default()).unwrap()
}

#[test]
fn seed_2_5_4_in_each_language() {
    let src = "tr(Y'*M*Y) where Y = sigmoid(W*X)";
    let decls = ["M: symmetric"];
    insta::assert_snapshot!("seed_numpy", check(src, "X,W", &decls, Lang::NumPy));
    insta::assert_snapshot!("seed_jax", check(src, "X", &decls, Lang::Jax));
    insta::assert_snapshot!("seed_rust", check(src, "X", &decls, Lang::Rust));
}

#[test]
fn solves_sums_and_functions() {
    // inv(S) in products is a solve; logdet is slogdet.
    insta::assert_snapshot!(
        "gaussian_numpy",
        check(
            "logdet(S) + (x - mu)'*inv(S)*(x - mu)",
            "S,mu",
            &["S: symmetric"],
            Lang::NumPy
        )
    );
    // ones at the end of a product is a row sum.
    insta::assert_snapshot!(
        "softmax_numpy",
        check(
            "-sum(Y .* log(exp(W*X) ./ (ones*(ones'*exp(W*X)))))",
            "W",
            &[],
            Lang::NumPy
        )
    );
    // An abstract function is an argument, with its derivative.
    insta::assert_snapshot!(
        "layer_rust",
        check("norm2(g(W*x) - y)^2", "W", &[], Lang::Rust)
    );
}

#[test]
fn errors_are_typed() {
    let options = Options::default();
    let e = codegen("tr(X*", &["X"], &[], Lang::NumPy, &options).unwrap_err();
    assert!(matches!(e, CodegenError::Parse(_)), "{e}");
    let e = codegen("tr(X)", &["X"], &["X 3x3"], Lang::NumPy, &options).unwrap_err();
    assert!(matches!(e, CodegenError::Decl { .. }), "{e}");
    let e = codegen("tr(X)", &["sign"], &[], Lang::NumPy, &options).unwrap_err();
    assert!(matches!(e, CodegenError::Derive(_)), "{e}");
    let e = codegen("tr(X)", &[], &[], Lang::Rust, &options).unwrap_err();
    assert!(matches!(e, CodegenError::NoVariable), "{e}");
    let bad = Options {
        name: "f-g".to_string(),
        ..Options::default()
    };
    let e = codegen("tr(X)", &["X"], &[], Lang::Rust, &bad).unwrap_err();
    assert_eq!(e.to_string(), "'f-g' is not a valid function name");
    // A size no argument fixes.
    let e = codegen(
        "sum(x) + alpha*sum(ones)",
        &["x"],
        &[],
        Lang::NumPy,
        &options,
    );
    if let Err(e) = e {
        assert!(matches!(e, CodegenError::UnknownSize { .. }), "{e}");
    }
}
