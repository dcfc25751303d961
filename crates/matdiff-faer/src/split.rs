//! Large element-wise kernels split over threads: the entries of the destination are cut into
//! column ranges (or row ranges of a single column), one per thread, each with its own registers.
//! Every entry is computed by the same operations whatever the split, so results do not depend
//! on the number of threads.

use faer::prelude::ReborrowMut;
use faer::{MatMut, Par};

use crate::error::EvalError;
use crate::exec::{run_chunk, Ctx, Kernel, Pos, CHUNK};
use crate::scalar::Scalar;

/// Kernels with fewer entries than this per part run on one thread: splitting costs more.
const ENTRIES_PER_PART: usize = 1 << 15;

/// Into how many parts a kernel of `entries` entries is split at parallelism `par`.
pub(crate) fn parts(entries: usize, par: Par) -> usize {
    par.degree().min(entries / ENTRIES_PER_PART).max(1)
}

/// Writes the kernel's entries into `dst`, whose entry `(0, 0)` is the kernel's `(i0, j0)`, in
/// `parts` parts; `regs` holds `parts` times the registers of one part.
pub(crate) fn fill<T: Scalar>(
    k: &Kernel<T>,
    cx: &Ctx<'_, T>,
    dst: MatMut<'_, T>,
    (i0, j0): (usize, usize),
    regs: &mut [T],
    parts: usize,
) -> Result<(), EvalError> {
    let need = regs.len() / parts;
    if parts > 1 {
        let left = parts / 2;
        let (regs_a, regs_b) = regs.split_at_mut(left * need);
        let (a, b) = if dst.ncols() >= parts {
            let at = dst.ncols() * left / parts;
            let (da, db) = dst.split_at_col_mut(at);
            let jb = j0 + da.ncols();
            join(
                || fill(k, cx, da, (i0, j0), regs_a, left),
                || fill(k, cx, db, (i0, jb), regs_b, parts - left),
            )
        } else {
            let at = dst.nrows() * left / parts;
            let (da, db) = dst.split_at_row_mut(at);
            let ib = i0 + da.nrows();
            join(
                || fill(k, cx, da, (i0, j0), regs_a, left),
                || fill(k, cx, db, (ib, j0), regs_b, parts - left),
            )
        };
        return a.and(b);
    }
    let mut dst = dst;
    for j in 0..dst.ncols() {
        let col = dst
            .rb_mut()
            .col_mut(j)
            .try_as_col_major_mut()
            .expect("owned matrices are column major")
            .as_slice_mut();
        for (c, out) in col.chunks_mut(CHUNK).enumerate() {
            let pos = Pos::Col {
                j: j0 + j,
                r0: i0 + c * CHUNK,
            };
            run_chunk(k, cx, regs, pos, out.len(), Some(out))?;
        }
    }
    Ok(())
}

/// Runs both, on two threads where there are.
pub(crate) fn join<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    #[cfg(feature = "rayon")]
    {
        rayon::join(a, b)
    }
    #[cfg(not(feature = "rayon"))]
    {
        (a(), b())
    }
}
