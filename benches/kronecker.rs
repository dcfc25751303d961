//! A Kronecker product times a vector: `(B' ⊗ A)*vec(V)` as `vec(A*V*B)` (`kron_times_vec`,
//! never formed) against the baseline that forms the n² x n² product and multiplies, measured
//! in the same run, at n = 8, 16, 32 (square A, B, V).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use matdiff_faer::{kron, kron_times_vec, Mat};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn random(rng: &mut SmallRng, r: usize, c: usize) -> Mat<f64> {
    Mat::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0))
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("kron_times_vec");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for n in [8, 16, 32] {
        let mut rng = SmallRng::seed_from_u64(n as u64);
        let (bt, a) = (random(&mut rng, n, n), random(&mut rng, n, n));
        let v = random(&mut rng, n * n, 1);
        let formed = kron(bt.as_ref(), a.as_ref());
        assert!(
            (&formed * &v - kron_times_vec(bt.as_ref(), a.as_ref(), v.as_ref()).unwrap()).norm_l2()
                < 1e-10 * (n * n) as f64
        );
        group.bench_with_input(BenchmarkId::new("unformed", n), &n, |b, _| {
            b.iter(|| kron_times_vec(black_box(bt.as_ref()), a.as_ref(), v.as_ref()))
        });
        group.bench_with_input(BenchmarkId::new("formed (baseline)", n), &n, |b, _| {
            b.iter(|| &kron(black_box(bt.as_ref()), a.as_ref()) * &v)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
