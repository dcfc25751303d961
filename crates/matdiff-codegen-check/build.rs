//! Derives, lowers and evaluates every catalog entry once, and writes what the tests need into
//! `OUT_DIR`: `generated.rs`, the Rust functions of the entries the Rust target translates (one
//! per entry, named after it, and a table of them), and `cases.json`, each entry's NumPy and JAX
//! code, inputs and matdiff-faer's value and gradient; `fuzz.rs` and `fuzz.json`, the same for
//! expressions drawn by the differential fuzzer's generator.

use std::fmt::Write;

use matdiff_codegen::{Lang, Options};
use matdiff_testkit::codegen_cases::{entries, inputs_json, rust_function, Case};
use serde_json::{json, Value};

/// An expression whose variables are named like the generated body's own names.
const RESERVED_NAMES: &str = "sum(exp(out) .* s .* t) + tr(A*inv(B)) + sigmoid(a'*b)";

fn main() {
    println!("cargo::rerun-if-changed=../matdiff-rewrite/tests/derivations");
    // The entries the generators refuse, with the reason (shared with the NumPy and JAX test).
    let excluded: Vec<&str> = matdiff_testkit::codegen_cases::excluded()
        .into_iter()
        .map(|x| x.0)
        .collect();
    let mut out = String::new();
    let mut names = Vec::new();
    let mut cases = Vec::new();
    // The catalog is derived, lowered and evaluated here, once: the tests read the results.
    for case in matdiff_testkit::codegen_cases::cases() {
        let case = match case {
            Ok(case) if excluded.contains(&case.name.as_str()) => {
                panic!("{} is listed as excluded but lowers", case.name)
            }
            Ok(case) => case,
            Err((name, _)) if excluded.contains(&name.as_str()) => continue,
            Err((name, e)) => panic!("{name} does not lower: {e}"),
        };
        out.push_str(&rust_function(&case.name, &case.program));
        cases.push(case_json(&case));
        names.push(case.name);
    }
    // Variables named like the locals and helpers of the generated body.
    let options = Options {
        name: "reserved_names".to_string(),
        ..Options::default()
    };
    let code = matdiff_codegen::codegen(RESERVED_NAMES, &["out", "s"], &[], Lang::Rust, &options)
        .expect("rust code");
    out.push_str(&code);
    let _ = writeln!(out, "/// The expression of [`reserved_names`].");
    let _ = writeln!(out, "pub const RESERVED_NAMES: &str = {RESERVED_NAMES:?};");
    let _ = writeln!(
        out,
        "/// The generated functions by name, each through its wrapper."
    );
    let _ = writeln!(
        out,
        "pub const GENERATED: [(&str, crate::Run); {}] = [{}];",
        names.len(),
        names
            .iter()
            .map(|n| format!("({n:?}, run_{n})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    let dir = std::path::Path::new(&dir);
    std::fs::write(dir.join("generated.rs"), out).expect("OUT_DIR is writable");
    let cases = serde_json::to_string(&cases).expect("JSON");
    std::fs::write(dir.join("cases.json"), cases).expect("OUT_DIR is writable");
    fuzz(dir);
}

/// The seeds of the drawn expressions (`matdiff_testkit::generate::draw`) whose Rust code is
/// compiled into the crate, each lowered with and without its sizes.
const FUZZ_SEEDS: std::ops::Range<u64> = 0..150;

/// Writes `fuzz.rs`, the Rust functions of the drawn cases and of the reproducers (and the table `FUZZ` of their
/// wrappers), and `fuzz.json`: each case's inputs and matdiff-faer's results, the refusals by
/// reason and the failures found while lowering and evaluating.
fn fuzz(dir: &std::path::Path) {
    let mut report = matdiff_testkit::codegen_differential::Report::default();
    let mut cases = report.draw(FUZZ_SEEDS);
    cases.extend(report.reproducers());
    let mut out = String::new();
    for case in &cases {
        out.push_str(&case.rust());
    }
    let _ = writeln!(
        out,
        "/// The generated functions of the drawn cases by name, each through its wrapper.\npub const FUZZ: [(&str, crate::Run); {}] = [{}];",
        cases.len(),
        cases
            .iter()
            .map(|c| format!("({:?}, run_{})", c.name(), c.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::fs::write(dir.join("fuzz.rs"), out).expect("OUT_DIR is writable");
    let json = json!({
        "seeds": report.seeds,
        "cases": cases.iter().map(|c| c.expected_json()).collect::<Vec<_>>(),
        "refused": report.refused,
        "failures": report.failures,
    });
    std::fs::write(dir.join("fuzz.json"), json.to_string()).expect("OUT_DIR is writable");
}

/// What the tests need of a case: its NumPy and JAX code, its inputs (a scalar as a number, a
/// column as a list, a matrix as a list of rows), its abstract functions, and matdiff-faer's
/// value and gradient (entries column by column).
fn case_json(case: &Case) -> Value {
    let numpy_options = Options {
        check_gradient: true,
        ..Options::default()
    };
    let inputs = inputs_json(&case.values);
    json!({
        "name": case.name,
        "numpy": case.program.print(Lang::NumPy, &numpy_options).expect("numpy code"),
        "jax": case.program.print(Lang::Jax, &Options::default()).expect("jax code"),
        "inputs": inputs,
        "functions": case.functions,
        "value": case.value,
        "gradient": entries(&case.gradient),
    })
}
