//! The acceptance table of issue 4: each derived gradient equals the listed closed form
//! numerically (and the complex-step gradient), and uses no more operators than it.

mod common;

use common::{complex_step, operators, random_values, relative_error};
use matdiff_expr::{Decl, ExprPool};
use matdiff_rewrite::{derive, DeriveOptions};

use matdiff_testkit::acceptance::{Case, CASES};

/// Sizes of the symbolic dimensions: distinct, so nothing is square by accident.
const SIZES: &[(&str, usize)] = &[
    ("m", 4),
    ("n", 3),
    ("p", 5),
    ("q", 2),
    ("r", 6),
    ("s", 3),
    ("t", 4),
];

/// Numeric bindings of the abstract functions g, g1, g2 of the table.
fn functions<T: matdiff_faer::Scalar>() -> matdiff_faer::Functions<T> {
    let mut f = matdiff_faer::Functions::new();
    for name in ["g", "g1", "g2"] {
        f.define(
            name,
            |x: T| x.sin() * x + x,
            |x: T| x.cos() * x + x.sin() + T::from_f64(1.0),
        );
    }
    f
}

fn check(case: &Case) {
    let (src, wrt, lets, upstream, expected) = *case;
    let mut pool = ExprPool::new();
    let decls: Vec<Decl> = lets.iter().map(|l| Decl::parse(l).unwrap()).collect();
    let e = pool.parse_with(src, &decls).unwrap();
    let options = DeriveOptions {
        upstream: upstream.map(str::to_string),
        ..DeriveOptions::default()
    };
    let d = derive(&mut pool, &e, wrt, &options).unwrap_or_else(|err| panic!("{src}: {err}"));
    // The literature form, with the same bindings.
    let suffix = src
        .split_once(" where ")
        .map_or(String::new(), |(_, b)| format!(" where {b}"));
    let lit = pool
        .parse(&format!("{expected}{suffix}"))
        .unwrap_or_else(|err| panic!("{expected}: {err}"));
    let named: Vec<_> = e.bindings.iter().map(|b| b.1).collect();
    let got_ops = operators(&pool, d.gradient, &named);
    let lit_ops = operators(&pool, lit.root, &named);
    assert!(
        got_ops <= lit_ops,
        "{src}: {} has {got_ops} operators, the literature's {expected} {lit_ops}",
        pool.plain(d.gradient)
    );
    for seed in 0..3 {
        let mut values = random_values(&pool, &[d.function, d.gradient, lit.root], SIZES, seed);
        // Invertible and positive-determinant where inv/det/logdet need it: X near 3*I + X'X.
        for name in ["X"] {
            if let Some(x) = values.get(name).cloned() {
                if x.nrows() == x.ncols()
                    && (src.contains("inv") || src.contains("det") || src.contains("^3"))
                {
                    let n = x.nrows();
                    let spd = matdiff_faer::Mat::from_fn(n, n, |i, j| {
                        (0..n).map(|k| x[(k, i)] * x[(k, j)]).sum::<f64>()
                            + if i == j { 3.0 } else { 0.0 }
                    });
                    values.insert(name, spd);
                }
            }
        }
        let sizes = matdiff_faer::Sizes::from_values(&pool, &values).unwrap();
        let opts = matdiff_faer::Options::<f64>::new().functions(functions());
        let mut plan =
            matdiff_faer::Plan::compile_with(&pool, &[d.gradient, lit.root], &sizes, &opts)
                .unwrap();
        let out = plan.run(&values).unwrap();
        let err = relative_error(&out[0], &out[1]);
        assert!(
            err < 1e-10,
            "{src} (seed {seed}): {} differs from {expected} by {err:e}",
            pool.plain(d.gradient)
        );
        let cs = complex_step(&pool, d.function, wrt, &values, functions());
        let err = relative_error(&out[0], &cs);
        assert!(
            err < 1e-10,
            "{src} (seed {seed}): {} differs from the complex step by {err:e}",
            pool.plain(d.gradient)
        );
    }
}

#[test]
fn acceptance_table() {
    for case in CASES {
        check(case);
    }
}
