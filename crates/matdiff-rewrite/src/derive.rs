//! The derivation engine: differential (a), trace tricks (b), core relationship (c), stage by
//! stage through the named subexpressions, as the seed's section 1.2 goes through ∂L/∂a[2],
//! ∂L/∂z[2], ∂L/∂a[1].

use std::collections::HashMap as StdHashMap;
use std::hash::BuildHasher;

use matdiff_expr::{
    Decl, DeclDim, DeclShape, Dim, Expr, ExprId, ExprPool, Node, Reduce, Shape, Symbol,
};
use matdiff_expr::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::error::DeriveError;
use crate::rules::RuleId;
use crate::simplify::Simplifier;

/// Derivatives of abstract element-wise functions, registered by name: the extension point for
/// new element-wise functions (the numeric side registers with `matdiff-faer`).
///
/// ```
/// use matdiff_expr::{Decl, ExprPool};
/// use matdiff_rewrite::{derive, DeriveOptions, Derivatives};
/// let mut functions = Derivatives::new();
/// functions.register("softsign", "1 ./ (1 + abs(x)).^2");
/// let options = DeriveOptions { functions, ..DeriveOptions::default() };
/// let mut pool = ExprPool::new();
/// let declared = Decl::parse("softsign: function").unwrap();
/// let e = pool.parse_with("sum(softsign(W*x))", &[declared]).unwrap();
/// let d = derive(&mut pool, &e, "x", &options).unwrap();
/// assert_eq!(pool.plain(d.gradient), "W'*(1 ./ (1 + abs(W*x)).^2)");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Derivatives {
    derivatives: HashMap<String, String>,
}

impl Derivatives {
    /// No registered function.
    pub fn new() -> Derivatives {
        Derivatives::default()
    }

    /// Registers the derivative of the element-wise function `name`, written in the expression
    /// language in terms of its argument `x` (element-wise: `1 ./ (1 + abs(x)).^2`).
    pub fn register(&mut self, name: &str, derivative: &str) -> &mut Derivatives {
        self.derivatives
            .insert(name.to_string(), derivative.to_string());
        self
    }

    /// The registered derivative of `name`.
    pub fn derivative(&self, name: &str) -> Option<&str> {
        self.derivatives.get(name).map(String::as_str)
    }
}

/// How to derive.
#[derive(Clone, Debug, Default)]
pub struct DeriveOptions {
    /// Differentiate a matrix-valued EXPR through the scalar `tr(G'*EXPR)`, where `G` (this name)
    /// is the gradient of a loss with respect to EXPR: backprop through one layer (seed Algorithm 1).
    pub upstream: Option<String>,
    /// Derivatives of abstract element-wise functions.
    pub functions: Derivatives,
}

/// What a step line states.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// `f = ...`: the function.
    Function,
    /// `df = ...`: a form of the differential (or of its part through one name).
    Differential,
    /// `∂f/∂Y = ...`: a gradient read off with the core relationship.
    Gradient,
}

/// One line of a derivation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What the line states.
    pub kind: StepKind,
    /// The left-hand side as printed: `f`, `df`, `df[Y]`, `∂f/∂X`.
    pub lhs: String,
    /// The right-hand side, in the derivation's pool.
    pub expr: ExprId,
    /// The ids of the rules this line used (see [`crate::RULES`]).
    pub rules: Vec<RuleId>,
    /// Whether this line equals the previous line (`   = ...`); a line that does not continue
    /// starts a new chain.
    pub continues: bool,
}

/// A derivation: the gradient and the steps that lead to it.
#[derive(Clone, Debug)]
pub struct Derivation {
    /// The scalar function (with an upstream gradient `G`: `tr(G'*EXPR)`).
    pub function: ExprId,
    /// The variable.
    pub wrt: String,
    /// The gradient, simplified, in the variables of the expression (same shape as the variable).
    pub gradient: ExprId,
    /// The names the gradient is printed with (`where` bindings): the user's, and the engine's
    /// own (`T_1`, ...) for large shared subexpressions.
    pub bindings: Vec<(String, ExprId)>,
    /// Every name the steps use: the bindings, and `T_1`, `T_2`, ... for the other shared
    /// subexpressions the derivation goes through.
    pub names: Vec<(String, ExprId)>,
    /// The steps.
    pub steps: Vec<Step>,
    /// The differential of the variable (`dX`), a variable of the pool.
    pub differential: Symbol,
    /// The auxiliary variables of the steps (`dY` for a named `Y`, `∂f/∂Y`), each with what it
    /// stands for, in an order where each refers only to earlier ones, `dX` and the inputs.
    pub definitions: Vec<(Symbol, ExprId)>,
    /// Whether the variable is symmetric and the gradient is the symmetric `(G + G')/2`.
    pub symmetric: bool,
    /// Whether the variable does not occur in the function: its gradient is zero.
    pub absent: bool,
    /// Whether the variable is diagonal and the gradient is its diagonal part `I .* G`.
    pub diagonal: bool,
    /// The triangle of a triangular variable (`lower`, `upper`): the gradient is that triangle
    /// of `G` (`tril(G)`, `triu(G)`).
    pub triangle: Option<matdiff_expr::Triangle>,
}

pub(crate) struct Boundary {
    pub(crate) name: String,
    pub(crate) dvar: ExprId,
}

/// A term `tr(U' * e)` of a differential (`U = None`: `tr(e)`), linear in one differential.
#[derive(Copy, Clone, Debug)]
struct State {
    u: Option<ExprId>,
    e: ExprId,
}

pub(crate) struct Engine<'p> {
    pub(crate) s: Simplifier<'p>,
    pub(crate) wrt_node: ExprId,
    pub(crate) dx: ExprId,
    depends: Vec<bool>,
    pub(crate) boundaries: HashMap<ExprId, Boundary>,
    pub(crate) dmemo: HashMap<ExprId, Option<ExprId>>,
    pub(crate) stage: ExprId,
    pub(crate) line_rules: Vec<RuleId>,
    pub(crate) functions: &'p Derivatives,
    dvars: HashSet<ExprId>,
    has_d: HashMap<ExprId, bool>,
    steps: Vec<Step>,
}

/// Derives the gradient of the scalar `expr` with respect to the variable `wrt`.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_rewrite::{derive, DeriveOptions};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("a'*X*b").unwrap();
/// let d = derive(&mut pool, &e, "X", &DeriveOptions::default()).unwrap();
/// assert_eq!(pool.plain(d.gradient), "a*b'");
/// ```
pub fn derive(
    pool: &mut ExprPool,
    expr: &Expr,
    wrt: &str,
    options: &DeriveOptions,
) -> Result<Derivation, DeriveError> {
    let mut bindings = expr.bindings.clone();
    let root = match &options.upstream {
        None => expr.root,
        Some(g) => upstream_function(pool, expr.root, g)?,
    };
    // The variable first: asking for a function or a binding is the clearer mistake to report.
    let absent = match wrt_variable(pool, expr, root, wrt) {
        Ok(_) => false,
        Err(DeriveError::NotInExpression { .. }) => true,
        Err(DeriveError::NotAVariable { hint, .. }) if hint.is_empty() => {
            // A name the pool has never seen: a variable of the default shape of its name.
            pool.parse(wrt).map_err(|_| DeriveError::NotAVariable {
                name: wrt.to_string(),
                hint,
            })?;
            true
        }
        Err(e) => return Err(e),
    };
    let shape = pool.shape(root);
    if !shape.is_scalar() {
        return Err(DeriveError::NotScalar {
            shape: pool.shape_str(shape),
        });
    }
    if absent {
        return absent_variable(pool, root, wrt);
    }
    let (mut engine, symmetric, differential) =
        setup(pool, root, expr, &mut bindings, wrt, &options.functions)?;
    let (gradient, definitions) = engine.run(root, wrt, symmetric)?;
    let steps = std::mem::take(&mut engine.steps);
    drop(engine);
    // Print with the names that the function and the gradient use.
    let mut seen = HashSet::default();
    let mut stack = vec![gradient, root];
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend_from_slice(pool.node(id).children());
        }
    }
    bindings.retain(|(_, id)| seen.contains(id));
    // The gradient names the user's bindings, and the engine's own names only where they stand
    // for something large.
    let names = bindings.clone();
    bindings.retain(|(name, id)| {
        expr.bindings.iter().any(|b| &b.0 == name) || tree_size(pool, *id) >= 10
    });
    Ok(Derivation {
        names,
        function: root,
        wrt: wrt.to_string(),
        gradient,
        bindings,
        steps,
        differential,
        definitions,
        symmetric,
        absent: false,
        diagonal: pool
            .find_symbol(wrt)
            .and_then(|s| pool.var_info(s))
            .is_some_and(|i| i.structure == matdiff_expr::Structure::Diagonal),
        triangle: crate::triangle::of_variable(pool, wrt),
    })
}

/// The derivation with respect to a variable that does not occur: `df = 0` (D9), so the
/// gradient is the zero of the variable's shape (C).
fn absent_variable(
    pool: &mut ExprPool,
    root: ExprId,
    wrt: &str,
) -> Result<Derivation, DeriveError> {
    let sym = pool.symbol(wrt);
    let info = pool
        .var_info(sym)
        .ok_or_else(|| DeriveError::NotAVariable {
            name: wrt.to_string(),
            hint: String::new(),
        })?;
    let dx_name = fresh_name(pool, &format!("d{wrt}"), info.shape);
    let differential = pool.declare_var(&dx_name, info.shape, false)?;
    let zero = pool.num(0.0);
    let gradient = Simplifier::new(pool).zero(info.shape)?;
    let step = |kind, lhs: &str, expr, rules: &[RuleId]| Step {
        kind,
        lhs: lhs.to_string(),
        expr,
        rules: rules.to_vec(),
        continues: false,
    };
    Ok(Derivation {
        function: root,
        wrt: wrt.to_string(),
        gradient,
        bindings: Vec::new(),
        names: Vec::new(),
        steps: vec![
            step(StepKind::Function, "f", root, &[]),
            step(StepKind::Differential, "df", zero, &[RuleId::D9]),
            step(
                StepKind::Gradient,
                &format!("∂f/∂{wrt}"),
                gradient,
                &[RuleId::C],
            ),
        ],
        differential,
        definitions: Vec::new(),
        symmetric: false,
        absent: true,
        diagonal: false,
        triangle: None,
    })
}

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
    let wrt_sym = match pool.node(wrt_node) {
        Node::Var(s) => *s,
        _ => unreachable!("wrt_variable returns a variable"),
    };
    let info = pool.var_info(wrt_sym).expect("a declared variable");
    let dx_name = fresh_name(pool, &format!("d{wrt}"), info.shape);
    let differential = pool.declare_var(&dx_name, info.shape, false)?;
    let dx = pool.intern(Node::Var(differential))?;

    // Which nodes depend on the variable, and which are shared (used twice or more).
    let mut depends = vec![false; root.index() + 1];
    let mut uses = vec![0u32; root.index() + 1];
    let mut reachable = vec![false; root.index() + 1];
    reachable[root.index()] = true;
    let ids: Vec<ExprId> = pool.ids().take(root.index() + 1).collect();
    for &id in ids.iter().rev() {
        if !reachable[id.index()] {
            continue;
        }
        for &c in pool.node(id).children() {
            reachable[c.index()] = true;
            uses[c.index()] += 1;
        }
    }
    for &id in &ids {
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
    let mut extreme_arg = vec![false; root.index() + 1];
    for &id in &ids {
        if let Node::Reduce(Reduce::Max | Reduce::Min, a) = pool.node(id) {
            extreme_arg[a.index()] = reachable[id.index()];
        }
    }
    let mut auto = 0;
    for &id in &ids {
        let i = id.index();
        let trivial = match pool.node(id) {
            Node::Var(_) | Node::Num(_) => true,
            Node::Transpose(a) | Node::Neg(a) => matches!(pool.node(*a), Node::Var(_)),
            _ => false,
        };
        if reachable[i]
            && depends[i]
            && (uses[i] >= 2 || extreme_arg[i])
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
        let dname = fresh_name(pool, &format!("d{name}"), pool.shape(*id));
        let sym = pool.declare_var(&dname, pool.shape(*id), false)?;
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
        has_d: HashMap::default(),
        steps: Vec::new(),
    };
    Ok((engine, info.symmetric, differential))
}

/// `tr(G'*EXPR)` with `G` declared with the shape of EXPR.
fn upstream_function(pool: &mut ExprPool, root: ExprId, name: &str) -> Result<ExprId, DeriveError> {
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
    let p = pool.intern(Node::Mul(vec![gt, root].into()))?;
    Ok(pool.intern(Node::Reduce(Reduce::Trace, p))?)
}

/// The variable node of `wrt`, checked to occur under `root`.
fn wrt_variable(
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
    let node = Node::Var(sym);
    let mut seen = HashSet::default();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if pool.node(id) == &node {
            return Ok(id);
        }
        if seen.insert(id) {
            stack.extend_from_slice(pool.node(id).children());
        }
    }
    Err(DeriveError::NotInExpression {
        name: wrt.to_string(),
    })
}

/// `base`, or `base_1`, `base_2`, ... : a name that is free or already a variable of `shape`.
fn fresh_name(pool: &ExprPool, base: &str, shape: Shape) -> String {
    let free = |n: &str| match pool.find_symbol(n) {
        None => true,
        Some(s) => !pool.is_function(s) && pool.var_info(s).is_none_or(|i| i.shape == shape),
    };
    if free(base) {
        return base.to_string();
    }
    (1..)
        .map(|i| format!("{base}_{i}"))
        .find(|n| free(n))
        .expect("endless names")
}

impl Engine<'_> {
    pub(crate) fn depends(&self, id: ExprId) -> bool {
        self.depends.get(id.index()).copied().unwrap_or(false)
    }

    /// Whether `id` mentions a named subexpression that depends on the variable.
    pub(crate) fn mentions_names(&self, id: ExprId) -> bool {
        let mut stack = vec![id];
        let mut seen = HashSet::default();
        while let Some(x) = stack.pop() {
            if self.boundaries.contains_key(&x) || (x != self.dx && self.dvars.contains(&x)) {
                return true;
            }
            if seen.insert(x) {
                stack.extend_from_slice(self.s.pool.node(x).children());
            }
        }
        false
    }

    fn has_d(&mut self, id: ExprId) -> bool {
        if let Some(&b) = self.has_d.get(&id) {
            return b;
        }
        let b = self.dvars.contains(&id)
            || self
                .s
                .pool
                .node(id)
                .children()
                .to_vec()
                .into_iter()
                .any(|c| self.has_d(c));
        self.has_d.insert(id, b);
        b
    }

    /// Parses a registered derivative template and substitutes the argument for `x`.
    pub(crate) fn instantiate(
        &mut self,
        name: &str,
        template: &str,
        arg: ExprId,
    ) -> Result<ExprId, DeriveError> {
        let shape = self.s.pool.shape(arg);
        let placeholder = format!("__{name}_x");
        let dim = |p: &ExprPool, d: Dim| match d {
            Dim::Known(k) => DeclDim::Known(k),
            Dim::Sym(v) => DeclDim::Named(p.dim_name(v).to_string()),
        };
        let decl = Decl {
            names: vec![(placeholder.clone(), 0..0)],
            shape: DeclShape::Matrix(
                Some(dim(self.s.pool, shape.rows)),
                Some(dim(self.s.pool, shape.cols)),
            ),
            symmetric: false,
            function: false,
            structure: matdiff_expr::Structure::General,
        };
        let text = replace_word(template, "x", &placeholder);
        let parsed =
            self.s
                .pool
                .parse_with(&text, &[decl])
                .map_err(|_| DeriveError::Unsupported {
                    expr: format!("{name}' = {template}"),
                    wrt: "x".into(),
                    why: "the registered derivative does not parse",
                })?;
        let sym = self.s.pool.symbol(&placeholder);
        let var = self.s.pool.intern(Node::Var(sym))?;
        let mut map = HashMap::default();
        map.insert(var, arg);
        Ok(substitute(self.s.pool, parsed.root, &map)?)
    }

    /// Runs every stage; returns the gradient and the definitions of the auxiliary variables.
    fn run(
        &mut self,
        root: ExprId,
        wrt: &str,
        symmetric: bool,
    ) -> Result<(ExprId, Vec<(Symbol, ExprId)>), DeriveError> {
        let mut order: Vec<ExprId> = self
            .boundaries
            .keys()
            .copied()
            .filter(|&b| b != root)
            .collect();
        order.sort_by(|a, b| b.cmp(a));
        order.insert(0, root);
        let mut adjoints: HashMap<ExprId, Vec<ExprId>> = HashMap::default();
        let mut grad_terms: Vec<ExprId> = Vec::new();
        let mut shown: HashMap<ExprId, ExprId> = HashMap::default();
        let mut display_defs: Vec<(Symbol, ExprId)> = Vec::new();
        let mut dvar_defs: Vec<(ExprId, Symbol, ExprId)> = Vec::new();
        self.push(StepKind::Function, "f", root, vec![], false);
        for (k, &node) in order.iter().enumerate() {
            self.stage = node;
            self.line_rules.clear();
            let start = if k == 0 {
                State { u: None, e: node }
            } else {
                let contributions = adjoints.remove(&node).unwrap_or_default();
                if contributions.is_empty() {
                    continue;
                }
                let name = self.boundaries[&node].name.clone();
                let value = self.s.add(&contributions)?;
                let value = self.s.canon(value)?;
                let shape = self.s.pool.shape(node);
                let gname = fresh_name(self.s.pool, &format!("∂f/∂{name}"), shape);
                let gsym = self.s.pool.declare_var(&gname, shape, false)?;
                let gvar = self.s.pool.intern(Node::Var(gsym))?;
                let shown_value = self.s.present(value)?;
                self.push(
                    StepKind::Gradient,
                    &gname,
                    shown_value,
                    vec![RuleId::C],
                    false,
                );
                display_defs.push((gsym, value));
                shown.insert(gvar, value);
                let dvar = self.boundaries[&node].dvar;
                let lhs = if adjoints.values().all(Vec::is_empty) && grad_terms.is_empty() {
                    "df".to_string()
                } else {
                    format!("df[{name}]")
                };
                let first = self.show(&[State {
                    u: Some(gvar),
                    e: dvar,
                }])?;
                self.push(StepKind::Differential, &lhs, first, vec![RuleId::C], false);
                State {
                    u: Some(gvar),
                    e: dvar,
                }
            };
            // (a) The differential.
            self.line_rules.clear();
            let Some(d) = self.d(node)? else {
                if k > 0 {
                    // Nothing flows through this name (sign(X) is piecewise constant): its
                    // differential is 0, and the line that names it is 0.
                    let dvar = self.boundaries[&node].dvar;
                    let Node::Var(sym) = *self.s.pool.node(dvar) else {
                        unreachable!("a differential variable")
                    };
                    let shape = self.s.pool.shape(node);
                    let zero = self.s.zero(shape)?;
                    dvar_defs.push((node, sym, zero));
                    let rules = std::mem::take(&mut self.line_rules);
                    let lhs = self.steps.last().expect("a first line").lhs.clone();
                    let zero = self.s.pool.num(0.0);
                    self.push(StepKind::Differential, &lhs, zero, rules, true);
                }
                continue;
            };
            if k > 0 {
                let dvar = self.boundaries[&node].dvar;
                let Node::Var(sym) = *self.s.pool.node(dvar) else {
                    unreachable!("a differential variable")
                };
                dvar_defs.push((node, sym, d));
            }
            let mut states = vec![State { u: start.u, e: d }];
            let lhs = if k == 0 {
                "df".to_string()
            } else {
                self.steps.last().expect("a first line").lhs.clone()
            };
            let rules = std::mem::take(&mut self.line_rules);
            // The function's differential is shown as it comes, `df = a'*(exp(X*b) .* (dX*b))`;
            // the trace form follows by T1.
            let line = if k == 0 { d } else { self.show(&states)? };
            self.push(StepKind::Differential, &lhs, line, rules, k > 0);
            // The same differential with its algebra done, when that is much shorter
            // (log(det(X)): 1/det(X)*det(X)*tr(inv(X)*dX) is tr(inv(X)*dX)).
            let tidy = self.s.canon(d)?;
            if !self.has_d(tidy) {
                // The differential is zero (X - X): nothing flows through this stage.
                self.push(StepKind::Differential, &lhs, tidy, vec![RuleId::A], true);
                continue;
            }
            if tree_size(self.s.pool, tidy) + 2 < tree_size(self.s.pool, d) {
                states = vec![State {
                    u: start.u,
                    e: tidy,
                }];
                let line = if k == 0 { tidy } else { self.show(&states)? };
                self.push(StepKind::Differential, &lhs, line, vec![RuleId::A], true);
            }
            let d = states[0].e;
            let scalar_wrt = self.s.pool.shape(self.dx).is_scalar()
                || self.s.pool.shape(self.dx).cols == Dim::ONE;
            if k == 0 && !scalar_wrt && !self.is_trace_form(d) {
                let t = self.s.pool.intern(Node::Reduce(Reduce::Trace, d))?;
                self.push(StepKind::Differential, &lhs, t, vec![RuleId::T1], true);
            }
            // (b) The trace tricks, one peel of every term per line.
            loop {
                let mut rules = Vec::new();
                let mut next = Vec::new();
                let mut changed = false;
                for st in &states {
                    changed |= self.peel(*st, &mut next, &mut rules)?;
                }
                if !changed {
                    break;
                }
                states = next;
                let line = self.show(&states)?;
                self.push(StepKind::Differential, &lhs, line, rules, true);
            }
            // Collect terms of the same differential.
            let mut groups: Vec<(ExprId, Vec<ExprId>)> = Vec::new();
            for st in &states {
                let u = self.u_or_identity(*st)?;
                match groups.iter_mut().find(|g| g.0 == st.e) {
                    Some(g) => g.1.push(u),
                    None => groups.push((st.e, vec![u])),
                }
            }
            let mut collected = Vec::new();
            for (e, us) in &groups {
                let total = self.s.add(us)?;
                collected.push(State {
                    u: Some(total),
                    e: *e,
                });
            }
            if states.len() > collected.len() {
                let line = self.show(&collected)?;
                self.push(
                    StepKind::Differential,
                    &lhs,
                    line,
                    vec![RuleId::T3, RuleId::A],
                    true,
                );
            }
            for st in collected {
                let u = st.u.expect("collected");
                if st.e == self.dx {
                    grad_terms.push(u);
                } else {
                    let owner = self
                        .boundaries
                        .iter()
                        .find(|(_, b)| b.dvar == st.e)
                        .map(|(&id, _)| id)
                        .expect("a differential variable of a name");
                    adjoints.entry(owner).or_default().push(u);
                }
            }
        }
        // (c) The core relationship.
        let g = if grad_terms.is_empty() {
            let shape = self.s.pool.shape(self.dx);
            self.s.zero(shape)?
        } else {
            self.s.add(&grad_terms)?
        };
        let gname = format!("∂f/∂{wrt}");
        let shown_g = self.s.present(g)?;
        self.push(StepKind::Gradient, &gname, shown_g, vec![RuleId::C], false);
        let mut full = substitute(self.s.pool, g, &shown)?;
        full = self.s.canon(full)?;
        let mut shown_full = self.s.present(full)?;
        if shown_full != shown_g {
            let rules = if shown.is_empty() {
                vec![RuleId::A]
            } else {
                vec![RuleId::B, RuleId::A]
            };
            self.push(StepKind::Gradient, &gname, shown_full, rules, true);
        }
        // Element-wise products distributed, when that is shorter (the logistic loss).
        if let Some((shorter, rules)) = self.s.shorten(full)? {
            full = shorter;
            shown_full = self.s.present(full)?;
            self.push(StepKind::Gradient, &gname, shown_full, rules, true);
        }
        // A gradient that is already symmetric is its own symmetric part.
        let already = symmetric && {
            let t = self.s.transpose(full)?;
            // Expansion is only a comparison: where it fails, keep the general formula.
            match (self.s.expand(full), self.s.expand(t)) {
                (Ok(Some(a)), Ok(Some(b))) => a == b,
                _ => false,
            }
        };
        if symmetric && !already {
            let t = self.s.transpose(full)?;
            let sum = self.s.add(&[full, t])?;
            let half = self.s.scale(0.5, sum)?;
            full = self.s.canon(half)?;
            let shown = self.s.present(full)?;
            if shown != shown_full {
                shown_full = shown;
                // A projection, not an equal form: a new line (the steps check compares
                // continued lines by value).
                self.push(
                    StepKind::Gradient,
                    &gname,
                    shown_full,
                    vec![RuleId::S],
                    false,
                );
            }
        }
        // A diagonal variable: the gradient is the diagonal part (a projection, so a new line).
        let diagonal = self
            .s
            .pool
            .find_symbol(wrt)
            .and_then(|s| self.s.pool.var_info(s));
        if let Some(info) = diagonal.filter(|i| i.structure == matdiff_expr::Structure::Diagonal) {
            let eye = self.s.pool.intern(Node::Identity(info.shape.rows))?;
            let h = self.s.hadamard(&[eye, full], &[])?;
            full = self.s.canon(h)?;
            shown_full = self.s.present(full)?;
            self.push(
                StepKind::Gradient,
                &gname,
                shown_full,
                vec![RuleId::S2],
                false,
            );
        }
        // A triangular variable: the gradient is that triangle (a projection, so a new line).
        if let Some(t) = crate::triangle::of_variable(self.s.pool, wrt) {
            full = crate::triangle::tri(&mut self.s, t, full)?;
            shown_full = self.s.present(full)?;
            self.push(
                StepKind::Gradient,
                &gname,
                shown_full,
                vec![RuleId::S3],
                false,
            );
        }
        // Definitions: differentials from the innermost name out, then the gradients of names.
        dvar_defs.sort_by_key(|d| d.0);
        let mut definitions: Vec<(Symbol, ExprId)> =
            dvar_defs.into_iter().map(|(_, s, d)| (s, d)).collect();
        definitions.extend(display_defs);
        Ok((shown_full, definitions))
    }

    fn push(
        &mut self,
        kind: StepKind,
        lhs: &str,
        expr: ExprId,
        mut rules: Vec<RuleId>,
        continues: bool,
    ) {
        // Function identities the simplifier applied on the way to this line.
        for r in self.s.applied.drain(..) {
            if !rules.contains(&r) {
                rules.push(r);
            }
        }
        if continues {
            if let Some(last) = self.steps.last_mut() {
                if last.expr == expr {
                    return;
                }
            }
        }
        self.steps.push(Step {
            kind,
            lhs: lhs.to_string(),
            expr,
            rules,
            continues,
        });
    }

    /// Whether a differential is already written with traces: `tr(...)`, sums and multiples of
    /// such (T1 would only wrap it once more).
    fn is_trace_form(&mut self, id: ExprId) -> bool {
        match self.s.pool.node(id).clone() {
            Node::Reduce(Reduce::Trace, _) => true,
            Node::Add(xs) => xs.iter().all(|&x| self.is_trace_form(x)),
            Node::Neg(x) | Node::Div([x, _]) => self.is_trace_form(x),
            Node::Mul(xs) => {
                let with_d: Vec<ExprId> = xs.iter().copied().filter(|&x| self.has_d(x)).collect();
                with_d.len() == 1
                    && self.is_trace_form(with_d[0])
                    && xs.iter().all(|&x| self.s.pool.shape(x).is_scalar())
            }
            _ => false,
        }
    }

    fn identity(&mut self, d: Dim) -> Result<ExprId, DeriveError> {
        Ok(self.s.pool.intern(Node::Identity(d))?)
    }

    /// The differential as printed: the sum of its terms `tr(U'*e)` (`U'*e` when that is 1 x 1).
    fn show(&mut self, states: &[State]) -> Result<ExprId, DeriveError> {
        let mut terms = Vec::new();
        for st in states {
            terms.push(self.show_one(*st)?);
        }
        Ok(if terms.len() == 1 {
            terms[0]
        } else {
            self.s.pool.intern(Node::Add(terms.into()))?
        })
    }

    fn show_one(&mut self, st: State) -> Result<ExprId, DeriveError> {
        let pool_shape = |e: &Self, x: ExprId| e.s.pool.shape(x);
        let Some(u) = st.u else {
            let vector = pool_shape(self, self.dx).cols == Dim::ONE;
            let already = self.is_trace_form(st.e);
            return Ok(
                if (pool_shape(self, st.e).is_scalar() && vector) || already {
                    st.e
                } else {
                    self.s.pool.intern(Node::Reduce(Reduce::Trace, st.e))?
                },
            );
        };
        let ut = self.s.transpose(u)?;
        let ut = self.s.present(ut)?;
        let (negative, ut) = match self.s.pool.node(ut).clone() {
            Node::Neg(v) => (true, v),
            Node::Num(c) if c.get() < 0.0 => (true, self.s.pool.num(-c.get())),
            _ => (false, ut),
        };
        // c*I times e is c*e.
        let ut = match self.s.pool.node(ut).clone() {
            Node::Mul(xs)
                if xs
                    .iter()
                    .any(|&x| matches!(self.s.pool.node(x), Node::Identity(_))) =>
            {
                let rest: Vec<ExprId> = xs
                    .iter()
                    .copied()
                    .filter(|&x| !matches!(self.s.pool.node(x), Node::Identity(_)))
                    .collect();
                if rest.iter().all(|&x| self.s.pool.shape(x).is_scalar()) {
                    self.s.mul(&rest)?
                } else {
                    ut
                }
            }
            _ => ut,
        };
        let unit = matches!(self.s.pool.node(ut), Node::Identity(_))
            || self.s.pool.node(ut) == &Node::Num(matdiff_expr::Num::new(1.0).expect("finite"));
        let product = if unit {
            st.e
        } else {
            self.s.pool.intern(Node::Mul(vec![ut, st.e].into()))?
        };
        // Matrices keep the trace form throughout, as the seed writes; vectors and scalars use
        // df = g'*dx (seed eq. 20).
        let dx = pool_shape(self, self.dx);
        let vector = dx.cols == Dim::ONE;
        let body =
            if pool_shape(self, product).is_scalar() && (vector || self.is_trace_form(product)) {
                product
            } else {
                self.s.pool.intern(Node::Reduce(Reduce::Trace, product))?
            };
        Ok(if negative {
            self.s.pool.intern(Node::Neg(body))?
        } else {
            body
        })
    }

    /// `U` as a matrix (the identity of the right size when `None`).
    fn u_or_identity(&mut self, st: State) -> Result<ExprId, DeriveError> {
        match st.u {
            Some(u) => Ok(u),
            None => {
                let shape = self.s.pool.shape(st.e);
                if shape.is_scalar() {
                    Ok(self.s.pool.num(1.0))
                } else {
                    self.identity(shape.rows)
                }
            }
        }
    }

    /// One trace trick on a term: pushes the term(s) it becomes; false when the term is already
    /// `tr(U'*dV)` for a differential variable dV.
    fn peel(
        &mut self,
        st: State,
        out: &mut Vec<State>,
        rules: &mut Vec<RuleId>,
    ) -> Result<bool, DeriveError> {
        let mut rule = |r: RuleId| {
            if !rules.contains(&r) {
                rules.push(r);
            }
        };
        if self.dvars.contains(&st.e) {
            out.push(st);
            return Ok(false);
        }
        if !self.has_d(st.e) {
            // A term without a differential is zero: it drops out.
            return Ok(true);
        }
        let node = self.s.pool.node(st.e).clone();
        let e_shape = self.s.pool.shape(st.e);
        let unsupported = |e: &mut Self, why| DeriveError::Unsupported {
            expr: e.s.pool.plain(st.e),
            wrt: e.s.pool.plain(e.dx),
            why,
        };
        match node {
            Node::Add(ts) => {
                rule(RuleId::T3);
                for &t in ts.iter() {
                    if !self.has_d(t) {
                        continue;
                    }
                    if self.s.pool.shape(t).is_scalar() && !e_shape.is_scalar() {
                        // A broadcast scalar: tr(U'*(s*ones*ones')) = s*sum(U).
                        rule(RuleId::T9);
                        let u = self.u_or_identity(st)?;
                        let total = self.s.reduce(Reduce::Sum, u)?;
                        out.push(State {
                            u: Some(total),
                            e: t,
                        });
                    } else {
                        out.push(State { u: st.u, e: t });
                    }
                }
            }
            Node::Neg(a) => {
                rule(RuleId::T3);
                let u = self.u_or_identity(st)?;
                let nu = self.s.neg(u)?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Transpose(a) => {
                rule(RuleId::T2);
                let u = match st.u {
                    Some(u) => Some(self.s.transpose(u)?),
                    None => None,
                };
                out.push(State { u, e: a });
            }
            Node::Mul(fs) => {
                let fs = self.s.group_scalar_prefix(&fs)?;
                let positions: Vec<usize> = (0..fs.len()).filter(|&i| self.has_d(fs[i])).collect();
                let [i] = positions[..] else {
                    return Err(unsupported(self, "the differential is not linear"));
                };
                let fi = fs[i];
                let scalars: Vec<ExprId> = fs
                    .iter()
                    .enumerate()
                    .filter(|&(j, &f)| j != i && self.s.pool.shape(f).is_scalar())
                    .map(|(_, &f)| f)
                    .collect();
                let left: Vec<ExprId> = fs[..i]
                    .iter()
                    .copied()
                    .filter(|&f| !self.s.pool.shape(f).is_scalar())
                    .collect();
                let right: Vec<ExprId> = fs[i + 1..]
                    .iter()
                    .copied()
                    .filter(|&f| !self.s.pool.shape(f).is_scalar())
                    .collect();
                if !scalars.is_empty() {
                    rule(RuleId::T6);
                }
                if self.s.pool.shape(fi).is_scalar() {
                    // A scalar holding the differential scales a matrix M: tr(U'*(s*M)) = s*tr(U'*M).
                    rule(RuleId::T4);
                    let mut m: Vec<ExprId> = scalars.clone();
                    m.extend(left.iter().chain(&right));
                    let m = self.s.mul(&m)?;
                    let u = self.u_or_identity(st)?;
                    let ut = self.s.transpose(u)?;
                    let p = self.s.mul(&[ut, m])?;
                    let t = self.s.reduce(Reduce::Trace, p)?;
                    out.push(State { u: Some(t), e: fi });
                } else {
                    if !left.is_empty() || !right.is_empty() {
                        rule(RuleId::T4);
                    }
                    let mut factors = scalars;
                    if !left.is_empty() {
                        let l = self.s.mul(&left)?;
                        factors.push(self.s.transpose(l)?);
                    }
                    if let Some(u) = st.u {
                        factors.push(u);
                    }
                    if !right.is_empty() {
                        let r = self.s.mul(&right)?;
                        factors.push(self.s.transpose(r)?);
                    }
                    let u = if factors.is_empty() {
                        None
                    } else {
                        if factors.iter().all(|&f| self.s.pool.shape(f).is_scalar())
                            && !self.s.pool.shape(fi).is_scalar()
                        {
                            let shape = self.s.pool.shape(fi);
                            factors.push(self.identity(shape.rows)?);
                        }
                        Some(self.s.mul(&factors)?)
                    };
                    out.push(State { u, e: fi });
                }
            }
            Node::Hadamard(fs) => {
                let positions: Vec<usize> = (0..fs.len()).filter(|&i| self.has_d(fs[i])).collect();
                let [i] = positions[..] else {
                    return Err(unsupported(self, "the differential is not linear"));
                };
                let fi = fs[i];
                let others: Vec<ExprId> = fs
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, &f)| f)
                    .collect();
                let u = self.u_or_identity(st)?;
                if self.s.pool.shape(fi).is_scalar() && !e_shape.is_scalar() {
                    rule(RuleId::T9);
                    let m = self.s.hadamard(&others, &[])?;
                    let p = self.s.hadamard(&[u, m], &[])?;
                    let t = self.s.reduce(Reduce::Sum, p)?;
                    out.push(State { u: Some(t), e: fi });
                } else {
                    rule(RuleId::T5);
                    let mut all = vec![u];
                    all.extend(others);
                    let nu = self.s.hadamard(&all, &[])?;
                    out.push(State { u: Some(nu), e: fi });
                }
            }
            Node::HDiv([a, b]) => {
                if self.has_d(b) {
                    return Err(unsupported(self, "the differential is not linear"));
                }
                rule(RuleId::T5);
                let u = self.u_or_identity(st)?;
                let nu = self.s.hadamard(&[u], &[b])?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Div([a, s]) => {
                if self.has_d(s) {
                    return Err(unsupported(self, "the differential is not linear"));
                }
                rule(RuleId::T6);
                let u = self.u_or_identity(st)?;
                let nu = self.s.hdiv(u, s)?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Reduce(Reduce::Trace, a) => {
                rule(RuleId::T1);
                let u = match st.u {
                    None => None,
                    Some(u) => {
                        let shape = self.s.pool.shape(a);
                        let eye = self.identity(shape.rows)?;
                        Some(self.s.mul(&[u, eye])?)
                    }
                };
                out.push(State { u, e: a });
            }
            Node::Reduce(Reduce::Sum, a) => {
                rule(RuleId::T7);
                let u = self.u_or_identity(st)?;
                let shape = self.s.pool.shape(a);
                let mut factors = vec![u];
                if !shape.is_scalar() {
                    factors.push(self.s.pool.intern(Node::Ones(shape.rows))?);
                    if shape.cols != Dim::ONE {
                        let ones = self.s.pool.intern(Node::Ones(shape.cols))?;
                        factors.push(self.s.pool.intern(Node::Transpose(ones))?);
                    }
                }
                let nu = self.s.mul(&factors)?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Diag(a) => {
                rule(RuleId::T8);
                let u = self.u_or_identity(st)?;
                let nu = self.s.pool.intern(Node::Diag(u))?;
                out.push(State { u: Some(nu), e: a });
            }
            Node::Tri(t, a) => {
                rule(RuleId::T10);
                let u = self.u_or_identity(st)?;
                let nu = self.s.pool.intern(Node::Tri(t, u))?;
                out.push(State { u: Some(nu), e: a });
            }
            _ => return Err(unsupported(self, "no trace trick applies")),
        }
        Ok(true)
    }
}

/// `id` with the variables of `map` replaced by their expressions (and those expressions'
/// variables too, recursively).
pub fn substitute<S: BuildHasher>(
    pool: &mut ExprPool,
    id: ExprId,
    map: &StdHashMap<ExprId, ExprId, S>,
) -> Result<ExprId, matdiff_expr::ExprError> {
    fn go<S: BuildHasher>(
        pool: &mut ExprPool,
        id: ExprId,
        map: &StdHashMap<ExprId, ExprId, S>,
        memo: &mut HashMap<ExprId, ExprId>,
    ) -> Result<ExprId, matdiff_expr::ExprError> {
        if let Some(&r) = memo.get(&id) {
            return Ok(r);
        }
        let r = if let Some(&v) = map.get(&id) {
            go(pool, v, map, memo)?
        } else {
            let kids = pool.node(id).children().to_vec();
            if kids.is_empty() {
                id
            } else {
                let mut new = Vec::with_capacity(kids.len());
                for k in kids.iter() {
                    new.push(go(pool, *k, map, memo)?);
                }
                if new == kids {
                    id
                } else {
                    pool.with_children(id, &new)?
                }
            }
        };
        memo.insert(id, r);
        Ok(r)
    }
    go(pool, id, map, &mut HashMap::default())
}

/// The number of nodes of the tree under `id` (shared nodes counted each time, saturating).
fn tree_size(pool: &ExprPool, id: ExprId) -> u64 {
    let mut memo: HashMap<ExprId, u64> = HashMap::default();
    fn go(pool: &ExprPool, id: ExprId, memo: &mut HashMap<ExprId, u64>) -> u64 {
        if let Some(&n) = memo.get(&id) {
            return n;
        }
        let n = pool
            .node(id)
            .children()
            .iter()
            .fold(1u64, |acc, &c| acc.saturating_add(go(pool, c, memo)));
        memo.insert(id, n);
        n
    }
    go(pool, id, &mut memo)
}

/// Replaces whole-word occurrences of `word` in `text`.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            cur.push(c);
        } else {
            out.push_str(if cur == word { with } else { &cur });
            cur.clear();
            out.push(c);
        }
    }
    out.push_str(if cur == word { with } else { &cur });
    out
}
