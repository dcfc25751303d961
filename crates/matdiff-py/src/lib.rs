//! `matdiff._matdiff`: the native part of the `matdiff` Python package (PyO3, abi3).
//!
//! A front end with no mathematics of its own: it parses and derives with `matdiff-rewrite`,
//! evaluates with `matdiff-faer` plans on NumPy arrays read in place, and fits with
//! `matdiff-linreg`. The pure-Python layer (`python/matdiff/__init__.py`) gives the public
//! signatures (`grad(expr, wrt, *, let=None, upstream=None)`) and the scikit-learn estimators.

mod arrays;
mod derivation;
mod errors;
mod linreg;

use pyo3::prelude::*;

#[pymodule]
fn _matdiff(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    derivation::register(m)?;
    linreg::register(m)?;
    Ok(())
}
