//! A pass over the emitted instructions, before buffers are shared (each slot is still written
//! once), that replaces instructions by fused ones (`exec/fused.rs`) reading or writing memory
//! once where they would do it several times:
//! - `a*M*x ± b*M'*y` (two matrix-vector products added by a kernel, as `(A + A')*v` is
//!   distributed) reads the square `M` once, by columns, instead of twice;
//! - a kernel that is `a*diag(d) ± b*u*w'` (such as `diag(p) - p*p'`) writes each column as
//!   a scaled copy of `u` and adds the diagonal entry, instead of computing every entry from
//!   its leaves;
//! - a product known to be symmetric (`M'*M`, `M'*diag(d)*M` as `M'*(diag(d)*M)`, and
//!   their mirrors) computes its lower triangle and mirrors it, half the multiplications.

use crate::exec::{Alpha, FusedOp, Instr, KOp, Kernel, LeafKind, Opnd, Sink, Src};
use crate::scalar::Scalar;

/// The smallest side of a symmetric product computed by halves.
const MIN_SYMMETRIC: usize = 32;

/// Rewrites `instrs` in place; `outputs` are the plan's results, which stay where they are,
/// `dims` the shapes of the slots.
pub(super) fn fuse<T: Scalar>(
    instrs: &mut Vec<Instr<T>>,
    outputs: &[Opnd],
    dims: &[(usize, usize)],
) {
    let nslots = dims.len();
    let mut writes = vec![0u32; nslots];
    let mut reads = vec![0u32; nslots];
    let mut writer = vec![usize::MAX; nslots];
    for (i, ins) in instrs.iter_mut().enumerate() {
        for s in ins.operands_mut() {
            if let Src::Slot(k) = *s {
                reads[k] += 1;
            }
        }
        if let Some(d) = ins.dst() {
            writes[d] += 1;
            writer[d] = i;
        }
    }
    for o in outputs {
        if let Src::Slot(k) = o.src {
            reads[k] += 1;
        }
    }
    let single = |s: Src| match s {
        Src::Slot(k) => writes[k] == 1,
        Src::Input(_) => true,
    };
    let mut removed = vec![false; instrs.len()];
    for k in 0..instrs.len() {
        if let Instr::MatMul {
            dst,
            lhs,
            rhs,
            alpha,
        } = &instrs[k]
        {
            let (rows, cols) = dims[*dst];
            let single_scale = |o: Opnd| match o.src {
                Src::Slot(s) if writes[s] == 1 => match &instrs[writer[s]] {
                    Instr::ScaleRows { src, .. } if single(src.src) => Some((true, *src)),
                    Instr::ScaleCols { src, .. } if single(src.src) => Some((false, *src)),
                    _ => None,
                },
                _ => None,
            };
            // B'*B, or B'*D*B with D*B (or B'*D) a scaled slot: D*M or M'*D (ScaleRows of
            // M, read or transposed), M*D or D*M' (ScaleCols).
            let symmetric = (lhs.src == rhs.src && lhs.t != rhs.t)
                || single_scale(*rhs).is_some_and(|(rows, m)| match (rows, rhs.t) {
                    (true, false) => *lhs == m.flip(),
                    (false, true) => *lhs == m,
                    _ => false,
                })
                || single_scale(*lhs).is_some_and(|(rows, m)| match (rows, lhs.t) {
                    (true, true) => *rhs == m,
                    (false, false) => *rhs == m.flip(),
                    _ => false,
                });
            if symmetric && rows == cols && rows >= MIN_SYMMETRIC {
                let op = FusedOp::SymmetricProduct {
                    l: *lhs,
                    r: *rhs,
                    a: alpha.clone(),
                };
                instrs[k] = Instr::Fused { dst: *dst, op };
            }
            continue;
        }
        let Instr::Kernel(kernel) = &instrs[k] else {
            continue;
        };
        if let Some((op, matmuls)) = mat_vec_pair(kernel, instrs, &writer, &writes, &reads) {
            let mut op = op;
            if op.operands_mut().into_iter().all(|s| single(*s)) {
                let dst = kernel.dst;
                instrs[k] = Instr::Fused { dst, op };
                for m in matmuls {
                    removed[m] = true;
                }
            }
        } else if let Some(op) = diag_outer(kernel) {
            instrs[k] = Instr::Fused {
                dst: kernel.dst,
                op,
            };
        }
    }
    shared_left(instrs, dims, &writer, &writes, &mut removed);
    let mut i = 0;
    instrs.retain(|_| {
        i += 1;
        !removed[i - 1]
    });
}

/// Two products `a*L*x` and `b*L*y` of one matrix (not transposed) by columns: the earlier
/// becomes the fused pair (writing both slots) where the later one's operands are ready.
fn shared_left<T: Scalar>(
    instrs: &mut [Instr<T>],
    dims: &[(usize, usize)],
    writer: &[usize],
    writes: &[u32],
    removed: &mut [bool],
) {
    let product = |ins: &Instr<T>| match ins {
        Instr::MatMul {
            dst,
            lhs,
            rhs,
            alpha,
        } if !lhs.t && dims[*dst].1 == 1 && writes[*dst] == 1 => {
            Some((*dst, *lhs, *rhs, alpha.clone()))
        }
        _ => None,
    };
    for later in 0..instrs.len() {
        let Some((d2, l2, r2, b)) = product(&instrs[later]).filter(|_| !removed[later]) else {
            continue;
        };
        for earlier in 0..later {
            let Some((d1, l1, r1, a)) = product(&instrs[earlier]).filter(|_| !removed[earlier])
            else {
                continue;
            };
            let ready = |s: Src| match s {
                Src::Slot(k) => writes[k] == 1 && writer[k] < earlier,
                Src::Input(_) => true,
            };
            let single = |s: Src| match s {
                Src::Slot(k) => writes[k] == 1,
                Src::Input(_) => true,
            };
            if l1 != l2
                || !single(l1.src)
                || !ready(r2.src)
                || !b.scalars.iter().all(|s| ready(s.src))
            {
                continue;
            }
            let op = FusedOp::SharedLeft {
                l: l1,
                x: r1,
                a,
                y: r2,
                b,
                second: d2,
            };
            instrs[earlier] = Instr::Fused { dst: d1, op };
            removed[later] = true;
            break;
        }
    }
}

/// A kernel `s ± t` whose slots `s` and `t` are products `a*M*x` and `b*M'*y` of a square
/// `M` by columns, read by nothing else: the fused product and the two products it replaces.
fn mat_vec_pair<T: Scalar>(
    kernel: &Kernel<T>,
    instrs: &[Instr<T>],
    writer: &[usize],
    writes: &[u32],
    reads: &[u32],
) -> Option<(FusedOp, [usize; 2])> {
    if kernel.sink != Sink::Buffer || kernel.cols != 1 || kernel.ops.len() != 3 {
        return None;
    }
    let slot = |op: &KOp<T>| match op {
        KOp::Load(leaf) if !leaf.t => match leaf.kind {
            LeafKind::Matrix(Src::Slot(s)) => Some(s),
            _ => None,
        },
        _ => None,
    };
    let loaded = [slot(&kernel.ops[0])?, slot(&kernel.ops[1])?];
    // The result is loaded[first] + sign * loaded[1 - first].
    let (first, sign) = match kernel.ops[2] {
        KOp::Add(0, 1) | KOp::Add(1, 0) => (0, 1.0),
        KOp::Sub(i, j) if i + j == 1 => (i, -1.0),
        _ => None?,
    };
    if loaded[0] == loaded[1] {
        return None;
    }
    let mut products = Vec::with_capacity(2);
    for (n, &s) in loaded.iter().enumerate() {
        if writes[s] != 1 || reads[s] != 1 {
            return None;
        }
        let Instr::MatMul {
            lhs, rhs, alpha, ..
        } = &instrs[writer[s]]
        else {
            return None;
        };
        let mut alpha = alpha.clone();
        if n != first {
            alpha.c *= sign;
        }
        products.push((*lhs, *rhs, alpha, writer[s]));
    }
    let (p, q) = (&products[0], &products[1]);
    if p.0.src != q.0.src || p.0.t == q.0.t {
        return None;
    }
    let (direct, transposed) = if p.0.t { (q, p) } else { (p, q) };
    let op = FusedOp::MatVecPair {
        m: direct.0,
        x: direct.1,
        a: direct.2.clone(),
        y: transposed.1,
        b: transposed.2.clone(),
    };
    Some((op, [p.3, q.3]))
}

/// A value of a kernel's register: a scale factor, or `a*diag(d) + b*u*w'` (either term may
/// be absent).
enum Value {
    Scale(Alpha),
    Terms {
        diag: Option<(Alpha, Option<Src>)>,
        outer: Option<(Alpha, Option<Src>, Option<Src>)>,
    },
}

fn times(a: &Alpha, b: &Alpha) -> Alpha {
    Alpha {
        c: a.c * b.c,
        scalars: a.scalars.iter().chain(&b.scalars).copied().collect(),
    }
}

impl Value {
    fn scaled(self, by: &Alpha) -> Value {
        match self {
            Value::Scale(a) => Value::Scale(times(&a, by)),
            Value::Terms { diag, outer } => Value::Terms {
                diag: diag.map(|(a, d)| (times(&a, by), d)),
                outer: outer.map(|(a, u, w)| (times(&a, by), u, w)),
            },
        }
    }

    fn plus(&self, other: &Value) -> Option<Value> {
        let (
            Value::Terms {
                diag: d1,
                outer: o1,
            },
            Value::Terms {
                diag: d2,
                outer: o2,
            },
        ) = (self, other)
        else {
            return None;
        };
        if (d1.is_some() && d2.is_some()) || (o1.is_some() && o2.is_some()) {
            return None;
        }
        Some(Value::Terms {
            diag: d1.clone().or_else(|| d2.clone()),
            outer: o1.clone().or_else(|| o2.clone()),
        })
    }
}

fn clone_value(v: &Value) -> Value {
    match v {
        Value::Scale(a) => Value::Scale(a.clone()),
        Value::Terms { diag, outer } => Value::Terms {
            diag: diag.clone(),
            outer: outer.clone(),
        },
    }
}

/// A square kernel that computes `a*diag(d) + b*u*w'` from diagonal, identity, outer-product
/// and scalar leaves, constants, negations, sums, differences and products by scale factors.
fn diag_outer<T: Scalar>(kernel: &Kernel<T>) -> Option<FusedOp> {
    if kernel.sink != Sink::Buffer || kernel.rows != kernel.cols {
        return None;
    }
    let minus = Alpha {
        c: -1.0,
        scalars: Vec::new(),
    };
    let mut regs: Vec<Value> = Vec::with_capacity(kernel.ops.len());
    for op in &kernel.ops {
        let value = match op {
            KOp::Load(leaf) => match leaf.kind {
                LeafKind::DiagMat(s) => Value::Terms {
                    diag: Some((Alpha::one(), Some(s))),
                    outer: None,
                },
                LeafKind::Identity => Value::Terms {
                    diag: Some((Alpha::one(), None)),
                    outer: None,
                },
                LeafKind::Outer(u, w) => {
                    let (u, w) = if leaf.t { (w, u) } else { (u, w) };
                    Value::Terms {
                        diag: None,
                        outer: Some((Alpha::one(), u, w)),
                    }
                }
                LeafKind::Scalar(s) => Value::Scale(Alpha {
                    c: 1.0,
                    scalars: vec![Opnd { src: s, t: false }],
                }),
                _ => return None,
            },
            KOp::Const(c) if c.im() == 0.0 => Value::Scale(Alpha {
                c: c.re(),
                scalars: Vec::new(),
            }),
            KOp::Neg(i) => clone_value(&regs[*i]).scaled(&minus),
            KOp::Add(i, j) => regs[*i].plus(&regs[*j])?,
            KOp::Sub(i, j) => regs[*i].plus(&clone_value(&regs[*j]).scaled(&minus))?,
            KOp::Mul(i, j) => match (&regs[*i], &regs[*j]) {
                (Value::Scale(a), v) | (v, Value::Scale(a)) => clone_value(v).scaled(a),
                _ => return None,
            },
            _ => return None,
        };
        regs.push(value);
    }
    match regs.pop()? {
        Value::Terms {
            diag: Some((a, d)),
            outer: Some((b, u, w)),
        } => Some(FusedOp::DiagOuter {
            n: kernel.rows,
            d,
            a,
            u,
            w,
            b,
        }),
        _ => None,
    }
}
