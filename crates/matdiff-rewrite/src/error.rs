//! Why a derivation fails.

use matdiff_expr::ExprError;

/// Why a gradient cannot be derived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeriveError {
    /// The expression is not a scalar and no upstream gradient was given.
    #[error(
        "the expression is {shape}, not a scalar: give --upstream G to differentiate tr(G'*EXPR)"
    )]
    NotScalar {
        /// Its shape.
        shape: String,
    },
    /// The result (a gradient, Hessian or Jacobian) has a size that no variable of the
    /// expression names (not even as a quotient, `rows(y)/2`): printed without it, it would not
    /// evaluate on its own.
    #[error("the {what} with respect to {wrt} has a size that no variable of the expression names (a ones or I whose size nothing fixes), so its text would not evaluate on its own: write the size (ones(3), eye(rows(A))) or declare the sizes (--let 'A: 3x4')")]
    UnnamedSize {
        /// What was derived: `gradient`, `Hessian`, `Hessian-vector product`, `Jacobian`.
        what: &'static str,
        /// The variable.
        wrt: String,
    },
    /// The variable does not occur in the expression.
    #[error("'{name}' does not occur in the expression")]
    NotInExpression {
        /// The variable.
        name: String,
    },
    /// The name is not a variable (a function, a binding, or unknown).
    #[error("'{name}' is not a variable of the expression{hint}")]
    NotAVariable {
        /// The name.
        name: String,
        /// Why, when known.
        hint: String,
    },
    /// The upstream gradient's name is taken by something of another shape.
    #[error("the upstream name '{name}' is already a variable of shape {shape}")]
    UpstreamTaken {
        /// The name.
        name: String,
        /// Its shape.
        shape: String,
    },
    /// A derivative of a higher order than the language has.
    #[error("cannot differentiate {expr}: derivatives above the second are not supported")]
    Order {
        /// The expression, in plain syntax.
        expr: String,
    },
    /// A node the engine cannot differentiate with respect to the variable.
    #[error("cannot differentiate {expr} with respect to {wrt}: {why}")]
    Unsupported {
        /// The expression, in plain syntax.
        expr: String,
        /// The variable.
        wrt: String,
        /// Why.
        why: &'static str,
    },
    /// The gradient is not affine in the variable: no closed-form stationary point.
    #[error("no closed form for a stationary point in '{wrt}': {why}")]
    NotAffine {
        /// The variable.
        wrt: String,
        /// Why.
        why: &'static str,
    },
    /// Building a node failed (a limit, or an internal shape error).
    #[error(transparent)]
    Expr(#[from] ExprError),
}
