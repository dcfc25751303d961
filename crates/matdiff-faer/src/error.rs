//! Typed errors of evaluation: [`EvalError`].

/// Why an expression cannot be evaluated. Nodes are named in the plain expression syntax.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// A variable of the expression has no value.
    #[error("no value for the variable '{name}'")]
    MissingVariable {
        /// The variable.
        name: String,
    },
    /// A value whose shape contradicts the expression (or another value).
    #[error("the value of '{name}' is {got}, but {expected}")]
    ShapeMismatch {
        /// The variable.
        name: String,
        /// The shape of the value, as `3x4`.
        got: String,
        /// What the expression requires, in words.
        expected: String,
    },
    /// A non-finite (NaN or infinite) input value.
    #[error("the value of '{name}' has a non-finite entry at row {row}, column {col}")]
    NonFinite {
        /// The variable.
        name: String,
        /// Row, from 1.
        row: usize,
        /// Column, from 1.
        col: usize,
    },
    /// A value of a variable declared symmetric that is not symmetric.
    #[error("'{name}' is declared symmetric, but its value is not (entry ({row}, {col}) differs from ({col}, {row}))")]
    NotSymmetric {
        /// The variable.
        name: String,
        /// Row, from 1.
        row: usize,
        /// Column, from 1.
        col: usize,
    },
    /// A Kronecker form whose factors' sizes do not fit together at the values.
    #[error("the Kronecker form's sizes do not fit")]
    VecFormSizes,
    /// A symbolic dimension that no value fixes.
    #[error("no value fixes the dimension '{dim}'")]
    UnknownDimension {
        /// The dimension.
        dim: String,
    },
    /// An abstract function (or one of its derivatives) with no numeric definition.
    #[error("the function '{name}' has no numeric definition of order {order} (used in {node})")]
    UnboundFunction {
        /// The function.
        name: String,
        /// The derivative order that is missing.
        order: u8,
        /// The node that uses it.
        node: String,
    },
    /// A matrix that must be inverted is singular (to working precision).
    #[error("singular matrix in {node}")]
    Singular {
        /// The node.
        node: String,
    },
    /// `logdet` of a matrix whose determinant is zero or negative.
    #[error("logdet of a matrix with a non-positive determinant in {node}")]
    NonPositiveDeterminant {
        /// The node.
        node: String,
    },
    /// An element-wise function outside its real domain.
    #[error("{what} ({value}) in {node}")]
    Domain {
        /// What went wrong, as `log of a negative entry`.
        what: &'static str,
        /// The offending entry (its real part).
        value: f64,
        /// The node.
        node: String,
    },
    /// A gradient check of an expression that is not a scalar.
    #[error("{node} is not a scalar (its shape is {shape})")]
    NotScalar {
        /// The expression.
        node: String,
        /// Its shape.
        shape: String,
    },
    /// A plan run with the wrong number of outputs requested, or a similar misuse.
    #[error("'{name}' is not a variable of the expression")]
    NotAVariable {
        /// The name.
        name: String,
    },
}
