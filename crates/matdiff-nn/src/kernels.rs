//! Small faer helpers shared by the forward pass, the hand-written backward and the optimisers.

use faer::prelude::ReborrowMut;
use faer::{Accum, MatMut, MatRef, Par};

use crate::real::Real;

/// Column `j` of a matrix with unit row stride, as a slice.
#[inline]
pub(crate) fn col<T>(m: MatRef<'_, T>, j: usize) -> &[T] {
    m.col(j)
        .try_as_col_major()
        .expect("matdiff-nn keeps every matrix column-major")
        .as_slice()
}

/// Column `j` of a matrix with unit row stride, as a mutable slice.
#[inline]
pub(crate) fn col_mut<T>(m: MatMut<'_, T>, j: usize) -> &mut [T] {
    m.col_mut(j)
        .try_as_col_major_mut()
        .expect("matdiff-nn keeps every matrix column-major")
        .as_slice_mut()
}

/// Multiply-adds below this many (`m * n * k`) run on one thread: splitting them costs more than it
/// gains.
const PARALLEL_FROM: usize = 1 << 21;

/// The parallelism for a product of an `m x k` and a `k x n` matrix.
pub(crate) fn par_for(m: usize, n: usize, k: usize) -> Par {
    if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_FROM {
        Par::rayon(0)
    } else {
        Par::Seq
    }
}

/// `dst = lhs * rhs`, or `dst += lhs * rhs` with `accumulate` (matdiff-faer's product: large ones
/// cut into blocks over the threads, with the same bits on any number of threads).
pub(crate) fn gemm<T: Real>(
    dst: MatMut<'_, T>,
    accumulate: bool,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
) {
    let par = par_for(lhs.nrows(), rhs.ncols(), lhs.ncols());
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    matdiff_faer::matmul(dst, accum, lhs, rhs, T::ONE, par);
}

/// `dst[i] = sum_j m[i, j]`: the row sums, `m * ones`.
pub(crate) fn row_sums<T: Real>(m: MatRef<'_, T>, mut dst: MatMut<'_, T>) {
    let out = col_mut(dst.rb_mut(), 0);
    out.fill(T::ZERO);
    matdiff_faer::simd::wide(
        #[inline(always)]
        || {
            for j in 0..m.ncols() {
                for (o, &v) in out.iter_mut().zip(col(m, j)) {
                    *o += v;
                }
            }
        },
    )
}
