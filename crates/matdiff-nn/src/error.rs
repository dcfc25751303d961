//! The error type of matdiff-nn.

use crate::activation::Activation;

/// What went wrong building, training, saving or loading a network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// The builder was given no output layer.
    #[error("the network has no output layer: call `.output(n, loss)` before `.build()`")]
    NoOutputLayer,
    /// A layer (or the input) has zero units.
    #[error("layer {layer} has zero units (layer 0 is the input)")]
    EmptyLayer {
        /// Index in the list of sizes, 0 being the input.
        layer: usize,
    },
    /// The last layer must be linear: its output goes into the loss.
    #[error("the last layer must be linear (identity), found {}", activation.name())]
    NonLinearOutput {
        /// The activation found.
        activation: Activation,
    },
    /// Two consecutive layers do not fit together.
    #[error("layer {layer} expects {expected} inputs or units, found {found}")]
    LayerMismatch {
        /// Index of the layer.
        layer: usize,
        /// The size implied by its neighbour.
        expected: usize,
        /// The size it has.
        found: usize,
    },
    /// A matrix handed to the network has the wrong shape.
    #[error("{what}: expected {expected}, found {found}")]
    InputShape {
        /// Which dimension of which input.
        what: &'static str,
        /// The size the network needs.
        expected: usize,
        /// The size given.
        found: usize,
    },
    /// A training setting is out of range.
    #[error("invalid training setting `{setting}`: {reason}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A data set could not be read.
    #[error("data line {line}: {reason}")]
    Data {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The safetensors container could not be written or read.
    #[error("safetensors: {0}")]
    Safetensors(#[from] safetensors::SafeTensorError),
    /// The weights file is valid safetensors but not a matdiff-nn network.
    #[error("weights: {0}")]
    Weights(String),
    /// The rewriter could not derive a layer's gradients.
    #[error("deriving the backward pass of `{expr}`: {reason}")]
    Derivation {
        /// The layer's expression.
        expr: String,
        /// The engine's error.
        reason: String,
    },
    /// A derived backward pass could not be compiled or evaluated.
    #[error("evaluating the derived backward pass: {0}")]
    Plan(#[from] matdiff_faer::EvalError),
    /// Drawing the chart failed.
    #[error("plot: {0}")]
    Plot(String),
}
