//! Second order: Hessian-vector products, Hessians and Jacobians by the same method.
//!
//! The second identification (Magnus and Neudecker): the gradient `G = ∂f/∂X` is differentiated
//! in a direction `V` of the variable's shape. Since the Hessian is symmetric, the gradient of
//! the scalar `h = tr(G'*V)` with respect to `X` is the Hessian-vector product `H[V]` (rule H1),
//! derived with steps by [`derive`] like any gradient, and never a Kronecker product.
//! A Jacobian of a vector-valued `F` comes the same way from `tr(U'*F)`, whose gradient is
//! `J'*U` (rule J1). For a vector variable `x`, the matrix of such a linear map is read off with
//! the vec identities (rules V1-V3): `A*dx` gives `A`, `P .* dx` gives `diag(P)`,
//! `a*(b'*dx)` gives `a*b'`. Layout: the Jacobian is `∂vec(F)/∂vec(x)'` (rows are F's entries),
//! the Hessian `∂²f/∂x∂x'`.
//!
//! Hessians and Jacobians with respect to a matrix variable (Kronecker forms) are refused here
//! with [`SecondOrderError::NeedsKronecker`] and read off by
//! [`hessian_kronecker`](crate::hessian_kronecker) and
//! [`jacobian_kronecker`](crate::jacobian_kronecker); the Hessian-vector product works for
//! every shape.

use std::collections::HashSet;

use matdiff_expr::{Dim, Expr, ExprId, ExprPool, Fun, Func, Node, Reduce, Shape, Style};

use crate::absent::zero_second_order;
use crate::derive::{derive, Derivation, DeriveOptions, Step, StepKind, StepLhs};
use crate::error::DeriveError;
use crate::rules::RuleId;
use crate::simplify::Simplifier;

/// Why a second-order result cannot be derived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecondOrderError {
    /// A Jacobian of a scalar was asked for.
    #[error("the expression is a scalar: its Jacobian is the transposed gradient, use grad")]
    ScalarJacobian,
    /// A Hessian of a function that is not a scalar.
    #[error("the expression is {shape}, not a scalar: a Hessian is of a scalar function (use jacobian for a vector-valued one)")]
    NotScalar {
        /// Its shape.
        shape: String,
    },
    /// The function has a kink (`relu`, `abs`, `max`, ...) where the second derivative is not
    /// defined; a numeric zero there would be a silent wrong answer.
    #[error("no second derivative through {what}: it has a kink where the second derivative does not exist")]
    Kink {
        /// The offending subexpression, in plain syntax.
        what: String,
    },
    /// The result would be a Kronecker (vec) form, which the language cannot write yet.
    #[error("the {what} with respect to {wrt} ({shape}) is a Kronecker (vec) form, not supported yet: {hint}")]
    NeedsKronecker {
        /// `Hessian` or `Jacobian`.
        what: &'static str,
        /// The variable.
        wrt: String,
        /// The shape that needs vec.
        shape: String,
        /// What to do instead.
        hint: &'static str,
    },
    /// A Kronecker form with respect to a structured matrix (symmetric, diagonal) would be one
    /// of its free entries (a duplication matrix), which is not written.
    #[error("the {what} with respect to the {structure} matrix {wrt} is not written in Kronecker form (it would be of its free entries): {hint}")]
    StructuredKronecker {
        /// `Hessian` or `Jacobian`.
        what: &'static str,
        /// The variable.
        wrt: String,
        /// `symmetric` or `diagonal`.
        structure: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The name asked for the direction is already used by the expression.
    #[error(
        "the direction '{name}' is already a name of the expression: choose another with --hvp"
    )]
    DirectionTaken {
        /// The name.
        name: String,
    },
    /// The read-off met a form it cannot turn into a matrix (an internal limit, stated).
    #[error("cannot read the matrix of {expr} off as a linear map of {direction}")]
    NotReadable {
        /// The linear form, in plain syntax.
        expr: String,
        /// The direction.
        direction: String,
    },
    /// The underlying gradient derivation failed.
    #[error(transparent)]
    Derive(#[from] DeriveError),
    /// Building a node failed.
    #[error(transparent)]
    Expr(#[from] matdiff_expr::ExprError),
}

/// Which second-order result.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SecondKind {
    /// `H[V]`, an expression in the direction `V` of the variable's shape.
    Hvp,
    /// `∂²f/∂x∂x'` of a scalar `f` and a vector (or scalar) `x`.
    Hessian,
    /// `∂vec(F)/∂x'` of a vector-valued `F` and a vector (or scalar) `x`.
    Jacobian,
}

/// A second-order derivation: the result and the two first-order derivations it comes from.
#[derive(Clone, Debug)]
pub struct SecondOrder {
    /// What [`SecondOrder::result`] is.
    pub kind: SecondKind,
    /// The function as given (scalar `f`, or `F` for a Jacobian).
    pub function: ExprId,
    /// The variable.
    pub wrt: String,
    /// The direction variable `V` (HVP and Hessian) or `U` (Jacobian), a variable of the pool.
    pub direction: String,
    /// The first derivation: `∂f/∂X` (HVP, Hessian) or `J'*U` from `tr(U'*F)` (Jacobian).
    pub first: Derivation,
    /// The second derivation, of `h = tr(G'*V)` (HVP, Hessian).
    pub second: Option<Derivation>,
    /// The result: `H[V]`, the Hessian or the Jacobian, simplified.
    pub result: ExprId,
    /// The names the result is printed with (`where` bindings).
    pub bindings: Vec<(String, ExprId)>,
    /// The read-off line of a Hessian or a Jacobian (rules V1-V3), after the derivations' steps.
    pub readoff: Option<Step>,
}

/// The Hessian-vector product of the scalar `expr` with respect to `wrt` in the direction named
/// `direction` (a new variable of the variable's shape), derived as the gradient of
/// `tr((∂f/∂X)'*V)`.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_rewrite::{hvp, DeriveOptions};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("logdet(X)").unwrap();
/// let h = hvp(&mut pool, &e, "X", "V", &DeriveOptions::default()).unwrap();
/// assert_eq!(pool.plain(h.result), "-(inv(X)*V*inv(X))'");
/// ```
pub fn hvp(
    pool: &mut ExprPool,
    expr: &Expr,
    wrt: &str,
    direction: &str,
    options: &DeriveOptions,
) -> Result<SecondOrder, SecondOrderError> {
    let shape = pool.shape(expr.root);
    if !shape.is_scalar() {
        return Err(SecondOrderError::NotScalar {
            shape: pool.shape_str(shape),
        });
    }
    refuse_kinks(pool, expr)?;
    let first = derive(pool, expr, wrt, options)?;
    let x_shape = variable_shape(pool, wrt)?;
    if direction_taken(pool, expr, direction, x_shape) {
        return Err(SecondOrderError::DirectionTaken {
            name: direction.to_string(),
        });
    }
    let v = pool.declare_var(direction, x_shape, false)?;
    let v = pool.intern(Node::Var(v))?;
    let h = inner_product(pool, first.gradient, v)?;
    let inner = Expr {
        root: h,
        bindings: expr.bindings.clone(),
    };
    let mut second = derive(pool, &inner, wrt, options)?;
    for step in &mut second.steps {
        step.lhs = step.lhs.clone().of_h();
    }
    let result = crate::literature_form(pool, second.gradient)?;
    let bindings = second.bindings.clone();
    Ok(SecondOrder {
        kind: SecondKind::Hvp,
        function: expr.root,
        wrt: wrt.to_string(),
        direction: direction.to_string(),
        first,
        second: Some(second),
        result,
        bindings,
        readoff: None,
    })
}

/// The Hessian `∂²f/∂x∂x'` of the scalar `expr` with respect to the vector (or scalar) `wrt`:
/// the matrix of the Hessian-vector product, read off with the vec identities.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_rewrite::{hessian, DeriveOptions};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("norm2(X*w - y)^2").unwrap();
/// let h = hessian(&mut pool, &e, "w", &DeriveOptions::default()).unwrap();
/// assert_eq!(pool.plain(h.result), "2*X'*X");
/// ```
pub fn hessian(
    pool: &mut ExprPool,
    expr: &Expr,
    wrt: &str,
    options: &DeriveOptions,
) -> Result<SecondOrder, SecondOrderError> {
    let shape = pool.shape(expr.root);
    if !shape.is_scalar() {
        return Err(SecondOrderError::NotScalar {
            shape: pool.shape_str(shape),
        });
    }
    if let Some(zero) = zero_second_order(pool, expr, wrt, SecondKind::Hessian, options)? {
        return Ok(zero);
    }
    let x_shape = variable_shape(pool, wrt)?;
    if x_shape.cols != Dim::ONE {
        return Err(SecondOrderError::NeedsKronecker {
            what: "Hessian",
            wrt: wrt.to_string(),
            shape: pool.shape_str(x_shape),
            hint: "ask for the Hessian-vector product (--hvp V), which needs none",
        });
    }
    let direction = fresh_name(pool, "v");
    let mut out = hvp(pool, expr, wrt, &direction, options)?;
    let (matrix, rules) = read_off(pool, out.result, &direction, &out.bindings)?;
    let matrix = crate::literature_form(pool, matrix)?;
    out.kind = SecondKind::Hessian;
    out.result = matrix;
    out.readoff = Some(Step {
        kind: StepKind::Gradient,
        lhs: StepLhs::Hessian(wrt.into()),
        expr: matrix,
        rules,
        continues: false,
    });
    Ok(out)
}

/// The Jacobian `∂F/∂x'` of the column vector (or scalar) `expr` with respect to the vector (or
/// scalar) `wrt`, one row per entry of F: the transpose of the matrix of `U ↦ J'*U`, the
/// gradient of `tr(U'*F)`.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_rewrite::{jacobian, DeriveOptions};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("sigmoid(W*x)").unwrap();
/// let j = jacobian(&mut pool, &e, "x", &DeriveOptions::default()).unwrap();
/// assert_eq!(pool.plain(j.result), "diag(sigmoid'(W*x))*W");
/// ```
pub fn jacobian(
    pool: &mut ExprPool,
    expr: &Expr,
    wrt: &str,
    options: &DeriveOptions,
) -> Result<SecondOrder, SecondOrderError> {
    let shape = pool.shape(expr.root);
    if shape.is_scalar() {
        return Err(SecondOrderError::ScalarJacobian);
    }
    if let Some(zero) = zero_second_order(pool, expr, wrt, SecondKind::Jacobian, options)? {
        return Ok(zero);
    }
    let x_shape = variable_shape(pool, wrt)?;
    for (ok, s) in [
        (shape.cols == Dim::ONE, shape),
        (x_shape.cols == Dim::ONE, x_shape),
    ] {
        if !ok {
            return Err(SecondOrderError::NeedsKronecker {
                what: "Jacobian",
                wrt: wrt.to_string(),
                shape: pool.shape_str(s),
                hint: "a Jacobian is read off for a vector-valued expression of a vector; use --upstream G with grad for a matrix-valued one",
            });
        }
    }
    let direction = fresh_name(pool, "u");
    let options = DeriveOptions {
        upstream: Some(direction.clone()),
        ..options.clone()
    };
    let first = derive(pool, expr, wrt, &options)?;
    mark_direction(pool, &direction);
    let (transposed, mut rules) = read_off(pool, first.gradient, &direction, &first.bindings)?;
    let t = transposed_of(pool, transposed, &first.bindings)?;
    let matrix = keeping(Simplifier::new(pool), &first.bindings, t).simplify(t)?;
    let matrix = crate::literature_form(pool, matrix)?;
    rules.insert(0, RuleId::J1);
    let bindings = first.bindings.clone();
    Ok(SecondOrder {
        kind: SecondKind::Jacobian,
        function: expr.root,
        wrt: wrt.to_string(),
        direction,
        first,
        second: None,
        result: matrix,
        bindings,
        readoff: Some(Step {
            kind: StepKind::Gradient,
            lhs: StepLhs::Jacobian(wrt.into()),
            expr: matrix,
            rules,
            continues: false,
        }),
    })
}

/// The Hessian-vector product over several variables stacked (Newton-CG over `w` and `b`): with
/// one direction per variable, `h = Σ tr((∂f/∂X_j)'*V_j)` and the product's part for `X_i` is
/// `∂h/∂X_i` (rule H1). The cross terms `∂²f/∂X_i∂X_j` are in it.
#[derive(Clone, Debug)]
pub struct StackedHvp {
    /// The variables, in order.
    pub wrt: Vec<String>,
    /// The directions, one per variable, of its shape.
    pub directions: Vec<String>,
    /// `∂f/∂X_i`, one derivation per variable.
    pub gradients: Vec<Derivation>,
    /// `∂h/∂X_i`, the parts of the product, one derivation per variable.
    pub parts: Vec<Derivation>,
}

impl StackedHvp {
    /// The parts of the product, `H[V]` for each variable, in the variables and directions.
    pub fn results(&self) -> Vec<ExprId> {
        self.parts.iter().map(|d| d.gradient).collect()
    }
}

/// The Hessian-vector product over the variables `wrt` together, in the directions named
/// `directions` (new variables, one per variable, of its shape).
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_rewrite::{hvp_stacked, DeriveOptions};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("norm2(X*w + beta - y)^2").unwrap();
/// let h = hvp_stacked(&mut pool, &e, &["w", "beta"], &["v", "nu"], &DeriveOptions::default()).unwrap();
/// let parts = h.results();
/// assert_eq!(pool.plain(parts[0]), "X'*(2*X*v + 2*nu*ones)");
/// ```
pub fn hvp_stacked(
    pool: &mut ExprPool,
    expr: &Expr,
    wrt: &[&str],
    directions: &[&str],
    options: &DeriveOptions,
) -> Result<StackedHvp, SecondOrderError> {
    let shape = pool.shape(expr.root);
    if !shape.is_scalar() {
        return Err(SecondOrderError::NotScalar {
            shape: pool.shape_str(shape),
        });
    }
    assert_eq!(wrt.len(), directions.len(), "one direction per variable");
    refuse_kinks(pool, expr)?;
    let mut gradients = Vec::new();
    let mut terms = Vec::new();
    for (&x, &v) in wrt.iter().zip(directions) {
        let d = derive(pool, expr, x, options)?;
        let x_shape = variable_shape(pool, x)?;
        if direction_taken(pool, expr, v, x_shape) || wrt.contains(&v) {
            return Err(SecondOrderError::DirectionTaken {
                name: v.to_string(),
            });
        }
        let v = pool.declare_var(v, x_shape, false)?;
        let v = pool.intern(Node::Var(v))?;
        terms.push(inner_product(pool, d.gradient, v)?);
        gradients.push(d);
    }
    let h = if terms.len() == 1 {
        terms[0]
    } else {
        pool.intern(Node::Add(terms.into()))?
    };
    let inner = Expr {
        root: h,
        bindings: expr.bindings.clone(),
    };
    let mut parts = Vec::new();
    for &x in wrt {
        let mut d = derive(pool, &inner, x, options)?;
        for step in &mut d.steps {
            step.lhs = step.lhs.clone().of_h();
        }
        parts.push(d);
    }
    Ok(StackedHvp {
        wrt: wrt.iter().map(|s| s.to_string()).collect(),
        directions: directions.iter().map(|s| s.to_string()).collect(),
        gradients,
        parts,
    })
}

/// The blocks `∂²f/∂x_i∂x_j'` of the Hessian over the vector (or scalar) variables `wrt`
/// stacked, `blocks[i][j]`, each read off the stacked Hessian-vector product.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_rewrite::{hessian_blocks, DeriveOptions};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("norm2(X*w + beta - y)^2").unwrap();
/// let b = hessian_blocks(&mut pool, &e, &["w", "beta"], &DeriveOptions::default()).unwrap();
/// assert_eq!(pool.plain(b[0][0]), "2*X'*X");
/// assert_eq!(pool.plain(b[1][1]), "2*rows(X)");
/// ```
pub fn hessian_blocks(
    pool: &mut ExprPool,
    expr: &Expr,
    wrt: &[&str],
    options: &DeriveOptions,
) -> Result<Vec<Vec<ExprId>>, SecondOrderError> {
    let mut directions = Vec::new();
    for &x in wrt {
        let x_shape = variable_shape(pool, x)?;
        if x_shape.cols != Dim::ONE {
            return Err(SecondOrderError::NeedsKronecker {
                what: "Hessian",
                wrt: x.to_string(),
                shape: pool.shape_str(x_shape),
                hint: "ask for the Hessian-vector product, which needs none",
            });
        }
        let mut name = fresh_name(pool, &format!("v_{x}"));
        while directions.contains(&name) {
            name.push('_');
        }
        directions.push(name);
    }
    let names: Vec<&str> = directions.iter().map(String::as_str).collect();
    let stacked = hvp_stacked(pool, expr, wrt, &names, options)?;
    let mut blocks = Vec::new();
    for part in &stacked.parts {
        let mut row = Vec::new();
        for v in &names {
            row.push(read_off(pool, part.gradient, v, &part.bindings)?.0);
        }
        blocks.push(row);
    }
    Ok(blocks)
}

impl SecondOrder {
    /// Every step: the first derivation's, the second's (its lines about `h = tr(G'*V)`), and
    /// the read-off line.
    pub fn steps(&self) -> Vec<&Step> {
        let mut steps: Vec<&Step> = self.first.steps.iter().collect();
        if let Some(second) = &self.second {
            steps.extend(second.steps.iter());
        }
        steps.extend(self.readoff.iter());
        steps
    }

    /// The result with its `where` bindings; in the plain style re-parseable.
    pub fn result_text(&self, pool: &ExprPool, style: Style) -> String {
        matdiff_expr::Printer::new(pool, style)
            .with_bindings(&self.bindings)
            .print(self.result)
    }

    /// The derivation as Markdown with LaTeX: the gradient's derivation, the second one (its
    /// lines about `h`), the read-off.
    pub fn markdown(&self, pool: &ExprPool) -> String {
        let mut out = self.first.markdown(pool);
        if let Some(second) = &self.second {
            let v = &self.direction;
            out.push_str(&format!(
                "\nThen $h = \\operatorname{{tr}}\\big(\\tfrac{{\\partial f}}{{\\partial {x}}}^T {v}\\big)$, \
                 whose gradient is the Hessian-vector product $H[{v}]$ ({rule}):\n\n",
                x = self.wrt,
                rule = RuleId::H1,
            ));
            // The left-hand sides are of h already; the auxiliary gradients in the bodies too.
            let text = second
                .markdown(pool)
                .replace("\\mathrm{d}f", "\\mathrm{d}h")
                .replace("{\\partial f}", "{\\partial h}");
            out.push_str(&text);
        }
        if let Some(step) = &self.readoff {
            let printer =
                matdiff_expr::Printer::new(pool, Style::Latex).with_bindings(&self.bindings);
            out.push_str(&format!(
                "\nRead off with the vec identities ({}):\n\n$$\n{} = {}\n$$\n",
                step.rules
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                step.lhs.latex(),
                printer.print_body(step.expr)
            ));
        }
        out
    }

    /// The derivation as aligned text: the gradient's derivation, the second one, the read-off.
    pub fn display(&self, pool: &ExprPool, style: Style) -> String {
        let mut out = self.first.display(pool, style);
        if let Some(second) = &self.second {
            out.push_str(&format!(
                "\nh = tr((∂f/∂{})'*{}): its gradient is H[{}] ({})\n",
                self.wrt,
                self.direction,
                self.direction,
                RuleId::H1
            ));
            // Its auxiliary gradients are of h.
            out.push_str(&second.display(pool, style).replace("∂f/∂", "∂h/∂"));
        }
        if let Some(step) = &self.readoff {
            let printer = matdiff_expr::Printer::new(pool, style).with_bindings(&self.bindings);
            let why = step
                .rules
                .iter()
                .map(|id| format!("{id} {}", id.rule().name))
                .collect::<Vec<_>>()
                .join(", ");
            out.push_str(&format!(
                "\n{} = {}   {why}\n",
                step.lhs,
                printer.print_body(step.expr)
            ));
        }
        out
    }
}

pub(crate) fn variable_shape(pool: &ExprPool, wrt: &str) -> Result<Shape, SecondOrderError> {
    pool.find_symbol(wrt)
        .and_then(|s| pool.var_info(s))
        .map(|i| i.shape)
        .ok_or_else(|| {
            DeriveError::NotAVariable {
                name: wrt.to_string(),
                hint: String::new(),
            }
            .into()
        })
}

/// `base`, `base_1`, ...: a name the pool does not know.
pub(crate) fn fresh_name(pool: &ExprPool, base: &str) -> String {
    if pool.find_symbol(base).is_none() {
        return base.to_string();
    }
    (1..)
        .map(|i| format!("{base}_{i}"))
        .find(|n| pool.find_symbol(n).is_none())
        .expect("endless names")
}

/// Marks the Jacobian's direction `U` as the rewriter's: no printed size is named after it, so
/// a size of `F` that no variable of the user's names is refused, not written `rows(U)`.
pub(crate) fn mark_direction(pool: &mut ExprPool, direction: &str) {
    if let Some(symbol) = pool.find_symbol(direction) {
        pool.mark_internal(symbol);
    }
}

/// Whether `name` cannot be the direction: a function, a variable of another shape, or a name
/// the expression uses (a value given for it at the variable's shape is fine).
fn direction_taken(pool: &ExprPool, expr: &Expr, name: &str, shape: Shape) -> bool {
    let Some(sym) = pool.find_symbol(name) else {
        return false;
    };
    if pool.is_function(sym) || expr.bindings.iter().any(|b| b.0 == name) {
        return true;
    }
    if pool.var_info(sym).is_some_and(|i| i.shape != shape) {
        return true;
    }
    let node = Node::Var(sym);
    let mut seen = HashSet::new();
    let mut stack = vec![expr.root];
    while let Some(id) = stack.pop() {
        if pool.node(id) == &node {
            return true;
        }
        if seen.insert(id) {
            stack.extend_from_slice(pool.node(id).children());
        }
    }
    false
}

/// `tr(G'*V)` (`G'*v` for vectors and scalars).
fn inner_product(pool: &mut ExprPool, g: ExprId, v: ExprId) -> Result<ExprId, SecondOrderError> {
    let gt = pool.intern(Node::Transpose(g))?;
    let gt = Simplifier::new(pool).simplify(gt)?;
    let p = pool.intern(Node::Mul([gt, v].into()))?;
    Ok(if pool.shape(p).is_scalar() {
        p
    } else {
        pool.intern(Node::Reduce(Reduce::Trace, p))?
    })
}

/// Refuses functions with kinks: `relu`, `abs`, `sign` (and so `maximum`, `minimum`), `max`,
/// `min`, `norm1`.
fn refuse_kinks(pool: &ExprPool, expr: &Expr) -> Result<(), SecondOrderError> {
    let mut seen = HashSet::new();
    let mut stack = vec![expr.root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let kink = match pool.node(id) {
            Node::Apply {
                fun: Fun::Builtin(f),
                ..
            } => matches!(f, Func::Relu | Func::Abs | Func::Sign),
            Node::Reduce(r, _) => matches!(r, Reduce::Max | Reduce::Min | Reduce::Norm1),
            _ => false,
        };
        if kink {
            let what = matdiff_expr::Printer::new(pool, Style::Plain)
                .with_bindings(&expr.bindings)
                .print_body(id);
            return Err(SecondOrderError::Kink { what });
        }
        stack.extend_from_slice(pool.node(id).children());
    }
    Ok(())
}

fn transposed_of(
    pool: &mut ExprPool,
    id: ExprId,
    keep: &[(String, ExprId)],
) -> Result<ExprId, SecondOrderError> {
    Ok(keeping(Simplifier::new(pool), keep, id).transpose(id)?)
}

/// The simplifier with the derivation's named nodes, and the arguments of `min` and `max` in
/// `root`, kept whole: the gap `min(Y) - Y` of a gradient through `min` or `max` must subtract
/// the very value of `Y` that `min(Y)` reads, or it misses the extreme entry by a rounding (a
/// Jacobian's `min(c + v) - c - v` counted a tie that is not one, and halved the derivative).
pub(crate) fn keeping<'p>(
    mut s: Simplifier<'p>,
    keep: &[(String, ExprId)],
    root: ExprId,
) -> Simplifier<'p> {
    let mut kept: Vec<ExprId> = keep.iter().map(|b| b.1).collect();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let node = s.pool.node(id);
        if let Node::Reduce(Reduce::Max | Reduce::Min, a) = node {
            kept.push(*a);
        }
        stack.extend_from_slice(node.children());
    }
    s.set_opaque(kept);
    s
}

/// The matrix `M` of a column (or scalar) `linear`, linear in the vector (or scalar) variable
/// `direction`: `linear = M*direction`. Returns `M`, simplified, and the rules used.
fn read_off(
    pool: &mut ExprPool,
    linear: ExprId,
    direction: &str,
    keep: &[(String, ExprId)],
) -> Result<(ExprId, Vec<RuleId>), SecondOrderError> {
    let sym = pool.find_symbol(direction).expect("declared direction");
    let v = pool.intern(Node::Var(sym))?;
    let mut r = ReadOff {
        s: keeping(Simplifier::new(pool), keep, linear),
        v,
        direction,
        rules: Vec::new(),
    };
    let m = match r.matrix(linear) {
        Ok(m) => m,
        // A matrix stands between the direction and the column (`diag(v)*C`): read off in
        // Kronecker form and multiplied out.
        Err(SecondOrderError::NotReadable { .. }) => {
            return crate::kronecker::matrix_of_column(pool, linear, direction, keep);
        }
        Err(e) => return Err(e),
    };
    let m = r.s.simplify(m)?;
    let mut rules = r.rules;
    rules.sort_unstable();
    rules.dedup();
    Ok((m, rules))
}

struct ReadOff<'p, 'd> {
    s: Simplifier<'p>,
    v: ExprId,
    direction: &'d str,
    rules: Vec<RuleId>,
}

/// Whether `id` depends on the node `v` (children have smaller ids, so only ids above `v` are
/// searched).
pub(crate) fn depends_on(pool: &ExprPool, id: ExprId, v: ExprId) -> bool {
    if id < v {
        return false;
    }
    let mut seen = HashSet::new();
    let mut stack = vec![id];
    while let Some(x) = stack.pop() {
        if x == v {
            return true;
        }
        if x > v && seen.insert(x) {
            stack.extend_from_slice(pool.node(x).children());
        }
    }
    false
}

impl ReadOff<'_, '_> {
    fn depends(&self, id: ExprId) -> bool {
        depends_on(self.s.pool, id, self.v)
    }

    fn unreadable(&self, id: ExprId) -> SecondOrderError {
        SecondOrderError::NotReadable {
            expr: self.s.pool.plain(id),
            direction: self.direction.to_string(),
        }
    }

    fn shape(&self, id: ExprId) -> Shape {
        self.s.pool.shape(id)
    }

    /// The row count of the direction: the columns of every read-off matrix.
    fn zero_of(&mut self, rows: Dim) -> Result<ExprId, SecondOrderError> {
        let cols = self.shape(self.v).rows;
        Ok(self.s.zero(Shape::new(rows, cols))?)
    }

    fn product(&mut self, xs: &[ExprId]) -> Result<ExprId, SecondOrderError> {
        let xs: Vec<ExprId> = xs.to_vec();
        // `ones'*diag(p)` is `p'`.
        let mut out: Vec<ExprId> = Vec::new();
        for x in xs {
            if let (Some(&last), Node::Diag(p)) = (out.last(), self.s.pool.node(x).clone()) {
                if matches!(self.s.pool.node(last), Node::Transpose(o) if matches!(self.s.pool.node(*o), Node::Ones(_)))
                    && self.shape(p).cols == Dim::ONE
                {
                    out.pop();
                    out.push(self.s.pool.intern(Node::Transpose(p))?);
                    continue;
                }
            }
            out.push(x);
        }
        Ok(match out.len() {
            0 => self.s.pool.num(1.0),
            1 => out[0],
            _ => self.s.mul(&out)?,
        })
    }

    /// `M` with `id = M*v`, for a column or scalar `id` linear in `v`.
    fn matrix(&mut self, id: ExprId) -> Result<ExprId, SecondOrderError> {
        let shape = self.shape(id);
        if !self.depends(id) {
            return self.zero_of(shape.rows);
        }
        if id == self.v {
            let n = self.shape(id).rows;
            return Ok(self.s.pool.intern(Node::Identity(n))?);
        }
        if shape.cols != Dim::ONE {
            return Err(self.unreadable(id));
        }
        match self.s.pool.node(id).clone() {
            Node::Add(xs) => {
                let ms = xs
                    .iter()
                    .map(|&x| self.matrix(x))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(self.s.add(&ms)?)
            }
            Node::Neg(a) => {
                let m = self.matrix(a)?;
                Ok(self.s.neg(m)?)
            }
            Node::Div([a, c]) if !self.depends(c) => {
                let m = self.matrix(a)?;
                Ok(self.s.pool.intern(Node::Div([m, c]))?)
            }
            Node::Transpose(a) => {
                // A transposed scalar, or a transposed row.
                let t = self.s.transpose(a)?;
                if t == id || self.shape(a).cols == Dim::ONE && !self.shape(a).is_scalar() {
                    return Err(self.unreadable(id));
                }
                if self.shape(a).is_scalar() {
                    return self.matrix(a);
                }
                self.matrix(t)
            }
            Node::Reduce(Reduce::Sum, a) if self.shape(a).cols == Dim::ONE => {
                self.rules.push(RuleId::V3);
                let m = self.matrix(a)?;
                let ones = self.s.pool.intern(Node::Ones(self.shape(a).rows))?;
                let ot = self.s.pool.intern(Node::Transpose(ones))?;
                self.product(&[ot, m])
            }
            Node::Reduce(Reduce::Trace, a) if self.shape(a).is_scalar() => self.matrix(a),
            Node::Mul(xs) => self.mul(id, &xs),
            Node::Hadamard(xs) => self.hadamard(id, &xs),
            Node::HDiv([a, b]) if !self.depends(b) => {
                let one = self.s.pool.num(1.0);
                let inv = self.s.hdiv(one, b)?;
                self.rules.push(RuleId::V2);
                let m = self.matrix(a)?;
                self.scaled_by(inv, m, id)
            }
            _ => Err(self.unreadable(id)),
        }
    }

    /// `P .* L` for a column or scalar `P`: `diag(P)*M` or `P*M` (rule V2).
    fn scaled_by(&mut self, p: ExprId, m: ExprId, id: ExprId) -> Result<ExprId, SecondOrderError> {
        let ps = self.shape(p);
        let ms = self.shape(m);
        if ps.is_scalar() {
            return Ok(self.s.mul(&[p, m])?);
        }
        if ps.cols != Dim::ONE {
            return Err(self.unreadable(id));
        }
        if ms.rows == Dim::ONE {
            // A scalar linear form broadcast by a column: `P*(b'*v)`.
            self.rules.push(RuleId::V3);
            return Ok(self.s.mul(&[p, m])?);
        }
        let d = self.s.pool.intern(Node::Diag(p))?;
        self.product(&[d, m])
    }

    fn hadamard(&mut self, id: ExprId, xs: &[ExprId]) -> Result<ExprId, SecondOrderError> {
        let (dep, rest): (Vec<ExprId>, Vec<ExprId>) = xs.iter().partition(|&&x| self.depends(x));
        if dep.len() != 1 {
            return Err(self.unreadable(id));
        }
        let p = match rest.len() {
            0 => return self.matrix(dep[0]),
            1 => rest[0],
            _ => self.s.hadamard(&rest, &[])?,
        };
        self.rules.push(RuleId::V2);
        let m = self.matrix(dep[0])?;
        self.scaled_by(p, m, id)
    }

    fn mul(&mut self, id: ExprId, xs: &[ExprId]) -> Result<ExprId, SecondOrderError> {
        let deps: Vec<usize> = (0..xs.len()).filter(|&i| self.depends(xs[i])).collect();
        if deps.len() != 1 {
            return Err(self.unreadable(id));
        }
        let i = deps[0];
        let f = xs[i];
        let (before, after) = (&xs[..i], &xs[i + 1..]);
        if let Node::Add(terms) = self.s.pool.node(f).clone() {
            // `A*(L1 + L2)*B = A*L1*B + A*L2*B` (rule D1 read backwards).
            let mut ms = Vec::new();
            for t in terms.iter() {
                let mut factors = before.to_vec();
                factors.push(*t);
                factors.extend_from_slice(after);
                let p = self.s.mul(&factors)?;
                ms.push(self.matrix(p)?);
            }
            return Ok(self.s.add(&ms)?);
        }
        let fs = self.shape(f);
        if fs.is_scalar() {
            // `A*s*B = (A*B)*s` with `s` a scalar linear form (rule V3).
            let mut rest: Vec<ExprId> = before.to_vec();
            rest.extend_from_slice(after);
            let p = self.product(&rest)?;
            let m = self.matrix(f)?;
            if !self.shape(p).is_scalar() {
                self.rules.push(RuleId::V3);
            }
            return Ok(self.s.mul(&[p, m])?);
        }
        let b = self.product(after)?;
        if fs.cols == Dim::ONE && self.shape(b).is_scalar() {
            // `A*L*b = b*A*L` (rule V1 with B = b).
            self.rules.push(RuleId::V1);
            let m = self.matrix(f)?;
            let mut factors = before.to_vec();
            factors.push(m);
            let am = self.product(&factors)?;
            return Ok(self.s.mul(&[b, am])?);
        }
        if fs.rows == Dim::ONE && self.shape(b).cols == Dim::ONE {
            // `A*(l'*b) = A*b'*l` with `l` a column.
            self.rules.push(RuleId::V1);
            let lt = self.s.transpose(f)?;
            let m = self.matrix(lt)?;
            let bt = self.s.transpose(b)?;
            let mut factors = before.to_vec();
            factors.extend([bt, m]);
            return self.product(&factors);
        }
        if let Node::Diag(u) = self.s.pool.node(f).clone() {
            if self.shape(u).cols == Dim::ONE && self.shape(b).cols == Dim::ONE {
                // `A*diag(u)*b = A*diag(b)*u` (rule V2).
                self.rules.push(RuleId::V2);
                let m = self.matrix(u)?;
                let db = self.s.pool.intern(Node::Diag(b))?;
                let mut factors = before.to_vec();
                factors.extend([db, m]);
                return self.product(&factors);
            }
        }
        Err(self.unreadable(id))
    }
}
