//! The Kronecker algebra that tidies a vec form (rule V5): products of factors, the
//! commutation matrix moved to the right, like terms collected, scalars pulled out.

use matdiff_expr::{Dim, ExprId, ExprPool, Node};

use super::{VecFactor, VecTerm};
use crate::second_order::SecondOrderError;
use crate::simplify::Simplifier;

/// The transpose of a factor: `(A ⊗ B)' = A' ⊗ B'`, `commutation(m, n)' = commutation(n, m)`.
pub(super) fn transpose_factor(
    s: &mut Simplifier,
    f: &VecFactor,
) -> Result<VecFactor, SecondOrderError> {
    Ok(match f {
        VecFactor::Kron { left, right } => VecFactor::Kron {
            left: s.transpose(*left)?,
            right: s.transpose(*right)?,
        },
        VecFactor::DiagVec(p) => VecFactor::DiagVec(*p),
        VecFactor::Outer { col, row } => VecFactor::Outer {
            col: *row,
            row: *col,
        },
        VecFactor::Commutation { rows, cols } => VecFactor::Commutation {
            rows: *cols,
            cols: *rows,
        },
    })
}

/// `I`, or the number 1 (the identity of size 1).
fn is_identity(pool: &ExprPool, id: ExprId) -> bool {
    match pool.node(id) {
        Node::Identity(_) => true,
        Node::Num(c) => c.get() == 1.0,
        _ => false,
    }
}

/// An identity: `I ⊗ I` (`1 ⊗ I` among them) or the commutation matrix of a vector.
fn is_identity_factor(pool: &ExprPool, f: &VecFactor) -> bool {
    match f {
        VecFactor::Kron { left, right } => is_identity(pool, *left) && is_identity(pool, *right),
        VecFactor::Commutation { rows, cols } => *rows == Dim::ONE || *cols == Dim::ONE,
        _ => false,
    }
}

/// The identity of `vec` of a `rows` x `cols` matrix, as one factor `1 ⊗ I`.
fn identity_factor(
    s: &mut Simplifier,
    rows: Dim,
    cols: Dim,
) -> Result<VecFactor, SecondOrderError> {
    let size = s.pool.dim_product(rows, cols);
    Ok(VecFactor::Kron {
        left: s.pool.num(1.0),
        right: s.pool.intern(Node::Identity(size))?,
    })
}

/// The factors tidied (rule V5): commutation matrices moved to the right and cancelled in
/// pairs, adjacent Kronecker products multiplied, adjacent `diag(vec(.))` multiplied,
/// identities (`I ⊗ I`, the commutation matrix of a vector) dropped beside another factor.
pub(super) fn normalise(
    s: &mut Simplifier,
    mut fs: Vec<VecFactor>,
) -> Result<Vec<VecFactor>, SecondOrderError> {
    loop {
        let mut changed = false;
        let mut i = 0;
        while i + 1 < fs.len() {
            let next = match (&fs[i], &fs[i + 1]) {
                (VecFactor::Commutation { .. }, VecFactor::Kron { left, right }) => {
                    // K*(L ⊗ R) = (R ⊗ L)*K, K now of the shape R's columns by L's columns.
                    let rows = s.pool.shape(*right).cols;
                    let cols = s.pool.shape(*left).cols;
                    Some(vec![
                        VecFactor::Kron {
                            left: *right,
                            right: *left,
                        },
                        VecFactor::Commutation { rows, cols },
                    ])
                }
                (VecFactor::Commutation { rows, cols }, VecFactor::DiagVec(p)) => {
                    // K*diag(vec(P)) = diag(vec(P'))*K for P of K's shape: K still transposes
                    // a matrix of P's shape, so it keeps its sizes.
                    let (rows, cols) = (*rows, *cols);
                    Some(vec![
                        VecFactor::DiagVec(s.transpose(*p)?),
                        VecFactor::Commutation { rows, cols },
                    ])
                }
                (
                    VecFactor::Commutation { rows: r1, cols: c1 },
                    VecFactor::Commutation { rows: r2, cols: c2 },
                ) if r1 == c2 && c1 == r2 => {
                    // K*K' is the identity: nothing beside another factor, else one factor.
                    let (rows, cols) = (*r1, *c1);
                    match fs.len() {
                        2 => Some(vec![identity_factor(s, rows, cols)?]),
                        _ => Some(Vec::new()),
                    }
                }
                (
                    VecFactor::Kron {
                        left: l1,
                        right: r1,
                    },
                    VecFactor::Kron {
                        left: l2,
                        right: r2,
                    },
                ) => {
                    let (l1, r1, l2, r2) = (*l1, *r1, *l2, *r2);
                    Some(vec![VecFactor::Kron {
                        left: s.mul(&[l1, l2])?,
                        right: s.mul(&[r1, r2])?,
                    }])
                }
                (VecFactor::DiagVec(p), VecFactor::DiagVec(q)) => {
                    let (p, q) = (*p, *q);
                    Some(vec![VecFactor::DiagVec(s.hadamard(&[p, q], &[])?)])
                }
                (f, VecFactor::Outer { col, row }) if !matches!(f, VecFactor::Outer { .. }) => {
                    // (L ⊗ R)*vec(P) = vec(R*P*L'), diag(vec(D))*vec(P) = vec(D .* P),
                    // commutation*vec(P) = vec(P').
                    let (col, row) = (*col, *row);
                    let col = match f {
                        VecFactor::Kron { left, right } => {
                            let lt = s.transpose(*left)?;
                            s.mul(&[*right, col, lt])?
                        }
                        VecFactor::DiagVec(d) => s.hadamard(&[*d, col], &[])?,
                        _ => s.transpose(col)?,
                    };
                    Some(vec![VecFactor::Outer { col, row }])
                }
                (VecFactor::Outer { col, row }, f) if !matches!(f, VecFactor::Outer { .. }) => {
                    // vec(Q)'*(L ⊗ R) = vec(R'*Q*L)', vec(Q)'*diag(vec(D)) = vec(D .* Q)',
                    // vec(Q)'*commutation = vec(Q')'.
                    let (col, row) = (*col, *row);
                    let row = match f {
                        VecFactor::Kron { left, right } => {
                            let rt = s.transpose(*right)?;
                            s.mul(&[rt, row, *left])?
                        }
                        VecFactor::DiagVec(d) => s.hadamard(&[*d, row], &[])?,
                        _ => s.transpose(row)?,
                    };
                    Some(vec![VecFactor::Outer { col, row }])
                }
                _ => None,
            };
            if let Some(replacement) = next {
                fs.splice(i..i + 2, replacement);
                changed = true;
            } else {
                i += 1;
            }
        }
        if fs.len() > 1 {
            // Identities dropped, one kept if there is nothing else (each is the product).
            let before = fs.len();
            let first = fs[0].clone();
            fs.retain(|f| !is_identity_factor(s.pool, f));
            if fs.is_empty() {
                fs.push(first);
            }
            changed |= fs.len() != before;
        }
        if !changed {
            break;
        }
    }
    Ok(fs)
}

/// Like terms collected: equal factors add their scales; terms that differ in one factor only
/// add it there: Kronecker products with an equal side add the other side (`I ⊗ A + I ⊗ A'` is
/// `I ⊗ (A + A')`), `diag(vec(.))` factors add, outer products with an equal row add columns.
pub(super) fn merge(
    s: &mut Simplifier,
    terms: Vec<VecTerm>,
) -> Result<Vec<VecTerm>, SecondOrderError> {
    let mut out: Vec<VecTerm> = Vec::new();
    for t in terms {
        if let Some(u) = out.iter_mut().find(|u| u.factors == t.factors) {
            u.scale = s.add(&[u.scale, t.scale])?;
        } else {
            out.push(t);
        }
    }
    let one = s.pool.num(1.0);
    loop {
        let mut merged = None;
        'search: for i in 0..out.len() {
            for j in i + 1..out.len() {
                if let Some(t) = merge_pair(s, &out[i], &out[j], one)? {
                    merged = Some((i, j, t));
                    break 'search;
                }
            }
        }
        let Some((i, j, t)) = merged else { break };
        out.remove(j);
        out[i] = t;
    }
    let mut kept = Vec::new();
    for t in out {
        let mut scale = t.scale;
        let mut factors = Vec::new();
        let alone = t.factors.len() == 1;
        for f in t.factors {
            let (c, f) = pull_scalars(s, f)?;
            scale = s.mul(&[scale, c])?;
            match one_identity(s, &f)? {
                // Beside another factor an identity is dropped (its scalars are in `scale`).
                Some(_) if !alone => {}
                Some(identity) => factors.push(identity),
                None => factors.push(present(s, f)?),
            }
        }
        let scale = s.simplify(scale)?;
        if !s.is_zero(scale) {
            kept.push(VecTerm { scale, factors });
        }
    }
    Ok(kept)
}

fn merge_pair(
    s: &mut Simplifier,
    a: &VecTerm,
    b: &VecTerm,
    one: ExprId,
) -> Result<Option<VecTerm>, SecondOrderError> {
    // The one position where the factors differ (scales commute, so they go there).
    let n = a.factors.len();
    if b.factors.len() != n {
        return Ok(None);
    }
    let differing: Vec<usize> = (0..n).filter(|&i| a.factors[i] != b.factors[i]).collect();
    let [k] = differing[..] else {
        return Ok(None);
    };
    let scaled = |s: &mut Simplifier, c: ExprId, x: ExprId| -> Result<ExprId, SecondOrderError> {
        Ok(if c == one { x } else { s.mul(&[c, x])? })
    };
    let merged = match (&a.factors[k], &b.factors[k]) {
        (
            VecFactor::Kron {
                left: l1,
                right: r1,
            },
            VecFactor::Kron {
                left: l2,
                right: r2,
            },
        ) if l1 == l2 => {
            let x = scaled(s, a.scale, *r1)?;
            let y = scaled(s, b.scale, *r2)?;
            VecFactor::Kron {
                left: *l1,
                right: s.add(&[x, y])?,
            }
        }
        (
            VecFactor::Kron {
                left: l1,
                right: r1,
            },
            VecFactor::Kron {
                left: l2,
                right: r2,
            },
        ) if r1 == r2 => {
            let x = scaled(s, a.scale, *l1)?;
            let y = scaled(s, b.scale, *l2)?;
            VecFactor::Kron {
                left: s.add(&[x, y])?,
                right: *r1,
            }
        }
        (VecFactor::DiagVec(p), VecFactor::DiagVec(q)) => {
            let x = scaled(s, a.scale, *p)?;
            let y = scaled(s, b.scale, *q)?;
            VecFactor::DiagVec(s.add(&[x, y])?)
        }
        (VecFactor::Outer { col: c1, row: r1 }, VecFactor::Outer { col: c2, row: r2 })
            if r1 == r2 =>
        {
            let x = scaled(s, a.scale, *c1)?;
            let y = scaled(s, b.scale, *c2)?;
            VecFactor::Outer {
                col: s.add(&[x, y])?,
                row: *r1,
            }
        }
        _ => return Ok(None),
    };
    let mut factors = a.factors.clone();
    factors[k] = merged;
    Ok(Some(VecTerm {
        scale: one,
        factors,
    }))
}

/// The scalar factors of a matrix `c*M` (or `-M`), and `M`.
fn split_scalars(s: &mut Simplifier, id: ExprId) -> Result<(ExprId, ExprId), SecondOrderError> {
    match s.pool.node(id).clone() {
        Node::Neg(a) if !s.pool.shape(a).is_scalar() => {
            let (c, m) = split_scalars(s, a)?;
            Ok((s.neg(c)?, m))
        }
        Node::Mul(xs) => {
            let (scalars, matrices): (Vec<ExprId>, Vec<ExprId>) =
                xs.iter().partition(|&&x| s.pool.shape(x).is_scalar());
            if scalars.is_empty() || matrices.is_empty() {
                return Ok((s.pool.num(1.0), id));
            }
            Ok((s.mul(&scalars)?, s.mul(&matrices)?))
        }
        _ => Ok((s.pool.num(1.0), id)),
    }
}

/// An identity factor (`I ⊗ I`, the commutation matrix of a vector) as the one identity it
/// is, of the size of `vec` of its input: `1 ⊗ I`, printed `I` or `eye(rows(X)*cols(X))` where
/// the size must be named. `None` for any other factor.
fn one_identity(s: &mut Simplifier, f: &VecFactor) -> Result<Option<VecFactor>, SecondOrderError> {
    if !is_identity_factor(s.pool, f) {
        return Ok(None);
    }
    let (input, _) = super::factor_shapes(s.pool, f);
    Ok(Some(identity_factor(s, input.rows, input.cols)?))
}

/// The scalars of a factor's matrices pulled out: `A ⊗ c*B` is `c*(A ⊗ B)`,
/// `vec(c*P)*vec(Q)'` is `c*vec(P)*vec(Q)'`.
fn pull_scalars(s: &mut Simplifier, f: VecFactor) -> Result<(ExprId, VecFactor), SecondOrderError> {
    Ok(match f {
        VecFactor::Kron { left, right } => {
            let (a, left) = split_scalars(s, left)?;
            let (b, right) = split_scalars(s, right)?;
            (s.mul(&[a, b])?, VecFactor::Kron { left, right })
        }
        VecFactor::DiagVec(p) => {
            let (a, p) = split_scalars(s, p)?;
            (a, VecFactor::DiagVec(p))
        }
        VecFactor::Outer { col, row } => {
            let (a, col) = split_scalars(s, col)?;
            let (b, row) = split_scalars(s, row)?;
            (s.mul(&[a, b])?, VecFactor::Outer { col, row })
        }
        other => (s.pool.num(1.0), other),
    })
}

/// The factor with its matrices in the presentation form (transposes where they are fewest,
/// `A + A'` in the literature's order).
fn present(s: &mut Simplifier, f: VecFactor) -> Result<VecFactor, SecondOrderError> {
    let tidy = |s: &mut Simplifier, x: ExprId| -> Result<ExprId, SecondOrderError> {
        let x = s.present(x)?;
        Ok(crate::literature_form(s.pool, x)?)
    };
    Ok(match f {
        VecFactor::Kron { left, right } => VecFactor::Kron {
            left: tidy(s, left)?,
            right: tidy(s, right)?,
        },
        VecFactor::DiagVec(p) => VecFactor::DiagVec(tidy(s, p)?),
        VecFactor::Outer { col, row } => VecFactor::Outer {
            col: tidy(s, col)?,
            row: tidy(s, row)?,
        },
        other => other,
    })
}
