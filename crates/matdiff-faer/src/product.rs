//! Dense matrix products for plans and layers: large real products cut into a fixed number of
//! blocks of the destination, run on as many threads as there are.
//!
//! The cut depends on the sizes only, never on the number of threads, and each block is one
//! single-threaded faer product, so a product gives the same bits on one thread or two. A block
//! of rows of `W*X` packs its own part of `W` and the small `X` again, and no thread waits for
//! another's packed panels: on the 784-512-10 network's products (two cores, best of 300 runs on
//! a shared machine) this reached 440-457 GFLOP/s in `f32` against 404-430 for faer's own
//! split. Complex products and small ones go to faer as they are.

use faer::linalg::matmul::matmul as faer_matmul;
use faer::{Accum, MatMut, MatRef, Par};

use crate::scalar::Scalar;
use crate::split::join;

/// Products of fewer multiply-adds than this per block are not cut further: the 784-512-10
/// network's two large products (51M multiply-adds each) are cut into 4 blocks.
const MULADDS_PER_BLOCK: usize = 1 << 23;

/// No block is thinner than this many rows or columns (a few of the kernels' register tiles).
const MIN_BLOCK: usize = 64;

/// `dst = alpha*lhs*rhs`, or `dst += alpha*lhs*rhs` with `Accum::Add`, for any strides.
///
/// Large `f32` and `f64` products are cut along the longer side of `dst` into a power of two of
/// blocks that depends on the sizes alone; the blocks run in parallel when `par` allows, and the
/// result is the same on any number of threads.
///
/// ```
/// use faer::{mat, Accum, Mat, Par};
/// let (a, b) = (mat![[1.0f32, 2.0], [3.0, 4.0]], mat![[5.0f32], [6.0]]);
/// let mut c = Mat::<f32>::zeros(2, 1);
/// matdiff_faer::matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 2.0, Par::Seq);
/// assert_eq!(c, mat![[34.0f32], [78.0]]);
/// ```
pub fn matmul<T: Scalar>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
    par: Par,
) {
    assert!(
        dst.nrows() == lhs.nrows() && dst.ncols() == rhs.ncols() && lhs.ncols() == rhs.nrows(),
        "matmul: a {}x{} destination for a {}x{} by {}x{} product",
        dst.nrows(),
        dst.ncols(),
        lhs.nrows(),
        lhs.ncols(),
        rhs.nrows(),
        rhs.ncols()
    );
    let muladds = dst.nrows() * dst.ncols() * lhs.ncols();
    if T::IS_COMPLEX || muladds < 2 * MULADDS_PER_BLOCK {
        faer_matmul(dst, accum, lhs, rhs, alpha, par);
        return;
    }
    let blocks = blocks(dst.nrows(), dst.ncols(), lhs.ncols());
    cut(dst, accum, lhs, rhs, alpha, blocks, par != Par::Seq);
}

/// Most blocks a product is cut into.
const MAX_BLOCKS: usize = 16;

/// Into how many blocks (a power of two) a product of an `m x k` and a `k x n` matrix is cut.
fn blocks(m: usize, n: usize, k: usize) -> usize {
    let by_work = (m * n * k / MULADDS_PER_BLOCK).max(1);
    let by_side = (m.max(n) / MIN_BLOCK).max(1);
    let most = by_work.min(by_side).min(MAX_BLOCKS);
    1 << most.ilog2()
}

fn cut<T: Scalar>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
    blocks: usize,
    parallel: bool,
) {
    if blocks == 1 {
        block(dst, accum, lhs, rhs, alpha);
        return;
    }
    let half = blocks / 2;
    let (a, b) = if dst.nrows() >= dst.ncols() {
        let at = dst.nrows() / 2;
        let (da, db) = dst.split_at_row_mut(at);
        let (la, lb) = lhs.split_at_row(at);
        ((da, la, rhs), (db, lb, rhs))
    } else {
        let at = dst.ncols() / 2;
        let (da, db) = dst.split_at_col_mut(at);
        let (ra, rb) = rhs.split_at_col(at);
        ((da, lhs, ra), (db, lhs, rb))
    };
    let run_a = move || cut(a.0, accum, a.1, a.2, alpha, half, parallel);
    let run_b = move || cut(b.0, accum, b.1, b.2, alpha, half, parallel);
    if parallel {
        join(run_a, run_b);
    } else {
        run_a();
        run_b();
    }
}

/// One block on this thread, by faer.
fn block<T: Scalar>(
    dst: MatMut<'_, T>,
    accum: Accum,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    alpha: T,
) {
    faer_matmul(dst, accum, lhs, rhs, alpha, Par::Seq);
}
