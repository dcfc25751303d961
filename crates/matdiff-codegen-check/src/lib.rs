//! Test-only: the Rust (faer) code that `matdiff-codegen` generates for every entry of the
//! derivation catalog, compiled here (`build.rs` writes it) and run against matdiff-faer by
//! `tests/generated.rs`.
#![allow(missing_docs, unreachable_pub)]

/// A generated function behind one signature: the values and the element-wise functions by
/// name in, the value and the gradient out.
pub type Run = for<'a> fn(&Values, &Functions<'a>) -> (f64, faer::Mat<f64>);

/// The element-wise functions (and derivatives, `g_prime`), by name.
pub type Functions<'a> = dyn Fn(&str) -> Box<dyn Fn(f64) -> f64> + 'a;

/// The values of the variables, by name.
pub type Values = std::collections::HashMap<String, faer::Mat<f64>>;

/// A gradient as a matrix (a scalar's as 1 x 1).
pub trait IntoMat {
    fn into_mat(self) -> faer::Mat<f64>;
}

impl IntoMat for f64 {
    fn into_mat(self) -> faer::Mat<f64> {
        faer::Mat::from_fn(1, 1, |_, _| self)
    }
}

impl IntoMat for faer::Mat<f64> {
    fn into_mat(self) -> faer::Mat<f64> {
        self
    }
}

include!(concat!(env!("OUT_DIR"), "/generated.rs"));
