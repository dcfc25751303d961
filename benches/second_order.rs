//! Second order against JAX (`benches/second_order_jax.py`, run in the same session: it prints
//! the same ids): the dense Hessian and the Hessian-vector product, derived once by
//! `matdiff-rewrite` and evaluated by a `Plan` on 2 threads, for
//! (a) `x'*A*x`, (b) `logsumexp(x)`, (c) the logistic loss with 4n samples and n features,
//! (d) a one-hidden-layer tanh network (2 hidden units, 4n samples) wrt its first weights, whose
//!     dense Hessian comes from its HVP plan (`dense_linear_map`, one run per entry),
//! at n = 64, 256, 1024. Only the run is timed (JAX: the jitted call, compiled beforehand), as
//! a loop runs a plan: `run_into` writes into the previous run's matrices (no allocation, no
//! scan of the outputs for non-finite entries; XLA likewise reuses its buffers).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use matdiff_expr::{Decl, ExprId, ExprPool};
use matdiff_faer::{dense_linear_map, Mat, Options, Plan, Sizes, Values};
use matdiff_rewrite::{hessian, hvp, DeriveOptions};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const SIZES: [usize; 3] = [64, 256, 1024];

fn random(rng: &mut SmallRng, r: usize, c: usize) -> Mat<f64> {
    Mat::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0))
}

/// One problem: its source, variable, and values at size n (the direction included).
struct Problem {
    name: &'static str,
    source: &'static str,
    wrt: &'static str,
    values: fn(usize) -> Values<f64>,
}

const PROBLEMS: [Problem; 4] = [
    Problem {
        name: "quadratic",
        source: "x'*A*x",
        wrt: "x",
        values: |n| {
            let mut rng = SmallRng::seed_from_u64(1);
            Values::new()
                .with("A", random(&mut rng, n, n))
                .with("x", random(&mut rng, n, 1))
        },
    },
    Problem {
        name: "logsumexp",
        source: "logsumexp(x)",
        wrt: "x",
        values: |n| {
            let mut rng = SmallRng::seed_from_u64(2);
            Values::new().with("x", random(&mut rng, n, 1))
        },
    },
    Problem {
        name: "logistic",
        source: "sum(log(1 + exp(-y .* (X*w))))",
        wrt: "w",
        values: |n| {
            let mut rng = SmallRng::seed_from_u64(3);
            let y = Mat::from_fn(
                4 * n,
                1,
                |_, _| if rng.random_bool(0.5) { 1.0 } else { -1.0 },
            );
            Values::new()
                .with("X", random(&mut rng, 4 * n, n))
                .with("y", y)
                .with(
                    "w",
                    Mat::from_fn(n, 1, |_, _| 0.1 * rng.random_range(-1.0..1.0)),
                )
        },
    },
    Problem {
        name: "tanh_network",
        source: "0.5*norm2(tanh(X*W1)*w2 - y)^2",
        wrt: "W1",
        values: |n| {
            let mut rng = SmallRng::seed_from_u64(4);
            Values::new()
                .with("X", random(&mut rng, 4 * n, n))
                .with(
                    "W1",
                    Mat::from_fn(n, 2, |_, _| 0.1 * rng.random_range(-1.0..1.0)),
                )
                .with("w2", random(&mut rng, 2, 1))
                .with("y", random(&mut rng, 4 * n, 1))
        },
    },
];

fn options() -> Options<f64> {
    Options::new().threads(2)
}

fn sizes_of(values: &Values<f64>) -> Vec<Decl> {
    values
        .iter()
        .map(|(n, m)| Decl::sized(n, m.nrows() as u64, m.ncols() as u64))
        .collect()
}

fn second_order(c: &mut Criterion) {
    for problem in &PROBLEMS {
        let mut group = c.benchmark_group(format!("second_order/{}", problem.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for n in SIZES {
            let mut values = (problem.values)(n);
            let x = values.get(problem.wrt).unwrap().clone();
            let mut rng = SmallRng::seed_from_u64(9);
            let v = random(&mut rng, x.nrows(), x.ncols());
            let mut pool = ExprPool::new();
            let e = pool.parse_with(problem.source, &sizes_of(&values)).unwrap();
            let derive_options = DeriveOptions::default();
            let h = hvp(&mut pool, &e, problem.wrt, "V", &derive_options).unwrap();
            values.insert("V", v);
            let sizes = Sizes::from_values(&pool, &values).unwrap();
            let mut hvp_plan = Plan::compile_with(&pool, &[h.result], &sizes, &options()).unwrap();
            let mut outputs = Vec::new();
            group.bench_function(BenchmarkId::new("hvp", n), |b| {
                b.iter(|| {
                    hvp_plan.run_into(black_box(&values), &mut outputs).unwrap();
                    black_box(&outputs);
                })
            });
            if x.ncols() == 1 {
                let dense = hessian(&mut pool, &e, problem.wrt, &derive_options).unwrap();
                let roots: [ExprId; 1] = [dense.result];
                let mut plan = Plan::compile_with(&pool, &roots, &sizes, &options()).unwrap();
                group.bench_function(BenchmarkId::new("hessian", n), |b| {
                    b.iter(|| {
                        plan.run_into(black_box(&values), &mut outputs).unwrap();
                        black_box(&outputs);
                    })
                });
            } else {
                group.bench_function(BenchmarkId::new("hessian", n), |b| {
                    b.iter(|| {
                        black_box(
                            dense_linear_map(&pool, h.result, "V", black_box(&values), &options())
                                .unwrap(),
                        )
                    })
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, second_order);
criterion_main!(benches);
