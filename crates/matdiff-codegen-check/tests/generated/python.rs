//! Every catalog entry's generated NumPy and JAX code, run by python3, against matdiff-faer's
//! evaluation of the function and the gradient (to 1e-10 relative); the NumPy module's
//! `check_gradient()` against central differences. Needs python3 with numpy and jax
//! (`requirements-test.txt`, installed by `cargo xtask test`): without them the test fails.

use std::process::Command;

use serde_json::{json, Value};

use matdiff_testkit::catalog;
use matdiff_testkit::codegen_cases::{excluded, relative_error, TOLERANCE};

#[test]
fn catalog_numpy_and_jax_match_matdiff_faer() {
    let mut failures = Vec::new();
    let cases: Vec<Value> = super::cases()
        .iter()
        .map(|case| {
            json!({
                "name": case.name,
                "numpy": case.numpy,
                "jax": case.jax,
                "inputs": case.inputs,
                "functions": case.functions,
            })
        })
        .collect();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("codegen_cases.json");
    std::fs::write(&path, serde_json::to_string(&cases).unwrap()).unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generated/run_generated.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&path)
        .output()
        .expect("python3 runs (install it, with requirements-test.txt)");
    assert!(
        out.status.success(),
        "python3 failed (are numpy and jax installed? pip install -r requirements-test.txt):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut checked = 0;
    for case in super::cases() {
        let name = &case.name;
        for target in ["numpy", "jax"] {
            let r = &results[name][target];
            if let Some(e) = r.get("error") {
                failures.push(format!("{name} ({target}): {e}"));
                continue;
            }
            let v = r["value"].as_f64().unwrap_or(f64::NAN);
            let g: Vec<f64> = r["gradient"]
                .as_array()
                .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
                .unwrap_or_default();
            let ev = relative_error(&[v], &[case.value]);
            let eg = relative_error(&g, &case.gradient);
            if !(ev <= TOLERANCE && eg <= TOLERANCE) {
                failures.push(format!(
                    "{name} ({target}): value error {ev:.1e}, gradient error {eg:.1e}"
                ));
            }
            // A NaN check comes as null: a failure, not a skip.
            if let Some(c) = r.get("check").map(|c| c.as_f64().unwrap_or(f64::NAN)) {
                if c.is_nan() || c > 1e-5 {
                    failures.push(format!("{name}: check_gradient() error {c:.1e}"));
                }
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every entry that is not excluded ran in both targets.
    assert_eq!(
        checked,
        2 * (catalog::catalog_files().len() - excluded().len())
    );
}
