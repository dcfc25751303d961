//! Test support for matdiff (not published).
//!
//! - [`naive`]: a reference evaluator of expressions, one dense complex operation per node with
//!   no planning and no rewriting, so the complex step through it differentiates the expression
//!   as the user wrote it;
//! - [`differential`]: the differential fuzzer. It draws random expressions of the kinds users
//!   type ([`generate`]), derives their gradients with the rewriter, evaluates them with plans,
//!   and compares the value, the gradient value and the printed gradient (parsed again and
//!   evaluated) with the complex step through the naive evaluator; [`second_differential`]:
//!   the same at second order (Hessian-vector products, Hessians, Jacobians);
//!   [`fuzz_report`]: what the two share (a failure, the failures kept, the long run in parts);
//! - [`catalog`]: the derivation catalog's reader and checker; [`codegen_cases`]: its entries
//!   lowered by the code generators and evaluated by plans, what generated code must reproduce;
//!   [`codegen_differential`]: the drawn expressions lowered, what their generated code must
//!   reproduce (the code generators' differential fuzzer);
//! - [`acceptance`]: the acceptance table of the rewriter;
//! - [`second_order_catalog`]: the entries of the second-order and Kronecker catalogs;
//! - [`random_expr`]: random well-shaped source text of every operator (the parser's round trip
//!   and bench);
//! - [`cli`]: running the `matdiff` binary as a user does;
//! - [`data`]: real data sets (breast cancer, with scikit-learn's logistic regression on it).

pub mod acceptance;
pub mod catalog;
pub mod cli;
pub mod codegen_cases;
pub mod codegen_differential;
pub mod data;
pub mod differential;
pub mod fuzz_report;
pub mod generate;
pub mod naive;
pub mod random_expr;
pub mod second_differential;
pub mod second_order_catalog;
