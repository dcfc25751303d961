//! The code generators' differential fuzzer in CI: expressions drawn by the first-order
//! fuzzer's generator, derived, lowered and printed, each lowered with and without its sizes;
//! the generated code's value and gradient against matdiff-faer's evaluation of the derivation
//! (itself checked against the complex step), to 1e-10 relative (a gradient to the larger of its
//! largest entry and the first-order fuzzer's floor at the scale of the function)
//! (`matdiff_testkit::codegen_differential`). The Rust code of 150 seeds is compiled into this
//! crate by its build script; the NumPy code of 600 seeds (with `check_gradient()`) and the JAX
//! code of every eighth runs through one python3 process. Needs python3 with numpy and jax
//! (`requirements-test.txt`, installed by `cargo xtask test`): without them the test fails. A
//! long run: `cargo run -p matdiff-codegen-check --example fuzz_codegen -- 20000`.

use matdiff_codegen::Lang;
use matdiff_codegen_check::{fuzz, values_of};
use matdiff_testkit::codegen_cases::entries;
use matdiff_testkit::codegen_differential::{run_python, Report, TOLERANCE};

#[test]
fn generated_rust_of_drawn_expressions_matches_matdiff_faer() {
    let report = fuzz::report();
    let failures: Vec<&str> = report["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|f| f.as_str().expect("a failure"))
        .collect();
    let mut wrong = Vec::new();
    let cases = report["cases"].as_array().expect("cases");
    for case in cases {
        let name = case["name"].as_str().expect("a name");
        let run = fuzz::FUZZ
            .iter()
            .find(|g| g.0 == name)
            .unwrap_or_else(|| panic!("{name}: no generated function"))
            .1;
        // The generator draws built-in functions only: no stand-ins are needed.
        assert!(case["functions"].as_array().is_some_and(|f| f.is_empty()));
        let no_functions = |f: &str| -> Box<dyn Fn(f64) -> f64> {
            panic!("{name} calls the abstract function {f}")
        };
        let (value, gradient) = run(
            &values_of(case["inputs"].as_object().expect("inputs")),
            &no_functions,
        );
        let number = |x: &serde_json::Value| x.as_f64().expect("a number");
        let (expected, scale) = (number(&case["value"]), number(&case["scale"]));
        let reference: Vec<f64> = case["gradient"]
            .as_array()
            .expect("a gradient")
            .iter()
            .map(number)
            .collect();
        let ev = (value - expected).abs() / (1.0 + expected.abs());
        let g = entries(&gradient);
        let eg = if g.len() == reference.len() {
            g.iter()
                .zip(&reference)
                .map(|(x, r)| (x - r).abs() / scale)
                .fold(0.0, f64::max)
        } else {
            f64::INFINITY
        };
        if !(ev <= TOLERANCE && eg <= TOLERANCE) {
            wrong.push(format!(
                "{name} (rust): {}: value error {ev:.1e}, gradient error {eg:.1e}",
                case["text"]
            ));
        }
    }
    eprintln!(
        "rust: {} cases of {} seeds; refused: {}",
        cases.len(),
        report["seeds"],
        report["refused"]
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(cases.len() >= 200, "only {} cases", cases.len());
}

#[test]
fn generated_numpy_and_jax_of_drawn_expressions_match_matdiff_faer() {
    let mut report = Report::default();
    let cases = report.draw(0..600);
    let json: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            let targets: &[Lang] = if c.seed % 8 == 0 {
                &[Lang::NumPy, Lang::Jax]
            } else {
                &[Lang::NumPy]
            };
            c.python_json(targets)
        })
        .collect();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generated/run_generated.py");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("codegen_fuzz_cases.json");
    let results = run_python(&json, &script, &path).unwrap_or_else(|e| panic!("{e}"));
    report.add_python(&cases, &results);
    eprintln!("{}", report.summary());
    assert!(
        report.failed == 0,
        "{} failed:\n{}",
        report.failed,
        report.failures.join("\n")
    );
    // Most seeds lower both ways; every case ran in NumPy, an eighth of the seeds in JAX.
    assert_eq!(report.ran.get("numpy"), Some(&cases.len()));
    assert!(cases.len() >= 1000, "only {} cases", cases.len());
    assert!(report.ran.get("jax").is_some_and(|&n| n >= 100));
}

/// The smallest forms of the failures the fuzzer found (`REPRODUCERS`), in NumPy (with
/// `check_gradient()`) and JAX; their Rust code is among the build script's cases.
#[test]
fn reproducers_of_fixed_failures_match_matdiff_faer() {
    let mut report = Report::default();
    let cases = report.reproducers();
    let json: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| c.python_json(&[Lang::NumPy, Lang::Jax]))
        .collect();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generated/run_generated.py");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("codegen_reproducers.json");
    let results = run_python(&json, &script, &path).unwrap_or_else(|e| panic!("{e}"));
    report.add_python(&cases, &results);
    assert!(
        report.failed == 0,
        "{} failed:\n{}",
        report.failed,
        report.failures.join("\n")
    );
    let n = 2 * matdiff_testkit::codegen_differential::REPRODUCERS.len();
    assert_eq!(cases.len(), n);
    assert_eq!(report.ran.get("jax"), Some(&n));
}
