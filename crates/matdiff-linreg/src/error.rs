//! The one error type of the crate: bad data, bad options, and problems a method cannot solve.

use crate::Method;

/// Why a fit, or reading its data, failed.
///
/// Rows and lines are 1-based as a person counts them: `row` is a data row (the first data row is
/// row 1), `line` a line of a CSV file (the header is line 1).
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum FitError {
    /// The data has no rows (or a CSV file is empty).
    #[error("no data: {what}")]
    Empty {
        /// What is missing: "the file is empty", "the data has no rows" ...
        what: &'static str,
    },
    /// The data has no feature column.
    #[error("no feature columns: the data has only the target")]
    NoFeatures,
    /// Fewer rows than unknowns, without a ridge penalty to make the problem well posed.
    #[error(
        "{rows} rows for {unknowns} unknowns ({features} features{intercept}): \
         need at least as many rows as unknowns, or a ridge penalty"
    )]
    TooFewRows {
        /// Rows of data.
        rows: usize,
        /// Features.
        features: usize,
        /// Features plus one for the intercept.
        unknowns: usize,
        /// ", plus the intercept" or "".
        intercept: &'static str,
    },
    /// The inputs disagree in size.
    #[error("size mismatch: {what}")]
    Shape {
        /// Which sizes disagree.
        what: String,
    },
    /// A value is NaN or infinite.
    #[error("non-finite value {value} in row {row}, column {column}")]
    NonFinite {
        /// Data row (1-based).
        row: usize,
        /// Column name, or its 1-based number.
        column: String,
        /// The value.
        value: f64,
    },
    /// A sample weight is negative, NaN or infinite.
    #[error("invalid sample weight {value} in row {row}: weights must be finite and >= 0")]
    BadWeight {
        /// Data row (1-based).
        row: usize,
        /// The weight.
        value: f64,
    },
    /// The ridge penalty is negative, NaN or infinite.
    #[error("invalid ridge penalty {0}: it must be finite and >= 0")]
    BadRidge(f64),
    /// A CSV cell is not a finite number (text, an empty cell, NaN, inf).
    #[error("line {line}, column '{column}': {found} is not a finite number")]
    NotANumber {
        /// Line of the file (1-based, the header is line 1).
        line: usize,
        /// Column name.
        column: String,
        /// The cell, quoted, or "an empty cell".
        found: String,
    },
    /// A CSV line has a different number of cells than the header.
    #[error("line {line}: {found} cells, but the header has {expected} columns")]
    Ragged {
        /// Line of the file (1-based).
        line: usize,
        /// Cells in the header.
        expected: usize,
        /// Cells on this line.
        found: usize,
    },
    /// The target column is not in the header.
    #[error("no column named '{name}' (columns: {available})")]
    MissingColumn {
        /// The requested name.
        name: String,
        /// The header, comma-separated.
        available: String,
    },
    /// A header names the same column twice.
    #[error("column '{0}' appears twice in the header")]
    DuplicateColumn(String),
    /// A malformed or unsupported `.npy` file.
    #[error("npy: {0}")]
    Npy(String),
    /// Reading the input failed.
    #[error("read error: {0}")]
    Io(String),
    /// The Gram matrix is not numerically positive definite, so the Cholesky factorisation failed.
    #[error(
        "the normal equation is singular to working precision (Cholesky pivot {pivot} is not \
         positive): the data is rank-deficient or too ill-conditioned; use the svd or qr method"
    )]
    NotPositiveDefinite {
        /// 1-based index of the failing pivot.
        pivot: usize,
    },
    /// The data matrix is rank-deficient, and the method cannot give a minimum-norm solution.
    #[error(
        "the data is rank-deficient to working precision (condition estimate {condition:.3e}); \
         use the svd method for the minimum-norm solution"
    )]
    RankDeficient {
        /// The condition estimate.
        condition: f64,
    },
    /// The Gram matrix alone is too ill-conditioned for `auto`, and the rows are gone.
    #[error(
        "the normal equation would lose more than half the digits (condition estimate \
         {condition:.3e}); fit the data in memory with qr or svd"
    )]
    IllConditioned {
        /// The condition estimate.
        condition: f64,
    },
    /// A method that needs the rows themselves was asked of a streaming accumulator.
    #[error("method {0} needs the rows themselves; a Gram accumulator supports normal and auto")]
    NeedsRows(Method),
    /// Bytes that are not a serialized [`crate::GramAccumulator`].
    #[error("not a serialized Gram accumulator: {0}")]
    BadBytes(String),
    /// The SVD did not converge.
    #[error("the singular value decomposition did not converge")]
    SvdFailed,
}

impl From<std::io::Error> for FitError {
    fn from(e: std::io::Error) -> FitError {
        FitError::Io(e.to_string())
    }
}
