//! The derivation engine: differential (a), trace tricks (b), core relationship (c), stage by
//! stage through the named subexpressions, as the seed's section 1.2 goes through ∂L/∂a[2],
//! ∂L/∂z[2], ∂L/∂a[1].

use std::collections::HashMap as StdHashMap;
use std::hash::BuildHasher;

use matdiff_expr::{Expr, ExprId, ExprPool, Ids, Symbol};
use matdiff_expr::{FxHashMap as HashMap, FxHashSet as HashSet};
use smallvec::SmallVec;

use crate::error::DeriveError;
use crate::rules::RuleId;
use crate::simplify::Simplifier;

mod engine;
mod lhs;
mod peel;
mod setup;
mod vec_ops;

pub(crate) use lhs::Aux;
pub use lhs::{LhsFunction, StepLhs};
pub(crate) use setup::setup;
use setup::{setup_at, upstream_function, wrt_variable};

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
    /// Only the gradient: no steps are recorded (`Derivation::steps` is empty) and no line is
    /// printed into the pool, which saves about a quarter of the work; the gradient is the same.
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_rewrite::{derive, DeriveOptions};
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("a'*exp(X*b)").unwrap();
    /// let options = DeriveOptions { gradient_only: true, ..DeriveOptions::default() };
    /// let d = derive(&mut pool, &e, "X", &options).unwrap();
    /// assert!(d.steps.is_empty());
    /// assert_eq!(pool.plain(d.gradient), "(a .* exp(X*b))*b'");
    /// ```
    pub gradient_only: bool,
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
    /// The left-hand side: `f`, `df`, `df[Y]`, `∂f/∂X`.
    pub lhs: StepLhs,
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
    /// The steps (none with [`DeriveOptions::gradient_only`]).
    pub steps: Vec<Step>,
    /// The differential of the variable (`dX`), a variable of the pool.
    pub differential: Symbol,
    /// The auxiliary variables of the steps (`dY` for a named `Y`, `∂f/∂Y`), each with what it
    /// stands for, in an order where each refers only to earlier ones, `dX` and the inputs.
    pub definitions: Vec<(Symbol, ExprId)>,
    /// What each auxiliary variable the engine declared stands for (`dY`, `∂f/∂Y`), which
    /// gives its LaTeX.
    pub(crate) aux: Vec<(Symbol, Aux)>,
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

/// The terms of a line of the trace tricks: a few, on the stack.
type States = SmallVec<[State; 4]>;

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
    /// Whether a node (by index) mentions a differential, once known.
    has_d: crate::simplify::id_memo::IdMemo<bool>,
    /// The lines so far; `None` when they are not recorded ([`DeriveOptions::gradient_only`]).
    steps: Option<Vec<Step>>,
    /// The auxiliary variables declared so far.
    aux: Vec<(Symbol, Aux)>,
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
    let wrt_node = match wrt_variable(pool, expr, root, wrt) {
        Ok(node) => Some(node),
        Err(DeriveError::NotInExpression { .. }) => None,
        Err(DeriveError::NotAVariable { hint, .. }) if hint.is_empty() => {
            // A name the pool has never seen: a variable of the default shape of its name.
            pool.parse(wrt).map_err(|_| DeriveError::NotAVariable {
                name: wrt.to_string(),
                hint,
            })?;
            None
        }
        Err(e) => return Err(e),
    };
    let shape = pool.shape(root);
    if !shape.is_scalar() {
        return Err(DeriveError::NotScalar {
            shape: pool.shape_str(shape),
        });
    }
    let Some(wrt_node) = wrt_node else {
        return absent_variable(pool, root, wrt, options.gradient_only);
    };
    let (mut engine, symmetric, differential) =
        setup_at(pool, root, wrt_node, &mut bindings, wrt, &options.functions)?;
    if options.gradient_only {
        engine.steps = None;
    }
    let (gradient, definitions) = engine.run(root, wrt, symmetric)?;
    let info = engine.wrt_info();
    let steps = engine.steps.take().unwrap_or_default();
    let aux = std::mem::take(&mut engine.aux);
    drop(engine);
    // Print with the names that the function and the gradient use.
    if !bindings.is_empty() {
        let mut seen = HashSet::default();
        let mut stack = vec![gradient, root];
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                stack.extend_from_slice(pool.node(id).children());
            }
        }
        bindings.retain(|(_, id)| seen.contains(id));
    }
    // The gradient names the user's bindings, and the engine's own names only where they stand
    // for something large.
    let names = bindings.clone();
    bindings.retain(|(name, id)| {
        expr.bindings.iter().any(|b| &b.0 == name) || pool.tree_size(*id) >= 10
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
        aux,
        symmetric,
        absent: false,
        diagonal: info.is_some_and(|i| i.structure == matdiff_expr::Structure::Diagonal),
        triangle: info.and_then(|i| crate::triangle::of_structure(i.structure)),
    })
}

/// The derivation with respect to a variable that does not occur: `df = 0` (D9), so the
/// gradient is the zero of the variable's shape (C).
fn absent_variable(
    pool: &mut ExprPool,
    root: ExprId,
    wrt: &str,
    gradient_only: bool,
) -> Result<Derivation, DeriveError> {
    let sym = pool.symbol(wrt);
    let info = pool
        .var_info(sym)
        .ok_or_else(|| DeriveError::NotAVariable {
            name: wrt.to_string(),
            hint: String::new(),
        })?;
    let differential = setup::declare_differential(pool, wrt, info.shape)?;
    let zero = pool.num(0.0);
    let gradient = Simplifier::new(pool).zero(info.shape)?;
    use LhsFunction::F;
    let step = |kind, lhs, expr, rules: &[RuleId]| Step {
        kind,
        lhs,
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
        steps: if gradient_only {
            Vec::new()
        } else {
            vec![
                step(StepKind::Function, StepLhs::Function(F), root, &[]),
                step(
                    StepKind::Differential,
                    StepLhs::Differential(F),
                    zero,
                    &[RuleId::D9],
                ),
                step(
                    StepKind::Gradient,
                    StepLhs::Gradient(F, wrt.into()),
                    gradient,
                    &[RuleId::C],
                ),
            ]
        },
        differential,
        definitions: Vec::new(),
        aux: vec![(differential, Aux::Differential)],
        symmetric: false,
        absent: true,
        diagonal: false,
        triangle: None,
    })
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
            let kids = Ids::from(pool.node(id).children());
            if kids.is_empty() {
                id
            } else {
                let mut new: SmallVec<[ExprId; 4]> = SmallVec::with_capacity(kids.len());
                for k in kids.iter() {
                    new.push(go(pool, *k, map, memo)?);
                }
                if new[..] == kids[..] {
                    id
                } else {
                    pool.with_children(id, &new)?
                }
            }
        };
        memo.insert(id, r);
        Ok(r)
    }
    if map.is_empty() {
        return Ok(id);
    }
    go(pool, id, map, &mut HashMap::default())
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
