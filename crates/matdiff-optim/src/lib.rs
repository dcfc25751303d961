//! Newton's method on matrix expressions: the gradient derived by the differential method,
//! second-order information from it.
//!
//! [`SecondOrder`] is what the method needs of an objective: its value, gradient and
//! Hessian-vector products (the dense Hessian on request). [`Derived`] provides them for a scalar
//! expression over one or several variables stacked column by column: the gradient of each
//! variable derived by `matdiff-rewrite` and evaluated by a `matdiff-faer` plan, the
//! Hessian-vector product derived as the gradient of `Σ_j tr(G_j'*V_j)` (or, where that cannot be
//! derived, and as its check, the complex step of the gradient plan: forward mode over the
//! derived reverse gradient, exact to rounding for analytic functions), the dense Hessian products
//! with the unit vectors. [`minimize`] runs Newton's method with an Armijo line search on the dense Hessian up to
//! [`Options::dense_limit`] unknowns and Newton-CG above.
//!
//! ```
//! use matdiff_expr::{Decl, ExprPool};
//! use matdiff_faer::{Mat, Values};
//! use matdiff_optim::{minimize, Derived, Options};
//! // A least-squares line through three points: one Newton step.
//! let mut pool = ExprPool::new();
//! let decls = [Decl::sized("t", 3, 1), Decl::sized("y", 3, 1), Decl::parse("a: scalar").unwrap(), Decl::parse("b: scalar").unwrap()];
//! let e = pool.parse_with("norm2(a*t + b - y)^2", &decls).unwrap();
//! let data = Values::new()
//!     .with("t", Mat::from_fn(3, 1, |i, _| i as f64))
//!     .with("y", Mat::from_fn(3, 1, |i, _| 1.0 + 2.0 * i as f64));
//! let mut f = Derived::new(&mut pool, &e, &["a", "b"], &data).unwrap();
//! let x0 = f.start();
//! let s = minimize(&mut f, x0, &Options::default()).unwrap();
//! assert_eq!(s.iterations(), 1);
//! assert!((s.x[0] - 2.0).abs() < 1e-12 && (s.x[1] - 1.0).abs() < 1e-12);
//! ```
#![warn(missing_docs)]

mod error;
mod newton;
mod objective;

pub use error::OptimError;
pub use newton::{minimize, Direction, Iteration, Options, Solution};
pub use objective::{Block, Derived, HvpRoute, SecondOrder};
