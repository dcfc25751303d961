//! The generated code of every catalog entry against matdiff-faer's evaluation (to 1e-10
//! relative): the Rust code, compiled into this crate by its build script, here; the NumPy and
//! JAX code, run by python3, in [`python`]. The build script derived, lowered and evaluated the
//! catalog once for all targets ([`matdiff_codegen_check::cases`]).

#[path = "generated/python.rs"]
mod python;

use std::sync::OnceLock;

use matdiff_codegen_check::{Case, GENERATED};
use matdiff_testkit::catalog;
use matdiff_testkit::codegen_cases::{entries, relative_error, TOLERANCE};

/// The catalog entries the generators translate, read once per test run.
fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(matdiff_codegen_check::cases)
}

/// The catalog's stand-in for the abstract function number `k` (as in `catalog::make_functions`)
/// or its derivative of order 1 or 2: `g(x) = tanh(a*x) + x^2/10`, `a = 0.5 + 0.25 k`.
fn stand_in(k: usize, order: u8) -> Box<dyn Fn(f64) -> f64> {
    let a = 0.5 + 0.25 * k as f64;
    match order {
        0 => Box::new(move |x: f64| (a * x).tanh() + x * x / 10.0),
        1 => Box::new(move |x: f64| a * (1.0 - (a * x).tanh().powi(2)) + x / 5.0),
        _ => Box::new(move |x: f64| {
            let t = (a * x).tanh();
            -(2.0 * a * a * t * (1.0 - t * t)) + 0.2
        }),
    }
}

#[test]
fn generated_rust_matches_matdiff_faer() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases() {
        let run = GENERATED
            .iter()
            .find(|g| g.0 == case.name)
            .unwrap_or_else(|| panic!("{}: no generated function", case.name))
            .1;
        let functions = &case.functions;
        let v = case.values();
        let f = |name: &str| -> Box<dyn Fn(f64) -> f64> {
            let (base, order) = match name.split_once("_prime") {
                Some((b, "")) => (b, 1),
                Some((b, _)) => (b, 2),
                None => (name, 0),
            };
            let k = functions
                .iter()
                .position(|x| x == base)
                .expect("a function");
            stand_in(k, order)
        };
        let (value, gradient) = run(&v, &f);
        let ev = relative_error(&[value], &[case.value]);
        let eg = relative_error(&entries(&gradient), &case.gradient);
        if !(ev <= TOLERANCE && eg <= TOLERANCE) {
            failures.push(format!(
                "{}: value error {ev:.1e}, gradient error {eg:.1e}",
                case.name
            ));
        }
        ran += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran >= 30, "only {ran} entries ran");
    assert_eq!(ran, GENERATED.len());
}

/// Variables named like the generated body's locals (`out`, `s`, `a`, `b`)
/// are renamed in the generated code, which computes what matdiff-faer computes.
#[test]
fn reserved_names_are_renamed() {
    use matdiff_faer::{Options, Plan, Sizes, Values};
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
    let mut draw = |r, c| catalog::random_value(&mut rng, r, c, r == c, false, false);
    let values = Values::new()
        .with("A", draw(3, 3))
        .with("B", draw(3, 3))
        .with("a", draw(4, 1))
        .with("b", draw(4, 1))
        .with("out", draw(5, 1))
        .with("s", draw(5, 1))
        .with("t", draw(5, 1));
    let v = |n: &str| values.get(n).unwrap().as_ref();
    let (value, g_out, g_s) = matdiff_codegen_check::reserved_names(
        v("A"),
        v("B"),
        v("a"),
        v("b"),
        v("out"),
        v("s"),
        v("t"),
    );
    let mut pool = matdiff_expr::ExprPool::new();
    let e = pool.parse(matdiff_codegen_check::RESERVED_NAMES).unwrap();
    let g = pool.parse("exp(out) .* s .* t").unwrap().root;
    let h = pool.parse("exp(out) .* t").unwrap().root;
    let sizes = Sizes::from_values(&pool, &values).unwrap();
    let mut plan = Plan::compile_with(&pool, &[e.root, g, h], &sizes, &Options::new()).unwrap();
    let r = plan.run(&values).unwrap();
    assert!(relative_error(&[value], &[r[0][(0, 0)]]) <= TOLERANCE);
    assert!(relative_error(&entries(&g_out), &entries(&r[1])) <= TOLERANCE);
    assert!(relative_error(&entries(&g_s), &entries(&r[2])) <= TOLERANCE);
}
