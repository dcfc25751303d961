//! `matdiff_faer::matmul` against a naive triple loop, in `f32` and `f64`, at odd sizes, with
//! transposed operands, accumulation and a scale; and the same bits on one thread or two.

use faer::{Accum, Mat, MatRef, Par};
use matdiff_faer::{matmul, Scalar};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sizes `(m, k, n)`: a small one (faer's path), and large ones cut into 2 blocks of rows, 2 of
/// columns and 4, none a multiple of a register tile.
const SIZES: [(usize, usize, usize); 4] =
    [(7, 5, 3), (301, 263, 129), (129, 263, 301), (523, 131, 251)];

fn random<T: Scalar>(rows: usize, cols: usize, rng: &mut StdRng) -> Mat<T> {
    Mat::from_fn(rows, cols, |_, _| {
        T::from_f64(rng.random::<f64>() * 2.0 - 1.0)
    })
}

/// `a*b` and `|a|*|b|` in `f64`, one textbook loop per entry.
fn naive<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> (Mat<f64>, Mat<f64>) {
    let k = a.ncols();
    // Rows of `a` and columns of `b` as f64 slices, so that the loop reads memory in order.
    let rows: Vec<Vec<f64>> = (0..a.nrows())
        .map(|i| (0..k).map(|l| a[(i, l)].re()).collect())
        .collect();
    let cols: Vec<Vec<f64>> = (0..b.ncols())
        .map(|j| (0..k).map(|l| b[(l, j)].re()).collect())
        .collect();
    let mut value = Mat::zeros(a.nrows(), b.ncols());
    let mut abs = Mat::zeros(a.nrows(), b.ncols());
    for (j, col) in cols.iter().enumerate() {
        for (i, row) in rows.iter().enumerate() {
            let (mut s, mut t) = (0.0, 0.0);
            for (x, y) in row.iter().zip(col) {
                s += x * y;
                t += (x * y).abs();
            }
            value[(i, j)] = s;
            abs[(i, j)] = t;
        }
    }
    (value, abs)
}

fn check<T: Scalar>(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for (m, k, n) in SIZES {
        // Column-major operands, and operands read through a transpose (row-major in memory).
        let a = random::<T>(m, k, &mut rng);
        let at = random::<T>(k, m, &mut rng);
        let b = random::<T>(k, n, &mut rng);
        let bt = random::<T>(n, k, &mut rng);
        let start = random::<T>(m, n, &mut rng);
        let operands = [
            (a.as_ref(), b.as_ref()),
            (at.as_ref().transpose(), b.as_ref()),
            (a.as_ref(), bt.as_ref().transpose()),
            (at.as_ref().transpose(), bt.as_ref().transpose()),
        ];
        // The bound of the rounding error of any order of summation in T, gamma_(k+2), doubled
        // for the reference's own error (far smaller for f32, at most as large for f64).
        let u = T::EPSILON / 2.0;
        let gamma = 2.0 * (k + 2) as f64 * u / (1.0 - (k + 2) as f64 * u);
        for (lhs, rhs) in operands {
            let (product, abs) = naive(lhs, rhs);
            for (accum, beta, alpha, label) in [
                (Accum::Replace, 0.0, 1.0, "replace"),
                (Accum::Add, 1.0, -0.75, "add"),
            ] {
                let mut results = Vec::new();
                for par in [Par::Seq, Par::rayon(2)] {
                    let mut c = start.clone();
                    matmul(c.as_mut(), accum, lhs, rhs, T::from_f64(alpha), par);
                    for j in 0..n {
                        for i in 0..m {
                            let c0 = beta * start[(i, j)].re();
                            let want = c0 + alpha * product[(i, j)];
                            let bound = gamma * (c0.abs() + alpha.abs() * abs[(i, j)]);
                            let err = (c[(i, j)].re() - want).abs();
                            assert!(
                                err <= bound,
                                "{m}x{k} by {k}x{n} ({label}, {par:?}) at ({i}, {j}): error {err:e} over its bound {bound:e}"
                            );
                        }
                    }
                    results.push(c);
                }
                assert!(
                    results[0] == results[1],
                    "{m}x{k} by {k}x{n} ({label}): other bits on two threads"
                );
            }
        }
    }
}

#[test]
fn f64_products_match_the_triple_loop_on_one_thread_and_two_with_the_same_bits() {
    check::<f64>(1);
}

#[test]
fn f32_products_match_the_triple_loop_on_one_thread_and_two_with_the_same_bits() {
    check::<f32>(2);
}

#[test]
fn a_destination_of_the_wrong_shape_is_refused() {
    let (a, b) = (Mat::<f64>::zeros(3, 4), Mat::<f64>::zeros(4, 2));
    let mut c = Mat::<f64>::zeros(3, 3);
    let caught = std::panic::catch_unwind(move || {
        matmul(
            c.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            Par::Seq,
        )
    });
    assert!(caught.is_err());
}
