//! A reader of NumPy `.npy` files holding one 2-D float64 array in C order, read by rows.

use std::io::Read;

use faer::{Col, Mat};

use crate::{Chunk, ChunkSource, FitError};

/// Rows per chunk unless [`NpyReader::with_chunk_rows`] says otherwise.
const DEFAULT_CHUNK_ROWS: usize = 8192;

/// Streams the rows of a 2-D `<f8` C-order `.npy` array; one column is the target.
///
/// ```
/// use matdiff_linreg::{ChunkSource, NpyReader};
///
/// // np.save of np.array([[1.0, 2.0], [3.0, 4.0]])
/// let mut file = b"\x93NUMPY\x01\x00\x76\x00".to_vec();
/// let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
/// file.extend(format!("{header:<117}\n").bytes());
/// for v in [1.0f64, 2.0, 3.0, 4.0] {
///     file.extend(v.to_le_bytes());
/// }
/// let mut npy = NpyReader::new(&file[..], 1)?;
/// assert_eq!((npy.rows(), npy.features()), (2, 1));
/// let chunk = npy.next_chunk()?.unwrap();
/// assert_eq!((chunk.x[(1, 0)], chunk.y[1]), (3.0, 4.0));
/// # Ok::<(), matdiff_linreg::FitError>(())
/// ```
#[derive(Debug)]
pub struct NpyReader<R> {
    reader: R,
    rows: usize,
    columns: usize,
    target: usize,
    read: usize,
    chunk_rows: usize,
}

impl<R: Read> NpyReader<R> {
    /// Reads the header; `target` is the 0-based column of the target.
    pub fn new(mut reader: R, target: usize) -> Result<NpyReader<R>, FitError> {
        let mut magic = [0u8; 8];
        reader
            .read_exact(&mut magic)
            .map_err(|_| npy("too short for an .npy header"))?;
        if &magic[..6] != b"\x93NUMPY" {
            return Err(npy("not an .npy file (bad magic)"));
        }
        let header_len = match magic[6] {
            1 => {
                let mut n = [0u8; 2];
                reader
                    .read_exact(&mut n)
                    .map_err(|_| npy("truncated header"))?;
                u16::from_le_bytes(n) as usize
            }
            2 | 3 => {
                let mut n = [0u8; 4];
                reader
                    .read_exact(&mut n)
                    .map_err(|_| npy("truncated header"))?;
                u32::from_le_bytes(n) as usize
            }
            v => return Err(npy(&format!("unsupported format version {v}"))),
        };
        if header_len > 1 << 20 {
            return Err(npy("header longer than 1 MiB"));
        }
        let mut header = vec![0u8; header_len];
        reader
            .read_exact(&mut header)
            .map_err(|_| npy("truncated header"))?;
        let header = String::from_utf8_lossy(&header).into_owned();
        let descr = field(&header, "descr").ok_or_else(|| npy("header has no 'descr'"))?;
        if !matches!(descr.trim_matches(['\'', '"']), "<f8" | "=f8") {
            return Err(npy(&format!(
                "element type {descr}: only little-endian float64 ('<f8') is supported"
            )));
        }
        if field(&header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
            return Err(npy(
                "Fortran-order arrays cannot be read by rows; save np.ascontiguousarray(a)",
            ));
        }
        let shape = field(&header, "shape").ok_or_else(|| npy("header has no 'shape'"))?;
        let dims: Vec<usize> = shape
            .trim_start_matches('(')
            .split(')')
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<usize>()
                    .map_err(|_| npy(&format!("bad shape {shape}")))
            })
            .collect::<Result<_, _>>()?;
        let [rows, columns] = dims[..] else {
            return Err(npy(&format!("a 2-D array is needed, found shape {shape}")));
        };
        if target >= columns {
            return Err(FitError::MissingColumn {
                name: format!("column {target} (0-based)"),
                available: format!("{columns} columns"),
            });
        }
        Ok(NpyReader {
            reader,
            rows,
            columns,
            target,
            read: 0,
            chunk_rows: DEFAULT_CHUNK_ROWS,
        })
    }

    /// Reads this many rows per chunk.
    pub fn with_chunk_rows(mut self, rows: usize) -> NpyReader<R> {
        self.chunk_rows = rows.max(1);
        self
    }

    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

impl<R: Read> ChunkSource for NpyReader<R> {
    fn features(&self) -> usize {
        self.columns - 1
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>, FitError> {
        let n = self.chunk_rows.min(self.rows - self.read);
        if n == 0 {
            return Ok(None);
        }
        let c = self.columns;
        let mut bytes = vec![0u8; n * c * 8];
        self.reader.read_exact(&mut bytes).map_err(|_| {
            npy(&format!(
                "the file ends before row {} of {}",
                self.read + n,
                self.rows
            ))
        })?;
        let value = |i: usize, j: usize| {
            let k = (i * c + j) * 8;
            f64::from_le_bytes(bytes[k..k + 8].try_into().expect("8 bytes"))
        };
        let target = self.target;
        let x = Mat::from_fn(n, c - 1, |i, j| {
            value(i, if j < target { j } else { j + 1 })
        });
        let y = Col::from_fn(n, |i| value(i, target));
        self.read += n;
        Ok(Some(Chunk { x, y }))
    }
}

fn npy(message: &str) -> FitError {
    FitError::Npy(message.to_string())
}

/// The value of `'key'` in a header dict: a quoted string, a tuple, or a word.
fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))?;
    let rest = header[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let end = match rest.chars().next()? {
        q @ ('\'' | '"') => rest[1..].find(q)? + 2,
        '(' => rest.find(')')? + 1,
        _ => rest.find([',', '}']).unwrap_or(rest.len()),
    };
    Some(rest[..end].trim())
}
