//! Checks of a plan's input values: sizes, finiteness, symmetry.

use super::*;

/// The error for the first non-finite entry of an input, if any.
pub(super) fn find_non_finite<T: Scalar>(spec: &InputSpec, v: MatRef<'_, T>) -> Option<EvalError> {
    for j in 0..v.ncols() {
        for i in 0..v.nrows() {
            if !v[(i, j)].finite() {
                return Some(EvalError::NonFinite {
                    name: spec.name.clone(),
                    row: i + 1,
                    col: j + 1,
                });
            }
        }
    }
    None
}

/// Whether every entry of a matrix is finite.
pub(super) fn view_finite<T: Scalar>(v: MatRef<'_, T>) -> bool {
    (0..v.ncols()).all(|j| match v.col(j).try_as_col_major() {
        Some(c) => all_finite(c.as_slice()),
        None => (0..v.nrows()).all(|i| v[(i, j)].finite()),
    })
}

/// Whether every entry is finite, in one pass that vectorises: a comparison per entry folded
/// without early exit (an arithmetic test such as `x * 0` would stall on subnormal gradients).
pub(super) fn all_finite<T: Scalar>(xs: &[T]) -> bool {
    xs.chunks(256)
        .all(|c| c.iter().fold(true, |ok, &x| ok & x.finite()))
}

// The symmetry check indexes the columns both ways on purpose.
#[allow(clippy::needless_range_loop)]
pub(super) fn check_input<T: Scalar>(spec: &InputSpec, v: MatRef<'_, T>) -> Result<(), EvalError> {
    if v.nrows() != spec.rows || v.ncols() != spec.cols {
        return Err(EvalError::ShapeMismatch {
            name: spec.name.clone(),
            got: format!("{}x{}", v.nrows(), v.ncols()),
            expected: format!("the plan was compiled for {}x{}", spec.rows, spec.cols),
        });
    }
    if !spec.symmetric {
        return Ok(());
    }
    let cols: Vec<Vec<T>>;
    let slices: Vec<&[T]> = match (0..v.ncols())
        .map(|j| v.col(j).try_as_col_major().map(|c| c.as_slice()))
        .collect::<Option<Vec<_>>>()
    {
        Some(s) => s,
        None => {
            cols = (0..v.ncols())
                .map(|j| (0..v.nrows()).map(|i| v[(i, j)]).collect())
                .collect();
            cols.iter().map(|c| c.as_slice()).collect()
        }
    };
    {
        let scale = slices
            .iter()
            .flat_map(|c| c.iter())
            .fold(0.0f64, |m, x| m.max(x.re().abs()));
        // Blocked, so that reading the transpose stays in cache.
        let n = v.nrows();
        const B: usize = 64;
        for jb in (0..n).step_by(B) {
            for ib in (0..=jb).step_by(B) {
                for j in jb..(jb + B).min(n) {
                    for i in ib..(ib + B).min(j) {
                        if (slices[j][i].re() - slices[i][j].re()).abs() > 1e-12 * scale {
                            return Err(EvalError::NotSymmetric {
                                name: spec.name.clone(),
                                row: i + 1,
                                col: j + 1,
                            });
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
