//! Least squares for Python: `lstsq` (the estimators' fit) and `GramAccumulator`, a picklable
//! partial sum of rows, for fits as a reduction on Dask, Spark or any other engine.

use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

use faer::{ColRef, MatRef};
use matdiff_linreg::{Fit, Method, Options};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use numpy::PyUntypedArrayMethods;

use crate::arrays::{self, Array};
use crate::errors::{self, FitError, ShapeError};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LeastSquaresFit>()?;
    m.add_class::<GramAccumulator>()?;
    m.add_function(wrap_pyfunction!(lstsq, m)?)?;
    m.add_function(wrap_pyfunction!(gram_from_bytes, m)?)?;
    Ok(())
}

/// How often a long computation looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `work` on a thread of its own while this one, without the GIL, looks for signals every
/// 50 ms: Ctrl-C raises `KeyboardInterrupt` at once. The interrupted work finishes in the
/// background and its result is dropped.
fn interruptible<R: Send + 'static>(
    py: Python<'_>,
    work: impl FnOnce() -> R + Send + 'static,
) -> PyResult<R> {
    let (send, receive) = channel();
    std::thread::spawn(move || {
        // The receiver is gone when the call was interrupted: nothing to do then.
        let _ = send.send(work());
    });
    // A receiver is not `Sync`; the lock lets the GIL-free closure borrow it.
    let receive = Mutex::new(receive);
    loop {
        let waited = py.detach(|| {
            let receive = receive.lock().unwrap_or_else(|p| p.into_inner());
            receive.recv_timeout(SIGNAL_POLL)
        });
        match waited {
            Ok(result) => return Ok(result),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err("the fit's worker thread panicked"))
            }
        }
    }
}

/// A borrowed matrix that can cross to the worker thread: the raw view of an array that the
/// worker keeps alive (`owner`) until it is done with it.
struct Shared {
    ptr: *const f64,
    shape: (usize, usize),
    strides: (isize, isize),
    _owner: Py<PyAny>,
}

// SAFETY: the pointer is into a NumPy array's buffer, which `_owner` keeps alive; it is only
// read.
unsafe impl Send for Shared {}

impl Shared {
    fn new(name: &str, array: &Array<'_>) -> PyResult<Shared> {
        let m = arrays::view(name, array)?;
        Ok(Shared {
            ptr: m.as_ptr(),
            shape: m.shape(),
            strides: (m.row_stride(), m.col_stride()),
            _owner: array.as_any().clone().unbind(),
        })
    }

    fn mat(&self) -> MatRef<'_, f64> {
        // SAFETY: as at `Shared::new`, from a live view.
        unsafe {
            MatRef::from_raw_parts(
                self.ptr,
                self.shape.0,
                self.shape.1,
                self.strides.0,
                self.strides.1,
            )
        }
    }

    fn col(&self) -> ColRef<'_, f64> {
        self.mat().col(0)
    }
}

fn options(alpha: f64, fit_intercept: bool, method: &str) -> PyResult<Options> {
    let method = match method {
        "auto" => Method::Auto,
        "normal" => Method::Normal,
        "qr" => Method::Qr,
        "svd" => Method::Svd,
        other => {
            return Err(FitError::new_err(format!(
                "unknown method '{other}': use 'auto', 'normal', 'qr' or 'svd'"
            )))
        }
    };
    Ok(Options {
        method,
        ridge: alpha,
        intercept: fit_intercept,
        threads: 0,
    })
}

fn matrix<'py>(name: &str, value: &Bound<'py, PyAny>) -> PyResult<Array<'py>> {
    let a = arrays::borrow(name, value)?;
    if a.ndim() != 2 {
        return Err(ShapeError::new_err(format!(
            "'{name}' must be 2-dimensional (one row per sample), got shape {:?}",
            a.shape()
        )));
    }
    Ok(a)
}

fn vector<'py>(name: &str, value: &Bound<'py, PyAny>) -> PyResult<Array<'py>> {
    let a = arrays::borrow(name, value)?;
    arrays::column(name, &a)?;
    Ok(a)
}

/// Fits `y ≈ X b + c` by (weighted, ridge) least squares, with the GIL released; Ctrl-C
/// interrupts it.
#[pyfunction]
#[pyo3(signature = (x, y, sample_weight=None, *, alpha=0.0, fit_intercept=true, method="auto"))]
fn lstsq(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: &Bound<'_, PyAny>,
    sample_weight: Option<&Bound<'_, PyAny>>,
    alpha: f64,
    fit_intercept: bool,
    method: &str,
) -> PyResult<LeastSquaresFit> {
    let options = options(alpha, fit_intercept, method)?;
    let x = Shared::new("X", &matrix("X", x)?)?;
    let y = Shared::new("y", &vector("y", y)?)?;
    let w = sample_weight
        .map(|w| Shared::new("sample_weight", &vector("sample_weight", w)?))
        .transpose()?;
    let fit = interruptible(py, move || match &w {
        None => matdiff_linreg::fit(x.mat(), y.col(), &options),
        Some(w) => matdiff_linreg::fit_weighted(x.mat(), y.col(), w.col(), &options),
    })?
    .map_err(|e| errors::fit_error(&e))?;
    Ok(LeastSquaresFit::from(fit))
}

/// A least-squares fit: coefficients, intercept, and how it was obtained.
#[pyclass(module = "matdiff", frozen)]
pub(crate) struct LeastSquaresFit {
    fit: Fit,
}

impl From<Fit> for LeastSquaresFit {
    fn from(fit: Fit) -> LeastSquaresFit {
        LeastSquaresFit { fit }
    }
}

#[pymethods]
impl LeastSquaresFit {
    /// One coefficient per feature.
    #[getter]
    fn coef(&self, py: Python<'_>) -> Py<PyAny> {
        arrays::vector(py, &self.fit.coefficients)
    }

    /// The intercept (0 without one).
    #[getter]
    fn intercept(&self) -> f64 {
        self.fit.intercept
    }

    /// The method that ran: `normal`, `qr` or `svd`.
    #[getter]
    fn method(&self) -> &'static str {
        self.fit.method.name()
    }

    /// Numerical rank of the centred data.
    #[getter]
    fn rank(&self) -> usize {
        self.fit.rank
    }

    /// Condition number (an estimate, exact for `svd`) of the centred data.
    #[getter]
    fn condition(&self) -> f64 {
        self.fit.condition
    }

    /// Residual sum of squares.
    #[getter]
    fn rss(&self) -> f64 {
        self.fit.rss
    }

    /// Coefficient of determination on the data fitted.
    #[getter]
    fn r2(&self) -> f64 {
        self.fit.r2
    }

    /// Rows of data.
    #[getter]
    fn n_rows(&self) -> usize {
        self.fit.rows
    }

    fn __repr__(&self) -> String {
        format!(
            "LeastSquaresFit(method='{}', n_rows={}, rank={}, r2={})",
            self.fit.method, self.fit.rows, self.fit.rank, self.fit.r2
        )
    }
}

/// Running means and centred cross-products of rows `[X y]`: add partitions with `update`,
/// combine partial sums with `merge`, then `solve`. Pickles, to travel between processes.
#[pyclass(module = "matdiff", frozen)]
pub(crate) struct GramAccumulator {
    inner: Mutex<matdiff_linreg::GramAccumulator>,
}

impl GramAccumulator {
    fn lock(&self) -> std::sync::MutexGuard<'_, matdiff_linreg::GramAccumulator> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Reads a `GramAccumulator` from `GramAccumulator.to_bytes()` (for pickle).
#[pyfunction]
fn gram_from_bytes(data: &[u8]) -> PyResult<GramAccumulator> {
    let inner =
        matdiff_linreg::GramAccumulator::from_bytes(data).map_err(|e| errors::fit_error(&e))?;
    Ok(GramAccumulator {
        inner: Mutex::new(inner),
    })
}

#[pymethods]
impl GramAccumulator {
    /// An empty accumulator for rows of `n_features` features.
    #[new]
    fn new(n_features: usize) -> GramAccumulator {
        GramAccumulator {
            inner: Mutex::new(matdiff_linreg::GramAccumulator::new(n_features)),
        }
    }

    /// Number of features.
    #[getter]
    fn n_features(&self) -> usize {
        self.lock().features()
    }

    /// Rows added so far (here and in the accumulators merged in).
    #[getter]
    fn n_rows(&self) -> usize {
        self.lock().rows()
    }

    /// Adds rows `X` (one per sample) with targets `y` and optional sample weights; returns self.
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn update<'py>(
        slf: &Bound<'py, Self>,
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let (xa, ya) = (matrix("X", x)?, vector("y", y)?);
        let wa = sample_weight
            .map(|w| vector("sample_weight", w))
            .transpose()?;
        let x = arrays::view("X", &xa)?;
        let y = arrays::column("y", &ya)?;
        let w = wa
            .as_ref()
            .map(|w| arrays::column("sample_weight", w))
            .transpose()?;
        let this = slf.get();
        py.detach(|| {
            let mut acc = this.lock();
            match w {
                None => acc.add(x, y),
                Some(w) => acc.add_weighted(x, y, w),
            }
        })
        .map_err(|e| errors::fit_error(&e))?;
        Ok(slf.clone())
    }

    /// A new accumulator of the rows `X` with targets `y` (and sample weights): the map step of
    /// a distributed fit, a function that pickles by name.
    #[staticmethod]
    #[pyo3(signature = (x, y, sample_weight=None))]
    fn from_rows<'py>(
        x: &Bound<'py, PyAny>,
        y: &Bound<'py, PyAny>,
        sample_weight: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, GramAccumulator>> {
        let features = matrix("X", x)?.shape()[1];
        let acc = Bound::new(x.py(), GramAccumulator::new(features))?;
        GramAccumulator::update(&acc, x, y, sample_weight)
    }

    /// Adds the rows that `other` saw; returns self.
    fn merge<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, GramAccumulator>,
    ) -> PyResult<Bound<'py, Self>> {
        // Merging an accumulator into itself counts its rows twice, as adding them twice would.
        let theirs = other.get().lock().clone();
        slf.get()
            .lock()
            .merge(&theirs)
            .map_err(|e| errors::fit_error(&e))?;
        Ok(slf.clone())
    }

    /// Solves the normal equation of the rows seen: method `auto` or `normal` (the rows
    /// themselves are gone, so there is no QR fallback: ill-conditioned data is an error).
    #[pyo3(signature = (*, alpha=0.0, fit_intercept=true, method="auto"))]
    fn solve(&self, alpha: f64, fit_intercept: bool, method: &str) -> PyResult<LeastSquaresFit> {
        let options = options(alpha, fit_intercept, method)?;
        let fit = self
            .lock()
            .fit(&options)
            .map_err(|e| errors::fit_error(&e))?;
        Ok(LeastSquaresFit::from(fit))
    }

    /// The accumulator as bytes; `matdiff.GramAccumulator.from_bytes` reads them back exactly.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.lock().to_bytes())
    }

    /// Reads an accumulator from `to_bytes()`.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<GramAccumulator> {
        gram_from_bytes(data)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let module = py.import("matdiff._matdiff")?;
        let load = module.getattr("gram_from_bytes")?;
        PyTuple::new(
            py,
            [load, PyTuple::new(py, [self.to_bytes(py)])?.into_any()],
        )
    }

    fn __repr__(&self) -> String {
        let acc = self.lock();
        format!(
            "GramAccumulator(n_features={}, n_rows={})",
            acc.features(),
            acc.rows()
        )
    }
}
