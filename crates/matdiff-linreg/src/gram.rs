//! Streaming Gram accumulation: weighted means and centred cross-products of `[X y]`, merged by
//! Chan's pairwise formula, so blocks, threads and machines can each sum a part.
//!
//! For two parts `a` and `b` with weights `Wa`, `Wb`, means `ma`, `mb` and centred scatter matrices
//! `Ca`, `Cb`, the union has `W = Wa + Wb`, `m = ma + (mb - ma) Wb / W` and
//! `C = Ca + Cb + (Wa Wb / W) (mb - ma)(mb - ma)'` (Chan, Golub and LeVeque, 1979). Raw sums
//! `X'X - n m m'` would cancel catastrophically when the means are large; this does not.

use std::borrow::Cow;

use faer::linalg::matmul::triangular::{matmul, BlockStructure};
use faer::reborrow::ReborrowMut;
use faer::{Accum, ColRef, Mat, MatRef, Par};

use crate::{normal, Fit, FitError, Options};

/// Target size of one centred block (bytes): it stays in the L2 cache between the copy and the
/// rank-k update.
const BLOCK_BYTES: usize = 1 << 19;

/// Rows per block for `columns` columns.
fn block_rows(columns: usize) -> usize {
    (BLOCK_BYTES / (8 * columns)).clamp(128, 4096)
}

/// Running weighted means and centred cross-products of the rows `[x, y]` seen so far.
///
/// Add rows in chunks of any size ([`add`](Self::add), [`add_weighted`](Self::add_weighted)),
/// merge accumulators that saw other rows ([`merge`](Self::merge)), then [`fit`](Self::fit) the
/// normal equation. Memory is `O(d^2)` whatever the number of rows.
///
/// ```
/// use faer::{mat, col};
/// use matdiff_linreg::{GramAccumulator, Options};
///
/// // y = 1 + 2 x, in two chunks summed by two accumulators
/// let mut a = GramAccumulator::new(1);
/// a.add(mat![[0.0], [1.0]].as_ref(), col![1.0, 3.0].as_ref())?;
/// let mut b = GramAccumulator::new(1);
/// b.add(mat![[2.0], [3.0]].as_ref(), col![5.0, 7.0].as_ref())?;
/// a.merge(&b)?;
/// let fit = a.fit(&Options::default())?;
/// assert!((fit.coefficients[0] - 2.0).abs() < 1e-12 && (fit.intercept - 1.0).abs() < 1e-12);
/// # Ok::<(), matdiff_linreg::FitError>(())
/// ```
#[derive(Clone, Debug)]
pub struct GramAccumulator {
    features: usize,
    rows: usize,
    weight: f64,
    /// Weighted means of the features, then of the target.
    mean: Vec<f64>,
    /// Lower triangle of `sum w (z - mean)(z - mean)'`, `z = [x, y]`.
    scatter: Mat<f64>,
    /// Scratch: one centred, weighted block.
    buffer: Mat<f64>,
    /// Scratch: per column, the shift and the block's mean offset from it.
    block_shift: Vec<f64>,
    block_mean: Vec<f64>,
}

impl GramAccumulator {
    /// An empty accumulator for rows of `features` features and one target.
    pub fn new(features: usize) -> GramAccumulator {
        let columns = features + 1;
        GramAccumulator {
            features,
            rows: 0,
            weight: 0.0,
            mean: vec![0.0; columns],
            scatter: Mat::zeros(columns, columns),
            buffer: Mat::zeros(0, 0),
            block_shift: vec![0.0; columns],
            block_mean: vec![0.0; columns],
        }
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Rows added so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds rows `x` (one row per sample) with targets `y`, each of weight one.
    pub fn add(&mut self, x: MatRef<'_, f64>, y: ColRef<'_, f64>) -> Result<(), FitError> {
        self.add_rows(x, y, None)
    }

    /// Adds rows `x` with targets `y` and sample weights `w` (finite, >= 0).
    pub fn add_weighted(
        &mut self,
        x: MatRef<'_, f64>,
        y: ColRef<'_, f64>,
        w: ColRef<'_, f64>,
    ) -> Result<(), FitError> {
        self.add_rows(x, y, Some(w))
    }

    /// Adds the rows that `other` saw, as if they had been added to `self`.
    pub fn merge(&mut self, other: &GramAccumulator) -> Result<(), FitError> {
        if other.features != self.features {
            return Err(FitError::Shape {
                what: format!(
                    "cannot merge an accumulator of {} features into one of {}",
                    other.features, self.features
                ),
            });
        }
        self.combine(other.weight, &other.mean, Some(other.scatter.as_ref()));
        self.rows += other.rows;
        Ok(())
    }

    /// Solves the normal equation of the rows seen so far.
    ///
    /// `Method::Normal` and `Method::Auto` work here; `auto` returns
    /// [`FitError::IllConditioned`] where the in-memory fit would fall back to QR, since the rows
    /// are gone. The residual sum of squares comes from the Gram matrix, exact to about
    /// `eps * |y - mean(y)|^2`.
    pub fn fit(&self, options: &Options) -> Result<Fit, FitError> {
        normal::fit_gram(self, options)
    }

    pub(crate) fn weight(&self) -> f64 {
        self.weight
    }

    pub(crate) fn mean(&self) -> &[f64] {
        &self.mean
    }

    pub(crate) fn scatter(&self) -> MatRef<'_, f64> {
        self.scatter.as_ref()
    }

    pub(crate) fn add_rows(
        &mut self,
        x: MatRef<'_, f64>,
        y: ColRef<'_, f64>,
        w: Option<ColRef<'_, f64>>,
    ) -> Result<(), FitError> {
        let n = x.nrows();
        if x.ncols() != self.features {
            return Err(FitError::Shape {
                what: format!(
                    "rows of {} features added to an accumulator of {}",
                    x.ncols(),
                    self.features
                ),
            });
        }
        crate::check_lengths(n, y, w)?;
        let block = block_rows(self.features + 1);
        let mut start = 0;
        while start < n {
            let len = block.min(n - start);
            self.add_block(
                x.subrows(start, len),
                y.subrows(start, len),
                w.map(|w| w.subrows(start, len)),
            )?;
            start += len;
        }
        Ok(())
    }

    /// Copies one cache-sized block as deviations from a shift close to its mean (in the same
    /// pass as the column sums), updates the scatter matrix by a symmetric rank-k product,
    /// recentres it on the block's own mean, then merges by Chan's formula.
    fn add_block(
        &mut self,
        x: MatRef<'_, f64>,
        y: ColRef<'_, f64>,
        w: Option<ColRef<'_, f64>>,
    ) -> Result<(), FitError> {
        let m = x.nrows();
        let d = self.features;
        let first_row = self.rows + 1;
        let weights = w.map(contiguous);
        let scale: Option<Vec<f64>> = match &weights {
            Some(w) => {
                if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
                    return Err(FitError::BadWeight {
                        row: first_row + i,
                        value: w[i],
                    });
                }
                Some(w.iter().map(|v| v.sqrt()).collect())
            }
            None => None,
        };
        let block_weight = match &weights {
            Some(w) => w.iter().sum(),
            None => m as f64,
        };
        if self.buffer.nrows() < m || self.buffer.ncols() != d + 1 {
            self.buffer = Mat::zeros(m.max(block_rows(d + 1)), d + 1);
        }
        let mut buffer = self.buffer.as_mut().subrows_mut(0, m);
        for j in 0..=d {
            let column = contiguous(if j < d { x.col(j) } else { y });
            // The shift: the running mean, or for the first block its own mean (one extra pass
            // over one block). Rows then enter the product as deviations from a close estimate
            // of their mean, and `sum` is their (weighted) mean offset from it.
            let shift = if self.weight > 0.0 {
                self.mean[j]
            } else if block_weight > 0.0 {
                let total: f64 = match &weights {
                    Some(w) => column.iter().zip(w.iter()).map(|(v, w)| v * w).sum(),
                    None => column.iter().sum(),
                };
                total / block_weight
            } else {
                0.0
            };
            let out = buffer
                .rb_mut()
                .col_mut(j)
                .try_as_col_major_mut()
                .expect("the buffer is column-major")
                .as_slice_mut();
            let mut sum = 0.0;
            match (&scale, &weights) {
                (Some(s), Some(w)) => {
                    for (((o, v), s), w) in out.iter_mut().zip(column.iter()).zip(s).zip(w.iter()) {
                        let deviation = v - shift;
                        *o = s * deviation;
                        sum += w * deviation;
                    }
                }
                _ => {
                    for (o, v) in out.iter_mut().zip(column.iter()) {
                        let deviation = v - shift;
                        *o = deviation;
                        sum += deviation;
                    }
                }
            }
            if !(sum.is_finite() && shift.is_finite()) {
                if let Some(i) = column.iter().position(|v| !v.is_finite()) {
                    return Err(FitError::NonFinite {
                        row: first_row + i,
                        column: if j < d {
                            (j + 1).to_string()
                        } else {
                            "target".to_string()
                        },
                        value: column[i],
                    });
                }
            }
            self.block_shift[j] = shift;
            self.block_mean[j] = if block_weight > 0.0 {
                sum / block_weight
            } else {
                0.0
            };
        }
        self.rows += m;
        if block_weight == 0.0 {
            return Ok(());
        }
        // scatter += B'B - W_b o o', with B the shifted, weighted block and o its mean offset:
        // the block's scatter about its own mean, computed without cancellation since o is small.
        let buffer = self.buffer.as_ref().subrows(0, m);
        matmul(
            self.scatter.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            buffer.transpose(),
            BlockStructure::Rectangular,
            buffer,
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
        let offset = std::mem::take(&mut self.block_mean);
        for j in 0..=d {
            for i in j..=d {
                self.scatter[(i, j)] -= block_weight * offset[i] * offset[j];
            }
        }
        let mean: Vec<f64> = offset
            .iter()
            .zip(&self.block_shift)
            .map(|(o, s)| s + o)
            .collect();
        self.block_mean = offset;
        self.combine(block_weight, &mean, None);
        Ok(())
    }

    /// Merges a part of weight `weight`, means `mean` and scatter `scatter` (lower triangle; `None`
    /// when it was already added in place) by Chan's formula.
    fn combine(&mut self, weight: f64, mean: &[f64], scatter: Option<MatRef<'_, f64>>) {
        if weight == 0.0 {
            return;
        }
        let columns = self.features + 1;
        let total = self.weight + weight;
        let factor = self.weight * weight / total;
        let delta: Vec<f64> = mean.iter().zip(&self.mean).map(|(b, a)| b - a).collect();
        for j in 0..columns {
            for i in j..columns {
                let mut v = self.scatter[(i, j)] + factor * delta[i] * delta[j];
                if let Some(s) = scatter {
                    v += s[(i, j)];
                }
                self.scatter[(i, j)] = v;
            }
        }
        for (m, d) in self.mean.iter_mut().zip(&delta) {
            *m += d * weight / total;
        }
        self.weight = total;
    }
}

/// The Gram statistics of in-memory rows, summed by `threads` threads over contiguous row ranges
/// and merged in order (so the result does not depend on timing).
pub(crate) fn accumulate(
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    w: Option<ColRef<'_, f64>>,
    threads: usize,
) -> Result<GramAccumulator, FitError> {
    let n = x.nrows();
    let d = x.ncols();
    let block = block_rows(d + 1);
    let threads = threads.clamp(1, n.div_ceil(block).max(1));
    if threads == 1 {
        let mut acc = GramAccumulator::new(d);
        acc.add_rows(x, y, w)?;
        return Ok(acc);
    }
    let per = n.div_ceil(threads).div_ceil(block) * block;
    let parts: Vec<Result<GramAccumulator, FitError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = (t * per).min(n);
                let len = per.min(n - start);
                s.spawn(move || {
                    let mut acc = GramAccumulator::new(d);
                    acc.add_rows(
                        x.subrows(start, len),
                        y.subrows(start, len),
                        w.map(|w| w.subrows(start, len)),
                    )
                    .map_err(|e| e.shift_rows(start))?;
                    Ok(acc)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a Gram worker panicked"))
            .collect()
    });
    let mut total = GramAccumulator::new(d);
    for part in parts {
        total.merge(&part?)?;
    }
    Ok(total)
}

/// A column as a slice, copied only when it is not contiguous.
pub(crate) fn contiguous(c: ColRef<'_, f64>) -> Cow<'_, [f64]> {
    match c.try_as_col_major() {
        Some(c) => Cow::Borrowed(c.as_slice()),
        None => Cow::Owned(c.iter().copied().collect()),
    }
}

impl FitError {
    /// The same error with its row number moved down by `offset` rows.
    pub(crate) fn shift_rows(self, offset: usize) -> FitError {
        match self {
            FitError::NonFinite { row, column, value } => FitError::NonFinite {
                row: row + offset,
                column,
                value,
            },
            FitError::BadWeight { row, value } => FitError::BadWeight {
                row: row + offset,
                value,
            },
            other => other,
        }
    }
}
