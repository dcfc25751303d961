//! Test support for matdiff (not published).
//!
//! - [`naive`]: a reference evaluator of expressions, one dense complex operation per node with
//!   no planning and no rewriting, so the complex step through it differentiates the expression
//!   as the user wrote it;
//! - [`differential`]: the differential fuzzer. It draws random expressions of the kinds users
//!   type, derives their gradients with the rewriter, evaluates them with plans, and compares
//!   the value, the gradient value and the printed gradient (parsed again and evaluated) with the
//!   complex step through the naive evaluator.

pub mod differential;
pub mod generate;
pub mod naive;
