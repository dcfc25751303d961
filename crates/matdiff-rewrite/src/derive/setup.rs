//! Setting up the engine: the variable, the upstream function, the named subexpressions.

use std::borrow::Cow;

use matdiff_expr::{Expr, ExprId, ExprPool, Node, Reduce, Shape, Symbol};
use matdiff_expr::{FxHashMap as HashMap, FxHashSet as HashSet};
use smallvec::{smallvec, SmallVec};

use crate::error::DeriveError;
use crate::simplify::Simplifier;

use super::{Aux, Boundary, Derivatives, Engine};

/// The engine for differentiating `root` with respect to `wrt`: the differential variable, the
/// named subexpressions it goes through (bindings, and shared nodes named `T_1`, `T_2`, ...).
pub(crate) fn setup<'p>(
    pool: &'p mut ExprPool,
    root: ExprId,
    expr: &Expr,
    bindings: &mut Vec<(String, ExprId)>,
    wrt: &str,
    functions: &'p Derivatives,
) -> Result<(Engine<'p>, bool, Symbol), DeriveError> {
    let wrt_node = wrt_variable(pool, expr, root, wrt)?;
    setup_at(pool, root, wrt_node, bindings, wrt, functions)
}

/// [`setup`] with the variable's node, found by [`wrt_variable`].
pub(super) fn setup_at<'p>(
    pool: &'p mut ExprPool,
    root: ExprId,
    wrt_node: ExprId,
    bindings: &mut Vec<(String, ExprId)>,
    wrt: &str,
    functions: &'p Derivatives,
) -> Result<(Engine<'p>, bool, Symbol), DeriveError> {
    let wrt_sym = match pool.node(wrt_node) {
        Node::Var(s) => *s,
        _ => unreachable!("wrt_variable returns a variable"),
    };
    let info = pool.var_info(wrt_sym).expect("a declared variable");
    let differential = declare_differential(pool, wrt, info.shape)?;
    let mut aux = vec![(differential, Aux::Differential)];
    let dx = pool.intern(Node::Var(differential))?;

    // Which nodes depend on the variable, and which are shared (used twice or more).
    let n = root.index() + 1;
    let mut depends = vec![false; n];
    let mut usage: SmallVec<[Usage; 32]> = smallvec![Usage::default(); n];
    usage[root.index()].reachable = true;
    for id in pool.ids().take(n).rev() {
        if !usage[id.index()].reachable {
            continue;
        }
        for &c in pool.node(id).children() {
            usage[c.index()].reachable = true;
            usage[c.index()].uses += 1;
        }
    }
    for id in pool.ids().take(n) {
        let i = id.index();
        depends[i] = id == wrt_node || pool.node(id).children().iter().any(|c| depends[c.index()]);
    }
    // The named subexpressions the derivation goes through: the bindings, and every other shared
    // node that depends on the variable (so the cost stays linear in the DAG).
    let mut boundary_ids: Vec<(ExprId, String)> = Vec::new();
    for (name, id) in bindings.iter() {
        if depends.get(id.index()).copied().unwrap_or(false)
            && !matches!(pool.node(*id), Node::Var(_))
        {
            boundary_ids.push((*id, name.clone()));
        }
    }
    // The argument of max or min is named too: its gradient compares max(Y) with Y entry by
    // entry, which must see the very same values (Y rewritten into another form would round
    // differently and miss the extreme entry).
    for id in pool.ids().take(n) {
        if let Node::Reduce(Reduce::Max | Reduce::Min, a) = pool.node(id) {
            usage[a.index()].extreme_arg = usage[id.index()].reachable;
        }
    }
    let mut auto = 0;
    for id in pool.ids().take(n) {
        let i = id.index();
        let trivial = match pool.node(id) {
            Node::Var(_) | Node::Num(_) => true,
            Node::Transpose(a) | Node::Neg(a) => matches!(pool.node(*a), Node::Var(_)),
            _ => false,
        };
        let Usage {
            uses,
            reachable,
            extreme_arg,
        } = usage[i];
        if reachable
            && depends[i]
            && (uses >= 2 || extreme_arg)
            && !trivial
            && !boundary_ids.iter().any(|b| b.0 == id)
        {
            auto += 1;
            // `T_1`, `T_2`, ...: no rule id has an underscore, and a variable of the user's
            // of that name (whatever its shape) keeps it.
            let taken = |n: &str| {
                pool.find_symbol(n)
                    .is_some_and(|s| pool.var_info(s).is_some())
            };
            let name = (0..)
                .map(|i| match i {
                    0 => format!("T_{auto}"),
                    i => format!("T_{auto}_{i}"),
                })
                .find(|n| !taken(n))
                .expect("a free name");
            boundary_ids.push((id, name.clone()));
            bindings.push((name, id));
        }
    }
    let mut boundaries = HashMap::default();
    for (id, name) in &boundary_ids {
        let sym = declare_differential(pool, name, pool.shape(*id))?;
        aux.push((sym, Aux::Differential));
        let dvar = pool.intern(Node::Var(sym))?;
        boundaries.insert(
            *id,
            Boundary {
                name: name.clone(),
                dvar,
            },
        );
    }
    let dvars: HashSet<ExprId> = boundaries.values().map(|b| b.dvar).chain([dx]).collect();
    // The differential variables mention a differential: `Engine::has_d` starts from them.
    let mut has_d = crate::simplify::id_memo::IdMemo::new();
    for &v in &dvars {
        has_d.insert(v, true);
    }
    let mut s = Simplifier::new(pool);
    s.set_opaque(boundary_ids.iter().map(|b| b.0));
    let engine = Engine {
        s,
        wrt_node,
        dx,
        depends,
        boundaries,
        dmemo: HashMap::default(),
        stage: root,
        line_rules: Vec::new(),
        functions,
        dvars,
        has_d,
        steps: Some(Vec::new()),
        aux,
    };
    Ok((engine, info.symmetric, differential))
}

/// How the function uses a node (see [`setup_at`]).
#[derive(Copy, Clone, Default)]
struct Usage {
    /// The number of its parents reachable from the function.
    uses: u32,
    /// Whether the function reaches it.
    reachable: bool,
    /// Whether it is the argument of a `max` or `min` the function reaches.
    extreme_arg: bool,
}

/// `tr(G'*EXPR)` with `G` declared with the shape of EXPR.
pub(super) fn upstream_function(
    pool: &mut ExprPool,
    root: ExprId,
    name: &str,
) -> Result<ExprId, DeriveError> {
    let shape = pool.shape(root);
    if let Some(info) = pool.find_symbol(name).and_then(|s| pool.var_info(s)) {
        if info.shape != shape {
            return Err(DeriveError::UpstreamTaken {
                name: name.into(),
                shape: pool.shape_str(info.shape),
            });
        }
    }
    let g = pool.declare_var(name, shape, false)?;
    let g = pool.intern(Node::Var(g))?;
    let gt = pool.intern(Node::Transpose(g))?;
    let p = pool.intern(Node::Mul([gt, root].into()))?;
    Ok(pool.intern(Node::Reduce(Reduce::Trace, p))?)
}

/// The variable node of `wrt`, checked to occur under `root`.
pub(super) fn wrt_variable(
    pool: &ExprPool,
    expr: &Expr,
    root: ExprId,
    wrt: &str,
) -> Result<ExprId, DeriveError> {
    let not_var = |hint: &str| DeriveError::NotAVariable {
        name: wrt.to_string(),
        hint: hint.to_string(),
    };
    if expr.bindings.iter().any(|b| b.0 == wrt) {
        return Err(not_var(
            ": it is a 'where' binding; differentiate with respect to a variable",
        ));
    }
    let Some(sym) = pool.find_symbol(wrt) else {
        return Err(not_var(""));
    };
    if pool.is_function(sym) {
        return Err(not_var(": it is a function"));
    }
    if pool.var_info(sym).is_none() {
        return Err(not_var(""));
    }
    let not_in = || DeriveError::NotInExpression {
        name: wrt.to_string(),
    };
    // The variable's node, if the pool has it, and whether the root reaches it: children have
    // smaller ids than their parents, so one pass down from the root over the ids between.
    let node = pool.find(&Node::Var(sym)).ok_or_else(not_in)?;
    if node > root {
        return Err(not_in());
    }
    let between = pool
        .ids()
        .skip(node.index())
        .take(root.index() - node.index() + 1);
    let mut reached: SmallVec<[bool; 64]> = smallvec![false; between.len()];
    reached[between.len() - 1] = true;
    for (k, id) in between.enumerate().rev() {
        if reached[k] {
            if id == node {
                return Ok(node);
            }
            for c in pool.node(id).children() {
                if *c >= node {
                    reached[c.index() - node.index()] = true;
                }
            }
        }
    }
    Err(not_in())
}

/// Declares the rewriter's own variable `name` (a differential), marked internal when it is new
/// (a variable of the user's of that name and shape stays the user's).
pub(super) fn declare_internal(
    pool: &mut ExprPool,
    name: &str,
    shape: Shape,
) -> Result<Symbol, DeriveError> {
    let new = pool
        .find_symbol(name)
        .and_then(|s| pool.var_info(s))
        .is_none();
    let symbol = pool.declare_var(name, shape, false)?;
    if new {
        pool.mark_internal(symbol);
    }
    Ok(symbol)
}

/// `base`, or `base_1`, `base_2`, ... : a name that is free or already a variable of `shape`.
/// Declares the differential `dY` of the name `Y` (`dY_1` when `dY` is taken).
pub(super) fn declare_differential(
    pool: &mut ExprPool,
    name: &str,
    shape: Shape,
) -> Result<Symbol, DeriveError> {
    let base = format!("{}{name}", Aux::Differential.prefix());
    let full = fresh_name(pool, &base, shape);
    declare_internal(pool, &full, shape)
}

pub(super) fn fresh_name<'b>(pool: &ExprPool, base: &'b str, shape: Shape) -> Cow<'b, str> {
    let free = |n: &str| match pool.find_symbol(n) {
        None => true,
        Some(s) => !pool.is_function(s) && pool.var_info(s).is_none_or(|i| i.shape == shape),
    };
    if free(base) {
        return base.into();
    }
    (1..)
        .map(|i| format!("{base}_{i}"))
        .find(|n| free(n))
        .expect("endless names")
        .into()
}
