//! Stationary points: when the gradient is affine in the variable, `G = A*w - c`, the equation
//! `∂f/∂w = 0` is `A*w = c` and its solution `w = inv(A)*c` (seed 2.5.5, the normal equation).

use matdiff_expr::{Expr, ExprId, ExprPool, Node};

use crate::derive::{setup, substitute, Derivation, Derivatives};
use crate::error::DeriveError;

/// The stationary equation `A*w = c` of an affine gradient, and its solution.
#[derive(Clone, Debug)]
pub struct Stationary {
    /// `A`, acting on the variable from the left.
    pub matrix: ExprId,
    /// `c`.
    pub rhs: ExprId,
    /// `A*w`, the left-hand side as printed.
    pub lhs: ExprId,
    /// `inv(A)*c` (`c*inv(A)` when `A` acts from the right, `c/A` for a scalar).
    pub solution: ExprId,
    /// Whether `A` acts from the left (`A*w = c`) or from the right (`w*A = c`).
    pub left: bool,
}

/// `id / k`, with sums divided term by term.
fn divide(s: &mut crate::Simplifier<'_>, id: ExprId, k: f64) -> Result<ExprId, DeriveError> {
    if let Node::Add(ts) = s.pool.node(id).clone() {
        let parts = ts
            .iter()
            .map(|&t| s.scale(1.0 / k, t))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(s.add(&parts)?);
    }
    Ok(s.scale(1.0 / k, id)?)
}

/// The stationary point of `expr` in the variable of `derivation` (its gradient must be affine
/// in the variable, `A*w - c` with `A` acting from the left).
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_rewrite::{derive, stationary, DeriveOptions};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("norm2(X*w - y)^2 + lambda*norm2(w)^2").unwrap();
/// let d = derive(&mut pool, &e, "w", &DeriveOptions::default()).unwrap();
/// let s = stationary(&mut pool, &e, &d).unwrap();
/// assert_eq!(pool.plain(s.lhs), "(X'*X + lambda*I)*w");
/// assert_eq!(pool.plain(s.rhs), "X'*y");
/// assert_eq!(pool.plain(s.solution), "inv(X'*X + lambda*I)*X'*y");
/// ```
pub fn stationary(
    pool: &mut ExprPool,
    expr: &Expr,
    derivation: &Derivation,
) -> Result<Stationary, DeriveError> {
    let g = derivation.gradient;
    let wrt = derivation.wrt.as_str();
    let w = pool.var(wrt)?;
    let not_affine = |why: &'static str| DeriveError::NotAffine {
        wrt: wrt.to_string(),
        why,
    };
    // The user's names only: the derivation's own names (T1, ...) would hide the variable.
    let mut bindings = expr.bindings.clone();
    let functions = Derivatives::new();
    let scratch = Expr {
        root: g,
        bindings: expr.bindings.clone(),
    };
    let (matrix, rhs, left) = {
        let (mut engine, _, _) = setup(pool, g, &scratch, &mut bindings, wrt, &functions).map_err(|e| match e {
            DeriveError::NotInExpression { .. } => not_affine("the gradient does not depend on it: the function is linear, with no stationary point"),
            other => other,
        })?;
        let Some(linear) = engine.d(g)? else {
            return Err(not_affine("the gradient does not depend on it"));
        };
        // Affine: the differential of the gradient must not depend on the variable.
        if mentions(engine.s.pool, linear, w, engine.dx) || engine.mentions_names(linear) {
            return Err(not_affine(
                "the gradient is not affine in it (no closed form)",
            ));
        }
        let linear = engine.s.canon(linear)?;
        let dx = engine.dx;
        let (a, left) = match operator(&mut engine.s, linear, dx, true)? {
            Some(a) => (a, true),
            None => match operator(&mut engine.s, linear, dx, false)? {
                Some(a) => (a, false),
                None => {
                    return Err(not_affine(
                        "the gradient is not of the form A*w - c or w*A - c",
                    ))
                }
            },
        };
        // c = -G(0).
        let shape = engine.s.pool.shape(w);
        let zero = engine.s.zero(shape)?;
        let mut map = std::collections::HashMap::new();
        map.insert(w, zero);
        let at_zero = substitute(engine.s.pool, g, &map)?;
        let at_zero = engine.s.canon(at_zero)?;
        let c = engine.s.neg(at_zero)?;
        // Both sides divided by a common number: 2*X'*X*w = 2*X'*y is X'*X*w = X'*y.
        let k =
            common_factor(engine.s.pool, a).filter(|&k| Some(k) == common_factor(engine.s.pool, c));
        let (a, c) = match k {
            Some(k) if k != 1.0 => (divide(&mut engine.s, a, k)?, divide(&mut engine.s, c, k)?),
            _ => (a, c),
        };
        (engine.s.present(a)?, engine.s.present(c)?, left)
    };
    let scalar = pool.shape(matrix).is_scalar();
    let lhs = if left || scalar {
        vec![matrix, w]
    } else {
        vec![w, matrix]
    };
    let lhs = pool.intern(Node::Mul(lhs.into()))?;
    let solution = if scalar {
        pool.intern(Node::Div([rhs, matrix]))?
    } else {
        let inv = pool.intern(Node::Inv(matrix))?;
        let factors = if left { vec![inv, rhs] } else { vec![rhs, inv] };
        pool.intern(Node::Mul(factors.into()))?
    };
    Ok(Stationary {
        matrix,
        rhs,
        lhs,
        solution,
        left,
    })
}

/// Whether `target` occurs under `id`, not counting occurrences under `except`.
fn mentions(pool: &ExprPool, id: ExprId, target: ExprId, except: ExprId) -> bool {
    let mut stack = vec![id];
    let mut seen = std::collections::HashSet::new();
    while let Some(x) = stack.pop() {
        if x == target {
            return true;
        }
        if x != except && seen.insert(x) {
            stack.extend_from_slice(pool.node(x).children());
        }
    }
    false
}

/// `A` with `e = A*dx` (`left`) or `e = dx*A`, for `e` canonical and linear in `dx`; `None` when
/// `dx` is not acted on from that side only.
fn operator(
    s: &mut crate::Simplifier<'_>,
    e: ExprId,
    dx: ExprId,
    left: bool,
) -> Result<Option<ExprId>, DeriveError> {
    if e == dx {
        let shape = s.pool.shape(dx);
        let n = if left { shape.rows } else { shape.cols };
        return Ok(Some(if s.pool.shape(dx).is_scalar() {
            s.pool.num(1.0)
        } else {
            s.pool.intern(Node::Identity(n))?
        }));
    }
    let contains = |s: &crate::Simplifier<'_>, x: ExprId| {
        let mut stack = vec![x];
        while let Some(y) = stack.pop() {
            if y == dx {
                return true;
            }
            stack.extend_from_slice(s.pool.node(y).children());
        }
        false
    };
    match s.pool.node(e).clone() {
        Node::Add(ts) => {
            let mut parts = Vec::new();
            for &t in ts.iter() {
                match operator(s, t, dx, left)? {
                    Some(a) => parts.push(a),
                    None => return Ok(None),
                }
            }
            Ok(Some(s.add(&parts)?))
        }
        Node::Neg(t) => match operator(s, t, dx, left)? {
            Some(a) => Ok(Some(s.neg(a)?)),
            None => Ok(None),
        },
        Node::Mul(fs) => {
            let Some(i) = fs.iter().position(|&f| contains(s, f)) else {
                return Ok(None);
            };
            // Acting from the left, only scalars may follow the differential; from the right, only
            // scalars may precede it.
            let others = if left { &fs[i + 1..] } else { &fs[..i] };
            if !others.iter().all(|&f| s.pool.shape(f).is_scalar()) {
                return Ok(None);
            }
            let Some(inner) = operator(s, fs[i], dx, left)? else {
                return Ok(None);
            };
            let mut factors: Vec<ExprId> = others.to_vec();
            if left {
                factors.extend_from_slice(&fs[..i]);
                factors.push(inner);
            } else {
                factors.push(inner);
                factors.extend_from_slice(&fs[i + 1..]);
            }
            Ok(Some(s.mul(&factors)?))
        }
        Node::Div([a, k]) => match operator(s, a, dx, left)? {
            Some(op) => {
                let q = s.pool.intern(Node::Div([op, k]))?;
                Ok(Some(s.canon(q)?))
            }
            None => Ok(None),
        },
        Node::Hadamard(fs) if left && s.pool.shape(dx).cols == matdiff_expr::Dim::ONE => {
            // v .* dx is diag(v)*dx for vectors.
            let Some(i) = fs.iter().position(|&f| contains(s, f)) else {
                return Ok(None);
            };
            let others: Vec<ExprId> = fs
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &f)| f)
                .collect();
            let v = s.hadamard(&others, &[])?;
            let Some(inner) = operator(s, fs[i], dx, left)? else {
                return Ok(None);
            };
            let d = s.pool.intern(Node::Diag(v))?;
            Ok(Some(s.mul(&[d, inner])?))
        }
        _ => Ok(None),
    }
}

/// The number every term of a canonical expression is a multiple of (`2` in `2*A + 2*B`).
fn common_factor(pool: &ExprPool, id: ExprId) -> Option<f64> {
    match pool.node(id) {
        Node::Num(n) => Some(n.get().abs()),
        Node::Neg(x) => common_factor(pool, *x),
        Node::Mul(xs) => match pool.node(xs[0]) {
            Node::Num(n) => Some(n.get().abs()),
            _ => Some(1.0),
        },
        Node::Div([a, _]) => common_factor(pool, *a),
        Node::Add(xs) => {
            let first = common_factor(pool, xs[0])?;
            xs.iter()
                .all(|&x| common_factor(pool, x) == Some(first))
                .then_some(first)
        }
        _ => Some(1.0),
    }
}
