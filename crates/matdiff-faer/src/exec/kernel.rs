//! Fused element-wise kernels: loading leaves, running chunks, reductions.

use super::instr::sized;
use super::*;

/// Entry `k` of a row or column vector.
#[inline]
pub(super) fn vec_at<T: Scalar>(v: MatRef<'_, T>, k: usize) -> T {
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

pub(super) fn load<T: Scalar>(leaf: &Leaf, cx: &Ctx<'_, T>, pos: Pos, out: &mut [T]) {
    if let Pos::Col { j, r0 } = pos {
        if load_structured_column(leaf, cx, j, r0, out) {
            return;
        }
    }
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

/// Loads rows `r0..` of column `j` of a diagonal, identity or outer-product leaf in one pass
/// (zeros with at most one entry; `u` scaled by one entry of `v`), not entry by entry. Returns
/// whether the leaf is of such a kind.
fn load_structured_column<T: Scalar>(
    leaf: &Leaf,
    cx: &Ctx<'_, T>,
    j: usize,
    r0: usize,
    out: &mut [T],
) -> bool {
    match leaf.kind {
        LeafKind::Identity | LeafKind::DiagMat(_) => {
            out.fill(T::zero());
            if (r0..r0 + out.len()).contains(&j) {
                out[j - r0] = match leaf.kind {
                    LeafKind::DiagMat(v) => vec_at(cx.src(v), j),
                    _ => T::one(),
                };
            }
        }
        LeafKind::Outer(u, v) => {
            // Entry (i, j) is u_i v_j; transposed, it is u_j v_i.
            let (along, across) = if leaf.t { (v, u) } else { (u, v) };
            let scale = across.map_or(T::one(), |w| vec_at(cx.src(w), j));
            match along {
                Some(w) => {
                    let w = cx.src(w);
                    let w = if w.ncols() == 1 { w } else { w.transpose() };
                    let w = w.col(0).subrows(r0, out.len());
                    match w.try_as_col_major() {
                        Some(w) => {
                            for (o, &x) in out.iter_mut().zip(w.as_slice()) {
                                *o = x * scale;
                            }
                        }
                        None => {
                            for (k, o) in out.iter_mut().enumerate() {
                                *o = w[k] * scale;
                            }
                        }
                    }
                }
                None => out.fill(scale),
            }
        }
        _ => return false,
    }
    true
}

#[inline]
pub(super) fn entry<T: Scalar>(kind: LeafKind, cx: &Ctx<'_, T>, i: usize, j: usize) -> T {
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
pub(super) fn map1<T: Scalar>(x: &[T], out: &mut [T], f: impl Fn(T) -> T) {
    crate::simd::wide(
        #[inline(always)]
        || {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = f(v);
            }
        },
    )
}

#[inline]
pub(super) fn map2<T: Scalar>(x: &[T], y: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
    crate::simd::wide(
        #[inline(always)]
        || {
            for ((o, &a), &b) in out.iter_mut().zip(x).zip(y) {
                *o = f(a, b);
            }
        },
    )
}

/// The chunk of a loaded matrix read in place: a part of a column of a column-major source, which
/// the operations then read without copying it into a register.
#[inline]
fn in_place<'a, T: Scalar>(op: &KOp<T>, cx: &Ctx<'a, T>, pos: Pos, len: usize) -> Option<&'a [T]> {
    match (op, pos) {
        (
            KOp::Load(Leaf {
                kind: LeafKind::Matrix(s),
                t: false,
            }),
            Pos::Col { j, r0 },
        ) => cx
            .src(*s)
            .col(j)
            .subrows(r0, len)
            .try_as_col_major()
            .map(|c| c.as_slice()),
        _ => None,
    }
}

/// Runs the operations of a kernel on one chunk of `len` entries. The last operation writes into
/// `dst` when given (of length `len`), else into the last register. Column-major matrices are
/// read in place (see [`in_place`]), so a kernel like `exp(X)` reads `X` and writes `dst` only.
pub(crate) fn run_chunk<T: Scalar>(
    k: &Kernel<T>,
    cx: &Ctx<'_, T>,
    regs: &mut [T],
    pos: Pos,
    len: usize,
    mut dst: Option<&mut [T]>,
) -> Result<(), EvalError> {
    let last = k.ops.len() - 1;
    for (n, op) in k.ops.iter().enumerate() {
        let (before, rest) = regs.split_at_mut(n * CHUNK);
        let before = &*before;
        let out: &mut [T] = match dst.as_deref_mut() {
            Some(d) if n == last => d,
            _ => &mut rest[..len],
        };
        let r = |a: usize| {
            in_place(&k.ops[a], cx, pos, len).unwrap_or(&before[a * CHUNK..a * CHUNK + len])
        };
        match op {
            KOp::Load(leaf) => {
                if n == last || in_place(op, cx, pos, len).is_none() {
                    load(leaf, cx, pos, out)
                }
            }
            KOp::Const(c) => out.fill(*c),
            KOp::Neg(a) => map1(r(*a), out, |x| -x),
            KOp::Add(a, b) => map2(r(*a), r(*b), out, |x, y| x + y),
            KOp::Sub(a, b) => map2(r(*a), r(*b), out, |x, y| x - y),
            KOp::Mul(a, b) => map2(r(*a), r(*b), out, |x, y| x * y),
            KOp::Div(a, b) => map2(r(*a), r(*b), out, |x, y| x / y),
            KOp::PowInt(a, p) => map1(r(*a), out, |x| x.powi(*p)),
            KOp::Pow(a, b, node) => {
                let (x, y) = (r(*a), r(*b));
                let int = |p: T| p.im() == 0.0 && p.re().fract() == 0.0 && p.re().abs() < 2.0e9;
                if !crate::simd::pow(x, y, out) {
                    for ((o, &v), &p) in out.iter_mut().zip(x).zip(y) {
                        *o = if int(p) {
                            v.powi(p.re() as i32)
                        } else {
                            v.pow(p)
                        };
                    }
                }
                let bad =
                    (x.iter().zip(y)).fold(false, |any, (v, &p)| any | (v.re() < 0.0 && !int(p)));
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
                    let bad = first_bad(x, |v| {
                        (v.re() < 0.0) | (strict & (v.re() == 0.0) & (v.im() == 0.0))
                    });
                    if let Some(v) = bad {
                        return Err(EvalError::Domain {
                            what,
                            value: v.re(),
                            node: cx.desc(*node),
                        });
                    }
                }
                // Closures, not function pointers, so that the checks compile to vector code.
                let outside = match f {
                    Func::Arcsin => first_bad(x, |v| v.re().abs() > 1.0)
                        .map(|v| ("arcsin of an entry outside [-1, 1]", v)),
                    Func::Arccos => first_bad(x, |v| v.re().abs() > 1.0)
                        .map(|v| ("arccos of an entry outside [-1, 1]", v)),
                    Func::Log1p => first_bad(x, |v| v.re() <= -1.0)
                        .map(|v| ("log1p of an entry not above -1", v)),
                    _ => None,
                };
                if let Some((what, v)) = outside {
                    return Err(EvalError::Domain {
                        what,
                        value: v.re(),
                        node: cx.desc(*node),
                    });
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

/// The first entry for which `bad` holds: a pass without branches over the chunk (vector code),
/// and a second, to find it, only when there is one.
#[inline]
fn first_bad<T: Copy>(x: &[T], bad: impl Fn(T) -> bool) -> Option<T> {
    if x.iter().fold(false, |any, &v| any | bad(v)) {
        x.iter().copied().find(|&v| bad(v))
    } else {
        None
    }
}

pub(super) fn run_kernel<T: Scalar>(
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
                run_chunk(k, cx, regs, Pos::Diag { d0 }, len, None)?;
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
                    run_chunk(k, cx, regs, Pos::Col { j, r0 }, len, None)?;
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
