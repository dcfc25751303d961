//! Hessians and Jacobians with respect to a variable that does not occur: the zero matrix of
//! their shape, as the gradient is (rule D9); `first.absent` of the result says so.

use matdiff_expr::{Dim, Expr, ExprPool, Node, Shape};

use crate::derive::{derive, DeriveOptions, Step, StepKind, StepLhs};
use crate::rules::RuleId;
use crate::second_order::{fresh_name, SecondKind, SecondOrder, SecondOrderError};
use crate::simplify::Simplifier;

/// Whether `wrt` is a variable that occurs in `expr` (or a name the pool does not know).
fn occurs(pool: &ExprPool, expr: &Expr, wrt: &str) -> bool {
    let Some(symbol) = pool.find_symbol(wrt) else {
        return false;
    };
    let var = Node::Var(symbol);
    let mut seen = vec![false; expr.root.index() + 1];
    let mut stack = vec![expr.root];
    while let Some(id) = stack.pop() {
        if pool.node(id) == &var {
            return true;
        }
        if !std::mem::replace(&mut seen[id.index()], true) {
            stack.extend_from_slice(pool.node(id).children());
        }
    }
    false
}

/// The Hessian (of a scalar `expr`) or Jacobian (of a column `expr`) with respect to the vector
/// `wrt` when `wrt` does not occur in `expr`: zero, `rows(x) x rows(x)` or `rows(F) x rows(x)`.
/// `None` when it occurs. The first derivation is the gradient's (`absent`), which declares
/// a name the pool has not seen with the default shape of its name.
pub(crate) fn zero_second_order(
    pool: &mut ExprPool,
    expr: &Expr,
    wrt: &str,
    kind: SecondKind,
    options: &DeriveOptions,
) -> Result<Option<SecondOrder>, SecondOrderError> {
    if occurs(pool, expr, wrt) {
        return Ok(None);
    }
    let direction = fresh_name(
        pool,
        if kind == SecondKind::Jacobian {
            "u"
        } else {
            "v"
        },
    );
    let options = DeriveOptions {
        upstream: (kind == SecondKind::Jacobian).then(|| direction.clone()),
        ..options.clone()
    };
    let first = derive(pool, expr, wrt, &options)?;
    if !first.absent {
        return Ok(None);
    }
    let x = crate::second_order::variable_shape(pool, wrt)?;
    let rows = match kind {
        SecondKind::Jacobian => pool.shape(expr.root).rows,
        _ => x.rows,
    };
    if x.cols != Dim::ONE {
        return Err(SecondOrderError::NeedsKronecker {
            what: if kind == SecondKind::Jacobian {
                "Jacobian"
            } else {
                "Hessian"
            },
            wrt: wrt.to_string(),
            shape: pool.shape_str(x),
            hint: "it does not occur, so its gradient is zero (grad)",
        });
    }
    let zero = Simplifier::new(pool).zero(Shape { rows, cols: x.rows })?;
    let lhs = match kind {
        SecondKind::Jacobian => StepLhs::Jacobian(wrt.into()),
        _ => StepLhs::Hessian(wrt.into()),
    };
    Ok(Some(SecondOrder {
        kind,
        function: expr.root,
        wrt: wrt.to_string(),
        direction,
        first,
        second: None,
        result: zero,
        bindings: Vec::new(),
        readoff: Some(Step {
            kind: StepKind::Gradient,
            lhs,
            expr: zero,
            rules: vec![RuleId::D9],
            continues: false,
        }),
    }))
}
