//! Dense Kronecker forms: `kron`, the commutation matrix, `diag(vec(P))`, and a Kronecker
//! product applied to a vector without forming it (`(B' ⊗ A)*vec(V) = vec(A*V*B)`).
//! vec stacks columns.

use faer::{Mat, MatRef};

/// `a ⊗ b`: the block matrix whose block `(i, j)` is `a[(i, j)]*b`.
///
/// ```
/// use faer::mat;
/// use matdiff_faer::kron;
/// let k = kron(mat![[1.0, 2.0]].as_ref(), mat![[1.0], [10.0]].as_ref());
/// assert_eq!(k, mat![[1.0, 2.0], [10.0, 20.0]]);
/// ```
pub fn kron(a: MatRef<f64>, b: MatRef<f64>) -> Mat<f64> {
    let (p, q) = (b.nrows(), b.ncols());
    Mat::from_fn(a.nrows() * p, a.ncols() * q, |i, j| {
        a[(i / p, j / q)] * b[(i % p, j % q)]
    })
}

/// The commutation matrix of an `m` x `n` matrix: `commutation(m, n)*vec(M) = vec(M')`.
///
/// ```
/// use faer::mat;
/// use matdiff_faer::commutation;
/// // vec([1 3; 2 4]) = [1 2 3 4]', vec of its transpose [1 3 2 4]'.
/// let k = commutation(2, 2);
/// assert_eq!(&k * mat![[1.0], [2.0], [3.0], [4.0]], mat![[1.0], [3.0], [2.0], [4.0]]);
/// ```
pub fn commutation(m: usize, n: usize) -> Mat<f64> {
    let mut k = Mat::zeros(m * n, m * n);
    for i in 0..m {
        for j in 0..n {
            // M[(i, j)] is entry i + j*m of vec(M) and j + i*n of vec(M').
            k[(j + i * n, i + j * m)] = 1.0;
        }
    }
    k
}

/// `diag(vec(P))`.
///
/// ```
/// use faer::mat;
/// use matdiff_faer::diag_vec;
/// assert_eq!(diag_vec(mat![[1.0, 2.0]].as_ref()), mat![[1.0, 0.0], [0.0, 2.0]]);
/// ```
pub fn diag_vec(p: MatRef<f64>) -> Mat<f64> {
    let (m, n) = (p.nrows(), p.ncols());
    Mat::from_fn(
        m * n,
        m * n,
        |i, j| {
            if i == j {
                p[(i % m, i / m)]
            } else {
                0.0
            }
        },
    )
}

/// `(left ⊗ right)*v` without forming the Kronecker product: `vec(right*V*left')` with `V` the
/// `right.ncols()` x `left.ncols()` matrix whose vec is `v`. `None` when the lengths differ.
///
/// ```
/// use faer::mat;
/// use matdiff_faer::{kron, kron_times_vec};
/// let (b, a) = (mat![[1.0, 2.0], [3.0, 4.0]], mat![[0.5, -1.0, 2.0]]);
/// let v = mat![[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]];
/// let fast = kron_times_vec(b.as_ref(), a.as_ref(), v.as_ref()).unwrap();
/// assert_eq!(fast, &kron(b.as_ref(), a.as_ref()) * &v);
/// ```
pub fn kron_times_vec(left: MatRef<f64>, right: MatRef<f64>, v: MatRef<f64>) -> Option<Mat<f64>> {
    let (m, n) = (right.ncols(), left.ncols());
    if v.ncols() != 1 || v.nrows() != m * n {
        return None;
    }
    let unvec = Mat::from_fn(m, n, |i, j| v[(i + j * m, 0)]);
    let product = right * &unvec * left.transpose();
    let (p, q) = (product.nrows(), product.ncols());
    Some(Mat::from_fn(p * q, 1, |k, _| product[(k % p, k / p)]))
}

/// One factor of a vec form, with its matrices evaluated.
#[derive(Clone, Debug)]
pub enum VecFactorValue {
    /// `left ⊗ right`.
    Kron(Mat<f64>, Mat<f64>),
    /// `diag(vec(P))`.
    DiagVec(Mat<f64>),
    /// `commutation(m, n)`.
    Commutation(usize, usize),
    /// `vec(P)*vec(Q)'`.
    Outer(Mat<f64>, Mat<f64>),
}

impl VecFactorValue {
    /// The dense matrix.
    pub fn dense(&self) -> Mat<f64> {
        match self {
            VecFactorValue::Kron(l, r) => kron(l.as_ref(), r.as_ref()),
            VecFactorValue::DiagVec(p) => diag_vec(p.as_ref()),
            VecFactorValue::Commutation(m, n) => commutation(*m, *n),
            VecFactorValue::Outer(p, q) => {
                let (pm, qm) = (p.nrows(), q.nrows());
                Mat::from_fn(pm * p.ncols(), qm * q.ncols(), |i, j| {
                    p[(i % pm, i / pm)] * q[(j % qm, j / qm)]
                })
            }
        }
    }
}

/// The dense matrix of a vec form: the sum of `scale` times the product of the factors, left to
/// right. `None` when the sizes do not fit (or there is no term).
///
/// ```
/// use faer::mat;
/// use matdiff_faer::{dense_vec_form, VecFactorValue};
/// // 2*(I ⊗ A)*commutation(1, 2) with A 1 x 1 = [3]: 6 times the 2 x 2 identity.
/// let form = vec![(
///     2.0,
///     vec![
///         VecFactorValue::Kron(Mat::identity(2, 2), mat![[3.0]]),
///         VecFactorValue::Commutation(1, 2),
///     ],
/// )];
/// # use matdiff_faer::Mat;
/// assert_eq!(dense_vec_form(&form).unwrap(), mat![[6.0, 0.0], [0.0, 6.0]]);
/// ```
pub fn dense_vec_form(terms: &[(f64, Vec<VecFactorValue>)]) -> Option<Mat<f64>> {
    let mut total: Option<Mat<f64>> = None;
    for (scale, factors) in terms {
        let mut product: Option<Mat<f64>> = None;
        for f in factors {
            let m = f.dense();
            product = Some(match product {
                None => m,
                Some(p) if p.ncols() == m.nrows() => &p * &m,
                Some(_) => return None,
            });
        }
        let p = product?;
        let term = Mat::from_fn(p.nrows(), p.ncols(), |i, j| scale * p[(i, j)]);
        total = Some(match total {
            None => term,
            Some(t) if (t.nrows(), t.ncols()) == (term.nrows(), term.ncols()) => t + term,
            Some(_) => return None,
        });
    }
    total
}
