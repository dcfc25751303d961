//! The second-order differential fuzzer in CI: 2,000 random scalar expressions (their
//! Hessian-vector products and Hessians) and 2,000 matrix-valued ones (their Jacobians), every
//! derived and printed result against the complex step of the checked gradient, or of F. A
//! long run is `cargo xtask fuzz-second-order 100000`.

use matdiff_testkit::second_differential::{run, Check};

#[test]
fn two_thousand_random_cases_agree_at_second_order() {
    let report = run(0, 2_000);
    eprintln!("{}", report.summary());
    for f in &report.failures {
        eprintln!("{f}");
    }
    let failed = report.failures.count();
    assert_eq!(failed, 0, "{failed} failures");
    // Refusals are typed and counted; most cases must still be checked, every kind of check
    // must be exercised, and without the sizes as well.
    for (check, least) in [
        (Check::Hvp, 1_600),
        (Check::DenseHessian, 800),
        (Check::KroneckerHessian, 300),
        (Check::DenseJacobian, 200),
        (Check::KroneckerJacobian, 900),
    ] {
        let t = &report.tallies[&check];
        assert!(
            t.checked >= least,
            "{check:?}: only {} checked of {least} expected",
            t.checked
        );
        assert!(
            t.without_sizes * 10 >= t.checked * 8,
            "{check:?}: only {} of {} checked without sizes",
            t.without_sizes,
            t.checked
        );
    }
}
