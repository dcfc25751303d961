//! Streaming fits: chunks from a reader are summed into Gram accumulators on worker threads
//! (chunk `k` to worker `k mod threads`, so the result does not depend on timing), then merged.

use std::sync::mpsc::sync_channel;

use faer::{Col, Mat};

use crate::{Fit, FitError, GramAccumulator, Options};

/// A block of consecutive rows: features `x` (one row per sample) and the target `y`.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    /// Features.
    pub x: Mat<f64>,
    /// Target.
    pub y: Col<f64>,
}

/// Something that yields the rows of a data set in chunks ([`crate::CsvReader`],
/// [`crate::NpyReader`]).
pub trait ChunkSource {
    /// Number of feature columns.
    fn features(&self) -> usize;
    /// The next chunk, or `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<Chunk>, FitError>;
}

/// Reads `source` to its end, accumulating chunks on `options.threads` worker threads while
/// this thread reads, and solves the normal equation (methods `normal` and `auto`; see
/// [`GramAccumulator::fit`]).
///
/// ```
/// use matdiff_linreg::{fit_stream, CsvReader, Options};
///
/// let text = "x,y\n0,1\n1,3\n2,5\n3,7\n";
/// let mut csv = CsvReader::new(text.as_bytes(), "y")?.with_chunk_rows(1);
/// let (fit, gram) = fit_stream(&mut csv, &Options::default())?;
/// assert!((fit.coefficients[0] - 2.0).abs() < 1e-12 && gram.rows() == 4);
/// # Ok::<(), matdiff_linreg::FitError>(())
/// ```
pub fn fit_stream(
    source: &mut impl ChunkSource,
    options: &Options,
) -> Result<(Fit, GramAccumulator), FitError> {
    options.check()?;
    let d = source.features();
    let threads = options.threads();
    let accumulators = std::thread::scope(|s| -> Result<Vec<GramAccumulator>, FitError> {
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for _ in 0..threads {
            let (send, receive) = sync_channel::<(usize, Chunk)>(2);
            senders.push(send);
            workers.push(s.spawn(move || -> Result<GramAccumulator, FitError> {
                let mut acc = GramAccumulator::new(d);
                for (first_row, chunk) in receive {
                    let before = acc.rows();
                    acc.add(chunk.x.as_ref(), chunk.y.as_ref())
                        .map_err(|e| e.shift_rows(first_row).shift_rows_back(before))?;
                }
                Ok(acc)
            }));
        }
        let mut rows = 0;
        let mut k = 0;
        let mut read_error = None;
        loop {
            match source.next_chunk() {
                Ok(Some(chunk)) => {
                    let n = chunk.x.nrows();
                    // A closed channel means the worker stopped on an error, reported below.
                    if senders[k % threads].send((rows, chunk)).is_err() {
                        break;
                    }
                    rows += n;
                    k += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            }
        }
        drop(senders);
        let results: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().expect("a Gram worker panicked"))
            .collect();
        if let Some(e) = read_error {
            return Err(e);
        }
        results.into_iter().collect()
    })?;
    let mut total = GramAccumulator::new(d);
    for acc in &accumulators {
        total.merge(acc)?;
    }
    let fit = total.fit(options)?;
    Ok((fit, total))
}

impl FitError {
    fn shift_rows_back(self, offset: usize) -> FitError {
        match self {
            FitError::NonFinite { row, column, value } => FitError::NonFinite {
                row: row - offset,
                column,
                value,
            },
            FitError::BadWeight { row, value } => FitError::BadWeight {
                row: row - offset,
                value,
            },
            other => other,
        }
    }
}
