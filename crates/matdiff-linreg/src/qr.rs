//! The QR and SVD paths: Householder QR of the centred, weighted, ridge-augmented matrix
//! `[X y]`, so `Q'y` comes out of the factorisation itself and `Q` is never formed; then either a
//! triangular solve or, for the minimum-norm solution, the SVD of the small `d x d` factor `R`.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::qr::no_pivoting::factor::{
    qr_in_place, qr_in_place_scratch, recommended_block_size,
};
use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::{Col, ColRef, Mat, MatRef, Par};

use crate::condition::condition_upper;
use crate::gram::contiguous;
use crate::normal::{check_rows, intercept};
use crate::{par, r_squared, Fit, FitError, Method, Options};

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
    let ridge_rows = if options.ridge > 0.0 { d } else { 0 };
    let mut a = Mat::<f64>::zeros(n + ridge_rows, d + 1);
    let mut mean = Vec::with_capacity(d + 1);
    let mut tss = 0.0;
    for j in 0..=d {
        let column = if j < d { x.col(j) } else { y };
        let values = contiguous(column);
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
        let centre = if options.intercept { centre } else { 0.0 };
        mean.push(centre);
        let out = a
            .as_mut()
            .col_mut(j)
            .try_as_col_major_mut()
            .expect("a new matrix is column-major")
            .as_slice_mut();
        for (i, v) in values.iter().enumerate() {
            out[i] = scale.as_ref().map_or(1.0, |s| s[i]) * (v - centre);
        }
    }
    for j in 0..ridge_rows {
        a[(n + j, j)] = options.ridge.sqrt();
    }

    let par = par(options.threads);
    let (rows, columns) = a.shape();
    let block = recommended_block_size::<f64>(rows, columns);
    let mut householder = Mat::<f64>::zeros(block, rows.min(columns));
    let mut mem = MemBuffer::new(qr_in_place_scratch::<f64>(
        rows,
        columns,
        block,
        par,
        Default::default(),
    ));
    qr_in_place(
        a.as_mut(),
        householder.as_mut(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    );
    let r = a.as_ref().submatrix(0, 0, d, d);
    let z = Col::from_fn(d, |i| a[(i, d)]);
    let rho = if rows > d { a[(d, d)] } else { 0.0 };
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
