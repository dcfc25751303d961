//! The trace-identity rewriter of matdiff: derives the gradient of a scalar function of matrices
//! by the differential method of "The Art of Matrix Derivative" and records every step.
//!
//! (a) take the differential with the rules of matrix differentials (D1-D19), (b) bring it into
//! the form `df = tr(G' dX)` with the trace tricks (T1-T9), (c) read off `G` with the core
//! relationship (C). The rule catalog is data ([`RULES`]); a [`Derivation`] lists the steps with
//! the ids of the rules each used. Purely symbolic: numbers are `matdiff-faer`'s job.
#![warn(missing_docs)]

mod error;
mod rules;
mod simplify;

pub use error::DeriveError;
pub use rules::{rule, Rule, RuleId, RULES};
pub use simplify::Simplifier;

mod absent;
mod derive;
mod diff;
mod display;
mod elementwise;
mod kronecker;
mod present;
mod second_order;
mod solve;
mod triangle;

pub use derive::{
    derive, substitute, Derivation, Derivatives, DeriveOptions, LhsFunction, Step, StepKind,
    StepLhs,
};
pub use kronecker::{hessian_kronecker, jacobian_kronecker, KroneckerForm, VecFactor, VecTerm};
pub use present::literature_form;
pub use second_order::{
    hessian, hessian_blocks, hvp, hvp_stacked, jacobian, SecondKind, SecondOrder, SecondOrderError,
    StackedHvp,
};
pub use solve::{stationary, Stationary};
