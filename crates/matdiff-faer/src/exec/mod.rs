//! The instructions of a compiled plan and how they run.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::{PartialPivLu, SolveCore};
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par};
use matdiff_expr::{Func, Reduce};

use crate::error::EvalError;
use crate::factor::{cholesky, Factor};
use crate::functions::ScalarFn;
use crate::scalar::Scalar;

mod dense;
mod fused;
mod instr;
mod kernel;
mod vec_ops;

pub(crate) use dense::{det, is_singular, is_symmetric, logabsdet, logdet};
pub(crate) use fused::{run_shared_left, FusedOp};
pub(crate) use instr::{run_instr, solve_lu};
pub(crate) use kernel::{run_chunk, Pos, Reducer};
pub(crate) use vec_ops::VecOp;

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
    /// `kron`, `vec`, `unvec`, the commutation matrix, `kron(L, R)*v` (`vec_ops.rs`).
    VecOp {
        dst: usize,
        op: VecOp,
    },
    /// One pass standing for several instructions (`fused.rs`).
    Fused {
        dst: usize,
        op: FusedOp,
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
            | Instr::VecOp { dst, .. }
            | Instr::Fused { dst, .. }
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
            | Instr::VecOp { dst, .. }
            | Instr::Fused { dst, .. }
            | Instr::MatPow { dst, .. } => dst,
        })
    }

    /// The second slot written by an instruction that writes two.
    pub(crate) fn second_dst(&self) -> Option<usize> {
        match self {
            Instr::Fused {
                op: FusedOp::SharedLeft { second, .. },
                ..
            } => Some(*second),
            _ => None,
        }
    }

    /// Every slot written, to rename them.
    pub(crate) fn dsts_mut(&mut self) -> Vec<&mut usize> {
        match self {
            Instr::Fused {
                dst,
                op: FusedOp::SharedLeft { second, .. },
            } => vec![dst, second],
            _ => self.dst_mut().into_iter().collect(),
        }
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
            Instr::VecOp { op, .. } => out.extend(op.operands_mut()),
            Instr::Fused { op, .. } => out.extend(op.operands_mut()),
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
