//! Instructions that replace several others in one pass over memory (`plan/fuse.rs` finds
//! them): `a*M*x + b*M'*y` reads the square `M` once, `L*x` and `L*y` read `L` once,
//! `a*diag(d) + b*u*w'` writes its result once, a symmetric product computes half its entries
//! (faer's triangular product). The one-pass loops split into two halves whatever the number
//! of threads and run them on two threads where there are, so results do not depend on the
//! number of threads; their `f64` loops are compiled for AVX-512 and AVX2 too, chosen at run
//! time, with the same operations in the same order on each.

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::prelude::ReborrowMut;
use faer::MatMut;

use super::instr::sized;
use super::kernel::vec_at;
use super::*;
use crate::split::join;

/// One instruction of this module (in [`Instr::Fused`]).
#[derive(Clone, Debug)]
pub(crate) enum FusedOp {
    /// `a*M*x + b*M'*y` for a square `M` and columns `x`, `y`, by columns of `M` (an axpy and
    /// a dot product per column).
    MatVecPair {
        m: Opnd,
        x: Opnd,
        a: Alpha,
        y: Opnd,
        b: Alpha,
    },
    /// `a*L*x` into the instruction's slot and `b*L*y` into `second`, for columns `x`, `y`: one
    /// pass over `L` (two axpys, or for a transposed `L` two dot products, per column).
    SharedLeft {
        l: Opnd,
        x: Opnd,
        a: Alpha,
        y: Opnd,
        b: Alpha,
        second: usize,
    },
    /// `a*l*r` for a product known to be symmetric (`M'*M`, `M'*diag(d)*M`): the lower
    /// triangle, mirrored (half the multiplications).
    SymmetricProduct { l: Opnd, r: Opnd, a: Alpha },
    /// `a*diag(d) + b*u*w'` (`None`: the identity for `d`, a vector of ones for `u` or `w`).
    DiagOuter {
        n: usize,
        d: Option<Src>,
        a: Alpha,
        u: Option<Src>,
        w: Option<Src>,
        b: Alpha,
    },
}

impl FusedOp {
    /// Every operand read.
    pub(crate) fn operands_mut(&mut self) -> Vec<&mut Src> {
        let mut out: Vec<&mut Src> = Vec::new();
        match self {
            FusedOp::MatVecPair { m, x, a, y, b }
            | FusedOp::SharedLeft {
                l: m, x, a, y, b, ..
            } => {
                out.extend([&mut m.src, &mut x.src, &mut y.src]);
                out.extend(scalars(a).chain(scalars(b)));
            }
            FusedOp::SymmetricProduct { l, r, a } => {
                out.extend([&mut l.src, &mut r.src]);
                out.extend(scalars(a));
            }
            FusedOp::DiagOuter { d, a, u, w, b, .. } => {
                out.extend([d, u, w].into_iter().flatten());
                out.extend(scalars(a).chain(scalars(b)));
            }
        }
        out
    }
}

fn scalars(a: &mut Alpha) -> impl Iterator<Item = &mut Src> {
    a.scalars.iter_mut().map(|s| &mut s.src)
}

/// Below this many entries of `M` (or of the result) one thread does both halves.
const PARALLEL_ENTRIES: usize = 1 << 16;

fn parallel<T>(cx: &Ctx<'_, T>, entries: usize) -> bool {
    cx.par.degree() > 1 && entries >= PARALLEL_ENTRIES
}

/// Rows of a block of [`FusedOp::SharedLeft`]: its two partial results take 8 KB.
const ROW_BLOCK: usize = 512;

/// Runs [`FusedOp::SharedLeft`], which writes two slots.
pub(crate) fn run_shared_left<T: Scalar>(
    op: &FusedOp,
    cx: &Ctx<'_, T>,
    first: &mut Mat<T>,
    second: &mut Mat<T>,
) {
    let FusedOp::SharedLeft { l, x, a, y, b, .. } = op else {
        unreachable!("only SharedLeft writes two slots")
    };
    let l = cx.view(*l);
    let (x, y) = (column(cx.view(*x)), column(cx.view(*y)));
    let (a, b) = (cx.alpha(a), cx.alpha(b));
    let (rows, cols) = (l.nrows(), l.ncols());
    sized(first, rows, 1);
    sized(second, rows, 1);
    let (f, s) = (column_mut(first), column_mut(second));
    if l.row_stride() == 1 {
        // By columns: f += L[:, j] x_j, s += L[:, j] y_j, rows split in halves, each in
        // blocks of rows whose parts of f and s stay in the first-level cache.
        let run = |r0: usize, f: &mut [T], s: &mut [T]| {
            f.fill(T::zero());
            s.fill(T::zero());
            for (b, (fb, sb)) in f
                .chunks_mut(ROW_BLOCK)
                .zip(s.chunks_mut(ROW_BLOCK))
                .enumerate()
            {
                let len = fb.len();
                let part = |j: usize| {
                    let c = l.col(j).subrows(r0 + b * ROW_BLOCK, len);
                    c.try_as_col_major()
                        .expect("rows of a column-major matrix")
                        .as_slice()
                };
                // Four columns at a time: f and s are read and written once per four.
                let quads = cols / 4 * 4;
                for j in (0..quads).step_by(4) {
                    let c = [part(j), part(j + 1), part(j + 2), part(j + 3)];
                    let p = [x[j], x[j + 1], x[j + 2], x[j + 3]];
                    let q = [y[j], y[j + 1], y[j + 2], y[j + 3]];
                    double_axpy4(c, p, fb, q, sb);
                }
                for j in quads..cols {
                    double_axpy(part(j), x[j], fb, y[j], sb);
                }
            }
        };
        let half = rows / 2;
        let ((f1, f2), (s1, s2)) = (f.split_at_mut(half), s.split_at_mut(half));
        if parallel(cx, rows * cols) {
            join(|| run(0, f1, s1), || run(half, f2, s2));
        } else {
            run(0, f1, s1);
            run(half, f2, s2);
        }
    } else {
        for i in 0..rows {
            let (mut p, mut q) = (T::zero(), T::zero());
            for j in 0..cols {
                p += l[(i, j)] * x[j];
                q += l[(i, j)] * y[j];
            }
            (f[i], s[i]) = (p, q);
        }
    }
    for v in f.iter_mut() {
        *v = a * *v;
    }
    for v in s.iter_mut() {
        *v = b * *v;
    }
}

fn column_mut<T: Scalar>(m: &mut Mat<T>) -> &mut [T] {
    m.as_mut()
        .col_mut(0)
        .try_as_col_major_mut()
        .expect("owned columns are contiguous")
        .as_slice_mut()
}

/// `f += c * p` and `s += c * q`, in one read of `c`.
fn double_axpy<T: Scalar>(c: &[T], p: T, f: &mut [T], q: T, s: &mut [T]) {
    if let (Some(c), Some(pq), Some(f), Some(s)) = (
        cast::<T, f64>(c),
        cast::<T, f64>(&[p, q]),
        cast_mut::<T, f64>(f),
        cast_mut::<T, f64>(s),
    ) {
        return double_axpy_f64(c, pq[0], f, pq[1], s);
    }
    double_axpy_lanes(c, p, f, q, s)
}

#[inline(always)]
fn double_axpy_lanes<T: Scalar>(c: &[T], p: T, f: &mut [T], q: T, s: &mut [T]) {
    for ((&v, fi), si) in c.iter().zip(f.iter_mut()).zip(s.iter_mut()) {
        *fi += v * p;
        *si += v * q;
    }
}

/// `f += C p` and `s += C q` for the four columns of `C`, in one read of each.
fn double_axpy4<T: Scalar>(c: [&[T]; 4], p: [T; 4], f: &mut [T], q: [T; 4], s: &mut [T]) {
    if let (Some(c0), Some(c1), Some(c2), Some(c3), Some(p), Some(q), Some(f), Some(s)) = (
        cast::<T, f64>(c[0]),
        cast::<T, f64>(c[1]),
        cast::<T, f64>(c[2]),
        cast::<T, f64>(c[3]),
        cast::<T, f64>(&p),
        cast::<T, f64>(&q),
        cast_mut::<T, f64>(f),
        cast_mut::<T, f64>(s),
    ) {
        let (p, q) = ([p[0], p[1], p[2], p[3]], [q[0], q[1], q[2], q[3]]);
        return double_axpy4_f64([c0, c1, c2, c3], p, f, q, s);
    }
    double_axpy4_lanes(c, p, f, q, s)
}

#[inline(always)]
fn double_axpy4_lanes<T: Scalar>(c: [&[T]; 4], p: [T; 4], f: &mut [T], q: [T; 4], s: &mut [T]) {
    let n = f.len();
    let (c0, c1, c2, c3) = (&c[0][..n], &c[1][..n], &c[2][..n], &c[3][..n]);
    let s = &mut s[..n];
    for i in 0..n {
        let (a, b, d, e) = (c0[i], c1[i], c2[i], c3[i]);
        f[i] += a * p[0] + b * p[1] + d * p[2] + e * p[3];
        s[i] += a * q[0] + b * q[1] + d * q[2] + e * q[3];
    }
}

pub(super) fn run_fused<T: Scalar>(op: &FusedOp, cx: &Ctx<'_, T>, dst: &mut Mat<T>) {
    let parallel = |entries: usize| parallel(cx, entries);
    match op {
        FusedOp::SharedLeft { .. } => unreachable!("SharedLeft writes two slots"),
        FusedOp::MatVecPair { m, x, a, y, b } => {
            let mut m = cx.view(*m);
            let (mut x, mut y) = (cx.view(*x), cx.view(*y));
            let (mut a, mut b) = (cx.alpha(a), cx.alpha(b));
            if m.row_stride() != 1 {
                // a*M*x + b*M'*y with M = N' is b*N*y + a*N'*x: read N by columns.
                m = m.transpose();
                (x, y, a, b) = (y, x, b, a);
            }
            let n = m.nrows();
            sized(dst, n, 1);
            let (x, y) = (column(x), column(y));
            let half = n / 2;
            let mut rest = vec![T::zero(); n];
            let (left, right) = dst.as_mut().split_at_row_mut(half);
            let run = |cols: std::ops::Range<usize>, axpy: &mut [T], dots: MatMut<'_, T>| {
                pair_columns(m, &x, &y, cols, axpy, dots)
            };
            // Columns [0, half) accumulate M*x into `rest`, [half, n) into `other`; each half
            // writes the dot products of its columns with y into its rows of dst.
            let mut other = vec![T::zero(); n];
            if parallel(n * n) {
                join(
                    || run(0..half, &mut rest, left),
                    || run(half..n, &mut other, right),
                );
            } else {
                run(0..half, &mut rest, left);
                run(half..n, &mut other, right);
            }
            for i in 0..n {
                dst[(i, 0)] = a * (rest[i] + other[i]) + b * dst[(i, 0)];
            }
        }
        FusedOp::SymmetricProduct { l, r, a } => {
            let (l, r) = (cx.view(*l), cx.view(*r));
            let n = l.nrows();
            sized(dst, n, n);
            triangular::matmul(
                dst.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                l,
                BlockStructure::Rectangular,
                r,
                BlockStructure::Rectangular,
                cx.alpha(a),
                cx.par,
            );
            for j in 1..n {
                for i in 0..j {
                    dst[(i, j)] = dst[(j, i)];
                }
            }
        }
        FusedOp::DiagOuter { n, d, a, u, w, b } => {
            let n = *n;
            sized(dst, n, n);
            let (a, b) = (cx.alpha(a), cx.alpha(b));
            let at = |s: &Option<Src>, k: usize| s.map_or(T::one(), |s| vec_at(cx.src(s), k));
            let u: Vec<T> = (0..n).map(|i| at(u, i)).collect();
            let fill = |j0: usize, mut part: MatMut<'_, T>| {
                for c in 0..part.ncols() {
                    let j = j0 + c;
                    let s = b * at(w, j);
                    let col = part
                        .rb_mut()
                        .col_mut(c)
                        .try_as_col_major_mut()
                        .expect("owned matrices are column major")
                        .as_slice_mut();
                    scaled_copy(col, s, &u);
                    col[j] = a * at(d, j) + col[j];
                }
            };
            let half = n / 2;
            let (left, right) = dst.as_mut().split_at_col_mut(half);
            if parallel(n * n) {
                join(|| fill(0, left), || fill(half, right));
            } else {
                fill(0, left);
                fill(half, right);
            }
        }
    }
}

/// The entries of a row or column vector, in order.
fn column<T: Scalar>(v: MatRef<'_, T>) -> Vec<T> {
    (0..v.nrows() * v.ncols()).map(|k| vec_at(v, k)).collect()
}

/// For the columns `cols` of the column-major `m`: `axpy += m[:, j] * x[j]` and
/// `dots[j - cols.start] = m[:, j] . y`.
fn pair_columns<T: Scalar>(
    m: MatRef<'_, T>,
    x: &[T],
    y: &[T],
    cols: std::ops::Range<usize>,
    axpy: &mut [T],
    mut dots: MatMut<'_, T>,
) {
    let start = cols.start;
    for j in cols {
        let col = m.col(j);
        let dot = match col.try_as_col_major() {
            Some(c) => axpy_dot(c.as_slice(), x[j], axpy, y),
            None => {
                let mut acc = T::zero();
                for (i, o) in axpy.iter_mut().enumerate() {
                    *o += col[i] * x[j];
                    acc += col[i] * y[i];
                }
                acc
            }
        };
        dots[(j - start, 0)] = dot;
    }
}

/// `out += col * s` and the dot product `col . y`, in one read of `col`.
fn axpy_dot<T: Scalar>(col: &[T], s: T, out: &mut [T], y: &[T]) -> T {
    if let (Some(col), Some(s), Some(out), Some(y)) = (
        cast::<T, f64>(col),
        cast::<T, f64>(std::slice::from_ref(&s)),
        cast_mut::<T, f64>(out),
        cast::<T, f64>(y),
    ) {
        let dot = axpy_dot_f64(col, s[0], out, y);
        return T::from_f64(dot);
    }
    axpy_dot_lanes(col, s, out, y)
}

/// Partial sums of the dot product in [`axpy_dot`]: four vector registers of eight, so that
/// the additions of one column overlap (the same on every instruction set).
const LANES: usize = 32;

/// [`axpy_dot`] in [`LANES`] partial sums.
#[inline(always)]
fn axpy_dot_lanes<T: Scalar>(col: &[T], s: T, out: &mut [T], y: &[T]) -> T {
    let mut acc = [T::zero(); LANES];
    let n = col.len() / LANES * LANES;
    for ((c, o), yy) in col[..n]
        .chunks_exact(LANES)
        .zip(out[..n].chunks_exact_mut(LANES))
        .zip(y[..n].chunks_exact(LANES))
    {
        for k in 0..LANES {
            o[k] += c[k] * s;
            acc[k] += c[k] * yy[k];
        }
    }
    let mut dot = acc.iter().fold(T::zero(), |t, &a| t + a);
    for i in n..col.len() {
        out[i] += col[i] * s;
        dot += col[i] * y[i];
    }
    dot
}

/// `out[i] = s * u[i]`.
fn scaled_copy<T: Scalar>(out: &mut [T], s: T, u: &[T]) {
    if let (Some(out), Some(s), Some(u)) = (
        cast_mut::<T, f64>(out),
        cast::<T, f64>(std::slice::from_ref(&s)),
        cast::<T, f64>(u),
    ) {
        return scaled_copy_f64(out, s[0], u);
    }
    scaled_copy_lanes(out, s, u)
}

#[inline(always)]
fn scaled_copy_lanes<T: Scalar>(out: &mut [T], s: T, u: &[T]) {
    for (o, &x) in out.iter_mut().zip(u) {
        *o = s * x;
    }
}

/// The widest instruction set the processor has for the loops of this module.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Isa {
    Avx512,
    Avx2,
    Baseline,
}

fn isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("fma") {
            return Isa::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Baseline
}

/// `$name` runs `$generic` on `f64` compiled for the widest instruction set the processor has.
macro_rules! dispatch {
    ($name:ident, $generic:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) -> $ret {
                    $generic($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) -> $ret {
                    $generic($($arg),*)
                }
                match isa() {
                    // SAFETY: `isa()` found the features the functions are compiled for.
                    Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    Isa::Baseline => {}
                }
            }
            $generic($($arg),*)
        }
    };
}

dispatch!(axpy_dot_f64, axpy_dot_lanes, (col: &[f64], s: f64, out: &mut [f64], y: &[f64]) -> f64);
dispatch!(double_axpy4_f64, double_axpy4_lanes, (c: [&[f64]; 4], p: [f64; 4], f: &mut [f64], q: [f64; 4], s: &mut [f64]) -> ());
dispatch!(double_axpy_f64, double_axpy_lanes, (c: &[f64], p: f64, f: &mut [f64], q: f64, s: &mut [f64]) -> ());
dispatch!(scaled_copy_f64, scaled_copy_lanes, (out: &mut [f64], s: f64, u: &[f64]) -> ());

/// The slice as `&[U]` when `T` is `U`.
fn cast<T: 'static, U: 'static>(x: &[T]) -> Option<&[U]> {
    // SAFETY: T and U are the same type.
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<U>())
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<U>(), x.len()) })
}

/// The slice as `&mut [U]` when `T` is `U`.
fn cast_mut<T: 'static, U: 'static>(x: &mut [T]) -> Option<&mut [U]> {
    // SAFETY: T and U are the same type.
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<U>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<U>(), x.len()) })
}
