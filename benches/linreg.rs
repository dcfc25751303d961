//! Least squares at (n, d) = (1e6, 50) and (2e5, 400): `auto`, `normal` and `qr`, and a square
//! matrix product on both cores, the rate that bounds the Gram step. Throughput is in
//! floating-point operations ("elem/s" = FLOP/s): for the fits the flops of the symmetric
//! rank-k update of `[X y]` (`n p (p + 1)`, `p = d + 1`, lower triangle only), for the product
//! `2 n^3`.
//! Compare with `../shared/baselines/linreg.py` run in the same session.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faer::linalg::matmul::matmul;
use faer::{Accum, Col, Mat, Par};
use matdiff_linreg::{fit, Method, Options};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// X ~ N(0, 1), y = X w + 0.1 N(0, 1), as in the Python baseline.
fn problem(n: usize, d: usize) -> (Mat<f64>, Col<f64>) {
    let mut rng = SmallRng::seed_from_u64((n + d) as u64);
    let mut normal = move || {
        // Box-Muller
        let (u, v): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let x = Mat::from_fn(n, d, |_, _| normal());
    let w = Col::from_fn(d, |_| normal());
    let y = &x * &w + Col::from_fn(n, |_| 0.1 * normal());
    (x, y)
}

fn least_squares(c: &mut Criterion) {
    let quick = std::env::var_os("LINREG_BENCH_QUICK").is_some();
    let shapes: &[(usize, usize)] = if quick {
        &[(20_000, 50), (4_000, 400)]
    } else {
        &[(1_000_000, 50), (200_000, 400)]
    };
    for &(n, d) in shapes {
        let (x, y) = problem(n, d);
        let mut group = c.benchmark_group(format!("linreg/{n}x{d}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(if d > 100 { 20 } else { 8 }));
        let p = (d + 1) as u64;
        group.throughput(Throughput::Elements(n as u64 * p * (p + 1)));
        for method in [Method::Auto, Method::Normal, Method::Qr] {
            let options = Options {
                method,
                threads: 2,
                ..Options::default()
            };
            group.bench_function(BenchmarkId::new("fit", method), |b| {
                b.iter(|| fit(black_box(x.as_ref()), black_box(y.as_ref()), &options).unwrap())
            });
        }
        group.finish();
    }
}

/// The machine's matrix-product rate on both cores: a square product, the best case of a
/// general matrix multiply, against which the Gram step's rate is measured.
fn matrix_product(c: &mut Criterion) {
    let n = 1536;
    let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
    let b = Mat::from_fn(n, n, |i, j| ((i * 5 + j) % 13) as f64 - 6.0);
    let mut product = Mat::<f64>::zeros(n, n);
    let mut group = c.benchmark_group("linreg/matmul");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(2 * (n * n * n) as u64));
    group.bench_function(BenchmarkId::new("square", n), |bench| {
        bench.iter(|| {
            matmul(
                product.as_mut(),
                Accum::Replace,
                black_box(a.as_ref()),
                b.as_ref(),
                1.0,
                Par::rayon(2),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, matrix_product, least_squares);
criterion_main!(benches);
