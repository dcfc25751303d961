//! The differential fuzzer in CI: 20,000 random expressions, every printed gradient and every
//! value checked against the complex step through the naive evaluator. A long run is
//! `cargo xtask fuzz-differential --cases 1000000`.

use matdiff_testkit::differential::run;

#[test]
fn twenty_thousand_random_expressions_agree_with_the_complex_step() {
    let report = run(0, 20_000);
    for f in &report.failures {
        eprintln!("{f}");
    }
    assert_eq!(
        report.failures.count(),
        0,
        "{} of {} cases disagree",
        report.failures.count(),
        report.cases
    );
    // The reference refuses values outside a domain; most cases must still be checked.
    assert!(
        report.checked * 10 >= report.cases * 7,
        "only {} of {} cases checked",
        report.checked,
        report.cases
    );
}
