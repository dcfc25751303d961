//! Dense linear algebra the instructions share: determinants, singularity and symmetry tests.

use super::*;

/// Whether an LU factor's U has a pivot that is zero to working precision.
pub(crate) fn is_singular<T: Scalar>(u: MatRef<'_, T>) -> bool {
    let n = u.nrows();
    let mag = |z: T| z.re().hypot(z.im());
    let max = (0..n).map(|i| mag(u[(i, i)])).fold(0.0f64, f64::max);
    let tiny = max * T::EPSILON * n as f64;
    (0..n).any(|i| {
        let p = mag(u[(i, i)]);
        p == 0.0 || p <= tiny || !p.is_finite()
    })
}

/// The sign of a permutation given as an array.
pub(super) fn perm_sign(p: &[usize]) -> f64 {
    let mut seen = vec![false; p.len()];
    let mut sign = 1.0;
    for start in 0..p.len() {
        if seen[start] {
            continue;
        }
        let mut len = 0;
        let mut i = start;
        while !seen[i] {
            seen[i] = true;
            i = p[i];
            len += 1;
        }
        if len % 2 == 0 {
            sign = -sign;
        }
    }
    sign
}

/// The determinant via LU (zero for an exactly singular matrix).
pub(crate) fn det<T: Scalar>(m: MatRef<'_, T>) -> T {
    let lu = PartialPivLu::new(m);
    let mut d = T::from_f64(perm_sign(lu.P().arrays().0));
    let u = lu.U();
    for i in 0..u.nrows() {
        d *= u[(i, i)];
    }
    d
}

/// `log|det|` by LU, each pivot's real-part sign taken out (analytic for the complex step);
/// `None` when the matrix is singular.
pub(crate) fn logabsdet<T: Scalar>(m: MatRef<'_, T>) -> Option<T> {
    let lu = PartialPivLu::new(m);
    let u = lu.U();
    if is_singular(u) {
        return None;
    }
    let mut acc = T::zero();
    for i in 0..u.nrows() {
        acc += u[(i, i)].abs_analytic().ln();
    }
    Some(acc)
}

/// `log det`: Cholesky for an exactly symmetric positive definite matrix (real, or complex under
/// a symmetric complex step), else LU with the sign of each pivot's real part taken out (so the
/// complex step stays analytic). `None` when the determinant is not positive.
pub(crate) fn logdet<T: Scalar>(m: MatRef<'_, T>) -> Option<T> {
    let n = m.nrows();
    if let Some(l) = cholesky(m) {
        let mut acc = T::zero();
        for i in 0..n {
            acc += l[(i, i)].ln();
        }
        return Some(T::from_f64(2.0) * acc);
    }
    let lu = PartialPivLu::new(m);
    let u = lu.U();
    if is_singular(u) {
        return None;
    }
    let mut sign = perm_sign(lu.P().arrays().0);
    let mut acc = T::zero();
    for i in 0..n {
        let p = u[(i, i)];
        if p.re() < 0.0 {
            sign = -sign;
            acc += (-p).ln();
        } else {
            acc += p.ln();
        }
    }
    (sign > 0.0).then_some(acc)
}

pub(crate) fn is_symmetric<T: Scalar>(m: MatRef<'_, T>) -> bool {
    let n = m.nrows();
    (0..n).all(|j| (0..j).all(|i| m[(i, j)] == m[(j, i)]))
}
