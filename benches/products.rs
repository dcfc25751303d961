//! The matrix products of the 784-512-10 network (minibatch 128), in `f32` and `f64`: faer's
//! `matmul` on one thread and on two, and the `gemm` crate (faer's former kernels, with its
//! AVX-512 microkernels), at the network's own layouts:
//!
//! - `forward`: `Z = W*X`, `W` 512x784 and `X` 784x128, both column-major;
//! - `weights`: `dW = dZ*X'`, `dZ` 512x128 column-major, `X'` read in place (row-major).
//!
//! Throughput is in floating-point operations (`2*m*n*k` per product).
//! `cargo bench -p matdiff-benches --bench products`; NumPy's and JAX's figures for the same
//! shapes come from `benches/products.py`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random<T: faer::traits::ComplexField + From<f32>>(
    rows: usize,
    cols: usize,
    rng: &mut StdRng,
) -> Mat<T> {
    Mat::from_fn(rows, cols, |_, _| T::from(rng.random::<f32>() - 0.5))
}

/// `dst = lhs*rhs` by the `gemm` crate.
fn gemm_crate<T: 'static + Copy + Default>(
    dst: MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    one: T,
    threads: usize,
) {
    let parallelism = if threads == 1 {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    };
    // Safety: the views' pointers and strides describe matrices of the sizes passed.
    unsafe {
        gemm::gemm(
            dst.nrows(),
            dst.ncols(),
            lhs.ncols(),
            dst.as_ptr_mut(),
            dst.col_stride(),
            dst.row_stride(),
            false,
            lhs.as_ptr(),
            lhs.col_stride(),
            lhs.row_stride(),
            rhs.as_ptr(),
            rhs.col_stride(),
            rhs.row_stride(),
            T::default(),
            one,
            false,
            false,
            false,
            parallelism,
        );
    }
}

fn products<T>(c: &mut Criterion, name: &str)
where
    T: matdiff_faer::Scalar + From<f32> + Default,
{
    let mut rng = StdRng::seed_from_u64(16);
    let w: Mat<T> = random(512, 784, &mut rng);
    let x: Mat<T> = random(784, 128, &mut rng);
    let dz: Mat<T> = random(512, 128, &mut rng);
    let one = T::from(1.0);
    let cases: [(&str, MatRef<'_, T>, MatRef<'_, T>); 2] = [
        ("forward", w.as_ref(), x.as_ref()),
        ("weights", dz.as_ref(), x.as_ref().transpose()),
    ];
    for (case, lhs, rhs) in cases {
        let (m, k, n) = (lhs.nrows(), lhs.ncols(), rhs.ncols());
        let mut group = c.benchmark_group(format!("products/{name}/{case}"));
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        let mut dst = Mat::<T>::zeros(m, n);
        for threads in [1, 2] {
            let par = if threads == 1 {
                Par::Seq
            } else {
                Par::rayon(threads)
            };
            group.bench_function(BenchmarkId::new("faer", threads), |b| {
                b.iter(|| matmul(dst.as_mut(), Accum::Replace, lhs, rhs, one, par))
            });
            group.bench_function(BenchmarkId::new("gemm", threads), |b| {
                b.iter(|| gemm_crate(dst.as_mut(), lhs, rhs, one, threads))
            });
            group.bench_function(BenchmarkId::new("matdiff", threads), |b| {
                b.iter(|| matdiff_faer::matmul(dst.as_mut(), Accum::Replace, lhs, rhs, one, par))
            });
        }
        black_box(&dst);
        group.finish();
    }
}

fn network_products(c: &mut Criterion) {
    products::<f32>(c, "f32");
    products::<f64>(c, "f64");
}

criterion_group!(benches, network_products);
criterion_main!(benches);
