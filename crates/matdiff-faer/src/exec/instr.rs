//! Running one instruction of a plan.

use super::kernel::{run_kernel, vec_at};
use super::*;

pub(super) fn sized<T: Scalar>(dst: &mut Mat<T>, rows: usize, cols: usize) {
    if dst.nrows() != rows || dst.ncols() != cols {
        *dst = Mat::zeros(rows, cols);
    }
}

/// The sum of a slice in eight interleaved partial sums, so that it vectorises.
pub(super) fn sum_slice<T: Scalar>(xs: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let chunks = xs.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    rest.iter()
        .fold(acc.iter().fold(T::zero(), |s, &a| s + a), |s, &x| s + x)
}

pub(super) fn scale<T: Scalar>(mut dst: MatMut<'_, T>, alpha: T) {
    if alpha != T::one() {
        for j in 0..dst.ncols() {
            for i in 0..dst.nrows() {
                dst[(i, j)] *= alpha;
            }
        }
    }
}

/// Copies `src` (any strides) into `dst`, times `alpha`.
pub(super) fn copy_scaled<T: Scalar>(dst: &mut Mat<T>, src: MatRef<'_, T>, alpha: T) {
    sized(dst, src.nrows(), src.ncols());
    dst.as_mut().copy_from(src);
    scale(dst.as_mut(), alpha);
}

/// Runs one instruction that writes `dst` (taken out of the slots) or factorises.
pub(crate) fn run_instr<T: Scalar>(
    instr: &Instr<T>,
    cx: &Ctx<'_, T>,
    dst: &mut Mat<T>,
    regs: &mut Vec<T>,
) -> Result<Option<Factor<T>>, EvalError> {
    match instr {
        Instr::Kernel(k) => run_kernel(k, cx, dst, regs)?,
        Instr::VecOp { op, .. } => super::vec_ops::run_vec_op(op, cx, dst),
        Instr::Fused { op, .. } => super::fused::run_fused(op, cx, dst),
        Instr::Fill {
            rows, cols, value, ..
        } => {
            sized(dst, *rows, *cols);
            dst.as_mut().fill(T::from_f64(*value));
        }
        Instr::Identity { n, alpha, .. } => {
            sized(dst, *n, *n);
            dst.as_mut().fill(T::zero());
            let a = cx.alpha(alpha);
            for i in 0..*n {
                dst[(i, i)] = a;
            }
        }
        Instr::Copy { src, alpha, .. } => copy_scaled(dst, cx.view(*src), cx.alpha(alpha)),
        Instr::DiagMat { v, alpha, .. } => {
            let v = cx.view(*v);
            let n = v.nrows() * v.ncols();
            sized(dst, n, n);
            dst.as_mut().fill(T::zero());
            let a = cx.alpha(alpha);
            for i in 0..n {
                dst[(i, i)] = a * vec_at(v, i);
            }
        }
        Instr::DiagOf { m, .. } => {
            let m = cx.view(*m);
            let n = m.nrows();
            sized(dst, n, 1);
            for i in 0..n {
                dst[(i, 0)] = m[(i, i)];
            }
        }
        Instr::LogSumExpCols { m, .. } => {
            let m = cx.view(*m);
            sized(dst, 1, m.ncols());
            for j in 0..m.ncols() {
                let mut r = Reducer::new(Reduce::LogSumExp);
                for i in 0..m.nrows() {
                    r.push(m[(i, j)]);
                }
                dst[(0, j)] = r.finish();
            }
        }
        Instr::Tri { m, lower, .. } => {
            let m = cx.view(*m);
            sized(dst, m.nrows(), m.ncols());
            for j in 0..m.ncols() {
                for i in 0..m.nrows() {
                    let keep = if *lower { i >= j } else { i <= j };
                    dst[(i, j)] = if keep { m[(i, j)] } else { T::zero() };
                }
            }
        }
        Instr::MatMul {
            lhs, rhs, alpha, ..
        } => {
            let (l, r) = (cx.view(*lhs), cx.view(*rhs));
            sized(dst, l.nrows(), r.ncols());
            crate::product::matmul(dst.as_mut(), Accum::Replace, l, r, cx.alpha(alpha), cx.par);
        }
        Instr::ColSums { src, alpha, .. } => {
            let s = cx.view(*src);
            sized(dst, 1, s.ncols());
            let a = cx.alpha(alpha);
            for j in 0..s.ncols() {
                let acc = match s.col(j).try_as_col_major() {
                    Some(c) => sum_slice(c.as_slice()),
                    None => (0..s.nrows()).fold(T::zero(), |acc, i| acc + s[(i, j)]),
                };
                dst[(0, j)] = a * acc;
            }
        }
        Instr::RowSums { src, alpha, .. } => {
            row_sums(cx, src, alpha, dst);
        }
        Instr::Broadcast {
            v,
            rows,
            cols,
            by_rows,
            alpha,
            ..
        } => {
            let v = cx.view(*v);
            let a = cx.alpha(alpha);
            sized(dst, *rows, *cols);
            for j in 0..*cols {
                for i in 0..*rows {
                    dst[(i, j)] = a * vec_at(v, if *by_rows { j } else { i });
                }
            }
        }
        Instr::ScaleRows { d, src, alpha, .. } => {
            let (d, s) = (cx.view(*d), cx.view(*src));
            let a = cx.alpha(alpha);
            sized(dst, s.nrows(), s.ncols());
            for j in 0..s.ncols() {
                for i in 0..s.nrows() {
                    dst[(i, j)] = a * vec_at(d, i) * s[(i, j)];
                }
            }
        }
        Instr::ScaleCols { src, d, alpha, .. } => {
            let (d, s) = (cx.view(*d), cx.view(*src));
            let a = cx.alpha(alpha);
            sized(dst, s.nrows(), s.ncols());
            for j in 0..s.ncols() {
                let dj = a * vec_at(d, j);
                for i in 0..s.nrows() {
                    dst[(i, j)] = dj * s[(i, j)];
                }
            }
        }
        Instr::Lu { a, node, .. } => {
            let factor = Factor::new(cx.view(*a)).ok_or_else(|| EvalError::Singular {
                node: cx.desc(*node),
            })?;
            return Ok(Some(factor));
        }
        Instr::Solve {
            lu, t, rhs, alpha, ..
        } => {
            copy_scaled(dst, cx.view(*rhs), cx.alpha(alpha));
            cx.lu(*lu).solve(*t, dst.as_mut(), cx.par);
        }
        Instr::SolveRight {
            lu, t, lhs, alpha, ..
        } => {
            // X inv(A^t) = (inv(A^t)' X')' = (inv(A^(not t)) X')'.
            let mut tmp = Mat::new();
            copy_scaled(&mut tmp, cx.view(*lhs).transpose(), cx.alpha(alpha));
            cx.lu(*lu).solve(!*t, tmp.as_mut(), cx.par);
            copy_scaled(dst, tmp.as_ref().transpose(), T::one());
        }
        Instr::Inverse { lu, t, alpha, .. } => {
            let f = cx.lu(*lu);
            let n = f.dim();
            sized(dst, n, n);
            dst.as_mut().fill(T::zero());
            let a = cx.alpha(alpha);
            for i in 0..n {
                dst[(i, i)] = a;
            }
            f.solve(*t, dst.as_mut(), cx.par);
        }
        Instr::TraceDot { l, r, alpha, .. } => {
            trace_dot(cx, l, r, alpha, dst);
        }
        Instr::DiagDot { l, r, alpha, .. } => {
            let (l, r) = (cx.view(*l), cx.view(*r));
            let a = cx.alpha(alpha);
            sized(dst, l.nrows(), 1);
            dst.as_mut().fill(T::zero());
            for k in 0..l.ncols() {
                for i in 0..l.nrows() {
                    let v = l[(i, k)] * r[(k, i)];
                    dst[(i, 0)] += v;
                }
            }
            scale(dst.as_mut(), a);
        }
        Instr::Reduce {
            kind, src, node, ..
        } => {
            reduce(cx, kind, src, node, dst)?;
        }
        Instr::MatPow {
            a,
            k,
            exponent,
            node,
            ..
        } => {
            matrix_power(cx, a, k, exponent, node, dst)?;
        }
    }
    Ok(None)
}

/// `RowSums`: the sums of the rows of `src`, times `alpha`.
fn row_sums<T: Scalar>(cx: &Ctx<'_, T>, src: &Opnd, alpha: &Alpha, dst: &mut Mat<T>) {
    let s = cx.view(*src);
    sized(dst, s.nrows(), 1);
    dst.as_mut().fill(T::zero());
    let out = dst
        .as_mut()
        .col_mut(0)
        .try_as_col_major_mut()
        .expect("a fresh column is contiguous")
        .as_slice_mut();
    for j in 0..s.ncols() {
        match s.col(j).try_as_col_major() {
            // Contiguous columns are added as slices, which vectorises.
            Some(c) => {
                for (o, &v) in out.iter_mut().zip(c.as_slice()) {
                    *o += v;
                }
            }
            None => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o += s[(i, j)];
                }
            }
        }
    }
    scale(dst.as_mut(), cx.alpha(alpha));
}

/// `TraceDot`: `alpha * tr(L R)`.
fn trace_dot<T: Scalar>(cx: &Ctx<'_, T>, l: &Opnd, r: &Opnd, alpha: &Alpha, dst: &mut Mat<T>) {
    // tr(L R) = sum(L .* R'), read in the storage order of L.
    let (mut l, mut rt) = (cx.view(*l), cx.view(*r).transpose());
    if l.row_stride() != 1 {
        (l, rt) = (l.transpose(), rt.transpose());
    }
    let mut acc = T::zero();
    for j in 0..l.ncols() {
        let (lc, rc) = (l.col(j), rt.col(j));
        match (lc.try_as_col_major(), rc.try_as_col_major()) {
            (Some(a), Some(b)) => {
                for (&x, &y) in a.as_slice().iter().zip(b.as_slice()) {
                    acc += x * y;
                }
            }
            _ => {
                for i in 0..l.nrows() {
                    acc += lc[i] * rc[i];
                }
            }
        }
    }
    sized(dst, 1, 1);
    dst[(0, 0)] = cx.alpha(alpha) * acc;
}

/// `Reduce`: a reduction of `src` to a scalar.
fn reduce<T: Scalar>(
    cx: &Ctx<'_, T>,
    kind: &Reduce,
    src: &Opnd,
    node: &u32,
    dst: &mut Mat<T>,
) -> Result<(), EvalError> {
    let m = cx.view(*src);
    let value = match kind {
        Reduce::Det => det(m),
        Reduce::LogDet => logdet(m).ok_or_else(|| EvalError::NonPositiveDeterminant {
            node: cx.desc(*node),
        })?,
        Reduce::LogAbsDet => logabsdet(m).ok_or_else(|| EvalError::Singular {
            node: cx.desc(*node),
        })?,
        Reduce::Trace => {
            let mut acc = T::zero();
            for i in 0..m.nrows() {
                acc += m[(i, i)];
            }
            acc
        }
        _ => {
            let mut r = Reducer::new(*kind);
            for j in 0..m.ncols() {
                for i in 0..m.nrows() {
                    r.push(m[(i, j)]);
                }
            }
            r.finish()
        }
    };
    sized(dst, 1, 1);
    dst[(0, 0)] = value;
    Ok(())
}

/// `MatPow`: `a^k`, through the inverse for a negative `k`; a runtime exponent must be an integer.
fn matrix_power<T: Scalar>(
    cx: &Ctx<'_, T>,
    a: &Opnd,
    k: &i64,
    exponent: &Option<Opnd>,
    node: &u32,
    dst: &mut Mat<T>,
) -> Result<(), EvalError> {
    let k = &match exponent {
        None => *k,
        Some(e) => {
            let v = cx.view(*e)[(0, 0)];
            let r = v.re();
            if !(r.fract() == 0.0 && r.abs() <= 1e6 && v.im() == 0.0) {
                return Err(EvalError::Domain {
                    what: "a matrix power whose exponent is not an integer",
                    value: r,
                    node: cx.desc(*node),
                });
            }
            r as i64
        }
    };
    let m = cx.view(*a);
    let n = m.nrows();
    let base = if *k < 0 {
        let lu = PartialPivLu::new(m);
        if is_singular(lu.U()) {
            return Err(EvalError::Singular {
                node: cx.desc(*node),
            });
        }
        let mut inv = Mat::<T>::identity(n, n);
        solve_lu(&lu, false, inv.as_mut());
        inv
    } else {
        m.to_owned()
    };
    *dst = mat_pow(base, k.unsigned_abs(), cx.par);
    Ok(())
}

pub(crate) fn solve_lu<T: Scalar>(lu: &PartialPivLu<T>, t: bool, rhs: MatMut<'_, T>) {
    if t {
        lu.solve_transpose_in_place_with_conj(Conj::No, rhs);
    } else {
        lu.solve_in_place_with_conj(Conj::No, rhs);
    }
}

/// `a^k` by repeated squaring.
pub(super) fn mat_pow<T: Scalar>(mut base: Mat<T>, mut k: u64, par: Par) -> Mat<T> {
    let n = base.nrows();
    let mut acc: Option<Mat<T>> = None;
    loop {
        if k & 1 == 1 {
            acc = Some(match acc {
                None => base.clone(),
                Some(a) => {
                    let mut out = Mat::zeros(n, n);
                    matmul(
                        out.as_mut(),
                        Accum::Replace,
                        a.as_ref(),
                        base.as_ref(),
                        T::one(),
                        par,
                    );
                    out
                }
            });
        }
        k >>= 1;
        if k == 0 {
            break;
        }
        let mut sq = Mat::zeros(n, n);
        matmul(
            sq.as_mut(),
            Accum::Replace,
            base.as_ref(),
            base.as_ref(),
            T::one(),
            par,
        );
        base = sq;
    }
    acc.unwrap_or_else(|| Mat::identity(n, n))
}
