//! Printers: plain (the input syntax, re-parseable), Unicode and LaTeX, with minimal parentheses.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write};

use crate::node::{Dim, ExprId, Fun, Func, Node, Num, Reduce, Symbol};
use crate::pool::ExprPool;

mod size_names;
mod vec_ops;

/// How to print.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Style {
    /// The input syntax: `a'*X*b`, `(a .* exp(X*b))*b'`. Re-parses to the same node.
    Plain,
    /// Unicode: `aᵀ·X·b`, `(a ⊙ exp(X·b))·bᵀ`, `σ`.
    Unicode,
    /// LaTeX in the seed's notation: `a^T X b`, `\odot`, `\operatorname{tr}`.
    Latex,
}

/// Binding strength of a printed form; a child binding less tightly than its context needs
/// parentheses.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Prec {
    Sum = 1,
    Neg = 2,
    Product = 3,
    Power = 4,
    Postfix = 5,
    Atom = 6,
}

/// A printer of one pool: a style and names for shared subexpressions (`where` bindings).
///
/// ```
/// use matdiff_expr::{ExprPool, Printer, Style};
/// let mut pool = ExprPool::new();
/// let e = pool.parse("(a .* exp(X*b))*b'").unwrap();
/// assert_eq!(Printer::new(&pool, Style::Plain).print(e.root), "(a .* exp(X*b))*b'");
/// assert_eq!(Printer::new(&pool, Style::Unicode).print(e.root), "(a ⊙ exp(X·b))·bᵀ");
/// assert_eq!(Printer::new(&pool, Style::Latex).print(e.root), "\\left(a \\odot \\exp\\left(X b\\right)\\right) b^T");
/// ```
pub struct Printer<'a> {
    pool: &'a ExprPool,
    style: Style,
    names: HashMap<ExprId, String>,
    order: Vec<(String, ExprId)>,
    renames: HashMap<Symbol, String>,
    /// Writing stops once the output is this long (see [`Printer::print_prefix`]).
    limit: usize,
    /// `ones` and `I` written with their size, in the plain style (see [`Printer::print`]).
    sized: RefCell<HashSet<ExprId>>,
    /// `rows(A)` or `cols(A)` for each symbolic dimension of a variable, made when first needed.
    dim_names: OnceCell<HashMap<Dim, String>>,
    /// Whether a size that must be written had no name (see [`Printer::print_complete`]).
    unnamed: Cell<bool>,
}

impl<'a> Printer<'a> {
    /// A printer with no bindings.
    pub fn new(pool: &'a ExprPool, style: Style) -> Printer<'a> {
        Printer {
            pool,
            style,
            names: HashMap::new(),
            order: Vec::new(),
            renames: HashMap::new(),
            limit: usize::MAX,
            sized: RefCell::new(HashSet::new()),
            dim_names: OnceCell::new(),
            unnamed: Cell::new(false),
        }
    }

    /// The first `max_len` bytes (or fewer, at a character boundary) of the expression alone,
    /// in time proportional to `max_len` rather than to the expression: a cheap sort key.
    pub fn print_prefix(mut self, id: ExprId, max_len: usize) -> String {
        self.limit = max_len;
        // Room for the prefix and the token that crosses the limit, so it is never regrown.
        let mut out = String::with_capacity(max_len.saturating_add(32).min(1 << 12));
        // Writing fails once the limit is reached; what was written is the prefix.
        let _ = self.write_top(&mut out, id, None);
        if out.len() > max_len {
            let mut end = max_len;
            while !out.is_char_boundary(end) {
                end -= 1;
            }
            out.truncate(end);
        }
        out
    }

    /// Prints these variables with the given text instead of their names (the text is used as
    /// it is, in any style).
    pub fn with_renames(mut self, renames: HashMap<Symbol, String>) -> Printer<'a> {
        self.renames.extend(renames);
        self
    }

    /// Prints these nodes by name wherever they occur, and lists them after `where`. Leaves
    /// (variables, numbers) are never replaced by a name.
    pub fn with_bindings(mut self, bindings: &[(String, ExprId)]) -> Printer<'a> {
        for (name, id) in bindings {
            let leaf = matches!(
                self.pool.node(*id),
                Node::Var(_) | Node::Num(_) | Node::Identity(_) | Node::Ones(_)
            );
            if !leaf && !self.names.contains_key(id) {
                self.names.insert(*id, name.clone());
            }
            self.order.push((name.clone(), *id));
        }
        self
    }

    /// The expression, followed by its bindings.
    ///
    /// In the plain style every `ones` and `I` whose size nothing else in the text fixes is
    /// written with it (`ones(rows(A))`, `eye(3)`), so that the text parses back to the same
    /// node and evaluates on its own: the derivative of `sum(alpha + A)` with respect to `alpha`
    /// is `cols(A)*rows(A)`, that of `tr(X)` with respect to `X` is `eye(rows(X))`.
    ///
    /// ```
    /// use matdiff_expr::{ExprPool, Printer, Style};
    /// let mut pool = ExprPool::new();
    /// let g = pool.parse("2*(1 + sum(y))*ones(rows(y))").unwrap();
    /// let h = pool.parse("A*ones").unwrap();
    /// let p = Printer::new(&pool, Style::Plain);
    /// assert_eq!(p.print(g.root), "2*(1 + sum(y))*ones(rows(y))");
    /// assert_eq!(p.print(h.root), "A*ones");
    /// ```
    pub fn print(&self, id: ExprId) -> String {
        self.size_constants_of(id);
        let mut out = String::new();
        self.write_top(&mut out, id, None)
            .expect("writing to a String");
        let mut first = true;
        for (name, value) in &self.order {
            out.push_str(match (first, self.style) {
                (true, Style::Latex) => " \\quad \\text{where} \\quad ",
                (true, _) => " where ",
                (false, Style::Latex) => ",\\; ",
                (false, _) => ", ",
            });
            first = false;
            let _ = write!(out, "{} = ", self.name(name));
            self.write_top(&mut out, *value, Some(*value))
                .expect("writing to a String");
        }
        out
    }

    /// [`Printer::print`] in the plain style, or `None` when a size the text must write has no
    /// name (no variable of the user's has it, nor a product of it): such text would not
    /// evaluate on its own.
    ///
    /// ```
    /// use matdiff_expr::{ExprPool, Printer, Style};
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("sum(ones(rows(y)/2)) + sum(unvec(y, 2))").unwrap();
    /// let p = Printer::new(&pool, Style::Plain);
    /// assert_eq!(p.print_complete(e.root).unwrap(), "sum(ones(rows(y)/2)) + sum(unvec(y, 2))");
    /// ```
    pub fn print_complete(&self, id: ExprId) -> Option<String> {
        self.unnamed.set(false);
        let text = self.print(id);
        (!self.unnamed.get()).then_some(text)
    }

    /// The expression alone, with binding names where they occur but no `where` list.
    pub fn print_body(&self, id: ExprId) -> String {
        self.size_constants_of(id);
        let mut out = String::new();
        self.write_top(&mut out, id, None)
            .expect("writing to a String");
        out
    }

    /// Finds the `ones` and `I` of `root` to write with their sizes (plain style only).
    fn size_constants_of(&self, root: ExprId) {
        if self.style == Style::Plain {
            *self.sized.borrow_mut() =
                crate::sizes::unsized_constants(self.pool, root, &self.names);
        }
    }

    fn write_top(&self, out: &mut String, id: ExprId, defining: Option<ExprId>) -> fmt::Result {
        self.write(out, id, Prec::Sum, defining)
    }

    fn name<'n>(&self, name: &'n str) -> std::borrow::Cow<'n, str> {
        match self.style {
            Style::Plain => name.into(),
            Style::Unicode => unicode_name(name).into(),
            Style::Latex => latex_name(name).into(),
        }
    }

    fn prec(&self, id: ExprId) -> Prec {
        if self.names.contains_key(&id) {
            return Prec::Atom;
        }
        if extreme_arguments(self.pool, id).is_some() {
            return Prec::Atom;
        }
        match self.pool.node(id) {
            Node::Num(n) if n.get() < 0.0 => Prec::Neg,
            Node::Var(_) | Node::Num(_) | Node::Identity(_) | Node::Ones(_) => Prec::Atom,
            Node::Apply { .. }
            | Node::Reduce(..)
            | Node::Diag(_)
            | Node::Tri(..)
            | Node::LogSumExpCols(_) => Prec::Atom,
            Node::Inv(_) if self.style == Style::Plain => Prec::Atom,
            Node::Inv(_) => Prec::Postfix,
            Node::Add(_) => Prec::Sum,
            Node::Neg(_) => Prec::Neg,
            Node::Div(_) if self.style == Style::Latex => Prec::Atom,
            Node::Mul(_) | Node::Hadamard(_) | Node::Div(_) | Node::HDiv(_) => Prec::Product,
            Node::Pow(_) | Node::HPow(_) => Prec::Power,
            Node::Transpose(_) => Prec::Postfix,
            node @ (Node::Kron(_)
            | Node::Vectorize(_)
            | Node::Commutation(..)
            | Node::Unvec(..)) => self.vec_op_prec(node),
        }
    }

    /// Writes `id` in a context that needs at least `need`.
    fn write(
        &self,
        out: &mut String,
        id: ExprId,
        need: Prec,
        defining: Option<ExprId>,
    ) -> fmt::Result {
        if out.len() >= self.limit {
            return Err(fmt::Error);
        }
        if defining != Some(id) {
            if let Some(name) = self.names.get(&id) {
                return out.write_str(&self.name(name));
            }
        }
        let p = self.prec(id);
        let paren = p < need && p != Prec::Atom;
        if paren {
            out.write_str(self.open())?;
        }
        self.write_node(out, id)?;
        if paren {
            out.write_str(self.close())?;
        }
        Ok(())
    }

    fn open(&self) -> &'static str {
        if self.style == Style::Latex {
            "\\left("
        } else {
            "("
        }
    }

    fn close(&self) -> &'static str {
        if self.style == Style::Latex {
            "\\right)"
        } else {
            ")"
        }
    }

    /// Writes a child wrapped in parentheses whatever its precedence.
    fn write_paren(&self, out: &mut String, id: ExprId) -> fmt::Result {
        if self.names.contains_key(&id) || self.prec(id) == Prec::Atom {
            return self.write(out, id, Prec::Atom, None);
        }
        out.write_str(self.open())?;
        self.write(out, id, Prec::Sum, None)?;
        out.write_str(self.close())
    }

    fn is_named(&self, id: ExprId) -> bool {
        self.names.contains_key(&id)
    }

    /// Whether a node prints as a product (`*`, `/`) or as an element-wise product (`.*`, `./`);
    /// the two are never mixed without parentheses.
    fn product_kind(&self, id: ExprId) -> Option<bool> {
        if self.is_named(id) {
            return None;
        }
        match self.pool.node(id) {
            Node::Mul(_) | Node::Div(_) => Some(true),
            Node::Hadamard(_) | Node::HDiv(_) => Some(false),
            _ => None,
        }
    }

    /// Writes a factor of a product (`*` when `matrix_product`, else `.*`) or a numerator.
    fn write_factor(
        &self,
        out: &mut String,
        id: ExprId,
        matrix_product: bool,
        first: bool,
    ) -> fmt::Result {
        let named = self.is_named(id);
        let mixed = self.product_kind(id).is_some_and(|k| k != matrix_product);
        // `-A*B` parses as -(A*B), so a negated factor keeps its parentheses.
        let negated = !named && matches!(self.pool.node(id), Node::Neg(_));
        let nested_product = !named && !first && self.prec(id) == Prec::Product;
        // A leading negative number needs parentheses only to parse again (`(-2)*X` is not
        // `-(2*X)`); the display styles write it plainly.
        let leading_number =
            first && self.style != Style::Plain && matches!(self.pool.node(id), Node::Num(_));
        if leading_number {
            self.write_node(out, id)
        } else if mixed || negated || nested_product || self.prec(id) < Prec::Product {
            self.write_paren(out, id)
        } else {
            self.write(out, id, Prec::Product, None)
        }
    }

    /// Writes the base of a power or transpose; in LaTeX a base that ends in a superscript is
    /// braced (`{X^T}^{2}`).
    fn write_base(&self, out: &mut String, id: ExprId) -> fmt::Result {
        let superscripted = matches!(
            self.pool.node(id),
            Node::Transpose(_) | Node::Pow(_) | Node::HPow(_) | Node::Inv(_)
        );
        if self.style == Style::Latex
            && superscripted
            && !self.is_named(id)
            && self.prec(id) >= Prec::Postfix
        {
            out.write_str("{")?;
            self.write(out, id, Prec::Postfix, None)?;
            return out.write_str("}");
        }
        self.write(out, id, Prec::Postfix, None)
    }

    fn write_node(&self, out: &mut String, id: ExprId) -> fmt::Result {
        let pool = self.pool;
        let st = self.style;
        match pool.node(id) {
            Node::Add(_) if extreme_arguments(pool, id).is_some() => {
                let (max, x, y) = extreme_arguments(pool, id).expect("checked");
                let name = if max { "maximum" } else { "minimum" };
                match st {
                    Style::Latex => write!(out, "\\operatorname{{{name}}}\\left(")?,
                    _ => write!(out, "{name}(")?,
                }
                self.write(out, x, Prec::Sum, None)?;
                out.write_str(", ")?;
                self.write(out, y, Prec::Sum, None)?;
                out.write_str(self.close())
            }
            Node::Var(s) => match self.renames.get(s) {
                Some(text) if st == Style::Latex => write!(out, "{{{text}}}"),
                Some(text) => out.write_str(text),
                None => out.write_str(&self.name(pool.name(*s))),
            },
            Node::Num(n) => self.write_num(out, *n),
            Node::Identity(d) | Node::Ones(d) if self.sized.borrow().contains(&id) => {
                let word = if matches!(pool.node(id), Node::Ones(_)) {
                    "ones"
                } else {
                    "eye"
                };
                match self.dim_text(*d) {
                    Some(size) => write!(out, "{word}({size})"),
                    None => {
                        self.unnamed.set(true);
                        out.write_str(if word == "ones" { "ones" } else { "I" })
                    }
                }
            }
            Node::Identity(_) => out.write_str(match st {
                Style::Plain => "I",
                Style::Unicode => "I",
                Style::Latex => "I",
            }),
            Node::Ones(_) => out.write_str(match st {
                Style::Plain => "ones",
                Style::Unicode => "𝟏",
                Style::Latex => "\\mathbf{1}",
            }),
            Node::Neg(a) => {
                out.write_str(if st == Style::Unicode { "−" } else { "-" })?;
                self.write(out, *a, Prec::Product, None)
            }
            Node::Add(xs) => {
                for (k, &x) in xs.iter().enumerate() {
                    let minus = if st == Style::Unicode { " − " } else { " - " };
                    match (k, pool.node(x)) {
                        (0, _) => self.write(out, x, Prec::Neg, None)?,
                        (_, Node::Neg(inner)) if !self.is_named(x) => {
                            out.write_str(minus)?;
                            self.write(out, *inner, Prec::Product, None)?;
                        }
                        (_, Node::Num(n)) if n.get() < 0.0 && !self.is_named(x) => {
                            out.write_str(minus)?;
                            self.write_num(out, Num::new(-n.get()).expect("finite"))?;
                        }
                        _ => {
                            out.write_str(" + ")?;
                            self.write(out, x, Prec::Neg, None)?;
                        }
                    }
                }
                Ok(())
            }
            Node::Mul(xs) => {
                let mut skip = false;
                for (k, &x) in xs.iter().enumerate() {
                    if std::mem::take(&mut skip) {
                        continue;
                    }
                    let count = xs.get(k + 1).and_then(|&next| self.count_text(x, next));
                    if k > 0 {
                        out.write_str(match st {
                            Style::Plain => "*",
                            Style::Unicode => "·",
                            Style::Latex => {
                                let prev_num = matches!(pool.node(xs[k - 1]), Node::Num(_));
                                let this_num = matches!(pool.node(x), Node::Num(_));
                                if prev_num && this_num {
                                    " \\cdot "
                                } else {
                                    " "
                                }
                            }
                        })?;
                    }
                    // A scalar product leading a matrix product keeps its parentheses:
                    // `(a'*b)*X` is one scalar factor, `a'*b*X` a chain.
                    let scalar_head = k == 0
                        && !self.is_named(x)
                        && matches!(pool.node(x), Node::Mul(_))
                        && pool.shape(x).is_scalar()
                        && !pool.shape(id).is_scalar();
                    if let Some(count) = count {
                        // ones'*ones is the number of entries of a dimension: rows(A).
                        out.write_str(&count)?;
                        skip = true;
                    } else if scalar_head {
                        self.write_paren(out, x)?;
                    } else {
                        self.write_factor(out, x, true, k == 0)?;
                    }
                }
                Ok(())
            }
            Node::Hadamard(xs) => {
                for (k, &x) in xs.iter().enumerate() {
                    if k > 0 {
                        out.write_str(match st {
                            Style::Plain => " .* ",
                            Style::Unicode => " ⊙ ",
                            Style::Latex => " \\odot ",
                        })?;
                    }
                    self.write_factor(out, x, false, k == 0)?;
                }
                Ok(())
            }
            Node::Div([a, b]) => {
                if st == Style::Latex {
                    out.write_str("\\frac{")?;
                    self.write(out, *a, Prec::Sum, None)?;
                    out.write_str("}{")?;
                    self.write(out, *b, Prec::Sum, None)?;
                    return out.write_str("}");
                }
                self.write_factor(out, *a, true, true)?;
                out.write_str("/")?;
                self.write_divisor(out, *b)
            }
            Node::HDiv([a, b]) => {
                self.write_factor(out, *a, false, true)?;
                out.write_str(match st {
                    Style::Plain => " ./ ",
                    Style::Unicode => " ⊘ ",
                    Style::Latex => " \\oslash ",
                })?;
                self.write_divisor(out, *b)
            }
            Node::Pow([a, b]) => {
                self.write_base(out, *a)?;
                self.write_exponent(out, *b, false)
            }
            Node::HPow([a, b]) => {
                self.write_base(out, *a)?;
                self.write_exponent(out, *b, true)
            }
            Node::Transpose(a) => {
                self.write_base(out, *a)?;
                out.write_str(match st {
                    Style::Plain => "'",
                    Style::Unicode => "ᵀ",
                    Style::Latex => "^T",
                })
            }
            Node::Apply { .. } if softmax_argument(pool, id).is_some() => {
                let x = softmax_argument(pool, id).expect("checked");
                out.write_str(match st {
                    Style::Latex => "\\operatorname{softmax}\\left(",
                    _ => "softmax(",
                })?;
                self.write(out, x, Prec::Sum, None)?;
                out.write_str(self.close())
            }
            Node::Apply { fun, order, arg } => {
                let ticks = "'".repeat(*order as usize);
                match st {
                    Style::Plain => write!(out, "{}{ticks}(", pool.fun_name(*fun))?,
                    Style::Unicode => {
                        let name = match fun {
                            Fun::Builtin(Func::Sigmoid) => "σ".to_string(),
                            Fun::Builtin(f) => f.name().to_string(),
                            Fun::Abstract(s) => unicode_name(pool.name(*s)),
                        };
                        write!(out, "{name}{}(", "′".repeat(*order as usize))?
                    }
                    Style::Latex => {
                        let name = match fun {
                            Fun::Builtin(f) => latex_func(*f).to_string(),
                            Fun::Abstract(s) => latex_name(pool.name(*s)),
                        };
                        write!(out, "{name}{ticks}\\left(")?
                    }
                }
                self.write(out, *arg, Prec::Sum, None)?;
                out.write_str(self.close())
            }
            Node::Reduce(r, a) => match (st, r) {
                (Style::Latex, Reduce::Norm1 | Reduce::Norm2) => {
                    out.write_str("\\left\\|")?;
                    self.write(out, *a, Prec::Sum, None)?;
                    write!(
                        out,
                        "\\right\\|_{}",
                        if *r == Reduce::Norm1 { 1 } else { 2 }
                    )
                }
                (Style::Unicode, Reduce::Norm1 | Reduce::Norm2) => {
                    out.write_str("‖")?;
                    self.write(out, *a, Prec::Sum, None)?;
                    write!(out, "‖{}", if *r == Reduce::Norm1 { "₁" } else { "₂" })
                }
                (Style::Latex, _) => {
                    let name = match r {
                        Reduce::Trace => "\\operatorname{tr}",
                        Reduce::Det => "\\det",
                        Reduce::LogDet => "\\log\\det",
                        Reduce::Sum => "\\operatorname{sum}",
                        Reduce::LogSumExp => "\\operatorname{logsumexp}",
                        Reduce::LogAbsDet => "\\operatorname{logabsdet}",
                        Reduce::Max => "\\max",
                        Reduce::Min => "\\min",
                        Reduce::Norm1 | Reduce::Norm2 => unreachable!("handled above"),
                    };
                    write!(out, "{name}\\left(")?;
                    self.write(out, *a, Prec::Sum, None)?;
                    out.write_str("\\right)")
                }
                // The logsumexp of all the entries of a matrix (`logsumexp(X)` is one per
                // column): of its transpose for a row, of its vec otherwise.
                (Style::Plain, Reduce::LogSumExp) if pool.shape(*a).cols != Dim::ONE => {
                    if let (Node::Transpose(column), false) = (pool.node(*a), self.is_named(*a)) {
                        out.write_str("logsumexp(")?;
                        self.write(out, *column, Prec::Sum, None)?;
                        out.write_str(")")
                    } else if pool.shape(*a).rows == Dim::ONE {
                        out.write_str("logsumexp(")?;
                        self.write(out, *a, Prec::Postfix, None)?;
                        out.write_str("')")
                    } else {
                        out.write_str("logsumexp(vec(")?;
                        self.write(out, *a, Prec::Sum, None)?;
                        out.write_str("))")
                    }
                }
                _ => {
                    let name = if st == Style::Unicode && *r == Reduce::LogDet {
                        "log det"
                    } else {
                        r.name()
                    };
                    write!(out, "{name}(")?;
                    self.write(out, *a, Prec::Sum, None)?;
                    out.write_str(")")
                }
            },
            Node::Inv(a) => match st {
                Style::Plain => {
                    out.write_str("inv(")?;
                    self.write(out, *a, Prec::Sum, None)?;
                    out.write_str(")")
                }
                Style::Unicode => {
                    self.write(out, *a, Prec::Atom, None)?;
                    out.write_str("⁻¹")
                }
                Style::Latex => {
                    if matches!(
                        pool.node(*a),
                        Node::Transpose(_) | Node::Pow(_) | Node::HPow(_) | Node::Inv(_)
                    ) {
                        self.write_paren(out, *a)?;
                    } else {
                        self.write(out, *a, Prec::Atom, None)?;
                    }
                    out.write_str("^{-1}")
                }
            },
            Node::Diag(a) => {
                out.write_str(if st == Style::Latex {
                    "\\operatorname{diag}\\left("
                } else {
                    "diag("
                })?;
                self.write(out, *a, Prec::Sum, None)?;
                out.write_str(self.close())
            }
            Node::LogSumExpCols(a) => {
                out.write_str(if st == Style::Latex {
                    "\\operatorname{logsumexp}\\left("
                } else {
                    "logsumexp("
                })?;
                self.write(out, *a, Prec::Sum, None)?;
                out.write_str(self.close())
            }
            Node::Tri(t, a) => {
                if st == Style::Latex {
                    write!(out, "\\operatorname{{{}}}\\left(", t.name())?;
                } else {
                    write!(out, "{}(", t.name())?;
                }
                self.write(out, *a, Prec::Sum, None)?;
                out.write_str(self.close())
            }
            Node::Kron(_) | Node::Vectorize(_) | Node::Commutation(..) | Node::Unvec(..) => {
                self.write_vec_op(out, id)
            }
        }
    }

    fn write_divisor(&self, out: &mut String, b: ExprId) -> fmt::Result {
        if self.prec(b) < Prec::Power {
            self.write_paren(out, b)
        } else {
            self.write(out, b, Prec::Power, None)
        }
    }

    fn write_exponent(&self, out: &mut String, b: ExprId, elementwise: bool) -> fmt::Result {
        let pool = self.pool;
        match self.style {
            Style::Plain => {
                out.write_str(if elementwise { ".^" } else { "^" })?;
                // A negative number prints as `-1` and re-parses to the same number.
                if matches!(pool.node(b), Node::Num(_)) && !self.is_named(b) {
                    return self.write_node(out, b);
                }
                self.write(out, b, Prec::Power, None)
            }
            Style::Unicode => {
                if let (Node::Num(n), false) = (pool.node(b), elementwise) {
                    if let Some(k) = n.as_integer() {
                        return out.write_str(&superscript(k));
                    }
                }
                out.write_str(if elementwise { "^∘" } else { "^" })?;
                if matches!(pool.node(b), Node::Num(_)) {
                    return self.write_node(out, b);
                }
                self.write(out, b, Prec::Atom, None)
            }
            Style::Latex => {
                out.write_str(if elementwise { "^{\\circ " } else { "^{" })?;
                self.write(out, b, Prec::Sum, None)?;
                out.write_str("}")
            }
        }
    }

    fn write_num(&self, out: &mut String, n: Num) -> fmt::Result {
        let text = n.to_string();
        match self.style {
            Style::Latex if text.contains('e') => {
                let (m, e) = text.split_once('e').expect("has e");
                write!(out, "{m} \\cdot 10^{{{e}}}")
            }
            Style::Unicode if n.get() < 0.0 => write!(out, "−{}", &text[1..]),
            _ => out.write_str(&text),
        }
    }
}

fn superscript(k: i64) -> String {
    k.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}

const GREEK: [(&str, &str); 24] = [
    ("alpha", "α"),
    ("beta", "β"),
    ("gamma", "γ"),
    ("delta", "δ"),
    ("epsilon", "ε"),
    ("zeta", "ζ"),
    ("eta", "η"),
    ("theta", "θ"),
    ("iota", "ι"),
    ("kappa", "κ"),
    ("lambda", "λ"),
    ("mu", "μ"),
    ("nu", "ν"),
    ("xi", "ξ"),
    ("omicron", "ο"),
    ("pi", "π"),
    ("rho", "ρ"),
    ("sigma", "σ"),
    ("tau", "τ"),
    ("upsilon", "υ"),
    ("phi", "φ"),
    ("chi", "χ"),
    ("psi", "ψ"),
    ("omega", "ω"),
];

/// Splits `W12` into (`W`, `12`) and `b_1` into (`b`, `1`).
fn split_index(name: &str) -> (&str, &str) {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if base.len() < name.len() && !base.is_empty() {
        return (base.trim_end_matches('_'), &name[base.len()..]);
    }
    if let Some((b, i)) = name.split_once('_') {
        if !b.is_empty() && !i.is_empty() {
            return (b, i);
        }
    }
    (name, "")
}

fn unicode_name(name: &str) -> String {
    let (base, index) = split_index(name);
    let base = GREEK.iter().find(|g| g.0 == base).map_or(base, |g| g.1);
    if index.is_empty() {
        return base.to_string();
    }
    let sub: Option<String> = index
        .chars()
        .map(|c| {
            c.to_digit(10)
                .map(|d| char::from_u32(0x2080 + d).expect("subscript digit"))
        })
        .collect();
    match sub {
        Some(s) => format!("{base}{s}"),
        None => name.to_string(),
    }
}

fn latex_name(name: &str) -> String {
    let (base, index) = split_index(name);
    let base = if GREEK.iter().any(|g| g.0 == base) {
        format!("\\{base}")
    } else if let Some(g) = GREEK.iter().find(|g| g.1 == base) {
        format!("\\{}", g.0)
    } else if base.chars().count() > 1 {
        format!("\\mathit{{{}}}", base.replace('_', "\\_"))
    } else {
        base.to_string()
    };
    if index.is_empty() {
        base
    } else {
        format!("{base}_{{{}}}", index.replace('_', "\\_"))
    }
}

fn latex_func(f: Func) -> &'static str {
    match f {
        Func::Exp => "\\exp",
        Func::Log => "\\log",
        Func::Sin => "\\sin",
        Func::Cos => "\\cos",
        Func::Tan => "\\tan",
        Func::Tanh => "\\tanh",
        Func::Sigmoid => "\\sigma",
        Func::Relu => "\\operatorname{relu}",
        Func::Softplus => "\\operatorname{softplus}",
        Func::Sqrt => "\\operatorname{sqrt}",
        Func::Abs => "\\operatorname{abs}",
        Func::Sign => "\\operatorname{sign}",
        Func::Arcsin => "\\arcsin",
        Func::Arccos => "\\arccos",
        Func::Arctan => "\\arctan",
        Func::Sinh => "\\sinh",
        Func::Cosh => "\\cosh",
        Func::Log1p => "\\operatorname{log1p}",
        Func::Expm1 => "\\operatorname{expm1}",
    }
}

/// The `x` of `softmax(x)`, written `exp(x - logsumexp(x))` (the minus as `Neg` or as `-1*`).
///
/// ```
/// let mut pool = matdiff_expr::ExprPool::new();
/// let e = pool.parse("softmax(x)'*y").unwrap();
/// assert_eq!(pool.plain(e.root), "softmax(x)'*y");
/// ```
pub fn softmax_argument(pool: &ExprPool, id: ExprId) -> Option<ExprId> {
    let Node::Apply {
        fun: Fun::Builtin(Func::Exp),
        order: 0,
        arg,
    } = pool.node(id)
    else {
        return None;
    };
    let Node::Add(xs) = pool.node(*arg) else {
        return None;
    };
    let lse_of = |n: ExprId| {
        let r = match pool.node(n) {
            Node::Neg(r) => *r,
            Node::Mul(fs)
                if fs.len() == 2 && matches!(pool.node(fs[0]), Node::Num(c) if c.get() == -1.0) =>
            {
                fs[1]
            }
            _ => return None,
        };
        match pool.node(r) {
            // Of a column only: `softmax` of a matrix is one per column.
            Node::Reduce(Reduce::LogSumExp, x) if pool.shape(*x).cols == Dim::ONE => Some(*x),
            // A matrix: ones*logsumexp(X), the row of each column's logsumexp broadcast.
            Node::Mul(fs) => match fs[..] {
                [o, l] if matches!(pool.node(o), Node::Ones(_)) => match pool.node(l) {
                    Node::LogSumExpCols(x) => Some(*x),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    };
    match xs[..] {
        [a, b] if lse_of(b) == Some(a) => Some(a),
        [a, b] if lse_of(a) == Some(b) => Some(b),
        _ => None,
    }
}

/// `(true, X, Y)` for `maximum(X, Y)` and `(false, X, Y)` for `minimum(X, Y)`, as the parser
/// writes them: `X .* ((O + sign(X - Y))/2) + Y .* ((O - sign(X - Y))/2)` (`sign(Y - X)` for
/// `minimum`).
///
/// ```
/// let mut pool = matdiff_expr::ExprPool::new();
/// let e = pool.parse("sum(maximum(X, Y)) + sum(minimum(X, 0))").unwrap();
/// assert_eq!(pool.plain(e.root), "sum(maximum(X, Y)) + sum(minimum(X, 0))");
/// ```
pub fn extreme_arguments(pool: &ExprPool, id: ExprId) -> Option<(bool, ExprId, ExprId)> {
    let pair = |id: ExprId| match pool.node(id) {
        Node::Add(xs) | Node::Hadamard(xs) if xs.len() == 2 => Some((xs[0], xs[1])),
        _ => None,
    };
    let Node::Add(_) = pool.node(id) else {
        return None;
    };
    let (hx, hy) = pair(id)?;
    if !matches!(pool.node(hx), Node::Hadamard(_)) || !matches!(pool.node(hy), Node::Hadamard(_)) {
        return None;
    }
    let ((x, wx), (y, wy)) = (pair(hx)?, pair(hy)?);
    let half = |w: ExprId| match pool.node(w) {
        Node::Div([a, two]) if matches!(pool.node(*two), Node::Num(n) if n.get() == 2.0) => {
            pair(*a).filter(|_| matches!(pool.node(*a), Node::Add(_)))
        }
        _ => None,
    };
    let ((o, sign), (o2, neg_sign)) = (half(wx)?, half(wy)?);
    if o != o2 || pool.node(neg_sign) != &Node::Neg(sign) {
        return None;
    }
    let Node::Apply {
        fun: Fun::Builtin(Func::Sign),
        order: 0,
        arg: gap,
    } = pool.node(sign)
    else {
        return None;
    };
    let (hi, neg_lo) = pair(*gap).filter(|_| matches!(pool.node(*gap), Node::Add(_)))?;
    let Node::Neg(lo) = pool.node(neg_lo) else {
        return None;
    };
    let ones = match pool.node(o) {
        Node::Num(n) => n.get() == 1.0,
        Node::Ones(_) => true,
        Node::Mul(fs) => fs.len() == 2 && matches!(pool.node(fs[0]), Node::Ones(_)),
        _ => false,
    };
    match (hi, *lo) {
        _ if !ones => None,
        (h, l) if h == x && l == y => Some((true, x, y)),
        (h, l) if h == y && l == x => Some((false, x, y)),
        _ => None,
    }
}
