//! NumPy arrays in and out: float64 arrays are read in place, whatever their strides (C order,
//! Fortran order, a slice); anything else is converted once with `numpy.asarray`.
//!
//! A 0-d array or a Python number is a scalar, a 1-d array of length n a column vector (n x 1),
//! a 2-d array a matrix.

use faer::{ColRef, Mat, MatRef};
use numpy::ndarray::Array1;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat};

use crate::errors::ShapeError;

/// A float64 array, borrowed read-only for the duration of a call.
pub(crate) type Array<'py> = PyReadonlyArrayDyn<'py, f64>;

/// `value` as a float64 array: in place when it is one, otherwise converted. Complex, object and
/// text values are refused rather than silently cast.
pub(crate) fn borrow<'py>(name: &str, value: &Bound<'py, PyAny>) -> PyResult<Array<'py>> {
    if let Ok(array) = value.extract::<Array<'py>>() {
        return Ok(array);
    }
    let py = value.py();
    let numpy = py.import("numpy")?;
    let converted = numpy.getattr("asarray")?.call1((value,))?;
    let kind: String = converted.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "b" | "i" | "u" | "f") {
        return Err(PyTypeError::new_err(format!(
            "the value of '{name}' must be real numbers, got an array of dtype {}",
            converted.getattr("dtype")?.str()?
        )));
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", numpy.getattr("float64")?)?;
    let converted = numpy
        .getattr("asarray")?
        .call((converted,), Some(&kwargs))?;
    converted.extract::<Array<'py>>()
}

/// Every keyword argument as a named float64 array.
pub(crate) fn borrow_all<'py>(
    arrays: Option<&Bound<'py, PyDict>>,
) -> PyResult<Vec<(String, Array<'py>)>> {
    let Some(arrays) = arrays else {
        return Ok(Vec::new());
    };
    arrays
        .iter()
        .map(|(k, v)| {
            let name: String = k.extract()?;
            let array = borrow(&name, &v)?;
            Ok((name, array))
        })
        .collect()
}

/// The array as a faer matrix view, with no copy.
pub(crate) fn view<'a>(name: &str, array: &'a Array<'_>) -> PyResult<MatRef<'a, f64>> {
    let view = array.as_array();
    let (ptr, shape, strides) = (view.as_ptr(), view.shape(), view.strides());
    // SAFETY: the pointer, sizes and element strides come from a live, borrowed NumPy array of
    // f64, which stays borrowed (read-only) for `'a`.
    let m = unsafe {
        match shape.len() {
            0 => MatRef::from_raw_parts(ptr, 1, 1, 1, 1),
            1 => MatRef::from_raw_parts(ptr, shape[0], 1, strides[0], 1),
            2 => MatRef::from_raw_parts(ptr, shape[0], shape[1], strides[0], strides[1]),
            n => {
                return Err(ShapeError::new_err(format!(
                    "the value of '{name}' has {n} dimensions: give a number, a vector or a matrix"
                )))
            }
        }
    };
    Ok(m)
}

/// The array as a column (it must be 1-d).
pub(crate) fn column<'a>(name: &str, array: &'a Array<'_>) -> PyResult<ColRef<'a, f64>> {
    if array.ndim() != 1 {
        return Err(ShapeError::new_err(format!(
            "'{name}' must be 1-dimensional, got shape {:?}",
            array.shape()
        )));
    }
    Ok(view(name, array)?.col(0))
}

/// A result as Python: a float when `ndim` is 0, a 1-d array when 1, a 2-d array otherwise.
pub(crate) fn to_python(py: Python<'_>, m: &Mat<f64>, ndim: usize) -> PyResult<Py<PyAny>> {
    Ok(match ndim {
        0 if m.nrows() == 1 && m.ncols() == 1 => PyFloat::new(py, m[(0, 0)]).into_any().unbind(),
        1 if m.ncols() == 1 => Array1::from_shape_fn(m.nrows(), |i| m[(i, 0)])
            .into_pyarray(py)
            .into_any()
            .unbind(),
        _ => matrix(py, m)?.into_any().unbind(),
    })
}

/// A matrix as a 2-d array in Fortran order (faer's column-major layout), copied a column at a
/// time.
fn matrix<'py>(py: Python<'py>, m: &Mat<f64>) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let rows = m.nrows();
    // SAFETY: every element is written below before the array is returned.
    let array = unsafe { PyArray2::<f64>::new(py, [rows, m.ncols()], true) };
    // SAFETY: the array is new, so nothing else reads or writes it.
    let data = unsafe { array.as_slice_mut() }
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    if rows > 0 {
        for (j, out) in data.chunks_exact_mut(rows).enumerate() {
            for (o, v) in out.iter_mut().zip(m.col(j).iter()) {
                *o = *v;
            }
        }
    }
    Ok(array)
}

/// A vector as a 1-d array.
pub(crate) fn vector(py: Python<'_>, v: &[f64]) -> Py<PyAny> {
    Array1::from(v.to_vec())
        .into_pyarray(py)
        .into_any()
        .unbind()
}
