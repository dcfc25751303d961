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
use faer::{Accum, ColRef, Mat, MatMut, MatRef, Par};

use crate::{normal, Fit, FitError, Options};

/// Target size of one shifted block (bytes): the copy stays in cache until the rank-k update
/// reads it.
const BLOCK_BYTES: usize = 1 << 21;

/// Rows per block for `columns` columns.
fn block_rows(columns: usize) -> usize {
    (BLOCK_BYTES / (8 * columns)).clamp(256, 4096)
}

/// Rows per part: enough blocks that the part's `O(d^2)` merge costs nothing next to its
/// `O(rows d^2)` product, few enough that the shift stays close to a drifting mean.
fn part_rows(columns: usize) -> usize {
    16 * block_rows(columns)
}

/// Whether features with these means and variances lose at most one bit to rounding when their
/// cross-products are summed unshifted: `mean^2 <= variance` in every column.
fn near_origin(mean: &[f64], variance: &[f64]) -> bool {
    mean.iter().zip(variance).all(|(m, v)| m * m <= *v)
}

/// The square roots of the weights, which must be finite and non-negative.
fn square_roots(w: &[f64], first_row: usize) -> Result<Vec<f64>, FitError> {
    match w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        Some(i) => Err(FitError::BadWeight {
            row: first_row + i,
            value: w[i],
        }),
        None => Ok(w.iter().map(|v| v.sqrt()).collect()),
    }
}

/// The (weighted) column means and variances of one block `[x y]`; zeros when its weight is
/// zero.
fn block_moments(
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    w: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let total = w.map_or(x.nrows() as f64, |w| w.iter().sum());
    if total.is_nan() || total <= 0.0 {
        return (vec![0.0; x.ncols() + 1], vec![0.0; x.ncols() + 1]);
    }
    let weight = |i: usize| w.map_or(1.0, |w| w[i]);
    (0..=x.ncols())
        .map(|j| {
            let column = contiguous(if j < x.ncols() { x.col(j) } else { y });
            let mean = column
                .iter()
                .enumerate()
                .map(|(i, v)| weight(i) * v)
                .sum::<f64>()
                / total;
            let variance = column
                .iter()
                .enumerate()
                .map(|(i, v)| weight(i) * (v - mean) * (v - mean))
                .sum::<f64>()
                / total;
            (mean, variance)
        })
        .unzip()
}

/// `lower += b'b` (lower triangle), or `lower = b'b` with `Accum::Replace`.
///
/// faer's triangular product computes a narrow Gram matrix as a full square. Between 24 and 128
/// columns the lower triangle is split here into two triangles and a rectangle (down to 24
/// columns), which skips most of the upper half: 17% faster at 50 columns; wider, faer's own
/// split is faster.
fn lower_product(lower: MatMut<'_, f64>, accum: Accum, b: MatRef<'_, f64>) {
    let p = b.ncols();
    if !(24 < p && p <= 128) {
        matmul(
            lower,
            BlockStructure::TriangularLower,
            accum,
            b.transpose(),
            BlockStructure::Rectangular,
            b,
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
        return;
    }
    let h = (p / 2).next_multiple_of(8);
    let (top, bottom) = lower.split_at_row_mut(h);
    let (left, right) = bottom.split_at_col_mut(h);
    lower_product(top.split_at_col_mut(h).0, accum, b.subcols(0, h));
    faer::linalg::matmul::matmul(
        left,
        accum,
        b.subcols(h, p - h).transpose(),
        b.subcols(0, h),
        1.0,
        Par::Seq,
    );
    lower_product(right, accum, b.subcols(h, p - h));
}

/// Writes `scale * (column - shift)` into `out` and returns the (weighted) sum of the deviations
/// `column - shift`.
fn deviations(
    out: &mut [f64],
    column: &[f64],
    shift: f64,
    scale: Option<&[f64]>,
    weights: Option<&[f64]>,
) -> f64 {
    let mut sum = 0.0;
    match (scale, weights) {
        (Some(s), Some(w)) => {
            for (((o, v), s), w) in out.iter_mut().zip(column).zip(s).zip(w) {
                let deviation = v - shift;
                *o = s * deviation;
                sum += w * deviation;
            }
        }
        _ => {
            for (o, v) in out.iter_mut().zip(column) {
                let deviation = v - shift;
                *o = deviation;
                sum += deviation;
            }
        }
    }
    sum
}

/// The first bytes of [`GramAccumulator::to_bytes`]: a name and a format version.
const BYTES_MAGIC: &[u8] = b"matdiff-gram-v1\0";

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
    /// Per column (the features, then the target), a fixed value near the data, set by the first
    /// rows: means are kept as offsets from it, so that data far from zero (at 1e7 with unit
    /// spread, say) keeps the digits of its spread in the merges.
    origin: Vec<f64>,
    /// Weighted means minus `origin`.
    offset: Vec<f64>,
    /// Lower triangle of `sum w (z - mean)(z - mean)'`, `z = [x, y]`.
    scatter: Mat<f64>,
    /// Scratch: one shifted, weighted block.
    buffer: Mat<f64>,
    /// Scratch: the lower triangle of the scatter of the part being added.
    part: Mat<f64>,
}

impl GramAccumulator {
    /// An empty accumulator for rows of `features` features and one target.
    pub fn new(features: usize) -> GramAccumulator {
        let columns = features + 1;
        GramAccumulator {
            features,
            rows: 0,
            weight: 0.0,
            origin: vec![0.0; columns],
            offset: vec![0.0; columns],
            scatter: Mat::zeros(columns, columns),
            buffer: Mat::zeros(0, 0),
            part: Mat::zeros(columns, columns),
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
        if self.weight == 0.0 {
            self.origin.clone_from(&other.origin);
        }
        // The other's means from this origin: origins are close, so their difference is exact.
        let mean: Vec<f64> = (0..=self.features)
            .map(|j| (other.origin[j] - self.origin[j]) + other.offset[j])
            .collect();
        self.combine(other.weight, &mean, Some(other.scatter.as_ref()));
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

    /// The accumulator as bytes (little-endian; the scatter's lower triangle), to send it to
    /// another process or machine; [`from_bytes`](Self::from_bytes) reads it back exactly.
    ///
    /// ```
    /// use faer::{mat, col};
    /// use matdiff_linreg::{GramAccumulator, Options};
    /// let mut a = GramAccumulator::new(1);
    /// a.add(mat![[0.0], [1.0], [2.0]].as_ref(), col![1.0, 3.0, 5.0].as_ref())?;
    /// let b = GramAccumulator::from_bytes(&a.to_bytes())?;
    /// assert_eq!(a.fit(&Options::default())?, b.fit(&Options::default())?);
    /// # Ok::<(), matdiff_linreg::FitError>(())
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let columns = self.features + 1;
        let mut out = Vec::with_capacity(BYTES_MAGIC.len() + 8 * (3 + columns * (columns + 5) / 2));
        out.extend_from_slice(BYTES_MAGIC);
        out.extend_from_slice(&(self.features as u64).to_le_bytes());
        out.extend_from_slice(&(self.rows as u64).to_le_bytes());
        let mut put = |v: f64| out.extend_from_slice(&v.to_le_bytes());
        put(self.weight);
        self.origin.iter().chain(&self.offset).for_each(|&v| put(v));
        for j in 0..columns {
            for i in j..columns {
                put(self.scatter[(i, j)]);
            }
        }
        out
    }

    /// Reads an accumulator written by [`to_bytes`](Self::to_bytes); anything else is
    /// [`FitError::BadBytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<GramAccumulator, FitError> {
        let bad = |why: &str| FitError::BadBytes(why.to_string());
        let rest = bytes
            .strip_prefix(BYTES_MAGIC)
            .ok_or_else(|| bad("it does not begin with the accumulator's header"))?;
        let word = |k: usize| -> [u8; 8] {
            rest[8 * k..8 * k + 8]
                .try_into()
                .expect("eight bytes, the length is checked")
        };
        if rest.len() < 16 {
            return Err(bad("it is too short"));
        }
        let features = usize::try_from(u64::from_le_bytes(word(0)))
            .ok()
            .filter(|&f| f < 1 << 20)
            .ok_or_else(|| bad("the number of features is too large"))?;
        let columns = features + 1;
        let numbers = 1 + 2 * columns + columns * (columns + 1) / 2;
        if rest.len() != 8 * (2 + numbers) {
            return Err(bad(&format!(
                "{} bytes, but {features} features need {}",
                bytes.len(),
                BYTES_MAGIC.len() + 8 * (2 + numbers)
            )));
        }
        let mut acc = GramAccumulator::new(features);
        acc.rows = usize::try_from(u64::from_le_bytes(word(1)))
            .map_err(|_| bad("the number of rows is too large"))?;
        let mut next = (2..).map(|k| f64::from_le_bytes(word(k)));
        let mut take = || next.next().expect("the length is checked");
        acc.weight = take();
        for j in 0..columns {
            acc.origin[j] = take();
        }
        for j in 0..columns {
            acc.offset[j] = take();
        }
        for j in 0..columns {
            for i in j..columns {
                acc.scatter[(i, j)] = take();
            }
        }
        Ok(acc)
    }

    pub(crate) fn weight(&self) -> f64 {
        self.weight
    }

    /// The weighted means of the features, then of the target.
    pub(crate) fn mean(&self) -> Vec<f64> {
        self.origin
            .iter()
            .zip(&self.offset)
            .map(|(o, m)| o + m)
            .collect()
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
        let part = part_rows(self.features + 1);
        let mut start = 0;
        while start < n {
            let len = part.min(n - start);
            self.add_part(
                x.subrows(start, len),
                y.subrows(start, len),
                w.map(|w| w.subrows(start, len)),
            )?;
            start += len;
        }
        Ok(())
    }

    /// Adds one part of the rows, block by block, as deviations from one shift per column: the
    /// running mean, or the first block's own mean. Each block is copied as deviations (scaled by
    /// the square roots of the weights) and summed into the part's scatter matrix by a symmetric
    /// rank-k product. When the features' shift is small next to their spread (`shift^2 <=
    /// variance`: at most one bit lost by not shifting) and there are no weights, the features
    /// are not copied at all: the product reads them in place, shifted by zero. The part's
    /// scatter is then recentred on its own mean and merged by Chan's formula: one `O(d^2)`
    /// merge per part, not per block.
    fn add_part(
        &mut self,
        x: MatRef<'_, f64>,
        y: ColRef<'_, f64>,
        w: Option<ColRef<'_, f64>>,
    ) -> Result<(), FitError> {
        let (d, n) = (self.features, x.nrows());
        let block = block_rows(d + 1).min(n);
        let (mut shift, spread) = if self.weight > 0.0 {
            let variance = (0..=d)
                .map(|j| self.scatter[(j, j)] / self.weight)
                .collect();
            (self.mean(), variance)
        } else {
            let w = w.map(|w| contiguous(w.subrows(0, block)));
            let moments = block_moments(x.subrows(0, block), y.subrows(0, block), w.as_deref());
            self.origin.clone_from(&moments.0);
            moments
        };
        let in_place = w.is_none() && near_origin(&shift[..d], &spread[..d]);
        if in_place {
            shift[..d].fill(0.0);
        }
        let columns = if in_place { 2 } else { d + 1 };
        if self.buffer.nrows() < block || self.buffer.ncols() != columns {
            self.buffer = Mat::zeros(block, columns);
        }
        let mut sums = vec![0.0; d + 1];
        let mut part_weight = 0.0;
        let mut start = 0;
        while start < n {
            let len = block.min(n - start);
            let (xb, yb) = (x.subrows(start, len), y.subrows(start, len));
            let weights = w.map(|w| contiguous(w.subrows(start, len)));
            let first_row = self.rows + start + 1;
            let accum = if start == 0 {
                Accum::Replace
            } else {
                Accum::Add
            };
            part_weight += match &weights {
                Some(w) => w.iter().sum(),
                None => len as f64,
            };
            if in_place {
                self.add_block_in_place(xb, yb, shift[d], &mut sums, accum);
            } else {
                self.add_block_shifted(xb, yb, weights.as_deref(), &shift, &mut sums, accum)
                    .map_err(|e| e.shift_rows(first_row - 1))?;
            }
            if let Some(j) = sums.iter().position(|v| !v.is_finite()) {
                let column = if j < d { xb.col(j) } else { yb };
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
            start += len;
        }
        self.rows += n;
        if part_weight == 0.0 {
            return Ok(());
        }
        // The part's scatter about its own mean: B'B - W o o', with B the shifted, weighted rows
        // and o their mean offset from the shift, small, so nothing cancels.
        let offset: Vec<f64> = sums.iter().map(|s| s / part_weight).collect();
        for j in 0..=d {
            for i in j..=d {
                self.part[(i, j)] -= part_weight * offset[i] * offset[j];
            }
        }
        // The part's means from the origin; the shift is close to the origin (or zero), so
        // `shift - origin` is exact.
        let mean: Vec<f64> = (0..=d)
            .map(|j| (shift[j] - self.origin[j]) + offset[j])
            .collect();
        let part = std::mem::replace(&mut self.part, Mat::new());
        self.combine(part_weight, &mean, Some(part.as_ref()));
        self.part = part;
        Ok(())
    }

    /// One block, copied as `sqrt(w) (z - shift)`, `z = [x y]`, into the part's scatter; adds the
    /// (weighted) sums of `z - shift` to `sums`. Errors name rows from 1 within the block.
    fn add_block_shifted(
        &mut self,
        x: MatRef<'_, f64>,
        y: ColRef<'_, f64>,
        weights: Option<&[f64]>,
        shift: &[f64],
        sums: &mut [f64],
        accum: Accum,
    ) -> Result<(), FitError> {
        let (d, len) = (self.features, x.nrows());
        let scale = weights.map(|w| square_roots(w, 1)).transpose()?;
        let mut buffer = self.buffer.as_mut().subrows_mut(0, len);
        for j in 0..=d {
            let column = contiguous(if j < d { x.col(j) } else { y });
            let out = buffer
                .rb_mut()
                .col_mut(j)
                .try_as_col_major_mut()
                .expect("the buffer is column-major")
                .as_slice_mut();
            sums[j] += deviations(out, &column, shift[j], scale.as_deref(), weights);
        }
        let buffer = self.buffer.as_ref().subrows(0, len);
        lower_product(self.part.as_mut(), accum, buffer);
        Ok(())
    }

    /// One unweighted block whose features enter unshifted, read in place: `x'x` by a symmetric
    /// rank-k product, and `[1 (y - shift)]' x` by one thin product that also gives the
    /// features' sums.
    fn add_block_in_place(
        &mut self,
        x: MatRef<'_, f64>,
        y: ColRef<'_, f64>,
        shift: f64,
        sums: &mut [f64],
        accum: Accum,
    ) {
        let (d, len) = (self.features, x.nrows());
        let mut buffer = self.buffer.as_mut().subrows_mut(0, len);
        buffer.rb_mut().col_mut(0).fill(1.0);
        let out = buffer
            .rb_mut()
            .col_mut(1)
            .try_as_col_major_mut()
            .expect("the buffer is column-major")
            .as_slice_mut();
        let target = contiguous(y);
        let target_sum = deviations(out, &target, shift, None, None);
        let centred = buffer.as_ref().col(1);
        let target_square = centred.squared_norm_l2();
        lower_product(self.part.as_mut().submatrix_mut(0, 0, d, d), accum, x);
        let mut cross = Mat::<f64>::zeros(d, 2);
        faer::linalg::matmul::matmul(
            cross.as_mut(),
            Accum::Replace,
            x.transpose(),
            buffer.as_ref(),
            1.0,
            Par::Seq,
        );
        let replace = matches!(accum, Accum::Replace);
        for j in 0..d {
            sums[j] += cross[(j, 0)];
            let previous = if replace { 0.0 } else { self.part[(d, j)] };
            self.part[(d, j)] = previous + cross[(j, 1)];
        }
        let previous = if replace { 0.0 } else { self.part[(d, d)] };
        self.part[(d, d)] = previous + target_square;
        sums[d] += target_sum;
    }

    /// Merges a part of weight `weight`, means `mean` (as offsets from the origin) and scatter
    /// `scatter` (lower triangle; `None` when it was already added in place) by Chan's formula.
    fn combine(&mut self, weight: f64, mean: &[f64], scatter: Option<MatRef<'_, f64>>) {
        if weight == 0.0 {
            return;
        }
        let columns = self.features + 1;
        let total = self.weight + weight;
        let factor = self.weight * weight / total;
        let delta: Vec<f64> = mean.iter().zip(&self.offset).map(|(b, a)| b - a).collect();
        for j in 0..columns {
            for i in j..columns {
                let mut v = self.scatter[(i, j)] + factor * delta[i] * delta[j];
                if let Some(s) = scatter {
                    v += s[(i, j)];
                }
                self.scatter[(i, j)] = v;
            }
        }
        for (m, d) in self.offset.iter_mut().zip(&delta) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Col;

    /// A deterministic generator in [-1, 1).
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    /// Means and the lower triangle of the centred scatter of `[x y]`, by two passes.
    fn two_pass(x: MatRef<'_, f64>, y: ColRef<'_, f64>, w: Option<&[f64]>) -> (Vec<f64>, Mat<f64>) {
        let (n, d) = x.shape();
        let z = |i: usize, j: usize| if j < d { x[(i, j)] } else { y[i] };
        let weight = |i: usize| w.map_or(1.0, |w| w[i]);
        let total: f64 = (0..n).map(weight).sum();
        let mean: Vec<f64> = (0..=d)
            .map(|j| (0..n).map(|i| weight(i) * z(i, j)).sum::<f64>() / total)
            .collect();
        let scatter = Mat::from_fn(d + 1, d + 1, |a, b| {
            (0..n)
                .map(|i| weight(i) * (z(i, a) - mean[a]) * (z(i, b) - mean[b]))
                .sum()
        });
        (mean, scatter)
    }

    /// Several parts of several blocks each, read in place (features near the origin), shifted
    /// (far from it), both within one accumulator (a drifting mean), and weighted: the
    /// statistics equal the two-pass ones to 1e-12, relative to the spread.
    #[test]
    fn every_path_equals_two_pass_statistics() {
        let d = 3;
        let n = 2 * part_rows(d + 1) + 3 * block_rows(d + 1) + 17;
        type Centre = fn(usize, usize) -> f64;
        let cases: [(&str, Centre); 3] = [
            ("near the origin", |_, _| 0.0),
            ("far from the origin", |_, j| 1e6 * (j as f64 + 1.0)),
            ("drifting", |i, _| i as f64 * 1e-4),
        ];
        for (what, centre) in cases {
            for weighted in [false, true] {
                let mut next = uniform(7);
                let x = Mat::from_fn(n, d, |i, j| centre(i, j) + next());
                let y = Col::from_fn(n, |i| 3.0 * x[(i, 0)] - x[(i, 2)] + 0.1 * next());
                let w: Option<Vec<f64>> = weighted.then(|| (0..n).map(|_| 1.0 + next()).collect());
                let wcol = w.as_ref().map(|w| faer::ColRef::from_slice(w));
                let mut acc = GramAccumulator::new(d);
                acc.add_rows(x.as_ref(), y.as_ref(), wcol).unwrap();
                let (mean, scatter) = two_pass(x.as_ref(), y.as_ref(), w.as_deref());
                assert_eq!(acc.rows(), n);
                for a in 0..=d {
                    let spread = (scatter[(a, a)] / n as f64).sqrt();
                    assert!(
                        (acc.mean()[a] - mean[a]).abs() <= 1e-12 * (spread + mean[a].abs()),
                        "{what}, weighted {weighted}: mean {a}: {} vs {}",
                        acc.mean()[a],
                        mean[a]
                    );
                    for b in 0..=a {
                        let scale = (scatter[(a, a)] * scatter[(b, b)]).sqrt();
                        let error = (acc.scatter()[(a, b)] - scatter[(a, b)]).abs() / scale;
                        assert!(
                            error <= 1e-12,
                            "{what}, weighted {weighted}: ({a}, {b}): {error:e}"
                        );
                    }
                }
            }
        }
    }

    /// The split lower product equals the lower triangle of the full product, on both sides of
    /// every threshold, replacing and accumulating; the upper triangle is left alone.
    #[test]
    fn lower_product_equals_the_full_product() {
        let mut next = uniform(5);
        for p in [1, 3, 24, 25, 50, 51, 100, 128, 129, 200] {
            let b = Mat::from_fn(37, p, |_, _| next());
            let full = b.transpose() * &b;
            let mut lower = Mat::from_fn(p, p, |_, _| 7.0);
            lower_product(lower.as_mut(), Accum::Replace, b.as_ref());
            lower_product(lower.as_mut(), Accum::Add, b.as_ref());
            for j in 0..p {
                for i in 0..p {
                    let want = if i >= j { 2.0 * full[(i, j)] } else { 7.0 };
                    assert!(
                        (lower[(i, j)] - want).abs() <= 1e-13 * (1.0 + want.abs()),
                        "p {p}: ({i}, {j}) {} vs {want}",
                        lower[(i, j)]
                    );
                }
            }
        }
    }

    #[test]
    fn near_origin_means_at_most_one_spread() {
        assert!(near_origin(&[0.5, -1.0], &[1.0, 1.0]));
        assert!(!near_origin(&[0.5, -1.01], &[1.0, 1.0]));
        assert!(!near_origin(&[f64::NAN], &[1.0]));
    }

    /// A non-finite value in a later part names its row and column, whether the features are
    /// read in place or copied.
    #[test]
    fn errors_name_the_row_on_every_path() {
        let d = 2;
        let n = part_rows(d + 1) + 2 * block_rows(d + 1);
        let bad = n - block_rows(d + 1) + 5;
        for (offset, column) in [(0.0, 1), (1e6, 1), (0.0, 2), (1e6, 2)] {
            let mut next = uniform(11);
            let mut x = Mat::from_fn(n, d, |_, _| offset + next());
            let mut y = Col::from_fn(n, |_| next());
            if column < d {
                x[(bad, column)] = f64::INFINITY;
            } else {
                y[bad] = f64::NAN;
            }
            let e = GramAccumulator::new(d)
                .add_rows(x.as_ref(), y.as_ref(), None)
                .unwrap_err();
            let name = if column < d {
                (column + 1).to_string()
            } else {
                "target".to_string()
            };
            assert!(
                matches!(&e, FitError::NonFinite { row, column, .. } if *row == bad + 1 && *column == name),
                "offset {offset}: {e}"
            );
        }
    }

    /// Bytes give back the same accumulator: merged with another one it fits exactly as the
    /// original does; truncated, extended or foreign bytes are refused.
    #[test]
    fn bytes_round_trip_exactly() {
        let (n, d) = (300, 4);
        let mut next = uniform(17);
        let x = Mat::from_fn(n, d, |_, j| 1e3 * j as f64 + next());
        let y = Col::from_fn(n, |_| 5.0 + next());
        let w = Col::from_fn(n, |_| 1.5 + next());
        let mut a = GramAccumulator::new(d);
        a.add_weighted(x.subrows(0, 100), y.subrows(0, 100), w.subrows(0, 100))
            .unwrap();
        let mut b = GramAccumulator::new(d);
        b.add_weighted(
            x.subrows(100, 200),
            y.subrows(100, 200),
            w.subrows(100, 200),
        )
        .unwrap();
        let bytes = a.to_bytes();
        let mut restored = GramAccumulator::from_bytes(&bytes).unwrap();
        assert_eq!(restored.to_bytes(), bytes);
        assert_eq!(restored.rows(), 100);
        a.merge(&b).unwrap();
        restored
            .merge(&GramAccumulator::from_bytes(&b.to_bytes()).unwrap())
            .unwrap();
        let options = crate::Options::default();
        assert_eq!(a.fit(&options).unwrap(), restored.fit(&options).unwrap());
        for bad in [
            &bytes[..bytes.len() - 1],
            &[bytes.as_slice(), &[0]].concat(),
            &bytes[..10],
            b"not an accumulator at all",
        ] {
            assert!(matches!(
                GramAccumulator::from_bytes(bad),
                Err(FitError::BadBytes(_))
            ));
        }
    }
}
