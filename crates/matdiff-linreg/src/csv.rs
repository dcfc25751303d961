//! A small CSV reader for numeric tables: a header of column names, then rows of numbers, read
//! whole or chunk by chunk. Cells may be quoted (`"a,b"`, `""` for a quote); surrounding spaces
//! and blank lines are ignored. Every error names the line and the column.

use std::io::BufRead;

use faer::{Col, Mat};

use crate::{Chunk, ChunkSource, FitError};

/// Rows per chunk unless [`CsvReader::with_chunk_rows`] says otherwise.
const DEFAULT_CHUNK_ROWS: usize = 8192;

/// Reads a numeric CSV table with a header, splitting off one column as the target.
///
/// ```
/// use matdiff_linreg::CsvReader;
///
/// let text = "a,y,b\n1,2,3\n4,5,6\n";
/// let table = CsvReader::new(text.as_bytes(), "y")?.read_all()?;
/// assert_eq!(table.features, ["a", "b"]);
/// assert_eq!(table.x[(1, 1)], 6.0);
/// assert_eq!(table.y[1], 5.0);
/// # Ok::<(), matdiff_linreg::FitError>(())
/// ```
#[derive(Debug)]
pub struct CsvReader<R> {
    reader: R,
    columns: Vec<String>,
    target: usize,
    line: usize,
    chunk_rows: usize,
    text: String,
    done: bool,
}

/// A whole table: the feature columns, the target column and their names.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Names of the feature columns, in file order.
    pub features: Vec<String>,
    /// Name of the target column.
    pub target: String,
    /// One row per data row, one column per feature.
    pub x: Mat<f64>,
    /// The target.
    pub y: Col<f64>,
}

impl<R: BufRead> CsvReader<R> {
    /// Reads the header and finds the target column.
    pub fn new(reader: R, target: &str) -> Result<CsvReader<R>, FitError> {
        let mut csv = CsvReader {
            reader,
            columns: Vec::new(),
            target: 0,
            line: 0,
            chunk_rows: DEFAULT_CHUNK_ROWS,
            text: String::new(),
            done: false,
        };
        if !csv.next_line()? {
            return Err(FitError::Empty {
                what: "the file is empty",
            });
        }
        let header = split(csv.text.trim_start_matches('\u{feff}'));
        for (k, name) in header.iter().enumerate() {
            if header[..k].contains(name) {
                return Err(FitError::DuplicateColumn(name.clone()));
            }
        }
        csv.target =
            header
                .iter()
                .position(|c| c == target)
                .ok_or_else(|| FitError::MissingColumn {
                    name: target.to_string(),
                    available: header.join(", "),
                })?;
        csv.columns = header;
        Ok(csv)
    }

    /// Reads this many rows per chunk when streaming.
    pub fn with_chunk_rows(mut self, rows: usize) -> CsvReader<R> {
        self.chunk_rows = rows.max(1);
        self
    }

    /// Names of the feature columns (all but the target), in file order.
    pub fn features(&self) -> Vec<String> {
        let mut names = self.columns.clone();
        names.remove(self.target);
        names
    }

    /// Reads all remaining rows; a file with no data rows is an error.
    pub fn read_all(mut self) -> Result<Table, FitError> {
        let d = self.columns.len() - 1;
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); d + 1];
        while self.read_row(&mut columns)? {}
        let n = columns[0].len();
        if n == 0 {
            return Err(FitError::Empty {
                what: "the file has a header but no data rows",
            });
        }
        Ok(Table {
            features: self.features(),
            target: self.columns[self.target].clone(),
            x: Mat::from_fn(n, d, |i, j| columns[j][i]),
            y: Col::from_fn(n, |i| columns[d][i]),
        })
    }

    /// Reads one data row into `columns` (features in order, then the target); false at the end.
    fn read_row(&mut self, columns: &mut [Vec<f64>]) -> Result<bool, FitError> {
        if !self.next_line()? {
            return Ok(false);
        }
        let cells = split(&self.text);
        if cells.len() != self.columns.len() {
            return Err(FitError::Ragged {
                line: self.line,
                expected: self.columns.len(),
                found: cells.len(),
            });
        }
        let d = self.columns.len() - 1;
        for (k, cell) in cells.iter().enumerate() {
            let value = cell
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| FitError::NotANumber {
                    line: self.line,
                    column: self.columns[k].clone(),
                    found: if cell.is_empty() {
                        "an empty cell".to_string()
                    } else {
                        format!("'{cell}'")
                    },
                })?;
            let slot = match k.cmp(&self.target) {
                std::cmp::Ordering::Less => k,
                std::cmp::Ordering::Equal => d,
                std::cmp::Ordering::Greater => k - 1,
            };
            columns[slot].push(value);
        }
        Ok(true)
    }

    /// The next non-blank line into `self.text`; false at the end of the input.
    fn next_line(&mut self) -> Result<bool, FitError> {
        if self.done {
            return Ok(false);
        }
        loop {
            self.text.clear();
            if self.reader.read_line(&mut self.text)? == 0 {
                self.done = true;
                return Ok(false);
            }
            self.line += 1;
            if !self.text.trim().is_empty() {
                return Ok(true);
            }
        }
    }
}

impl<R: BufRead> ChunkSource for CsvReader<R> {
    fn features(&self) -> usize {
        self.columns.len() - 1
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>, FitError> {
        let d = self.columns.len() - 1;
        let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(self.chunk_rows); d + 1];
        while columns[0].len() < self.chunk_rows && self.read_row(&mut columns)? {}
        let n = columns[0].len();
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(Chunk {
            x: Mat::from_fn(n, d, |i, j| columns[j][i]),
            y: Col::from_fn(n, |i| columns[d][i]),
        }))
    }
}

/// Splits one line into trimmed cells; a quoted cell may hold commas and `""` for a quote.
fn split(line: &str) -> Vec<String> {
    let line = line.trim_end_matches(['\n', '\r']);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if cell.trim().is_empty() => {
                cell.clear();
                quoted = true;
            }
            ',' if !quoted => cells.push(std::mem::take(&mut cell).trim().to_string()),
            c => cell.push(c),
        }
    }
    cells.push(cell.trim().to_string());
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_cells() {
        assert_eq!(split("a, \"b,c\" ,\"d\"\"e\"\r\n"), ["a", "b,c", "d\"e"]);
        assert_eq!(split(""), [""]);
        assert_eq!(split("1,,2"), ["1", "", "2"]);
    }

    #[test]
    fn chunks_cover_all_rows() {
        let text = "x,y\n1,2\n\n3,4\n5,6\n";
        let mut csv = CsvReader::new(text.as_bytes(), "y")
            .unwrap()
            .with_chunk_rows(2);
        let a = csv.next_chunk().unwrap().unwrap();
        let b = csv.next_chunk().unwrap().unwrap();
        assert!(csv.next_chunk().unwrap().is_none());
        assert_eq!((a.x.nrows(), b.x.nrows()), (2, 1));
        assert_eq!((a.x[(1, 0)], a.y[1], b.y[0]), (3.0, 4.0, 6.0));
    }
}
