//! The extension point: a downstream crate registers a new element-wise function with its
//! derivative (symbolic, for the rewriter) and its numeric implementation (for the backend), and
//! derives through it.

mod common;

use common::{complex_step, random_values, relative_error};
use matdiff_expr::ExprPool;
use matdiff_faer::{Complex, Functions as Numeric, Options, Plan, Scalar, Sizes};
use matdiff_rewrite::{derive, Derivatives, DeriveOptions};

/// softsign(x) = x / (1 + |x|), softsign'(x) = 1 / (1 + |x|)^2.
fn numeric<T: Scalar>() -> Numeric<T> {
    let one = || T::from_f64(1.0);
    // |x| for the analytic extension: x * sign(Re x).
    let abs = |x: T| if x.re() < 0.0 { -x } else { x };
    Numeric::new().with(
        "softsign",
        move |x: T| x / (one() + abs(x)),
        move |x: T| {
            let d = one() + abs(x);
            one() / (d * d)
        },
    )
}

fn check(src: &str, wrt: &str, expected: &str) {
    let mut symbolic = Derivatives::new();
    symbolic.register("softsign", "1 ./ (1 + abs(x)).^2");
    let options = DeriveOptions {
        functions: symbolic,
        ..DeriveOptions::default()
    };
    let mut pool = ExprPool::new();
    // A name of more than one letter is an abstract function once declared.
    let declared = matdiff_expr::Decl::parse("softsign: function").unwrap();
    let e = pool.parse_with(src, &[declared]).unwrap();
    let d = derive(&mut pool, &e, wrt, &options).unwrap();
    assert_eq!(
        d.gradient_text(&pool, matdiff_expr::Style::Plain),
        expected,
        "{src}"
    );
    for seed in 0..3 {
        let values = random_values(
            &pool,
            &[d.function, d.gradient],
            &[("m", 4), ("n", 3), ("p", 5)],
            seed,
        );
        let sizes = Sizes::from_values(&pool, &values).unwrap();
        let mut plan = Plan::compile_with(
            &pool,
            &[d.gradient],
            &sizes,
            &Options::new().functions(numeric::<f64>()),
        )
        .unwrap();
        let got = plan.run(&values).unwrap().remove(0);
        let reference = complex_step(&pool, d.function, wrt, &values, numeric::<Complex<f64>>());
        let err = relative_error(&got, &reference);
        assert!(err < 1e-10, "{src} wrt {wrt} (seed {seed}): {err:e}");
    }
}

#[test]
fn a_registered_function_is_differentiated_through() {
    check("sum(softsign(W*x))", "x", "W'*(1 ./ (1 + abs(W*x)).^2)");
    check("sum(softsign(W*x))", "W", "(1 ./ (1 + abs(W*x)).^2)*x'");
    check("a'*softsign(X*b)", "X", "(a ./ (1 + abs(X*b)).^2)*b'");
}
