//! Neural networks whose backward pass is derived by the matdiff rewriter and evaluated on faer.
//!
//! A batch is a matrix with one example per column, as in the seed article: a dense layer computes
//! `Z = W*A + b*ones'` and `A_next = g(Z)`. The last layer is linear and feeds a [`Loss`] fused with
//! its link (mean squared error, sigmoid with binary cross-entropy, softmax with cross-entropy),
//! whose gradient with respect to `Z` is `(P - Y) / N`.
//!
//! The backward pass is derived, not written: when a network is built, the rewriter
//! (`matdiff-rewrite`) differentiates each layer's `g(W*A + b*ones')` with the upstream gradient
//! `G` with respect to `W`, `b` and `A` (the seed's Algorithm 1: `dW = (G .* g'(Z))*A'`,
//! `db = (G .* g'(Z))*ones`, `dA_prev = W'*(G .* g'(Z))`), and the three gradients are compiled
//! into one `matdiff-faer` plan per layer that computes `G .* g'(Z)` once
//! ([`Network::derived_gradients`] shows them). A hand-written faer backward,
//! [`BackwardKind::HandWritten`], is kept as the tests' oracle and the benchmarks' reference.
//!
//! ```
//! use matdiff_nn::{digits, Activation, Loss, Network, TrainConfig};
//! let (train, test) = digits::<f64>().split(0.8, 0).unwrap();
//! let mut net = Network::<f64>::builder(64)
//!     .dense(32, Activation::Tanh)
//!     .output(10, Loss::SoftmaxCrossEntropy)
//!     .seed(1)
//!     .build()
//!     .unwrap();
//! net.fit(&train, None, &TrainConfig { epochs: 5, progress: false, ..TrainConfig::default() }).unwrap();
//! assert!(net.evaluate(&test).unwrap().accuracy.unwrap() > 0.8);
//! ```
#![warn(missing_docs)]

mod activation;
mod backward;
mod data;
mod derived;
mod error;
mod kernels;
mod loss;
mod network;
mod optim;
mod plot;
mod real;
mod train;
mod weights;

pub use activation::Activation;
pub use backward::BackwardKind;
pub use data::{digits, Dataset};
pub use error::NnError;
pub use loss::Loss;
pub use network::{Dense, Gradients, Init, Network, NetworkBuilder};
pub use optim::Optimizer;
pub use real::Real;
pub use train::{EpochMetrics, History, Metrics, TrainConfig, Trainer};
