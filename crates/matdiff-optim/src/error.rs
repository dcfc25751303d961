//! Typed errors of minimisation: [`OptimError`].

use matdiff_faer::EvalError;
use matdiff_rewrite::DeriveError;

/// Why a minimisation could not start, or did not end at a minimum.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// The gradient of the objective could not be derived.
    #[error(transparent)]
    Derive(#[from] DeriveError),
    /// The objective or its gradient could not be evaluated.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// An objective that is not a scalar.
    #[error("the objective is {shape}, not a scalar")]
    NotScalar {
        /// Its shape.
        shape: String,
    },
    /// No variable to minimise over.
    #[error("no variable to minimise over")]
    NoVariables,
    /// A variable listed twice.
    #[error("the variable '{name}' is listed twice")]
    Repeated {
        /// The variable.
        name: String,
    },
    /// A variable that does not occur in the objective: it has no minimiser.
    #[error("'{name}' does not occur in the objective: there is nothing to minimise over it")]
    Absent {
        /// The variable.
        name: String,
    },
    /// A structured variable (symmetric, diagonal, spd, integer): Newton's method here works on
    /// unconstrained entries only.
    #[error(
        "'{name}' is declared {structure}: minimize works on variables without structure only"
    )]
    Structured {
        /// The variable.
        name: String,
        /// Its structure, as declared.
        structure: &'static str,
    },
    /// A variable with no value whose shape the values do not fix either.
    #[error(
        "the shape of '{name}' ({shape}) is not fixed: give its value, or values that fix {dim}"
    )]
    UnknownShape {
        /// The variable.
        name: String,
        /// Its symbolic shape.
        shape: String,
        /// The dimension that nothing fixes.
        dim: String,
    },
    /// The objective is NaN or infinite at the starting point.
    #[error("the objective is not finite at the starting point (f = {value})")]
    NotFinite {
        /// The value.
        value: f64,
    },
    /// The objective decreases without end along a direction of non-positive curvature.
    #[error(
        "the objective is unbounded below: at iteration {iteration} it keeps decreasing along a \
         direction of non-positive curvature (f = {value:.6e} after a step of length {step_norm:.3e})"
    )]
    Unbounded {
        /// The iteration (from 1).
        iteration: usize,
        /// The objective reached.
        value: f64,
        /// The length of the step that reached it.
        step_norm: f64,
    },
    /// The iteration limit was reached before the gradient norm fell below the tolerance.
    #[error(
        "no convergence after {iterations} iterations: the gradient norm is {gradient_norm:.3e}, \
         above the tolerance {tolerance:e} (f = {value:.6e})"
    )]
    NotConverged {
        /// Iterations done.
        iterations: usize,
        /// The gradient norm at the last iterate.
        gradient_norm: f64,
        /// The tolerance asked for.
        tolerance: f64,
        /// The objective at the last iterate.
        value: f64,
    },
    /// No step along the search direction decreases the objective enough.
    #[error(
        "the line search found no decrease at iteration {iteration} (gradient norm \
         {gradient_norm:.3e}, tolerance {tolerance:e}): the tolerance is below what rounding allows \
         here, or the objective is not smooth"
    )]
    LineSearch {
        /// The iteration (from 1).
        iteration: usize,
        /// The gradient norm where the search failed.
        gradient_norm: f64,
        /// The tolerance asked for.
        tolerance: f64,
    },
    /// The gradient vanishes where the Hessian is not positive semidefinite.
    #[error(
        "the gradient vanishes (norm {gradient_norm:.3e}) at a point that is not a minimum: the \
         Hessian has a negative eigenvalue there (a saddle point or a maximum); start elsewhere"
    )]
    NotAMinimum {
        /// The gradient norm there.
        gradient_norm: f64,
    },
}

impl OptimError {
    /// Whether this is an evaluation outside the function's domain (a log of a negative entry, a
    /// singular matrix): a line search treats such a trial point as an infinite objective.
    pub(crate) fn is_outside_domain(&self) -> bool {
        matches!(
            self,
            OptimError::Eval(
                EvalError::Domain { .. }
                    | EvalError::Singular { .. }
                    | EvalError::NonPositiveDeterminant { .. }
            )
        )
    }
}
