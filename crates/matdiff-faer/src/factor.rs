//! Factorisations for solves and log-determinants: Cholesky for an exactly symmetric positive
//! definite matrix (the value of an `spd` variable, also under a symmetric complex step), LU
//! with partial pivoting for any other.

use faer::linalg::solvers::PartialPivLu;
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::reborrow::ReborrowMut;
use faer::{Mat, MatMut, MatRef, Par, Side};

use crate::exec::{is_singular, is_symmetric, solve_lu};
use crate::scalar::Scalar;

/// A factorisation of a square non-singular matrix `A`, made once and solved with many times.
pub(crate) enum Factor<T> {
    /// `A = L L'` with `L` lower triangular (a transpose, never a conjugate: analytic in the
    /// complex step).
    Cholesky(Mat<T>),
    /// `P A = L U`.
    Lu(PartialPivLu<T>),
}

impl<T: Scalar> Factor<T> {
    /// Cholesky when `m` is exactly symmetric and positive definite, else LU; `None` when `m`
    /// is singular (to rounding).
    pub(crate) fn new(m: MatRef<'_, T>) -> Option<Factor<T>> {
        if let Some(l) = cholesky(m) {
            // The pivots of `m` are the squares of L's diagonal: judged like LU's pivots.
            let pivots: Vec<f64> = (0..l.nrows())
                .map(|i| {
                    let p = l[(i, i)] * l[(i, i)];
                    p.re().hypot(p.im())
                })
                .collect();
            let tiny = pivots.iter().fold(0.0f64, |a, &p| a.max(p)) * T::EPSILON * l.nrows() as f64;
            let singular = pivots.iter().any(|&p| p <= tiny || !p.is_finite());
            return (!singular).then_some(Factor::Cholesky(l));
        }
        let lu = PartialPivLu::new(m);
        (!is_singular(lu.U())).then_some(Factor::Lu(lu))
    }

    /// The order of `A`.
    pub(crate) fn dim(&self) -> usize {
        match self {
            Factor::Cholesky(l) => l.nrows(),
            Factor::Lu(lu) => lu.U().nrows(),
        }
    }

    /// Overwrites `rhs` with `inv(A) rhs`, or `inv(A') rhs` when `t` (the same for Cholesky:
    /// `A` is symmetric).
    pub(crate) fn solve(&self, t: bool, mut rhs: MatMut<'_, T>, par: Par) {
        match self {
            Factor::Cholesky(l) => {
                solve_lower_triangular_in_place(l.as_ref(), rhs.rb_mut(), par);
                solve_upper_triangular_in_place(l.as_ref().transpose(), rhs, par);
            }
            Factor::Lu(lu) => solve_lu(lu, t, rhs),
        }
    }
}

/// `L` with `m = L L'` (no conjugation) when `m` is exactly symmetric and every pivot has a
/// positive real part; `None` otherwise. Real matrices go through faer's blocked Cholesky; complex
/// ones (the complex step) through the textbook recurrence, which is analytic.
pub(crate) fn cholesky<T: Scalar>(m: MatRef<'_, T>) -> Option<Mat<T>> {
    if !is_symmetric(m) {
        return None;
    }
    if !T::IS_COMPLEX {
        return m.llt(Side::Lower).ok().map(|llt| llt.L().to_owned());
    }
    let n = m.nrows();
    let mut l = Mat::<T>::zeros(n, n);
    for j in 0..n {
        let mut done = T::zero();
        for k in 0..j {
            done += l[(j, k)] * l[(j, k)];
        }
        let d = m[(j, j)] - done;
        if d.re().partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !d.finite() {
            return None;
        }
        let pivot = d.sqrt();
        l[(j, j)] = pivot;
        for i in j + 1..n {
            let mut done = T::zero();
            for k in 0..j {
                done += l[(i, k)] * l[(j, k)];
            }
            l[(i, j)] = (m[(i, j)] - done) / pivot;
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex;

    /// A symmetric positive definite matrix of order 4 (diagonally dominant, no two entries equal).
    fn spd() -> Mat<f64> {
        let b = Mat::from_fn(4, 4, |i, j| {
            ((3 * i + 5 * j) % 7) as f64 * 0.1 + 0.05 * i as f64
        });
        Mat::from_fn(4, 4, |i, j| {
            b[(i, j)] + b[(j, i)] + if i == j { 4.0 + i as f64 } else { 0.0 }
        })
    }

    fn max_diff<T: Scalar>(a: MatRef<'_, T>, b: MatRef<'_, T>) -> f64 {
        let mut m = 0.0f64;
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                let d = a[(i, j)] - b[(i, j)];
                m = m.max(d.re().hypot(d.im()));
            }
        }
        m
    }

    #[test]
    fn symmetric_positive_definite_goes_through_cholesky_and_solves_like_lu() {
        let a = spd();
        let f = Factor::new(a.as_ref()).unwrap();
        assert!(matches!(f, Factor::Cholesky(_)));
        let rhs = Mat::from_fn(4, 3, |i, j| (i as f64 - 1.5) * (j as f64 + 0.5));
        let mut x = rhs.clone();
        f.solve(false, x.as_mut(), Par::Seq);
        let mut y = rhs.clone();
        solve_lu(&PartialPivLu::new(a.as_ref()), false, y.as_mut());
        assert!(max_diff(x.as_ref(), y.as_ref()) < 1e-13);
        assert!(max_diff((&a * &x).as_ref(), rhs.as_ref()) < 1e-13);
    }

    #[test]
    fn non_symmetric_or_indefinite_goes_through_lu() {
        let mut a = spd();
        a[(0, 3)] += 0.25;
        assert!(matches!(Factor::new(a.as_ref()), Some(Factor::Lu(_))));
        let mut b = spd();
        b[(2, 2)] = -9.0;
        assert!(matches!(Factor::new(b.as_ref()), Some(Factor::Lu(_))));
        let singular = Mat::from_fn(3, 3, |_, _| 1.0);
        assert!(Factor::<f64>::new(singular.as_ref()).is_none());
    }

    #[test]
    fn complex_cholesky_is_the_analytic_extension() {
        // A symmetric complex step A + i h V: L L' = A + i h V with a transpose, not a conjugate.
        let a = spd();
        let h = 1e-20;
        let v = Mat::from_fn(4, 4, |i, j| 0.3 * (i + j) as f64 - 0.4);
        let z = Mat::from_fn(4, 4, |i, j| Complex::new(a[(i, j)], h * v[(i, j)]));
        let l = cholesky(z.as_ref()).unwrap();
        let llt = &l * l.transpose();
        assert!(max_diff(llt.as_ref(), z.as_ref()) < 1e-13);
        // Its imaginary part carries d L for dA = V: d(L L') = dL L' + L dL'.
        let re = Mat::from_fn(4, 4, |i, j| l[(i, j)].re);
        let dl = Mat::from_fn(4, 4, |i, j| l[(i, j)].im / h);
        let dllt = &dl * re.transpose() + &re * dl.transpose();
        assert!(max_diff(dllt.as_ref(), v.as_ref()) < 1e-12);
    }
}
