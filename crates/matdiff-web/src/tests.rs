//! The JSON the page reads, for the seed's examples and bad input.

use serde_json::Value;

fn json(text: String) -> Value {
    serde_json::from_str(&text).expect("valid JSON")
}

const SEED: &str = "tr(Y'*M*Y) where Y = sigmoid(W*X)";

#[test]
fn the_seeds_example_derives_with_its_steps_and_rules() {
    let d = json(super::derivation(SEED, "X", "M: symmetric"));
    assert_eq!(d["ok"], true, "{d}");
    assert_eq!(
        d["gradient"]["plain"],
        "2*W'*((M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)"
    );
    let steps = d["steps"].as_array().unwrap();
    // The README's derivation of this example, line for line.
    assert_eq!(steps.len(), 12);
    assert_eq!(steps[0]["lhs"], "f");
    assert_eq!(steps[6]["lhs"], "\\frac{\\partial f}{\\partial Y}");
    assert_eq!(steps[6]["rules"], serde_json::json!(["C"]));
    assert_eq!(steps[2]["continues"], true);
    assert_eq!(steps[2]["lhs"], "");
    // Every rule a step names is in the catalog the page shows.
    let catalog = json(super::rules());
    let ids: Vec<&str> = catalog
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for step in steps {
        for id in step["rules"].as_array().unwrap() {
            assert!(ids.contains(&id.as_str().unwrap()), "{id} not in catalog");
        }
    }
}

#[test]
fn analyze_lists_the_variables_with_their_shapes() {
    let a = json(super::analyze(SEED, "M: symmetric"));
    assert_eq!(a["ok"], true, "{a}");
    let names: Vec<(&str, bool)> = a["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap(),
                v["symmetric"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("M", true), ("W", false), ("X", false)]);
}

#[test]
fn errors_carry_their_span_in_utf16_units() {
    // The span of the shape error: the operator of the product of a 3x4 by a 3x4.
    let e = json(super::analyze("A*B + C", "A: 3x4; B: 3x4"));
    assert_eq!(e["ok"], false);
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("inner dimensions"));
    assert_eq!(
        (e["error"]["start"].as_u64(), e["error"]["end"].as_u64()),
        (Some(1), Some(2))
    );
    // After a two-byte character, offsets count UTF-16 units, not bytes.
    let e = json(super::analyze("tr(Ä) + )", ""));
    let start = e["error"]["start"].as_u64().unwrap();
    assert_eq!(start, "tr(Ä) + ".encode_utf16().count() as u64, "{e}");
    // An error in a declaration names it.
    let e = json(super::analyze("a'*X*b", "X: 3x4; b: 3x"));
    assert_eq!(e["error"]["decl"], 1, "{e}");
}

#[test]
fn no_variable_or_a_function_name_is_an_error_not_a_panic() {
    let e = json(super::derivation("a'*X*b", "", ""));
    assert_eq!(e["error"]["message"], "choose a variable");
    let e = json(super::derivation("a'*X*b", "sign", ""));
    assert_eq!(e["ok"], false, "{e}");
    // A variable that does not occur has a zero gradient, as on the command line.
    let e = json(super::derivation("a'*X*b", "Z", ""));
    assert_eq!(
        e["gradient"]["plain"], "0*ones(rows(Z))*ones(cols(Z))'",
        "{e}"
    );
}

#[test]
fn the_check_agrees_on_the_seeds_examples() {
    for (expr, wrt, lets) in [
        (SEED, "X", "M: symmetric"),
        (SEED, "M", "M: symmetric"),
        ("a'*exp(X*b)", "X", ""),
        ("norm2(X*w - y)^2", "w", "X: 5x3"),
        // Structured variables: the check moves them inside their structure.
        ("a'*D*D*b + sum(exp(D))", "D", "D: diagonal"),
        ("x'*L*L'*x - 2*logdet(L)", "L", "L: lower"),
        ("tr(inv(U)) + a'*U*b", "U", "U: upper"),
        // A diagonal variable moves its diagonal only (the gradient is I .* G).
        ("tr(A*D*B)", "D", "D: diagonal; A: 3x4; B: 4x3"),
    ] {
        let c = json(super::check(expr, wrt, lets, 1));
        assert_eq!(c["ok"], true, "{expr}: {c}");
        assert_eq!(c["agrees"], true, "{expr}: {c}");
        assert!(c["max_error_complex_step"].as_f64().unwrap() <= 1e-8);
    }
}

#[test]
fn the_check_reports_a_function_outside_its_domain() {
    let c = json(super::check("sum(log(-exp(X)))", "X", "", 0));
    assert_eq!(c["ok"], false, "{c}");
    assert!(
        c["error"]["message"]
            .as_str()
            .unwrap()
            .contains("log of a non-positive entry"),
        "{c}"
    );
}

#[test]
fn a_derivation_too_large_to_print_is_refused_quickly() {
    // Fifty nested layers derive at once but print their steps in about 100 MB. The engine
    // recurses once per level, and an unoptimised build's frames are large: a thread of its own.
    let deep = format!("sum({}x{})", "tanh(W*".repeat(50), ")".repeat(50));
    let d = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || json(super::derivation(&deep, "W", "")))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(d["ok"], false);
    assert_eq!(
        d["error"]["message"],
        "the derivation is too large to show: it prints expressions of more than 200000 characters"
    );
    // Ten layers show.
    let shallow = format!("sum({}x{})", "tanh(W*".repeat(10), ")".repeat(10));
    assert_eq!(json(super::derivation(&shallow, "W", ""))["ok"], true);
}

#[test]
fn a_gradient_that_cannot_name_a_size_is_refused() {
    // `sum(ones)` has a size no variable names: its gradient text would not evaluate.
    for (expr, wrt) in [
        ("alpha*sum(ones)", "alpha"),
        ("sum((w - alpha*tr(I)).^2)", "w"),
    ] {
        let d = json(super::derivation(expr, wrt, ""));
        assert_eq!(d["ok"], false, "{d}");
        let message = d["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!(
                "the gradient with respect to {wrt} has a size that no variable"
            )),
            "{d}"
        );
        assert_eq!(json(super::check(expr, wrt, "", 0))["ok"], false);
    }
    // With the size written, or fixed by a variable, the gradient shows.
    let d = json(super::derivation("alpha*sum(ones(3))", "alpha", ""));
    assert_eq!(d["gradient"]["plain"], "3", "{d}");
    let d = json(super::derivation("sum(unvec(y.^2, 2))", "y", ""));
    assert_eq!(
        d["gradient"]["plain"], "2*(y .* vec(ones(2)*ones(rows(y)/2)'))",
        "{d}"
    );
}
