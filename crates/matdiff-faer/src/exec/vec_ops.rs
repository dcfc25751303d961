//! The instructions of `kron`, `vec`/`unvec` (reshapes), the commutation matrix, and
//! `kron(L, R)*v` computed as `vec(R*V*L')` without forming the Kronecker product.

use super::*;
use crate::exec::instr::sized;

/// One instruction of this module (in [`Instr::VecOp`]).
#[derive(Clone, Debug)]
pub(crate) enum VecOp {
    /// `kron(a, b)`.
    Kron { a: Opnd, b: Opnd },
    /// The entries of `src` in column-major order as a `rows x cols` matrix (`vec`, `unvec`).
    Reshape { src: Opnd, rows: usize, cols: usize },
    /// `commutation(m, n)`.
    Commutation { m: usize, n: usize },
    /// `kron(l, r)*v` as `vec(r*V*l')`, `V` the `cols(r) x cols(l)` matrix whose vec is `v`.
    KronTimesVec { l: Opnd, r: Opnd, v: Opnd },
}

impl VecOp {
    /// Every operand read.
    pub(crate) fn operands_mut(&mut self) -> Vec<&mut Src> {
        match self {
            VecOp::Kron { a, b } => vec![&mut a.src, &mut b.src],
            VecOp::Reshape { src, .. } => vec![&mut src.src],
            VecOp::Commutation { .. } => Vec::new(),
            VecOp::KronTimesVec { l, r, v } => vec![&mut l.src, &mut r.src, &mut v.src],
        }
    }
}

/// The entries of `src`, column-major, into `dst` of `rows x cols`.
fn reshape_into<T: Scalar>(dst: &mut Mat<T>, src: MatRef<'_, T>, rows: usize, cols: usize) {
    sized(dst, rows, cols);
    let sr = src.nrows();
    for j in 0..cols {
        for i in 0..rows {
            let k = i + j * rows;
            dst[(i, j)] = src[(k % sr, k / sr)];
        }
    }
}

pub(super) fn run_vec_op<T: Scalar>(op: &VecOp, cx: &Ctx<'_, T>, dst: &mut Mat<T>) {
    match op {
        VecOp::Kron { a, b } => {
            let (a, b) = (cx.view(*a), cx.view(*b));
            let (p, q) = (b.nrows(), b.ncols());
            sized(dst, a.nrows() * p, a.ncols() * q);
            for j in 0..a.ncols() {
                for i in 0..a.nrows() {
                    let aij = a[(i, j)];
                    for l in 0..q {
                        for k in 0..p {
                            dst[(i * p + k, j * q + l)] = aij * b[(k, l)];
                        }
                    }
                }
            }
        }
        VecOp::Reshape { src, rows, cols } => reshape_into(dst, cx.view(*src), *rows, *cols),
        VecOp::Commutation { m, n } => {
            let (m, n) = (*m, *n);
            sized(dst, m * n, m * n);
            dst.as_mut().fill(T::zero());
            // K*vec(A) = vec(A') for A of m x n: entry (i, j) of A moves from i + j*m to j + i*n.
            for i in 0..m {
                for j in 0..n {
                    dst[(j + i * n, i + j * m)] = T::one();
                }
            }
        }
        VecOp::KronTimesVec { l, r, v } => {
            let (l, r, v) = (cx.view(*l), cx.view(*r), cx.view(*v));
            let mut big_v = Mat::zeros(0, 0);
            reshape_into(&mut big_v, v, r.ncols(), l.ncols());
            let mut rv = Mat::zeros(r.nrows(), l.ncols());
            matmul(
                rv.as_mut(),
                Accum::Replace,
                r,
                big_v.as_ref(),
                T::one(),
                cx.par,
            );
            let mut out = Mat::zeros(r.nrows(), l.nrows());
            matmul(
                out.as_mut(),
                Accum::Replace,
                rv.as_ref(),
                l.transpose(),
                T::one(),
                cx.par,
            );
            reshape_into(dst, out.as_ref(), r.nrows() * l.nrows(), 1);
        }
    }
}
