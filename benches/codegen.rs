//! The seed's example 2.5.4 (`tr(Y'*M*Y) where Y = sigmoid(W*X)`, M symmetric), the loss and its
//! gradient with respect to X, three ways in one run, all matrices n x n, n = 256 and 1000:
//! the faer function that `matdiff_macros::gradient!` generates at compile time, the same
//! computation written by hand with faer (as in `eval.rs`), and the Plan interpreter of
//! matdiff-faer. All use both cores for matrix products; at n = 256 also one thread, which is
//! steadier on a loaded machine.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatRef, Par};
use matdiff_expr::{Decl, ExprPool};
use matdiff_faer::{Options, Plan, Sizes, Values};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

matdiff_macros::gradient!(fn loss_grad = "tr(Y'*M*Y) where Y = sigmoid(W*X)", wrt X, let "M: symmetric");

fn random(rng: &mut SmallRng, r: usize, c: usize) -> Mat<f64> {
    Mat::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0))
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn product(a: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64, par: Par) -> Mat<f64> {
    let mut out = Mat::zeros(a.nrows(), b.ncols());
    matmul(out.as_mut(), Accum::Replace, a, b, alpha, par);
    out
}

/// The loss and its gradient by hand: 3 products (W X, M Y, W' G), sigmoid in place, the loss
/// summed in the pass that forms G (as `both_by_hand` in `eval.rs`).
fn by_hand(w: &Mat<f64>, x: &Mat<f64>, m: &Mat<f64>, par: Par) -> (f64, Mat<f64>) {
    let mut y = product(w.as_ref(), x.as_ref(), 1.0, par);
    zip!(&mut y).for_each(|unzip!(y)| *y = sigmoid(*y));
    let mut g = product(m.as_ref(), y.as_ref(), 2.0, par);
    let mut acc = 0.0;
    zip!(&mut g, &y).for_each(|unzip!(g, y)| {
        acc += 0.5 * *g * *y;
        *g *= *y * (1.0 - *y);
    });
    (acc, product(w.transpose(), g.as_ref(), 1.0, par))
}

fn layer(c: &mut Criterion) {
    for (n, threads) in [(256, 2), (1000, 2), (256, 1)] {
        let par = if threads == 1 {
            Par::Seq
        } else {
            Par::rayon(0)
        };
        faer::set_global_parallelism(par);
        let mut rng = SmallRng::seed_from_u64(n as u64);
        let (w, x) = (random(&mut rng, n, n), random(&mut rng, n, n));
        let m0 = random(&mut rng, n, n);
        let m = Mat::from_fn(n, n, |i, j| m0[(i, j)] + m0[(j, i)]);
        let values = Values::new()
            .with("W", w.clone())
            .with("X", x.clone())
            .with("M", m.clone());
        let mut pool = ExprPool::new();
        let decls: Vec<Decl> = vec![Decl::parse("M: symmetric").unwrap()];
        let roots: Vec<_> = [
            "tr(Y'*M*Y) where Y = sigmoid(W*X)",
            "W'*((2*M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)",
        ]
        .iter()
        .map(|s| pool.parse_with(s, &decls).unwrap().root)
        .collect();
        let sizes = Sizes::from_values(&pool, &values).unwrap();
        let mut plan = Plan::compile_with(
            &pool,
            &roots,
            &sizes,
            &Options::new().threads(if threads == 1 { 1 } else { 0 }),
        )
        .unwrap();

        // The three compute the same.
        let (v0, g0) = loss_grad(m.as_ref(), w.as_ref(), x.as_ref());
        let (v1, g1) = by_hand(&w, &x, &m, par);
        let r = plan.run(&values).unwrap();
        assert!((v0 - v1).abs() <= 1e-9 * v1.abs() && (r[0][(0, 0)] - v1).abs() <= 1e-9 * v1.abs());
        assert!((&g0 - &g1).norm_l2() <= 1e-9 * g1.norm_l2());
        assert!((&r[1] - &g1).norm_l2() <= 1e-9 * g1.norm_l2());

        let mut group = c.benchmark_group(format!("codegen/layer/n={n}/threads={threads}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(if n > 500 { 8 } else { 3 }));
        group.bench_function(BenchmarkId::new("loss_and_gradient", "macro"), |b| {
            b.iter(|| loss_grad(black_box(m.as_ref()), w.as_ref(), x.as_ref()))
        });
        group.bench_function(BenchmarkId::new("loss_and_gradient", "faer"), |b| {
            b.iter(|| by_hand(black_box(&w), &x, &m, par))
        });
        group.bench_function(BenchmarkId::new("loss_and_gradient", "plan"), |b| {
            b.iter(|| plan.run(black_box(&values)).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, layer);
criterion_main!(benches);
