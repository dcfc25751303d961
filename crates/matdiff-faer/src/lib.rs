//! Numeric backend of matdiff on faer: planned evaluation of expression DAGs in `f32`, `f64` and
//! `Complex<f64>`, complex-step and finite-difference gradient checks, random test values.
//!
//! It depends on the expression core only (no rewriting here). A [`Plan`] is compiled once for
//! the sizes of the values and run many times; [`eval`] does both for a one-off value.
//!
//! ```
//! use faer::mat;
//! use matdiff_expr::ExprPool;
//! use matdiff_faer::{eval, Values};
//! let mut pool = ExprPool::new();
//! let e = pool.parse("a'*exp(X*b)").unwrap();
//! let values = Values::new()
//!     .with("a", mat![[1.0], [2.0]])
//!     .with("X", mat![[0.0, 1.0], [1.0, 0.0]])
//!     .with("b", mat![[0.0], [0.0]]);
//! let v = eval::<f64>(&pool, e.root, &values).unwrap();
//! assert_eq!(v[(0, 0)], 3.0);
//! ```
#![warn(missing_docs)]

mod check;
mod error;
mod exec;
mod factor;
mod functions;
mod kronecker;
mod plan;
mod product;
mod random;
mod scalar;
mod second_order;
pub mod simd;
mod split;
mod steps;
mod values;
mod vec_form;
mod verify;

pub use check::{
    check_gradient, complex_step, finite_difference, relative_errors, CheckOptions, GradientCheck,
    Perturbation,
};
pub use error::EvalError;
pub use functions::{Functions, ScalarFn};
pub use kronecker::{commutation, dense_vec_form, diag_vec, kron, kron_times_vec, VecFactorValue};
pub use plan::{Options, Plan, PlanStats};
pub use product::matmul;
pub use random::{random_values, random_values_where};
pub use scalar::Scalar;
pub use second_order::{
    complex_step_directional, complex_step_jacobian, dense_linear_map,
    finite_difference_directional, finite_difference_jacobian,
};
pub use steps::{check_steps, StepReport};
pub use values::{Inputs, Sizes, Values};
pub use vec_form::{evaluate_vec_form, DenseVecForm};
pub use verify::{verify_gradient, Tolerances, Verdict, VerifyOptions};

pub use faer::Mat;
pub use num_complex::Complex;

use matdiff_expr::{ExprId, ExprPool};

/// Evaluates one expression at the values (sizes from the values, default [`Options`]).
pub fn eval<T: Scalar>(
    pool: &ExprPool,
    root: ExprId,
    values: &Values<T>,
) -> Result<Mat<T>, EvalError> {
    let sizes = Sizes::from_values(pool, values)?;
    let mut plan = Plan::compile(pool, &[root], &sizes)?;
    Ok(plan.run(values)?.remove(0))
}
