//! A cheap estimate of the 2-norm condition number of a triangular factor.
//!
//! `cond(R) = |R| |inv(R)|`: both norms come from a few power iterations on `R'R` and on
//! `inv(R'R)` (matrix-vector products and triangular solves, `O(d^2)` each). Power iteration
//! approaches each norm from below, so the estimate is also kept at least the diagonal ratio
//! `max |r_ii| / min |r_ii|`, itself a lower bound of the condition number.

use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Col, MatRef, Par};

/// Power iterations per norm: the estimate needs the right order of magnitude, not digits.
const ITERATIONS: usize = 12;

/// Estimated 2-norm condition number of the upper triangular `r` (only its upper triangle is
/// read); infinite when a diagonal entry is zero.
pub(crate) fn condition_upper(r: MatRef<'_, f64>) -> f64 {
    let d = r.nrows();
    if d == 0 {
        return 1.0;
    }
    let diag: Vec<f64> = (0..d).map(|i| r[(i, i)].abs()).collect();
    let max = diag.iter().cloned().fold(0.0, f64::max);
    let min = diag.iter().cloned().fold(f64::INFINITY, f64::min);
    if min.is_nan() || min <= 0.0 || !max.is_finite() {
        return f64::INFINITY;
    }
    let upper = upper_copy(r);
    let norm = power(d, |v| {
        let rv = upper.as_ref() * v.as_ref();
        upper.as_ref().transpose() * rv.as_ref()
    });
    let inverse_norm = power(d, |v| {
        let mut t = v.clone();
        solve_lower_triangular_in_place(upper.as_ref().transpose(), t.as_mat_mut(), Par::Seq);
        solve_upper_triangular_in_place(upper.as_ref(), t.as_mat_mut(), Par::Seq);
        t
    });
    let estimate = norm * inverse_norm;
    if estimate.is_finite() {
        estimate.max(max / min)
    } else {
        f64::INFINITY
    }
}

/// The upper triangle of `r`, zeros below, column-major.
fn upper_copy(r: MatRef<'_, f64>) -> faer::Mat<f64> {
    faer::Mat::from_fn(
        r.nrows(),
        r.ncols(),
        |i, j| if i <= j { r[(i, j)] } else { 0.0 },
    )
}

/// sqrt of the largest eigenvalue of the symmetric positive semi-definite operator `apply`, by
/// power iteration from a fixed start with no special alignment.
fn power(d: usize, apply: impl Fn(&Col<f64>) -> Col<f64>) -> f64 {
    let mut v = Col::from_fn(d, |i| 1.0 + 0.5 * ((i as f64) * 1.618).sin());
    let mut lambda = 0.0;
    for _ in 0..ITERATIONS {
        let norm = v.norm_l2();
        if !(norm > 0.0 && norm.is_finite()) {
            return if norm.is_finite() { 0.0 } else { f64::INFINITY };
        }
        v /= norm;
        let next = apply(&v);
        lambda = v.as_ref().transpose() * next.as_ref();
        v = next;
    }
    lambda.max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// The estimate is within a factor of 2 of the exact condition number (from the SVD) on
    /// triangular matrices with graded, random spectra.
    #[test]
    fn estimate_tracks_svd() {
        let mut state = 12345u64;
        let mut rand = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
        };
        for (d, grading) in [(5, 1.0f64), (12, 10.0), (30, 1e3), (40, 1e6)] {
            let r = Mat::from_fn(d, d, |i, j| {
                let g = grading.powf(-(j as f64) / d as f64);
                if i < j {
                    rand() * g
                } else if i == j {
                    (1.0 + rand().abs()) * g
                } else {
                    0.0
                }
            });
            let s = r.singular_values().unwrap();
            let exact = s[0] / s[d - 1];
            let estimate = condition_upper(r.as_ref());
            assert!(
                estimate <= exact * 1.000001 && estimate >= exact / 2.0,
                "d {d}: estimate {estimate}, exact {exact}"
            );
        }
    }

    #[test]
    fn singular_is_infinite() {
        let r = faer::mat![[1.0, 2.0], [0.0, 0.0]];
        assert_eq!(condition_upper(r.as_ref()), f64::INFINITY);
    }
}
