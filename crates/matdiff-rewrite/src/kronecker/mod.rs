//! Kronecker (vec) forms: the Hessian of a scalar with respect to a matrix variable and the
//! Jacobian of a matrix-valued function, read off a linear map of a direction with the vec
//! identities (Magnus and Neudecker).
//!
//! The linear map comes from [`hvp`] (`H[V]`, rule H1) or from the gradient `J'*U` of
//! `tr(U'*F)` (rule J1). Its matrix is read off term by term: `A*V*B` gives `B' ⊗ A` (V1),
//! `P .* V` gives `diag(vec(P))` (V2), `V'` gives the commutation matrix (V4), a scalar linear
//! form `tr(Q'*V)` times a matrix `P` gives `vec(P)*vec(Q)'` (V6); products of such
//! maps are tidied with the Kronecker algebra (V5): `(A ⊗ B)*(C ⊗ D) = A*C ⊗ B*D`, and the
//! commutation matrix moves to the right, `K*(A ⊗ B) = (B ⊗ A)*K`.
//! Layout: the Jacobian is `∂vec(F)/∂vec(X)'` (pq x mn), the Hessian `∂²f/∂vec(X)∂vec(X)'`,
//! vec stacking columns.
//!
//! A form is a typed value ([`VecTerm`]s of [`VecFactor`]s whose matrices are expressions of
//! the pool), printed in the notation of the literature with `⊗`, `diag(vec(P))` and
//! `commutation(m, n)`; in the plain style that text is an expression of the language (`⊗` is
//! its infix `kron`), which parses and evaluates (the catalog `tests/kronecker/` checks it).

use matdiff_expr::{Dim, Expr, ExprId, ExprPool, Node, Num, Printer, Shape, Structure, Style};
pub use matdiff_expr::{VecFactor, VecTerm};

use crate::derive::{derive, DeriveOptions};
use crate::rules::RuleId;
use crate::second_order::{
    fresh_name, hvp, keeping, mark_direction, variable_shape, SecondKind, SecondOrderError,
};
use crate::simplify::Simplifier;
use crate::SecondOrder;

mod algebra;
use algebra::{merge, normalise, transpose_factor};

/// A Hessian or Jacobian in Kronecker form, with the derivation it is read off.
#[derive(Clone, Debug)]
pub struct KroneckerForm {
    /// [`SecondKind::Hessian`] or [`SecondKind::Jacobian`].
    pub kind: SecondKind,
    /// The derivation of the linear map: `H[V]` (Hessian) or `J'*U` (Jacobian, whose
    /// `result` is that gradient).
    pub derivation: SecondOrder,
    /// The terms, summed.
    pub terms: Vec<VecTerm>,
    /// The rules of the read-off.
    pub rules: Vec<RuleId>,
    /// The zero matrix of the form's shape, `vec(F)` by `vec(X)` entries: its text when there
    /// are no terms.
    pub(crate) zero: ExprId,
}

impl KroneckerForm {
    /// The shape of the form's dense matrix: `len(vec(F))` (the gradient's for a Hessian) by
    /// `len(vec(X))`.
    ///
    /// ```
    /// use matdiff_expr::{Dim, ExprPool};
    /// use matdiff_rewrite::{jacobian_kronecker, DeriveOptions};
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse_with("A*X", &[matdiff_expr::Decl::sized("A", 2, 3), matdiff_expr::Decl::sized("X", 3, 4)]).unwrap();
    /// let j = jacobian_kronecker(&mut pool, &e, "X", &DeriveOptions::default()).unwrap();
    /// let shape = j.dense_shape(&pool);
    /// assert_eq!((shape.rows, shape.cols), (Dim::Known(8), Dim::Known(12)));
    /// ```
    pub fn dense_shape(&self, pool: &ExprPool) -> Shape {
        pool.shape(self.zero)
    }
}

/// The Hessian `∂²f/∂vec(X)∂vec(X)'` of the scalar `expr` with respect to the matrix `wrt`, in
/// Kronecker form, read off the Hessian-vector product.
///
/// ```
/// use matdiff_expr::{ExprPool, Style};
/// use matdiff_rewrite::{hessian_kronecker, DeriveOptions};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("tr(X'*A*X)").unwrap();
/// let h = hessian_kronecker(&mut pool, &e, "X", &DeriveOptions::default()).unwrap();
/// assert_eq!(h.text(&pool, Style::Plain), "eye(cols(X)) ⊗ (A + A')");
/// ```
pub fn hessian_kronecker(
    pool: &mut ExprPool,
    expr: &Expr,
    wrt: &str,
    options: &DeriveOptions,
) -> Result<KroneckerForm, SecondOrderError> {
    refuse_structured(
        pool,
        wrt,
        "Hessian",
        "ask for the Hessian-vector product (--hvp V)",
    )?;
    let direction = fresh_name(pool, "V");
    let mut derivation = hvp(pool, expr, wrt, &direction, options)?;
    // No size of the form is named after the direction, which the form does not show.
    mark_direction(pool, &direction);
    derivation.kind = SecondKind::Hessian;
    let (terms, rules) = read_off(pool, derivation.result, &direction, &derivation.bindings)?;
    let x = variable_shape(pool, wrt)?;
    check_sizes(pool, &terms, x, x, &direction)?;
    Ok(KroneckerForm {
        kind: SecondKind::Hessian,
        derivation,
        terms,
        rules,
        zero: zero_between(pool, x, x)?,
    })
}

/// The Jacobian `∂vec(F)/∂vec(X)'` of the matrix-valued `expr` with respect to the matrix (or
/// vector) `wrt`, in Kronecker form: the transpose of the map `U ↦ J'*U`, the gradient of
/// `tr(U'*F)` (rule J1).
///
/// ```
/// use matdiff_expr::{ExprPool, Style};
/// use matdiff_rewrite::{jacobian_kronecker, DeriveOptions};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("inv(X)").unwrap();
/// let j = jacobian_kronecker(&mut pool, &e, "X", &DeriveOptions::default()).unwrap();
/// assert_eq!(j.text(&pool, Style::Plain), "-(inv(X)' ⊗ inv(X))");
/// ```
pub fn jacobian_kronecker(
    pool: &mut ExprPool,
    expr: &Expr,
    wrt: &str,
    options: &DeriveOptions,
) -> Result<KroneckerForm, SecondOrderError> {
    if pool.shape(expr.root).is_scalar() {
        return Err(SecondOrderError::ScalarJacobian);
    }
    refuse_structured(
        pool,
        wrt,
        "Jacobian",
        "use grad with --upstream for its products with a matrix",
    )?;
    let direction = fresh_name(pool, "U");
    let upstream = DeriveOptions {
        upstream: Some(direction.clone()),
        ..options.clone()
    };
    let first = derive(pool, expr, wrt, &upstream)?;
    mark_direction(pool, &direction);
    let (transposed, mut rules) = read_off(pool, first.gradient, &direction, &first.bindings)?;
    let mut s = keeping(Simplifier::new(pool), &first.bindings, first.gradient);
    let mut terms = Vec::new();
    for t in transposed {
        let mut factors = Vec::new();
        for f in t.factors.iter().rev() {
            factors.push(transpose_factor(&mut s, f)?);
        }
        terms.push(VecTerm {
            scale: t.scale,
            factors: normalise(&mut s, factors)?,
        });
    }
    let terms = merge(&mut s, terms)?;
    let x = variable_shape(pool, wrt)?;
    let to = pool.shape(expr.root);
    check_sizes(pool, &terms, x, to, &direction)?;
    let zero = zero_between(pool, x, to)?;
    rules.insert(0, RuleId::J1);
    let bindings = first.bindings.clone();
    Ok(KroneckerForm {
        kind: SecondKind::Jacobian,
        derivation: SecondOrder {
            kind: SecondKind::Jacobian,
            function: expr.root,
            wrt: wrt.to_string(),
            direction,
            result: first.gradient,
            first,
            second: None,
            bindings,
            readoff: None,
        },
        terms,
        rules,
        zero,
    })
}

/// The zero matrix from `vec` of a `from`-shaped matrix to `vec` of a `to`-shaped one:
/// `len(vec(to))` by `len(vec(from))`.
fn zero_between(pool: &mut ExprPool, from: Shape, to: Shape) -> Result<ExprId, SecondOrderError> {
    let rows = pool.dim_product(to.rows, to.cols);
    let cols = pool.dim_product(from.rows, from.cols);
    Ok(Simplifier::new(pool).zero(Shape { rows, cols })?)
}

/// The length of `vec(M)` for `M` of this shape: the product of its known sizes, and its
/// symbolic factors sorted (`I` of `m*n` rows and an `m` x `n` matrix have vecs of one length).
fn vec_length(pool: &ExprPool, shape: Shape) -> (u64, Vec<Dim>) {
    let mut known = 1u64;
    let mut symbolic = Vec::new();
    for d in [shape.rows, shape.cols] {
        for f in pool.dim_factors(d) {
            match f {
                Dim::Known(k) => known = known.saturating_mul(k),
                _ => symbolic.push(f),
            }
        }
    }
    symbolic.sort();
    (known, symbolic)
}

/// The shapes a factor maps from and to (`vec` of the first to `vec` of the second).
fn factor_shapes(pool: &ExprPool, f: &VecFactor) -> (Shape, Shape) {
    match f {
        VecFactor::Kron { left, right } => {
            let (l, r) = (pool.shape(*left), pool.shape(*right));
            (Shape::new(r.cols, l.cols), Shape::new(r.rows, l.rows))
        }
        VecFactor::DiagVec(p) => (pool.shape(*p), pool.shape(*p)),
        VecFactor::Outer { col, row } => (pool.shape(*row), pool.shape(*col)),
        VecFactor::Commutation { rows, cols } => {
            (Shape::new(*rows, *cols), Shape::new(*cols, *rows))
        }
    }
}

/// Checks that every term maps `vec` of `from` to `vec` of `to` through factors whose sizes
/// fit: a read-off that does not is refused rather than printed.
fn check_sizes(
    pool: &ExprPool,
    terms: &[VecTerm],
    from: Shape,
    to: Shape,
    direction: &str,
) -> Result<(), SecondOrderError> {
    for t in terms {
        let mut expected = vec_length(pool, to);
        for f in &t.factors {
            let (input, output) = factor_shapes(pool, f);
            if vec_length(pool, output) != expected {
                return Err(SecondOrderError::NotReadable {
                    expr: "a Kronecker form whose sizes do not fit".to_string(),
                    direction: direction.to_string(),
                });
            }
            expected = vec_length(pool, input);
        }
        if expected != vec_length(pool, from) || !pool.shape(t.scale).is_scalar() {
            return Err(SecondOrderError::NotReadable {
                expr: "a Kronecker form whose sizes do not fit".to_string(),
                direction: direction.to_string(),
            });
        }
    }
    Ok(())
}

/// Refuses a symmetric or diagonal variable: the map read off would act on every entry of a
/// direction, where the structure allows only its free entries.
fn refuse_structured(
    pool: &ExprPool,
    wrt: &str,
    what: &'static str,
    hint: &'static str,
) -> Result<(), SecondOrderError> {
    variable_shape(pool, wrt)?;
    let info = pool
        .find_symbol(wrt)
        .and_then(|s| pool.var_info(s))
        .expect("a variable");
    let structure = match info.structure {
        Structure::Diagonal => "diagonal",
        _ if info.symmetric => "symmetric",
        _ => return Ok(()),
    };
    Err(SecondOrderError::StructuredKronecker {
        what,
        wrt: wrt.to_string(),
        structure,
        hint,
    })
}

impl KroneckerForm {
    /// The form in the notation of the literature, with the derivation's `where` bindings.
    pub fn text(&self, pool: &ExprPool, style: Style) -> String {
        let printer = Printer::new(pool, style).with_bindings(&self.derivation.bindings);
        let notation = Notation::of(style);
        let mut out = String::new();
        if self.terms.is_empty() {
            // A zero of the form's shape, as a zero gradient is: it evaluates on its own, and
            // uses none of the derivation's bindings.
            return Printer::new(pool, style).print(self.zero);
        }
        let single = self.terms.len() == 1;
        for (i, t) in self.terms.iter().enumerate() {
            let (negative, scale) = match pool.node(t.scale) {
                Node::Num(c) if c.get() == 1.0 => (false, None),
                Node::Num(c) if c.get() == -1.0 => (true, None),
                Node::Num(c) if c.get() < 0.0 => (
                    true,
                    Some(Num::new(-c.get()).map_or_else(String::new, |n| n.to_string())),
                ),
                Node::Neg(a) => (true, Some(scale_operand(pool, &printer, *a))),
                _ => (false, Some(scale_operand(pool, &printer, t.scale))),
            };
            out.push_str(match (i, negative) {
                (0, false) => "",
                (0, true) => "-",
                (_, false) => " + ",
                (_, true) => " - ",
            });
            let bare = single && scale.is_none() && !negative && t.factors.len() == 1
                || self.terms.len() > 1 && scale.is_none() && t.factors.len() == 1;
            if let Some(c) = scale {
                out.push_str(&c);
                out.push_str(notation.times);
            }
            let texts: Vec<String> = t
                .factors
                .iter()
                .map(|f| factor_text(pool, &printer, &notation, f, bare))
                .collect();
            out.push_str(&texts.join(notation.times));
        }
        out.push_str(&self.where_list(&printer));
        out
    }

    /// The `where` list of the bindings, printed after the linear map the form is read off
    /// (`H[V]`, `J'*U`), which holds every binding: the sizes of its `ones` and `I` are found
    /// there.
    fn where_list(&self, printer: &Printer) -> String {
        let root = self.derivation.result;
        let full = printer.print(root);
        let body = printer.print_body(root);
        full.strip_prefix(&body).unwrap_or_default().to_string()
    }

    /// The read-off line that ends the derivation's steps: `∂²f/∂vec(X)∂vec(X)' = ...` with
    /// the rules used.
    pub fn readoff_line(&self, pool: &ExprPool, style: Style) -> String {
        let x = &self.derivation.wrt;
        let lhs = match self.kind {
            SecondKind::Jacobian => format!("∂vec(F)/∂vec({x})'"),
            _ => format!("∂²f/∂vec({x})∂vec({x})'"),
        };
        let why = self
            .rules
            .iter()
            .map(|id| format!("{id} {}", id.rule().name))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{lhs} = {}   {why}", self.text(pool, style))
    }

    /// The derivation as Markdown with LaTeX: the derivation of the linear map, then the
    /// read-off.
    pub fn markdown(&self, pool: &ExprPool) -> String {
        let mut out = self.derivation.markdown(pool);
        let x = &self.derivation.wrt;
        let lhs = match self.kind {
            SecondKind::Jacobian => format!(
                "\\frac{{\\partial \\operatorname{{vec}} F}}{{\\partial \\operatorname{{vec}}({x})^T}}"
            ),
            _ => format!(
                "\\frac{{\\partial^2 f}}{{\\partial \\operatorname{{vec}}({x})\\,\\partial \\operatorname{{vec}}({x})^T}}"
            ),
        };
        out.push_str(&format!(
            "\nRead off with the vec identities ({}):\n\n$$\n{lhs} = {}\n$$\n",
            self.rules
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            self.text(pool, Style::Latex)
        ));
        out
    }

    /// The derivation of the linear map, then the read-off line.
    pub fn display(&self, pool: &ExprPool, style: Style) -> String {
        let mut out = self.derivation.display(pool, style);
        out.push('\n');
        out.push_str(&self.readoff_line(pool, style));
        out.push('\n');
        out
    }
}

/// The symbols of a style: `*`, `⊗`, `vec`, `diag`, the transposed row, the commutation matrix.
struct Notation {
    times: &'static str,
    kron: &'static str,
    vec: &'static str,
    diag: &'static str,
    row_transposed: &'static str,
    latex: bool,
}

impl Notation {
    fn of(style: Style) -> Notation {
        match style {
            Style::Latex => Notation {
                times: " ",
                kron: " \\otimes ",
                vec: "\\operatorname{vec}",
                diag: "\\operatorname{diag}",
                row_transposed: "^T",
                latex: true,
            },
            Style::Unicode => Notation {
                times: "·",
                kron: " ⊗ ",
                vec: "vec",
                diag: "diag",
                row_transposed: "ᵀ",
                latex: false,
            },
            _ => Notation {
                times: "*",
                kron: " ⊗ ",
                vec: "vec",
                diag: "diag",
                row_transposed: "'",
                latex: false,
            },
        }
    }

    fn commutation(&self, rows: String, cols: String) -> String {
        if self.latex {
            let tex = |s: String| {
                s.replace("rows(", "\\operatorname{rows}(")
                    .replace("cols(", "\\operatorname{cols}(")
            };
            format!("K_{{{},{}}}", tex(rows), tex(cols))
        } else {
            format!("commutation({rows}, {cols})")
        }
    }
}

fn one() -> Num {
    Num::new(1.0).expect("finite")
}

/// An operand of `*` or `⊗`: parenthesised when it is a sum, a negation or a quotient.
fn operand(pool: &ExprPool, printer: &Printer, id: ExprId) -> String {
    let text = printer.print_body(id);
    let bound = text.chars().all(|c| c.is_alphanumeric() || c == '_');
    match pool.node(id) {
        // `.*` and `⊗` too: `P .* Q` beside a factor would take it into its operand.
        Node::Add(_)
        | Node::Neg(_)
        | Node::Div(_)
        | Node::HDiv(_)
        | Node::Hadamard(_)
        | Node::Kron(_)
            if !bound =>
        {
            format!("({text})")
        }
        _ => text,
    }
}

/// A term's scale as the left operand of `*`: a product with matrix factors (`0.5*b'*b`) in
/// parentheses, or the product would run on into the factor after it (`b'*b*eye(3)`).
fn scale_operand(pool: &ExprPool, printer: &Printer, id: ExprId) -> String {
    let text = operand(pool, printer, id);
    match pool.node(id) {
        Node::Mul(xs) if xs.iter().any(|&x| !pool.shape(x).is_scalar()) => format!("({text})"),
        _ => text,
    }
}

fn factor_text(
    pool: &ExprPool,
    printer: &Printer,
    n: &Notation,
    f: &VecFactor,
    bare: bool,
) -> String {
    match f {
        // `1 ⊗ R` is `R`, `L ⊗ 1` is `L`.
        VecFactor::Kron { left, right } if pool.node(*left) == &Node::Num(one()) => {
            operand(pool, printer, *right)
        }
        VecFactor::Kron { left, right } if pool.node(*right) == &Node::Num(one()) => {
            operand(pool, printer, *left)
        }
        VecFactor::Kron { left, right } => {
            let text = format!(
                "{}{}{}",
                operand(pool, printer, *left),
                n.kron,
                operand(pool, printer, *right)
            );
            if bare {
                text
            } else {
                format!("({text})")
            }
        }
        VecFactor::DiagVec(p) => format!("{}({}({}))", n.diag, n.vec, printer.print_body(*p)),
        VecFactor::Outer { col, row } => format!(
            "{v}({}){}{v}({}){}",
            printer.print_body(*col),
            n.times,
            printer.print_body(*row),
            n.row_transposed,
            v = n.vec
        ),
        VecFactor::Commutation { rows, cols } => n.commutation(
            size_text(pool, printer, *rows),
            size_text(pool, printer, *cols),
        ),
    }
}

/// A size as the language writes it: a number, `rows(A)`/`cols(A)` of a variable of the
/// user's, a quotient or product of those (the dimension's name when none has it; a direction
/// the rewriter made never names one, as `cols(U)` would not parse).
fn size_text(pool: &ExprPool, printer: &Printer, d: Dim) -> String {
    printer.size_text(d).unwrap_or_else(|| pool.dim_str(d))
}

/// The matrix `M` of a column `linear`, linear in the column `direction` (`linear =
/// M*direction`), read off as a Kronecker form and multiplied out into one expression: the
/// dense read-off's fallback where a matrix (`diag(v)*C`, `V*B`) stands between the direction
/// and the column. Returns `M`, simplified, and the rules used.
pub(crate) fn matrix_of_column(
    pool: &mut ExprPool,
    linear: ExprId,
    direction: &str,
    keep: &[(String, ExprId)],
) -> Result<(ExprId, Vec<RuleId>), SecondOrderError> {
    let (terms, rules) = read_off(pool, linear, direction, keep)?;
    if terms.is_empty() {
        let v = pool.find_symbol(direction).expect("declared direction");
        let from = pool.var_info(v).expect("a variable").shape;
        let to = pool.shape(linear);
        return Ok((zero_between(pool, from, to)?, rules));
    }
    let mut s = keeping(Simplifier::new(pool), keep, linear);
    let mut sum = Vec::with_capacity(terms.len());
    for term in &terms {
        let mut factors = vec![term.scale];
        for f in &term.factors {
            factors.push(factor_matrix(&mut s, f)?);
        }
        sum.push(s.mul(&factors)?);
    }
    Ok((s.add(&sum)?, rules))
}

/// A factor of a vec form as the matrix it is.
fn factor_matrix(s: &mut Simplifier<'_>, f: &VecFactor) -> Result<ExprId, SecondOrderError> {
    Ok(match *f {
        VecFactor::Kron { left, right } => s.kron(left, right)?,
        VecFactor::DiagVec(p) => {
            let v = s.vec(p)?;
            s.pool.intern(Node::Diag(v))?
        }
        VecFactor::Outer { col, row } => {
            let c = s.vec(col)?;
            let r = s.vec(row)?;
            let rt = s.transpose(r)?;
            s.mul(&[c, rt])?
        }
        VecFactor::Commutation { rows, cols } => s.pool.intern(Node::Commutation(rows, cols))?,
    })
}

/// The terms of `linear`, a matrix linear in the variable `direction`:
/// `vec(linear) = Σ term*vec(direction)`. Returns them with the rules used.
fn read_off(
    pool: &mut ExprPool,
    linear: ExprId,
    direction: &str,
    keep: &[(String, ExprId)],
) -> Result<(Vec<VecTerm>, Vec<RuleId>), SecondOrderError> {
    let sym = pool.find_symbol(direction).expect("declared direction");
    let v = pool.intern(Node::Var(sym))?;
    let mut r = ReadOff {
        s: keeping(Simplifier::new(pool), keep, linear),
        v,
        direction,
        rules: Vec::new(),
    };
    let raw = r.terms(linear)?;
    let mut terms = Vec::new();
    for t in raw {
        let factors = normalise(&mut r.s, t.factors)?;
        terms.push(VecTerm {
            scale: r.s.simplify(t.scale)?,
            factors,
        });
    }
    let terms = merge(&mut r.s, terms)?;
    let mut rules = r.rules;
    if terms
        .iter()
        .any(|t| t.factors.len() > 1 || matches!(t.factors[0], VecFactor::Commutation { .. }))
    {
        rules.push(RuleId::V5);
    }
    rules.sort_unstable();
    rules.dedup();
    Ok((terms, rules))
}

struct ReadOff<'p, 'd> {
    s: Simplifier<'p>,
    v: ExprId,
    direction: &'d str,
    rules: Vec<RuleId>,
}

impl ReadOff<'_, '_> {
    fn depends(&self, id: ExprId) -> bool {
        crate::second_order::depends_on(self.s.pool, id, self.v)
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

    fn identity(&mut self, n: Dim) -> Result<ExprId, SecondOrderError> {
        Ok(self.s.pool.intern(Node::Identity(n))?)
    }

    /// `factor` applied after each of `terms`.
    fn then(&mut self, factor: VecFactor, terms: Vec<VecTerm>) -> Vec<VecTerm> {
        terms
            .into_iter()
            .map(|mut t| {
                t.factors.insert(0, factor.clone());
                t
            })
            .collect()
    }

    fn scaled(&mut self, c: ExprId, terms: Vec<VecTerm>) -> Result<Vec<VecTerm>, SecondOrderError> {
        terms
            .into_iter()
            .map(|t| {
                Ok(VecTerm {
                    scale: self.s.mul(&[c, t.scale])?,
                    factors: t.factors,
                })
            })
            .collect()
    }

    /// The terms of `id`, a matrix (not a scalar) linear in the direction.
    fn terms(&mut self, id: ExprId) -> Result<Vec<VecTerm>, SecondOrderError> {
        if !self.depends(id) {
            return Ok(Vec::new());
        }
        let shape = self.shape(id);
        if id == self.v {
            let left = self.identity(shape.cols)?;
            let right = self.identity(shape.rows)?;
            let one = self.s.pool.num(1.0);
            return Ok(vec![VecTerm {
                scale: one,
                factors: vec![VecFactor::Kron { left, right }],
            }]);
        }
        if shape.is_scalar() {
            // A scalar linear form times a matrix has an outer-product term: not written.
            return Err(self.unreadable(id));
        }
        match self.s.pool.node(id).clone() {
            Node::Add(xs) => {
                let mut out = Vec::new();
                for x in xs.iter() {
                    out.extend(self.terms(*x)?);
                }
                Ok(out)
            }
            Node::Neg(a) => {
                let terms = self.terms(a)?;
                let minus = self.s.pool.num(-1.0);
                self.scaled(minus, terms)
            }
            Node::Div([a, c]) if !self.depends(c) => {
                let terms = self.terms(a)?;
                let one = self.s.pool.num(1.0);
                let inv = self.s.pool.intern(Node::Div([one, c]))?;
                self.scaled(inv, terms)
            }
            Node::Transpose(a) => {
                self.rules.push(RuleId::V4);
                let inner = self.shape(a);
                let terms = self.terms(a)?;
                Ok(self.then(
                    VecFactor::Commutation {
                        rows: inner.rows,
                        cols: inner.cols,
                    },
                    terms,
                ))
            }
            Node::Mul(xs) => self.mul(id, &xs),
            Node::Hadamard(xs) => {
                let (dep, rest): (Vec<ExprId>, Vec<ExprId>) =
                    xs.iter().partition(|&&x| self.depends(x));
                if dep.len() != 1 {
                    return Err(self.unreadable(id));
                }
                let p = self.s.hadamard(&rest, &[])?;
                self.hadamard_by(p, dep[0], id)
            }
            Node::HDiv([a, b]) if !self.depends(b) => {
                let one = self.s.pool.num(1.0);
                let p = self.s.hdiv(one, b)?;
                self.hadamard_by(p, a, id)
            }
            // `tril(A) = tril(ones*ones') .* A` (rule V2).
            Node::Tri(triangle, a) => {
                let n = self.shape(a).rows;
                let ones = self.s.pool.intern(Node::Ones(n))?;
                let ones_t = self.s.transpose(ones)?;
                let square = self.s.mul(&[ones, ones_t])?;
                let mask = self.s.pool.intern(Node::Tri(triangle, square))?;
                self.hadamard_by(mask, a, id)
            }
            Node::Diag(a) => self.diag(a),
            _ => Err(self.unreadable(id)),
        }
    }

    /// `diag(u)` of a column: `vec(diag(u)) = diag(vec(I))*(ones ⊗ I)*u`, as `diag(u) = I .*
    /// (u*ones')`; `diag(A)` of a square matrix: `diag(A) = (I .* A)*ones`, so
    /// `(ones' ⊗ I)*diag(vec(I))*vec(A)` (rules V1, V2).
    fn diag(&mut self, a: ExprId) -> Result<Vec<VecTerm>, SecondOrderError> {
        let n = self.shape(a).rows;
        let identity = self.identity(n)?;
        let ones = self.s.pool.intern(Node::Ones(n))?;
        let terms = self.terms(a)?;
        self.rules.extend([RuleId::V1, RuleId::V2]);
        if self.shape(a).cols == Dim::ONE {
            let spread = VecFactor::Kron {
                left: ones,
                right: identity,
            };
            let terms = self.then(spread, terms);
            Ok(self.then(VecFactor::DiagVec(identity), terms))
        } else {
            let ones_t = self.s.transpose(ones)?;
            let terms = self.then(VecFactor::DiagVec(identity), terms);
            let gather = VecFactor::Kron {
                left: ones_t,
                right: identity,
            };
            Ok(self.then(gather, terms))
        }
    }

    /// `P .* L`: `diag(vec(P))` after L's terms, or a scale (rule V2).
    fn hadamard_by(
        &mut self,
        p: ExprId,
        l: ExprId,
        id: ExprId,
    ) -> Result<Vec<VecTerm>, SecondOrderError> {
        if self.shape(l).is_scalar() {
            return self.outer(p, l, id);
        }
        let terms = self.terms(l)?;
        if self.shape(p).is_scalar() {
            return self.scaled(p, terms);
        }
        self.rules.push(RuleId::V2);
        Ok(self.then(VecFactor::DiagVec(p), terms))
    }

    /// `P*s` for a scalar `s` linear in the direction: `vec(P)*vec(Q)'` with `Q = ∂s/∂V`, the
    /// gradient derived like any other (rule V6).
    fn outer(
        &mut self,
        p: ExprId,
        scalar: ExprId,
        id: ExprId,
    ) -> Result<Vec<VecTerm>, SecondOrderError> {
        if self.depends(p) || self.shape(p).is_scalar() {
            return Err(self.unreadable(id));
        }
        let form = Expr {
            root: scalar,
            bindings: Vec::new(),
        };
        let d = derive(
            self.s.pool,
            &form,
            self.direction,
            &DeriveOptions::default(),
        )?;
        if self.depends(d.gradient) {
            return Err(self.unreadable(id));
        }
        self.rules.push(RuleId::V6);
        let one = self.s.pool.num(1.0);
        Ok(vec![VecTerm {
            scale: one,
            factors: vec![VecFactor::Outer {
                col: p,
                row: d.gradient,
            }],
        }])
    }

    /// `A*L*B`: `B' ⊗ A` after L's terms (rule V1).
    fn mul(&mut self, id: ExprId, xs: &[ExprId]) -> Result<Vec<VecTerm>, SecondOrderError> {
        let deps: Vec<usize> = (0..xs.len()).filter(|&i| self.depends(xs[i])).collect();
        if deps.len() != 1 {
            return Err(self.unreadable(id));
        }
        let i = deps[0];
        let f = xs[i];
        if self.shape(f).is_scalar() {
            let rest: Vec<ExprId> = xs[..i].iter().chain(&xs[i + 1..]).copied().collect();
            let p = self.s.mul(&rest)?;
            return self.outer(p, f, id);
        }
        // Scalar factors anywhere (`X*V*3`) scale the term.
        let is_scalar = |x: &&ExprId| self.shape(**x).is_scalar();
        let scalars: Vec<ExprId> = xs.iter().filter(is_scalar).copied().collect();
        let before: Vec<ExprId> = xs[..i].iter().filter(|x| !is_scalar(x)).copied().collect();
        let after: Vec<ExprId> = xs[i + 1..]
            .iter()
            .filter(|x| !is_scalar(x))
            .copied()
            .collect();
        let right = match before.len() {
            0 => self.identity(self.shape(f).rows)?,
            _ => self.s.mul(&before)?,
        };
        let left = match after.len() {
            0 => self.identity(self.shape(f).cols)?,
            _ => {
                let b = self.s.mul(&after)?;
                self.s.transpose(b)?
            }
        };
        self.rules.push(RuleId::V1);
        let terms = self.terms(f)?;
        let terms = self.then(VecFactor::Kron { left, right }, terms);
        match scalars.len() {
            0 => Ok(terms),
            _ => {
                let c = self.s.mul(&scalars)?;
                self.scaled(c, terms)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `X ⊗ 3` (the read-off of `X*V*3` with the scalar taken for a matrix) maps vec of an
    /// n-vector, not of an n x n matrix: refused, not printed.
    #[test]
    fn a_form_whose_sizes_do_not_fit_is_refused() {
        let mut pool = ExprPool::new();
        let e = pool.parse("tr(X^3)").unwrap();
        let x = pool.shape(e.root);
        assert!(x.is_scalar());
        let x = variable_shape(&pool, "X").unwrap();
        let (three, xid) = (pool.num(3.0), pool.parse("X").unwrap().root);
        let bad = VecTerm {
            scale: pool.num(1.0),
            factors: vec![VecFactor::Kron {
                left: xid,
                right: three,
            }],
        };
        assert!(matches!(
            check_sizes(&pool, &[bad], x, x, "V"),
            Err(SecondOrderError::NotReadable { .. })
        ));
        let identity = pool.intern(Node::Identity(x.rows)).unwrap();
        let good = VecTerm {
            scale: three,
            factors: vec![VecFactor::Kron {
                left: xid,
                right: identity,
            }],
        };
        assert!(check_sizes(&pool, &[good], x, x, "V").is_ok());
    }
}
