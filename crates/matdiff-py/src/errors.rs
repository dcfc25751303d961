//! Python exceptions: one base class, `MatdiffError(ValueError)`, and one subclass per kind of
//! mistake, each carrying the library's message (with the caret under the place for text).

use matdiff_expr::{ParseError as ExprParseError, ParseErrorKind};
use matdiff_faer::EvalError;
use matdiff_linreg::FitError as LinregFitError;
use matdiff_rewrite::DeriveError;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(matdiff, MatdiffError, PyValueError, "Any error of matdiff.");
create_exception!(
    matdiff,
    ParseError,
    MatdiffError,
    "Malformed expression or declaration text; the message has a caret under the place."
);
create_exception!(
    matdiff,
    ShapeError,
    MatdiffError,
    "Shapes that do not fit: in the expression (with a caret) or in the values given."
);
create_exception!(
    matdiff,
    DerivationError,
    MatdiffError,
    "A gradient or a stationary point that the engine cannot derive."
);
create_exception!(
    matdiff,
    EvaluationError,
    MatdiffError,
    "Evaluation failed: a missing value, a singular matrix, a value outside a function's domain."
);
create_exception!(
    matdiff,
    FitError,
    MatdiffError,
    "A least-squares fit failed: bad data, bad options, or a problem the method cannot solve."
);

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MatdiffError", py.get_type::<MatdiffError>())?;
    m.add("ParseError", py.get_type::<ParseError>())?;
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("DerivationError", py.get_type::<DerivationError>())?;
    m.add("EvaluationError", py.get_type::<EvaluationError>())?;
    m.add("FitError", py.get_type::<FitError>())?;
    Ok(())
}

/// A parse error of `source` (or of the declaration `lets[k]` it points into), rendered with
/// the caret, as `ParseError` or `ShapeError`.
pub(crate) fn parse_error(e: &ExprParseError, source: &str, lets: &[String]) -> PyErr {
    let text = match e.decl.and_then(|k| lets.get(k)) {
        Some(decl) => e.render(decl).replacen("error: ", "in let: ", 1),
        None => e.render(source).replacen("error: ", "", 1),
    };
    match e.kind {
        ParseErrorKind::Syntax => ParseError::new_err(text),
        ParseErrorKind::Shape => ShapeError::new_err(text),
    }
}

pub(crate) fn derive_error(e: &DeriveError) -> PyErr {
    DerivationError::new_err(e.to_string())
}

pub(crate) fn eval_error(e: &EvalError) -> PyErr {
    match e {
        EvalError::ShapeMismatch { .. }
        | EvalError::UnknownDimension { .. }
        | EvalError::NotScalar { .. } => ShapeError::new_err(e.to_string()),
        _ => EvaluationError::new_err(e.to_string()),
    }
}

pub(crate) fn fit_error(e: &LinregFitError) -> PyErr {
    FitError::new_err(e.to_string())
}
