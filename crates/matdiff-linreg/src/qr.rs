//! The QR and SVD paths: Householder QR of the centred, weighted, ridge-augmented matrix
//! `[X y]` (tall-and-skinny: chunk by chunk in cache, on several threads), so `Q'y` comes out of
//! the factorisation itself and `Q` is never formed; then either a triangular solve or, for the
//! minimum-norm solution, the SVD of the small `d x d` factor `R`.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::qr::no_pivoting::factor::{
    qr_in_place, qr_in_place_scratch, recommended_block_size,
};
use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::reborrow::ReborrowMut;
use faer::{Col, ColRef, Mat, MatRef, Par};

use crate::condition::condition_upper;
use crate::gram::contiguous;
use crate::normal::{check_rows, intercept};
use crate::{r_squared, Fit, FitError, Method, Options};

/// How the triangular factor is finished.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Finish {
    /// Triangular solve; a rank-deficient matrix is an error.
    Qr,
    /// Triangular solve, or the SVD when the matrix is rank-deficient (`auto`).
    QrOrSvd,
    /// Always the SVD: minimum-norm solution and numerical rank.
    Svd,
}

/// Least squares through a Householder QR factorisation.
pub(crate) fn fit(
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    w: Option<ColRef<'_, f64>>,
    options: &Options,
    finish: Finish,
) -> Result<Fit, FitError> {
    let (n, d) = x.shape();
    check_rows(n, d, options)?;
    let weights: Option<Vec<f64>> = w.map(|w| w.iter().copied().collect());
    if let Some(w) = &weights {
        if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(FitError::BadWeight {
                row: i + 1,
                value: w[i],
            });
        }
    }
    let total_weight = weights.as_ref().map_or(n as f64, |w| w.iter().sum());
    if total_weight == 0.0 {
        return Err(FitError::Empty {
            what: "all sample weights are zero",
        });
    }
    let scale: Option<Vec<f64>> = weights
        .as_ref()
        .map(|w| w.iter().map(|v| v.sqrt()).collect());
    // Means and the total sum of squares; the rows themselves are read again, chunk by chunk,
    // by the factorisation.
    let mut mean = Vec::with_capacity(d + 1);
    let mut tss = 0.0;
    for j in 0..=d {
        let values = contiguous(if j < d { x.col(j) } else { y });
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(FitError::NonFinite {
                row: i + 1,
                column: if j < d {
                    (j + 1).to_string()
                } else {
                    "target".to_string()
                },
                value: values[i],
            });
        }
        let centre = weighted_mean(&values, weights.as_deref(), total_weight);
        if j == d {
            tss = weighted_sum_of_squares(&values, weights.as_deref(), centre);
        }
        mean.push(if options.intercept { centre } else { 0.0 });
    }
    let rows = n + if options.ridge > 0.0 { d } else { 0 };
    let data = Rows {
        x,
        y,
        scale: scale.as_deref(),
        mean: &mean,
    };
    let mut a = tall_skinny_r(&data, options.threads(), chunk_rows(d + 1));
    if options.ridge > 0.0 {
        // [R; sqrt(alpha) I 0] -> R
        let p = d + 1;
        let mut stack = Mat::<f64>::zeros(p + d, p);
        stack
            .as_mut()
            .submatrix_mut(0, 0, p, p)
            .copy_from(a.as_ref());
        for j in 0..d {
            stack[(p + j, j)] = options.ridge.sqrt();
        }
        factor_in_place(stack.as_mut());
        a = stack.as_ref().submatrix(0, 0, p, p).to_owned();
    }
    let r = a.as_ref().submatrix(0, 0, d, d);
    let z = Col::from_fn(d, |i| a[(i, d)]);
    let rho = a[(d, d)];
    let condition = condition_upper(r);
    let rank_tolerance = f64::EPSILON * rows.max(d) as f64;
    let deficient = condition.is_nan() || condition * rank_tolerance >= 1.0;
    let (b, rank, condition, method, lost) = match finish {
        Finish::Qr if deficient => return Err(FitError::RankDeficient { condition }),
        Finish::Qr | Finish::QrOrSvd if !deficient => {
            let mut b = z.clone();
            solve_upper_triangular_in_place(r, b.as_mat_mut(), Par::Seq);
            (b, d, condition, Method::Qr, 0.0)
        }
        _ => {
            let (b, rank, condition, lost) = minimum_norm(r, z.as_ref(), rank_tolerance)?;
            (b, rank, condition, Method::Svd, lost)
        }
    };
    let b: Vec<f64> = b.iter().copied().collect();
    let penalty = options.ridge * b.iter().map(|v| v * v).sum::<f64>();
    let rss = (rho * rho + lost - penalty).max(0.0);
    Ok(Fit {
        intercept: intercept(options, &mean, &b),
        coefficients: b,
        method,
        rank,
        condition,
        rss,
        r2: r_squared(rss, tss),
        rows: n,
    })
}

/// Minimum-norm solution of `R b = z` by the SVD `R = U S V'`, dropping singular values below
/// `tolerance * s_max`: `b = V_k inv(S_k) U_k' z`. Returns `b`, the rank `k`, the exact
/// condition number `s_max / s_min` and `|U_rest' z|^2`, the residual the dropped directions add.
fn minimum_norm(
    r: MatRef<'_, f64>,
    z: ColRef<'_, f64>,
    tolerance: f64,
) -> Result<(Col<f64>, usize, f64, f64), FitError> {
    let d = r.nrows();
    let upper = Mat::from_fn(d, d, |i, j| if i <= j { r[(i, j)] } else { 0.0 });
    let svd = upper.svd().map_err(|_| FitError::SvdFailed)?;
    let s = svd.S().column_vector();
    let (u, v) = (svd.U(), svd.V());
    let s_max = s[0];
    let s_min = s[d - 1];
    let rank = (0..d).filter(|&k| s[k] > tolerance * s_max).count();
    let uz = u.transpose() * z;
    let mut b = Col::zeros(d);
    for k in 0..rank {
        b += v.col(k) * (uz[k] / s[k]);
    }
    let lost = (rank..d).map(|k| uz[k] * uz[k]).sum();
    let condition = if s_min > 0.0 {
        s_max / s_min
    } else {
        f64::INFINITY
    };
    Ok((b, rank, condition, lost))
}

/// The rows of the centred, weighted problem `[s (x - m), s (y - m_y)]`, read by chunks.
struct Rows<'a> {
    x: MatRef<'a, f64>,
    y: ColRef<'a, f64>,
    scale: Option<&'a [f64]>,
    mean: &'a [f64],
}

/// Rows per chunk of the tall-and-skinny QR for `p` columns: a few MiB, so that each
/// factorisation runs in cache, and at least `8 p` so that re-factoring the carried `R` costs
/// little.
fn chunk_rows(p: usize) -> usize {
    (8 * p).max((1 << 22) / (8 * p)).max(1)
}

/// The `p x p` triangular factor `R` of the rows (`p = d + 1`, zeros below the diagonal) by a
/// tall-and-skinny QR: each thread carries an `R` down its share of the rows, factoring `[R;
/// next chunk]` in cache (Householder, `Q` discarded), and the threads' factors are stacked and
/// factored once more. Backward stable like one Householder QR of the whole matrix, which
/// would stream the whole matrix through memory once per column of each panel.
fn tall_skinny_r(rows: &Rows<'_>, threads: usize, chunk: usize) -> Mat<f64> {
    let n = rows.x.nrows();
    let p = rows.x.ncols() + 1;
    let threads = threads.clamp(1, n.div_ceil(chunk).max(1));
    let per = n.div_ceil(threads);
    let factors: Vec<Mat<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = (t * per).min(n);
                let end = ((t + 1) * per).min(n);
                s.spawn(move || carry_r(rows, start, end, chunk))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a QR worker panicked"))
            .collect()
    });
    if factors.len() == 1 {
        return factors.into_iter().next().expect("one factor");
    }
    let mut stack = Mat::<f64>::zeros(p * factors.len(), p);
    for (k, r) in factors.iter().enumerate() {
        stack
            .as_mut()
            .submatrix_mut(k * p, 0, p, p)
            .copy_from(r.as_ref());
    }
    factor_in_place(stack.as_mut());
    stack.as_ref().submatrix(0, 0, p, p).to_owned()
}

/// `R` of the rows `start..end`, chunk by chunk.
fn carry_r(rows: &Rows<'_>, start: usize, end: usize, chunk: usize) -> Mat<f64> {
    let d = rows.x.ncols();
    let p = d + 1;
    let mut stack = Mat::<f64>::zeros(p + chunk, p);
    let mut carried = 0;
    let mut first = start;
    while first < end {
        let len = chunk.min(end - first);
        for j in 0..p {
            let column = if j < d { rows.x.col(j) } else { rows.y };
            let values = contiguous(column.subrows(first, len));
            let centre = rows.mean[j];
            let out = stack
                .as_mut()
                .col_mut(j)
                .subrows_mut(carried, len)
                .try_as_col_major_mut()
                .expect("a new matrix is column-major")
                .as_slice_mut();
            match rows.scale {
                Some(s) => {
                    for ((o, v), s) in out.iter_mut().zip(values.iter()).zip(&s[first..]) {
                        *o = s * (v - centre);
                    }
                }
                None => {
                    for (o, v) in out.iter_mut().zip(values.iter()) {
                        *o = v - centre;
                    }
                }
            }
        }
        factor_in_place(stack.as_mut().subrows_mut(0, carried + len));
        carried = p;
        first += len;
    }
    stack.as_ref().submatrix(0, 0, p, p).to_owned()
}

/// Householder QR of `a` in place, leaving `R` in its top rows with zeros below the diagonal
/// (and zero rows where `a` has fewer rows than columns).
fn factor_in_place(mut a: faer::MatMut<'_, f64>) {
    let (m, p) = a.shape();
    let size = m.min(p);
    if size > 0 {
        let block = recommended_block_size::<f64>(m, p);
        let mut householder = Mat::<f64>::zeros(block, size);
        let mut mem = MemBuffer::new(qr_in_place_scratch::<f64>(
            m,
            p,
            block,
            Par::Seq,
            Default::default(),
        ));
        qr_in_place(
            a.rb_mut(),
            householder.as_mut(),
            Par::Seq,
            MemStack::new(&mut mem),
            Default::default(),
        );
    }
    for j in 0..p {
        for i in (j + 1)..m.min(p) {
            a[(i, j)] = 0.0;
        }
    }
}

/// `sum w v / W`, refined by the mean of the deviations (two-pass), which removes most of the
/// rounding error of the first sum.
fn weighted_mean(v: &[f64], w: Option<&[f64]>, total: f64) -> f64 {
    let sum = |c: f64| -> f64 {
        match w {
            Some(w) => v.iter().zip(w).map(|(v, w)| w * (v - c)).sum(),
            None => v.iter().map(|v| v - c).sum(),
        }
    };
    let first = sum(0.0) / total;
    first + sum(first) / total
}

/// `sum w (v - c)^2`.
fn weighted_sum_of_squares(v: &[f64], w: Option<&[f64]>, c: f64) -> f64 {
    match w {
        Some(w) => v.iter().zip(w).map(|(v, w)| w * (v - c) * (v - c)).sum(),
        None => v.iter().map(|v| (v - c) * (v - c)).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunked, threaded factor equals one Householder QR of the whole matrix, up to the
    /// signs of its rows.
    #[test]
    fn tall_skinny_r_equals_one_qr() {
        let (n, d) = (203, 6);
        let x = Mat::from_fn(n, d, |i, j| {
            ((i * 37 + j * 11) % 17) as f64 / 7.0 + (i as f64).sin()
        });
        let y = Col::from_fn(n, |i| (i as f64 * 0.3).cos());
        let scale: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
        let mean: Vec<f64> = (0..=d).map(|j| j as f64 * 0.1).collect();
        let rows = Rows {
            x: x.as_ref(),
            y: y.as_ref(),
            scale: Some(&scale),
            mean: &mean,
        };
        let mut whole = Mat::from_fn(n, d + 1, |i, j| {
            scale[i] * (if j < d { x[(i, j)] } else { y[i] } - mean[j])
        });
        factor_in_place(whole.as_mut());
        let reference = whole.as_ref().submatrix(0, 0, d + 1, d + 1);
        let norm = reference.norm_l2();
        for (threads, chunk) in [(1, 1), (1, 5), (2, 7), (3, 64), (2, 1000)] {
            let r = tall_skinny_r(&rows, threads, chunk);
            for i in 0..=d {
                for j in 0..=d {
                    let diff = (r[(i, j)].abs() - reference[(i, j)].abs()).abs();
                    assert!(
                        diff < 1e-13 * norm,
                        "threads {threads} chunk {chunk}: ({i}, {j})"
                    );
                }
            }
        }
    }
}
