//! Planned evaluation (`matdiff-faer`) against the same computation written by hand with faer
//! calls, side by side in one run:
//! (a) the layer loss `tr(Y'*M*Y) where Y = sigmoid(W*X)`, its gradient
//!     `W'*((2*M*Y) .* sigmoid'(W*X))`, and both in one plan (3 products, as by hand), all
//!     matrices n x n, n = 256, 1000 and 2000;
//! (b) the least-squares gradient `A'*(A*x - b)` at n = 2000;
//! (c) the seed's `a'*exp(X*b)` at n = 2000.
//! Both sides use both cores for matrix products. Compare with
//! `../shared/baselines/numeric_grad.py` run in the same session.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatRef, Par};
use matdiff_expr::{Decl, ExprPool};
use matdiff_faer::{Options, Plan, Sizes, Values};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn random(rng: &mut SmallRng, r: usize, c: usize) -> Mat<f64> {
    Mat::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0))
}

/// A plan of `src` compiled for the shapes of `values`.
fn plan(src: &str, values: &Values<f64>) -> Plan<f64> {
    plan_of(&[src], values)
}

/// One plan of several expressions (their roots share work).
fn plan_of(srcs: &[&str], values: &Values<f64>) -> Plan<f64> {
    let mut pool = ExprPool::new();
    let mut decls: Vec<Decl> = values
        .iter()
        .map(|(n, m)| Decl::sized(n, m.nrows() as u64, m.ncols() as u64))
        .collect();
    decls.push(Decl::parse("M: symmetric").unwrap());
    let roots: Vec<_> = srcs
        .iter()
        .map(|s| pool.parse_with(s, &decls).unwrap().root)
        .collect();
    let sizes = Sizes::from_values(&pool, values).unwrap();
    Plan::compile_with(&pool, &roots, &sizes, &Options::new().threads(0)).unwrap()
}

/// The loss and its gradient together by hand: 3 products (W X, M Y, W' G).
fn both_by_hand(w: &Mat<f64>, x: &Mat<f64>, m: &Mat<f64>, par: Par) -> (f64, Mat<f64>) {
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

/// tr(Y'MY), Y = sigmoid(WX), by hand: Z = WX, Y = sigmoid(Z), T = MY, sum(Y .* T).
fn loss_by_hand(w: &Mat<f64>, x: &Mat<f64>, m: &Mat<f64>, par: Par) -> f64 {
    let mut y = product(w.as_ref(), x.as_ref(), 1.0, par);
    zip!(&mut y).for_each(|unzip!(y)| *y = sigmoid(*y));
    let t = product(m.as_ref(), y.as_ref(), 1.0, par);
    let mut acc = 0.0;
    zip!(&y, &t).for_each(|unzip!(y, t)| acc += *y * *t);
    acc
}

/// W'((2MY) .* Y .* (1 - Y)) by hand, reusing Y for sigmoid'.
fn gradient_by_hand(w: &Mat<f64>, x: &Mat<f64>, m: &Mat<f64>, par: Par) -> Mat<f64> {
    let mut y = product(w.as_ref(), x.as_ref(), 1.0, par);
    zip!(&mut y).for_each(|unzip!(y)| *y = sigmoid(*y));
    let mut g = product(m.as_ref(), y.as_ref(), 2.0, par);
    zip!(&mut g, &y).for_each(|unzip!(g, y)| *g *= *y * (1.0 - *y));
    product(w.transpose(), g.as_ref(), 1.0, par)
}

fn layer(c: &mut Criterion) {
    let par = Par::rayon(0);
    for n in [256, 1000, 2000] {
        let mut rng = SmallRng::seed_from_u64(n as u64);
        let (w, x) = (random(&mut rng, n, n), random(&mut rng, n, n));
        let m0 = random(&mut rng, n, n);
        let m = Mat::from_fn(n, n, |i, j| m0[(i, j)] + m0[(j, i)]);
        let values = Values::new()
            .with("W", w.clone())
            .with("X", x.clone())
            .with("M", m.clone());
        let mut loss = plan("tr(Y'*M*Y) where Y = sigmoid(W*X)", &values);
        let mut gradient = plan(
            "W'*((2*M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)",
            &values,
        );
        // The plans compute what the hand-written code computes.
        let (l0, l1) = (
            loss.run(&values).unwrap()[0][(0, 0)],
            loss_by_hand(&w, &x, &m, par),
        );
        assert!((l0 - l1).abs() <= 1e-9 * l1.abs().max(1.0), "{l0} {l1}");
        let (g0, g1) = (
            gradient.run(&values).unwrap().remove(0),
            gradient_by_hand(&w, &x, &m, par),
        );
        assert!((&g0 - &g1).norm_l2() <= 1e-9 * g1.norm_l2());

        let mut group = c.benchmark_group(format!("eval/layer/n={n}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(if n > 500 { 8 } else { 3 }));
        group.bench_function(BenchmarkId::new("loss", "plan"), |b| {
            b.iter(|| loss.run(black_box(&values)).unwrap())
        });
        group.bench_function(BenchmarkId::new("loss", "faer"), |b| {
            b.iter(|| loss_by_hand(black_box(&w), &x, &m, par))
        });
        group.bench_function(BenchmarkId::new("gradient", "plan"), |b| {
            b.iter(|| gradient.run(black_box(&values)).unwrap())
        });
        group.bench_function(BenchmarkId::new("gradient", "faer"), |b| {
            b.iter(|| gradient_by_hand(black_box(&w), &x, &m, par))
        });
        let mut both = plan_of(
            &[
                "tr(Y'*M*Y) where Y = sigmoid(W*X)",
                "W'*((2*M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)",
            ],
            &values,
        );
        assert_eq!(both.stats().matmuls, 3);
        group.bench_function(BenchmarkId::new("loss_and_gradient", "plan"), |b| {
            b.iter(|| both.run(black_box(&values)).unwrap())
        });
        group.bench_function(BenchmarkId::new("loss_and_gradient", "faer"), |b| {
            b.iter(|| both_by_hand(black_box(&w), &x, &m, par))
        });
        group.finish();
    }
}

fn vectors(c: &mut Criterion) {
    let par = Par::rayon(0);
    let n = 2000;
    let mut rng = SmallRng::seed_from_u64(7);
    let a = random(&mut rng, n, n);
    let (x, b) = (random(&mut rng, n, 1), random(&mut rng, n, 1));
    let values = Values::new()
        .with("A", a.clone())
        .with("x", x.clone())
        .with("b", b.clone());
    let mut least_squares = plan("A'*(A*x - b)", &values);
    let by_hand = |a: &Mat<f64>, x: &Mat<f64>, b: &Mat<f64>| {
        let mut r = product(a.as_ref(), x.as_ref(), 1.0, par);
        zip!(&mut r, b).for_each(|unzip!(r, b)| *r -= *b);
        product(a.transpose(), r.as_ref(), 1.0, par)
    };
    let g0 = least_squares.run(&values).unwrap().remove(0);
    assert!((&g0 - by_hand(&a, &x, &b)).norm_l2() <= 1e-9 * g0.norm_l2());

    let xs = random(&mut rng, n, n);
    let (va, vb) = (random(&mut rng, n, 1), random(&mut rng, n, 1));
    let seed_values = Values::new()
        .with("X", xs.clone())
        .with("a", va.clone())
        .with("b", vb.clone());
    let mut seed = plan("a'*exp(X*b)", &seed_values);
    let seed_by_hand = |xs: &Mat<f64>, va: &Mat<f64>, vb: &Mat<f64>| {
        let mut t = product(xs.as_ref(), vb.as_ref(), 1.0, par);
        zip!(&mut t).for_each(|unzip!(t)| *t = t.exp());
        product(va.transpose(), t.as_ref(), 1.0, par)[(0, 0)]
    };
    let (s0, s1) = (
        seed.run(&seed_values).unwrap()[0][(0, 0)],
        seed_by_hand(&xs, &va, &vb),
    );
    assert!((s0 - s1).abs() <= 1e-9 * s1.abs());

    let mut group = c.benchmark_group(format!("eval/vectors/n={n}"));
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function(BenchmarkId::new("least_squares_gradient", "plan"), |bn| {
        bn.iter(|| least_squares.run(black_box(&values)).unwrap())
    });
    group.bench_function(BenchmarkId::new("least_squares_gradient", "faer"), |bn| {
        bn.iter(|| by_hand(black_box(&a), &x, &b))
    });
    group.bench_function(BenchmarkId::new("seed_a'exp(Xb)", "plan"), |bn| {
        bn.iter(|| seed.run(black_box(&seed_values)).unwrap())
    });
    group.bench_function(BenchmarkId::new("seed_a'exp(Xb)", "faer"), |bn| {
        bn.iter(|| seed_by_hand(black_box(&xs), &va, &vb))
    });
    group.finish();
}

criterion_group!(benches, layer, vectors);
criterion_main!(benches);
