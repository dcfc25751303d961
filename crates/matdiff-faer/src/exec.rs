//! The instructions of a compiled plan and how they run.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::{PartialPivLu, SolveCore};
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par};
use matdiff_expr::{Func, Reduce};

use crate::error::EvalError;
use crate::factor::{cholesky, Factor};
use crate::functions::ScalarFn;
use crate::scalar::Scalar;

/// Entries per register of an element-wise kernel.
pub(crate) const CHUNK: usize = 256;

/// Where a matrix lives: an input value or a buffer of the plan.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    Input(usize),
    Slot(usize),
}

/// A matrix operand: its source, possibly transposed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Opnd {
    pub(crate) src: Src,
    pub(crate) t: bool,
}

impl Opnd {
    pub(crate) fn flip(self) -> Opnd {
        Opnd {
            src: self.src,
            t: !self.t,
        }
    }
}

/// A scale factor: a constant times the product of 1x1 operands.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Alpha {
    pub(crate) c: f64,
    pub(crate) scalars: Vec<Opnd>,
}

impl Alpha {
    pub(crate) fn one() -> Alpha {
        Alpha {
            c: 1.0,
            scalars: Vec::new(),
        }
    }
    pub(crate) fn is_one(&self) -> bool {
        self.c == 1.0 && self.scalars.is_empty()
    }
}

/// How the result of an element-wise kernel is stored.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    /// Every entry, into a buffer of the kernel's shape.
    Buffer,
    /// Reduced to a scalar.
    Reduce(Reduce),
    /// The diagonal, as a column vector.
    Diagonal,
}

/// What an element-wise kernel reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum LeafKind {
    /// A matrix of the kernel's shape.
    Matrix(Src),
    /// A 1x1 value, broadcast.
    Scalar(Src),
    /// The identity matrix.
    Identity,
    /// `diag(v)` for a vector `v`.
    DiagMat(Src),
    /// `diag(M)`, the diagonal of a square matrix, as a column vector.
    DiagOf(Src),
    /// `u * v'` for vectors (`None` is a vector of ones).
    Outer(Option<Src>, Option<Src>),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Leaf {
    pub(crate) kind: LeafKind,
    pub(crate) t: bool,
}

/// One operation of a kernel; operand numbers are earlier operations (registers).
#[derive(Clone, Debug)]
pub(crate) enum KOp<T> {
    Load(Leaf),
    Const(T),
    Neg(usize),
    Add(usize, usize),
    Sub(usize, usize),
    Mul(usize, usize),
    Div(usize, usize),
    PowInt(usize, i32),
    Pow(usize, usize, u32),
    Func(Func, u8, usize, u32),
    Abstract(usize, usize),
}

/// A fused element-wise pass.
#[derive(Clone, Debug)]
pub(crate) struct Kernel<T> {
    pub(crate) ops: Vec<KOp<T>>,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) sink: Sink,
    pub(crate) dst: usize,
}

/// One step of a plan. `dst` is a buffer slot.
#[derive(Clone, Debug)]
pub(crate) enum Instr<T> {
    Kernel(Box<Kernel<T>>),
    Fill {
        dst: usize,
        rows: usize,
        cols: usize,
        value: f64,
    },
    Identity {
        dst: usize,
        n: usize,
        alpha: Alpha,
    },
    Copy {
        dst: usize,
        src: Opnd,
        alpha: Alpha,
    },
    DiagMat {
        dst: usize,
        v: Opnd,
        alpha: Alpha,
    },
    DiagOf {
        dst: usize,
        m: Opnd,
    },
    /// `tril(m)` (`lower`) or `triu(m)`.
    Tri {
        dst: usize,
        m: Opnd,
        lower: bool,
    },
    /// The max-shifted `logsumexp` of each column of `m`, a row.
    LogSumExpCols {
        dst: usize,
        m: Opnd,
    },
    MatMul {
        dst: usize,
        lhs: Opnd,
        rhs: Opnd,
        alpha: Alpha,
    },
    ColSums {
        dst: usize,
        src: Opnd,
        alpha: Alpha,
    },
    RowSums {
        dst: usize,
        src: Opnd,
        alpha: Alpha,
    },
    /// `rows`: every row of dst is the vector (`ones * v'`); else every column (`u * ones'`).
    Broadcast {
        dst: usize,
        v: Opnd,
        rows: usize,
        cols: usize,
        by_rows: bool,
        alpha: Alpha,
    },
    ScaleRows {
        dst: usize,
        d: Opnd,
        src: Opnd,
        alpha: Alpha,
    },
    ScaleCols {
        dst: usize,
        src: Opnd,
        d: Opnd,
        alpha: Alpha,
    },
    Lu {
        lu: usize,
        a: Opnd,
        node: u32,
    },
    Solve {
        dst: usize,
        lu: usize,
        t: bool,
        rhs: Opnd,
        alpha: Alpha,
    },
    SolveRight {
        dst: usize,
        lu: usize,
        t: bool,
        lhs: Opnd,
        alpha: Alpha,
    },
    Inverse {
        dst: usize,
        lu: usize,
        t: bool,
        alpha: Alpha,
    },
    TraceDot {
        dst: usize,
        l: Opnd,
        r: Opnd,
        alpha: Alpha,
    },
    DiagDot {
        dst: usize,
        l: Opnd,
        r: Opnd,
        alpha: Alpha,
    },
    Reduce {
        dst: usize,
        kind: Reduce,
        src: Opnd,
        node: u32,
    },
    MatPow {
        dst: usize,
        a: Opnd,
        k: i64,
        /// A scalar exponent read at run time (an integer symbol), instead of `k`.
        exponent: Option<Opnd>,
        node: u32,
    },
}

impl<T> Instr<T> {
    /// The slot written (none for a factorisation).
    pub(crate) fn dst(&self) -> Option<usize> {
        Some(match self {
            Instr::Kernel(k) => k.dst,
            Instr::Lu { .. } => return None,
            Instr::Fill { dst, .. }
            | Instr::Identity { dst, .. }
            | Instr::Copy { dst, .. }
            | Instr::DiagMat { dst, .. }
            | Instr::DiagOf { dst, .. }
            | Instr::Tri { dst, .. }
            | Instr::LogSumExpCols { dst, .. }
            | Instr::MatMul { dst, .. }
            | Instr::ColSums { dst, .. }
            | Instr::RowSums { dst, .. }
            | Instr::Broadcast { dst, .. }
            | Instr::ScaleRows { dst, .. }
            | Instr::ScaleCols { dst, .. }
            | Instr::Solve { dst, .. }
            | Instr::SolveRight { dst, .. }
            | Instr::Inverse { dst, .. }
            | Instr::TraceDot { dst, .. }
            | Instr::DiagDot { dst, .. }
            | Instr::Reduce { dst, .. }
            | Instr::MatPow { dst, .. } => *dst,
        })
    }

    /// The slot written, to rename it.
    pub(crate) fn dst_mut(&mut self) -> Option<&mut usize> {
        Some(match self {
            Instr::Kernel(k) => &mut k.dst,
            Instr::Lu { .. } => return None,
            Instr::Fill { dst, .. }
            | Instr::Identity { dst, .. }
            | Instr::Copy { dst, .. }
            | Instr::DiagMat { dst, .. }
            | Instr::DiagOf { dst, .. }
            | Instr::Tri { dst, .. }
            | Instr::LogSumExpCols { dst, .. }
            | Instr::MatMul { dst, .. }
            | Instr::ColSums { dst, .. }
            | Instr::RowSums { dst, .. }
            | Instr::Broadcast { dst, .. }
            | Instr::ScaleRows { dst, .. }
            | Instr::ScaleCols { dst, .. }
            | Instr::Solve { dst, .. }
            | Instr::SolveRight { dst, .. }
            | Instr::Inverse { dst, .. }
            | Instr::TraceDot { dst, .. }
            | Instr::DiagDot { dst, .. }
            | Instr::Reduce { dst, .. }
            | Instr::MatPow { dst, .. } => dst,
        })
    }

    /// Every operand read, to rename slots.
    pub(crate) fn operands_mut(&mut self) -> Vec<&mut Src> {
        let mut out: Vec<&mut Src> = Vec::new();
        fn alpha<'x>(a: &'x mut Alpha, out: &mut Vec<&'x mut Src>) {
            for s in a.scalars.iter_mut() {
                out.push(&mut s.src);
            }
        }
        match self {
            Instr::Kernel(k) => {
                for op in k.ops.iter_mut() {
                    if let KOp::Load(leaf) = op {
                        match &mut leaf.kind {
                            LeafKind::Matrix(s)
                            | LeafKind::Scalar(s)
                            | LeafKind::DiagMat(s)
                            | LeafKind::DiagOf(s) => out.push(s),
                            LeafKind::Outer(u, v) => {
                                if let Some(u) = u {
                                    out.push(u);
                                }
                                if let Some(v) = v {
                                    out.push(v);
                                }
                            }
                            LeafKind::Identity => {}
                        }
                    }
                }
            }
            Instr::Fill { .. } => {}
            Instr::Identity { alpha: a, .. } | Instr::Inverse { alpha: a, .. } => {
                alpha(a, &mut out)
            }
            Instr::Copy { src, alpha: a, .. }
            | Instr::ColSums { src, alpha: a, .. }
            | Instr::RowSums { src, alpha: a, .. } => {
                out.push(&mut src.src);
                alpha(a, &mut out);
            }
            Instr::DiagMat { v, alpha: a, .. } | Instr::Broadcast { v, alpha: a, .. } => {
                out.push(&mut v.src);
                alpha(a, &mut out);
            }
            Instr::DiagOf { m, .. } | Instr::Tri { m, .. } | Instr::LogSumExpCols { m, .. } => {
                out.push(&mut m.src)
            }
            Instr::MatMul {
                lhs, rhs, alpha: a, ..
            }
            | Instr::TraceDot {
                l: lhs,
                r: rhs,
                alpha: a,
                ..
            }
            | Instr::DiagDot {
                l: lhs,
                r: rhs,
                alpha: a,
                ..
            }
            | Instr::ScaleRows {
                d: lhs,
                src: rhs,
                alpha: a,
                ..
            }
            | Instr::ScaleCols {
                src: lhs,
                d: rhs,
                alpha: a,
                ..
            } => {
                out.push(&mut lhs.src);
                out.push(&mut rhs.src);
                alpha(a, &mut out);
            }
            Instr::Lu { a, .. } => out.push(&mut a.src),
            Instr::MatPow { a, exponent, .. } => {
                out.push(&mut a.src);
                if let Some(e) = exponent {
                    out.push(&mut e.src);
                }
            }
            Instr::Solve {
                rhs: o, alpha: a, ..
            }
            | Instr::SolveRight {
                lhs: o, alpha: a, ..
            } => {
                out.push(&mut o.src);
                alpha(a, &mut out);
            }
            Instr::Reduce { src, .. } => out.push(&mut src.src),
        }
        out
    }
}

/// Everything an instruction reads while it runs.
pub(crate) struct Ctx<'a, T> {
    pub(crate) inputs: &'a [MatRef<'a, T>],
    pub(crate) slots: &'a [Mat<T>],
    pub(crate) lus: &'a [Option<Factor<T>>],
    pub(crate) functions: &'a [ScalarFn<T>],
    pub(crate) descs: &'a [String],
    pub(crate) par: Par,
}

impl<'a, T: Scalar> Ctx<'a, T> {
    pub(crate) fn src(&self, s: Src) -> MatRef<'a, T> {
        match s {
            Src::Input(i) => self.inputs[i],
            Src::Slot(k) => self.slots[k].as_ref(),
        }
    }

    pub(crate) fn view(&self, o: Opnd) -> MatRef<'a, T> {
        let m = self.src(o.src);
        if o.t {
            m.transpose()
        } else {
            m
        }
    }

    fn alpha(&self, a: &Alpha) -> T {
        let mut v = T::from_f64(a.c);
        for s in &a.scalars {
            v *= self.view(*s)[(0, 0)];
        }
        v
    }

    fn desc(&self, node: u32) -> String {
        self.descs[node as usize].clone()
    }

    fn lu(&self, k: usize) -> &'a Factor<T> {
        self.lus[k].as_ref().expect("factorised before use")
    }
}

fn sized<T: Scalar>(dst: &mut Mat<T>, rows: usize, cols: usize) {
    if dst.nrows() != rows || dst.ncols() != cols {
        *dst = Mat::zeros(rows, cols);
    }
}

/// The sum of a slice in eight interleaved partial sums, so that it vectorises.
fn sum_slice<T: Scalar>(xs: &[T]) -> T {
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

fn scale<T: Scalar>(mut dst: MatMut<'_, T>, alpha: T) {
    if alpha != T::one() {
        for j in 0..dst.ncols() {
            for i in 0..dst.nrows() {
                dst[(i, j)] *= alpha;
            }
        }
    }
}

/// Copies `src` (any strides) into `dst`, times `alpha`.
fn copy_scaled<T: Scalar>(dst: &mut Mat<T>, src: MatRef<'_, T>, alpha: T) {
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
            matmul(dst.as_mut(), Accum::Replace, l, r, cx.alpha(alpha), cx.par);
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
        }
        Instr::MatPow {
            a,
            k,
            exponent,
            node,
            ..
        } => {
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
        }
    }
    Ok(None)
}

pub(crate) fn solve_lu<T: Scalar>(lu: &PartialPivLu<T>, t: bool, rhs: MatMut<'_, T>) {
    if t {
        lu.solve_transpose_in_place_with_conj(Conj::No, rhs);
    } else {
        lu.solve_in_place_with_conj(Conj::No, rhs);
    }
}

/// `a^k` by repeated squaring.
fn mat_pow<T: Scalar>(mut base: Mat<T>, mut k: u64, par: Par) -> Mat<T> {
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
fn perm_sign(p: &[usize]) -> f64 {
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

/// Entry `k` of a row or column vector.
#[inline]
fn vec_at<T: Scalar>(v: MatRef<'_, T>, k: usize) -> T {
    if v.ncols() == 1 {
        v[(k, 0)]
    } else {
        v[(0, k)]
    }
}

/// A running `sum`, `norm1`, `norm2` (scaled sum of squares, so no overflow) or `logsumexp`
/// (a sum of `exp(x - max)`, rescaled when the maximum grows, so no overflow either).
pub(crate) struct Reducer<T> {
    kind: Reduce,
    acc: T,
    scale: f64,
    /// For `logsumexp`: the entry of the largest real part so far.
    max: Option<T>,
}

impl<T: Scalar> Reducer<T> {
    pub(crate) fn new(kind: Reduce) -> Reducer<T> {
        Reducer {
            kind,
            acc: T::zero(),
            scale: 0.0,
            max: None,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, x: T) {
        match self.kind {
            Reduce::Norm1 => self.acc += x.abs_analytic(),
            Reduce::Norm2 => {
                let a = x.re().abs();
                if a > self.scale {
                    let r = self.scale / a;
                    self.acc *= T::from_f64(r * r);
                    self.scale = a;
                }
                if self.scale > 0.0 {
                    let y = x * T::from_f64(1.0 / self.scale);
                    self.acc += y * y;
                }
            }
            Reduce::Max | Reduce::Min => {
                // The entry itself (not its real part), so the complex step sees the argmax.
                let better = match self.max {
                    None => true,
                    Some(m) if self.kind == Reduce::Max => x.re() > m.re() || x.re().is_nan(),
                    Some(m) => x.re() < m.re() || x.re().is_nan(),
                };
                if better {
                    self.max = Some(x);
                }
            }
            Reduce::LogSumExp => match self.max {
                Some(m) if x.re() <= m.re() => self.acc += (x - m).exp(),
                Some(m) => {
                    self.acc = self.acc * (m - x).exp() + T::one();
                    self.max = Some(x);
                }
                None => {
                    self.acc = T::one();
                    self.max = Some(x);
                }
            },
            _ => self.acc += x,
        }
    }

    pub(crate) fn finish(self) -> T {
        match self.kind {
            Reduce::Norm2 => self.acc.sqrt() * T::from_f64(self.scale),
            Reduce::Max | Reduce::Min => self.max.unwrap_or(T::from_f64(f64::NAN)),
            Reduce::LogSumExp => match self.max {
                Some(m) => m + self.acc.ln(),
                None => T::from_f64(f64::NEG_INFINITY),
            },
            _ => self.acc,
        }
    }
}

/// Where a chunk of a kernel lies: part of a column, or part of the diagonal.
#[derive(Copy, Clone)]
pub(crate) enum Pos {
    Col { j: usize, r0: usize },
    Diag { d0: usize },
}

impl Pos {
    #[inline]
    fn at(self, k: usize) -> (usize, usize) {
        match self {
            Pos::Col { j, r0 } => (r0 + k, j),
            Pos::Diag { d0 } => (d0 + k, d0 + k),
        }
    }
}

fn load<T: Scalar>(leaf: &Leaf, cx: &Ctx<'_, T>, pos: Pos, out: &mut [T]) {
    let len = out.len();
    match leaf.kind {
        LeafKind::Matrix(s) => {
            let m = cx.src(s);
            let m = if leaf.t { m.transpose() } else { m };
            match pos {
                Pos::Col { j, r0 } => {
                    let col = m.col(j).subrows(r0, len);
                    if let Some(c) = col.try_as_col_major() {
                        out.copy_from_slice(c.as_slice());
                    } else {
                        for (k, o) in out.iter_mut().enumerate() {
                            *o = col[k];
                        }
                    }
                }
                Pos::Diag { d0 } => {
                    for (k, o) in out.iter_mut().enumerate() {
                        *o = m[(d0 + k, d0 + k)];
                    }
                }
            }
        }
        LeafKind::Scalar(s) => out.fill(cx.src(s)[(0, 0)]),
        _ => {
            for (k, o) in out.iter_mut().enumerate() {
                let (i, j) = pos.at(k);
                let (i, j) = if leaf.t { (j, i) } else { (i, j) };
                *o = entry(leaf.kind, cx, i, j);
            }
        }
    }
}

#[inline]
fn entry<T: Scalar>(kind: LeafKind, cx: &Ctx<'_, T>, i: usize, j: usize) -> T {
    match kind {
        LeafKind::Matrix(s) => cx.src(s)[(i, j)],
        LeafKind::Scalar(s) => cx.src(s)[(0, 0)],
        LeafKind::Identity => T::from_f64(if i == j { 1.0 } else { 0.0 }),
        LeafKind::DiagMat(v) => {
            if i == j {
                vec_at(cx.src(v), i)
            } else {
                T::zero()
            }
        }
        LeafKind::DiagOf(m) => {
            let m = cx.src(m);
            m[(i, i)]
        }
        LeafKind::Outer(u, v) => {
            let a = u.map_or(T::one(), |u| vec_at(cx.src(u), i));
            let b = v.map_or(T::one(), |v| vec_at(cx.src(v), j));
            a * b
        }
    }
}

#[inline]
fn map1<T: Scalar>(x: &[T], out: &mut [T], f: impl Fn(T) -> T) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = f(v);
    }
}

#[inline]
fn map2<T: Scalar>(x: &[T], y: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
    for ((o, &a), &b) in out.iter_mut().zip(x).zip(y) {
        *o = f(a, b);
    }
}

/// Runs the operations of a kernel on one chunk; the result is in the last register.
pub(crate) fn run_chunk<T: Scalar>(
    k: &Kernel<T>,
    cx: &Ctx<'_, T>,
    regs: &mut [T],
    pos: Pos,
    len: usize,
) -> Result<(), EvalError> {
    for (n, op) in k.ops.iter().enumerate() {
        let (before, rest) = regs.split_at_mut(n * CHUNK);
        let out = &mut rest[..len];
        let r = |a: usize| &before[a * CHUNK..a * CHUNK + len];
        match op {
            KOp::Load(leaf) => load(leaf, cx, pos, out),
            KOp::Const(c) => out.fill(*c),
            KOp::Neg(a) => map1(r(*a), out, |x| -x),
            KOp::Add(a, b) => map2(r(*a), r(*b), out, |x, y| x + y),
            KOp::Sub(a, b) => map2(r(*a), r(*b), out, |x, y| x - y),
            KOp::Mul(a, b) => map2(r(*a), r(*b), out, |x, y| x * y),
            KOp::Div(a, b) => map2(r(*a), r(*b), out, |x, y| x / y),
            KOp::PowInt(a, p) => map1(r(*a), out, |x| x.powi(*p)),
            KOp::Pow(a, b, node) => {
                let (x, y) = (r(*a), r(*b));
                let mut bad = false;
                for ((o, &v), &p) in out.iter_mut().zip(x).zip(y) {
                    let pi = p.re();
                    *o = if p.im() == 0.0 && pi.fract() == 0.0 && pi.abs() < 2.0e9 {
                        v.powi(pi as i32)
                    } else {
                        bad |= v.re() < 0.0;
                        v.pow(p)
                    };
                }
                if bad {
                    let v = x.iter().find(|v| v.re() < 0.0).map_or(0.0, |v| v.re());
                    return Err(EvalError::Domain {
                        what: "non-integer power of a negative entry",
                        value: v,
                        node: cx.desc(*node),
                    });
                }
            }
            KOp::Func(f, order, a, node) => {
                let x = r(*a);
                let check = match (f, order) {
                    (Func::Log, 0) => Some(("log of a non-positive entry", true)),
                    (Func::Sqrt, 0) => Some(("square root of a negative entry", false)),
                    _ => None,
                };
                if let Some((what, strict)) = check {
                    let bad = x
                        .iter()
                        .find(|v| v.re() < 0.0 || (strict && v.re() == 0.0 && v.im() == 0.0));
                    if let Some(v) = bad {
                        return Err(EvalError::Domain {
                            what,
                            value: v.re(),
                            node: cx.desc(*node),
                        });
                    }
                }
                let outside: Option<(&'static str, OutsideDomain)> = match f {
                    Func::Arcsin => Some(("arcsin of an entry outside [-1, 1]", |v| v.abs() > 1.0)),
                    Func::Arccos => Some(("arccos of an entry outside [-1, 1]", |v| v.abs() > 1.0)),
                    Func::Log1p => Some(("log1p of an entry not above -1", |v| v <= -1.0)),
                    _ => None,
                };
                if let Some((what, bad)) = outside {
                    if let Some(v) = x.iter().find(|v| bad(v.re())) {
                        return Err(EvalError::Domain {
                            what,
                            value: v.re(),
                            node: cx.desc(*node),
                        });
                    }
                }
                crate::simd::apply(*f, *order, x, out);
            }
            KOp::Abstract(fi, a) => {
                let f = &cx.functions[*fi];
                map1(r(*a), out, |v| f(v));
            }
        }
    }
    Ok(())
}

/// Whether a real part is outside a function's domain.
type OutsideDomain = fn(f64) -> bool;

fn run_kernel<T: Scalar>(
    k: &Kernel<T>,
    cx: &Ctx<'_, T>,
    dst: &mut Mat<T>,
    regs: &mut Vec<T>,
) -> Result<(), EvalError> {
    let need = k.ops.len() * CHUNK;
    if regs.len() < need {
        regs.resize(need, T::zero());
    }
    let last = (k.ops.len() - 1) * CHUNK;
    match k.sink {
        Sink::Buffer => {
            sized(dst, k.rows, k.cols);
            let parts = crate::split::parts(k.rows * k.cols, cx.par);
            if regs.len() < parts * need {
                regs.resize(parts * need, T::zero());
            }
            let regs = &mut regs[..parts * need];
            crate::split::fill(k, cx, dst.as_mut(), (0, 0), regs, parts)?;
        }
        Sink::Reduce(Reduce::Trace) | Sink::Diagonal => {
            let n = k.rows.min(k.cols);
            if k.sink == Sink::Diagonal {
                sized(dst, n, 1);
            }
            let mut acc = T::zero();
            let mut d0 = 0;
            while d0 < n {
                let len = CHUNK.min(n - d0);
                run_chunk(k, cx, regs, Pos::Diag { d0 }, len)?;
                for (i, &v) in regs[last..last + len].iter().enumerate() {
                    if k.sink == Sink::Diagonal {
                        dst[(d0 + i, 0)] = v;
                    } else {
                        acc += v;
                    }
                }
                d0 += len;
            }
            if k.sink != Sink::Diagonal {
                sized(dst, 1, 1);
                dst[(0, 0)] = acc;
            }
        }
        Sink::Reduce(kind) => {
            let mut red = Reducer::new(kind);
            for j in 0..k.cols {
                let mut r0 = 0;
                while r0 < k.rows {
                    let len = CHUNK.min(k.rows - r0);
                    run_chunk(k, cx, regs, Pos::Col { j, r0 }, len)?;
                    for &v in &regs[last..last + len] {
                        red.push(v);
                    }
                    r0 += len;
                }
            }
            sized(dst, 1, 1);
            dst[(0, 0)] = red.finish();
        }
    }
    Ok(())
}
