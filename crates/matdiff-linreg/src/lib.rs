//! matdiff-linreg: least squares that is fast when it can be and accurate when it must be.
//!
//! Fits `y ≈ X b + c` (an intercept `c` by centring, not by a column of ones), optionally with a
//! ridge penalty `alpha |b|^2` (the intercept is not penalised) and sample weights, by one of
//! four [`Method`]s:
//!
//! - `Normal`: the Gram matrix `X'X` by symmetric rank-k updates over cache-sized blocks (in
//!   parallel), then Cholesky. Fastest; loses `cond(X)^2` instead of `cond(X)` digits.
//! - `Qr`: Householder QR of `[X y]`, `Q` never formed. Loses `cond(X)` digits.
//! - `Svd`: QR, then the SVD of the small factor `R`: the minimum-norm solution and the numerical
//!   rank, for rank-deficient data.
//! - `Auto`: the normal equation, unless its condition estimate says that `cond^2 > 1e8` (more
//!   than half the digits lost); then QR, and the SVD when the data is rank-deficient.
//!
//! [`GramAccumulator`] sums rows chunk by chunk (and merges partial sums), for data that does not
//! fit in memory; [`CsvReader`] and [`NpyReader`] read such data in chunks and [`fit_stream`]
//! accumulates the chunks on several threads. The crate does no file IO of its own: readers take
//! any `std::io::Read`.
//!
//! ```
//! use faer::{mat, col};
//! use matdiff_linreg::{fit, Method, Options};
//!
//! let x = mat![[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]];
//! let y = col![3.0, 6.0, 7.0, 10.0]; // y = 1 + 2 x1 + x2
//! let result = fit(x.as_ref(), y.as_ref(), &Options::default())?;
//! assert!((result.coefficients[0] - 2.0).abs() < 1e-12);
//! assert!((result.coefficients[1] - 1.0).abs() < 1e-12);
//! assert!((result.intercept - 1.0).abs() < 1e-12);
//! assert_eq!(result.method, Method::Normal);
//! # Ok::<(), matdiff_linreg::FitError>(())
//! ```
#![warn(missing_docs)]

mod condition;
mod csv;
mod error;
mod gram;
mod normal;
mod npy;
mod qr;
mod stream;

use std::fmt;

use faer::{ColRef, MatRef};

pub use csv::{CsvReader, Table};
pub use error::FitError;
pub use gram::GramAccumulator;
pub use npy::NpyReader;
pub use stream::{fit_stream, Chunk, ChunkSource};

/// How to solve the least-squares problem.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Method {
    /// Normal equation, falling back to QR or SVD when the data is ill-conditioned.
    #[default]
    Auto,
    /// Normal equation: Gram matrix and Cholesky.
    Normal,
    /// Householder QR.
    Qr,
    /// QR then SVD: minimum-norm solution, numerical rank.
    Svd,
}

impl Method {
    /// The lower-case name: `auto`, `normal`, `qr`, `svd`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Normal => "normal",
            Method::Qr => "qr",
            Method::Svd => "svd",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to fit and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The method; `Auto` by default.
    pub method: Method,
    /// Ridge penalty `alpha` (>= 0) on `|b|^2`, not on the intercept; 0 by default.
    pub ridge: f64,
    /// Fit an intercept (by centring); true by default.
    pub intercept: bool,
    /// Threads for the Gram matrix and the QR factorisation; 0 (the default) means all cores.
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            method: Method::Auto,
            ridge: 0.0,
            intercept: true,
            threads: 0,
        }
    }
}

impl Options {
    /// These options with `method`.
    pub fn with_method(mut self, method: Method) -> Options {
        self.method = method;
        self
    }

    pub(crate) fn check(&self) -> Result<(), FitError> {
        if !(self.ridge.is_finite() && self.ridge >= 0.0) {
            return Err(FitError::BadRidge(self.ridge));
        }
        Ok(())
    }

    pub(crate) fn threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// A fitted linear model and how it was obtained.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// One coefficient per feature.
    pub coefficients: Vec<f64>,
    /// The intercept (0 without one).
    pub intercept: f64,
    /// The method that produced the result (never `Auto`).
    pub method: Method,
    /// Numerical rank of the (centred) data: the number of features unless the SVD dropped some.
    pub rank: usize,
    /// 2-norm condition number of the centred (weighted, ridge-augmented) data matrix: an estimate
    /// from the triangular factor for `Normal` and `Qr`, exact from the singular values for `Svd`.
    pub condition: f64,
    /// Residual sum of squares `sum w (y - c - x'b)^2`.
    pub rss: f64,
    /// Coefficient of determination `1 - rss / tss`, `tss` about the (weighted) mean of `y`.
    pub r2: f64,
    /// Rows of data.
    pub rows: usize,
}

/// Fits `y ≈ x b + c` by least squares: one row of `x` per sample.
pub fn fit(x: MatRef<'_, f64>, y: ColRef<'_, f64>, options: &Options) -> Result<Fit, FitError> {
    fit_rows(x, y, None, options)
}

/// Fits `y ≈ x b + c` by weighted least squares: minimises `sum w_i (y_i - c - x_i' b)^2`.
///
/// ```
/// use faer::{mat, col};
/// use matdiff_linreg::{fit_weighted, Options};
///
/// // A weight of 2 counts a row twice.
/// let twice = fit_weighted(
///     mat![[0.0], [1.0], [2.0]].as_ref(), col![0.0, 1.0, 5.0].as_ref(),
///     col![1.0, 2.0, 1.0].as_ref(), &Options::default())?;
/// let repeated = matdiff_linreg::fit(
///     mat![[0.0], [1.0], [1.0], [2.0]].as_ref(), col![0.0, 1.0, 1.0, 5.0].as_ref(),
///     &Options::default())?;
/// assert!((twice.coefficients[0] - repeated.coefficients[0]).abs() < 1e-12);
/// # Ok::<(), matdiff_linreg::FitError>(())
/// ```
pub fn fit_weighted(
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    weights: ColRef<'_, f64>,
    options: &Options,
) -> Result<Fit, FitError> {
    fit_rows(x, y, Some(weights), options)
}

fn fit_rows(
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    w: Option<ColRef<'_, f64>>,
    options: &Options,
) -> Result<Fit, FitError> {
    options.check()?;
    let n = x.nrows();
    check_lengths(n, y, w)?;
    normal::check_rows(n, x.ncols(), options)?;
    match options.method {
        Method::Normal => normal::solve(&gram::accumulate(x, y, w, options.threads())?, options),
        Method::Qr => qr::fit(x, y, w, options, qr::Finish::Qr),
        Method::Svd => qr::fit(x, y, w, options, qr::Finish::Svd),
        Method::Auto => {
            let gram = gram::accumulate(x, y, w, options.threads())?;
            match normal::solve(&gram, options) {
                Ok(fit)
                    if fit.condition * fit.condition <= normal::MAX_NORMAL_CONDITION_SQUARED =>
                {
                    Ok(fit)
                }
                Ok(_) | Err(FitError::NotPositiveDefinite { .. }) => {
                    qr::fit(x, y, w, options, qr::Finish::QrOrSvd)
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// `1 - rss / tss`; for a constant target, 1 when the fit is exact and 0 otherwise (as
/// scikit-learn's `r2_score`).
pub(crate) fn r_squared(rss: f64, tss: f64) -> f64 {
    if tss > 0.0 {
        1.0 - rss / tss
    } else if rss == 0.0 {
        1.0
    } else {
        0.0
    }
}

/// Targets and weights must have one entry per row of features.
pub(crate) fn check_lengths(
    n: usize,
    y: ColRef<'_, f64>,
    w: Option<ColRef<'_, f64>>,
) -> Result<(), FitError> {
    if y.nrows() != n || w.is_some_and(|w| w.nrows() != n) {
        return Err(FitError::Shape {
            what: format!(
                "{n} rows of features, {} targets{}",
                y.nrows(),
                w.map(|w| format!(", {} weights", w.nrows()))
                    .unwrap_or_default()
            ),
        });
    }
    Ok(())
}
