//! Newton's method on the logistic loss: the derived Hessian-vector product against the complex
//! step of the derived gradient plan (the two routes of `matdiff_optim::Derived`), one product,
//! the dense Hessian, and the whole minimisation. The breast cancer data (569 x 30, standardised)
//! and a synthetic problem with 4d samples in d = 256 features.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use faer::Mat;
use matdiff_expr::{Decl, ExprPool};
use matdiff_faer::Values;
use matdiff_optim::{minimize, Derived, Options, SecondOrder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const OBJECTIVE: &str = "sum(log(1 + exp(-s .* (Z*w + b)))) + 0.5*norm2(w)^2";

/// The breast cancer features standardised (population standard deviation), `s = 2*malignant - 1`.
fn breast_cancer() -> (Mat<f64>, Mat<f64>) {
    let csv = matdiff_testkit::data::BREAST_CANCER_CSV;
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let (n, p) = (rows.len(), rows[0].len() - 1);
    let mean: Vec<f64> = (0..p)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    let std: Vec<f64> = (0..p)
        .map(|j| (rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n as f64).sqrt())
        .collect();
    (
        Mat::from_fn(n, p, |i, j| (rows[i][j] - mean[j]) / std[j]),
        Mat::from_fn(n, 1, |i, _| 2.0 * rows[i][p] - 1.0),
    )
}

/// 4d samples in d features, labels of a random linear model with noise.
fn synthetic(d: usize) -> (Mat<f64>, Mat<f64>) {
    let mut rng = SmallRng::seed_from_u64(d as u64);
    let z = Mat::from_fn(4 * d, d, |_, _| rng.random_range(-1.0..1.0));
    let w: Vec<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let s = Mat::from_fn(4 * d, 1, |i, _| {
        let m: f64 = (0..d).map(|j| z[(i, j)] * w[j]).sum();
        if m + rng.random_range(-1.0..1.0) > 0.0 {
            1.0
        } else {
            -1.0
        }
    });
    (z, s)
}

fn objective(z: &Mat<f64>, s: &Mat<f64>, complex_step: bool) -> Derived {
    let mut pool = ExprPool::new();
    let decls = [
        Decl::sized("Z", z.nrows() as u64, z.ncols() as u64),
        Decl::sized("s", s.nrows() as u64, 1),
        Decl::parse("b: scalar").unwrap(),
    ];
    let e = pool.parse_with(OBJECTIVE, &decls).unwrap();
    let data = Values::new().with("Z", z.clone()).with("s", s.clone());
    let f = Derived::new(&mut pool, &e, &["w", "b"], &data).unwrap();
    if complex_step {
        f.with_complex_step()
    } else {
        f
    }
}

fn logistic(c: &mut Criterion) {
    for (name, (z, s)) in [("breast_cancer", breast_cancer()), ("d256", synthetic(256))] {
        let mut group = c.benchmark_group(format!("optim/{name}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4));
        let n = z.ncols() + 1;
        let mut rng = SmallRng::seed_from_u64(1);
        let x: Vec<f64> = (0..n).map(|_| rng.random_range(-0.1..0.1)).collect();
        let v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        for (route, complex_step) in [("derived", false), ("complex-step", true)] {
            let mut f = objective(&z, &s, complex_step);
            group.bench_function(BenchmarkId::new("hvp", route), |b| {
                b.iter(|| f.hessian_vector(black_box(&x), black_box(&v)).unwrap())
            });
            if n <= 64 {
                group.bench_function(BenchmarkId::new("dense_hessian", route), |b| {
                    b.iter(|| f.hessian(black_box(&x)).unwrap())
                });
            }
            let options = Options::default();
            group.bench_function(BenchmarkId::new("minimize", route), |b| {
                b.iter(|| minimize(&mut f, vec![0.0; n], &options).unwrap())
            });
        }
        let mut f = objective(&z, &s, false);
        group.bench_function("gradient", |b| {
            b.iter(|| f.value_and_gradient(black_box(&x)).unwrap())
        });
        group.finish();
    }
}

/// The dense Hessian (Cholesky) against Newton-CG on the same problems, derived products: where
/// the default `Options::dense_limit` (32 unknowns) should sit.
fn dense_or_cg(c: &mut Criterion) {
    let mut group = c.benchmark_group("optim/dense_or_cg");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let problems = [
        ("breast_cancer", breast_cancer()),
        ("d32", synthetic(32)),
        ("d128", synthetic(128)),
        ("d256", synthetic(256)),
    ];
    for (problem, (z, s)) in problems {
        let d = z.ncols();
        let mut f = objective(&z, &s, false);
        for (name, dense_limit) in [("dense", usize::MAX), ("newton-cg", 0)] {
            let options = Options {
                dense_limit,
                ..Options::default()
            };
            group.bench_function(BenchmarkId::new(name, problem), |b| {
                b.iter(|| minimize(&mut f, vec![0.0; d + 1], &options).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, logistic, dense_or_cg);
criterion_main!(benches);
