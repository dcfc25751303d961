//! Element-wise throughput per function: a plan of `f(X)` (or `X .^ 1.5`) on 10^6 entries
//! (X 1000 x 1000) in `f64` and `f32`, on both cores (`plan`) and on one (`plan-1thread`),
//! `matdiff_faer::simd::apply` (or `simd::pow`) on the whole slice (`simd-1thread`: the kernel
//! without the plan around it), against the scalar code every kernel ran before
//! `matdiff_faer::simd` (`scalar`: `Scalar::apply` entry by entry, one thread), measured in the
//! same run. Compare with `benches/elementwise.py` (NumPy, JAX) run in the same session.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faer::Mat;
use matdiff_expr::{Decl, ExprPool, Func};
use matdiff_faer::{Options, Plan, Scalar, Sizes, Values};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const N: usize = 1000;

/// Name in the expression language, the function and its derivative order, and the range of
/// the inputs; `pow` is `X .^ 1.5` (its `Func` unused).
const FUNCTIONS: [(&str, Func, u8, f64, f64); 12] = [
    ("exp", Func::Exp, 0, -5.0, 5.0),
    ("expm1", Func::Expm1, 0, -5.0, 5.0),
    ("log", Func::Log, 0, 0.01, 10.0),
    ("log1p", Func::Log1p, 0, -0.5, 10.0),
    ("tanh", Func::Tanh, 0, -5.0, 5.0),
    ("sigmoid", Func::Sigmoid, 0, -5.0, 5.0),
    ("sigmoid'", Func::Sigmoid, 1, -5.0, 5.0),
    ("softplus", Func::Softplus, 0, -5.0, 5.0),
    ("sqrt", Func::Sqrt, 0, 0.01, 10.0),
    ("sin", Func::Sin, 0, -5.0, 5.0),
    ("cos", Func::Cos, 0, -5.0, 5.0),
    ("pow", Func::Exp, 0, 0.01, 10.0),
];

/// The exponent of `pow`.
const P: f64 = 1.5;

fn plan<T: Scalar>(src: &str, values: &Values<T>, threads: usize) -> Plan<T> {
    let mut pool = ExprPool::new();
    let decls = [Decl::sized("X", N as u64, N as u64)];
    let root = pool.parse_with(src, &decls).unwrap().root;
    let sizes = Sizes::from_values(&pool, values).unwrap();
    Plan::compile_with(&pool, &[root], &sizes, &Options::new().threads(threads)).unwrap()
}

fn throughput<T: Scalar>(c: &mut Criterion, type_name: &str) {
    let mut rng = SmallRng::seed_from_u64(16);
    for (name, func, order, lo, hi) in FUNCTIONS {
        let x = Mat::<T>::from_fn(N, N, |_, _| T::from_f64(rng.random_range(lo..hi)));
        let values = Values::new().with("X", x.clone());
        let is_pow = name == "pow";
        let src = if is_pow {
            format!("X .^ {P}")
        } else {
            format!("{name}(X)")
        };
        let (mut both, mut one) = (plan(&src, &values, 0), plan(&src, &values, 1));
        let f = |v: T| {
            if is_pow {
                v.pow(T::from_f64(P))
            } else {
                v.apply(func, order)
            }
        };
        let scalar = |x: &Mat<T>, out: &mut Mat<T>| {
            for j in 0..N {
                for i in 0..N {
                    out[(i, j)] = f(x[(i, j)]);
                }
            }
        };
        let mut want = Mat::<T>::zeros(N, N);
        scalar(&x, &mut want);
        let got = both.run(&values).unwrap().remove(0);
        let worst = (0..N * N)
            .map(|k| {
                let (w, g) = (want[(k % N, k / N)].re(), got[(k % N, k / N)].re());
                (w - g).abs() / w.abs().max(f64::MIN_POSITIVE)
            })
            .fold(0.0, f64::max);
        assert!(worst <= 8.0 * T::EPSILON, "{name}: {worst:e}");

        let mut group = c.benchmark_group(format!("eval/elementwise/{type_name}/{name}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .throughput(Throughput::Elements((N * N) as u64));
        let mut outputs = vec![Mat::<T>::new()];
        group.bench_function(BenchmarkId::from_parameter("plan"), |b| {
            b.iter(|| both.run_into(black_box(&values), &mut outputs).unwrap())
        });
        group.bench_function(BenchmarkId::from_parameter("plan-1thread"), |b| {
            b.iter(|| one.run_into(black_box(&values), &mut outputs).unwrap())
        });
        let xs: Vec<T> = (0..N * N).map(|k| x[(k % N, k / N)]).collect();
        let mut ys = vec![T::zero(); N * N];
        let ps = vec![T::from_f64(P); N * N];
        group.bench_function(BenchmarkId::from_parameter("simd-1thread"), |b| {
            b.iter(|| {
                if !is_pow {
                    matdiff_faer::simd::apply(func, order, black_box(&xs), &mut ys)
                } else if !matdiff_faer::simd::pow(black_box(&xs), &ps, &mut ys) {
                    for ((y, &x), &p) in ys.iter_mut().zip(&xs).zip(&ps) {
                        *y = x.pow(p);
                    }
                }
            })
        });
        let mut out = Mat::<T>::zeros(N, N);
        group.bench_function(BenchmarkId::from_parameter("scalar"), |b| {
            b.iter(|| scalar(black_box(&x), &mut out))
        });
        group.finish();
    }
}

fn elementwise(c: &mut Criterion) {
    throughput::<f64>(c, "f64");
    throughput::<f32>(c, "f32");
}

criterion_group!(benches, elementwise);
criterion_main!(benches);
