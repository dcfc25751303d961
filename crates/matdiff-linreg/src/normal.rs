//! The normal equation `(X'X + alpha I) b = X'y` from Gram statistics, by Cholesky.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Col, Mat, Par};

use crate::condition::condition_upper;
use crate::{r_squared, Fit, FitError, GramAccumulator, Method, Options};

/// `auto` keeps the normal equation while `cond^2` stays below this: squaring the condition
/// number then costs at most half of the 16 digits.
pub(crate) const MAX_NORMAL_CONDITION_SQUARED: f64 = 1e8;

/// Solves the normal equation of the rows summed in `acc`.
pub(crate) fn fit_gram(acc: &GramAccumulator, options: &Options) -> Result<Fit, FitError> {
    options.check()?;
    if !matches!(options.method, Method::Normal | Method::Auto) {
        return Err(FitError::NeedsRows(options.method));
    }
    let fit = solve(acc, options)?;
    if options.method == Method::Auto
        && fit.condition * fit.condition > MAX_NORMAL_CONDITION_SQUARED
    {
        return Err(FitError::IllConditioned {
            condition: fit.condition,
        });
    }
    Ok(fit)
}

/// Cholesky solution of the normal equation; the condition estimate is that of the Cholesky
/// factor, which is the condition number of the (centred, ridge-augmented) data matrix.
pub(crate) fn solve(acc: &GramAccumulator, options: &Options) -> Result<Fit, FitError> {
    let d = acc.features();
    let rows = acc.rows();
    check_rows(rows, d, options)?;
    let (w, mean, scatter) = (acc.weight(), acc.mean(), acc.scatter());
    let mean = &mean[..];
    if w == 0.0 {
        return Err(FitError::Empty {
            what: "all sample weights are zero",
        });
    }
    // Without an intercept the uncentred moments are needed: X'X = C + W m m' (a sum of
    // semi-definite terms, so nothing cancels).
    let shift = if options.intercept { 0.0 } else { w };
    let mut gram = Mat::from_fn(d, d, |i, j| {
        if i >= j {
            scatter[(i, j)] + shift * mean[i] * mean[j]
        } else {
            0.0
        }
    });
    for i in 0..d {
        gram[(i, i)] += options.ridge;
    }
    let mut z = Col::from_fn(d, |i| scatter[(d, i)] + shift * mean[d] * mean[i]);
    let yy = scatter[(d, d)] + shift * mean[d] * mean[d];
    let tss = scatter[(d, d)];

    let par = Par::Seq;
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(d, par, Default::default()));
    cholesky_in_place(
        gram.as_mut(),
        Default::default(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| match e {
        faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index } => {
            FitError::NotPositiveDefinite { pivot: index + 1 }
        }
    })?;
    let lower = gram.as_ref();
    let condition = condition_upper(lower.transpose());
    solve_lower_triangular_in_place(lower, z.as_mat_mut(), par);
    // At the solution, |y - X b|^2 + alpha |b|^2 = y'y - |inv(L) X'y|^2.
    let objective = yy - z.squared_norm_l2();
    solve_upper_triangular_in_place(lower.transpose(), z.as_mat_mut(), par);
    let b: Vec<f64> = z.iter().copied().collect();
    let penalty = options.ridge * b.iter().map(|v| v * v).sum::<f64>();
    let rss = (objective - penalty).max(0.0);
    Ok(Fit {
        intercept: intercept(options, mean, &b),
        coefficients: b,
        method: Method::Normal,
        rank: d,
        condition,
        rss,
        r2: r_squared(rss, tss),
        rows,
    })
}

/// `mean(y) - mean(x)' b` with an intercept, else 0.
pub(crate) fn intercept(options: &Options, mean: &[f64], b: &[f64]) -> f64 {
    if options.intercept {
        let d = b.len();
        mean[d] - mean[..d].iter().zip(b).map(|(m, b)| m * b).sum::<f64>()
    } else {
        0.0
    }
}

/// Fewer rows than unknowns has no unique solution without a ridge penalty.
pub(crate) fn check_rows(rows: usize, features: usize, options: &Options) -> Result<(), FitError> {
    if rows == 0 {
        return Err(FitError::Empty {
            what: "the data has no rows",
        });
    }
    if features == 0 {
        return Err(FitError::NoFeatures);
    }
    let unknowns = features + usize::from(options.intercept);
    if options.ridge == 0.0 && rows < unknowns {
        return Err(FitError::TooFewRows {
            rows,
            features,
            unknowns,
            intercept: if options.intercept {
                ", plus the intercept"
            } else {
                ""
            },
        });
    }
    Ok(())
}
